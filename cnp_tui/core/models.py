"""The domain, named by lifecycle: a ``Prompt`` is run by a ``Job`` on a ``Schedule``; every run
is an ``Execution`` with its log lines.

These pydantic models are the one description of the data: the store maps them to rows, the CLI
prints them with ``--format json``, and the job file format (YAML) validates through them. Field
names follow the Job entity of the spec; the job file's section names (``execution``, ``retry``,
``notifications``) are accepted as aliases.
"""

from __future__ import annotations

import math
import re
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cnp_tui.core import schedule as schedule_maths
from cnp_tui.core.durations import parse_duration


def _duration(value: Any) -> Any:
    if type(value) is float and 0.0 <= value < math.inf:
        return value  # the common case (read back from the store): already seconds
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float | str):
        return parse_duration(value)
    return value


Duration = Annotated[float, BeforeValidator(_duration)]
"""Seconds; accepts numbers or strings like ``90s``, ``15m``, ``1h30m``."""


def new_id(prefix: str = "") -> str:
    """A short random id (12 hex chars), optionally prefixed."""
    return prefix + secrets.token_hex(6)


def utc(value: datetime) -> datetime:
    """Normalise an aware datetime to UTC (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class CnpModel(BaseModel):
    """Base: unknown fields are errors (a typo in a job file must not pass silently)."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, use_enum_values=False, defer_build=True
    )


# --- prompts ---------------------------------------------------------------------------------


class Prompt(CnpModel):
    """A reusable prompt text."""

    id: str = Field(
        description="Slug like `code-quality-check`; generated from the title if omitted."
    )
    title: str = Field(min_length=1, description="Human title.")
    content: str = Field(min_length=1, description="The prompt text given to `claude -p`.")
    tags: list[str] = Field(default_factory=list, description="Free-form labels.")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("id")
    @classmethod
    def _check_slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(
                f"'{value}' is not a valid prompt id: use lowercase letters, digits, '-', '_'"
                " or '.', starting with a letter or digit (like code-quality-check)"
            )
        return value


def slugify(text: str) -> str:
    """Turn a title into a prompt id (``Daily Report!`` -> ``daily-report``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48]
    return slug or new_id("prompt-")


# --- jobs ------------------------------------------------------------------------------------


class ScheduleType(StrEnum):
    CRON = "cron"
    INTERVAL = "interval"
    ONCE = "once"


class Schedule(CnpModel):
    """When a job fires: a cron expression, an interval (``every 30m``) or one ISO 8601 time."""

    type: ScheduleType = Field(description="cron | interval | once")
    expression: str = Field(
        description="Cron expression (5 fields, or 6 with seconds first; @daily...), interval "
        "(`every 30m`) or ISO 8601 time (`2026-12-01T09:00`)."
    )
    timezone: str | None = Field(
        default=None,
        description="IANA time zone for cron and naive once times; default [scheduler] timezone.",
    )

    @model_validator(mode="after")
    def _check_expression(self, info: ValidationInfo) -> Schedule:
        if info.context and info.context.get("trusted"):
            return self  # read back from the store: validated when it was written
        tz = self.timezone or "UTC"
        schedule_maths.get_zone(tz)
        if self.type is ScheduleType.CRON:
            schedule_maths.CronTrigger(self.expression, tz)
        elif self.type is ScheduleType.INTERVAL:
            schedule_maths.parse_interval(self.expression)
        else:
            schedule_maths.parse_once(self.expression, tz)
        return self

    def trigger(self, anchor: datetime, default_timezone: str = "UTC") -> schedule_maths.Trigger:
        """The trigger that computes fire times; interval slots are counted from ``anchor``."""
        return schedule_maths.build_trigger(
            self.type.value, self.expression, self.timezone or default_timezone, anchor
        )

    def describe(self, default_timezone: str = "UTC") -> str:
        """Plain words, e.g. ``At 09:00 every day (Asia/Taipei)``."""
        return self.trigger(datetime.now(UTC), default_timezone).describe()


class RetryStrategy(StrEnum):
    FIXED = "fixed"
    EXPONENTIAL_BACKOFF = "exponential_backoff"
    LINEAR = "linear"
    CUSTOM = "custom"


class RetryConfig(CnpModel):
    """How failed attempts are retried. Each attempt is its own execution."""

    max_attempts: int = Field(
        default=3, ge=1, le=100, description="Attempts in all, the first included."
    )
    strategy: RetryStrategy = Field(default=RetryStrategy.EXPONENTIAL_BACKOFF)
    initial_interval: Duration = Field(
        default=60.0, ge=0, description="First delay (seconds or `1m`)."
    )
    max_interval: Duration = Field(
        default=3600.0, ge=0, description="Cap on any delay; 0 = no cap."
    )
    multiplier: float = Field(
        default=2.0, ge=1.0, description="Growth factor for exponential_backoff."
    )
    delays: list[Duration] = Field(
        default_factory=list, description="Delays for the custom strategy; the last repeats."
    )
    jitter: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Random spread, a fraction (0.1 = ±10%)."
    )

    @model_validator(mode="after")
    def _custom_needs_delays(self) -> RetryConfig:
        if self.strategy is RetryStrategy.CUSTOM and not self.delays:
            raise ValueError(
                "the custom retry strategy needs a list of delays, e.g. delays: [30s, 5m, 30m]"
            )
        return self


class PermissionMode(StrEnum):
    DEFAULT = "default"
    ACCEPT_EDITS = "acceptEdits"
    PLAN = "plan"
    BYPASS_PERMISSIONS = "bypassPermissions"


class ClaudeOptions(CnpModel):
    """Options passed to the claude CLI as flags."""

    model: str | None = Field(default=None, description="--model")
    fallback_model: str | None = Field(default=None, description="--fallback-model")
    max_turns: int | None = Field(default=None, ge=1, description="--max-turns")
    max_budget_usd: float | None = Field(default=None, gt=0, description="--max-budget-usd")
    allowed_tools: list[str] = Field(default_factory=list, description="--allowedTools")
    disallowed_tools: list[str] = Field(default_factory=list, description="--disallowedTools")
    permission_mode: PermissionMode | None = Field(default=None, description="--permission-mode")
    skip_permissions: bool = Field(default=False, description="--dangerously-skip-permissions")
    append_system_prompt: str | None = Field(default=None, description="--append-system-prompt")
    add_dirs: list[str] = Field(default_factory=list, description="--add-dir")
    mcp_config: str | None = Field(default=None, description="--mcp-config")
    extra_args: list[str] = Field(default_factory=list, description="Further argv, appended as is.")


class ExecutionOptions(CnpModel):
    """How one execution of the job runs."""

    timeout_seconds: Duration | None = Field(
        default=None,
        gt=0,
        description="Kill the run after this long; default [executor] default_timeout.",
    )
    max_parallel: int = Field(
        default=1, ge=1, le=1000, description="Executions of this job at once."
    )
    working_directory: str | None = Field(default=None, description="cwd of the claude process.")
    environment: dict[str, str] = Field(
        default_factory=dict, description="Extra environment variables."
    )
    claude: ClaudeOptions = Field(default_factory=ClaudeOptions)


class ResourceLimits(CnpModel):
    """Limits on the whole process tree of one execution."""

    max_memory_mb: float | None = Field(
        default=None, gt=0, description="RSS over this ends the run."
    )
    max_cpu_percent: float | None = Field(default=None, gt=0, description="Over this is logged.")


class NotificationChannel(CnpModel):
    """Base of the delivery channels; ``type`` picks the kind (see docs/notifications.md)."""

    type: str

    def describe(self) -> str:
        """Short text naming the channel (lists, logs)."""
        return self.type


class WebhookChannel(NotificationChannel):
    """POST to an HTTP endpoint: plain json, a Slack or a Discord incoming webhook."""

    type: Literal["webhook"] = "webhook"
    url: str = Field(pattern=r"^https?://", description="http(s) URL that receives the POST.")
    format: Literal["json", "slack", "discord"] = Field(
        default="json", description="Payload shape: json (cnp schema), slack or discord."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers.")
    secret: str | None = Field(
        default=None, description="Key of the X-Cnp-Signature HMAC-SHA256 header."
    )
    secret_env: str | None = Field(
        default=None, description="Name of an environment variable holding the secret instead."
    )

    def describe(self) -> str:
        return f"webhook {self.url}"


class EmailChannel(NotificationChannel):
    """Mail through [notifications.smtp]."""

    type: Literal["email"] = "email"
    recipients: list[str] = Field(min_length=1, description="Addresses to mail.")

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not re.match(r"^[^@\s]+@[^@\s]+$", address):
                raise ValueError(f"'{address}' is not an email address (like ops@example.com)")
        return value

    def describe(self) -> str:
        return "email " + ", ".join(self.recipients)


class SystemChannel(NotificationChannel):
    """The desktop (notify-send) or, without one, the terminal (bell / OSC 9) and a toast."""

    type: Literal["system"] = "system"


class LogChannel(NotificationChannel):
    """A line in the engine log."""

    type: Literal["log"] = "log"
    level: Literal["debug", "info", "warning", "error"] = "info"


AnyChannel = Annotated[
    WebhookChannel | EmailChannel | SystemChannel | LogChannel, Field(discriminator="type")
]
"""One channel of any kind, chosen by its ``type``."""


class NotificationConfig(CnpModel):
    """When and where to notify about this job (delivered by the notification service).

    ``on_failure: true`` alerts once when a job starts failing (a run fails for good after its
    retries) and ``on_recovery`` once when it succeeds again; ``on_failure: every`` alerts on
    each failed run. With no channels, ``[notifications] default_channels`` are used.
    """

    on_start: bool = False
    on_success: bool = False
    on_failure: bool | Literal["every"] = True
    on_retry: bool = False
    on_cooldown: bool = False
    on_recovery: bool = True
    channels: list[AnyChannel] = Field(default_factory=list)


class CatchUp(StrEnum):
    """What happens to slots missed while no engine ran."""

    NONE = "none"
    LATEST = "latest"
    ALL = "all"


class JobStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"


# The job file's section names, as written by export (the spec's format).
SECTION_ALIASES = {
    "execution_options": "execution",
    "retry_config": "retry",
    "notification_config": "notifications",
}


class JobSpec(CnpModel):
    """What a user defines about a job (the job file format); the engine adds the rest."""

    name: str = Field(min_length=1, max_length=200, description="Unique name.")
    prompt_id: str = Field(description="Id of the prompt to run.")
    schedule: Schedule
    priority: int = Field(default=5, ge=1, le=10, description="1-10; 10 runs first.")
    execution_options: ExecutionOptions = Field(
        default_factory=ExecutionOptions,
        validation_alias=AliasChoices("execution_options", "execution"),
    )
    retry_config: RetryConfig = Field(
        default_factory=RetryConfig, validation_alias=AliasChoices("retry_config", "retry")
    )
    notification_config: NotificationConfig | None = Field(
        default=None, validation_alias=AliasChoices("notification_config", "notifications")
    )
    resource_limits: ResourceLimits = Field(default_factory=ResourceLimits)
    catch_up: CatchUp = Field(default=CatchUp.LATEST, description="none | latest | all")
    tags: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the job name is empty")
        return value


class Job(JobSpec):
    """A job as stored: the spec plus identity, status, statistics and times."""

    id: str = Field(default_factory=new_id)
    status: JobStatus = JobStatus.ACTIVE
    execution_count: int = 0
    failure_count: int = 0
    avg_execution_time_ms: float | None = None
    success_rate: float | None = None
    last_status: ExecutionStatus | None = None
    next_run_time: datetime | None = None
    last_run_time: datetime | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def spec(self) -> JobSpec:
        """The user-defined part (what a job file holds)."""
        return JobSpec.model_validate(self.model_dump(include=set(JobSpec.model_fields)))


# --- executions ------------------------------------------------------------------------------


class ExecutionStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self not in (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)


class ExecutionTrigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    RETRY = "retry"
    CATCH_UP = "catch_up"


class TokenUsage(CnpModel):
    """Token counts from claude's result event."""

    model_config = ConfigDict(extra="allow")
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


class ResourceUsage(CnpModel):
    """Usage of the whole process tree, sampled with psutil while it ran."""

    peak_rss_mb: float | None = None
    cpu_seconds: float | None = None
    avg_cpu_percent: float | None = None
    max_cpu_percent: float | None = None
    samples: int = 0


class Execution(CnpModel):
    """One run (attempt) of a job."""

    id: str = Field(default_factory=lambda: new_id())
    job_id: str
    status: ExecutionStatus = ExecutionStatus.QUEUED
    trigger: ExecutionTrigger = ExecutionTrigger.SCHEDULE
    scheduled_for: datetime
    attempt: int = 1
    priority: int = 5
    run_after: datetime | None = Field(default=None, description="Not before (retries, cooldown).")
    retry_of: str | None = Field(default=None, description="The execution this one retries.")
    queued_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    execution_time_ms: int | None = None
    exit_code: int | None = None
    output: str | None = None
    error: str | None = None
    session_id: str | None = None
    cost_usd: float | None = None
    usage: TokenUsage | None = None
    num_turns: int | None = None
    resource_usage: ResourceUsage | None = None
    owner: str | None = Field(default=None, description="Engine that ran it.")
    pid: int | None = None
    cancel_requested: bool = False
    log_lines: int = 0
    log_dropped: int = 0


class LogStream(StrEnum):
    ASSISTANT = "assistant"
    TOOL = "tool"
    TOOL_RESULT = "tool_result"
    SYSTEM = "system"
    RESULT = "result"
    STDOUT = "stdout"
    STDERR = "stderr"
    ENGINE = "engine"


class LogLine(CnpModel):
    """One stored line of an execution's log."""

    execution_id: str
    seq: int
    ts: datetime
    stream: str
    text: str


# --- engine state ----------------------------------------------------------------------------


class Cooldown(CnpModel):
    """Claude's usage limit is in force until ``until``; no new execution starts before."""

    until: datetime
    reason: str
    detected_at: datetime
    execution_id: str | None = None

    def active(self, now: datetime) -> bool:
        return self.until > now

    def seconds_left(self, now: datetime) -> float:
        return max(0.0, (self.until - now).total_seconds())


class Lease(CnpModel):
    """The lease of the engine that owns the database."""

    owner: str
    pid: int
    host: str
    started_at: datetime
    heartbeat_at: datetime


Job.model_rebuild()
