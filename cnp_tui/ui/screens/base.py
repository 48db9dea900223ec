"""What every full screen has: the status bar on top, the footer of key bindings below."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from cnp_tui.ui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from cnp_tui.service import JobService
    from cnp_tui.ui.app import CnpApp


class CnpScreen(Screen[Any]):
    """A full screen; ``reload`` is called when data changed, ``tick`` once a second otherwise."""

    SUB_TITLE = ""

    @property
    def cnp(self) -> CnpApp:
        return self.app  # type: ignore[return-value]

    @property
    def service(self) -> JobService:
        assert self.cnp.service is not None
        return self.cnp.service

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield from self.body()
        yield Footer()

    def body(self) -> ComposeResult:
        return iter(())

    async def on_screen_resume(self) -> None:
        self.cnp.mark_dirty()
        self.cnp.update_status_bar()

    async def reload(self) -> None:
        """Re-read what this screen shows."""

    def tick(self) -> None:
        """Once a second with no data change: advance countdowns."""
