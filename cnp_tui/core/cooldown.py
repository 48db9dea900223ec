"""Usage-limit ("cooldown") detection from Claude CLI events and text, and reset-time parsing.

The Claude CLI reports a usage limit in several ways (see claude-cli.md), most reliable first:

1. a ``rate_limit_event`` with status ``rejected`` and an epoch ``resetsAt``;
2. an ``assistant`` event with ``"error": "rate_limit"`` or a ``result`` with
   ``api_error_status: 429``;
3. free text on stdout or stderr, e.g. ``Claude AI usage limit reached|1749924000`` or
   ``You've hit your limit · resets 1pm (Europe/Lisbon)``.

A clock time without a zone is read in the caller's local zone. A time that is already past
(in that zone) means the next day, except within a short grace window: the CLI prints reset
times rounded to the minute, so "resets 3pm" seen at 3:00:40 means "now", not tomorrow.

Warnings ("Approaching usage limit") and transient server errors (529 overloaded, 5xx) are not
limits; ``is_transient_error`` tells the engine to retry those with backoff instead.

Everything here is pure: time comes in as arguments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "UsageLimit",
    "is_transient_error",
    "is_usage_warning",
    "limit_from_event",
    "limit_from_text",
]

MESSAGE_LIMIT = 300
# A five-hour window cannot reset further away than this; anything beyond is likely a parse
# mistake (wrong zone, wrong day) and worth a log line.
SUSPICIOUS_FIVE_HOUR_RESET = timedelta(hours=8)
# "resets 3pm" read a little after 3pm is the rounded current window, not tomorrow's.
PAST_RESET_GRACE = timedelta(minutes=5)

TRANSIENT_STATUSES = frozenset({500, 502, 503, 504, 529})

_LIMIT_RE = re.compile(
    r"usage\s+limit\s+reached"
    r"|\b(?:rate|\d+-hour|five-hour|weekly|session|opus|sonnet|daily)\s+limit\s+reached"
    r"|\byou(?:'|’)ve\s+hit\s+your\s+(?:[\w-]+\s+){0,2}limit"
    r"|rate_limit_error",
    re.IGNORECASE,
)
_BAR_RE = re.compile(r"usage\s+limit\s+reached\|(\d{9,13})(?!\d)", re.IGNORECASE)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_RESET_RE = re.compile(
    r"\breset(?:s)?\s+(?:at\s+)?"
    r"(?:(?P<month>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+"
    r"(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?:at\s+)?)?"
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?(?!\d)\s*(?P<ampm>[ap]\.?m\b\.?)?"
    r"(?:\s*\((?P<zone>[^)\s]+)\))?",
    re.IGNORECASE,
)
_WARNING_RE = re.compile(
    r"\bapproaching\b[^\n.]{0,40}\blimit\b|\byou(?:'|’)ve\s+used\s+\d+%\s+of\s+your\b",
    re.IGNORECASE,
)
_API_5XX_RE = re.compile(r"api\s+error:?\s*(?:500|502|503|504|529)\b", re.IGNORECASE)


@dataclass(frozen=True)
class UsageLimit:
    """A detected usage limit: until when, and what said so."""

    reset_at: datetime | None
    source: str
    message: str
    limit_type: str | None
    suspicious: bool = False


def limit_from_event(
    event: dict[str, Any], now: datetime, local_tz: tzinfo | None = None
) -> UsageLimit | None:
    """Return the usage limit a parsed stream-json event reports, or None.

    ``local_tz`` reads zone-less clock times in an error text (default: the system zone).
    """
    etype = event.get("type")
    if etype == "rate_limit_event":
        return _limit_from_rate_limit_event(event, now)
    if etype == "assistant":
        error = event.get("error")
        message = event.get("message")
        synthetic = isinstance(message, dict) and message.get("model") == "<synthetic>"
        if error != "rate_limit" and not synthetic:
            return None
        text = _assistant_text(message)
        if error == "rate_limit":
            return _api_error_limit(text or "assistant error: rate_limit", now, local_tz)
        # The CLI reports limits as synthetic assistant messages; only their text says so.
        return limit_from_text(text, now, _tz(local_tz)) if text else None
    if etype == "result":
        text = event.get("result")
        text = text if isinstance(text, str) else ""
        if event.get("api_error_status") == 429:
            return _api_error_limit(text or "API error 429 (rate limited)", now, local_tz)
        if event.get("is_error") is True and text:
            return limit_from_text(text, now, _tz(local_tz))
    return None


def limit_from_text(text: str, now: datetime, local_tz: tzinfo) -> UsageLimit | None:
    """Return the usage limit a CLI message reports, or None (warnings are not limits)."""
    if "limit" not in text.lower():  # cheap prefilter: every limit form contains it
        return None
    bar = _BAR_RE.search(text)
    if bar:
        reset_at = _from_epoch(int(bar.group(1)))
        return _make(reset_at, "text", text, None, now)
    match = _LIMIT_RE.search(text)
    if match is None:
        return None
    limit_type = _limit_type(text)
    reset_at = _parse_reset(text, match.start(), now, local_tz)
    return _make(reset_at, "text", text, limit_type, now)


def is_usage_warning(text: str) -> bool:
    """True for "approaching your limit" style warnings, which must not start a cooldown."""
    return "limit" in text.lower() and _WARNING_RE.search(text) is not None


def is_transient_error(text: str | None, api_error_status: int | None) -> bool:
    """True for errors worth a retry with backoff: 529/overloaded and 5xx server errors."""
    if api_error_status in TRANSIENT_STATUSES:
        return True
    if not text:
        return False
    lowered = text.lower()
    return (
        "overloaded" in lowered
        or "server_error" in lowered
        or "internal server error" in lowered
        or _API_5XX_RE.search(text) is not None
    )


def _limit_from_rate_limit_event(event: dict[str, Any], now: datetime) -> UsageLimit | None:
    info = event.get("rate_limit_info")
    if not isinstance(info, dict) or info.get("status") != "rejected":
        return None
    resets_at = info.get("resetsAt")
    reset_at = None
    if isinstance(resets_at, int | float) and not isinstance(resets_at, bool) and resets_at > 0:
        reset_at = _from_epoch(resets_at)
    limit_type = info.get("rateLimitType")
    limit_type = limit_type if isinstance(limit_type, str) and limit_type else None
    # A sentence, not the raw event: this is what `cnp status` and the dashboard show.
    kind = limit_type.replace("_", "-") if limit_type else "usage"
    message = f"Claude {kind} limit reached (rate_limit_event rejected)"
    return _make(reset_at, "rate_limit_event", message, limit_type, now)


def _api_error_limit(text: str, now: datetime, local_tz: tzinfo | None) -> UsageLimit:
    # The API said 429; the text (if any) may add the reset time and the limit type.
    from_text = limit_from_text(text, now, _tz(local_tz))
    reset_at = from_text.reset_at if from_text else None
    limit_type = from_text.limit_type if from_text else None
    return _make(reset_at, "api_error", text, limit_type, now)


def _make(
    reset_at: datetime | None, source: str, text: str, limit_type: str | None, now: datetime
) -> UsageLimit:
    suspicious = (
        limit_type == "five_hour"
        and reset_at is not None
        and reset_at - now > SUSPICIOUS_FIVE_HOUR_RESET
    )
    return UsageLimit(
        reset_at=reset_at,
        source=source,
        message=_trim(text),
        limit_type=limit_type,
        suspicious=suspicious,
    )


def _trim(text: str) -> str:
    text = text.strip()
    if len(text) <= MESSAGE_LIMIT:
        return text
    return text[: MESSAGE_LIMIT - 1] + "…"


def _from_epoch(value: float) -> datetime:
    if value > 100_000_000_000:  # milliseconds rather than seconds
        value = value / 1000
    return datetime.fromtimestamp(value, UTC)


def _limit_type(text: str) -> str | None:
    lowered = text.lower()
    if "opus" in lowered:
        return "seven_day_opus"
    if "weekly" in lowered or "7-day" in lowered:
        return "seven_day"
    if "5-hour" in lowered or "five-hour" in lowered or "session limit" in lowered:
        return "five_hour"
    return None


def _parse_reset(text: str, start: int, now: datetime, local_tz: tzinfo) -> datetime | None:
    match = _RESET_RE.search(text, start)
    if match is None:
        return None
    hour = int(match.group("hour"))
    minute = int(match.group("minute") or 0)
    ampm = match.group("ampm")
    if ampm is None and match.group("minute") is None:
        return None  # a bare number is not a clock time
    if ampm is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm.lower().startswith("p") else 0)
    if hour > 23 or minute > 59:
        return None
    zone = _zone(match.group("zone"), local_tz)
    local_now = now.astimezone(zone)
    if match.group("month"):
        month = _MONTHS.index(match.group("month").lower()[:3]) + 1
        day = int(match.group("day"))
        for year in (local_now.year, local_now.year + 1):
            candidate = _at(year, month, day, hour, minute, zone)
            if candidate is not None and candidate >= local_now - PAST_RESET_GRACE:
                return candidate.astimezone(UTC)
        return None
    today = local_now.date()
    candidate = datetime.combine(today, time(hour, minute), tzinfo=zone)
    if candidate < local_now - PAST_RESET_GRACE:
        # Combine again rather than add 24 h so a DST change keeps the wall-clock time.
        candidate = datetime.combine(today + timedelta(days=1), time(hour, minute), tzinfo=zone)
    return candidate.astimezone(UTC)


def _at(year: int, month: int, day: int, hour: int, minute: int, zone: tzinfo) -> datetime | None:
    try:
        return datetime.combine(date(year, month, day), time(hour, minute), tzinfo=zone)
    except ValueError:  # Feb 30 and friends
        return None


def _zone(name: str | None, local_tz: tzinfo) -> tzinfo:
    if not name:
        return local_tz
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # An abbreviation like "PST" is not an IANA key; local time is the best guess.
        return local_tz


def _tz(local_tz: tzinfo | None) -> tzinfo:
    if local_tz is not None:
        return local_tz
    return datetime.now().astimezone().tzinfo or UTC


def _assistant_text(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [
        block["text"]
        for block in content
        if isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    ]
    return "\n".join(parts)
