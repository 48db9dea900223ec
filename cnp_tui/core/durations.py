"""Human durations: ``90s``, ``15m``, ``1h30m``, ``2d`` <-> seconds.

Used wherever a user writes a length of time (intervals, retry delays, timeouts). Parsing accepts
a bare number (seconds) or number+unit parts written largest unit first; ``format_duration``
prints the compact form that ``parse_duration`` reads back.
"""

from __future__ import annotations

import math
import re

__all__ = ["DurationError", "format_duration", "parse_duration"]

_HINT = "use a number with a unit s, m, h or d, like 90s, 15m or 1h30m"

# Long spellings are accepted because "every 30 minutes" is what people naturally type.
_UNITS: dict[str, float] = {
    "ms": 0.001,
    "msec": 0.001,
    "msecs": 0.001,
    "millisecond": 0.001,
    "milliseconds": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
}

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PLAIN_NUMBER = re.compile(rf"^[+-]?{_NUMBER}$")
# Longest alternatives first so "ms" is not read as "m" followed by garbage.
_UNIT_ALTERNATION = "|".join(sorted(_UNITS, key=len, reverse=True))
_PART = re.compile(rf"\s*({_NUMBER})\s*({_UNIT_ALTERNATION})(?![a-z])\s*")


class DurationError(ValueError):
    """A duration the user wrote could not be read; the message says how to write one."""


def parse_duration(value: str | int | float) -> float:
    """Return ``value`` in seconds.

    Numbers are seconds; strings are a bare number (seconds) or parts like ``1h30m``,
    ``1h 30m``, ``1.5h`` or ``500ms``, case-insensitive. Zero is allowed, negatives are not.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DurationError(f"{value!r} is not a duration: {_HINT}")
    if isinstance(value, int | float):
        return _check_number(float(value), str(value))

    text = value.strip().lower()
    if not text:
        raise DurationError(f"an empty value is not a duration: {_HINT}")
    if _PLAIN_NUMBER.match(text):
        return _check_number(float(text), value.strip())
    if text.startswith("-"):
        raise DurationError(f"'{value.strip()}' is not a duration: it must not be negative")

    total = 0.0
    position = 0
    previous_size = math.inf
    while position < len(text):
        match = _PART.match(text, position)
        if match is None:
            raise DurationError(f"'{value.strip()}' is not a duration: {_HINT}")
        size = _UNITS[match.group(2)]
        if size >= previous_size:
            raise DurationError(
                f"'{value.strip()}' is not a duration: write each unit once, largest first,"
                " like 1h30m"
            )
        previous_size = size
        total += float(match.group(1)) * size
        position = match.end()
    return _check_number(total, value.strip())


def _check_number(seconds: float, shown: str) -> float:
    if math.isnan(seconds) or math.isinf(seconds):
        raise DurationError(f"'{shown}' is not a duration: it must be a finite number of seconds")
    if seconds < 0:
        raise DurationError(f"'{shown}' is not a duration: it must not be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """Compact form: ``0s``, ``500ms``, ``1.5s``, ``45s``, ``15m``, ``1h30m``, ``2d3h``.

    Below 10s fractions are kept (milliseconds below 1s); from 10s on the value is rounded to
    whole seconds and every non-zero unit is written, so whole seconds round-trip through
    ``parse_duration``. Negative values get a leading ``-``.
    """
    if math.isnan(seconds) or math.isinf(seconds):
        return str(seconds)
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 1:
        millis = round(seconds * 1000)
        if millis == 0:
            return "0s"
        if millis < 1000:
            return f"{millis}ms"
    if seconds < 10 and seconds != int(seconds):
        text = f"{seconds:.2f}".rstrip("0").rstrip(".")
        return f"{text}s"

    remaining = round(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
