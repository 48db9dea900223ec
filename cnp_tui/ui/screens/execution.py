"""One execution: result, error, exit code, cost, tokens, turns, session, resources, retry chain,
and its log, live while it runs.

The live tail subscribes first (the app buffers this execution's lines from the bus when the
engine runs in this process), then reads the stored lines after the last seq it has; the log
view drops anything at or below the last seq, so nothing is shown twice or lost.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from cnp_tui.core.models import Execution
from cnp_tui.errors import CnpError
from cnp_tui.ui.format import duration_ms, when
from cnp_tui.ui.screens.base import CnpScreen
from cnp_tui.ui.widgets.log_view import LogView

PAGE = 20_000  # lines read per query when opening a long log


class ExecutionScreen(CnpScreen):
    """An execution and its log."""

    SUB_TITLE = "execution"
    BINDINGS: ClassVar = [
        Binding("escape", "back", "Back", id="execution.back"),
        Binding("c", "cancel", "Cancel run", id="execution.cancel"),
        Binding("slash", "search", "Search", key_display="/", id="execution.search"),
        Binding("n", "next_match", "Next match", show=False, id="execution.next_match"),
        Binding("N", "previous_match", "Prev match", show=False, id="execution.prev_match"),
        Binding("i", "toggle_info", "Details", id="execution.details"),
    ]

    def __init__(self, execution_id: str, *, focus_log: bool = False) -> None:
        super().__init__()
        self.execution_id = execution_id
        self.execution: Execution | None = None
        self.focus_log = focus_log
        self.chain: list[Execution] = []
        self.notifications: list[Any] = []  # notify.outbox.Notification rows of this execution

    def body(self) -> ComposeResult:
        yield Static(id="summary")
        yield LogView(id="log")
        yield Input(
            placeholder="search the log (enter: next, escape: close)", id="search", classes="hidden"
        )

    @property
    def log_view(self) -> LogView:
        return self.query_one("#log", LogView)

    def on_mount(self) -> None:
        self.cnp.watch_log(self.execution_id)  # subscribe first ...
        self.log_view.focus()
        if self.focus_log:
            self.query_one("#summary").add_class("hidden")

    def on_unmount(self) -> None:
        self.cnp.unwatch_log(self.execution_id)

    async def reload(self) -> None:
        try:
            execution = await self.service.get_execution(self.execution_id)
        except CnpError as exc:
            self.notify(str(exc), severity="error")
            return
        view = self.log_view
        while True:  # ... then read the stored tail after what we have
            lines = await self.service.logs(self.execution_id, after_seq=view.last_seq, limit=PAGE)
            view.add_lines(lines)
            if len(lines) < PAGE:
                break
        # Lines the engine published but has not committed yet (in-process engine only).
        view.add_lines(self.cnp.take_log_lines(self.execution_id, view.last_seq))
        if self.execution is None or execution.retry_of != (self.execution.retry_of or None):
            self.chain = await self._chain(execution)
        notifications = await self.service.execution_notifications(self.execution_id)
        changed = (
            self.execution is None
            or execution.model_dump(exclude={"log_lines"})
            != self.execution.model_dump(exclude={"log_lines"})
            or notifications != self.notifications
        )
        self.execution = execution
        self.notifications = notifications
        if changed:
            self._show()
        else:
            self._show_title()

    async def _chain(self, execution: Execution) -> list[Execution]:
        chain, current = [], execution
        while current.retry_of and len(chain) < 20:
            found = await self.service.store.get_execution(current.retry_of)
            if found is None:
                break
            chain.append(found)
            current = found
        return chain

    def _show(self) -> None:
        execution = self.execution
        assert execution is not None
        usage = execution.usage
        resources = execution.resource_usage
        grid = Table.grid(padding=(0, 1), expand=True)
        for _ in range(4):
            grid.add_column(no_wrap=True)
        status = execution.status.value
        if execution.cancel_requested and not execution.status.finished:
            status += " (cancel requested)"
        chain = " ← ".join(f"{e.id} {e.status.value}" for e in self.chain) or "-"
        pairs = [
            ("id", execution.id),
            ("status", status),
            ("trigger", f"{execution.trigger.value}, attempt {execution.attempt}"),
            ("exit", "-" if execution.exit_code is None else str(execution.exit_code)),
            ("started", when(execution.started_at, self.cnp.zone)),
            ("took", duration_ms(execution.execution_time_ms)),
            ("cost", "-" if execution.cost_usd is None else f"${execution.cost_usd:.4f}"),
            ("turns", "-" if execution.num_turns is None else str(execution.num_turns)),
            (
                "tokens",
                f"{usage.input_tokens} in / {usage.output_tokens} out" if usage else "-",
            ),
            ("session", execution.session_id or "-"),
            (
                "memory",
                f"{resources.peak_rss_mb:.0f} MB peak"
                if resources and resources.peak_rss_mb is not None
                else "-",
            ),
            (
                "cpu",
                f"{resources.cpu_seconds:.1f}s"
                if resources and resources.cpu_seconds is not None
                else "-",
            ),
        ]
        for index in range(0, len(pairs), 2):
            (k1, v1), (k2, v2) = pairs[index], pairs[index + 1]
            grid.add_row(f"[b]{k1}[/b]", v1, f"[b]{k2}[/b]", v2)
        grid.add_row("[b]retries[/b]", chain, "", "")
        if execution.error:
            grid.add_row("[b]error[/b]", execution.error.replace("[", "\\["), "", "")
        if execution.output:
            grid.add_row("[b]result[/b]", execution.output[:300].replace("[", "\\["), "", "")
        if execution.log_dropped:
            grid.add_row("[b]log[/b]", f"{execution.log_dropped} lines dropped (cap)", "", "")
        for index, item in enumerate(self.notifications):
            delivery = item.status.value
            if item.attempts > 1 or item.last_error:
                delivery += f" after {item.attempts} attempt(s)"
            if item.last_error:
                delivery += f": {item.last_error}"
            grid.add_row(
                "[b]notified[/b]" if index == 0 else "",
                f"{item.event} → {item.channel.describe()}: {delivery}".replace("[", "\\["),
                "",
                "",
            )
        self.query_one("#summary", Static).update(grid)
        self._show_title()

    def _show_title(self) -> None:
        assert self.execution is not None
        execution = self.execution
        follow = "following" if self.log_view.following else "paused (End/G follows)"
        self.SUB_TITLE = f"execution {execution.id} · {len(self.log_view.lines)} lines · {follow}"

    @on(LogView.FollowChanged)
    def _follow_changed(self) -> None:
        if self.execution is not None:
            self._show()
            self.cnp.update_status_bar()

    # --- actions ---------------------------------------------------------------------------

    def action_back(self) -> None:
        field = self.query_one("#search", Input)
        if field.has_focus:  # escape closes the search first
            field.add_class("hidden")
            self.log_view.focus()
            return
        self.dismiss()

    def action_cancel(self) -> None:
        from cnp_tui.ui.screens.jobs import confirm_cancel

        if self.execution is not None:
            if self.execution.status.finished:
                self.notify("this execution has already ended", severity="warning")
                return
            confirm_cancel(self, self.execution.job_id, self.execution.id)

    def action_search(self) -> None:
        field = self.query_one("#search", Input)
        field.remove_class("hidden")
        field.focus()

    @on(Input.Submitted, "#search")
    def _search(self, event: Input.Submitted) -> None:
        if self.log_view.find(event.value) is None and event.value:
            self.notify(f"'{event.value}' is not in the log", severity="warning")

    @on(Input.Changed, "#search")
    def _search_typed(self, event: Input.Changed) -> None:
        self.log_view.match_line = None
        self.log_view.find(event.value)

    def action_next_match(self) -> None:
        self.log_view.find(self.log_view.search)

    def action_previous_match(self) -> None:
        self.log_view.find(self.log_view.search, forward=False)

    def action_toggle_info(self) -> None:
        self.query_one("#summary").toggle_class("hidden")
