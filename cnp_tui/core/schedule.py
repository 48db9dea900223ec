"""Pure next-fire-time maths: cron (with an IANA time zone), interval and one-shot triggers.

Every function takes and returns aware datetimes; results are in UTC. Nothing here reads the
clock: callers pass "now" in, which keeps the scheduler testable (see ``core.clock``).

Cron semantics
--------------
* 5 fields ``minute hour day-of-month month day-of-week``, or 6 with seconds first
  (``second minute hour day-of-month month day-of-week``, as in Quartz / node-cron); ``*``,
  ``?`` (day fields), lists, ranges, steps (``*/15``, ``1-30/5``, ``10/5``), month and day
  names (``jan``, ``mon-fri``), day-of-week 0-7 with both 0 and 7 meaning Sunday; aliases
  ``@yearly @annually @monthly @weekly @daily @midnight @hourly``.
* Classic cron day matching: when both day-of-month and day-of-week are restricted, a day
  matches if *either* matches. A field that covers every value (``*``, ``*/1``, ``1-31``) counts
  as unrestricted.
* The expression is evaluated on wall-clock time in the job's zone. Daylight saving time:

  - Clocks go forward: a wall time inside the gap does not exist; it fires once, at the first
    real instant after the gap (02:30 on the spring-forward night fires at 03:00). Several
    matches inside one gap still fire only once.
  - Clocks go back: a wall time in the repeated hour fires once, at its first occurrence, for a
    job with a fixed hour field; a job whose hour field covers every hour (``*``, ``*/1``) fires
    at both occurrences, so it keeps running every real hour.

  croniter only steps through naive wall times here; mapping them to instants, and the rules
  above, are done in this module so they do not depend on croniter's own DST handling.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cnp_tui.core.durations import DurationError, format_duration, parse_duration

__all__ = [
    "CronTrigger",
    "IntervalTrigger",
    "OnceTrigger",
    "ScheduleError",
    "Trigger",
    "build_trigger",
    "fire_times_between",
    "get_zone",
    "next_fire_times",
    "parse_interval",
    "parse_once",
]

_MICROSECOND = timedelta(microseconds=1)
# Each lookup needs at most a few croniter steps (see next_after/prev_before); this cap only
# turns a logic error into an exception instead of a hang.
_MAX_STEPS = 16


class ScheduleError(ValueError):
    """A schedule the user wrote is invalid; the message names the bad part and the fix."""


# --- time zones ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _load_zone(key: str) -> ZoneInfo:
    return ZoneInfo(key)


def get_zone(name: str) -> ZoneInfo:
    """The ``ZoneInfo`` for ``UTC`` or an IANA name like ``Europe/Paris`` (cached)."""
    key = name.strip() if isinstance(name, str) else ""
    if key.upper() == "UTC":
        key = "UTC"
    try:
        if not key:
            raise ValueError("empty")
        return _load_zone(key)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ScheduleError(
            f"unknown time zone '{name}': use an IANA name like 'Europe/Paris' or 'UTC'"
        ) from exc


def _zone_key(zone: ZoneInfo) -> str:
    return zone.key or str(zone)


def _require_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value.isoformat()}")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class _WallTime:
    """How one naive wall time maps to real instants in a zone."""

    kind: str  # "normal" | "gap" | "ambiguous"
    first: datetime  # normal: the instant; gap: first instant after the gap; ambiguous: fold=0
    second: datetime | None = None  # ambiguous only: the fold=1 instant
    # Naive wall-time bounds of the gap [start, end) or of the repeated span [start, end).
    span_start: datetime | None = None
    span_end: datetime | None = None


def _wall_time(naive: datetime, zone: ZoneInfo) -> _WallTime:
    early = naive.replace(tzinfo=zone, fold=0)
    late = naive.replace(tzinfo=zone, fold=1)
    offset_before = early.utcoffset()
    offset_after = late.utcoffset()
    assert offset_before is not None and offset_after is not None
    if offset_before == offset_after:
        return _WallTime("normal", early.astimezone(UTC))
    # PEP 495: fold=0 uses the offset in force before the transition, fold=1 the one after.
    at_early_offset = naive.replace(tzinfo=UTC) - offset_before
    at_late_offset = naive.replace(tzinfo=UTC) - offset_after
    transition = _find_transition(
        min(at_early_offset, at_late_offset), max(at_early_offset, at_late_offset), zone
    )
    if offset_before < offset_after:
        # Clocks went forward: this wall time never happens.
        return _WallTime(
            "gap",
            transition,
            span_start=(transition + offset_before).replace(tzinfo=None),
            span_end=(transition + offset_after).replace(tzinfo=None),
        )
    return _WallTime(
        "ambiguous",
        at_early_offset,
        at_late_offset,
        span_start=(transition + offset_after).replace(tzinfo=None),
        span_end=(transition + offset_before).replace(tzinfo=None),
    )


def _find_transition(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """The instant in (low, high] where the zone's UTC offset changes (bisection on seconds)."""
    low_ts = math.floor(low.timestamp())
    high_ts = math.ceil(high.timestamp())
    offset_low = datetime.fromtimestamp(low_ts, zone).utcoffset()
    while high_ts - low_ts > 1:
        middle = (low_ts + high_ts) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_low:
            low_ts = middle
        else:
            high_ts = middle
    return datetime.fromtimestamp(high_ts, UTC)


# --- cron parsing ----------------------------------------------------------------------------


_MONTH_NAMES = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_DAY_NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
# Longest day of each month in any year (February 29 exists in leap years).
_MONTH_MAX_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    low: int
    high: int  # highest value accepted in text (7 for day-of-week)
    names: dict[str, int]
    name_hint: str = ""

    @property
    def values_high(self) -> int:
        # Day-of-week 7 is an alias of 0, so the normalised range stops at 6.
        return 6 if self.name == "day-of-week" else self.high

    @property
    def all_values(self) -> frozenset[int]:
        return frozenset(range(self.low, self.values_high + 1))


def _names(full: list[str], first: int) -> dict[str, int]:
    table: dict[str, int] = {}
    for index, name in enumerate(full):
        table[name] = first + index
        table[name[:3]] = first + index
    return table


_SECOND = _FieldSpec("second", 0, 59, {})
_MINUTE = _FieldSpec("minute", 0, 59, {})
_HOUR = _FieldSpec("hour", 0, 23, {})
_DOM = _FieldSpec("day-of-month", 1, 31, {})
_MONTH = _FieldSpec("month", 1, 12, _names(_MONTH_NAMES, 1), " or a month name like jan")
_DOW = _FieldSpec("day-of-week", 0, 7, _names(_DAY_NAMES, 0), " or a day name like mon")

_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class _CronFields:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @property
    def days_restricted(self) -> bool:
        return self.days != _DOM.all_values

    @property
    def weekdays_restricted(self) -> bool:
        return self.weekdays != _DOW.all_values

    def croniter_expression(self) -> str:
        """croniter's own 6-field order (seconds last), with explicit value lists."""

        def render(values: frozenset[int], spec: _FieldSpec) -> str:
            if values == spec.all_values:
                return "*"
            return ",".join(str(v) for v in sorted(values))

        return " ".join(
            [
                render(self.minutes, _MINUTE),
                render(self.hours, _HOUR),
                render(self.days, _DOM),
                render(self.months, _MONTH),
                render(self.weekdays, _DOW),
                render(self.seconds, _SECOND),
            ]
        )


def _parse_cron(expression: str) -> _CronFields:
    def fail(reason: str) -> ScheduleError:
        return ScheduleError(f"invalid cron expression '{expression}': {reason}")

    text = expression.strip().lower()
    if not text:
        raise fail("it is empty: write 5 fields like '0 9 * * *' or an alias like @daily")
    if text.startswith("@"):
        if text not in _ALIASES:
            raise fail(
                "unknown alias: use one of @yearly, @annually, @monthly, @weekly, @daily,"
                " @midnight or @hourly"
            )
        text = _ALIASES[text]
    parts = text.split()
    if len(parts) == 5:
        parts = ["0", *parts]
    elif len(parts) != 6:
        raise fail(
            "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds"
            f" first, got {len(parts)}"
        )
    specs = (_SECOND, _MINUTE, _HOUR, _DOM, _MONTH, _DOW)
    values = [_parse_field(part, spec, fail) for part, spec in zip(parts, specs, strict=True)]
    fields = _CronFields(*values)

    if fields.days_restricted and not fields.weekdays_restricted:
        possible = any(
            day <= _MONTH_MAX_DAYS[month - 1] for month in fields.months for day in fields.days
        )
        if not possible:
            raise fail(
                f"it never fires: no month in month field '{parts[4]}' has day-of-month"
                f" '{parts[3]}'; change one of the two fields"
            )
    return fields


def _parse_field(
    text: str, spec: _FieldSpec, fail: Callable[[str], ScheduleError]
) -> frozenset[int]:
    where = f"{spec.name} field '{text}'"
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise fail(f"{where} has an empty list item: remove the extra comma")
        range_text, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise fail(f"{where}: step '{step_text}' must be a whole number of 1 or more")
            step = int(step_text)
        if range_text == "*" or (range_text == "?" and spec in (_DOM, _DOW)):
            low, high = spec.low, spec.values_high
        else:
            start_text, dash, end_text = range_text.partition("-")
            if dash and (not start_text or not end_text):
                raise fail(
                    f"{where}: '{range_text}' is not a valid range: write it as start-end,"
                    f" like {spec.low}-{spec.low + 1}"
                )
            low = _field_value(start_text, text, spec, fail)
            if dash:
                high = _field_value(end_text, text, spec, fail)
            else:
                # "10/5" means from 10 to the end of the field in steps of 5.
                high = spec.values_high if slash else low
            if spec is _DOW and dash and high == 0 and low > 0:
                high = 7  # "fri-sun": Sunday closes the week here
            if low > high:
                raise fail(
                    f"{where}: range '{range_text}' goes backwards: write the smaller value"
                    " first, or split it into two ranges"
                )
        values.update(range(low, high + 1, step))
    if spec is _DOW and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values)


def _field_value(
    token: str, text: str, spec: _FieldSpec, fail: Callable[[str], ScheduleError]
) -> int:
    if token.isdigit():
        value = int(token)
    elif token in spec.names:
        return spec.names[token]
    else:
        raise fail(
            f"{spec.name} field '{text}': '{token}' is not a number{spec.name_hint}"
            if token != text
            else f"{spec.name} field '{text}' is not a number{spec.name_hint}"
        )
    if not spec.low <= value <= spec.high:
        if token == text:
            raise fail(f"{spec.name} field '{text}' is out of range {spec.low}-{spec.high}")
        raise fail(f"{spec.name} field '{text}': {value} is out of range {spec.low}-{spec.high}")
    return value


# --- triggers --------------------------------------------------------------------------------


class CronTrigger:
    """A cron schedule evaluated on wall-clock time in an IANA zone (DST rules: module doc)."""

    def __init__(self, expression: str, timezone: str = "UTC") -> None:
        if not isinstance(expression, str):
            raise ScheduleError(
                f"invalid cron expression {expression!r}: it must be text like '0 9 * * *'"
            )
        self._expression = expression.strip()
        self._zone = get_zone(timezone)
        self._fields = _parse_cron(self._expression)
        self._croniter_expression = self._fields.croniter_expression()
        # A job that runs in every hour must also run in the repeated hour when clocks go back.
        self._every_hour = self._fields.hours == _HOUR.all_values

    @property
    def expression(self) -> str:
        """The expression as written (surrounding spaces removed)."""
        return self._expression

    @property
    def timezone(self) -> str:
        """The IANA zone name the expression is evaluated in."""
        return _zone_key(self._zone)

    def __repr__(self) -> str:
        return f"CronTrigger({self._expression!r}, timezone={self.timezone!r})"

    def _step(self, naive: datetime, backwards: bool) -> datetime | None:
        # Imported here: `cnp job list` reads schedules without stepping them (start-up time).
        from croniter import croniter
        from croniter.croniter import CroniterError

        try:
            iterator = croniter(self._croniter_expression, naive)
            result = iterator.get_prev(datetime) if backwards else iterator.get_next(datetime)
        except (CroniterError, OverflowError, ValueError):
            # Only reachable at the ends of the datetime range: no more fire times there.
            return None
        return result.replace(tzinfo=None)

    def _instants(self, wall: _WallTime) -> list[datetime]:
        if wall.kind == "ambiguous" and self._every_hour:
            assert wall.second is not None
            return [wall.first, wall.second]
        return [wall.first]

    def next_after(self, after: datetime) -> datetime | None:
        """The first fire time strictly after ``after`` (aware), as aware UTC."""
        after = _require_aware(after, "after")
        local = after.astimezone(self._zone)
        start = local.replace(tzinfo=None, fold=0)
        best: datetime | None = None
        here = _wall_time(start, self._zone)
        if here.kind == "ambiguous":
            assert here.span_start is not None and here.span_end is not None
            if local.fold == 1 and not self._every_hour:
                # Fixed-hour jobs fired in the first pass of the repeated span; skip the second.
                start = here.span_end - _MICROSECOND
            elif local.fold == 0 and self._every_hour:
                # The second pass of the repeated span comes after every first-pass instant,
                # including wall times earlier than ours: the earliest match there may win.
                first_match = self._step(here.span_start - _MICROSECOND, backwards=False)
                if first_match is not None and first_match < here.span_end:
                    best = _wall_time(first_match, self._zone).second
        for _ in range(_MAX_STEPS):
            candidate = self._step(start, backwards=False)
            if candidate is None:
                return best
            later = [t for t in self._instants(_wall_time(candidate, self._zone)) if t > after]
            if later:
                return min([*later, best]) if best is not None else min(later)
            start = candidate
        raise RuntimeError(f"no fire time found after {after.isoformat()} for {self!r}")

    def prev_before(self, before: datetime) -> datetime | None:
        """The last fire time strictly before ``before`` (aware), as aware UTC."""
        before = _require_aware(before, "before")
        local = before.astimezone(self._zone)
        start = local.replace(tzinfo=None, fold=0)
        here = _wall_time(start, self._zone)
        if here.kind == "ambiguous" and local.fold == 1:
            assert here.span_end is not None and here.span_start is not None
            if self._every_hour:
                previous = self._step(start, backwards=True)
                if previous is not None and previous >= here.span_start:
                    return _wall_time(previous, self._zone).second
            # First-pass instants of the whole repeated span are all before us.
            start = here.span_end
        for _ in range(_MAX_STEPS):
            candidate = self._step(start, backwards=True)
            if candidate is None:
                return None
            wall = _wall_time(candidate, self._zone)
            earlier = [t for t in self._instants(wall) if t < before]
            if earlier:
                return max(earlier)
            # Every wall time in a gap maps to the same instant: jump over the whole gap.
            start = wall.span_start if wall.kind == "gap" and wall.span_start else candidate
        raise RuntimeError(f"no fire time found before {before.isoformat()} for {self!r}")

    def describe(self) -> str:
        """Plain words, e.g. ``At 09:00 every day (Asia/Taipei)``."""
        text = _describe_cron(self._fields) or f"Cron '{self._expression}'"
        return text if self.timezone == "UTC" else f"{text} ({self.timezone})"


class IntervalTrigger:
    """Fires at ``anchor + k * seconds`` for k = 1, 2, ... (exact integer microseconds)."""

    def __init__(self, seconds: float, anchor: datetime) -> None:
        seconds = float(seconds)
        if math.isnan(seconds) or seconds < 1:
            shown = "nan" if math.isnan(seconds) else format_duration(seconds)
            raise ScheduleError(f"interval of {shown} is too short: use 1s or more")
        try:
            self._period = timedelta(microseconds=round(seconds * 1_000_000))
        except OverflowError as exc:
            raise ScheduleError(
                f"interval of {seconds:g}s is too long: use at most 999999999d"
            ) from exc
        self._seconds = seconds
        self._anchor = _require_aware(anchor, "anchor")

    @property
    def seconds(self) -> float:
        """The period in seconds."""
        return self._seconds

    @property
    def anchor(self) -> datetime:
        """The instant slots are counted from (aware UTC); the first slot is one period later."""
        return self._anchor

    def __repr__(self) -> str:
        return f"IntervalTrigger({self._seconds!r}, anchor={self._anchor.isoformat()!r})"

    def _slot(self, k: int) -> datetime | None:
        try:
            return self._anchor + self._period * k
        except OverflowError:
            return None

    def next_after(self, after: datetime) -> datetime | None:
        """The first slot strictly after ``after``."""
        elapsed = (_require_aware(after, "after") - self._anchor) // _MICROSECOND
        period = self._period // _MICROSECOND
        return self._slot(max(1, elapsed // period + 1))

    def prev_before(self, before: datetime) -> datetime | None:
        """The last slot strictly before ``before`` (None before the first slot)."""
        elapsed = (_require_aware(before, "before") - self._anchor) // _MICROSECOND
        k = (elapsed - 1) // (self._period // _MICROSECOND)
        return self._slot(k) if k >= 1 else None

    def describe(self) -> str:
        """Plain words, e.g. ``Every 30 minutes`` or ``Every 1h30m``."""
        return _describe_every(self._seconds)


class OnceTrigger:
    """Fires once, at ``at``. ``timezone`` only changes how ``describe`` shows the time."""

    def __init__(self, at: datetime, timezone: str = "UTC") -> None:
        self._at = _require_aware(at, "at")
        self._zone = get_zone(timezone)

    @property
    def at(self) -> datetime:
        """The fire time (aware UTC)."""
        return self._at

    def __repr__(self) -> str:
        return f"OnceTrigger({self._at.isoformat()!r})"

    def next_after(self, after: datetime) -> datetime | None:
        """``at`` while it is still ahead of ``after``, else None."""
        return self._at if self._at > _require_aware(after, "after") else None

    def prev_before(self, before: datetime) -> datetime | None:
        """``at`` once it is behind ``before``, else None."""
        return self._at if self._at < _require_aware(before, "before") else None

    def describe(self) -> str:
        """Plain words, e.g. ``Once at 2026-12-01 09:00 UTC``."""
        key = _zone_key(self._zone)
        local = self._at.astimezone(self._zone)
        shown = local.strftime("%Y-%m-%d %H:%M" if local.second == 0 else "%Y-%m-%d %H:%M:%S")
        return f"Once at {shown} UTC" if key == "UTC" else f"Once at {shown} ({key})"


Trigger = CronTrigger | IntervalTrigger | OnceTrigger


# --- parsing helpers -------------------------------------------------------------------------


def parse_interval(expression: str) -> float:
    """Seconds of an interval like ``every 30m``, ``30m``, ``every 1h30m``; at least 1s."""
    text = expression.strip() if isinstance(expression, str) else str(expression)
    body = text
    if body.lower().startswith("every"):
        body = body[len("every") :].strip()
    try:
        seconds = parse_duration(body)
    except DurationError as exc:
        raise ScheduleError(
            f"invalid interval '{text}': use a duration like 'every 30m', 'every 1h30m' or '90s'"
        ) from exc
    if seconds < 1:
        raise ScheduleError(f"interval '{text}' is too short: use 1s or more")
    return seconds


def parse_once(expression: str, timezone: str = "UTC") -> datetime:
    """An ISO 8601 time as aware UTC; a time without offset is wall time in ``timezone``."""
    zone = get_zone(timezone)
    text = expression.strip() if isinstance(expression, str) else ""
    try:
        # upper(): accept "2026-12-01t09:00z"; ISO 8601 has no other letters.
        value = datetime.fromisoformat(text.upper())
    except ValueError:
        raise ScheduleError(
            f"invalid time '{expression}': use ISO 8601 like 2026-12-01T09:00 or"
            " 2026-12-01T09:00+01:00"
        ) from None
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    wall = _wall_time(value, zone)
    if wall.kind == "gap":
        assert wall.span_start is not None and wall.span_end is not None
        raise ScheduleError(
            f"time '{text}' does not exist in {_zone_key(zone)}: clocks jump from"
            f" {wall.span_start:%H:%M} to {wall.span_end:%H:%M} that day; pick a time outside"
            " the gap or give an offset like +01:00"
        )
    return wall.first  # ambiguous: the first occurrence


@functools.lru_cache(maxsize=4096)
def _shared_cron_trigger(expression: str, timezone: str) -> CronTrigger:
    # Triggers are immutable, and fleets of jobs share a handful of expressions ("0 9 * * *"):
    # one parsed trigger per (expression, zone) keeps 10,000 jobs cheap to load and to hold.
    return CronTrigger(expression, timezone)


def build_trigger(schedule_type: str, expression: str, timezone: str, anchor: datetime) -> Trigger:
    """The trigger for a job's schedule; ``anchor`` counts interval slots (ignored otherwise)."""
    kind = str(getattr(schedule_type, "value", schedule_type)).strip().lower()
    if kind == "cron":
        return _shared_cron_trigger(expression, timezone)
    if kind == "interval":
        return IntervalTrigger(parse_interval(expression), anchor)
    if kind == "once":
        return OnceTrigger(parse_once(expression, timezone), timezone)
    raise ScheduleError(f"unknown schedule type '{schedule_type}': use cron, interval or once")


def fire_times_between(
    trigger: Trigger, start: datetime, end: datetime, limit: int
) -> list[datetime]:
    """Fire times t with ``start < t <= end``: the ``limit`` most recent, ascending.

    Walks backwards from ``end``, so the work is proportional to ``limit``, not to the gap.
    """
    start = _require_aware(start, "start")
    end = _require_aware(end, "end")
    if limit <= 0 or end <= start:
        return []
    found: list[datetime] = []
    current = trigger.prev_before(end + _MICROSECOND)
    while current is not None and current > start and len(found) < limit:
        found.append(current)
        current = trigger.prev_before(current)
    found.reverse()
    return found


def next_fire_times(trigger: Trigger, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times after ``after`` (fewer if the trigger ends), for previews."""
    found: list[datetime] = []
    current: datetime | None = _require_aware(after, "after")
    while len(found) < count:
        assert current is not None
        current = trigger.next_after(current)
        if current is None:
            break
        found.append(current)
    return found


# --- describe --------------------------------------------------------------------------------


_UNIT_WORDS = {
    "d": ("day", "days"),
    "h": ("hour", "hours"),
    "m": ("minute", "minutes"),
    "s": ("second", "seconds"),
}


def _describe_every(seconds: float) -> str:
    # One unit reads best in words ("Every 30 minutes"); mixed units stay compact ("Every 1h30m").
    compact = format_duration(seconds)
    single = re.fullmatch(r"(\d+)([dhms])", compact)
    if single is None:
        return f"Every {compact}"
    count = int(single.group(1))
    one, many = _UNIT_WORDS[single.group(2)]
    return f"Every {one}" if count == 1 else f"Every {count} {many}"


def _step_of(values: frozenset[int], spec: _FieldSpec) -> int | None:
    """k when ``values`` is exactly ``*/k`` and k divides the field evenly, else None."""
    size = spec.values_high - spec.low + 1
    for step in range(2, size):
        if size % step == 0 and values == frozenset(range(spec.low, spec.values_high + 1, step)):
            return step
    return None


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _runs(ordered: list[int], render: dict[int, str], key_order: list[int]) -> list[str]:
    """Words for ``ordered``; runs of 3+ consecutive values collapse to 'X through Y'."""
    position = {value: index for index, value in enumerate(key_order)}
    groups: list[list[int]] = []
    for value in ordered:
        if groups and position[value] == position[groups[-1][-1]] + 1:
            groups[-1].append(value)
        else:
            groups.append([value])
    words: list[str] = []
    for group in groups:
        if len(group) >= 3:
            words.append(f"{render[group[0]]} through {render[group[-1]]}")
        else:
            words.extend(render[value] for value in group)
    return words


# Beyond this many items a list stops being readable; describe() then shows the raw expression.
_MAX_LISTED = 6


def _weekday_phrase(weekdays: frozenset[int]) -> str:
    monday_first = [1, 2, 3, 4, 5, 6, 0]
    ordered = [day for day in monday_first if day in weekdays]
    render = {index: name.capitalize() for index, name in enumerate(_DAY_NAMES)}
    return _join(_runs(ordered, render, monday_first))


def _month_phrase(months: frozenset[int]) -> str | None:
    render = {index + 1: name.capitalize() for index, name in enumerate(_MONTH_NAMES)}
    words = _runs(sorted(months), render, list(range(1, 13)))
    return _join(words) if len(words) <= _MAX_LISTED else None


def _day_phrase(days: frozenset[int]) -> str | None:
    order = list(range(1, 32))
    words = _runs(sorted(days), {day: str(day) for day in order}, order)
    if len(words) > _MAX_LISTED:
        return None
    return f"day {words[0]}" if len(days) == 1 else f"days {_join(words)}"


def _clock(hour: int, minute: int, second: int) -> str:
    return f"{hour:02d}:{minute:02d}" + (f":{second:02d}" if second else "")


def _describe_time(fields: _CronFields) -> tuple[str, bool] | None:
    """The time-of-day part and whether it names specific times (then "every day" reads well)."""
    seconds, minutes, hours = fields.seconds, fields.minutes, fields.hours
    every_second = seconds == _SECOND.all_values
    every_minute = minutes == _MINUTE.all_values
    every_hour = hours == _HOUR.all_values
    on_the_minute = seconds == frozenset({0})
    if every_hour:
        if on_the_minute:
            if every_minute:
                return "Every minute", False
            if step := _step_of(minutes, _MINUTE):
                return f"Every {step} minutes", False
            if len(minutes) <= 4:
                shown = _join([str(m) for m in sorted(minutes)])
                noun = "minute" if len(minutes) == 1 else "minutes"
                return f"At {noun} {shown} of every hour", False
            return None
        if every_minute:
            if every_second:
                return "Every second", False
            if step := _step_of(seconds, _SECOND):
                return f"Every {step} seconds", False
            if len(seconds) == 1:
                return f"At second {min(seconds)} of every minute", False
        return None
    if len(seconds) == 1 and len(minutes) * len(hours) <= 6:
        (second,) = seconds
        times = [_clock(h, m, second) for h in sorted(hours) for m in sorted(minutes)]
        return f"At {_join(times)}", True
    if not on_the_minute:
        return None
    if len(minutes) == 1 and (step := _step_of(hours, _HOUR)):
        (minute,) = minutes
        return f"Every {step} hours at minute {minute}", False
    low, high = min(hours), max(hours)
    if hours == frozenset(range(low, high + 1)):
        span = f"from {low:02d}:00 to {high:02d}:59"
        if every_minute:
            return f"Every minute {span}", False
        if step := _step_of(minutes, _MINUTE):
            return f"Every {step} minutes {span}", False
    return None


def _describe_cron(fields: _CronFields) -> str | None:
    time_part = _describe_time(fields)
    if time_part is None:
        return None
    text, names_times = time_part
    month_restricted = fields.months != _MONTH.all_values
    months = _month_phrase(fields.months) if month_restricted else "the month"
    if months is None:
        return None
    if fields.days_restricted:
        days = _day_phrase(fields.days)
        if days is None:
            return None
        text = f"{text} on {days} of {months}"
        if fields.weekdays_restricted:
            if month_restricted:
                return None  # "day 1 of May or on Monday" would hide that Mondays are in May too
            text += f" or on {_weekday_phrase(fields.weekdays)}"
        return text
    if fields.weekdays_restricted:
        text = f"{text} on {_weekday_phrase(fields.weekdays)}"
    elif names_times:
        text = f"{text} every day"
    return f"{text} in {months}" if month_restricted else text
