"""The home screen: every job in a dense, live, sortable, filterable table.

Columns collapse by priority when the pane is narrow (80x24 keeps name, status, next, last and
the schedule). With thousands of jobs a reload only rewrites cells whose text changed, and the
next-run countdowns tick for the visible rows only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input

from cnp_tui.core.models import ExecutionStatus, Job, JobStatus
from cnp_tui.ui.format import LAST_MARK, countdown, duration_ms, rate, status_class
from cnp_tui.ui.palette import style_of
from cnp_tui.ui.screens.base import CnpScreen


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    priority: int  # lower survives longer when the pane narrows


COLUMNS = [
    Column("name", "Name", 14, 0),
    Column("status", "Status", 9, 0),
    Column("next", "Next", 8, 0),
    Column("last", "Last", 11, 1),
    Column("schedule", "Schedule", 22, 2),
    Column("rate", "Rate", 5, 3),
    Column("avg", "Avg", 7, 4),
    Column("priority", "Pri", 3, 5),
    Column("tags", "Tags", 14, 6),
]
SORTS = ["next", "name", "status", "priority", "last", "rate"]


def visible_columns(width: int) -> list[Column]:
    """The columns that fit ``width`` cells, dropping the least important first."""
    chosen = list(COLUMNS)
    while len(chosen) > 3 and sum(c.width + 2 for c in chosen) + 2 > width:
        chosen.remove(max(chosen, key=lambda c: c.priority))
    return chosen


class JobListScreen(CnpScreen):
    """Jobs: what runs, what failed, what is next."""

    SUB_TITLE = "jobs"
    BINDINGS: ClassVar = [
        Binding("enter", "open", "Open", id="job.open"),
        Binding("n", "new", "New", id="job.new"),
        Binding("e", "edit", "Edit", id="job.edit"),
        Binding("x", "execute", "Run now", id="job.execute"),
        Binding("p", "pause", "Pause/resume", id="job.pause"),
        Binding("d", "delete", "Delete", id="job.delete"),
        Binding("c", "cancel", "Cancel run", show=False, id="job.cancel"),
        Binding("h", "history", "History", id="job.history"),
        Binding("l", "log", "Log", id="job.log"),
        Binding("slash", "filter", "Filter", key_display="/", id="job.filter"),
        Binding("s", "sort", "Sort", show=False, id="job.sort"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="job.clear_filter"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, Job] = {}
        self.running: dict[str, str] = {}  # job id -> a running execution id
        self.order: list[str] = []
        self.cells: dict[str, dict[str, Text | str]] = {}
        self.columns: list[Column] = []
        self.sort_key = "next"
        self.filter_text = ""
        self._reload_cost = 0.0
        self._last_reload = 0.0

    def body(self) -> ComposeResult:
        table: DataTable[Text | str] = DataTable(id="jobs", cursor_type="row", zebra_stripes=True)
        yield table
        yield Input(placeholder="filter: name, tag or status", id="filter", classes="hidden")

    def on_mount(self) -> None:
        self._set_columns(self.size.width or 80)

    @property
    def table(self) -> DataTable[Text | str]:
        return self.query_one("#jobs", DataTable)

    # --- data ------------------------------------------------------------------------------

    async def reload(self) -> None:
        # With many jobs a reload is costly: keep it under ~20% of the time.
        if time.monotonic() - self._last_reload < 4 * self._reload_cost:
            self.cnp.mark_dirty()
            self.tick()
            return
        started = time.monotonic()
        jobs = await self.service.list_jobs()
        running = await self.service.store.list_executions(
            status=[ExecutionStatus.RUNNING], limit=None
        )
        self.jobs = {job.id: job for job in jobs}
        self.running = {e.job_id: e.id for e in running}
        self._render_rows()
        self._last_reload = time.monotonic()
        self._reload_cost = self._last_reload - started

    def tick(self) -> None:
        """Advance the next-run countdowns of the rows on screen."""
        table = self.table
        if "next" not in {c.key for c in self.columns} or not self.order:
            return
        top = int(table.scroll_offset.y)
        now = self.cnp.clock.now()
        for row in range(top, min(len(self.order), top + table.size.height + 1)):
            job_id = self.order[row]
            text = self._next_text(self.jobs[job_id], now)
            if self.cells.get(job_id, {}).get("next") != text:
                self.cells.setdefault(job_id, {})["next"] = text
                table.update_cell(job_id, "next", text)

    def _next_text(self, job: Job, now: datetime) -> str:
        if job.id in self.running:
            return "live"
        if job.next_run_time is None:
            return "-"
        return countdown((job.next_run_time - now).total_seconds())

    def _cells(self, job: Job, now: datetime) -> dict[str, Text | str]:
        running = job.id in self.running
        status = "running" if running else job.status.value
        last = LAST_MARK.get(job.last_status, "-") if job.last_status else "-"
        paused = job.status is JobStatus.PAUSED

        def styled(value: str, kind: str = "") -> Text:
            name = "foreground-muted" if paused else status_class(kind)
            return Text(value, style=style_of(self.app, name), no_wrap=True, overflow="ellipsis")

        tz = self.cnp.settings.scheduler.timezone
        return {
            "name": styled(("▶ " if running else "") + job.name, "running" if running else ""),
            "status": styled(status, status),
            "next": self._next_text(job, now),
            "last": styled(last, last),
            "schedule": styled(job.schedule.describe(tz)),
            "rate": styled(rate(job)),
            "avg": styled(duration_ms(job.avg_execution_time_ms)),
            "priority": styled(str(job.priority)),
            "tags": styled(",".join(job.tags)),
        }

    def _sorted_ids(self) -> list[str]:
        needle = self.filter_text.lower()
        jobs = [
            job
            for job in self.jobs.values()
            if not needle
            or needle in job.name.lower()
            or any(needle in tag.lower() for tag in job.tags)
            or needle == job.status.value
            or (needle == "running" and job.id in self.running)
        ]
        far = datetime.max.replace(tzinfo=self.cnp.clock.now().tzinfo)
        keys = {
            "next": lambda j: (j.id not in self.running, j.next_run_time or far, j.name),
            "name": lambda j: j.name.lower(),
            "status": lambda j: (j.id not in self.running, j.status.value, j.name),
            "priority": lambda j: (-j.priority, j.name),
            "last": lambda j: (j.last_status is None, str(j.last_status or ""), j.name),
            "rate": lambda j: (j.success_rate is None, j.success_rate or 0.0, j.name),
        }
        jobs.sort(key=keys[self.sort_key])
        return [job.id for job in jobs]

    def _render_rows(self) -> None:
        table = self.table
        now = self.cnp.clock.now()
        order = self._sorted_ids()
        fresh = {job_id: self._cells(self.jobs[job_id], now) for job_id in order}
        keys = [c.key for c in self.columns]
        if order == self.order and table.row_count == len(order):
            for job_id in order:
                old = self.cells.get(job_id, {})
                for key in keys:
                    if old.get(key) != fresh[job_id][key]:
                        table.update_cell(job_id, key, fresh[job_id][key])
        else:
            selected = self._selected_id()
            table.clear()
            for job_id in order:
                table.add_row(*(fresh[job_id][key] for key in keys), key=job_id)
            if selected in fresh:
                table.move_cursor(row=order.index(selected), animate=False)
        self.order = order
        self.cells = fresh

    def _set_columns(self, width: int) -> None:
        columns = visible_columns(width)
        if [c.key for c in columns] == [c.key for c in self.columns]:
            return
        self.columns = columns
        table = self.table
        table.clear(columns=True)
        spare = width - sum(c.width + 2 for c in columns) - 2
        for column in columns:
            extra = max(0, spare) if column.key == "name" else 0
            table.add_column(column.label, width=column.width + extra, key=column.key)
        self.order = []
        self._render_rows()

    def on_resize(self) -> None:
        self._set_columns(self.size.width)

    def _selected_id(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return key.value if key is not None else None

    def _selected(self) -> Job | None:
        job_id = self._selected_id()
        if job_id is None:
            self.notify("no job selected: create one with n", severity="warning")
            return None
        return self.jobs.get(job_id)

    # --- actions ---------------------------------------------------------------------------

    @on(DataTable.RowSelected, "#jobs")
    async def _row_selected(self, event: DataTable.RowSelected) -> None:
        await self.action_open()

    async def action_open(self) -> None:
        job = self._selected()
        if job is not None:
            await self.cnp.open_job(job.id)

    def action_new(self) -> None:
        from cnp_tui.ui.screens.forms import JobFormScreen

        self.app.push_screen(JobFormScreen(None))

    def action_edit(self) -> None:
        from cnp_tui.ui.screens.forms import JobFormScreen

        job = self._selected()
        if job is not None:
            self.app.push_screen(JobFormScreen(job))

    async def action_execute(self) -> None:
        job = self._selected()
        if job is not None:
            await execute(self, job)

    async def action_pause(self) -> None:
        job = self._selected()
        if job is not None:
            await pause_or_resume(self, job)

    def action_delete(self) -> None:
        job = self._selected()
        if job is not None:
            confirm_delete(self, job)

    def action_cancel(self) -> None:
        job = self._selected()
        if job is not None:
            confirm_cancel(self, job.id, self.running.get(job.id))

    def action_history(self) -> None:
        from cnp_tui.ui.screens.history import HistoryScreen

        job = self._selected()
        self.app.push_screen(HistoryScreen(job.id if job else None))

    async def action_log(self) -> None:
        job = self._selected()
        if job is not None:
            await open_latest_log(self, job)

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.remove_class("hidden")
        field.focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = ""
        field.add_class("hidden")
        self.table.focus()

    def action_sort(self) -> None:
        self.sort_key = SORTS[(SORTS.index(self.sort_key) + 1) % len(SORTS)]
        self.notify(f"sorted by {self.sort_key}", timeout=2)
        self._render_rows()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._render_rows()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        if not self.filter_text:
            self.query_one("#filter", Input).add_class("hidden")
        self.table.focus()

    @on(DataTable.HeaderSelected, "#jobs")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if key in SORTS:
            self.sort_key = key
            self._render_rows()


# --- actions shared with the job detail screen ----------------------------------------------


async def execute(screen: CnpScreen, job: Job) -> None:
    execution = await screen.cnp.call(
        lambda s: s.execute_job(job.id), f"queued a run of {job.name}"
    )
    if execution is not None and screen.cnp.mode_name == "no engine":
        screen.notify("no engine runs: it stays queued until one starts", severity="warning")


async def pause_or_resume(screen: CnpScreen, job: Job) -> None:
    if job.status is JobStatus.PAUSED:
        await screen.cnp.call(lambda s: s.resume_job(job.id), f"resumed {job.name}")
    else:
        await screen.cnp.call(lambda s: s.pause_job(job.id), f"paused {job.name}")


def confirm_delete(screen: CnpScreen, job: Job, *, then_back: bool = False) -> None:
    from cnp_tui.ui.screens.dialogs import ConfirmScreen

    async def answered(yes: bool | None) -> None:
        if yes:
            done = await screen.cnp.call(lambda s: s.delete_job(job.id), f"deleted {job.name}")
            if done is not None and then_back:
                screen.dismiss()

    screen.app.push_screen(
        ConfirmScreen(f"Delete job '{job.name}' and its history?", "Delete"), answered
    )


def confirm_cancel(screen: CnpScreen, job_id: str, execution_id: str | None) -> None:
    from cnp_tui.ui.screens.dialogs import ConfirmScreen

    async def find_and_ask() -> None:
        target = execution_id
        if target is None:
            active = await screen.service.store.list_executions(
                job_id=job_id, status=[ExecutionStatus.RUNNING, ExecutionStatus.QUEUED], limit=1
            )
            if not active:
                screen.notify("nothing to cancel: no run is queued or running", severity="warning")
                return
            target = active[0].id

        async def answered(yes: bool | None) -> None:
            if yes:
                outcome = await screen.cnp.call(lambda s: s.cancel_execution(target))
                if outcome is not None:
                    screen.notify(f"execution {target}: cancel {outcome}")

        screen.app.push_screen(ConfirmScreen(f"Cancel execution {target}?", "Cancel it"), answered)

    screen.run_worker(find_and_ask(), exclusive=False)


async def open_latest_log(screen: CnpScreen, job: Job) -> None:
    from cnp_tui.ui.screens.execution import ExecutionScreen

    latest = await screen.service.history(job.id, last=1)
    if not latest:
        screen.notify(f"{job.name} has not run yet: x runs it now", severity="warning")
        return
    screen.app.push_screen(ExecutionScreen(latest[0].id, focus_log=True))
