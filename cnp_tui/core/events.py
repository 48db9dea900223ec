"""Frozen, past-tense events that the engine publishes on the bus.

The dashboard, followers and (later) notifications and the WebSocket subscribe to these; nothing
subscribes to internal state directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cnp_tui.core.models import Cooldown, Execution, Job, LogLine


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all events."""


@dataclass(frozen=True, slots=True)
class EngineStarted(Event):
    owner: str
    pid: int
    host: str


@dataclass(frozen=True, slots=True)
class EngineStopped(Event):
    owner: str


@dataclass(frozen=True, slots=True)
class JobChanged(Event):
    """A job was created, updated, paused, resumed or completed (``job`` is the new state)."""

    job: Job


@dataclass(frozen=True, slots=True)
class JobDeleted(Event):
    job_id: str


@dataclass(frozen=True, slots=True)
class ExecutionQueued(Event):
    execution: Execution


@dataclass(frozen=True, slots=True)
class ExecutionStarted(Event):
    execution: Execution


@dataclass(frozen=True, slots=True)
class LogLinesAppended(Event):
    execution_id: str
    lines: tuple[LogLine, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class ExecutionFinished(Event):
    execution: Execution
    retry: Execution | None = None


@dataclass(frozen=True, slots=True)
class ExecutionRequeued(Event):
    """An execution hit Claude's usage limit and waits for the reset; no attempt was used."""

    execution: Execution


@dataclass(frozen=True, slots=True)
class CooldownStarted(Event):
    cooldown: Cooldown


@dataclass(frozen=True, slots=True)
class CooldownEnded(Event):
    at: datetime


# --- notifications (cnp_tui/notify) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotificationDelivered(Event):
    """A notification row changed state after a delivery attempt (sent, retrying, failed)."""

    notification_id: int
    execution_id: str | None
    channel: str
    status: str
    attempts: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SystemNotification(Event):
    """A notification for the ``system`` channel: the dashboard shows it as a toast."""

    event: str
    subject: str
    body: str
    job_id: str | None = None
