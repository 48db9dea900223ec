"""A virtualised log: only the visible rows are rendered, so 100,000 lines scroll freely.

Lines are kept as (seq, stream, text); stderr, tool-use and engine lines get their own styles.
Follow mode sticks to the bottom while lines arrive; scrolling up stops it, ``end``/``G``
resumes it. Wrap is a toggle: wrapped rows are an index (line, offset) rebuilt on width change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from cnp_tui.core.models import LogLine
from cnp_tui.ui.palette import style_of
from cnp_tui.ui.widgets.lines import LineScrollView

MARKS = {
    "tool": "→ ",
    "tool_result": "  ",
    "stderr": "! ",
    "engine": "# ",
    "system": "· ",
    "result": "= ",
}
STREAM_COLOUR = {
    "stderr": "error",
    "tool": "secondary",
    "tool_result": "foreground-muted",
    "engine": "warning",
    "system": "foreground-muted",
    "result": "success",
}


class LogView(LineScrollView, can_focus=True):
    """The log of one execution."""

    DEFAULT_CSS = """
    LogView { background: $surface; }
    """
    BINDINGS: ClassVar = [
        Binding("end,G", "follow", "Follow", id="log.follow"),
        Binding("home,g", "top", "Top", show=False, id="log.top"),
        Binding("w", "wrap", "Wrap", id="log.wrap"),
        Binding("up,k", "scroll_up", "Up", show=False, id="log.up"),
        Binding("down,j", "scroll_down", "Down", show=False, id="log.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="log.page_up"),
        Binding("pagedown,space", "page_down", "Page down", show=False, id="log.page_down"),
    ]

    class FollowChanged(Message):
        def __init__(self, following: bool) -> None:
            super().__init__()
            self.following = following

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[tuple[int, str, str]] = []
        self.last_seq = 0
        self.following = True
        self.wrap = False
        self.search: str = ""
        self.match_line: int | None = None
        self._rows: list[tuple[int, int]] | None = None  # wrapped: (line index, start offset)
        self._width = 0
        self._styles: dict[str, Style] = {}

    # --- content ---------------------------------------------------------------------------

    def add_lines(self, lines: Iterable[LogLine]) -> int:
        """Append lines newer than the last seq seen (duplicates are dropped); count added."""
        added = 0
        for line in lines:
            if line.seq <= self.last_seq:
                continue
            self.last_seq = line.seq
            self.lines.append((line.seq, line.stream, line.text.replace("\t", "    ")))
            added += 1
        if added:
            self._rows = None
            self._update_size()
            if self.following:
                self._to_end()
            self.refresh()
        return added

    def _to_end(self) -> None:
        # The new virtual size takes effect at the next layout: scroll after it.
        self.call_after_refresh(self.scroll_end, animate=False, immediate=True)

    def text_of(self) -> list[str]:
        return [text for _, _, text in self.lines]

    # --- layout ----------------------------------------------------------------------------

    def _prefix(self, stream: str) -> str:
        return MARKS.get(stream, "")

    def _build_rows(self) -> list[tuple[int, int]]:
        width = max(10, self.scrollable_content_region.width)
        rows: list[tuple[int, int]] = []
        for index, (_, stream, text) in enumerate(self.lines):
            length = len(self._prefix(stream)) + len(text)
            rows.extend((index, start) for start in range(0, max(length, 1), width))
        return rows

    def _row_count(self) -> int:
        if not self.wrap:
            return len(self.lines)
        if self._rows is None or self._width != self.scrollable_content_region.width:
            self._width = self.scrollable_content_region.width
            self._rows = self._build_rows()
        return len(self._rows)

    def _update_size(self) -> None:
        widest = 0 if self.wrap else max((len(t) + 2 for _, _, t in self.lines[-2000:]), default=0)
        self.virtual_size = Size(max(widest, self._longest_hint()), self._row_count())

    def _longest_hint(self) -> int:
        return 0 if self.wrap else self.scrollable_content_region.width

    def on_resize(self) -> None:
        self._rows = None
        self._update_size()

    def notify_style_update(self) -> None:
        self._styles.clear()
        super().notify_style_update()

    def _style(self, stream: str) -> Style:
        if stream not in self._styles:
            self._styles[stream] = style_of(self.app, STREAM_COLOUR.get(stream, ""))
        return self._styles[stream]

    # --- rendering -------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        base = self.base_style
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        if row >= self._row_count():
            return Strip.blank(width, base)
        if self.wrap:
            assert self._rows is not None
            index, start = self._rows[row]
        else:
            index, start = row, scroll_x

        def draw() -> Strip:
            _, stream, text = self.lines[index]
            piece = (self._prefix(stream) + text)[start : start + width]
            segments = self._highlight(piece, base + self._style(stream), index)
            return Strip(segments).adjust_cell_length(width, base)

        # A stored line never changes: following a live log, most were drawn a frame ago.
        return self.strip((index, start, width, base, self.search, index == self.match_line), draw)

    def _highlight(self, piece: str, style: Style, index: int) -> list[Segment]:
        if not self.search or self.search.lower() not in piece.lower():
            return [Segment(piece, style)]
        mark = style + Style(reverse=True, bold=index == self.match_line)
        segments: list[Segment] = []
        lower, needle, pos = piece.lower(), self.search.lower(), 0
        while (found := lower.find(needle, pos)) >= 0:
            segments.append(Segment(piece[pos:found], style))
            segments.append(Segment(piece[found : found + len(needle)], mark))
            pos = found + len(needle)
        segments.append(Segment(piece[pos:], style))
        return segments

    # --- follow / scroll -------------------------------------------------------------------

    def _set_following(self, following: bool) -> None:
        if following != self.following:
            self.following = following
            self.post_message(self.FollowChanged(following))

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new < old and new < self.max_scroll_y:
            self._set_following(False)
        elif new >= self.max_scroll_y:
            self._set_following(True)

    def action_follow(self) -> None:
        self._set_following(True)
        self._to_end()

    def action_top(self) -> None:
        self._set_following(False)
        self.scroll_home(animate=False, immediate=True)

    def action_wrap(self) -> None:
        self.wrap = not self.wrap
        self._rows = None
        self.scroll_to(x=0, animate=False, immediate=True)
        self._update_size()
        if self.following:
            self._to_end()
        self.refresh()

    # --- search ----------------------------------------------------------------------------

    def find(self, needle: str, *, forward: bool = True) -> int | None:
        """Select the next line containing ``needle`` (case-insensitive) and scroll to it."""
        self.search = needle
        if not needle:
            self.match_line = None
            self.refresh()
            return None
        needle = needle.lower()
        count = len(self.lines)
        start = self.match_line if self.match_line is not None else -1
        for step in range(1, count + 1):
            index = (start + step if forward else start - step) % count
            if needle in self.lines[index][2].lower():
                self.match_line = index
                self._set_following(False)
                row = index
                if self.wrap:
                    self._row_count()
                    assert self._rows is not None
                    row = next(r for r, (i, _) in enumerate(self._rows) if i == index)
                self.scroll_to(
                    y=max(0, row - self.scrollable_content_region.height // 2),
                    animate=False,
                    immediate=True,
                )
                self.refresh()
                return index
        self.match_line = None
        self.refresh()
        return None
