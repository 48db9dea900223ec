"""A stand-in ``claude`` CLI that speaks the real stream-json, for the demo and the tests.

Run it as ``python -m cnp_tui.engine.simulator`` (set ``executor.claude_cli_path`` to
``"python -m cnp_tui.engine.simulator"``). It accepts the same command line as
``claude -p`` and refuses what the real CLI refuses:

* every flag of claude-cli.md, in ``--opt value`` and ``--opt=value`` forms: ``-p/--print``,
  ``--output-format text|json|stream-json``, ``--verbose``, ``--model``, ``--fallback-model``,
  ``--max-turns``, ``--max-budget-usd``, ``--allowedTools``/``--allowed-tools``,
  ``--disallowedTools``/``--disallowed-tools``, ``--add-dir`` and ``--mcp-config`` (variadic:
  they take values until the next option or ``--``), ``--permission-mode``,
  ``--dangerously-skip-permissions``, ``--append-system-prompt``, ``--system-prompt``,
  ``-r/--resume[=id]``, ``-c/--continue``, ``--session-id UUID``, ``-v/--version``, ``-h/--help``;
* an unknown flag: ``error: unknown option '--foo'`` on stderr, exit 1;
* ``-p`` with ``--output-format stream-json`` but no ``--verbose``:
  ``Error: When using --print, --output-format=stream-json requires --verbose``, exit 1;
* no prompt (argument or stdin): the real "Input must be provided" error, exit 1.

``--max-turns`` and ``--max-budget-usd`` are enforced like the real CLI: a run needing more
turns (one per tool call, plus one) ends with ``error_max_turns``; a run costing more ends with
``error_max_budget_usd``.

Behaviour is chosen by directive lines in the prompt: a line starting with ``@sim`` followed by
``key=value`` or bare ``key`` words (shell quoting allowed, several per line, several lines).
An unknown directive or a bad value is reported on stderr with exit code 2.

Output
  ``duration=SECONDS``   total run time, spread evenly over the output lines (default 0)
  ``lines=N``            assistant text lines (default 1)
  ``tools=N``            tool_use + tool_result pairs (default 0)
  ``text=WORDS``         the final result text (default ``Done.``); quote it for spaces
  ``cost=USD``           total_cost_usd of the result (default 0.01)
  ``stderr=TEXT``        print TEXT on stderr just before exiting
  ``exit=N``             force the exit code

Failures
  ``fail``               result ``error_during_execution``, is_error true, exit 1;
                         ``fail=max_turns`` -> ``error_max_turns``,
                         ``fail=budget`` -> ``error_max_budget_usd``
  ``fail-times=N``       fail the first N runs, then succeed (needs ``state=PATH``)
  ``state=PATH``         file keeping the run count for ``fail-times`` / ``limit-times``
  ``overloaded``         assistant error ``server_error`` + result with api_error_status 529
                         and an ``Overloaded`` text, exit 1 (transient, not a limit)
  ``no-result``          normal output but no result event, exit 0
  ``crash``              a few lines, a Python traceback on stderr, exit 2, no result

Usage limits
  ``limit``              hit a usage limit
  ``reset=EPOCH``        reset time in epoch seconds, or ``reset=+SECONDS`` from now
                         (default +3600)
  ``form=FORM``          how the limit shows (default ``event``):
                         ``event``: rate_limit_event ``rejected`` (five_hour, resetsAt), a
                         synthetic assistant error ``rate_limit`` and a result with
                         is_error true, api_error_status 429 and
                         "You've hit your limit · resets 3pm (UTC)", exit 1;
                         ``bar``: ``Claude AI usage limit reached|EPOCH`` as plain stdout text,
                         exit 1;
                         ``text``: ``5-hour limit reached ∙ resets 3pm`` (local time, no zone)
                         on stderr, exit 1;
                         ``result429``: only a result with subtype success, is_error true,
                         api_error_status 429 and "API Error: Rate limit reached" (no reset
                         time), exit 1
  ``limit-times=N``      hit the limit for the first N runs only (needs ``state=PATH``)

Processes and resources
  ``hang``               sleep forever after the init event (timeout / cancel tests)
  ``ignore-term``        ignore SIGTERM, so the caller must SIGKILL after its grace period
  ``child``              spawn a grandchild ``sleep`` in the same process group (its pid is
                         printed on stderr as ``simulator: child pid N``); it inherits stdout,
                         so the caller must kill the whole group
  ``memory=MB``          allocate and touch MB of memory, held until exit
  ``cpu=SECONDS``        burn SECONDS of CPU time (busy loop) after init

Example: ``@sim lines=3 tools=2 duration=2`` or ``@sim limit form=bar reset=+600``.

Import time matters (the demo starts many runs): standard library only, nothing from cnp_tui.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any, NoReturn

VERSION = "2.0.0 (Claude Code simulator)"
DEFAULT_MODEL = "claude-sonnet-4-5-20250929"
TOOLS = ["Task", "Bash", "Glob", "Grep", "LS", "Read", "Edit", "Write", "WebFetch", "WebSearch"]
PERMISSION_MODES = ("acceptEdits", "bypassPermissions", "default", "plan")
OUTPUT_FORMATS = ("text", "json", "stream-json")

# Option table in the CLI's own terms: boolean flags, options with a required value, with an
# optional value, and variadic ones.
_BOOL = "bool"
_VALUE = "value"
_OPTIONAL = "optional"
_VARIADIC = "variadic"
_OPTIONS: dict[str, tuple[str, str, str]] = {
    # spelling: (canonical name, kind, value placeholder for error messages)
    "-p": ("print", _BOOL, ""),
    "--print": ("print", _BOOL, ""),
    "--verbose": ("verbose", _BOOL, ""),
    "-c": ("continue", _BOOL, ""),
    "--continue": ("continue", _BOOL, ""),
    "--dangerously-skip-permissions": ("skip_permissions", _BOOL, ""),
    "-h": ("help", _BOOL, ""),
    "--help": ("help", _BOOL, ""),
    "-v": ("version", _BOOL, ""),
    "--version": ("version", _BOOL, ""),
    "--output-format": ("output_format", _VALUE, "<format>"),
    "--model": ("model", _VALUE, "<model>"),
    "--fallback-model": ("fallback_model", _VALUE, "<model>"),
    "--max-turns": ("max_turns", _VALUE, "<turns>"),
    "--max-budget-usd": ("max_budget_usd", _VALUE, "<amount>"),
    "--permission-mode": ("permission_mode", _VALUE, "<mode>"),
    "--append-system-prompt": ("append_system_prompt", _VALUE, "<prompt>"),
    "--system-prompt": ("system_prompt", _VALUE, "<prompt>"),
    "--session-id": ("session_id", _VALUE, "<uuid>"),
    "-r": ("resume", _OPTIONAL, "[value]"),
    "--resume": ("resume", _OPTIONAL, "[value]"),
    "--allowedTools": ("allowed_tools", _VARIADIC, "<tools...>"),
    "--allowed-tools": ("allowed_tools", _VARIADIC, "<tools...>"),
    "--disallowedTools": ("disallowed_tools", _VARIADIC, "<tools...>"),
    "--disallowed-tools": ("disallowed_tools", _VARIADIC, "<tools...>"),
    "--add-dir": ("add_dir", _VARIADIC, "<directories...>"),
    "--mcp-config": ("mcp_config", _VARIADIC, "<configs...>"),
}

_DIRECTIVES = {
    "duration",
    "lines",
    "tools",
    "text",
    "cost",
    "stderr",
    "exit",
    "fail",
    "fail-times",
    "state",
    "overloaded",
    "no-result",
    "crash",
    "limit",
    "reset",
    "form",
    "limit-times",
    "hang",
    "ignore-term",
    "child",
    "memory",
    "cpu",
}
_FAIL_KINDS = {
    "execution": "error_during_execution",
    "max_turns": "error_max_turns",
    "budget": "error_max_budget_usd",
}
_LIMIT_FORMS = ("event", "bar", "text", "result429")


class _Exit(Exception):
    """Ends the run with an exit code (raised so ``finally`` blocks still flush)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _die(message: str, code: int = 1) -> NoReturn:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    raise _Exit(code)


# -- command line ------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Parse argv the way the real CLI's commander does; returns (options, positionals)."""
    opts: dict[str, Any] = {}
    positionals: list[str] = []
    variadic: str | None = None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            positionals.extend(args)
            break
        is_option = len(arg) > 1 and arg.startswith("-")
        if variadic is not None and not is_option:
            opts[variadic].append(arg)
            continue
        variadic = None
        if not is_option:
            positionals.append(arg)
            continue
        spelling, has_inline, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        spec = _OPTIONS.get(spelling)
        if spec is None:
            _die(f"error: unknown option '{arg}'")
        name, kind, placeholder = spec
        if kind == _BOOL:
            if has_inline:
                _die(f"error: unknown option '{arg}'")
            opts[name] = True
        elif kind == _VALUE:
            if has_inline:
                opts[name] = inline
            elif args:
                opts[name] = args.pop(0)
            else:
                _die(f"error: option '{spelling} {placeholder}' argument missing")
        elif kind == _OPTIONAL:
            if has_inline:
                opts[name] = inline
            elif args and not (len(args[0]) > 1 and args[0].startswith("-")):
                opts[name] = args.pop(0)
            else:
                opts[name] = True
        else:
            values = opts.setdefault(name, [])
            if has_inline:
                values.append(inline)
            elif not args or (len(args[0]) > 1 and args[0].startswith("-")):
                _die(f"error: option '{spelling} {placeholder}' argument missing")
            variadic = name
    return opts, positionals


def _validate(opts: dict[str, Any], positionals: list[str]) -> str:
    """Apply the real CLI's checks; return the prompt."""
    fmt = opts.get("output_format", "text")
    if fmt not in OUTPUT_FORMATS:
        _die(
            f"error: option '--output-format <format>' argument '{fmt}' is invalid. "
            f"Allowed choices are {', '.join(OUTPUT_FORMATS)}."
        )
    mode = opts.get("permission_mode")
    if mode is not None and mode not in PERMISSION_MODES:
        _die(
            f"error: option '--permission-mode <mode>' argument '{mode}' is invalid. "
            f"Allowed choices are {', '.join(PERMISSION_MODES)}."
        )
    if len(positionals) > 1:
        _die(
            f"error: too many arguments. Expected 1 argument but got {len(positionals)}.",
        )
    if not opts.get("print"):
        _die("simulator: only headless runs are simulated; pass -p/--print")
    if fmt == "stream-json" and not opts.get("verbose"):
        _die("Error: When using --print, --output-format=stream-json requires --verbose")
    for name, flag in (("max_turns", "--max-turns"), ("max_budget_usd", "--max-budget-usd")):
        if name in opts:
            try:
                opts[name] = int(opts[name]) if name == "max_turns" else float(opts[name])
            except ValueError:
                _die(f"error: option '{flag}' argument '{opts[name]}' is invalid.")
    session_id = opts.get("session_id")
    if session_id is not None:
        try:
            uuid.UUID(session_id)
        except ValueError:
            _die("Error: Invalid session ID. Must be a valid UUID.")
    if positionals:
        return positionals[0]
    prompt = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    if not prompt.strip():
        _die(
            "Error: Input must be provided either through stdin or as a prompt argument "
            "when using --print"
        )
    return prompt


# -- directives --------------------------------------------------------------------------------


class Directives:
    """The ``@sim`` directives of a prompt, with typed accessors that fail with exit 2."""

    def __init__(self, prompt: str) -> None:
        self.values: dict[str, str | None] = {}
        for line in prompt.splitlines():
            stripped = line.strip()
            if not stripped.startswith("@sim"):
                continue
            try:
                words = shlex.split(stripped[len("@sim") :])
            except ValueError as exc:
                _die(f"simulator: cannot parse directive line {stripped!r}: {exc}", 2)
            for word in words:
                key, has_value, value = word.partition("=")
                if key not in _DIRECTIVES:
                    known = ", ".join(sorted(_DIRECTIVES))
                    _die(f"simulator: unknown directive '{key}' (known: {known})", 2)
                self.values[key] = value if has_value else None

    def has(self, key: str) -> bool:
        return key in self.values

    def text(self, key: str, default: str) -> str:
        value = self.values.get(key)
        return default if value is None else value

    def number(self, key: str, default: float, convert: Callable[[str], float] = float) -> float:
        value = self.values.get(key)
        if value is None:
            return default
        try:
            number = convert(value)
        except ValueError:
            _die(f"simulator: directive '{key}' needs a number, got '{value}'", 2)
        if number < 0:
            _die(f"simulator: directive '{key}' must not be negative, got '{value}'", 2)
        return number

    def integer(self, key: str, default: int) -> int:
        return int(self.number(key, default, int))


def _previous_runs(path: str) -> int:
    """Count this run in the state file; return how many runs came before it."""
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            import fcntl

            # Concurrent runs of a retry test must not both see the same count.
            fcntl.flock(handle, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows
            pass
        handle.seek(0)
        content = handle.read().strip()
        runs = int(content) if content.isdigit() else 0
        handle.seek(0)
        handle.truncate()
        handle.write(str(runs + 1))
    return runs


# -- output ------------------------------------------------------------------------------------


class Emitter:
    """Writes events in the chosen output format and paces them over the run's duration."""

    def __init__(self, fmt: str, session_id: str, duration: float, steps: int) -> None:
        self.fmt = fmt
        self.session_id = session_id
        self.start = time.monotonic()
        self.duration = duration
        self.steps = max(steps, 1)
        self.step = 0

    def pace(self) -> None:
        """Sleep until the next slice of the run's duration."""
        self.step += 1
        due = self.start + self.duration * min(self.step, self.steps) / self.steps
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def finish(self) -> None:
        delay = self.start + self.duration - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def event(self, obj: dict[str, Any]) -> None:
        if self.fmt == "stream-json":
            _write(sys.stdout, json.dumps(obj, ensure_ascii=False, separators=(",", ":")))

    def result(self, obj: dict[str, Any]) -> None:
        if self.fmt == "stream-json" or self.fmt == "json":
            _write(sys.stdout, json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
        else:
            text = obj.get("result")
            if not isinstance(text, str):
                text = "; ".join(obj.get("errors") or [])
            _write(sys.stdout, text)

    def assistant(self, content: list[dict[str, Any]], **extra: Any) -> None:
        message = {
            "id": f"msg_sim_{uuid.uuid4().hex[:20]}",
            "type": "message",
            "role": "assistant",
            "model": extra.pop("model", DEFAULT_MODEL),
            "content": content,
            "stop_reason": None,
            "usage": {"input_tokens": 12, "output_tokens": 24},
        }
        event = {
            "type": "assistant",
            "message": message,
            "parent_tool_use_id": None,
            "session_id": self.session_id,
            "uuid": str(uuid.uuid4()),
            **extra,
        }
        self.event(event)


def _write(stream: Any, line: str) -> None:
    stream.write(line + "\n")
    stream.flush()  # a live tail must see every line as it happens


def _clock(epoch: float, local: bool) -> str:
    """Format a reset time the way the CLI does ("3pm", "3:50pm"), rounded up to the minute."""
    epoch = float(int(epoch + 59) // 60 * 60)
    moment = time.localtime(epoch) if local else time.gmtime(epoch)
    hour = moment.tm_hour % 12 or 12
    suffix = "am" if moment.tm_hour < 12 else "pm"
    clock = f"{hour}{suffix}" if moment.tm_min == 0 else f"{hour}:{moment.tm_min:02d}{suffix}"
    if epoch - time.time() > 23 * 3600:
        clock = f"{time.strftime('%b', moment)} {moment.tm_mday}, {clock}"
    return clock


def _result(
    emitter: Emitter,
    *,
    subtype: str,
    is_error: bool,
    text: str | None,
    turns: int,
    cost: float,
    api_error_status: int | None = None,
    errors: list[str] | None = None,
) -> dict[str, Any]:
    elapsed_ms = int((time.monotonic() - emitter.start) * 1000)
    obj: dict[str, Any] = {
        "type": "result",
        "subtype": subtype,
        "is_error": is_error,
        "duration_ms": elapsed_ms,
        "duration_api_ms": int(elapsed_ms * 0.8),
        "num_turns": turns,
        "session_id": emitter.session_id,
        "total_cost_usd": cost,
        "usage": {
            "input_tokens": 12 * turns,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 1024 * turns,
            "output_tokens": 24 * turns,
            "server_tool_use": {"web_search_requests": 0},
            "service_tier": "standard",
        },
        "modelUsage": {},
        "permission_denials": [],
        "api_error_status": api_error_status,
        "stop_reason": "end_turn" if subtype == "success" and not is_error else None,
        "uuid": str(uuid.uuid4()),
    }
    if text is not None:
        obj["result"] = text
    if errors is not None:
        obj["errors"] = errors
    return obj


_TOOL_SAMPLES: list[tuple[str, dict[str, Any], str]] = [
    ("Read", {"file_path": "README.md"}, "     1→# Project\n     2→\n     3→Some text."),
    ("Bash", {"command": "git status --short", "description": "Show changes"}, " M src/app.py"),
    ("Grep", {"pattern": "TODO", "path": "src"}, "src/app.py:12: # TODO tidy up"),
    ("Edit", {"file_path": "src/app.py", "old_string": "a", "new_string": "b"}, "File updated."),
]


# -- the run -----------------------------------------------------------------------------------


def run(argv: list[str]) -> int:
    """Simulate one ``claude -p`` run; returns the exit code."""
    opts, positionals = parse_args(argv)
    if opts.get("help"):
        _write(sys.stdout, __doc__ or "")
        return 0
    if opts.get("version"):
        _write(sys.stdout, VERSION)
        return 0
    prompt = _validate(opts, positionals)
    d = Directives(prompt)

    lines = d.integer("lines", 1)
    tools = d.integer("tools", 0)
    cost = d.number("cost", 0.01)
    duration = d.number("duration", 0.0)
    forced_exit = d.integer("exit", 0) if d.has("exit") else None

    fail_kind = d.values.get("fail") or "execution"
    if fail_kind not in _FAIL_KINDS:
        _die(f"simulator: fail={fail_kind} is unknown (use {', '.join(_FAIL_KINDS)})", 2)
    form = d.text("form", "event")
    if form not in _LIMIT_FORMS:
        _die(f"simulator: form={form} is unknown (use {', '.join(_LIMIT_FORMS)})", 2)
    failing = d.has("fail")
    limited = d.has("limit")
    if d.has("fail-times") or d.has("limit-times"):
        state = d.values.get("state")
        if not state:
            _die("simulator: fail-times and limit-times need state=PATH", 2)
        previous = _previous_runs(state)
        if d.has("fail-times"):
            failing = previous < d.integer("fail-times", 0)
        if d.has("limit-times"):
            limited = previous < d.integer("limit-times", 0)

    if d.has("ignore-term"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if d.has("child"):
        _spawn_grandchild()
    ballast = _allocate(d.integer("memory", 0))

    resume = opts.get("resume")
    session_id = opts.get("session_id") or (resume if isinstance(resume, str) else None)
    session_id = session_id or str(uuid.uuid4())
    steps = 1 + 2 * tools + lines + 1
    emitter = Emitter(opts.get("output_format", "text"), session_id, duration, steps)
    disallowed = set(opts.get("disallowed_tools", []))
    emitter.event(
        {
            "type": "system",
            "subtype": "init",
            "cwd": os.getcwd(),
            "session_id": session_id,
            "tools": [tool for tool in TOOLS if tool not in disallowed],
            "mcp_servers": [],
            "model": opts.get("model", DEFAULT_MODEL),
            "permissionMode": opts.get("permission_mode", "default"),
            "slash_commands": [],
            "apiKeySource": "none",
            "claude_code_version": VERSION.split()[0],
            "output_style": "default",
            "uuid": str(uuid.uuid4()),
        }
    )
    if d.has("hang"):
        while True:
            time.sleep(3600)
    cpu = d.number("cpu", 0.0)
    if cpu:
        # CPU time, not wall time: on a loaded machine the burn still uses what was asked.
        end = time.process_time() + cpu
        while time.process_time() < end:
            pass

    try:
        if limited:
            code = _emit_limit(emitter, d, form)
        elif d.has("overloaded"):
            code = _emit_overloaded(emitter)
        else:
            code = _emit_work(emitter, d, opts, lines, tools, cost, failing, fail_kind)
        emitter.finish()
    finally:
        del ballast
    stderr_text = d.values.get("stderr")
    if stderr_text:
        _write(sys.stderr, stderr_text)
    return code if forced_exit is None else forced_exit


def _emit_work(
    emitter: Emitter,
    d: Directives,
    opts: dict[str, Any],
    lines: int,
    tools: int,
    cost: float,
    failing: bool,
    fail_kind: str,
) -> int:
    emitter.pace()
    emitter.event(
        {
            "type": "rate_limit_event",
            "rate_limit_info": {
                "status": "allowed",
                "resetsAt": int(time.time()) + 3 * 3600,
                "rateLimitType": "five_hour",
                "isUsingOverage": False,
            },
            "session_id": emitter.session_id,
            "uuid": str(uuid.uuid4()),
        }
    )
    for index in range(tools):
        name, tool_input, output = _TOOL_SAMPLES[index % len(_TOOL_SAMPLES)]
        tool_id = f"toolu_sim_{index:04d}"
        emitter.pace()
        emitter.assistant([{"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}])
        emitter.pace()
        emitter.event(
            {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": tool_id,
                            "content": output,
                            "is_error": False,
                        }
                    ],
                },
                "parent_tool_use_id": None,
                "session_id": emitter.session_id,
                "uuid": str(uuid.uuid4()),
            }
        )
    crash = d.has("crash")
    for index in range(2 if crash else lines):
        emitter.pace()
        emitter.assistant([{"type": "text", "text": f"Working on it: step {index + 1}."}])
    if crash:
        sys.stdout.flush()
        sys.stderr.write(
            "Traceback (most recent call last):\n"
            '  File "/usr/lib/claude/agent.py", line 42, in run\n'
            "    turn = session.next_turn()\n"
            "RuntimeError: simulated crash: the agent loop died\n"
        )
        sys.stderr.flush()
        return 2
    if d.has("no-result"):
        return 0

    turns = tools + 1
    max_turns = opts.get("max_turns")
    budget = opts.get("max_budget_usd")
    emitter.pace()
    if failing:
        subtype = _FAIL_KINDS[fail_kind]
        if subtype == "error_max_turns":
            turns = max_turns if max_turns is not None else turns
        message = {
            "error_during_execution": "simulated failure during execution",
            "error_max_turns": f"Reached maximum number of turns ({turns})",
            "error_max_budget_usd": "Reached maximum budget",
        }[subtype]
        result = _result(
            emitter,
            subtype=subtype,
            is_error=True,
            text=None,
            turns=turns,
            cost=cost,
            errors=[message],
        )
        emitter.result(result)
        return 1
    if max_turns is not None and turns > max_turns:
        result = _result(
            emitter,
            subtype="error_max_turns",
            is_error=True,
            text=None,
            turns=max_turns,
            cost=cost,
            errors=[f"Reached maximum number of turns ({max_turns})"],
        )
        emitter.result(result)
        return 1
    if budget is not None and cost > budget:
        result = _result(
            emitter,
            subtype="error_max_budget_usd",
            is_error=True,
            text=None,
            turns=turns,
            cost=cost,
            errors=[f"Reached maximum budget (${budget:g})"],
        )
        emitter.result(result)
        return 1
    text = d.text("text", "Done.")
    emitter.result(
        _result(emitter, subtype="success", is_error=False, text=text, turns=turns, cost=cost)
    )
    return 0


def _emit_limit(emitter: Emitter, d: Directives, form: str) -> int:
    raw = d.text("reset", "+3600")
    try:
        reset = time.time() + float(raw[1:]) if raw.startswith("+") else float(raw)
    except ValueError:
        _die(f"simulator: reset={raw} is neither EPOCH nor +SECONDS", 2)
    reset_epoch = int(reset)
    if form == "bar":
        _write(sys.stdout, f"Claude AI usage limit reached|{reset_epoch}")
        return 1
    if form == "text":
        _write(sys.stderr, f"5-hour limit reached ∙ resets {_clock(reset_epoch, local=True)}")
        return 1
    if form == "result429":
        text = "API Error: Rate limit reached"
    else:
        text = f"You've hit your limit · resets {_clock(reset_epoch, local=False)} (UTC)"
        emitter.event(
            {
                "type": "rate_limit_event",
                "rate_limit_info": {
                    "status": "rejected",
                    "resetsAt": reset_epoch,
                    "rateLimitType": "five_hour",
                    "overageStatus": "rejected",
                    "isUsingOverage": False,
                },
                "session_id": emitter.session_id,
                "uuid": str(uuid.uuid4()),
            }
        )
        emitter.assistant([{"type": "text", "text": text}], model="<synthetic>", error="rate_limit")
    emitter.result(
        _result(
            emitter,
            subtype="success",
            is_error=True,
            text=text,
            turns=1,
            cost=0.0,
            api_error_status=429,
        )
    )
    return 1


def _emit_overloaded(emitter: Emitter) -> int:
    text = (
        'API Error: 529 {"type":"error","error":{"type":"overloaded_error",'
        '"message":"Overloaded"},"request_id":null}'
    )
    emitter.assistant([{"type": "text", "text": text}], model="<synthetic>", error="server_error")
    emitter.result(
        _result(
            emitter,
            subtype="success",
            is_error=True,
            text=text,
            turns=1,
            cost=0.0,
            api_error_status=529,
        )
    )
    return 1


def _spawn_grandchild() -> None:
    import shutil
    import subprocess

    sleeper = shutil.which("sleep")
    argv = [sleeper, "3600"] if sleeper else [sys.executable, "-c", "import time; time.sleep(3600)"]
    # Same process group and inherited stdout on purpose: this is the stray grandchild that
    # only a kill of the whole group removes.
    child = subprocess.Popen(argv)
    _write(sys.stderr, f"simulator: child pid {child.pid}")


def _allocate(megabytes: int) -> bytearray | None:
    if megabytes <= 0:
        return None
    ballast = bytearray(megabytes * 1024 * 1024)
    # A fresh bytearray may be lazily mapped zero pages; writing one byte per page makes the
    # memory resident so RSS limits and monitors see it.
    ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))
    return ballast


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: run and exit with the simulated exit code."""
    try:
        code = run(sys.argv[1:] if argv is None else argv)
    except _Exit as exc:
        code = exc.code
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (cancelled run); exit quietly like a killed CLI would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
