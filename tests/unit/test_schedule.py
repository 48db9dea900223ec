"""Next-fire-time maths: cron with time zones and DST, intervals, one-shot times, catch-up."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cnp_tui.core.schedule import (
    CronTrigger,
    IntervalTrigger,
    OnceTrigger,
    ScheduleError,
    build_trigger,
    fire_times_between,
    get_zone,
    next_fire_times,
    parse_interval,
    parse_once,
)

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def wall(zone: str, *parts: int, fold: int = 0) -> datetime:
    """A wall-clock time in ``zone`` as aware UTC."""
    return datetime(*parts, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)  # type: ignore[misc]


def chain(trigger: CronTrigger, after: datetime, count: int) -> list[datetime]:
    return next_fire_times(trigger, after, count)


# --- zones -----------------------------------------------------------------------------------


def test_get_zone_accepts_utc_and_iana_names() -> None:
    assert get_zone("UTC").key == "UTC"
    assert get_zone("utc").key == "UTC"
    assert get_zone("Europe/Paris").key == "Europe/Paris"
    assert get_zone("Asia/Taipei") is get_zone("Asia/Taipei")


@pytest.mark.parametrize("name", ["Mars/Base", "", "Europe", "../etc/passwd"])
def test_get_zone_rejects_unknown_names(name: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        get_zone(name)
    assert str(caught.value) == (
        f"unknown time zone '{name}': use an IANA name like 'Europe/Paris' or 'UTC'"
    )


# --- cron: parsing and validation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", "minute field '61' is out of range 0-59"),
        ("0 24 * * *", "hour field '24' is out of range 0-23"),
        ("0 0 0 * *", "day-of-month field '0' is out of range 1-31"),
        ("0 0 32 * *", "day-of-month field '32' is out of range 1-31"),
        ("0 0 * 13 *", "month field '13' is out of range 1-12"),
        ("0 0 * * 8", "day-of-week field '8' is out of range 0-7"),
        ("60 0 0 * * *", "second field '60' is out of range 0-59"),
        ("5,61 * * * *", "minute field '5,61': 61 is out of range 0-59"),
        ("0 1-25 * * *", "hour field '1-25': 25 is out of range 0-23"),
        ("x * * * *", "minute field 'x' is not a number"),
        ("0 0 * foo *", "month field 'foo' is not a number or a month name like jan"),
        ("0 0 * * funday", "day-of-week field 'funday' is not a number or a day name like mon"),
        ("0 0 * jan-foo *", "month field 'jan-foo': 'foo' is not a number or a month name"),
        ("jan * * * *", "minute field 'jan' is not a number"),
        ("*/0 * * * *", "minute field '*/0': step '0' must be a whole number of 1 or more"),
        ("*/x * * * *", "minute field '*/x': step 'x' must be a whole number of 1 or more"),
        ("5,,10 * * * *", "minute field '5,,10' has an empty list item: remove the extra comma"),
        ("30-10 * * * *", "minute field '30-10': range '30-10' goes backwards"),
        ("-5 * * * *", "minute field '-5': '-5' is not a valid range: write it as start-end"),
        ("? * * * *", "minute field '?' is not a number"),
        ("0 0 30 2 *", "it never fires: no month in month field '2' has day-of-month '30'"),
        ("0 0 31 4,6,9,11 *", "it never fires"),
        (
            "* * *",
            "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds"
            " first, got 3",
        ),
        ("* * * * * * *", "expected 5 fields"),
        ("", "it is empty: write 5 fields like '0 9 * * *' or an alias like @daily"),
        ("@fortnightly", "unknown alias: use one of @yearly, @annually, @monthly, @weekly"),
        ("@reboot", "unknown alias"),
    ],
)
def test_invalid_cron_names_the_bad_field(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        CronTrigger(expression)
    text = str(caught.value)
    assert text.startswith(f"invalid cron expression '{expression}': ")
    assert message in text
    assert isinstance(caught.value, ValueError)


def test_invalid_cron_message_matches_the_documented_wording() -> None:
    with pytest.raises(ScheduleError) as caught:
        CronTrigger("61 * * * *")
    assert str(caught.value) == (
        "invalid cron expression '61 * * * *': minute field '61' is out of range 0-59"
    )


def test_cron_with_unknown_zone_is_rejected() -> None:
    with pytest.raises(ScheduleError, match=re.escape("unknown time zone 'Mars/Base'")):
        CronTrigger("0 9 * * *", "Mars/Base")


def test_cron_keeps_expression_and_zone() -> None:
    trigger = CronTrigger("  0 9 * * *  ", "Asia/Taipei")
    assert trigger.expression == "0 9 * * *"
    assert trigger.timezone == "Asia/Taipei"
    assert CronTrigger("0 9 * * *").timezone == "UTC"


def test_feb_29_is_allowed_and_fires_in_leap_years() -> None:
    trigger = CronTrigger("0 0 29 2 *")
    assert chain(trigger, utc(2026, 1, 1), 2) == [utc(2028, 2, 29), utc(2032, 2, 29)]


# --- cron: basic firing ----------------------------------------------------------------------


def test_next_after_is_strictly_after() -> None:
    trigger = CronTrigger("0 9 * * *")
    assert trigger.next_after(utc(2026, 5, 1, 8, 59, 59)) == utc(2026, 5, 1, 9)
    assert trigger.next_after(utc(2026, 5, 1, 9)) == utc(2026, 5, 2, 9)
    assert trigger.next_after(utc(2026, 5, 1, 9, 0, 0) - timedelta(microseconds=1)) == utc(
        2026, 5, 1, 9
    )


def test_next_after_accepts_any_aware_datetime_and_returns_utc() -> None:
    trigger = CronTrigger("0 9 * * *", "Asia/Taipei")
    after = datetime(2026, 5, 1, 10, tzinfo=ZoneInfo("Europe/Paris"))  # 16:00 in Taipei
    result = trigger.next_after(after)
    assert result == utc(2026, 5, 2, 1)
    assert result is not None and result.tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CronTrigger("0 9 * * *").next_after(datetime(2026, 1, 1))


def test_cron_runs_in_the_jobs_zone() -> None:
    trigger = CronTrigger("0 9 * * *", "Asia/Taipei")  # UTC+8, no DST
    assert chain(trigger, utc(2026, 6, 1), 2) == [utc(2026, 6, 1, 1), utc(2026, 6, 2, 1)]


@pytest.mark.parametrize(
    ("alias", "equivalent"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_aliases_match_their_expansion(alias: str, equivalent: str) -> None:
    start = utc(2026, 3, 14, 15, 9, 26)
    assert chain(CronTrigger(alias), start, 5) == chain(CronTrigger(equivalent), start, 5)


def test_weekly_fires_on_sunday_midnight() -> None:
    fires = chain(CronTrigger("@weekly"), utc(2026, 1, 1), 3)
    assert [f.weekday() for f in fires] == [6, 6, 6]
    assert fires[0] == utc(2026, 1, 4)


@pytest.mark.parametrize(
    ("named", "numeric"),
    [
        ("0 9 * jan,jul mon-fri", "0 9 * 1,7 1-5"),
        ("0 9 * JAN-MAR Mon", "0 9 * 1-3 1"),
        ("0 9 * * sunday", "0 9 * * 0"),
        ("0 0 * * 7", "0 0 * * 0"),
        ("0 0 * * fri-sun", "0 0 * * 5,6,0"),
        ("0 0 * * 5-7", "0 0 * * 0,5,6"),
        ("0 0 ? * mon", "0 0 * * 1"),
    ],
)
def test_month_and_day_names(named: str, numeric: str) -> None:
    start = utc(2026, 1, 1)
    assert chain(CronTrigger(named), start, 20) == chain(CronTrigger(numeric), start, 20)


def test_ranges_steps_and_lists() -> None:
    fires = chain(CronTrigger("10-30/10,45 8 * * *"), utc(2026, 1, 1), 5)
    assert fires == [
        utc(2026, 1, 1, 8, 10),
        utc(2026, 1, 1, 8, 20),
        utc(2026, 1, 1, 8, 30),
        utc(2026, 1, 1, 8, 45),
        utc(2026, 1, 2, 8, 10),
    ]
    # "50/5": from 50 to the end of the field.
    assert chain(CronTrigger("50/5 * * * *"), utc(2026, 1, 1), 3) == [
        utc(2026, 1, 1, 0, 50),
        utc(2026, 1, 1, 0, 55),
        utc(2026, 1, 1, 1, 50),
    ]


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    fires = chain(CronTrigger("0 0 13 * fri"), utc(2026, 2, 1), 4)
    # Fridays of February 2026 are the 6th, 13th (also the 13th), 20th and 27th.
    assert fires == [utc(2026, 2, 6), utc(2026, 2, 13), utc(2026, 2, 20), utc(2026, 2, 27)]
    assert chain(CronTrigger("0 0 13 * fri"), utc(2026, 3, 7), 2) == [
        utc(2026, 3, 13),
        utc(2026, 3, 20),
    ]


def test_six_fields_put_seconds_first() -> None:
    assert chain(CronTrigger("30 0 9 * * *"), utc(2026, 1, 1), 2) == [
        utc(2026, 1, 1, 9, 0, 30),
        utc(2026, 1, 2, 9, 0, 30),
    ]
    assert chain(CronTrigger("*/10 * * * * *"), utc(2026, 1, 1, 9), 3) == [
        utc(2026, 1, 1, 9, 0, 10),
        utc(2026, 1, 1, 9, 0, 20),
        utc(2026, 1, 1, 9, 0, 30),
    ]


# --- cron: daylight saving time --------------------------------------------------------------
# 2026 transitions: Europe/Berlin forward Mar 29 02:00->03:00, back Oct 25 03:00->02:00;
# America/New_York forward Mar 8 02:00->03:00, back Nov 1 02:00->01:00.


def test_berlin_spring_forward_fires_once_at_the_end_of_the_gap() -> None:
    trigger = CronTrigger("30 2 * * *", "Europe/Berlin")
    assert chain(trigger, utc(2026, 3, 27), 4) == [
        wall("Europe/Berlin", 2026, 3, 27, 2, 30),
        wall("Europe/Berlin", 2026, 3, 28, 2, 30),
        wall("Europe/Berlin", 2026, 3, 29, 3, 0),  # 02:30 does not exist that night
        wall("Europe/Berlin", 2026, 3, 30, 2, 30),
    ]
    assert wall("Europe/Berlin", 2026, 3, 29, 3, 0) == utc(2026, 3, 29, 1)


def test_new_york_spring_forward_fires_once_at_the_end_of_the_gap() -> None:
    trigger = CronTrigger("30 2 * * *", "America/New_York")
    assert chain(trigger, utc(2026, 3, 7), 3) == [
        utc(2026, 3, 7, 7, 30),  # 02:30 EST
        utc(2026, 3, 8, 7, 0),  # 03:00 EDT, the first instant after the gap
        utc(2026, 3, 9, 6, 30),  # 02:30 EDT
    ]


def test_new_york_fall_back_fires_a_fixed_time_once() -> None:
    trigger = CronTrigger("30 1 * * *", "America/New_York")
    assert chain(trigger, utc(2026, 10, 31), 3) == [
        utc(2026, 10, 31, 5, 30),  # 01:30 EDT
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT, the first of the two 01:30s
        utc(2026, 11, 2, 6, 30),  # 01:30 EST
    ]
    # Asking from inside the repeated hour (01:10 EST, before the second 01:30) skips it.
    assert trigger.next_after(utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 2, 6, 30)


def test_berlin_fall_back_fires_a_fixed_time_once() -> None:
    trigger = CronTrigger("30 2 * * *", "Europe/Berlin")
    assert chain(trigger, utc(2026, 10, 24), 3) == [
        utc(2026, 10, 24, 0, 30),  # 02:30 CEST
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST; 02:30 CET an hour later does not fire
        utc(2026, 10, 26, 1, 30),  # 02:30 CET
    ]
    assert trigger.prev_before(utc(2026, 10, 26)) == utc(2026, 10, 25, 0, 30)


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("Europe/Berlin", utc(2026, 3, 28)),
        ("Europe/Berlin", utc(2026, 10, 24)),
        ("America/New_York", utc(2026, 3, 7)),
        ("America/New_York", utc(2026, 10, 31)),
    ],
)
@pytest.mark.parametrize("expression", ["0 * * * *", "0 */1 * * *", "@hourly"])
def test_hourly_job_runs_every_real_hour_across_dst(
    zone: str, start: datetime, expression: str
) -> None:
    fires = chain(CronTrigger(expression, zone), start, 72)
    assert fires == [start + HOUR * k for k in range(1, 73)]


def test_new_york_hourly_fires_at_both_one_thirties() -> None:
    trigger = CronTrigger("30 * * * *", "America/New_York")
    assert chain(trigger, utc(2026, 11, 1, 4), 4) == [
        utc(2026, 11, 1, 4, 30),  # 00:30 EDT
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT
        utc(2026, 11, 1, 6, 30),  # 01:30 EST
        utc(2026, 11, 1, 7, 30),  # 02:30 EST
    ]


def test_hourly_at_half_past_across_spring_forward() -> None:
    trigger = CronTrigger("30 * * * *", "America/New_York")
    assert chain(trigger, utc(2026, 3, 8, 6), 3) == [
        utc(2026, 3, 8, 6, 30),  # 01:30 EST
        utc(2026, 3, 8, 7, 0),  # 02:30 does not exist: 03:00 EDT
        utc(2026, 3, 8, 7, 30),  # 03:30 EDT
    ]


def test_many_matches_inside_the_gap_fire_once() -> None:
    trigger = CronTrigger("*/15 * * * *", "Europe/Berlin")
    fires = chain(trigger, utc(2026, 3, 29, 0, 30), 4)
    assert fires == [
        utc(2026, 3, 29, 0, 45),  # 01:45 CET
        utc(2026, 3, 29, 1, 0),  # 02:00-02:45 do not exist; 03:00 CEST fires once
        utc(2026, 3, 29, 1, 15),  # 03:15 CEST
        utc(2026, 3, 29, 1, 30),
    ]


def test_fixed_hours_in_the_repeated_hour_fire_once() -> None:
    trigger = CronTrigger("0 1-3 * * *", "America/New_York")
    assert chain(trigger, utc(2026, 11, 1, 4), 3) == [
        utc(2026, 11, 1, 5),  # 01:00 EDT
        utc(2026, 11, 1, 7),  # 02:00 EST (01:00 EST is the repeat, skipped)
        utc(2026, 11, 1, 8),  # 03:00 EST
    ]


def test_per_second_job_across_spring_forward() -> None:
    trigger = CronTrigger("* * * * * *", "America/New_York")
    gap_end = utc(2026, 3, 8, 7)  # 01:59:59 EST is followed by 03:00:00 EDT
    second = timedelta(seconds=1)
    assert trigger.next_after(gap_end - second) == gap_end
    assert trigger.next_after(gap_end) == gap_end + second
    # Looking back from the end of the gap jumps over the whole skipped hour.
    assert trigger.prev_before(gap_end) == gap_end - second
    assert trigger.prev_before(gap_end + second) == gap_end


def test_per_second_fixed_hour_job_skips_the_whole_repeated_hour() -> None:
    trigger = CronTrigger("* * 1 * * *", "America/New_York")  # every second of 01:xx
    first_pass_end = utc(2026, 11, 1, 5, 59, 59)  # 01:59:59 EDT
    assert trigger.next_after(first_pass_end) == utc(2026, 11, 2, 6)  # 01:00 EST next day
    assert trigger.next_after(utc(2026, 11, 1, 6, 30)) == utc(2026, 11, 2, 6)
    assert trigger.prev_before(utc(2026, 11, 1, 6, 30)) == first_pass_end
    assert trigger.prev_before(utc(2026, 11, 2, 6)) == first_pass_end


def _oracle(
    matches: Callable[[datetime], bool],
    zone_name: str,
    every_hour: bool,
    start: datetime,
    end: datetime,
) -> list[datetime]:
    """Brute force, minute by minute in real time, written straight from the DST rules."""
    zone = ZoneInfo(zone_name)
    fires: set[datetime] = set()
    instant = start + MINUTE
    previous_offset = (instant - MINUTE).astimezone(zone).utcoffset()
    while instant <= end:
        local = instant.astimezone(zone)
        offset = local.utcoffset()
        assert offset is not None and previous_offset is not None
        if offset > previous_offset:
            # Clocks jumped forward at this instant: the skipped wall times fire here, once.
            skipped = instant.replace(tzinfo=None) + previous_offset
            while skipped < local.replace(tzinfo=None):
                if matches(skipped):
                    fires.add(instant)
                skipped += MINUTE
        naive = local.replace(tzinfo=None, fold=0)
        if matches(naive) and (local.fold == 0 or every_hour):
            fires.add(instant)
        previous_offset = offset
        instant += MINUTE
    return sorted(fires)


CASES: list[tuple[str, Callable[[datetime], bool], bool]] = [
    ("30 2 * * *", lambda t: (t.hour, t.minute) == (2, 30), False),
    ("30 1 * * *", lambda t: (t.hour, t.minute) == (1, 30), False),
    ("0 2 * * *", lambda t: (t.hour, t.minute) == (2, 0), False),
    ("45 1,2 * * *", lambda t: t.hour in (1, 2) and t.minute == 45, False),
    ("*/20 * * * *", lambda t: t.minute % 20 == 0, True),
    ("0 * * * *", lambda t: t.minute == 0, True),
    ("50 * * * *", lambda t: t.minute == 50, True),
]
# (zone, a UTC instant about half a day before each 2026 transition)
TRANSITIONS = [
    ("Europe/Berlin", utc(2026, 3, 28, 12)),
    ("Europe/Berlin", utc(2026, 10, 24, 12)),
    ("America/New_York", utc(2026, 3, 7, 19)),
    ("America/New_York", utc(2026, 10, 31, 18)),
    ("Australia/Sydney", utc(2026, 4, 4, 4)),
    ("Australia/Sydney", utc(2026, 10, 3, 4)),
    ("Australia/Lord_Howe", utc(2026, 4, 4, 3)),  # half-hour DST shift
    ("Australia/Lord_Howe", utc(2026, 10, 3, 3)),
]


@pytest.mark.parametrize(("zone", "start"), TRANSITIONS)
@pytest.mark.parametrize(("expression", "matches", "every_hour"), CASES, ids=[c[0] for c in CASES])
def test_cron_agrees_with_brute_force_around_transitions(
    zone: str,
    start: datetime,
    expression: str,
    matches: Callable[[datetime], bool],
    every_hour: bool,
) -> None:
    end = start + timedelta(days=1)
    expected = _oracle(matches, zone, every_hour, start, end)
    assert expected, "the window must contain fire times"
    trigger = CronTrigger(expression, zone)

    forward = [t for t in chain(trigger, start, len(expected) + 1) if t <= end]
    assert forward == expected
    assert fire_times_between(trigger, start, end, 10_000) == expected

    # From every minute of the window (and just off it), the next and previous fire times are
    # the oracle's: no instant twice, none skipped, strictly increasing.
    probe = start + 5 * MINUTE
    while probe < end - 2 * HOUR:
        for offset in (timedelta(0), timedelta(seconds=1), -timedelta(microseconds=1)):
            at = probe + offset
            later = [t for t in expected if t > at]
            earlier = [t for t in expected if t < at and t > start]
            if later:
                assert trigger.next_after(at) == later[0], at
            if earlier:
                assert trigger.prev_before(at) == earlier[-1], at
        probe += 5 * MINUTE


# --- catch-up and previews -------------------------------------------------------------------


class CountingCron(CronTrigger):
    def __init__(self, expression: str) -> None:
        super().__init__(expression)
        self.calls = 0

    def prev_before(self, before: datetime) -> datetime | None:
        self.calls += 1
        return super().prev_before(before)


def test_per_second_cron_over_a_month_outage_returns_the_latest_slots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import croniter as croniter_package  # schedule.py imports croniter when it steps

    built: list[str] = []
    real = croniter_package.croniter

    def counting(*args: object, **kwargs: object) -> object:
        built.append(str(args[0]))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(croniter_package, "croniter", counting)
    trigger = CountingCron("* * * * * *")
    end = utc(2026, 2, 1, 12)
    fires = fire_times_between(trigger, end - timedelta(days=30), end, 3)
    assert fires == [end - timedelta(seconds=2), end - timedelta(seconds=1), end]
    # Work is bounded by the limit, not by the 2.6 million seconds in the gap.
    assert trigger.calls <= 4
    assert 0 < len(built) <= 8


def test_fire_times_between_bounds_are_exclusive_inclusive() -> None:
    trigger = CronTrigger("0 9 * * *")
    start, end = utc(2026, 1, 1, 9), utc(2026, 1, 4, 9)
    assert fire_times_between(trigger, start, end, 10) == [
        utc(2026, 1, 2, 9),
        utc(2026, 1, 3, 9),
        utc(2026, 1, 4, 9),
    ]


def test_fire_times_between_keeps_the_most_recent_when_limited() -> None:
    trigger = CronTrigger("0 9 * * *")
    fires = fire_times_between(trigger, utc(2025, 1, 1), utc(2026, 1, 10, 12), 3)
    assert fires == [utc(2026, 1, 8, 9), utc(2026, 1, 9, 9), utc(2026, 1, 10, 9)]


def test_fire_times_between_empty_cases() -> None:
    trigger = CronTrigger("0 9 * * *")
    assert fire_times_between(trigger, utc(2026, 1, 1), utc(2026, 1, 5), 0) == []
    assert fire_times_between(trigger, utc(2026, 1, 5), utc(2026, 1, 1), 5) == []
    assert fire_times_between(trigger, utc(2026, 1, 1, 10), utc(2026, 1, 2, 8), 5) == []


def test_fire_times_between_for_interval_and_once() -> None:
    anchor = utc(2020, 1, 1)
    interval = IntervalTrigger(1, anchor)
    end = utc(2030, 1, 1, 0, 0, 0)
    assert fire_times_between(interval, anchor, end, 3) == [
        end - timedelta(seconds=2),
        end - timedelta(seconds=1),
        end,
    ]
    assert fire_times_between(interval, anchor - HOUR, anchor + timedelta(seconds=2), 10) == [
        anchor + timedelta(seconds=1),
        anchor + timedelta(seconds=2),
    ]
    once = OnceTrigger(utc(2026, 6, 1))
    assert fire_times_between(once, utc(2026, 1, 1), utc(2026, 12, 1), 5) == [utc(2026, 6, 1)]
    assert fire_times_between(once, utc(2026, 6, 1), utc(2026, 12, 1), 5) == []


def test_next_fire_times_previews() -> None:
    assert next_fire_times(CronTrigger("0 */6 * * *"), utc(2026, 1, 1, 1), 3) == [
        utc(2026, 1, 1, 6),
        utc(2026, 1, 1, 12),
        utc(2026, 1, 1, 18),
    ]
    assert next_fire_times(OnceTrigger(utc(2026, 6, 1)), utc(2026, 1, 1), 3) == [utc(2026, 6, 1)]


# --- interval --------------------------------------------------------------------------------


def test_interval_counts_from_the_anchor() -> None:
    anchor = utc(2026, 1, 1, 12)
    trigger = IntervalTrigger(1800, anchor)
    assert trigger.next_after(anchor) == anchor + 30 * MINUTE
    assert trigger.next_after(anchor - timedelta(days=3)) == anchor + 30 * MINUTE
    assert trigger.next_after(anchor + 45 * MINUTE) == anchor + 60 * MINUTE
    assert trigger.next_after(anchor + 60 * MINUTE) == anchor + 90 * MINUTE
    assert trigger.prev_before(anchor + 60 * MINUTE) == anchor + 30 * MINUTE
    assert trigger.prev_before(anchor + 30 * MINUTE) is None


def test_interval_is_exact_far_from_the_anchor() -> None:
    anchor = utc(2026, 1, 1)
    trigger = IntervalTrigger(7, anchor)
    after = utc(2036, 7, 4, 13, 37, 11, 123456)
    result = trigger.next_after(after)
    assert result is not None
    assert (result - anchor) % timedelta(seconds=7) == timedelta(0)
    assert after < result <= after + timedelta(seconds=7)


def test_fractional_interval() -> None:
    anchor = utc(2026, 1, 1)
    assert next_fire_times(IntervalTrigger(1.5, anchor), anchor, 3) == [
        anchor + timedelta(seconds=1.5),
        anchor + timedelta(seconds=3),
        anchor + timedelta(seconds=4.5),
    ]


@pytest.mark.parametrize(
    ("seconds", "message"),
    [
        (0.5, "interval of 500ms is too short: use 1s or more"),
        (0, "interval of 0s is too short: use 1s or more"),
        (-60, "interval of -1m is too short: use 1s or more"),
        (1e30, "is too long"),
    ],
)
def test_interval_must_be_at_least_a_second(seconds: float, message: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(message)):
        IntervalTrigger(seconds, utc(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("every 30m", 1800),
        ("30m", 1800),
        ("every 1h30m", 5400),
        ("every 90s", 90),
        ("Every 15 minutes", 900),
        ("  every 2h  ", 7200),
        ("every 1s", 1),
    ],
)
def test_parse_interval(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("every 500ms", "interval 'every 500ms' is too short: use 1s or more"),
        ("every 0s", "interval 'every 0s' is too short: use 1s or more"),
        ("every", "invalid interval 'every': use a duration like 'every 30m', 'every 1h30m'"),
        ("every banana", "invalid interval 'every banana': use a duration like"),
        ("", "invalid interval '': use a duration like"),
        ("every -5m", "invalid interval 'every -5m'"),
    ],
)
def test_parse_interval_errors(text: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(message)):
        parse_interval(text)


# --- once ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("2026-12-01T09:00", "UTC", utc(2026, 12, 1, 9)),
        ("2026-12-01 09:00:00+01:00", "UTC", utc(2026, 12, 1, 8)),
        ("2026-12-01T09:00Z", "UTC", utc(2026, 12, 1, 9)),
        ("2026-12-01T09:00", "Asia/Taipei", utc(2026, 12, 1, 1)),
        ("2026-12-01T09:00+01:00", "Asia/Taipei", utc(2026, 12, 1, 8)),  # offset wins
        ("2026-07-01T09:00", "Europe/Berlin", utc(2026, 7, 1, 7)),  # CEST
        ("2026-11-01T01:30", "America/New_York", utc(2026, 11, 1, 5, 30)),  # first 01:30
        ("  2026-12-01t09:00z ", "UTC", utc(2026, 12, 1, 9)),
    ],
)
def test_parse_once(text: str, zone: str, expected: datetime) -> None:
    result = parse_once(text, zone)
    assert result == expected
    assert result.tzinfo is UTC


def test_parse_once_rejects_a_wall_time_that_does_not_exist() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_once("2026-03-29T02:30", "Europe/Berlin")
    assert str(caught.value).startswith(
        "time '2026-03-29T02:30' does not exist in Europe/Berlin: clocks jump from 02:00 to 03:00"
    )


@pytest.mark.parametrize("text", ["tomorrow", "", "2026-13-01T09:00", "09:00"])
def test_parse_once_rejects_text_that_is_not_iso(text: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_once(text)
    assert str(caught.value) == (
        f"invalid time '{text}': use ISO 8601 like 2026-12-01T09:00 or 2026-12-01T09:00+01:00"
    )


def test_once_fires_only_while_ahead() -> None:
    trigger = OnceTrigger(utc(2026, 12, 1, 9))
    assert trigger.next_after(utc(2026, 12, 1, 8, 59)) == utc(2026, 12, 1, 9)
    assert trigger.next_after(utc(2026, 12, 1, 9)) is None
    assert trigger.prev_before(utc(2026, 12, 1, 9)) is None
    assert trigger.prev_before(utc(2026, 12, 1, 9, 0, 1)) == utc(2026, 12, 1, 9)


# --- build_trigger ---------------------------------------------------------------------------


def test_build_trigger_for_each_type() -> None:
    anchor = utc(2026, 1, 1)
    cron = build_trigger("cron", "0 9 * * *", "Asia/Taipei", anchor)
    assert isinstance(cron, CronTrigger) and cron.timezone == "Asia/Taipei"
    interval = build_trigger("interval", "every 30m", "UTC", anchor)
    assert isinstance(interval, IntervalTrigger)
    assert interval.next_after(anchor) == anchor + 30 * MINUTE
    once = build_trigger("once", "2026-12-01T09:00", "Asia/Taipei", anchor)
    assert isinstance(once, OnceTrigger) and once.at == utc(2026, 12, 1, 1)


def test_build_trigger_rejects_unknown_types_and_bad_expressions() -> None:
    with pytest.raises(ScheduleError) as caught:
        build_trigger("weekly", "x", "UTC", utc(2026, 1, 1))
    assert str(caught.value) == "unknown schedule type 'weekly': use cron, interval or once"
    with pytest.raises(ScheduleError, match="minute field '99'"):
        build_trigger("cron", "99 * * * *", "UTC", utc(2026, 1, 1))


# --- describe --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        ("0 9 * * *", "At 09:00 every day"),
        ("*/15 * * * *", "Every 15 minutes"),
        ("30 2 * * 1-5", "At 02:30 on Monday through Friday"),
        ("0 * * * *", "At minute 0 of every hour"),
        ("0 0 1 * *", "At 00:00 on day 1 of the month"),
        ("* * * * *", "Every minute"),
        ("0 9,17 * * *", "At 09:00 and 17:00 every day"),
        ("0 10 * * sat,sun", "At 10:00 on Saturday and Sunday"),
        ("0 9 * * mon,wed,fri", "At 09:00 on Monday, Wednesday and Friday"),
        ("0 8 1,15 * *", "At 08:00 on days 1 and 15 of the month"),
        ("0 */2 * * *", "Every 2 hours at minute 0"),
        ("*/15 9-17 * * 1-5", "Every 15 minutes from 09:00 to 17:59 on Monday through Friday"),
        ("0 9 * 1-3 *", "At 09:00 every day in January through March"),
        ("@yearly", "At 00:00 on day 1 of January"),
        ("@weekly", "At 00:00 on Sunday"),
        ("@daily", "At 00:00 every day"),
        ("@hourly", "At minute 0 of every hour"),
        ("0 0 13 * 5", "At 00:00 on day 13 of the month or on Friday"),
        ("*/10 * * * * *", "Every 10 seconds"),
        ("30 0 9 * * *", "At 09:00:30 every day"),
        ("7 3 */2 * 1-5", "Cron '7 3 */2 * 1-5'"),
        ("*/7 * * * *", "Cron '*/7 * * * *'"),
    ],
)
def test_cron_describe(expression: str, text: str) -> None:
    assert CronTrigger(expression).describe() == text


def test_describe_names_the_zone_when_not_utc() -> None:
    assert CronTrigger("0 9 * * *", "Asia/Taipei").describe() == "At 09:00 every day (Asia/Taipei)"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1800, "Every 30 minutes"),
        (5400, "Every 1h30m"),
        (3600, "Every hour"),
        (60, "Every minute"),
        (45, "Every 45 seconds"),
        (172800, "Every 2 days"),
        (90, "Every 1m30s"),
    ],
)
def test_interval_describe(seconds: float, text: str) -> None:
    assert IntervalTrigger(seconds, utc(2026, 1, 1)).describe() == text


def test_once_describe() -> None:
    assert OnceTrigger(utc(2026, 12, 1, 9)).describe() == "Once at 2026-12-01 09:00 UTC"
    taipei = build_trigger("once", "2026-12-01T09:00", "Asia/Taipei", utc(2026, 1, 1))
    assert taipei.describe() == "Once at 2026-12-01 09:00 (Asia/Taipei)"
