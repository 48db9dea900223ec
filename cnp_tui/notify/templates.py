"""Subject and body templates (``string.Template``: ``${job_name}``...).

Defaults exist for every event and channel; ``[notifications] template_directory`` may override
any of them with files named ``<event>.subject`` / ``<event>.body`` (all channels) or
``<event>.<channel>.subject`` / ``<event>.<channel>.body`` (one channel: webhook, slack, discord,
email, system, log). Every file is checked when the templates are loaded: an unknown variable or
file name is a ConfigError naming the file, not a surprise at 3 a.m.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template

from cnp_tui.errors import ConfigError

VARIABLES: tuple[str, ...] = (
    "job_name",
    "job_id",
    "status",
    "trigger",
    "attempt",
    "duration",
    "started_at",
    "error",
    "output_excerpt",
    "cost_usd",
    "next_run_time",
    "execution_id",
    "cooldown_until",
    "event",
)
"""The variables a template may use."""

EVENTS: tuple[str, ...] = (
    "start",
    "success",
    "failure",
    "retry",
    "cooldown",
    "recovery",
    "test",
)
"""Kinds of notification that have templates (rate-limit summaries are built in code)."""

KINDS: tuple[str, ...] = ("webhook", "slack", "discord", "email", "system", "log")
"""Template variants: the channel type, or for webhooks their format."""

_SUBJECTS: dict[str, str] = {
    "start": "▶ ${job_name} started (attempt ${attempt})",
    "success": "✓ ${job_name} succeeded in ${duration}",
    "failure": "✗ ${job_name} failed: ${status}",
    "retry": "↻ ${job_name} failed (attempt ${attempt}); retrying",
    "cooldown": "⏸ Claude usage limit: ${job_name} waits until ${cooldown_until}",
    "recovery": "✓ ${job_name} recovered",
    "test": "cnp test notification",
}

_BODY = """Job: ${job_name} (${job_id})
Status: ${status} (trigger ${trigger}, attempt ${attempt})
Started: ${started_at}, took ${duration}, cost ${cost_usd}
Error: ${error}
Next run: ${next_run_time}
Execution: ${execution_id}

${output_excerpt}"""

_SHORT_BODY = "${job_name}: ${status} (attempt ${attempt}, ${duration}) ${error}"

_CHAT_BODY = """*${job_name}* — ${status} (attempt ${attempt}, ${trigger})
Took ${duration}, cost ${cost_usd}; next run ${next_run_time}
Error: ${error}
```${output_excerpt}```"""

_SPECIAL_BODIES: dict[str, str] = {
    "cooldown": "Claude's usage limit was reached; ${job_name} and every other job wait until "
    "${cooldown_until}. Error: ${error}",
    "test": "This is a test notification from cnp: if you read it, the channel works.",
}


@dataclass(frozen=True)
class Rendered:
    """A rendered notification."""

    subject: str
    body: str


def _default_body(event: str, kind: str) -> str:
    if event in _SPECIAL_BODIES:
        return _SPECIAL_BODIES[event]
    if kind in ("slack", "discord"):
        return _CHAT_BODY
    if kind in ("system", "log"):
        return _SHORT_BODY
    return _BODY


def _check(text: str, source: str) -> Template:
    template = Template(text)
    if not template.is_valid():
        raise ConfigError(
            f"template {source}: a '$' that is not a variable",
            hint="write variables as ${job_name}, and a literal dollar as $$",
        )
    unknown = [name for name in template.get_identifiers() if name not in VARIABLES]
    if unknown:
        raise ConfigError(
            f"template {source}: unknown variable ${{{unknown[0]}}}",
            hint="known variables: " + ", ".join(VARIABLES),
        )
    return template


class Templates:
    """Every (event, kind) -> subject and body template, defaults plus overrides."""

    def __init__(self, overrides: Mapping[str, tuple[Template, str]] | None = None) -> None:
        self._overrides = dict(overrides or {})

    @classmethod
    def load(cls, directory: str | Path | None) -> Templates:
        """Read and check the overrides in ``directory`` (None: defaults only)."""
        if directory is None:
            return cls()
        root = Path(directory).expanduser()
        if not root.is_dir():
            raise ConfigError(
                f"[notifications] template_directory {root} is not a directory",
                hint="create it, or remove the setting to use the default templates",
            )
        overrides: dict[str, tuple[Template, str]] = {}
        for path in sorted(root.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            parts = path.name.split(".")
            valid = (
                len(parts) in (2, 3)
                and parts[0] in EVENTS
                and parts[-1] in ("subject", "body")
                and (len(parts) == 2 or parts[1] in KINDS)
            )
            if not valid:
                raise ConfigError(
                    f"template {path}: the name is not <event>[.<channel>].subject|body",
                    hint=f"events: {', '.join(EVENTS)}; channels: {', '.join(KINDS)}",
                )
            text = path.read_text(encoding="utf-8")
            if parts[-1] == "subject":
                text = text.strip()
            overrides[".".join(parts)] = (_check(text, str(path)), str(path))
        return cls(overrides)

    def _template(self, event: str, kind: str, part: str) -> Template:
        for key in (f"{event}.{kind}.{part}", f"{event}.{part}"):
            if key in self._overrides:
                return self._overrides[key][0]
        text = _SUBJECTS[event] if part == "subject" else _default_body(event, kind)
        return Template(text)

    def render(self, event: str, kind: str, variables: Mapping[str, str]) -> Rendered:
        """Subject and body of ``event`` for ``kind`` (all VARIABLES must be in ``variables``)."""
        subject = self._template(event, kind, "subject").substitute(variables)
        body = self._template(event, kind, "body").substitute(variables)
        return Rendered(" ".join(subject.split()), body.strip())


def check_defaults() -> None:
    """The built-in templates use known variables only (a unit test calls this)."""
    for event in EVENTS:
        _check(_SUBJECTS[event], f"default {event}.subject")
        for kind in KINDS:
            _check(_default_body(event, kind), f"default {event}.{kind}.body")
