"""The simulator as a real subprocess, driven by build_argv and read back through StreamParser."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil
import pytest

from cnp_tui.engine.claude import LogEntry, Outcome, StreamParser, build_argv, classify

SIMULATOR = [sys.executable, "-m", "cnp_tui.engine.simulator"]
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    entries: list[LogEntry]
    parser: StreamParser
    outcome: Outcome

    def streams(self, stream: str) -> list[str]:
        return [entry.text for entry in self.entries if entry.stream == stream]


def sim_env(tz: str = "UTC") -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["TZ"] = tz
    return env


def run_argv(argv: list[str], cwd: Path, *, tz: str = "UTC", local_tz: tzinfo = UTC) -> Run:
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=sim_env(tz),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    parser = StreamParser(now=lambda: datetime.now(UTC), local_tz=local_tz)
    entries: list[LogEntry] = []
    for line in proc.stdout.splitlines():
        entries += parser.feed_stdout(line)
    for line in proc.stderr.splitlines():
        entries += parser.feed_stderr(line)
    return Run(
        proc.returncode,
        proc.stdout,
        proc.stderr,
        entries,
        parser,
        classify(parser, proc.returncode),
    )


def run_sim(
    prompt: str, cwd: Path, *, tz: str = "UTC", local_tz: tzinfo = UTC, **options: Any
) -> Run:
    return run_argv(build_argv(SIMULATOR, prompt, **options), cwd, tz=tz, local_tz=local_tz)


def next_minute_epoch(minutes_ahead: int) -> int:
    # Whole minutes, because the CLI's clock texts ("resets 3:50pm") have minute precision.
    return (int(time.time()) // 60 + minutes_ahead) * 60


# -- normal runs ------------------------------------------------------------------------------


def test_success_with_lines_and_tools(tmp_path: Path) -> None:
    run = run_sim(
        "Summarise the repo\n@sim lines=3 tools=2 text='All good'",
        tmp_path,
        model="claude-opus-4-1",
        allowed_tools=["Read", "Bash(git:*)"],
    )
    assert run.exit_code == 0
    assert run.outcome.succeeded is True
    assert run.outcome.error is None
    assert run.outcome.output == "All good"
    [init] = run.streams("system")
    assert init.endswith(f"model claude-opus-4-1 cwd {tmp_path}")
    assert run.streams("tool") == ["Read: README.md", "Bash: git status --short"]
    assert run.streams("tool_result") == ["1→# Project (+2 lines)", "M src/app.py"]
    assert len(run.streams("assistant")) == 3
    assert run.streams("result") == ["All good"]
    assert run.parser.result is not None
    assert run.parser.result.num_turns == 3
    assert run.parser.result.cost_usd == pytest.approx(0.01)
    assert run.parser.result.usage["output_tokens"] > 0
    assert uuid.UUID(run.parser.session_id or "")
    assert run.stderr == ""


def test_session_id_and_resume_are_honoured(tmp_path: Path) -> None:
    wanted = str(uuid.uuid4())
    assert run_sim("hi", tmp_path, session_id=wanted).parser.session_id == wanted
    assert run_sim("hi", tmp_path, resume=wanted).parser.session_id == wanted


def test_prompt_with_front_matter_reaches_the_simulator(tmp_path: Path) -> None:
    run = run_sim("---\ntitle: x\n---\n@sim text=parsed", tmp_path, disallowed_tools=["Bash"])
    assert run.outcome.succeeded is True
    assert run.outcome.output == "parsed"


def test_duration_spreads_the_run(tmp_path: Path) -> None:
    started = time.monotonic()
    run = run_sim("@sim duration=0.4 lines=2", tmp_path)
    assert time.monotonic() - started >= 0.4
    assert run.parser.result is not None
    assert (run.parser.result.duration_ms or 0) >= 400


def test_json_output_format_prints_only_the_result(tmp_path: Path) -> None:
    argv = [*SIMULATOR, "-p", "--output-format=json", "--", "@sim text=ok"]
    proc = subprocess.run(
        argv, cwd=tmp_path, env=sim_env(), capture_output=True, text=True, timeout=30, check=False
    )
    [line] = proc.stdout.splitlines()
    assert json.loads(line)["result"] == "ok"


def test_text_output_format_prints_the_result_text(tmp_path: Path) -> None:
    argv = [*SIMULATOR, "--print", "@sim text='hello world'"]
    proc = subprocess.run(
        argv, cwd=tmp_path, env=sim_env(), capture_output=True, text=True, timeout=30, check=False
    )
    assert (proc.returncode, proc.stdout) == (0, "hello world\n")


# -- failures ---------------------------------------------------------------------------------


def test_fail(tmp_path: Path) -> None:
    run = run_sim("@sim fail", tmp_path)
    assert run.exit_code == 1
    assert run.outcome.succeeded is False
    assert run.outcome.transient is False
    assert run.outcome.error == (
        "claude reported error_during_execution: simulated failure during execution"
    )


def test_fail_max_turns(tmp_path: Path) -> None:
    run = run_sim("@sim fail=max_turns", tmp_path, max_turns=4)
    assert run.outcome.error == "claude reported error_max_turns after 4 turns"


def test_max_turns_is_enforced(tmp_path: Path) -> None:
    run = run_sim("@sim tools=3", tmp_path, max_turns=2)
    assert run.exit_code == 1
    assert run.outcome.error == "claude reported error_max_turns after 2 turns"


def test_max_budget_is_enforced(tmp_path: Path) -> None:
    run = run_sim("@sim cost=0.5", tmp_path, max_budget_usd=0.25)
    assert run.outcome.error == "claude reported error_max_budget_usd after spending $0.50"


def test_fail_times_fails_then_succeeds(tmp_path: Path) -> None:
    prompt = f"@sim fail-times=2 state={tmp_path / 'runs'}"
    outcomes = [run_sim(prompt, tmp_path).outcome.succeeded for _ in range(3)]
    assert outcomes == [False, False, True]


def test_overloaded_is_transient(tmp_path: Path) -> None:
    run = run_sim("@sim overloaded", tmp_path)
    assert run.exit_code == 1
    assert run.outcome.transient is True
    assert run.outcome.usage_limit is None
    assert run.parser.result is not None
    assert run.parser.result.api_error_status == 529


def test_no_result(tmp_path: Path) -> None:
    run = run_sim("@sim no-result lines=2", tmp_path)
    assert run.exit_code == 0
    assert len(run.streams("assistant")) == 2
    assert run.outcome.succeeded is False
    assert run.outcome.error == (
        "no result from claude (exit code 0): the CLI ended without a result event"
    )


def test_crash(tmp_path: Path) -> None:
    run = run_sim("@sim crash", tmp_path)
    assert run.exit_code == 2
    assert run.parser.result is None
    assert run.streams("stderr")[0] == "Traceback (most recent call last):"
    assert run.outcome.error == (
        "claude exited with code 2: RuntimeError: simulated crash: the agent loop died"
    )


def test_exit_and_stderr_directives(tmp_path: Path) -> None:
    run = run_sim("@sim exit=3 stderr='disk full'", tmp_path)
    assert run.exit_code == 3
    assert run.streams("stderr") == ["disk full"]
    assert run.outcome.error == "claude reported success but exited with code 3"


def test_unknown_flag_is_refused_like_the_real_cli(tmp_path: Path) -> None:
    run = run_sim("hi", tmp_path, extra_args=["--foo"])
    assert run.exit_code == 1
    assert run.stderr == "error: unknown option '--foo'\n"
    assert run.outcome.error == "claude exited with code 1: error: unknown option '--foo'"


def test_stream_json_without_verbose_is_refused(tmp_path: Path) -> None:
    run = run_argv([*SIMULATOR, "-p", "hi", "--output-format", "stream-json"], tmp_path)
    assert run.exit_code == 1
    assert run.stderr == (
        "Error: When using --print, --output-format=stream-json requires --verbose\n"
    )


def test_missing_prompt_is_refused(tmp_path: Path) -> None:
    argv = [
        *SIMULATOR,
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--allowedTools",
        "Read",
    ]
    run = run_argv(argv, tmp_path)
    assert run.exit_code == 1
    assert "Input must be provided" in run.stderr


def test_unknown_directive_exits_2(tmp_path: Path) -> None:
    run = run_sim("@sim lines=2 bogus=1", tmp_path)
    assert run.exit_code == 2
    assert "unknown directive 'bogus'" in run.stderr


# -- usage limits -----------------------------------------------------------------------------


def test_limit_event_form(tmp_path: Path) -> None:
    reset = next_minute_epoch(90)
    run = run_sim(f"@sim limit reset={reset}", tmp_path)
    assert run.exit_code == 1
    limit = run.outcome.usage_limit
    assert limit is not None
    assert limit.source == "rate_limit_event"
    assert limit.limit_type == "five_hour"
    assert limit.reset_at == datetime.fromtimestamp(reset, UTC)
    assert run.outcome.succeeded is False
    assert run.outcome.transient is False
    assert run.outcome.output is not None
    assert run.outcome.output.startswith("You've hit your limit · resets ")


def test_limit_bar_form(tmp_path: Path) -> None:
    reset = int(time.time()) + 600
    run = run_sim(f"@sim limit form=bar reset={reset}", tmp_path)
    assert run.exit_code == 1
    assert run.streams("stdout") == [f"Claude AI usage limit reached|{reset}"]
    assert run.outcome.usage_limit is not None
    assert run.outcome.usage_limit.reset_at == datetime.fromtimestamp(reset, UTC)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/Santiago"])
def test_limit_text_form_in_local_time(tmp_path: Path, zone: str) -> None:
    reset = next_minute_epoch(150)
    run = run_sim(f"@sim limit form=text reset={reset}", tmp_path, tz=zone, local_tz=ZoneInfo(zone))
    assert run.exit_code == 1
    [line] = run.streams("stderr")
    assert line.startswith("5-hour limit reached ∙ resets ")
    limit = run.outcome.usage_limit
    assert limit is not None
    assert limit.limit_type == "five_hour"
    assert limit.reset_at == datetime.fromtimestamp(reset, UTC)


def test_limit_result429_form(tmp_path: Path) -> None:
    run = run_sim("@sim limit form=result429", tmp_path)
    assert run.exit_code == 1
    assert run.parser.result is not None
    assert (run.parser.result.subtype, run.parser.result.is_error) == ("success", True)
    limit = run.outcome.usage_limit
    assert limit is not None
    assert limit.source == "api_error"
    assert limit.reset_at is None


def test_relative_reset(tmp_path: Path) -> None:
    before = int(time.time())
    run = run_sim("@sim limit form=bar reset=+600", tmp_path)
    limit = run.outcome.usage_limit
    assert limit is not None and limit.reset_at is not None
    assert before + 600 <= limit.reset_at.timestamp() <= time.time() + 600


def test_limit_times_limits_then_succeeds(tmp_path: Path) -> None:
    prompt = f"@sim limit-times=1 state={tmp_path / 'runs'}"
    first, second = run_sim(prompt, tmp_path), run_sim(prompt, tmp_path)
    assert first.outcome.usage_limit is not None
    assert second.outcome.succeeded is True


# -- processes and resources -------------------------------------------------------------------


def spawn(prompt: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        build_argv(SIMULATOR, prompt),
        cwd=cwd,
        env=sim_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_init(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    event = json.loads(proc.stdout.readline())
    assert event["subtype"] == "init"
    return event


def is_gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether ``pid`` ends (or is a zombie awaiting its reaper) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)  # polling a process we do not own: no wait() is possible
    return False


def test_hang_stops_on_sigterm(tmp_path: Path) -> None:
    proc = spawn("@sim hang", tmp_path)
    try:
        wait_for_init(proc)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.communicate()


def test_ignore_term_needs_sigkill(tmp_path: Path) -> None:
    proc = spawn("@sim hang ignore-term", tmp_path)
    try:
        wait_for_init(proc)
        proc.send_signal(signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=0.3)
        proc.kill()
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.communicate()


def test_child_stays_in_the_process_group(tmp_path: Path) -> None:
    proc = spawn("@sim hang child", tmp_path)
    assert proc.stderr is not None
    try:
        wait_for_init(proc)
        line = proc.stderr.readline()
        assert line.startswith("simulator: child pid ")
        child_pid = int(line.split()[-1])
        assert os.getpgid(child_pid) == proc.pid
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert is_gone(child_pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def test_memory_is_resident(tmp_path: Path) -> None:
    proc = spawn("@sim memory=64 hang", tmp_path)
    try:
        wait_for_init(proc)
        assert psutil.Process(proc.pid).memory_info().rss >= 64 * 1024 * 1024
    finally:
        proc.kill()
        proc.communicate()


def test_cpu_burns_cpu_time(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        build_argv(SIMULATOR, "@sim cpu=0.3"),
        cwd=tmp_path,
        env=sim_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # wait4 reaps the process itself, so tell Popen not to wait again.
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0
    assert rusage.ru_utime + rusage.ru_stime >= 0.25
