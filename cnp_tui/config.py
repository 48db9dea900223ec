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
from typing import Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from cnp_tui.core.durations import DurationError
from cnp_tui.core.models import AnyChannel, Duration, LogChannel
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
    session_timeout: Duration = Field(default=3600.0, gt=0)
    """Hard cap on one claude session (execution), whatever the job's timeout_seconds says."""

    def effective_timeout(self, timeout_seconds: float | None) -> float:
        """The timeout of one execution: the job's (or default_timeout), capped by
        session_timeout."""
        return min(timeout_seconds or self.default_timeout, self.session_timeout)


class CooldownConfig(Section):
    default_duration: Duration = Field(default=3600.0, gt=0)
    """Cooldown length when Claude reports a usage limit without a reset time."""


class DatabaseConfig(Section):
    cleanup_old_executions: bool = True
    """Apply max_execution_history and cleanup_retention_days."""
    max_execution_history: int = Field(default=1000, ge=1)
    """Finished executions kept per job; older ones are deleted with their logs."""


class ApiConfig(Section):
    enabled: bool = False
    """Serve the REST + WebSocket API from the engine process (or pass `cnp --no-ui --api PORT`)."""
    host: str = "127.0.0.1"
    """Address to bind; anything but loopback needs a token (always the case unless disabled)."""
    port: int = Field(default=8765, ge=0, le=65535)
    """TCP port; 0 picks a free one (tests)."""
    token_env: str | None = None
    """Name of an environment variable holding the bearer token; unset: a token is generated
    on first start into `api-token` (mode 0600) in the home, and `cnp api token` prints it."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """Request bodies larger than this are refused with 413."""
    ws_send_queue: int = Field(default=1000, ge=1)
    """Messages waiting for one WebSocket client; a client that falls this far behind is
    closed (code 1013) instead of slowing the engine down."""


def parse_bind(value: str) -> tuple[str | None, int]:
    """``[HOST:]PORT`` of ``--api`` (``[::1]:8080`` for IPv6); raise ConfigError."""
    host: str | None = None
    port_text = value
    if ":" in value:
        host, _, port_text = value.rpartition(":")
        host = host.strip("[]") or None
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError(f"--api {value!r}: expected [HOST:]PORT, like 8765 or 0.0.0.0:8765")
    return host, port


class SmtpConfig(Section):
    host: str = "localhost"
    """SMTP server that sends notification mail."""
    port: int = Field(default=25, ge=1, le=65535)
    """Its port: 25 (none), 587 (starttls) or 465 (tls) as a rule."""
    username: str | None = None
    """Login name; no login when empty."""
    password_env: str | None = None
    """NAME of the environment variable holding the password (it is never stored)."""
    security: Literal["none", "starttls", "tls"] = "none"
    """none, starttls (upgrade after connecting) or tls (implicit TLS from the start)."""
    from_address: str = "cnp@localhost"
    """The From: address of notification mail."""
    timeout: Duration = Field(default=30.0, gt=0)
    """Give up on a connection or a reply after this long."""


class NotificationsConfig(Section):
    rate_limit_per_hour: int = Field(default=100, ge=0)
    """Notifications sent per rolling hour across all channels (0 = no limit); beyond it they
    are folded into one summary per channel, sent when the window reopens, never dropped."""
    template_directory: str | None = None
    """Directory of template overrides: <event>.subject / <event>.body, optionally
    <event>.<channel>.subject (see docs/notifications.md); checked at start."""
    default_channels: list[AnyChannel] = Field(default_factory=lambda: [LogChannel()])
    """Channels of jobs that name none, e.g. [{ type = "system" }, { type = "log" }]."""
    max_attempts: int = Field(default=5, ge=1, le=100)
    """Delivery attempts per notification before it is marked failed."""
    retry_backoff: Duration = Field(default=30.0, gt=0)
    """First delay before a failed delivery is tried again; doubles each time."""
    max_backoff: Duration = Field(default=3600.0, gt=0)
    """Cap on that delay (a Retry-After header is honoured up to this)."""
    webhook_timeout: Duration = Field(default=10.0, gt=0)
    """Total time a webhook request may take."""
    max_concurrent_deliveries: int = Field(default=4, ge=1, le=100)
    """Deliveries in flight at once; a slow channel holds one of these, never the engine."""
    poll_interval: Duration = Field(default=5.0, gt=0)
    """How often the outbox is checked for rows another process (cnp notify retry) changed."""
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    """[notifications.smtp]: the mail server."""

    @field_validator("default_channels", mode="before")
    @classmethod
    def _channel_names(cls, value: Any) -> Any:
        # `default_channels = ["log", "system"]` is the short form of the tables.
        if isinstance(value, list):
            return [{"type": item} if isinstance(item, str) else item for item in value]
        return value


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
    api: ApiConfig = Field(default_factory=ApiConfig)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
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


def _section_model(section: str) -> type[BaseModel] | None:
    """The model of a table (``notifications`` or ``notifications.smtp``), if it is one."""
    model: Any = Settings
    for part in section.split("."):
        field = model.model_fields.get(part) if isinstance(model, type) else None
        model = field.annotation if field is not None else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
    return model  # type: ignore[no-any-return]


def _describe(
    error: ValidationError, text: str, source: str, env_names: Mapping[tuple[str, str], str]
) -> list[str]:
    problems = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        section = loc[0] if loc else ""
        key = loc[1] if len(loc) > 1 else None
        if len(loc) > 2 and _section_model(f"{loc[0]}.{loc[1]}") is not None:
            section, key = f"{loc[0]}.{loc[1]}", loc[2]  # a nested table: [notifications.smtp]
        where = f"[{section}] {key}" if key else f"[{section}]"
        variable = env_names.get((section, key or ""))
        line = _line_of(text, section, key) if text and not variable else None
        at = (
            f"environment variable {variable}"
            if variable
            else (f"{source}:{line}" if line else source)
        )
        if item["type"] == "extra_forbidden":
            model = _section_model(section)
            choices = (
                list(model.model_fields)
                if key and model is not None
                else list(Settings.model_fields)
            )
            guess = difflib.get_close_matches(key or section, choices, n=1)
            hint = f" (did you mean {guess[0]}?)" if guess else f" (known: {', '.join(choices)})"
            problems.append(f"{at}: unknown key {where}{hint}")
        else:
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"{at}: {where}: {message} (got {item.get('input')!r})")
            model = Settings.model_fields.get(section)
            fields = getattr(model.annotation, "model_fields", {}) if model else {}
            if key in fields and fields[key].description:
                # What the key is for is usually the best hint at a sensible value.
                problems[-1] += f" [{key}: {fields[key].description}]"
    return problems


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
        problems = _describe(exc, text, source, env_names)
        error = ConfigError("; ".join(problems))
        error.problems = problems  # `cnp config validate` prints one per line
        raise error from None
    except (DurationError, ScheduleError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


# --- config show / validate / init (issue 6) -----------------------------------------------


def _read_table(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}  # load_settings has already reported it


def setting_sources(
    path: Path | None = None, environ: Mapping[str, str] | None = None
) -> dict[tuple[str, str], str]:
    """Where each key's value comes from: ``default``, the file (``path:line``) or the env var."""
    environ = os.environ if environ is None else environ
    data = _read_table(path)
    text = path.read_text(encoding="utf-8") if data and path is not None else ""
    _, env_names = _env_overrides(environ)
    sources: dict[tuple[str, str], str] = {}
    for section, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        table = data.get(section, {})
        for key in model.model_fields:
            if (section, key) in env_names:
                sources[(section, key)] = f"env {env_names[(section, key)]}"
            elif isinstance(table, dict) and key in table:
                line = _line_of(text, section, key)
                sources[(section, key)] = f"{path}:{line}" if line else str(path)
            else:
                sources[(section, key)] = "default"
    return sources


def is_duration(info: Any) -> bool:
    """Whether a model field is a duration, or a list of them (written like "15m")."""
    if info.annotation in (list[Duration], Duration | None):
        return True
    return any(isinstance(m, BeforeValidator) for m in info.metadata)


def toml_value(value: Any, info: Any = None) -> str:
    """``value`` as TOML writes it (durations as text when ``info`` is a duration field)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if info is not None and is_duration(info):
        from cnp_tui.core.durations import format_duration

        return f'"{format_duration(value)}"'
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, BaseModel):  # an inline table: { type = "log", level = "info" }
        data = value.model_dump(mode="json", exclude_none=True)
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in data.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return str(value)


def _table_lines(name: str, model: type[BaseModel], values: BaseModel) -> list[str]:
    """One commented TOML table; nested sections follow as [name.key] tables."""
    lines = ["", f"[{name}]"]
    nested: list[str] = []
    for key, info in model.model_fields.items():
        value = getattr(values, key)
        if isinstance(value, Section):
            nested += _table_lines(f"{name}.{key}", type(value), value)
            continue
        for doc in (info.description or "").splitlines():
            lines.append(f"# {doc.strip()}")
        if value is None:
            lines.append(f"# {key} = (not set)")
        else:
            lines.append(f"{key} = {toml_value(value, info)}")
    return lines + nested


def default_config_text() -> str:
    """A commented config file with every key at its default (``cnp config init``)."""
    lines = [
        "# cnp global config (claude-pilot.toml). Every key is optional: the values below are",
        '# the defaults. Durations are strings like "30s", "15m", "1h30m". Any key can be',
        "# overridden by an environment variable CNP_<SECTION>__<KEY>, e.g.",
        "# CNP_JOB_ENGINE__MAX_CONCURRENT_JOBS=4. Check a file with `cnp config validate FILE`.",
    ]
    defaults = Settings()
    for section, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        lines += _table_lines(section, model, getattr(defaults, section))
    return "\n".join(lines) + "\n"
