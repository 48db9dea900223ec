"""CnpApp: the dashboard.

It owns the engine (a Runtime in a Textual worker, same process) unless another engine already
holds the database lease, in which case it attaches: every action is a database write that the
owner carries out, and closing the dashboard leaves that engine running.

Live updates are pulled, not pushed: a 10 Hz timer looks at ``PRAGMA data_version`` of the
dashboard's own connection (it changes when any other connection commits, the in-process
engine's included) and at a dirty flag that bus events and the dashboard's own writes set. Only
then does the visible screen reload, so a burst of a thousand log lines costs one refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import tzinfo
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker

from cnp_tui.config import Settings
from cnp_tui.core.bus import EventBus
from cnp_tui.core.clock import Clock, SystemClock
from cnp_tui.core.events import Event, LogLinesAppended, SystemNotification
from cnp_tui.core.models import LogLine
from cnp_tui.errors import CnpError, EngineAlreadyRunningError
from cnp_tui.paths import Paths
from cnp_tui.service import JobService, Status
from cnp_tui.store.sqlite import SqliteStore
from cnp_tui.ui.commands import CnpCommands
from cnp_tui.ui.themes import DEFAULT_THEME, load_themes

T = TypeVar("T")

REFRESH_INTERVAL = 0.1  # at most ten screen refreshes a second
STYLES = Path(__file__).parent / "styles" / "app.tcss"


class _ToastHandler(logging.Handler):
    """Engine warnings and errors become notifications (stderr would tear the screen)."""

    def __init__(self, app: App[None]) -> None:
        super().__init__(logging.WARNING)
        self.app = app

    def emit(self, record: logging.LogRecord) -> None:
        severity = "error" if record.levelno >= logging.ERROR else "warning"
        with contextlib.suppress(Exception):
            self.app.notify(record.getMessage(), title="engine", severity=severity, timeout=8)


class CnpApp(App[None]):
    """The cnp dashboard."""

    CSS_PATH = STYLES
    TITLE = "cnp"
    COMMANDS: ClassVar = App.COMMANDS | {CnpCommands}
    BINDINGS: ClassVar = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        Binding("ctrl+p", "command_palette", "Palette", show=False, id="app.palette"),
        Binding("P", "prompts", "Prompts", show=False, id="app.prompts"),
        Binding("H", "all_history", "All history", show=False, id="app.history"),
    ]
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        *,
        clock: Clock | None = None,
        theme: str | None = None,
        start_engine: bool = True,
        zone: tzinfo | None = None,
        themes_dir: Path | None = None,
        live: bool = True,
    ) -> None:
        super().__init__()
        self.paths = paths
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.zone = zone
        self.start_engine = start_engine
        self.live = live
        self.mode_name = "starting"
        self.store: SqliteStore | None = None
        self.service: JobService | None = None
        self.bus = EventBus()
        self.runtime: Any = None
        self.status: Status | None = None
        self.startup_warnings: list[str] = []
        self._requested_theme = theme or settings.ui.theme
        self._themes_dir = themes_dir
        self._version = -1
        self._dirty = True
        self._poll_lock = asyncio.Lock()
        self._poll_task: asyncio.Task[None] | None = None
        self._last_second = 0.0
        self._engine_ready = asyncio.Event()
        self._stop_engine = asyncio.Event()
        self._engine_worker: Worker[None] | None = None
        self._engine_task: asyncio.Task[None] | None = None
        self._watched: dict[str, list[LogLine]] = {}
        self._toasts: list[SystemNotification] = []  # system-channel alerts, shown on the tick
        self.refreshes = 0  # counted for the benchmark

    # --- start-up --------------------------------------------------------------------------

    def _install_themes(self) -> None:
        themes, warnings = load_themes(self._themes_dir)
        self.startup_warnings.extend(warnings)
        for theme in themes:
            self.register_theme(theme)
        if self._requested_theme in self.available_themes:
            self.theme = self._requested_theme
        else:
            self.startup_warnings.append(
                f"theme '{self._requested_theme}' is unknown (themes: "
                f"{', '.join(t.name for t in themes)}); using {DEFAULT_THEME}"
            )
            self.theme = DEFAULT_THEME

    def compose(self) -> ComposeResult:
        return iter(())

    async def on_mount(self) -> None:
        self._log_handler = _ToastHandler(self)
        for name in ("cnp", "cnp_tui"):
            logging.getLogger(name).addHandler(self._log_handler)
        self._install_themes()
        if self.settings.ui.keys:
            self.set_keymap(dict(self.settings.ui.keys))
        self.paths.ensure_home()
        self.store = SqliteStore(self.paths.database)
        await self.store.open()
        self.service = JobService(self.store, self.settings, clock=self.clock, on_change=self._wake)
        lease = await self.service.live_engine()
        if lease is None and self.start_engine:
            self._engine_worker = self.run_engine()
            await self._engine_ready.wait()
        else:
            self.mode_name = "attached"
        from cnp_tui.ui.screens.jobs import JobListScreen

        await self.push_screen(JobListScreen())
        for warning in self.startup_warnings:
            self.notify(warning, severity="warning", timeout=8)
        await self.poll()
        if self.live:
            self.set_interval(REFRESH_INTERVAL, self._tick)

    @work(exclusive=True, group="engine", exit_on_error=False)
    async def run_engine(self) -> None:
        """Host the engine of this process; it stops when the dashboard closes.

        The Runtime runs in its own task, shielded: Textual cancels workers as the app exits,
        but the engine must shut down in order (grace for running executions, lease released).
        """
        self._engine_task = asyncio.create_task(self._engine_main(), name="cnp-ui-engine")
        await asyncio.shield(self._engine_task)

    async def _engine_main(self) -> None:
        from cnp_tui.engine.runtime import Runtime

        try:
            async with Runtime(self.paths, self.settings, clock=self.clock, bus=self.bus) as rt:
                self.runtime = rt
                self.mode_name = "owner"
                unsubscribe = self.bus.subscribe(self._on_event)
                self._engine_ready.set()
                try:
                    await self._stop_engine.wait()
                finally:
                    unsubscribe()
        except EngineAlreadyRunningError:
            self.mode_name = "attached"  # another engine won the race: be its client
        except CnpError as exc:
            self.mode_name = "no engine"
            self.startup_warnings.append(f"the engine cannot start: {exc}")
        finally:
            self.runtime = None
            self._engine_ready.set()

    async def stop_engine(self) -> None:
        """Stop the in-process engine (running executions get the shutdown grace)."""
        self._stop_engine.set()
        if self._engine_task is not None:
            await self._engine_task
            self._engine_task = None

    async def action_quit(self) -> None:
        """Quit; when this dashboard's engine has runs in flight, ask first: they stop too."""
        running = self.runtime.scheduler.running_count if self.runtime is not None else 0
        if not running:
            await self.stop_engine()
            self.exit()
            return
        from cnp_tui.ui.screens.dialogs import ConfirmScreen

        if isinstance(self.screen, ConfirmScreen):
            return  # already asking
        grace = self.settings.executor.shutdown_grace

        def answered(yes: bool | None) -> None:
            if yes:
                self.notify(
                    f"stopping the engine: up to {grace:g}s for {running} execution(s) to end",
                    title="quitting",
                    timeout=grace + 5,
                )
                # In a worker, so the screen keeps updating while the runs wind down.
                self.run_worker(self._stop_and_exit(), name="cnp-quit", exclusive=True)

        self.push_screen(
            ConfirmScreen(
                f"{running} execution(s) run in this dashboard's engine. Quitting stops them"
                f" (after up to {grace:g}s): they are recorded as interrupted, and retried by"
                " their job's policy when an engine runs again. Quit?",
                "Quit",
            ),
            answered,
        )

    async def _stop_and_exit(self) -> None:
        await self.stop_engine()
        self.exit()

    async def on_unmount(self) -> None:
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(BaseException):
                await self._poll_task
        await self.stop_engine()
        for name in ("cnp", "cnp_tui"):
            logging.getLogger(name).removeHandler(self._log_handler)
        if self.store is not None:
            await self.store.close()

    # --- live updates ----------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        # Called by the engine for every event: stay cheap, never touch widgets here.
        self._dirty = True
        if isinstance(event, LogLinesAppended) and event.execution_id in self._watched:
            self._watched[event.execution_id].extend(event.lines)
        elif isinstance(event, SystemNotification):
            self._toasts.append(event)

    async def _wake(self) -> None:
        self._dirty = True
        if self.runtime is not None:
            self.runtime.scheduler.wake()

    def watch_log(self, execution_id: str) -> None:
        """Buffer this execution's lines from the bus (before they are even committed)."""
        self._watched.setdefault(execution_id, [])

    def unwatch_log(self, execution_id: str) -> None:
        self._watched.pop(execution_id, None)

    def take_log_lines(self, execution_id: str, after_seq: int) -> list[LogLine]:
        """Buffered bus lines that continue ``after_seq`` without a gap.

        Lines published before the subscription may not be committed yet; while a gap remains
        the buffer is kept, and the next read of the store fills it.
        """
        lines = [line for line in self._watched.get(execution_id, []) if line.seq > after_seq]
        if not lines or lines[0].seq != after_seq + 1:
            if execution_id in self._watched:
                self._watched[execution_id] = lines
            return []
        self._watched[execution_id] = []
        return lines

    def mark_dirty(self) -> None:
        self._dirty = True

    def _tick(self) -> None:
        # The poll runs beside the app's message queue, not in it: a key pressed while the
        # database is being read is handled at once instead of after the read.
        if not self._poll_lock.locked() and (self._poll_task is None or self._poll_task.done()):
            self._poll_task = asyncio.create_task(self.poll(), name="cnp-ui-poll")

    async def poll(self) -> None:
        """One tick: reload the visible screen if anything changed; countdowns once a second."""
        if self._poll_lock.locked() or self.store is None or self.service is None:
            return  # the previous tick is still at work: skip, never pile up
        async with self._poll_lock:
            await self._poll_once()

    async def refresh_now(self) -> None:
        """Reload the visible screen at once (tests, and after the user's own actions)."""
        async with self._poll_lock:
            self._dirty = True
            await self._poll_once()

    async def _poll_once(self) -> None:
        assert self.store is not None and self.service is not None
        try:
            version = await self.store.data_version()
            changed = self._dirty or version != self._version
            self._version = version
            self._dirty = False
            second = time.monotonic()
            if changed or second - self._last_second >= 1.0:
                self._last_second = second
                self.status = await self.service.status()
            screen = self.screen
            if changed and hasattr(screen, "reload"):
                self.refreshes += 1
                await screen.reload()
            elif hasattr(screen, "tick"):
                screen.tick()
            self.update_status_bar()
            self._show_toasts()
        except CnpError as exc:
            self.notify(str(exc), severity="error")

    def _show_toasts(self) -> None:
        # System-channel notifications of the in-process engine, batched with the refresh.
        toasts, self._toasts = self._toasts, []
        for toast in toasts:
            self.notify(toast.body, title=toast.subject, timeout=10)

    def update_status_bar(self) -> None:
        from cnp_tui.ui.widgets.status_bar import StatusBar

        for screen in (self.screen,):
            for bar in screen.query(StatusBar):
                bar.show(
                    self.status,
                    self.mode_name,
                    self.clock.now(),
                    self.zone,
                    getattr(screen, "SUB_TITLE", "") or "",
                )

    # --- actions shared by screens ----------------------------------------------------------

    async def call(self, work: Callable[[JobService], Awaitable[T]], done: str = "") -> T | None:
        """Run one service call; a CnpError becomes a notification instead of a crash."""
        assert self.service is not None
        try:
            result = await work(self.service)
        except CnpError as exc:
            self.notify(str(exc), title="cnp", severity="error", timeout=8)
            return None
        if done:
            self.notify(done, timeout=3)
        self.mark_dirty()
        return result

    def action_help(self) -> None:
        from cnp_tui.ui.screens.dialogs import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen))

    def action_prompts(self) -> None:
        from cnp_tui.ui.screens.prompts import PromptLibraryScreen

        self.push_screen(PromptLibraryScreen())

    def action_all_history(self) -> None:
        from cnp_tui.ui.screens.history import HistoryScreen

        self.push_screen(HistoryScreen())

    async def open_job(self, job_id: str) -> None:
        from cnp_tui.ui.screens.job_detail import JobDetailScreen

        self.push_screen(JobDetailScreen(job_id))

    def push_fresh(self, screen: Screen[Any]) -> None:
        self.push_screen(screen)
        self.mark_dirty()
