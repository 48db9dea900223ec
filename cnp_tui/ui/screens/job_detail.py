"""One job: configuration, statistics, recent durations and outcomes, next fire times, runs."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Sparkline, Static

from cnp_tui.core.models import Execution, ExecutionStatus, Job, JobStatus
from cnp_tui.core.schedule import next_fire_times
from cnp_tui.errors import CnpError
from cnp_tui.ui.format import LAST_MARK, countdown, duration_ms, rate, status_class, when
from cnp_tui.ui.palette import style_of
from cnp_tui.ui.screens.base import CnpScreen
from cnp_tui.ui.screens.jobs import (
    confirm_cancel,
    confirm_delete,
    edit,
    execute,
    open_latest_log,
    pause_or_resume,
)

RECENT = 30


def execution_row(execution: Execution, screen: CnpScreen) -> list[Text | str]:
    """One execution as the history tables show it."""
    mark = LAST_MARK.get(execution.status, execution.status.value)
    return [
        when(execution.started_at or execution.scheduled_for, screen.cnp.zone),
        Text(mark, style=style_of(screen.app, status_class(mark))),
        execution.trigger.value,
        str(execution.attempt),
        duration_ms(execution.execution_time_ms),
        (execution.error or execution.output or "").replace("\n", " ")[:80],
    ]


class JobDetailScreen(CnpScreen):
    """Everything about one job."""

    SUB_TITLE = "job"
    BINDINGS: ClassVar = [
        Binding("escape", "back", "Back", id="detail.back"),
        Binding("enter", "open_execution", "Open run", show=False, id="detail.open"),
        Binding("e", "edit", "Edit", id="detail.edit"),
        Binding("x", "execute", "Run now", id="detail.execute"),
        Binding("p", "pause", "Pause/resume", id="detail.pause"),
        Binding("d", "delete", "Delete", id="detail.delete"),
        Binding("c", "cancel", "Cancel run", id="detail.cancel"),
        Binding("h", "history", "History", id="detail.history"),
        Binding("l", "log", "Log", id="detail.log"),
    ]

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.job: Job | None = None
        self.executions: list[Execution] = []

    def body(self) -> ComposeResult:
        with Horizontal(id="detail-top"):
            yield Static(id="config")
            with Vertical(id="stats-box"):
                yield Static(id="stats")
                yield Label("durations", classes="caption")
                yield Sparkline([], id="durations")
                yield Static(id="outcomes")
                yield Static(id="upcoming")
        table: DataTable[Text | str] = DataTable(id="runs", cursor_type="row")
        table.add_columns("Started", "Result", "Trigger", "Try", "Took", "Note")
        yield table

    async def reload(self) -> None:
        try:
            self.job = await self.service.get_job(self.job_id)
        except CnpError:
            self.notify("this job was deleted", severity="warning")
            self.dismiss()
            return
        self.executions = await self.service.history(self.job_id, last=RECENT)
        self._show()

    def tick(self) -> None:
        if self.job is not None:
            self._show_stats()

    def _show(self) -> None:
        job = self.job
        assert job is not None
        tz = self.cnp.settings.scheduler.timezone
        options, retry = job.execution_options, job.retry_config
        config = Table.grid(padding=(0, 1))
        config.add_column(style="bold", no_wrap=True)
        config.add_column()
        for key, value in [
            ("name", job.name),
            ("id", job.id),
            ("status", job.status.value),
            ("prompt", job.prompt_id),
            ("schedule", f"{job.schedule.type.value} {job.schedule.expression}"),
            ("meaning", job.schedule.describe(tz)),
            ("priority", str(job.priority)),
            ("timeout", f"{options.timeout_seconds:g}s" if options.timeout_seconds else "default"),
            ("parallel", str(options.max_parallel)),
            ("workdir", options.working_directory or "-"),
            (
                "retry",
                f"{retry.max_attempts} attempts, {retry.strategy.value}, "
                f"first {retry.initial_interval:g}s",
            ),
            ("catch-up", job.catch_up.value),
            ("tags", ", ".join(job.tags) or "-"),
        ]:
            config.add_row(key, value)
        self.query_one("#config", Static).update(config)
        self._show_stats()
        finished = [e for e in reversed(self.executions) if e.status.finished]
        durations = [float(e.execution_time_ms or 0) for e in finished]
        self.query_one("#durations", Sparkline).data = durations or [0.0]
        bar = Text("outcomes ")
        for execution in finished[-24:]:
            ok = execution.status is ExecutionStatus.COMPLETED
            bar.append("█" if ok else "▇", style=style_of(self.app, "success" if ok else "error"))
        self.query_one("#outcomes", Static).update(bar)
        table = self.query_one("#runs", DataTable)
        cursor = table.cursor_row
        table.clear()
        for execution in self.executions:
            table.add_row(*execution_row(execution, self), key=execution.id)
        if self.executions:
            table.move_cursor(row=min(cursor, len(self.executions) - 1), animate=False)

    def _show_stats(self) -> None:
        job = self.job
        assert job is not None
        now = self.cnp.clock.now()
        tz = self.cnp.settings.scheduler.timezone
        last = LAST_MARK.get(job.last_status, "-") if job.last_status else "-"
        stats = Text()
        stats.append(f"runs {job.execution_count}  failed {job.failure_count}  ")
        stats.append(f"success {rate(job)}  avg {duration_ms(job.avg_execution_time_ms)}\n")
        stats.append("last ")
        stats.append(last, style=style_of(self.app, status_class(last)))
        stats.append(f" {when(job.last_run_time, self.cnp.zone)}")
        self.query_one("#stats", Static).update(stats)
        upcoming = Text("next runs\n", style="bold")
        if job.status is JobStatus.ACTIVE:
            trigger = job.schedule.trigger(job.created_at, tz)
            times = next_fire_times(trigger, now, 5)
            if job.next_run_time is not None and (not times or job.next_run_time < times[0]):
                times = [job.next_run_time, *times][:5]
            for moment in times:
                left = countdown((moment - now).total_seconds())
                upcoming.append(f"{when(moment, self.cnp.zone)}  in {left}\n", style="")
            if not times:
                upcoming.append("none\n")
        else:
            upcoming.append(f"none ({job.status.value})\n")
        self.query_one("#upcoming", Static).update(upcoming)

    # --- actions ---------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss()

    @on(DataTable.RowSelected, "#runs")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_execution()

    def action_open_execution(self) -> None:
        from cnp_tui.ui.screens.execution import ExecutionScreen

        table = self.query_one("#runs", DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if key:
                self.app.push_screen(ExecutionScreen(key))

    async def action_edit(self) -> None:
        if self.job is not None:
            await edit(self, self.job)

    async def action_execute(self) -> None:
        if self.job is not None:
            await execute(self, self.job)

    async def action_pause(self) -> None:
        if self.job is not None:
            await pause_or_resume(self, self.job)

    def action_delete(self) -> None:
        if self.job is not None:
            confirm_delete(self, self.job, then_back=True)

    def action_cancel(self) -> None:
        confirm_cancel(self, self.job_id, None)

    def action_history(self) -> None:
        from cnp_tui.ui.screens.history import HistoryScreen

        self.app.push_screen(HistoryScreen(self.job_id))

    async def action_log(self) -> None:
        if self.job is not None:
            await open_latest_log(self, self.job)
