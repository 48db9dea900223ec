"""The Claude CLI contract: argv building, executable resolution, stream-json parsing, outcome."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cnp_tui.engine.claude import (
    LogEntry,
    StreamParser,
    build_argv,
    classify,
    resolve_executable,
)
from cnp_tui.engine.simulator import parse_args
from cnp_tui.errors import ClaudeNotFoundError

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SESSION = "1234abcd-0000-4000-8000-000000000000"


@pytest.fixture
def parser() -> StreamParser:
    return StreamParser(now=lambda: NOW, local_tz=UTC)


def feed(parser: StreamParser, *events: dict[str, Any]) -> list[LogEntry]:
    entries: list[LogEntry] = []
    for event in events:
        entries += parser.feed_stdout(json.dumps(event) + "\n")
    return entries


def assistant(*content: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "assistant", "message": {"content": list(content)}, **extra}


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def tool_use(name: str, tool_input: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": "toolu_1", "name": name, "input": tool_input}


def tool_result(content: Any, is_error: bool = False) -> dict[str, Any]:
    block = {"type": "tool_result", "tool_use_id": "toolu_1", "content": content}
    block["is_error"] = is_error
    return {"type": "user", "message": {"content": [block]}}


def result(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "result": "All done.",
        "session_id": SESSION,
        "duration_ms": 2191,
        "duration_api_ms": 1800,
        "num_turns": 3,
        "total_cost_usd": 0.0882,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 20,
            "cache_read_input_tokens": 300,
            "server_tool_use": {"web_search_requests": 0},
            "service_tier": "standard",
        },
        "api_error_status": None,
        "stop_reason": "end_turn",
    }
    event.update(overrides)
    return event


# -- parsing ----------------------------------------------------------------------------------


def test_init_event_gives_session_model_and_cwd(parser: StreamParser) -> None:
    init = {
        "type": "system",
        "subtype": "init",
        "session_id": SESSION,
        "model": "claude-sonnet-4-5",
        "cwd": "/srv/repo",
        "tools": ["Bash"],
    }
    assert feed(parser, init) == [
        LogEntry("system", "session 1234abcd… model claude-sonnet-4-5 cwd /srv/repo")
    ]
    assert parser.session_id == SESSION
    assert parser.model == "claude-sonnet-4-5"


def test_other_system_subtypes_are_ignored(parser: StreamParser) -> None:
    assert feed(parser, {"type": "system", "subtype": "hook_started", "hook": "x"}) == []


def test_multi_line_assistant_text_becomes_one_entry_per_line(parser: StreamParser) -> None:
    entries = feed(parser, assistant(text_block("First line\nSecond line\n")))
    assert entries == [LogEntry("assistant", "First line"), LogEntry("assistant", "Second line")]


@pytest.mark.parametrize(
    ("name", "tool_input", "expected"),
    [
        ("Bash", {"command": "git status", "description": "status"}, "Bash: git status"),
        ("Read", {"file_path": "src/app.py"}, "Read: src/app.py"),
        (
            "Edit",
            {"file_path": "src/app.py", "old_string": "a", "new_string": "b"},
            "Edit: src/app.py",
        ),
        ("Bash", {"command": "cd src\nmake test"}, "Bash: cd src …"),
        ("TodoWrite", {"todos": [{}, {}, {}]}, "TodoWrite: 3 todos"),
        ("mcp__github__list", {"owner": "me"}, 'mcp__github__list {"owner":"me"}'),
    ],
)
def test_tool_calls_are_rendered_readably(
    parser: StreamParser, name: str, tool_input: dict[str, Any], expected: str
) -> None:
    assert feed(parser, assistant(tool_use(name, tool_input))) == [LogEntry("tool", expected)]


def test_huge_tool_input_is_truncated(parser: StreamParser) -> None:
    [entry] = feed(parser, assistant(tool_use("Custom", {"blob": "x" * 5000})))
    assert entry.stream == "tool"
    assert entry.text.startswith('Custom {"blob":"xxx')
    assert len(entry.text) <= 200


def test_assistant_text_and_tool_call_in_one_message(parser: StreamParser) -> None:
    entries = feed(
        parser, assistant(text_block("Let me look."), tool_use("Read", {"file_path": "a"}))
    )
    assert entries == [LogEntry("assistant", "Let me look."), LogEntry("tool", "Read: a")]


def test_tool_result_shows_its_first_line(parser: StreamParser) -> None:
    entries = feed(parser, tool_result("line one\nline two\nline three"))
    assert entries == [LogEntry("tool_result", "line one (+2 lines)")]


def test_tool_result_error_is_marked(parser: StreamParser) -> None:
    entries = feed(parser, tool_result([{"type": "text", "text": "No such file"}], is_error=True))
    assert entries == [LogEntry("tool_result", "error: No such file")]


def test_empty_tool_result(parser: StreamParser) -> None:
    assert feed(parser, tool_result("")) == [LogEntry("tool_result", "(no output)")]


def test_result_event_is_parsed(parser: StreamParser) -> None:
    entries = feed(parser, result(result="Summary:\n- fixed the bug"))
    assert entries == [LogEntry("result", "Summary:"), LogEntry("result", "- fixed the bug")]
    parsed = parser.result
    assert parsed is not None
    assert parsed.subtype == "success"
    assert parsed.is_error is False
    assert parsed.text == "Summary:\n- fixed the bug"
    assert parsed.session_id == SESSION
    assert (parsed.duration_ms, parsed.duration_api_ms, parsed.num_turns) == (2191, 1800, 3)
    assert parsed.cost_usd == pytest.approx(0.0882)
    assert parsed.usage == {"input_tokens": 10, "output_tokens": 20, "cache_read_input_tokens": 300}
    assert parsed.api_error_status is None
    assert parsed.stop_reason == "end_turn"
    assert parser.session_id == SESSION


def test_error_result_without_text_uses_its_errors(parser: StreamParser) -> None:
    event = result(subtype="error_during_execution", is_error=True, errors=["tool crashed"])
    del event["result"]
    feed(parser, event)
    assert parser.result is not None
    assert parser.result.text == "tool crashed"


@pytest.mark.parametrize(
    "line",
    ['{"type": "assistant", "message": {', "plain progress output", "[1, 2, 3]", '"a string"'],
)
def test_non_event_stdout_lines_are_kept_verbatim(parser: StreamParser, line: str) -> None:
    assert parser.feed_stdout(line + "\n") == [LogEntry("stdout", line)]
    assert parser.result is None


def test_blank_lines_are_dropped(parser: StreamParser) -> None:
    assert parser.feed_stdout("\n") == []
    assert parser.feed_stderr("   \n") == []


@pytest.mark.parametrize(
    "event",
    [
        {"type": "stream_event", "event": {"type": "content_block_delta"}},
        {"type": "something_new", "payload": 1},
        {"no_type": True},
        {"type": "assistant", "message": "not a dict"},
        {"type": "assistant", "message": {"content": [42, None, {"type": "thinking"}]}},
        {"type": "user", "message": {"content": "the prompt"}},
        {"type": "rate_limit_event", "rate_limit_info": None},
    ],
)
def test_unknown_or_odd_events_never_raise(parser: StreamParser, event: dict[str, Any]) -> None:
    assert feed(parser, event) == []


def test_odd_result_fields_do_not_raise(parser: StreamParser) -> None:
    feed(parser, {"type": "result", "usage": "x", "num_turns": "3", "total_cost_usd": True})
    assert parser.result is not None
    assert parser.result.num_turns is None
    assert parser.result.cost_usd is None
    assert parser.result.usage == {}


def test_allowed_rate_limit_event_is_silent(parser: StreamParser) -> None:
    event = {"type": "rate_limit_event", "rate_limit_info": {"status": "allowed"}}
    assert feed(parser, event) == []
    assert parser.usage_limit is None


def test_rejected_rate_limit_event_is_logged_and_remembered(parser: StreamParser) -> None:
    resets_at = int((NOW + timedelta(hours=2)).timestamp())
    info = {"status": "rejected", "resetsAt": resets_at, "rateLimitType": "five_hour"}
    entries = feed(parser, {"type": "rate_limit_event", "rate_limit_info": info})
    assert entries == [
        LogEntry("system", "usage limit reached (five_hour); resets 2026-03-10 14:00 UTC")
    ]
    assert parser.usage_limit is not None
    assert parser.usage_limit.reset_at == NOW + timedelta(hours=2)


def test_stderr_is_verbatim_and_remembered(parser: StreamParser) -> None:
    assert parser.feed_stderr("  warning: something\n") == [
        LogEntry("stderr", "  warning: something")
    ]
    assert parser.last_error_text == "warning: something"


def test_limit_text_on_stderr_is_detected(parser: StreamParser) -> None:
    parser.feed_stderr("5-hour limit reached ∙ resets 3pm")
    assert parser.usage_limit is not None
    assert parser.usage_limit.reset_at == datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def test_epoch_bar_on_stdout_is_detected(parser: StreamParser) -> None:
    assert parser.feed_stdout("Claude AI usage limit reached|1773158400") == [
        LogEntry("stdout", "Claude AI usage limit reached|1773158400")
    ]
    assert parser.usage_limit is not None
    assert parser.usage_limit.reset_at == datetime.fromtimestamp(1773158400, UTC)


def test_first_limit_wins_but_a_later_reset_time_fills_a_gap(parser: StreamParser) -> None:
    feed(parser, assistant(text_block("API Error: Rate limit reached"), error="rate_limit"))
    assert parser.usage_limit is not None
    assert parser.usage_limit.reset_at is None
    parser.feed_stderr("You've hit your limit · resets 4pm (UTC)")
    assert parser.usage_limit.source == "api_error"
    assert parser.usage_limit.reset_at == datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
    parser.feed_stderr("You've hit your limit · resets 6pm (UTC)")
    assert parser.usage_limit.reset_at == datetime(2026, 3, 10, 16, 0, tzinfo=UTC)


# -- classify ---------------------------------------------------------------------------------


def test_success_needs_a_clean_result_and_exit_zero(parser: StreamParser) -> None:
    feed(parser, result())
    outcome = classify(parser, 0)
    assert outcome.succeeded is True
    assert outcome.error is None
    assert outcome.output == "All done."
    assert outcome.usage_limit is None
    assert outcome.transient is False


def test_success_result_with_nonzero_exit_is_a_failure(parser: StreamParser) -> None:
    feed(parser, result())
    outcome = classify(parser, 1)
    assert outcome.succeeded is False
    assert outcome.error == "claude reported success but exited with code 1"


def test_exit_zero_without_result_is_a_failure(parser: StreamParser) -> None:
    feed(parser, assistant(text_block("working")))
    outcome = classify(parser, 0)
    assert outcome.succeeded is False
    assert outcome.error == (
        "no result from claude (exit code 0): the CLI ended without a result event"
    )


def test_nonzero_exit_names_the_last_stderr_line(parser: StreamParser) -> None:
    parser.feed_stderr("Traceback (most recent call last):")
    parser.feed_stderr("RuntimeError: boom")
    outcome = classify(parser, 2)
    assert outcome.succeeded is False
    assert outcome.error == "claude exited with code 2: RuntimeError: boom"
    assert outcome.transient is False


def test_killed_by_signal(parser: StreamParser) -> None:
    assert classify(parser, -9).error == "claude was killed by SIGKILL without a result event"


def test_max_turns(parser: StreamParser) -> None:
    event = result(subtype="error_max_turns", is_error=True, num_turns=10)
    del event["result"]
    feed(parser, event)
    outcome = classify(parser, 1)
    assert outcome.succeeded is False
    assert outcome.error == "claude reported error_max_turns after 10 turns"


def test_max_budget(parser: StreamParser) -> None:
    feed(parser, result(subtype="error_max_budget_usd", is_error=True, total_cost_usd=1.5))
    assert classify(parser, 1).error == "claude reported error_max_budget_usd after spending $1.50"


def test_error_during_execution(parser: StreamParser) -> None:
    event = result(subtype="error_during_execution", is_error=True, errors=["tool crashed"])
    del event["result"]
    feed(parser, event)
    assert classify(parser, 1).error == "claude reported error_during_execution: tool crashed"


def test_api_error_with_subtype_success(parser: StreamParser) -> None:
    feed(parser, result(is_error=True, api_error_status=401, result="Invalid API key"))
    outcome = classify(parser, 0)
    assert outcome.succeeded is False
    assert outcome.error == "claude reported an API error (401): Invalid API key"
    assert outcome.transient is False


def test_429_success_with_is_error_is_a_usage_limit(parser: StreamParser) -> None:
    text = "You've hit your limit · resets 3pm (UTC)"
    feed(parser, result(is_error=True, api_error_status=429, result=text))
    outcome = classify(parser, 1)
    assert outcome.succeeded is False
    assert outcome.transient is False
    assert outcome.usage_limit is not None
    assert outcome.usage_limit.reset_at == datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    assert outcome.error == "claude usage limit reached; resets at 2026-03-10 15:00 UTC"
    assert outcome.output == text


def test_limit_from_text_without_result(parser: StreamParser) -> None:
    parser.feed_stdout("Claude AI usage limit reached|1773158400")
    outcome = classify(parser, 1)
    assert outcome.usage_limit is not None
    assert outcome.error == "claude usage limit reached; resets at 2026-03-10 16:00 UTC"


def test_limit_without_reset_time_says_so(parser: StreamParser) -> None:
    feed(
        parser, result(is_error=True, api_error_status=429, result="API Error: Rate limit reached")
    )
    assert classify(parser, 1).error == "claude usage limit reached; no reset time given"


def test_clean_success_after_a_rejected_event_is_a_success(parser: StreamParser) -> None:
    # Overage can serve a run after the plan's window was rejected.
    info = {"status": "rejected", "resetsAt": int(NOW.timestamp()) + 3600}
    feed(parser, {"type": "rate_limit_event", "rate_limit_info": info}, result())
    outcome = classify(parser, 0)
    assert outcome.succeeded is True
    assert outcome.usage_limit is None


def test_overloaded_is_transient(parser: StreamParser) -> None:
    text = (
        'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    )
    feed(
        parser,
        assistant(text_block(text), error="server_error"),
        result(is_error=True, api_error_status=529, result=text),
    )
    outcome = classify(parser, 1)
    assert outcome.succeeded is False
    assert outcome.transient is True
    assert outcome.usage_limit is None
    assert outcome.error == f"claude hit a transient API error: {text}"


def test_overloaded_on_stderr_without_result_is_transient(parser: StreamParser) -> None:
    parser.feed_stderr("API Error: 503 Service Unavailable")
    outcome = classify(parser, 1)
    assert outcome.transient is True
    assert outcome.error == "claude hit a transient API error: API Error: 503 Service Unavailable"


# -- argv -------------------------------------------------------------------------------------


def test_minimal_argv() -> None:
    assert build_argv(["/usr/bin/claude"], "Say hi") == [
        "/usr/bin/claude",
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--",
        "Say hi",
    ]


def test_every_option() -> None:
    argv = build_argv(
        ["/usr/bin/npx", "@anthropic-ai/claude-code@latest"],
        "Fix it",
        model="opus",
        fallback_model="sonnet",
        max_turns=10,
        max_budget_usd=2.5,
        allowed_tools=["Read", "Bash(git:*)"],
        disallowed_tools=["WebFetch"],
        permission_mode="acceptEdits",
        skip_permissions=True,
        append_system_prompt="- be terse",
        add_dirs=["/srv/a", "/srv/b"],
        mcp_config="/etc/mcp.json",
        resume="0b7c4a9e-0000-4000-8000-000000000000",
        session_id="5f0e9a3c-0000-4000-8000-000000000000",
        extra_args=["--debug"],
    )
    assert argv[:6] == [
        "/usr/bin/npx",
        "@anthropic-ai/claude-code@latest",
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
    ]
    joined = " ".join(argv)
    assert "--model opus" in joined
    assert "--fallback-model sonnet" in joined
    assert "--max-turns 10" in joined
    assert "--max-budget-usd 2.5" in joined
    assert "--permission-mode acceptEdits" in joined
    assert "--dangerously-skip-permissions" in argv
    assert "--append-system-prompt=- be terse" in argv
    assert "--mcp-config=/etc/mcp.json" in argv
    assert "--session-id 5f0e9a3c-0000-4000-8000-000000000000" in joined
    assert "--resume=0b7c4a9e-0000-4000-8000-000000000000" in argv
    assert "--allowedTools Read Bash(git:*)" in joined
    assert "--disallowedTools WebFetch" in joined
    assert "--add-dir /srv/a /srv/b" in joined
    assert argv[-3:] == ["--debug", "--", "Fix it"]


@pytest.mark.parametrize("prompt", ["Fix the bug", "---\ntitle: front matter\n---\nDo it", "-v"])
def test_variadic_tools_never_swallow_the_prompt(prompt: str) -> None:
    # Parse the argv the way claude's option parser does (the simulator mirrors it).
    argv = build_argv(
        ["claude"], prompt, allowed_tools=["Read", "Bash"], add_dirs=["/tmp/x"], resume="abc"
    )
    opts, positionals = parse_args(argv[1:])
    assert positionals == [prompt]
    assert opts["allowed_tools"] == ["Read", "Bash"]
    assert opts["add_dir"] == ["/tmp/x"]
    assert opts["resume"] == "abc"


def test_prompt_is_passed_verbatim_without_a_shell() -> None:
    prompt = "Run `rm -rf /tmp/x`; echo $HOME \"quoted\" 'single'"
    assert build_argv(["claude"], prompt)[-1] == prompt


# -- executable -------------------------------------------------------------------------------


def make_executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_bare_name_is_resolved_on_the_given_path(tmp_path: Path) -> None:
    claude = make_executable(tmp_path / "claude")
    assert resolve_executable("claude", path=str(tmp_path)) == [str(claude)]


def test_command_with_arguments_keeps_them(tmp_path: Path) -> None:
    npx = make_executable(tmp_path / "npx")
    assert resolve_executable("npx @anthropic-ai/claude-code@latest", path=str(tmp_path)) == [
        str(npx),
        "@anthropic-ai/claude-code@latest",
    ]


def test_absolute_path_is_used_as_is(tmp_path: Path) -> None:
    claude = make_executable(tmp_path / "my claude")
    assert resolve_executable(f"'{claude}' --debug", path="") == [str(claude), "--debug"]


def test_relative_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_executable(tmp_path / "claude")
    monkeypatch.chdir(tmp_path)
    assert resolve_executable("./claude") == [os.path.join(str(tmp_path), "claude")]


def test_missing_executable_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ClaudeNotFoundError) as info:
        resolve_executable("claude", path=str(tmp_path))
    assert str(info.value) == (
        "claude CLI not found at 'claude'; set executor.claude_cli_path in the config "
        "(e.g. an absolute path) or put it on PATH"
    )


def test_non_executable_file_is_missing(tmp_path: Path) -> None:
    plain = tmp_path / "claude"
    plain.write_text("not a program")
    plain.chmod(0o644)
    with pytest.raises(ClaudeNotFoundError, match="claude CLI not found at"):
        resolve_executable(str(plain))


@pytest.mark.parametrize("value", ["", "   ", "'unterminated"])
def test_unusable_setting_is_reported(value: str) -> None:
    with pytest.raises(ClaudeNotFoundError, match=r"executor\.claude_cli_path"):
        resolve_executable(value)
