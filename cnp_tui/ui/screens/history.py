"""Execution history: all runs or one job's, newest first, filtered by status (``f``)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable

from cnp_tui.core.models import ExecutionStatus
from cnp_tui.ui.format import LAST_MARK, duration_ms, status_class, when
from cnp_tui.ui.palette import style_of
from cnp_tui.ui.screens.base import CnpScreen

LIMIT = 500
FILTERS: list[tuple[str, list[ExecutionStatus] | None]] = [
    ("all", None),
    ("failed", [ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.INTERRUPTED]),
    ("running", [ExecutionStatus.RUNNING, ExecutionStatus.QUEUED]),
    ("completed", [ExecutionStatus.COMPLETED]),
    ("cancelled", [ExecutionStatus.CANCELLED]),
]


class HistoryScreen(CnpScreen):
    """Executions, newest first."""

    SUB_TITLE = "history"
    BINDINGS: ClassVar = [
        Binding("escape", "back", "Back", id="history.back"),
        Binding("enter", "open", "Open", id="history.open"),
        Binding("f", "status_filter", "Status filter", id="history.filter"),
        Binding("a", "all_jobs", "All jobs", id="history.all_jobs"),
    ]

    def __init__(self, job_id: str | None = None) -> None:
        super().__init__()
        self.job_id = job_id
        self.filter_index = 0
        self.names: dict[str, str] = {}

    def body(self) -> ComposeResult:
        table: DataTable[Text | str] = DataTable(id="executions", cursor_type="row")
        table.add_column("Started", width=19)
        table.add_column("Job", key="job", width=16)
        table.add_column("Result", width=11)
        table.add_column("Trigger", width=8)
        table.add_column("Try", width=3)
        table.add_column("Took", width=7)
        table.add_column("Id", width=12)
        yield table

    async def reload(self) -> None:
        name, statuses = FILTERS[self.filter_index]
        executions = await self.service.store.list_executions(
            job_id=self.job_id, status=statuses, limit=LIMIT
        )
        missing = {e.job_id for e in executions} - set(self.names)
        if missing:
            self.names.update({job.id: job.name for job in await self.service.list_jobs()})
        scope = self.names.get(self.job_id, self.job_id) if self.job_id else "all jobs"
        self.SUB_TITLE = f"history: {scope}, {name}"
        table = self.query_one("#executions", DataTable)
        cursor = table.cursor_row
        table.clear()
        for execution in executions:
            mark = LAST_MARK.get(execution.status, execution.status.value)
            table.add_row(
                when(execution.started_at or execution.scheduled_for, self.cnp.zone),
                self.names.get(execution.job_id, execution.job_id),
                Text(mark, style=style_of(self.app, status_class(mark))),
                execution.trigger.value,
                str(execution.attempt),
                duration_ms(execution.execution_time_ms),
                execution.id,
                key=execution.id,
            )
        if executions:
            table.move_cursor(row=min(cursor, len(executions) - 1), animate=False)

    def action_back(self) -> None:
        self.dismiss()

    @on(DataTable.RowSelected, "#executions")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        from cnp_tui.ui.screens.execution import ExecutionScreen

        table = self.query_one("#executions", DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if key:
                self.app.push_screen(ExecutionScreen(key))

    def action_status_filter(self) -> None:
        self.filter_index = (self.filter_index + 1) % len(FILTERS)
        self.cnp.mark_dirty()

    def action_all_jobs(self) -> None:
        self.job_id = None
        self.cnp.mark_dirty()
