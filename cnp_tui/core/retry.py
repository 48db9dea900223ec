"""Retry strategies: how long to wait before the next attempt of a failed execution.

Pure functions over anything shaped like ``RetryConfig`` (see ``RetryConfigLike``), so the engine,
the CLI preview and tests share one definition. Randomness (jitter) comes from an injectable
``random.Random`` so tests are deterministic.
"""

from __future__ import annotations

import math
import random
from typing import Protocol

__all__ = ["RetryConfigLike", "has_attempts_left", "retry_delay", "retry_schedule"]

STRATEGIES = ("fixed", "exponential_backoff", "linear", "custom")

_default_rng = random.Random()


class RetryConfigLike(Protocol):
    """The retry policy fields this module reads (``cnp_tui.core.models.RetryConfig`` fits)."""

    max_attempts: int
    strategy: str
    initial_interval: float
    max_interval: float
    multiplier: float
    delays: list[float]
    jitter: float


def retry_delay(
    config: RetryConfigLike, retry_number: int, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry ``retry_number`` (1 = the first retry, before attempt 2).

    fixed: ``initial_interval``; exponential_backoff: ``initial_interval * multiplier**(n-1)``;
    linear: ``initial_interval * n``; custom: ``delays[n-1]``, the last entry repeating (no
    entries: ``initial_interval``). The result is capped at ``max_interval`` when that is > 0,
    then spread by ``jitter`` (a factor drawn from [1-jitter, 1+jitter]) and capped again.
    """
    if retry_number < 1:
        raise ValueError(f"retry_number must be 1 or more, got {retry_number}")
    strategy = str(getattr(config.strategy, "value", config.strategy))
    base = float(config.initial_interval)
    if strategy == "fixed":
        delay = base
    elif strategy == "exponential_backoff":
        try:
            delay = base * float(config.multiplier) ** (retry_number - 1)
        except OverflowError:
            # A huge exponent only matters until the cap below applies.
            delay = math.inf
    elif strategy == "linear":
        delay = base * retry_number
    elif strategy == "custom":
        delays = list(config.delays)
        delay = float(delays[min(retry_number, len(delays)) - 1]) if delays else base
    else:
        raise ValueError(f"unknown retry strategy '{strategy}': use one of {', '.join(STRATEGIES)}")

    delay = _cap(delay, config.max_interval)
    jitter = float(config.jitter)
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"retry jitter {jitter} is out of range: use a fraction from 0 to 1")
    if jitter > 0 and math.isfinite(delay):
        delay *= (rng or _default_rng).uniform(1.0 - jitter, 1.0 + jitter)
        delay = _cap(delay, config.max_interval)
    return max(0.0, delay)


def _cap(delay: float, max_interval: float) -> float:
    # max_interval 0 means "no cap" (documented on RetryConfig).
    return min(delay, float(max_interval)) if max_interval > 0 else delay


def has_attempts_left(config: RetryConfigLike, attempt: int) -> bool:
    """Whether another attempt may follow ``attempt`` (the 1-based attempt that just failed)."""
    return attempt < config.max_attempts


def retry_schedule(config: RetryConfigLike, rng: random.Random | None = None) -> list[float]:
    """The delays before each retry, in order (``max_attempts - 1`` of them), for previews."""
    return [retry_delay(config, n, rng) for n in range(1, max(config.max_attempts, 1))]
