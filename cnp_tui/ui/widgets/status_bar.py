"""The header line: engine owner/attached, pid@host, running/queued counts, cooldown, clock."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.text import Text
from textual.widgets import Static

from cnp_tui.service import Status
from cnp_tui.ui.format import countdown
from cnp_tui.ui.palette import style_of


class StatusBar(Static):
    """One dense line at the top of every screen."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $foreground; padding: 0 1; }
    """

    def show(
        self, status: Status | None, mode: str, now: datetime, zone: tzinfo | None, title: str
    ) -> None:
        text = Text()
        text.append("cnp ", style=style_of(self.app, "primary", bold=True))
        if status is None:
            text.append("starting…")
        else:
            engine = status.engine
            if mode == "owner":
                text.append("● engine here", style=style_of(self.app, "success"))
            elif engine.running:
                text.append("◆ attached", style=style_of(self.app, "accent"))
            else:
                text.append("○ no engine", style=style_of(self.app, "error"))
            if engine.running:
                text.append(f" {engine.pid}@{engine.host}")
            text.append(f" │ {status.running} running {status.queued} queued")
            if status.cooldown is not None:
                left = (status.cooldown.until - now).total_seconds()
                text.append(" │ ")
                text.append(
                    f"COOLDOWN {countdown(left)}",
                    style=style_of(self.app, "warning", bold=True),
                )
        if title:
            text.append(f" │ {title}", style="bold")
        clock = now.astimezone(zone).strftime("%H:%M:%S")
        width = self.size.width - 2
        if width > text.cell_len + len(clock) + 1:
            text.append(" " * (width - text.cell_len - len(clock)))
            text.append(clock)
        if text != getattr(self, "_shown", None):  # text and colours; an update relayouts
            self._shown = text
            self.update(text)
