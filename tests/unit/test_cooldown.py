"""Usage-limit detection: every form claude-cli.md lists, with reset times checked exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cnp_tui.core.cooldown import (
    is_transient_error,
    is_usage_warning,
    limit_from_event,
    limit_from_text,
)

# Tuesday 2026-03-10 12:00 UTC = 13:00 in Berlin (CET), 09:00 in Santiago, 21:00 in Tokyo.
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- text forms -----------------------------------------------------------------------------------


def test_epoch_bar_gives_the_exact_reset() -> None:
    limit = limit_from_text("Claude AI usage limit reached|1749924000", NOW, BERLIN)
    assert limit is not None
    assert limit.reset_at == datetime.fromtimestamp(1749924000, UTC)
    assert limit.source == "text"
    assert limit.message == "Claude AI usage limit reached|1749924000"


def test_reset_at_with_zone_in_parentheses() -> None:
    text = "Claude usage limit reached. Your limit will reset at 3pm (America/Santiago)."
    limit = limit_from_text(text, NOW, BERLIN)
    assert limit is not None
    # Santiago is UTC-3 in March: 15:00 there is 18:00 UTC, later today.
    assert limit.reset_at == utc(2026, 3, 10, 18, 0)


@pytest.mark.parametrize("bullet", ["∙", "•", "·"])
def test_five_hour_limit_with_past_local_time_means_tomorrow(bullet: str) -> None:
    limit = limit_from_text(f"5-hour limit reached {bullet} resets 1am", NOW, BERLIN)
    assert limit is not None
    # 1am Berlin has passed (it is 13:00 there): tomorrow 01:00 CET = 00:00 UTC.
    assert limit.reset_at == utc(2026, 3, 11, 0, 0)
    assert limit.limit_type == "five_hour"


def test_minutes_and_midnight_hour() -> None:
    limit = limit_from_text("5-hour limit reached ∙ resets 12:30am", NOW, BERLIN)
    assert limit is not None
    assert limit.reset_at == utc(2026, 3, 10, 23, 30)  # 00:30 CET tomorrow


def test_future_local_time_is_today() -> None:
    limit = limit_from_text("5-hour limit reached ∙ resets 4pm", NOW, BERLIN)
    assert limit is not None
    assert limit.reset_at == utc(2026, 3, 10, 15, 0)
    assert limit.suspicious is False


def test_five_hour_limit_resetting_far_away_is_suspicious() -> None:
    limit = limit_from_text("5-hour limit reached ∙ resets 1am", NOW, BERLIN)
    assert limit is not None
    assert limit.suspicious is True  # 12 h away, a five-hour window cannot do that


def test_hit_your_limit_with_zone() -> None:
    limit = limit_from_text("You've hit your limit · resets 1pm (Europe/Lisbon)", NOW, BERLIN)
    assert limit is not None
    assert limit.reset_at == utc(2026, 3, 10, 13, 0)  # Lisbon is on UTC in March
    assert limit.limit_type is None
    assert limit.suspicious is False


def test_session_limit_is_the_five_hour_window() -> None:
    now = utc(2026, 3, 10, 4, 0)  # 13:00 in Tokyo
    text = "You've hit your session limit · resets 3:50pm (Asia/Tokyo)"
    limit = limit_from_text(text, now, BERLIN)
    assert limit is not None
    assert limit.reset_at == utc(2026, 3, 10, 6, 50)
    assert limit.limit_type == "five_hour"


def test_zone_time_already_past_in_that_zone_means_tomorrow_there() -> None:
    text = "You've hit your session limit · resets 3:50pm (Asia/Tokyo)"
    limit = limit_from_text(text, NOW, BERLIN)  # 21:00 in Tokyo
    assert limit is not None
    assert limit.reset_at == utc(2026, 3, 11, 6, 50)


def test_curly_apostrophe_is_accepted() -> None:
    limit = limit_from_text("You’ve hit your limit · resets 1pm (Europe/Lisbon)", NOW, BERLIN)
    assert limit is not None
    assert limit.reset_at == utc(2026, 3, 10, 13, 0)


def test_tomorrow_keeps_the_wall_clock_time_across_a_dst_change() -> None:
    now = utc(2026, 3, 28, 20, 0)  # Berlin switches to CEST (UTC+2) on 29 March
    limit = limit_from_text("5-hour limit reached ∙ resets 1pm", now, BERLIN)
    assert limit is not None
    assert limit.reset_at == utc(2026, 3, 29, 11, 0)


def test_reset_a_few_minutes_past_is_the_current_window_not_tomorrow() -> None:
    # The CLI rounds to the minute; "resets 12pm" read at 12:02 means it is resetting now.
    now = NOW + timedelta(minutes=2)
    limit = limit_from_text("You've hit your limit · resets 12pm (UTC)", now, BERLIN)
    assert limit is not None
    assert limit.reset_at == utc(2026, 3, 10, 12, 0)


def test_unknown_zone_abbreviation_falls_back_to_local_time() -> None:
    limit = limit_from_text("You've hit your limit · resets 4pm (PST)", NOW, BERLIN)
    assert limit is not None
    assert limit.reset_at == utc(2026, 3, 10, 15, 0)


def test_weekly_limit_with_a_date() -> None:
    text = "You've hit your weekly limit · resets Mar 12, 9am (UTC)"
    limit = limit_from_text(text, NOW, BERLIN)
    assert limit is not None
    assert limit.reset_at == utc(2026, 3, 12, 9, 0)
    assert limit.limit_type == "seven_day"
    assert limit.suspicious is False


@pytest.mark.parametrize(
    "text",
    [
        "API Error: Rate limit reached",
        '{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests '
        'has exceeded your rate limit"}}',
    ],
)
def test_rate_limit_without_a_time_has_no_reset(text: str) -> None:
    limit = limit_from_text(text, NOW, BERLIN)
    assert limit is not None
    assert limit.reset_at is None
    assert limit.suspicious is False


@pytest.mark.parametrize(
    "text",
    [
        "Approaching usage limit · resets at 12pm",
        'API Error: 529 {"type":"error","error":{"type":"overloaded_error",'
        '"message":"Overloaded"}}',
        "API Error: 500 Internal server error",
        "Refactored the limit handling; all tests pass.",
        "",
    ],
)
def test_not_a_limit(text: str) -> None:
    assert limit_from_text(text, NOW, BERLIN) is None


def test_long_message_is_trimmed() -> None:
    text = "API Error: Rate limit reached " + "x" * 2000
    limit = limit_from_text(text, NOW, BERLIN)
    assert limit is not None
    assert len(limit.message) <= 300
    assert limit.message.startswith("API Error: Rate limit reached")


def test_usage_warning() -> None:
    assert is_usage_warning("Approaching usage limit · resets at 12pm")
    assert is_usage_warning("Approaching Opus usage limit")
    assert not is_usage_warning("You've hit your limit · resets 1pm (Europe/Lisbon)")
    assert not is_usage_warning("5-hour limit reached ∙ resets 1am")


@pytest.mark.parametrize(
    ("text", "status", "expected"),
    [
        (None, 529, True),
        (None, 500, True),
        (None, 502, True),
        (None, 503, True),
        (None, 504, True),
        ('{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', None, True),
        ("Overloaded", None, True),
        ("assistant error: server_error", None, True),
        ("API Error: 503 Service Unavailable", None, True),
        (None, 429, False),
        ("API Error: Rate limit reached", None, False),
        (None, 401, False),
        ("error: unknown option '--foo'", None, False),
        (None, None, False),
    ],
)
def test_transient_errors(text: str | None, status: int | None, expected: bool) -> None:
    assert is_transient_error(text, status) is expected


# -- events -----------------------------------------------------------------------------------


def rate_limit_event(status: str, resets_at: int, kind: str = "five_hour") -> dict:
    return {
        "type": "rate_limit_event",
        "rate_limit_info": {"status": status, "resetsAt": resets_at, "rateLimitType": kind},
    }


def test_rejected_rate_limit_event_gives_the_exact_reset() -> None:
    resets_at = int((NOW + timedelta(hours=2)).timestamp())
    limit = limit_from_event(rate_limit_event("rejected", resets_at), NOW)
    assert limit is not None
    assert limit.reset_at == NOW + timedelta(hours=2)
    assert limit.source == "rate_limit_event"
    assert limit.limit_type == "five_hour"
    assert limit.suspicious is False


def test_unknown_rate_limit_type_is_accepted() -> None:
    resets_at = int((NOW + timedelta(days=2)).timestamp())
    limit = limit_from_event(rate_limit_event("rejected", resets_at, "seven_day_sonnet"), NOW)
    assert limit is not None
    assert limit.limit_type == "seven_day_sonnet"
    assert limit.suspicious is False


def test_five_hour_event_resetting_in_ten_hours_is_suspicious() -> None:
    resets_at = int((NOW + timedelta(hours=10)).timestamp())
    limit = limit_from_event(rate_limit_event("rejected", resets_at), NOW)
    assert limit is not None
    assert limit.suspicious is True


@pytest.mark.parametrize("status", ["allowed", "allowed_warning"])
def test_allowed_rate_limit_events_are_not_limits(status: str) -> None:
    assert limit_from_event(rate_limit_event(status, 1764300000), NOW) is None


def test_assistant_rate_limit_error_reads_the_reset_from_its_text() -> None:
    event = {
        "type": "assistant",
        "error": "rate_limit",
        "message": {
            "model": "<synthetic>",
            "content": [{"type": "text", "text": "You've hit your limit · resets 1pm (UTC)"}],
        },
    }
    limit = limit_from_event(event, NOW, BERLIN)
    assert limit is not None
    assert limit.source == "api_error"
    assert limit.reset_at == utc(2026, 3, 10, 13, 0)


def test_result_429_is_a_limit_even_with_subtype_success() -> None:
    event = {
        "type": "result",
        "subtype": "success",
        "is_error": True,
        "api_error_status": 429,
        "result": "You've hit your limit · resets 1pm (Europe/Lisbon)",
    }
    limit = limit_from_event(event, NOW, BERLIN)
    assert limit is not None
    assert limit.source == "api_error"
    assert limit.reset_at == utc(2026, 3, 10, 13, 0)


def test_result_429_without_a_time() -> None:
    event = {"type": "result", "is_error": True, "api_error_status": 429, "result": None}
    limit = limit_from_event(event, NOW, BERLIN)
    assert limit is not None
    assert limit.reset_at is None


def test_error_result_carrying_the_bar_text_is_a_limit() -> None:
    event = {
        "type": "result",
        "subtype": "success",
        "is_error": True,
        "api_error_status": None,
        "result": "Claude AI usage limit reached|1749924000",
    }
    limit = limit_from_event(event, NOW, BERLIN)
    assert limit is not None
    assert limit.reset_at == datetime.fromtimestamp(1749924000, UTC)


@pytest.mark.parametrize(
    "event",
    [
        {"type": "result", "is_error": True, "api_error_status": 529, "result": "Overloaded"},
        {"type": "result", "is_error": False, "result": "The usage limit reached 80% today."},
        {
            "type": "assistant",
            "message": {"content": [{"type": "text", "text": "API Error: Rate limit reached"}]},
        },
        {"type": "system", "subtype": "init"},
        {"type": "rate_limit_event"},
    ],
)
def test_events_that_are_not_limits(event: dict) -> None:
    assert limit_from_event(event, NOW, BERLIN) is None
