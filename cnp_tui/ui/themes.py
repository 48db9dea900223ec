"""Bundled themes: TOML data files in ``themes/``, validated by a pydantic model at start.

A broken file is skipped with a warning (the dashboard must open even then); the default theme
``cnp-dark`` is also built in, so it exists whatever happens to the files.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from textual.color import Color, ColorParseError
from textual.theme import Theme

from cnp_tui.service import describe_validation_error

DEFAULT_THEME = "cnp-dark"

_BUILTIN_DARK = Theme(
    name=DEFAULT_THEME,
    dark=True,
    primary="#5fafff",
    secondary="#87afd7",
    accent="#ffaf5f",
    warning="#ffd75f",
    error="#ff5f5f",
    success="#5fd787",
    foreground="#d0d0d0",
    background="#1c1c1c",
    surface="#262626",
    panel="#303030",
)


def themes_dir() -> Path:
    """``themes/`` of the source tree, or the copy bundled into the wheel."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "themes", here.parents[1] / "_themes"):
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "themes"


class ThemeColors(BaseModel):
    """The colours of a theme; Textual derives every shade from these."""

    model_config = ConfigDict(extra="forbid")
    primary: str
    secondary: str | None = None
    accent: str | None = None
    warning: str | None = None
    error: str | None = None
    success: str | None = None
    foreground: str | None = None
    background: str | None = None
    surface: str | None = None
    panel: str | None = None

    @field_validator("*")
    @classmethod
    def _colour(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                Color.parse(value)
            except ColorParseError:
                raise ValueError(f"'{value}' is not a colour (use #rrggbb or a name)") from None
        return value


class ThemeFile(BaseModel):
    """One theme file: ``name``, ``dark`` and a ``[colors]`` table."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    dark: bool = True
    colors: ThemeColors
    variables: dict[str, str] = Field(default_factory=dict)

    def to_theme(self) -> Theme:
        colors = self.colors.model_dump(exclude_none=True)
        return Theme(name=self.name, dark=self.dark, variables=self.variables, **colors)


def load_themes(directory: Path | None = None) -> tuple[list[Theme], list[str]]:
    """All valid themes of ``directory`` (the built-in default first) and a warning per bad file."""
    directory = directory or themes_dir()
    themes: dict[str, Theme] = {DEFAULT_THEME: _BUILTIN_DARK}
    warnings: list[str] = []
    for path in sorted(directory.glob("*.toml")) if directory.is_dir() else []:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            theme = ThemeFile.model_validate(data).to_theme()
        except tomllib.TOMLDecodeError as exc:
            warnings.append(f"theme file {path} is not valid TOML ({exc}); skipped")
            continue
        except ValidationError as exc:
            warnings.append(
                f"theme file {path}: {describe_validation_error(exc, 'theme')}; skipped"
            )
            continue
        except OSError as exc:
            warnings.append(f"theme file {path} cannot be read ({exc.strerror}); skipped")
            continue
        themes[theme.name] = theme
    return list(themes.values()), warnings
