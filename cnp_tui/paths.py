"""Where cnp keeps its files (platformdirs); directories are made on first use, not at import."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "cnp"
CONFIG_NAME = "claude-pilot.toml"
DATABASE_NAME = "cnp.db"


@dataclass(frozen=True)
class Paths:
    """The home (database, state) and the config file in force."""

    home: Path
    config_file: Path | None

    @property
    def database(self) -> Path:
        return self.home / DATABASE_NAME

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


def default_home() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def resolve_paths(
    home: str | os.PathLike[str] | None = None, config: str | os.PathLike[str] | None = None
) -> Paths:
    """Apply the lookup order: flags, then ``CNP_HOME`` / ``CNP_CONFIG``, then platform dirs.

    The config file is the first of ``--config``, ``$CNP_CONFIG``, ``$HOME_DIR/claude-pilot.toml``
    and ``<platform config dir>/claude-pilot.toml`` that is given (the first two) or exists.
    """
    home_dir = Path(home or os.environ.get("CNP_HOME") or default_home()).expanduser()
    explicit = config or os.environ.get("CNP_CONFIG")
    if explicit:
        return Paths(home_dir, Path(explicit).expanduser())
    for candidate in (home_dir / CONFIG_NAME, default_config_dir() / CONFIG_NAME):
        if candidate.is_file():
            return Paths(home_dir, candidate)
    return Paths(home_dir, None)
