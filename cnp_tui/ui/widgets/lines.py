"""A base for widgets that render themselves line by line (the job table, the log)."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from rich.style import Style
from textual.geometry import Region
from textual.scroll_view import ScrollView
from textual.strip import Strip


class LineScrollView(ScrollView):
    """A ScrollView that draws each distinct line once.

    ``base_style`` is computed once per render pass: ``rich_style`` walks the styles of every
    ancestor, and asked for on each line it was most of the cost of a repaint while a log
    streams in. ``strip(key, draw)`` keeps drawn lines by what they show, so a repaint (a key,
    a tick, a scroll of a live log) draws only the lines that changed.
    """

    STRIP_CACHE = 2_000  # lines kept; far more than any screen shows
    _base: Style | None = None

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._strips: dict[Hashable, Strip] = {}

    def render_lines(self, crop: Region) -> list[Strip]:
        self._base = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._base = None

    @property
    def base_style(self) -> Style:
        """The widget's own Rich style (background and colour)."""
        return self._base or self.rich_style

    def strip(self, key: Hashable, draw: Callable[[], Strip]) -> Strip:
        """The line drawn for ``key`` (everything it shows), drawn now if it is new."""
        found = self._strips.get(key)
        if found is None:
            if len(self._strips) >= self.STRIP_CACHE:
                self._strips.clear()
            found = self._strips[key] = draw()
        return found

    def notify_style_update(self) -> None:
        self._strips.clear()  # a theme switch recolours every line
        super().notify_style_update()
