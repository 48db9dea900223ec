"""Human durations: what users may write, what they are told when it is wrong, how it prints."""

from __future__ import annotations

import math
import re

import pytest

from cnp_tui.core.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("15m", 900.0),
        ("1h30m", 5400.0),
        ("2d", 172800.0),
        ("1.5h", 5400.0),
        ("1h 30m", 5400.0),
        ("500ms", 0.5),
        ("  15m  ", 900.0),
        ("1H30M", 5400.0),
        ("2D3H", 183600.0),
        ("0", 0.0),
        ("0s", 0.0),
        ("1.25", 1.25),
        ("1d2h3m4s", 93784.0),
        ("90 s", 90.0),
        ("30 minutes", 1800.0),
        ("1 hour", 3600.0),
        ("2 days 4 hours", 187200.0),
        (".5s", 0.5),
    ],
)
def test_parse_duration_accepts_common_spellings(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("number", "seconds"), [(90, 90.0), (1.5, 1.5), (0, 0.0), (0.0, 0.0)])
def test_parse_duration_takes_numbers_as_seconds(number: float, seconds: float) -> None:
    result = parse_duration(number)
    assert result == seconds
    assert isinstance(result, float)


def test_bad_unit_message_names_the_value_and_shows_examples() -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration("1x")
    assert str(caught.value) == (
        "'1x' is not a duration: use a number with a unit s, m, h or d, like 90s, 15m or 1h30m"
    )
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "'abc' is not a duration: use a number with a unit s, m, h or d"),
        ("1h30", "'1h30' is not a duration: use a number with a unit"),
        ("h", "'h' is not a duration: use a number with a unit"),
        ("1.2.3s", "'1.2.3s' is not a duration"),
        ("", "an empty value is not a duration"),
        ("   ", "an empty value is not a duration"),
        ("-5", "'-5' is not a duration: it must not be negative"),
        ("-5m", "'-5m' is not a duration: it must not be negative"),
        (-5, "'-5' is not a duration: it must not be negative"),
        (-0.5, "'-0.5' is not a duration: it must not be negative"),
        ("30m1h", "'30m1h' is not a duration: write each unit once, largest first, like 1h30m"),
        ("1h1h", "'1h1h' is not a duration: write each unit once, largest first"),
        (math.nan, "is not a duration: it must be a finite number of seconds"),
        (math.inf, "is not a duration: it must be a finite number of seconds"),
        (True, "True is not a duration"),
        ("5mo", "'5mo' is not a duration"),
    ],
)
def test_parse_duration_rejects_bad_input_with_a_useful_message(
    value: object, message: str
) -> None:
    with pytest.raises(DurationError, match=re.escape(message)):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45, "45s"),
        (900, "15m"),
        (5400, "1h30m"),
        (183600, "2d3h"),
        (1.5, "1.5s"),
        (2.25, "2.25s"),
        (0.5, "500ms"),
        (90061, "1d1h1m1s"),
        (86400, "1d"),
        (3600, "1h"),
        (10.4, "10s"),
        (59.6, "1m"),
        (-90, "-1m30s"),
        (0.0001, "0s"),
    ],
)
def test_format_duration_is_compact(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_whole_seconds_round_trip() -> None:
    values = [*range(0, 400), *range(400, 400_000, 997), 86_399, 86_400, 86_401, 31_536_000]
    for seconds in values:
        assert parse_duration(format_duration(seconds)) == seconds, seconds
