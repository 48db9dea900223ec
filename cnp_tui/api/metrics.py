"""Prometheus metrics in the text exposition format (0.0.4), written by hand: no client
library is needed at run time for a dozen series.

Counters and the duration histogram count what this engine process saw on the bus since it
started (the Prometheus way: ``rate()`` copes with restarts); gauges are read when scraped.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable

from cnp_tui.core.bus import EventBus
from cnp_tui.core.events import Event, ExecutionFinished
from cnp_tui.service import Status

DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)

NotificationBacklog = Callable[[], Awaitable[int]]
"""Hook for the notification service (another issue): returns the undelivered outbox rows.
Until it is set, ``cnp_notification_backlog`` is not exported (no made-up zero)."""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Metrics:
    """Collects execution outcomes from the bus; renders everything on scrape."""

    def __init__(self, bus: EventBus, *, started: float | None = None) -> None:
        self.started = time.monotonic() if started is None else started
        self.executions: dict[tuple[str, str], int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self.notification_backlog: NotificationBacklog | None = None
        self.unsubscribe = bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if not isinstance(event, ExecutionFinished):
            return
        execution = event.execution
        self.executions[(execution.job_id, execution.status.value)] += 1
        if execution.execution_time_ms is None:
            return
        seconds = execution.execution_time_ms / 1000
        counts = self.buckets.setdefault(execution.job_id, [0] * len(DURATION_BUCKETS))
        for index, bound in enumerate(DURATION_BUCKETS):
            if seconds <= bound:
                counts[index] += 1
        self.sums[execution.job_id] += seconds
        self.counts[execution.job_id] += 1

    async def render(self, status: Status, job_names: dict[str, str]) -> str:
        """The whole exposition: one HELP/TYPE block per metric family."""
        out: list[str] = []

        def family(name: str, kind: str, text: str, samples: Iterable[str]) -> None:
            out.append(f"# HELP {name} {text}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(samples)

        def sample(name: str, value: float, **labels: str) -> str:
            return f"{name}{_labels(labels)} {_number(value)}"

        family(
            "cnp_executions_total",
            "counter",
            "Executions finished by this engine since it started, by job and status.",
            [
                sample("cnp_executions_total", n, job_id=job, job=job_names.get(job, ""), status=s)
                for (job, s), n in sorted(self.executions.items())
            ],
        )
        histogram = []
        for job, counts in sorted(self.buckets.items()):
            name = job_names.get(job, "")
            for bound, n in zip(DURATION_BUCKETS, counts, strict=True):
                histogram.append(
                    sample(
                        "cnp_execution_duration_seconds_bucket",
                        n,
                        job_id=job,
                        job=name,
                        le=_number(bound),
                    )
                )
            histogram.append(
                sample(
                    "cnp_execution_duration_seconds_bucket",
                    self.counts[job],
                    job_id=job,
                    job=name,
                    le="+Inf",
                )
            )
            histogram.append(
                sample("cnp_execution_duration_seconds_sum", self.sums[job], job_id=job, job=name)
            )
            histogram.append(
                sample(
                    "cnp_execution_duration_seconds_count", self.counts[job], job_id=job, job=name
                )
            )
        family(
            "cnp_execution_duration_seconds",
            "histogram",
            "Duration of finished executions.",
            histogram,
        )
        family(
            "cnp_queue_depth",
            "gauge",
            "Executions queued (due, waiting for a slot or the cooldown).",
            [sample("cnp_queue_depth", status.queued)],
        )
        family(
            "cnp_running_executions",
            "gauge",
            "Executions running now.",
            [sample("cnp_running_executions", status.running)],
        )
        family(
            "cnp_jobs",
            "gauge",
            "Jobs by status.",
            [sample("cnp_jobs", n, status=s) for s, n in sorted(status.jobs.items())],
        )
        family(
            "cnp_cooldown_active",
            "gauge",
            "1 while Claude's usage limit holds dispatch back.",
            [sample("cnp_cooldown_active", 1 if status.cooldown else 0)],
        )
        family(
            "cnp_cooldown_seconds_left",
            "gauge",
            "Seconds until the usage limit resets (0 without a cooldown).",
            [sample("cnp_cooldown_seconds_left", status.cooldown_seconds_left or 0.0)],
        )
        family(
            "cnp_engine_uptime_seconds",
            "gauge",
            "Seconds since this engine process started serving.",
            [sample("cnp_engine_uptime_seconds", round(time.monotonic() - self.started, 3))],
        )
        if self.notification_backlog is not None:
            family(
                "cnp_notification_backlog",
                "gauge",
                "Notifications waiting in the outbox.",
                [sample("cnp_notification_backlog", await self.notification_backlog())],
            )
        return "\n".join(out) + "\n"
