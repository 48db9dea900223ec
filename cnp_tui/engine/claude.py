"""The Claude CLI contract: resolve the executable, build the argv, parse stream-json output.

``build_argv`` never goes through a shell. The prompt is the last argument, after a ``--``
end-of-options marker: the CLI's option parser (commander) reads a positional that starts with
``-`` as an option (a prompt file opening with YAML front matter ``---`` would fail with
"unknown option"), and ``--`` also ends variadic options such as ``--allowedTools``, so no
option can swallow the prompt.

``StreamParser`` turns stdout/stderr lines into readable ``LogEntry`` rows while it collects
the session id, the final result, the first usage limit and any transient API error;
``classify`` then decides the outcome. Success requires a ``result`` event with
``subtype: "success"`` and ``is_error: false`` *and* exit code 0 — the exit code alone is not
trusted (claude-cli.md).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import Any

from cnp_tui.core.cooldown import (
    TRANSIENT_STATUSES,
    UsageLimit,
    is_transient_error,
    limit_from_event,
    limit_from_text,
)
from cnp_tui.errors import ClaudeNotFoundError

__all__ = [
    "ClaudeResult",
    "LogEntry",
    "Outcome",
    "StreamParser",
    "build_argv",
    "classify",
    "resolve_executable",
]

CLIP = 200  # longest tool call / tool result line kept in the log

# Which input field makes a tool call readable at a glance.
_TOOL_SUMMARY_KEYS: dict[str, str] = {
    "Bash": "command",
    "Read": "file_path",
    "Write": "file_path",
    "Edit": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
    "Glob": "pattern",
    "Grep": "pattern",
    "LS": "path",
    "WebFetch": "url",
    "WebSearch": "query",
    "Task": "description",
    "Agent": "description",
    "Skill": "skill",
    "SlashCommand": "command",
    "BashOutput": "bash_id",
    "KillShell": "shell_id",
}


def resolve_executable(claude_cli_path: str, path: str | None = None) -> list[str]:
    """Split ``claude_cli_path`` with shlex and make its first word an absolute path.

    A bare name is looked up on ``path`` (default: the PATH environment variable), which is
    short under cron and systemd, hence the resolution at start with a clear error.
    """
    try:
        words = shlex.split(claude_cli_path)
    except ValueError as exc:
        raise ClaudeNotFoundError(
            f"executor.claude_cli_path {claude_cli_path!r} does not parse ({exc}); "
            "fix its quoting in the config"
        ) from exc
    if not words:
        raise ClaudeNotFoundError(
            "executor.claude_cli_path is empty; set it in the config (e.g. 'claude' or an "
            "absolute path)"
        )
    word = words[0]
    resolved: str | None
    if os.sep in word or (os.altsep is not None and os.altsep in word) or word.startswith("~"):
        candidate = os.path.abspath(os.path.expanduser(word))
        is_runnable = os.path.isfile(candidate) and os.access(candidate, os.X_OK)
        resolved = candidate if is_runnable else None
    else:
        found = shutil.which(word, path=path)
        resolved = os.path.abspath(found) if found else None
    if resolved is None:
        raise ClaudeNotFoundError(
            f"claude CLI not found at '{word}'; set executor.claude_cli_path in the config "
            "(e.g. an absolute path) or put it on PATH"
        )
    return [resolved, *words[1:]]


def build_argv(
    executable: list[str],
    prompt: str,
    *,
    model: str | None = None,
    fallback_model: str | None = None,
    max_turns: int | None = None,
    max_budget_usd: float | None = None,
    allowed_tools: list[str] | None = None,
    disallowed_tools: list[str] | None = None,
    permission_mode: str | None = None,
    skip_permissions: bool = False,
    append_system_prompt: str | None = None,
    add_dirs: list[str] | None = None,
    mcp_config: str | None = None,
    resume: str | None = None,
    session_id: str | None = None,
    extra_args: list[str] | None = None,
) -> list[str]:
    """Build the headless stream-json argv; the prompt always comes last, after ``--``."""
    argv = [*executable, "-p", "--output-format", "stream-json", "--verbose"]
    if model:
        argv += ["--model", model]
    if fallback_model:
        argv += ["--fallback-model", fallback_model]
    if max_turns is not None:
        argv += ["--max-turns", str(max_turns)]
    if max_budget_usd is not None:
        argv += ["--max-budget-usd", f"{max_budget_usd:g}"]
    if permission_mode:
        argv += ["--permission-mode", permission_mode]
    if skip_permissions:
        argv.append("--dangerously-skip-permissions")
    if append_system_prompt:
        # The `=` form: free text may start with "-" and must never be read as an option.
        argv.append(f"--append-system-prompt={append_system_prompt}")
    if mcp_config:
        argv.append(f"--mcp-config={mcp_config}")
    if session_id:
        argv += ["--session-id", session_id]
    if resume:
        argv.append(f"--resume={resume}")
    if allowed_tools:
        argv += ["--allowedTools", *allowed_tools]
    if disallowed_tools:
        argv += ["--disallowedTools", *disallowed_tools]
    if add_dirs:
        argv += ["--add-dir", *add_dirs]
    if extra_args:
        argv += extra_args
    argv += ["--", prompt]
    return argv


@dataclass
class LogEntry:
    """One readable log line; ``stream`` is assistant, tool, tool_result, system, result,
    stdout or stderr."""

    stream: str
    text: str


@dataclass
class ClaudeResult:
    """The final ``result`` event of a run."""

    subtype: str
    is_error: bool
    text: str | None
    session_id: str | None
    duration_ms: int | None
    duration_api_ms: int | None
    num_turns: int | None
    cost_usd: float | None
    usage: dict[str, int] = field(default_factory=dict)
    api_error_status: int | None = None
    stop_reason: str | None = None

    @property
    def succeeded(self) -> bool:
        """True when claude itself reports success."""
        return self.subtype == "success" and not self.is_error


class StreamParser:
    """Turns claude's stdout/stderr lines into log entries and collects what the run said.

    ``usage_limit`` keeps the first limit seen (events are the most reliable and come first);
    a later signal only fills in a reset time the first one lacked.
    """

    def __init__(self, now: Callable[[], datetime], local_tz: tzinfo) -> None:
        self._now = now
        self._local_tz = local_tz
        self.session_id: str | None = None
        self.model: str | None = None
        self.result: ClaudeResult | None = None
        self.usage_limit: UsageLimit | None = None
        self.transient_error: str | None = None
        self.last_error_text: str | None = None

    def feed_stdout(self, line: str) -> list[LogEntry]:
        """Parse one stdout line (a stream-json event or plain text)."""
        line = line.rstrip("\r\n")
        if not line.strip():
            return []
        if line.lstrip().startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if isinstance(event, dict):
                return self._feed_event(event)
        self._scan_text(line)
        return [LogEntry("stdout", line)]

    def feed_stderr(self, line: str) -> list[LogEntry]:
        """Take one stderr line verbatim, watching it for limits and transient errors."""
        line = line.rstrip("\r\n")
        if not line.strip():
            return []
        self.last_error_text = line.strip()
        self._scan_text(line)
        return [LogEntry("stderr", line)]

    # -- events -------------------------------------------------------------------------------

    def _feed_event(self, event: dict[str, Any]) -> list[LogEntry]:
        etype = event.get("type")
        if etype in ("assistant", "result", "rate_limit_event"):
            self._note_limit(limit_from_event(event, self._now(), self._local_tz))
        if etype == "assistant":
            return self._on_assistant(event)
        if etype == "user":
            return self._on_user(event)
        if etype == "system":
            return self._on_system(event)
        if etype == "result":
            return self._on_result(event)
        if etype == "rate_limit_event":
            return self._on_rate_limit(event)
        return []  # partial stream events, control messages, future event types

    def _on_assistant(self, event: dict[str, Any]) -> list[LogEntry]:
        self._note_session(event.get("session_id"))
        message = event.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        entries: list[LogEntry] = []
        texts: list[str] = []
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        if isinstance(content, list):
            for block in content:
                if not isinstance(block, dict):
                    continue
                kind = block.get("type")
                if kind == "text" and isinstance(block.get("text"), str):
                    texts.append(block["text"])
                    entries += _lines("assistant", block["text"])
                elif kind == "tool_use":
                    entries.append(LogEntry("tool", _render_tool(block)))
        error = event.get("error")
        if isinstance(error, str) and error:
            detail = _first_line(" ".join(texts)) or error
            self.last_error_text = detail
            if self.transient_error is None and (
                error in ("server_error", "overloaded_error") or is_transient_error(detail, None)
            ):
                self.transient_error = detail
        return entries

    def _on_user(self, event: dict[str, Any]) -> list[LogEntry]:
        message = event.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            return []  # a replayed user prompt: the operator already knows it
        return [
            LogEntry("tool_result", _render_tool_result(block))
            for block in content
            if isinstance(block, dict) and block.get("type") == "tool_result"
        ]

    def _on_system(self, event: dict[str, Any]) -> list[LogEntry]:
        if event.get("subtype") != "init":
            return []  # hooks, status, task progress: noise in a job log
        self._note_session(event.get("session_id"))
        model = event.get("model")
        if isinstance(model, str):
            self.model = model
        parts = []
        if self.session_id:
            parts.append(f"session {self.session_id[:8]}…")
        if self.model:
            parts.append(f"model {self.model}")
        cwd = event.get("cwd")
        if isinstance(cwd, str):
            parts.append(f"cwd {cwd}")
        return [LogEntry("system", " ".join(parts) or "session started")]

    def _on_rate_limit(self, event: dict[str, Any]) -> list[LogEntry]:
        info = event.get("rate_limit_info")
        if not isinstance(info, dict):
            return []
        status = info.get("status")
        kind = info.get("rateLimitType")
        label = f" ({kind})" if isinstance(kind, str) and kind else ""
        reset = _format_epoch(info.get("resetsAt"))
        when = f"; resets {reset}" if reset else ""
        if status == "rejected":
            return [LogEntry("system", f"usage limit reached{label}{when}")]
        if status == "allowed_warning":
            return [LogEntry("system", f"approaching usage limit{label}{when}")]
        return []

    def _on_result(self, event: dict[str, Any]) -> list[LogEntry]:
        text = event.get("result")
        if not isinstance(text, str):
            errors = event.get("errors")
            text = (
                "; ".join(str(e) for e in errors) if isinstance(errors, list) and errors else None
            )
        subtype = event.get("subtype")
        raw_usage = event.get("usage")
        usage = (
            {
                key: value
                for key, value in raw_usage.items()
                if isinstance(value, int) and not isinstance(value, bool)
            }
            if isinstance(raw_usage, dict)
            else {}
        )
        stop_reason = event.get("stop_reason")
        result = ClaudeResult(
            subtype=subtype if isinstance(subtype, str) else "unknown",
            is_error=event.get("is_error") is True,
            text=text,
            session_id=_str(event.get("session_id")),
            duration_ms=_int(event.get("duration_ms")),
            duration_api_ms=_int(event.get("duration_api_ms")),
            num_turns=_int(event.get("num_turns")),
            cost_usd=_float(event.get("total_cost_usd")),
            usage=usage,
            api_error_status=_int(event.get("api_error_status")),
            stop_reason=stop_reason if isinstance(stop_reason, str) else None,
        )
        self.result = result
        self._note_session(result.session_id)
        if result.is_error and text:
            self.last_error_text = _first_line(text)
        if self.transient_error is None and (
            result.api_error_status in TRANSIENT_STATUSES
            or (result.is_error and is_transient_error(text, None))
        ):
            self.transient_error = _first_line(text or "") or f"API error {result.api_error_status}"
        return _lines("result", text) if text else []

    # -- helpers ------------------------------------------------------------------------------

    def _scan_text(self, line: str) -> None:
        if self.usage_limit is None or self.usage_limit.reset_at is None:
            self._note_limit(limit_from_text(line, self._now(), self._local_tz))
        if self.transient_error is None and is_transient_error(line, None):
            self.transient_error = line.strip()

    def _note_limit(self, limit: UsageLimit | None) -> None:
        if limit is None:
            return
        if self.usage_limit is None:
            self.usage_limit = limit
        elif self.usage_limit.reset_at is None and limit.reset_at is not None:
            self.usage_limit = replace(
                self.usage_limit,
                reset_at=limit.reset_at,
                limit_type=self.usage_limit.limit_type or limit.limit_type,
                suspicious=limit.suspicious,
            )

    def _note_session(self, session_id: Any) -> None:
        if self.session_id is None and isinstance(session_id, str) and session_id:
            self.session_id = session_id


@dataclass
class Outcome:
    """What one run amounted to, for the engine's retry / cooldown decision."""

    succeeded: bool
    error: str | None
    output: str | None
    usage_limit: UsageLimit | None
    transient: bool


def classify(parser: StreamParser, exit_code: int | None) -> Outcome:
    """Decide the outcome of a finished run from what the parser saw and the exit code.

    A clean success result wins over everything else (a ``rejected`` rate-limit event can be
    followed by a run served from overage). Otherwise a usage limit comes first, then transient
    API errors, then the reason claude gave, then the exit code.
    """
    result = parser.result
    output = result.text if result else None
    if result is not None and result.succeeded:
        if exit_code == 0:
            return Outcome(True, None, output, None, False)
        return Outcome(
            False, f"claude reported success but {_describe_exit(exit_code)}", output, None, False
        )
    if parser.usage_limit is not None:
        return Outcome(
            False, _describe_limit(parser.usage_limit), output, parser.usage_limit, False
        )
    if parser.transient_error is not None:
        detail = _clip(_first_line(parser.transient_error))
        return Outcome(False, f"claude hit a transient API error: {detail}", output, None, True)
    if result is not None:
        return Outcome(False, _describe_result_error(result, parser), output, None, False)
    if exit_code == 0:
        error = "no result from claude (exit code 0): the CLI ended without a result event"
    elif parser.last_error_text:
        error = f"claude {_describe_exit(exit_code)}: {_clip(parser.last_error_text)}"
    else:
        error = f"claude {_describe_exit(exit_code)} without a result event"
    return Outcome(False, error, None, None, False)


def _describe_result_error(result: ClaudeResult, parser: StreamParser) -> str:
    detail = _clip(_first_line(result.text or "") or (parser.last_error_text or ""))
    if result.subtype == "error_max_turns":
        turns = result.num_turns if result.num_turns is not None else "?"
        return f"claude reported error_max_turns after {turns} turns"
    if result.subtype == "error_max_budget_usd":
        cost = f"${result.cost_usd:.2f}" if result.cost_usd is not None else "its budget"
        return f"claude reported error_max_budget_usd after spending {cost}"
    if result.subtype != "success":
        return (
            f"claude reported {result.subtype}: {detail}"
            if detail
            else (f"claude reported {result.subtype}")
        )
    if result.api_error_status is not None:
        return f"claude reported an API error ({result.api_error_status}): {detail or 'no detail'}"
    return f"claude reported an error: {detail or 'no detail'}"


def _describe_limit(limit: UsageLimit) -> str:
    kind = f" ({limit.limit_type})" if limit.limit_type else ""
    if limit.reset_at is None:
        return f"claude usage limit reached{kind}; no reset time given"
    reset = limit.reset_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"claude usage limit reached{kind}; resets at {reset}"


def _describe_exit(exit_code: int | None) -> str:
    if exit_code is None:
        return "did not exit normally"
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        return f"was killed by {name}"
    return f"exited with code {exit_code}"


def _render_tool(block: dict[str, Any]) -> str:
    name = block.get("name")
    name = name if isinstance(name, str) and name else "tool"
    tool_input = block.get("input")
    key = _TOOL_SUMMARY_KEYS.get(name)
    if isinstance(tool_input, dict):
        value = tool_input.get(key) if key else None
        if isinstance(value, str) and value.strip():
            return _clip(f"{name}: {_first_line(value, mark_more=True)}")
        if name == "TodoWrite" and isinstance(tool_input.get("todos"), list):
            return f"TodoWrite: {len(tool_input['todos'])} todos"
    try:
        rendered = json.dumps(tool_input, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        rendered = repr(tool_input)
    return _clip(f"{name} {rendered}")


def _render_tool_result(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, list):
        content = "\n".join(
            item["text"]
            for item in content
            if isinstance(item, dict) and isinstance(item.get("text"), str)
        )
    text = content if isinstance(content, str) else ""
    lines = [line for line in text.splitlines() if line.strip()]
    summary = lines[0].strip() if lines else "(no output)"
    if len(lines) > 1:
        summary = f"{_clip(summary)} (+{len(lines) - 1} lines)"
    if block.get("is_error") is True:
        summary = f"error: {summary}"
    return _clip(summary)


def _lines(stream: str, text: str) -> list[LogEntry]:
    return [LogEntry(stream, line) for line in text.strip("\n").splitlines()]


def _first_line(text: str, *, mark_more: bool = False) -> str:
    stripped = text.strip()
    first, _, rest = stripped.partition("\n")
    first = first.rstrip()
    return f"{first} …" if mark_more and rest.strip() else first


def _clip(text: str, limit: int = CLIP) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _format_epoch(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    if value > 100_000_000_000:
        value = value / 1000
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
