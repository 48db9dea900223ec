"""Modal dialogs: confirm (delete, cancel) and help (every binding of the screen below)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """Yes / no; ``y`` or Enter on Yes confirms, ``n`` or Escape refuses."""

    BINDINGS: ClassVar = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question, id="question")
            with Horizontal(id="buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="yes")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class HelpScreen(ModalScreen[None]):
    """Every binding of the screen it was opened from: key, description, id (for [ui.keys])."""

    BINDINGS: ClassVar = [
        Binding("escape,question_mark,q", "dismiss_help", "Close", id="help.close"),
    ]

    def __init__(self, below: Screen[Any]) -> None:
        super().__init__()
        self.rows: list[tuple[str, str, str]] = []
        seen: set[tuple[str, str]] = set()
        widget_rows: list[tuple[str, str, str]] = []
        for active in below.active_bindings.values():
            binding = active.binding
            if not binding.description:
                continue
            marker = (binding.description, binding.id or "")
            if marker in seen:
                continue
            seen.add(marker)
            display = binding.key_display or self.app.get_key_display(binding)
            # cnp's own bindings (they have ids) first; the focused widget's after them.
            (self.rows if binding.id else widget_rows).append(
                (display, binding.description, binding.id or "")
            )
        self.rows.extend(widget_rows)
        self.title_text = getattr(below, "SUB_TITLE", "") or type(below).__name__

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_edge=False)
        table.add_column("Key", style="bold", no_wrap=True)
        table.add_column("Action")
        table.add_column("Id (for \\[ui.keys])", style="dim", no_wrap=True)
        for row in self.rows:
            table.add_row(*row)
        with Vertical(id="dialog"):
            yield Label(f"Keys: {self.title_text}", id="question")
            with VerticalScroll():
                yield Static(table, id="help-table")
            yield Label('Override keys in the config file: \\[ui.keys] "job.execute" = "ctrl+x"')

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
