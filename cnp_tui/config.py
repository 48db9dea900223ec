"""The global config file (``claude-pilot.toml``), as pydantic models.

Looked up in ``--config``, ``$CNP_CONFIG``, ``$CNP_HOME/claude-pilot.toml``, then the platform
config dir; every key has a default, so no file is needed. Environment variables
``CNP_<SECTION>__<KEY>`` override the file (``CNP_JOB_ENGINE__MAX_CONCURRENT_JOBS=4``).
Durations are strings like ``"30s"``, ``"15m"``, ``"1h30m"``.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from cnp_tui.core.durations import DurationError
from cnp_tui.core.models import Duration
from cnp_tui.core.schedule import ScheduleError, get_zone
from cnp_tui.errors import ConfigError

ENV_PREFIX = "CNP_"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic would read `true` as 1; in a config file that is always a mistake.
        if (
            isinstance(value, bool)
            and cls.model_fields[info.field_name or ""].annotation is not bool
        ):
            raise ValueError("expected a number or a duration, not true/false")
        return value


class JobEngineConfig(Section):
    max_concurrent_jobs: int = Field(default=10, ge=1, le=10_000)
    """Executions running at once across all jobs (the global semaphore)."""
    cleanup_retention_days: int = Field(default=30, ge=0)
    """Finished executions (and their logs) older than this are deleted; 0 keeps them forever."""
    health_check_interval: Duration = Field(default=30.0, gt=0)
    """How often the engine runs its housekeeping (retention, lease check)."""
    heartbeat_interval: Duration = Field(default=10.0, gt=0)
    """How often the engine renews its lease; a lease silent for 3 intervals is taken over."""
    metrics_enabled: bool = True
    """Collect metrics for the API's /api/jobs/metrics endpoint."""


class SchedulerConfig(Section):
    tick_interval: Duration = Field(default=1.0, gt=0, le=60)
    """How often the engine looks for changes made by other processes (CLI, API) to the database."""
    timezone: str = "UTC"
    """Default IANA time zone of cron jobs that set none."""
    max_missed_runs: int = Field(default=3, ge=1, le=1000)
    """At most this many missed slots are caught up per job (catch_up = all)."""
    misfire_grace: Duration = Field(default=60.0, ge=0)
    """A slot later than this when the engine sees it counts as missed (catch-up policy applies)."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        get_zone(value)
        return value


class ExecutorConfig(Section):
    claude_cli_path: str = "claude"
    """The claude executable, split like a shell would (`npx @anthropic-ai/claude-code@latest`)."""
    default_timeout: Duration = Field(default=900.0, gt=0)
    """Timeout of executions whose job sets none."""
    shutdown_grace: Duration = Field(default=30.0, ge=0)
    """On SIGINT/SIGTERM, running executions get this long to finish before being terminated."""
    kill_grace: Duration = Field(default=5.0, ge=0)
    """After SIGTERM (timeout, cancel), wait this long before SIGKILL."""
    max_log_lines: int = Field(default=20_000, ge=100)
    """Log lines kept per execution; beyond, the middle is dropped and a marker says how much."""
    sample_interval: Duration = Field(default=1.0, gt=0)
    """How often the process tree's memory and CPU are sampled."""


class CooldownConfig(Section):
    default_duration: Duration = Field(default=3600.0, gt=0)
    """Cooldown length when Claude reports a usage limit without a reset time."""


class DatabaseConfig(Section):
    cleanup_old_executions: bool = True
    """Apply max_execution_history and cleanup_retention_days."""
    max_execution_history: int = Field(default=1000, ge=1)
    """Finished executions kept per job; older ones are deleted with their logs."""


class UiConfig(Section):
    theme: str = "cnp-dark"
    """Dashboard theme: a theme name from themes/ (cnp-dark, cnp-light, cnp-high-contrast) or a
    built-in Textual theme; `--theme NAME` overrides it."""
    keys: dict[str, str] = Field(default_factory=dict)
    """Key overrides: binding id = key(s), e.g. `"job.execute" = "ctrl+x"` or `"app.quit" = "q,f10"`
    (ids are listed in the dashboard's help, `?`)."""


class Settings(BaseModel):
    """Every setting of cnp; each section is a table of the TOML file."""

    model_config = ConfigDict(extra="forbid")
    job_engine: JobEngineConfig = Field(default_factory=JobEngineConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    cooldown: CooldownConfig = Field(default_factory=CooldownConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    ui: UiConfig = Field(default_factory=UiConfig)


def _env_overrides(
    environ: Mapping[str, str],
) -> tuple[dict[str, dict[str, str]], dict[tuple[str, str], str]]:
    """The ``CNP_<SECTION>__<KEY>`` overrides, and the variable behind each (for errors)."""
    sections = list(Settings.model_fields)
    overrides: dict[str, dict[str, str]] = {}
    names: dict[tuple[str, str], str] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section not in sections:
            guess = difflib.get_close_matches(section, sections, n=1)
            hint = (
                f"did you mean CNP_{guess[0].upper()}__{key.upper()}?"
                if guess
                else (f"sections are {', '.join(sections)}")
            )
            raise ConfigError(
                f"environment variable {name}: no config section '{section}'", hint=hint
            )
        overrides.setdefault(section, {})[key] = value
        names[(section, key)] = name
    return overrides, names


def _line_of(text: str, section: str, key: str | None) -> int | None:
    """Best-effort line number of ``[section] key`` in the TOML text (tomllib gives none)."""
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        header = re.match(r"^\s*\[([^\]]+)\]", line)
        if header:
            current = header.group(1).strip()
            if key is None and current == section:
                return number
            continue
        if current == section and key and re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return None


def _describe(
    error: ValidationError, text: str, source: str, env_names: Mapping[tuple[str, str], str]
) -> str:
    problems = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        section = loc[0] if loc else ""
        key = loc[1] if len(loc) > 1 else None
        where = f"[{section}] {key}" if key else f"[{section}]"
        variable = env_names.get((section, key or ""))
        line = _line_of(text, section, key) if text and not variable else None
        at = (
            f"environment variable {variable}"
            if variable
            else (f"{source}:{line}" if line else source)
        )
        if item["type"] == "extra_forbidden":
            choices = (
                list(Settings.model_fields[section].annotation.model_fields)  # type: ignore[union-attr]
                if key and section in Settings.model_fields
                else list(Settings.model_fields)
            )
            guess = difflib.get_close_matches(key or section, choices, n=1)
            hint = f" (did you mean {guess[0]}?)" if guess else f" (known: {', '.join(choices)})"
            problems.append(f"{at}: unknown key {where}{hint}")
        else:
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"{at}: {where}: {message} (got {item.get('input')!r})")
    return "; ".join(problems)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the config file (if any) and apply environment overrides; raise ConfigError."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    text = ""
    source = str(path) if path else "environment"
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except OSError as exc:
            raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    overrides, env_names = _env_overrides(environ)
    for section, values in overrides.items():
        table = data.setdefault(section, {})
        if isinstance(table, dict):
            table.update(values)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, text, source, env_names)) from None
    except (DurationError, ScheduleError) as exc:
        raise ConfigError(f"{source}: {exc}") from None
