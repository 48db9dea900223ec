"""A virtual job table: only the rows on screen are rendered, so 10,000 jobs cost what 30 do.

The screen owns the data (``order``: job ids as shown; ``cells``: per job, per column, a text
and a style name); the table draws rows from them and moves a cursor. Re-sorting is a new
``order`` list, never a rebuild of widgets or rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip

from cnp_tui.ui.palette import style_of
from cnp_tui.ui.widgets.lines import LineScrollView


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    priority: int  # lower survives longer when the pane narrows


Cell = tuple[str, str]  # text, theme variable of its colour ("" = default)


def fit(text: str, width: int) -> str:
    """``text`` cut (with an ellipsis) or padded to exactly ``width`` cells."""
    if len(text) > width:
        return text[: max(0, width - 1)] + "…" if width else ""
    return text.ljust(width)


class JobTable(LineScrollView, can_focus=True):
    """Rows of jobs with a cursor; a double click posts ``Selected`` (Enter is the screen's)."""

    DEFAULT_CSS = """
    JobTable { background: $surface; }
    JobTable > .jobtable--cursor { background: $accent 40%; }
    JobTable > .jobtable--header { background: $panel; color: $primary; text-style: bold; }
    """
    COMPONENT_CLASSES: ClassVar = {"jobtable--cursor", "jobtable--header"}
    BINDINGS: ClassVar = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("home", "edge(0)", "First", show=False, id="table.first"),
        Binding("end", "edge(1)", "Last", show=False, id="table.last"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)

    class Selected(Message):
        def __init__(self, job_id: str) -> None:
            super().__init__()
            self.job_id = job_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns: list[Column] = []
        self.order: list[str] = []
        self.cells: dict[str, dict[str, Cell]] = {}
        self.dimmed: set[str] = set()

    # --- data ------------------------------------------------------------------------------

    def set_rows(self, order: list[str], keep: str | None = None) -> None:
        """Show ``order``; the cursor stays on job ``keep`` if it is still listed."""
        self.order = order
        if keep is not None and keep in self.cells:
            try:
                self.cursor = order.index(keep)
            except ValueError:
                self.cursor = min(self.cursor, max(0, len(order) - 1))
        else:
            self.cursor = min(self.cursor, max(0, len(order) - 1))
        self.virtual_size = Size(self.size.width, len(order) + 1)
        self.refresh()

    @property
    def row_count(self) -> int:
        return len(self.order)

    @property
    def selected(self) -> str | None:
        return self.order[self.cursor] if self.order else None

    def visible_ids(self) -> list[str]:
        top = int(self.scroll_offset.y)
        return self.order[top : top + self.size.height]

    def row_text(self, index: int) -> list[str]:
        """The cells of row ``index`` as plain text (tests and the palette use it)."""
        cells = self.cells[self.order[index]]
        return [cells[c.key][0] for c in self.columns]

    # --- rendering -------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:  # the header stays put while the rows scroll
            header = self.get_component_rich_style("jobtable--header")
            text = "".join(" " + fit(c.label, c.width) + " " for c in self.columns)
            return Strip([Segment(fit(text, width), header)])
        row = int(self.scroll_offset.y) + y - 1
        base = self.base_style
        if row >= len(self.order):
            return Strip.blank(width, base)
        job_id = self.order[row]
        cells = self.cells.get(job_id, {})
        muted = job_id in self.dimmed
        shown = tuple((cells.get(c.key, ("", "")), c.width) for c in self.columns)

        def draw() -> Strip:
            segments = [
                Segment(
                    " " + fit(text, column_width) + " ",
                    base + style_of(self.app, "foreground-muted" if muted else colour),
                )
                for (text, colour), column_width in shown
            ]
            return Strip(segments).adjust_cell_length(width, base)

        strip = self.strip((shown, muted, width, base), draw)
        if row == self.cursor and self.has_focus:
            strip = strip.apply_style(self.get_component_rich_style("jobtable--cursor"))
        elif row == self.cursor:
            strip = strip.apply_style(Style(underline=True))
        return strip

    def watch_cursor(self, old: int, new: int) -> None:
        body = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + body:
            self.scroll_to(y=new - body + 1, animate=False, immediate=True)
        self.refresh()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.order) + 1)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def refresh_rows(self, job_ids: set[str]) -> None:
        """Repaint the rows of these jobs if they are on screen."""
        if not job_ids.isdisjoint(self.visible_ids()):
            self.refresh()  # only the visible rows are drawn: a full refresh is cheap

    # --- actions ---------------------------------------------------------------------------

    def action_cursor(self, delta: int) -> None:
        if self.order:
            self.cursor = max(0, min(len(self.order) - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 2))

    def action_edge(self, end: int) -> None:
        if self.order:
            self.cursor = len(self.order) - 1 if end else 0

    def on_click(self, event: events.Click) -> None:
        row = int(self.scroll_offset.y) + event.y - 1
        if 0 <= row < len(self.order):
            if row == self.cursor and event.chain == 2:
                self.post_message(self.Selected(self.order[row]))
            self.cursor = row
