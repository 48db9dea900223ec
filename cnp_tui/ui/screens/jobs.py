"""The home screen: every job in a dense, live, sortable, filterable table.

Columns collapse by priority when the pane is narrow (80x24 keeps name, status, next, last and
the schedule). A reload reads only the jobs' small changing columns; a job is read in full only
when its definition changed, its cells are rebuilt only when its state changed, and the table
draws only the rows on screen. So 10,000 jobs refresh as fast as 30.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input

from cnp_tui.core.models import ExecutionStatus, Job, JobStatus
from cnp_tui.store.sqlite import JOB_STATE_COLUMNS as STATE_COLUMNS
from cnp_tui.ui.format import LAST_MARK, countdown, duration_ms, rate, status_class
from cnp_tui.ui.screens.base import CnpScreen
from cnp_tui.ui.widgets.job_table import Cell, Column, JobTable

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
FULL_READ = 500  # more changed definitions than this: read every job at once
_INDEX = {name: i for i, name in enumerate(STATE_COLUMNS)}


def visible_columns(width: int) -> list[Column]:
    """The columns that fit ``width`` cells, dropping the least important first; the name
    column takes the spare width."""
    chosen = list(COLUMNS)
    while len(chosen) > 3 and sum(c.width + 2 for c in chosen) + 2 > width:
        chosen.remove(max(chosen, key=lambda c: c.priority))
    spare = max(0, width - sum(c.width + 2 for c in chosen) - 2)
    return [
        Column(c.key, c.label, c.width + (spare if c.key == "name" else 0), c.priority)
        for c in chosen
    ]


def _apply_state(job: Job, state: tuple[Any, ...]) -> None:
    """Copy the engine-maintained columns of ``state`` onto ``job`` (no validation: trusted)."""

    def when(name: str) -> datetime | None:
        value = state[_INDEX[name]]
        return None if value is None else datetime.fromisoformat(value)

    job.status = JobStatus(state[_INDEX["status"]])
    job.next_run_time = when("next_run_time")
    job.last_run_time = when("last_run_time")
    job.execution_count = state[_INDEX["execution_count"]]
    job.failure_count = state[_INDEX["failure_count"]]
    job.avg_execution_time_ms = state[_INDEX["avg_execution_time_ms"]]
    job.success_rate = state[_INDEX["success_rate"]]
    last = state[_INDEX["last_status"]]
    job.last_status = ExecutionStatus(last) if last else None


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
        self.states: dict[str, tuple[Any, ...]] = {}
        self.running: dict[str, str] = {}  # job id -> a running execution id
        self.sort_key = "next"
        self.filter_text = ""
        self._describe: dict[tuple[str, str, str | None], str] = {}
        self._reload_cost = 0.0
        self._last_reload = 0.0
        self._fingerprint: tuple[Any, ...] = ()

    def body(self) -> ComposeResult:
        yield JobTable(id="jobs")
        yield Input(placeholder="filter: name, tag or status", id="filter", classes="hidden")

    def on_mount(self) -> None:
        self.table.columns = visible_columns(self.size.width or 80)
        self.table.focus()

    @property
    def table(self) -> JobTable:
        return self.query_one("#jobs", JobTable)

    @property
    def order(self) -> list[str]:
        return self.table.order

    # --- data ------------------------------------------------------------------------------

    async def reload(self) -> None:
        # Under a storm of changes keep reloads to a fraction of the time; the rest is for keys.
        if time.monotonic() - self._last_reload < 4 * self._reload_cost:
            self.cnp.mark_dirty()
            self.tick()
            return
        started = time.monotonic()
        store = self.service.store
        running = await store.list_executions(status=[ExecutionStatus.RUNNING], limit=None)
        now_running = {e.job_id: e.id for e in running}
        changed = set(now_running) ^ set(self.running)
        self.running = now_running
        fingerprint = await store.jobs_fingerprint()
        if fingerprint == self._fingerprint:
            # Only log lines or executions moved: the jobs themselves are as they were.
            if changed:
                self._show_rows(changed)
            return
        self._fingerprint = fingerprint
        states = {state[0]: state for state in await store.job_states()}
        stale = [
            job_id
            for job_id, state in states.items()
            if job_id not in self.jobs
            or self.states[job_id][_INDEX["updated_at"]] != state[_INDEX["updated_at"]]
        ]
        if len(stale) > FULL_READ:
            self.jobs = {job.id: job for job in await self.service.list_jobs()}
        else:
            for job_id in stale:
                job = await store.get_job(job_id)
                if job is not None:
                    self.jobs[job_id] = job
        for job_id in set(self.jobs) - set(states):
            del self.jobs[job_id]
            self.table.cells.pop(job_id, None)
        for job_id, state in states.items():
            if job_id in self.jobs and (job_id in stale or self.states.get(job_id) != state):
                _apply_state(self.jobs[job_id], state)
                changed.add(job_id)
        self.states = states
        self._show_rows(changed | set(stale))
        self._last_reload = time.monotonic()
        self._reload_cost = self._last_reload - started

    def tick(self) -> None:
        """Advance the next-run countdowns (only visible rows are drawn, so all is cheap)."""
        now = self.cnp.clock.now()
        table = self.table
        for job_id in table.visible_ids():
            job = self.jobs.get(job_id)
            if job is not None:
                table.cells[job_id]["next"] = (self._next_text(job, now), "")
        table.refresh()

    def _next_text(self, job: Job, now: datetime) -> str:
        if job.id in self.running:
            return "live"
        if job.next_run_time is None:
            return "-"
        return countdown((job.next_run_time - now).total_seconds())

    def _schedule_text(self, job: Job) -> str:
        key = (job.schedule.type.value, job.schedule.expression, job.schedule.timezone)
        if key not in self._describe:
            self._describe[key] = job.schedule.describe(self.cnp.settings.scheduler.timezone)
        return self._describe[key]

    def _cells(self, job: Job, now: datetime) -> dict[str, Cell]:
        running = job.id in self.running
        status = "running" if running else job.status.value
        last = LAST_MARK.get(job.last_status, "-") if job.last_status else "-"
        return {
            "name": (("▶ " if running else "") + job.name, "accent" if running else ""),
            "status": (status, status_class(status)),
            "next": (self._next_text(job, now), ""),
            "last": (last, status_class(last)),
            "schedule": (self._schedule_text(job), ""),
            "rate": (rate(job), ""),
            "avg": (duration_ms(job.avg_execution_time_ms), ""),
            "priority": (str(job.priority), ""),
            "tags": (",".join(job.tags), ""),
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
        keys: dict[str, Any] = {
            "next": lambda j: (j.id not in self.running, j.next_run_time or far, j.name),
            "name": lambda j: j.name.lower(),
            "status": lambda j: (j.id not in self.running, j.status.value, j.name),
            "priority": lambda j: (-j.priority, j.name),
            "last": lambda j: (j.last_status is None, str(j.last_status or ""), j.name),
            "rate": lambda j: (j.success_rate is None, j.success_rate or 0.0, j.name),
        }
        jobs.sort(key=keys[self.sort_key])
        return [job.id for job in jobs]

    def _show_rows(self, changed: set[str] | None = None) -> None:
        """Rebuild the cells of ``changed`` jobs (all when None) and re-sort the rows."""
        table = self.table
        now = self.cnp.clock.now()
        for job_id in self.jobs if changed is None else changed:
            job = self.jobs.get(job_id)
            if job is not None:
                table.cells[job_id] = self._cells(job, now)
        table.dimmed = {j.id for j in self.jobs.values() if j.status is JobStatus.PAUSED}
        table.set_rows(self._sorted_ids(), keep=table.selected)

    def on_resize(self) -> None:
        self.table.columns = visible_columns(self.size.width)
        self.table.refresh()

    def _selected(self) -> Job | None:
        job_id = self.table.selected
        if job_id is None:
            self.notify("no job selected: create one with n", severity="warning")
            return None
        return self.jobs.get(job_id)

    # --- actions ---------------------------------------------------------------------------

    @on(JobTable.Selected)
    async def _row_selected(self, event: JobTable.Selected) -> None:
        await self.cnp.open_job(event.job_id)

    async def action_open(self) -> None:
        job = self._selected()
        if job is not None:
            await self.cnp.open_job(job.id)

    def action_new(self) -> None:
        from cnp_tui.ui.screens.forms import JobFormScreen

        self.app.push_screen(JobFormScreen(None))

    async def action_edit(self) -> None:
        job = self._selected()
        if job is not None:
            await edit(self, job)

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
        self._show_rows(set())

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._show_rows(set())

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        if not self.filter_text:
            self.query_one("#filter", Input).add_class("hidden")
        self.table.focus()


# --- actions shared with the job detail screen ----------------------------------------------


async def execute(screen: CnpScreen, job: Job) -> None:
    execution = await screen.cnp.call(
        lambda s: s.execute_job(job.id), f"queued a run of {job.name}"
    )
    if execution is not None and screen.cnp.mode_name == "no engine":
        screen.notify("no engine runs: it stays queued until one starts", severity="warning")


async def edit(screen: CnpScreen, job: Job) -> None:
    """Open the job form on the stored job: the screen's copy may predate a save just made,
    and a form filled from it would write the old values back."""
    from cnp_tui.ui.screens.forms import JobFormScreen

    stored = await screen.cnp.call(lambda s: s.get_job(job.id))
    if stored is not None:
        screen.app.push_screen(JobFormScreen(stored))


async def pause_or_resume(screen: CnpScreen, job: Job) -> None:
    # Decide on the stored status: the table refreshes on a tick and may lag a change.
    stored = await screen.cnp.call(lambda s: s.get_job(job.id))
    if stored is None:
        return
    job = stored
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
