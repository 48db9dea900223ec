"""A base for widgets that render themselves line by line (the job table, the log)."""

from __future__ import annotations

from rich.style import Style
from textual.geometry import Region
from textual.scroll_view import ScrollView
from textual.strip import Strip


class LineScrollView(ScrollView):
    """A ScrollView whose ``base_style`` is computed once per render pass.

    ``rich_style`` walks the styles of every ancestor; asked for on each line it was most of
    the cost of a repaint while a log streams in.
    """

    _base: Style | None = None

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
