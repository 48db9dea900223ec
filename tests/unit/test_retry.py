"""Retry delays for every strategy, the cap, jitter bounds and the attempt count."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from enum import StrEnum

import pytest

from cnp_tui.core.retry import has_attempts_left, retry_delay, retry_schedule


@dataclass
class Config:
    max_attempts: int = 5
    strategy: str = "fixed"
    initial_interval: float = 10.0
    max_interval: float = 0.0
    multiplier: float = 2.0
    delays: list[float] = field(default_factory=list)
    jitter: float = 0.0


class Strategy(StrEnum):
    EXPONENTIAL_BACKOFF = "exponential_backoff"


def delays(config: Config) -> list[float]:
    return [retry_delay(config, n) for n in range(1, 6)]


def test_fixed_waits_the_same_every_time() -> None:
    assert delays(Config(strategy="fixed", initial_interval=30)) == [30, 30, 30, 30, 30]


def test_exponential_backoff_multiplies_each_retry() -> None:
    config = Config(strategy="exponential_backoff", initial_interval=10, multiplier=3)
    assert delays(config) == [10, 30, 90, 270, 810]


def test_linear_grows_by_the_initial_interval() -> None:
    assert delays(Config(strategy="linear", initial_interval=15)) == [15, 30, 45, 60, 75]


def test_custom_uses_the_list_and_repeats_the_last_entry() -> None:
    config = Config(strategy="custom", delays=[5, 60, 600])
    assert delays(config) == [5, 60, 600, 600, 600]


def test_custom_without_delays_falls_back_to_initial_interval() -> None:
    assert delays(Config(strategy="custom", initial_interval=7)) == [7, 7, 7, 7, 7]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("fixed", [100, 100, 100, 100, 100]),
        ("exponential_backoff", [10, 20, 40, 80, 100]),
        ("linear", [10, 20, 30, 40, 50]),
        ("custom", [5, 500, 500, 500, 500]),
    ],
)
def test_every_strategy_is_capped_at_max_interval(strategy: str, expected: list[float]) -> None:
    initial = 200 if strategy == "fixed" else 10
    config = Config(
        strategy=strategy,
        initial_interval=initial,
        max_interval=100 if strategy != "custom" else 500,
        delays=[5, 900],
    )
    assert delays(config) == expected


def test_zero_max_interval_means_no_cap() -> None:
    config = Config(strategy="exponential_backoff", initial_interval=1, max_interval=0)
    assert retry_delay(config, 21) == 2**20


def test_huge_backoff_is_capped_instead_of_overflowing() -> None:
    config = Config(
        strategy="exponential_backoff", initial_interval=1, multiplier=10, max_interval=3600
    )
    assert retry_delay(config, 400) == 3600


def test_strategy_may_be_a_str_enum() -> None:
    config = Config(strategy=Strategy.EXPONENTIAL_BACKOFF, initial_interval=2)
    assert retry_schedule(config) == [2, 4, 8, 16]


def test_jitter_spreads_delays_within_bounds() -> None:
    config = Config(strategy="fixed", initial_interval=100, jitter=0.2)
    rng = random.Random(1234)
    samples = [retry_delay(config, 1, rng) for _ in range(500)]
    assert all(80 <= s <= 120 for s in samples)
    # Both halves of the band are used, so jitter really spreads (not just scales) the delay.
    assert min(samples) < 90 and max(samples) > 110


def test_jitter_is_recapped_at_max_interval() -> None:
    config = Config(strategy="fixed", initial_interval=100, max_interval=100, jitter=0.5)
    rng = random.Random(7)
    samples = [retry_delay(config, 1, rng) for _ in range(500)]
    assert all(50 <= s <= 100 for s in samples)
    assert min(samples) < 60
    assert samples.count(100) > 100  # every draw above 1.0 is cut back to the cap


def test_full_jitter_never_goes_negative() -> None:
    config = Config(strategy="linear", initial_interval=3, jitter=1.0)
    rng = random.Random(99)
    samples = [retry_delay(config, n, rng) for n in range(1, 5) for _ in range(200)]
    assert all(s >= 0 for s in samples)


def test_same_seed_gives_the_same_schedule() -> None:
    config = Config(strategy="exponential_backoff", jitter=0.3)
    assert retry_schedule(config, random.Random(5)) == retry_schedule(config, random.Random(5))


def test_has_attempts_left_counts_the_first_attempt() -> None:
    config = Config(max_attempts=3)
    assert [has_attempts_left(config, attempt) for attempt in (1, 2, 3, 4)] == [
        True,
        True,
        False,
        False,
    ]


def test_retry_schedule_lists_one_delay_per_retry() -> None:
    config = Config(max_attempts=4, strategy="linear", initial_interval=60)
    assert retry_schedule(config) == [60, 120, 180]
    assert retry_schedule(Config(max_attempts=1)) == []


def test_unknown_strategy_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match=re.escape("unknown retry strategy 'sometimes'")):
        retry_delay(Config(strategy="sometimes"), 1)


def test_retry_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="retry_number must be 1 or more"):
        retry_delay(Config(), 0)
