"""Plain-text formatting shared by the screens: countdowns, durations, times, rates."""

from __future__ import annotations

from datetime import datetime, tzinfo

from cnp_tui.core.models import ExecutionStatus, Job


def countdown(seconds: float | None) -> str:
    """``42s``, ``3m05s``, ``2h10m``, ``3d04h``; ``due`` when the time has come."""
    if seconds is None:
        return "-"
    if seconds <= 0:
        return "due"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def duration_ms(value: float | None) -> str:
    if value is None:
        return "-"
    seconds = value / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    return countdown(seconds)


def when(value: datetime | None, zone: tzinfo | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def rate(job: Job) -> str:
    return "-" if job.success_rate is None else f"{100 * job.success_rate:.0f}%"


def status_word(job: Job, running: bool) -> str:
    """The job's state as the list shows it: running wins over active."""
    if running:
        return "running"
    return job.status.value


LAST_MARK = {
    ExecutionStatus.COMPLETED: "ok",
    ExecutionStatus.FAILED: "failed",
    ExecutionStatus.TIMED_OUT: "timeout",
    ExecutionStatus.CANCELLED: "cancelled",
    ExecutionStatus.INTERRUPTED: "interrupted",
    ExecutionStatus.RUNNING: "running",
    ExecutionStatus.QUEUED: "queued",
}


def status_class(status: str) -> str:
    """The CSS-ish style name of a status, looked up in the theme by the widgets."""
    return {
        "ok": "success",
        "completed": "success",
        "active": "success",
        "running": "accent",
        "queued": "secondary",
        "paused": "muted",
        "failed": "error",
        "timeout": "error",
        "timed_out": "error",
        "interrupted": "warning",
        "cancelled": "warning",
    }.get(status, "")
