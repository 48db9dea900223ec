"""Helpers of the dashboard tests: an app on a real home, bounded waits driven through Pilot."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from textual.pilot import Pilot

from cnp_tui.config import Settings
from cnp_tui.core.clock import ManualClock
from cnp_tui.core.models import (
    Execution,
    ExecutionStatus,
    ExecutionTrigger,
    Job,
    LogLine,
    Prompt,
    ResourceUsage,
    TokenUsage,
)
from cnp_tui.paths import Paths
from cnp_tui.service import JobService
from cnp_tui.store.sqlite import SqliteStore

FROZEN = datetime(2026, 3, 2, 8, 59, 30, tzinfo=UTC)


async def wait_for(
    pilot: Pilot[Any],
    probe: Callable[[], Any] | Callable[[], Awaitable[Any]],
    what: str,
    within: float = 20.0,
) -> Any:
    """Let the app run until ``probe`` is truthy; fail with ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if hasattr(value, "__await__"):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await pilot.pause(0.05)


async def seed_fixed(paths: Paths, settings: Settings, clock: ManualClock) -> None:
    """A home whose every id and time is fixed, for snapshots that never change between runs."""
    async with SqliteStore(paths.database) as store:
        service = JobService(store, settings, clock=clock)
        for prompt_id, title in [("daily-report", "Daily report"), ("code-review", "Code review")]:
            await store.add_prompt(
                Prompt(
                    id=prompt_id,
                    title=title,
                    content=f"{title}: summarise what changed.\n@sim lines=3",
                    created_at=FROZEN,
                    updated_at=FROZEN,
                )
            )
        specs: list[dict[str, Any]] = [
            {
                "id": "job000000001",
                "name": "daily-report",
                "prompt_id": "daily-report",
                "schedule": {"type": "cron", "expression": "0 9 * * *"},
                "priority": 8,
                "tags": ["report"],
            },
            {
                "id": "job000000002",
                "name": "code-review",
                "prompt_id": "code-review",
                "schedule": {"type": "interval", "expression": "every 30m"},
                "tags": ["review", "ci"],
            },
            {
                "id": "job000000003",
                "name": "weekly-audit",
                "prompt_id": "code-review",
                "schedule": {
                    "type": "cron",
                    "expression": "30 7 * * 1",
                    "timezone": "Asia/Taipei",
                },
                "priority": 3,
                "status": "paused",
            },
        ]
        for spec in specs:
            job = Job.model_validate({**spec, "created_at": FROZEN, "updated_at": FROZEN})
            if job.status.value == "active":
                job.next_run_time = service._next_run(job, FROZEN)
            job.execution_count, job.failure_count = 4, 1
            job.success_rate, job.avg_execution_time_ms = 0.75, 4200.0
            job.last_status = ExecutionStatus.COMPLETED if job.priority == 8 else None
            await store.add_job(job)
        outcomes = [
            ExecutionStatus.COMPLETED,
            ExecutionStatus.COMPLETED,
            ExecutionStatus.FAILED,
            ExecutionStatus.COMPLETED,
        ]
        for index, outcome in enumerate(outcomes):
            started = FROZEN - timedelta(days=4 - index)
            execution = Execution(
                id=f"exec0000000{index}",
                job_id="job000000001",
                status=outcome,
                trigger=ExecutionTrigger.SCHEDULE,
                scheduled_for=started,
                queued_at=started,
                started_at=started,
                completed_at=started + timedelta(seconds=3 + index),
                execution_time_ms=(3 + index) * 1000,
                exit_code=0 if outcome is ExecutionStatus.COMPLETED else 1,
                output="Report written." if outcome is ExecutionStatus.COMPLETED else None,
                error=None if outcome is ExecutionStatus.COMPLETED else "claude reported an error",
                session_id=f"session-{index}",
                cost_usd=0.0123,
                usage=TokenUsage(input_tokens=1200, output_tokens=340),
                num_turns=3,
                resource_usage=ResourceUsage(peak_rss_mb=42.0, cpu_seconds=1.5, samples=3),
                log_lines=4,
            )
            await store.add_execution(execution)
            store.append_logs(
                [
                    LogLine(
                        execution_id=execution.id,
                        seq=seq,
                        ts=started + timedelta(seconds=seq),
                        stream=stream,
                        text=text,
                    )
                    for seq, (stream, text) in enumerate(
                        [
                            ("system", "session started (model claude-sonnet)"),
                            ("assistant", "Reading the merged pull requests."),
                            ("tool", "Bash: git log --since=yesterday"),
                            ("stderr", "warning: shallow clone"),
                        ],
                        1,
                    )
                ]
            )
        await store.flush()


def screen_text(app: Any) -> str:
    """The text the terminal shows now (from the app's own SVG export), one line per row."""
    import html
    import re

    svg = app.export_screenshot()
    rows: dict[int, list[tuple[float, str]]] = {}
    pattern = r'<text[^>]* x="([\d.]+)"[^>]*clip-path="url\(#[\w-]+?-line-(\d+)\)">([^<]*)</text>'
    for match in re.finditer(pattern, svg):
        rows.setdefault(int(match.group(2)), []).append(
            (float(match.group(1)), html.unescape(match.group(3)).replace("\xa0", " "))
        )
    return "\n".join("".join(t for _, t in sorted(rows[n])) for n in sorted(rows))
