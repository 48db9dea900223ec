"""Rich styles from the current theme's variables (alpha blended onto the background)."""

from __future__ import annotations

from functools import lru_cache

from rich.style import Style
from textual.app import App
from textual.color import Color


@lru_cache(maxsize=512)
def _style(value: str, background: str, bold: bool) -> Style:
    try:
        colour = Color.parse(value)
        if colour.a < 1 and background:
            colour = Color.parse(background).blend(colour, colour.a).with_alpha(1)
    except Exception:
        return Style(bold=bold)
    return Style(color=colour.rich_color, bold=bold)


def style_of(app: App[object], name: str, *, bold: bool = False) -> Style:
    """The style of theme variable ``name`` (``success``, ``error``, ...); plain if unknown."""
    if not name:
        return Style(bold=bold)
    variables = app.theme_variables
    value = variables.get(name)
    if not value:
        return Style(bold=bold)
    return _style(value, variables.get("surface", ""), bold)
