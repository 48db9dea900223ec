"""The ``cnp`` command line through click's CliRunner: every command of the README's CLI block,
on a real home directory, with the bundled simulator as ``claude`` and no engine running."""

from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from cnp_tui.cli import main
from tests.conftest import SIMULATOR


def isolate_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CNP_* variable or user config of the machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith("CNP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("CNP_EXECUTOR__CLAUDE_CLI_PATH", SIMULATOR)
    monkeypatch.setenv("CNP_SCHEDULER__TICK_INTERVAL", "0.05")
    monkeypatch.setenv("NO_COLOR", "1")


@dataclass
class Cli:
    """``cnp --home HOME ...`` in this process; checks the exit code and that no bug leaked."""

    home: Path

    def __call__(self, *args: str, code: int | None = 0, input: str | None = None) -> Result:
        result = CliRunner().invoke(main, ["--home", str(self.home), *args], input=input)
        shown = f"cnp {' '.join(args)}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"unexpected exception from {shown}") from result.exception
        if code is not None:
            assert result.exit_code == code, f"exit {result.exit_code}, expected {code}: {shown}"
        assert "Traceback" not in result.output, shown
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--format", "json", code=code).stdout)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    isolate_env(monkeypatch, tmp_path)
    home = tmp_path / "home"
    return Cli(home)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def make_job(cli: Cli, name: str, content: str = "@sim", *options: str) -> dict[str, Any]:
    """A prompt (id = name) and a job running it; returns the job as JSON."""
    cli("prompt", "create", name, "--id", name, "--content", content)
    if not any(o in options for o in ("--cron", "--every", "--at")):
        options = ("--every", "1h", *options)
    return cli.json("job", "create", name, "--prompt-id", name, *options)


def next_daily(zone: str, hour: int, now: datetime) -> datetime:
    """The next hour:00 wall-clock time in ``zone`` after ``now`` (an hour that always exists)."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    for day in (today, today + timedelta(days=1)):
        candidate = datetime.combine(day, dtime(hour), tzinfo=tz)
        if candidate > now:
            return candidate.astimezone(UTC)
    raise AssertionError("unreachable")


# --- prompts ---------------------------------------------------------------------------------


def test_prompt_create_list_show_delete(cli: Cli) -> None:
    created = cli.json(
        "prompt", "create", "Code review", "--content", "Review the last commit.", "--tag", "git"
    )
    assert created["id"] == "code-review", "the id is made from the title"
    assert created["title"] == "Code review"
    assert created["content"] == "Review the last commit."
    assert created["tags"] == ["git"]
    assert parse_time(created["created_at"]) == parse_time(created["updated_at"])

    out = cli(
        "prompt", "create", "From stdin", "--id", "stdin-prompt", "--content-file", "-",
        input="line one\nline two\n",
    )  # fmt: skip
    assert "created prompt stdin-prompt" in out.stdout

    table = cli("prompt", "list").stdout
    header, *rows = table.splitlines()
    assert header.split() == ["ID", "TITLE", "TAGS", "CONTENT"]
    assert [row.split()[0] for row in rows] == ["code-review", "stdin-prompt"]
    assert "Review the last commit." in table

    listed = cli.json("prompt", "list")
    assert [p["id"] for p in listed] == ["code-review", "stdin-prompt"]
    assert listed[1]["content"] == "line one\nline two\n"

    shown = cli("prompt", "show", "code-review").stdout
    assert "Code review" in shown and "Review the last commit." in shown and "git" in shown
    assert cli.json("prompt", "show", "stdin-prompt")["title"] == "From stdin"

    assert "deleted prompt code-review" in cli("prompt", "delete", "code-review").stdout
    assert [p["id"] for p in cli.json("prompt", "list")] == ["stdin-prompt"]
    gone = cli("prompt", "show", "code-review", code=3)
    assert "no prompt with id 'code-review'" in gone.stderr


def test_empty_prompt_list_says_how_to_start(cli: Cli) -> None:
    assert "cnp prompt create" in cli("prompt", "list").stdout
    assert cli.json("prompt", "list") == []


# --- job create, show, list ------------------------------------------------------------------


def test_job_create_cron_with_zone_and_every_option(cli: Cli, tmp_path: Path) -> None:
    workdir = tmp_path / "src"
    workdir.mkdir()
    cli("prompt", "create", "Review", "--id", "review", "--content", "@sim text=reviewed")
    before = datetime.now(UTC)
    out = cli(
        "job", "create", "nightly-review", "--prompt-id", "review",
        "--cron", "0 9 * * *", "--tz", "Europe/Berlin",
        "--priority", "8", "--timeout", "10m", "--max-attempts", "4",
        "--retry-strategy", "linear", "--retry-interval", "30s",
        "--workdir", str(workdir), "--env", "A=1", "--env", "B=x=y",
        "--tag", "nightly", "--tag", "review", "--catch-up", "all", "--max-parallel", "2",
        "--model", "sonnet-test", "--max-turns", "5",
        "--allowed-tool", "Read", "--allowed-tool", "Bash(git log:*)",
        "--permission-mode", "plan",
    )  # fmt: skip
    assert "created job" in out.stdout and "nightly-review" in out.stdout
    assert "Europe/Berlin" in out.stdout

    job = cli.json("job", "show", "nightly-review")
    assert job["name"] == "nightly-review"
    assert job["prompt_id"] == "review"
    assert job["status"] == "active"
    assert job["schedule"] == {
        "type": "cron",
        "expression": "0 9 * * *",
        "timezone": "Europe/Berlin",
    }
    assert parse_time(job["next_run_time"]) == next_daily("Europe/Berlin", 9, before)
    assert job["priority"] == 8
    assert job["catch_up"] == "all"
    assert job["tags"] == ["nightly", "review"]
    options = job["execution_options"]
    assert options["timeout_seconds"] == 600
    assert options["working_directory"] == str(workdir)
    assert options["environment"] == {"A": "1", "B": "x=y"}
    assert options["max_parallel"] == 2
    claude = options["claude"]
    assert claude["model"] == "sonnet-test"
    assert claude["max_turns"] == 5
    assert claude["allowed_tools"] == ["Read", "Bash(git log:*)"]
    assert claude["permission_mode"] == "plan"
    retry = job["retry_config"]
    assert (retry["max_attempts"], retry["strategy"], retry["initial_interval"]) == (
        4,
        "linear",
        30,
    )
    assert job["execution_count"] == 0 and job["success_rate"] is None

    table = cli("job", "show", "nightly-review").stdout
    for text in ("nightly-review", "cron '0 9 * * *'", "Europe/Berlin", "4 attempts, linear"):
        assert text in table

    # The options reach claude: the simulator reports the model and the cwd it was given.
    run = cli("job", "execute", "nightly-review", "--wait")
    assert f"model sonnet-test cwd {workdir}" in run.stdout
    assert "reviewed" in run.stdout


def test_job_create_every_and_at(cli: Cli) -> None:
    cli("prompt", "create", "P", "--id", "p", "--content", "@sim")
    every = cli.json("job", "create", "half-hourly", "--prompt-id", "p", "--every", "30m")
    assert every["schedule"]["type"] == "interval"
    assert every["schedule"]["expression"] == "30m"
    assert parse_time(every["next_run_time"]) - parse_time(every["created_at"]) == timedelta(
        minutes=30
    )
    assert every["retry_config"]["max_attempts"] == 3, "default"
    assert every["priority"] == 5, "default"

    year = datetime.now(UTC).year + 2
    once = cli.json(
        "job", "create", "new-year", "--prompt-id", "p",
        "--at", f"{year}-01-01T09:00", "--tz", "Asia/Tokyo",
    )  # fmt: skip
    assert once["schedule"] == {
        "type": "once",
        "expression": f"{year}-01-01T09:00",
        "timezone": "Asia/Tokyo",
    }
    assert parse_time(once["next_run_time"]) == datetime(year, 1, 1, 0, 0, tzinfo=UTC)

    offset = cli.json(
        "job", "create", "with-offset", "--prompt-id", "p", "--at", f"{year}-06-01T12:00+02:00"
    )
    assert parse_time(offset["next_run_time"]) == datetime(year, 6, 1, 10, 0, tzinfo=UTC)


def test_cron_without_tz_uses_the_configured_default_zone(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CNP_SCHEDULER__TIMEZONE", "Asia/Tokyo")
    before = datetime.now(UTC)
    job = make_job(cli, "tokyo", "@sim", "--cron", "0 9 * * *")
    assert job["schedule"]["timezone"] is None
    assert parse_time(job["next_run_time"]) == next_daily("Asia/Tokyo", 9, before)


def test_job_list_filters_by_status_and_tag(cli: Cli) -> None:
    make_job(cli, "alpha", "@sim", "--tag", "team-a", "--tag", "nightly")
    make_job(cli, "beta", "@sim", "--tag", "team-b")
    make_job(cli, "gamma", "@sim", "--tag", "team-a")
    cli("job", "pause", "gamma")

    def names(*filters: str) -> list[str]:
        return [job["name"] for job in cli.json("job", "list", *filters)]

    assert names() == ["alpha", "beta", "gamma"]
    assert names("--status", "paused") == ["gamma"]
    assert names("--status", "active") == ["alpha", "beta"]
    assert names("--status", "completed") == []
    assert names("--tag", "team-a") == ["alpha", "gamma"]
    assert names("--tag", "team-a", "--status", "active") == ["alpha"]
    assert names("--tag", "nobody") == []

    table = cli("job", "list", "--tag", "team-a").stdout
    header, *rows = table.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "STATUS"]
    assert [row.split()[1:3] for row in rows] == [["alpha", "active"], ["gamma", "paused"]]
    assert "no jobs match" in cli("job", "list", "--tag", "nobody").stdout


# --- job update, pause, resume, delete --------------------------------------------------------


def test_job_update_changes_only_the_given_fields(cli: Cli, tmp_path: Path) -> None:
    before = make_job(
        cli, "tidy", "@sim",
        "--every", "1h", "--priority", "4", "--timeout", "5m", "--workdir", str(tmp_path),
        "--env", "K=V", "--tag", "keep", "--model", "opus-test", "--max-attempts", "2",
    )  # fmt: skip
    after = cli.json("job", "update", "tidy", "--priority", "9", "--timeout", "20m")
    assert after["priority"] == 9
    assert after["execution_options"]["timeout_seconds"] == 1200
    assert parse_time(after["updated_at"]) > parse_time(before["updated_at"])
    changed = {"priority", "updated_at", "execution_options"}
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in before.items() if k not in changed
    }
    options_before = dict(before["execution_options"], timeout_seconds=1200)
    assert after["execution_options"] == options_before
    assert cli.json("job", "show", "tidy") == after, "the update is stored"

    moved = cli.json("job", "update", "tidy", "--every", "3h")
    assert moved["schedule"]["expression"] == "3h"
    assert parse_time(moved["next_run_time"]) - parse_time(before["next_run_time"]) == timedelta(
        hours=2
    ), "the next run moves with the new interval (slots counted from creation)"
    assert moved["priority"] == 9 and moved["tags"] == ["keep"]

    renamed = cli.json("job", "update", "tidy", "--name", "tidier")
    assert renamed["id"] == before["id"]
    assert cli.json("job", "show", "tidier")["id"] == before["id"]
    cli("job", "show", "tidy", code=3)

    table = cli("job", "update", "tidier", "--priority", "1").stdout
    assert "updated job" in table and "tidier" in table


def test_job_update_cron_moves_the_next_run_in_the_jobs_zone(cli: Cli) -> None:
    make_job(cli, "zoned", "@sim", "--cron", "0 9 * * *", "--tz", "Asia/Tokyo")
    before = datetime.now(UTC)
    updated = cli.json("job", "update", "zoned", "--tz", "America/New_York")
    assert updated["schedule"]["expression"] == "0 9 * * *"
    assert parse_time(updated["next_run_time"]) == next_daily("America/New_York", 9, before)


def test_job_update_cron_keeps_the_jobs_zone(cli: Cli) -> None:
    make_job(cli, "berlin", "@sim", "--cron", "0 9 * * *", "--tz", "Europe/Berlin")
    before = datetime.now(UTC)
    updated = cli.json("job", "update", "berlin", "--cron", "0 10 * * *")
    assert updated["schedule"]["timezone"] == "Europe/Berlin"
    assert parse_time(updated["next_run_time"]) == next_daily("Europe/Berlin", 10, before)


def test_pause_and_resume(cli: Cli) -> None:
    job = make_job(cli, "pausable", "@sim", "--every", "15m")
    out = cli("job", "pause", "pausable")
    assert f"paused job {job['id']}" in out.stdout
    paused = cli.json("job", "show", "pausable")
    assert paused["status"] == "paused"
    assert paused["next_run_time"] is None

    before = datetime.now(UTC)
    out = cli("job", "resume", "pausable")
    assert "resumed job" in out.stdout and "next run" in out.stdout
    resumed = cli.json("job", "show", "pausable")
    assert resumed["status"] == "active"
    next_run = parse_time(resumed["next_run_time"])
    assert before < next_run <= before + timedelta(minutes=15)


def test_delete_asks_for_yes_without_a_terminal(cli: Cli) -> None:
    job = make_job(cli, "doomed")
    cli("job", "execute", "doomed")
    refused = cli("job", "delete", "doomed", code=2)
    assert "--yes" in refused.stderr
    assert cli.json("job", "show", "doomed")["id"] == job["id"], "nothing deleted"

    out = cli("job", "delete", "doomed", "--yes")
    assert f"deleted job {job['id']}" in out.stdout
    assert cli.json("job", "list") == []
    cli("job", "show", job["id"], code=3)
    assert cli.json("status")["queued"] == 0, "its queued execution went with it"
    cli("prompt", "delete", "doomed")  # no job uses the prompt any more


# --- execute, history, executions ------------------------------------------------------------


def test_execute_without_wait_queues_a_manual_execution(cli: Cli) -> None:
    job = make_job(cli, "later", "@sim")
    out = cli("job", "execute", "later")
    assert "queued execution" in out.stdout
    queued = cli.json("job", "execute", "later")
    assert queued["status"] == "queued"
    assert queued["trigger"] == "manual"
    assert queued["attempt"] == 1
    assert queued["job_id"] == job["id"]
    assert queued["started_at"] is None

    status = cli.json("status")
    assert status["engine"]["running"] is False
    assert status["queued"] == 2
    assert status["running"] == 0
    assert status["jobs"] == {"active": 1}
    history = cli.json("job", "history", "later")
    assert [e["status"] for e in history] == ["queued", "queued"]
    assert history[0]["id"] == queued["id"], "newest first"

    table = cli("status").stdout
    assert "not running" in table and "queued" in table


def test_execute_wait_runs_in_process_and_exits_0(cli: Cli) -> None:
    job = make_job(cli, "demo", "@sim lines=3 text=All-good")
    run = cli("job", "execute", "demo", "--wait")
    assert "no engine is running" in run.stderr
    assert run.stdout.count("Working on it: step") == 3
    assert "All-good" in run.stdout
    assert "completed" in run.stderr

    [execution] = cli.json("job", "history", "demo")
    assert execution["status"] == "completed"
    assert execution["trigger"] == "manual"
    assert execution["output"] == "All-good"
    assert execution["session_id"] and execution["cost_usd"] is not None
    assert execution["log_lines"] >= 4
    assert execution["exit_code"] == 0

    shown = cli.json("execution", "show", execution["id"])
    assert shown == execution
    table = cli("execution", "show", execution["id"][:6]).stdout
    assert "completed" in table and "All-good" in table and job["id"] in table
    logs = cli("execution", "logs", execution["id"]).stdout
    assert logs.count("Working on it: step") == 3 and "All-good" in logs

    stats = cli.json("job", "show", "demo")
    assert stats["execution_count"] == 1
    assert stats["failure_count"] == 0
    assert stats["success_rate"] == 1.0
    assert stats["last_status"] == "completed"
    assert cli.json("status")["engine"]["running"] is False, "the in-process run left no lease"


def test_execute_wait_json_prints_the_final_execution(cli: Cli) -> None:
    make_job(cli, "quiet", "@sim text=silent")
    final = cli.json("job", "execute", "quiet", "--wait")
    assert final["status"] == "completed" and final["output"] == "silent"


def test_execute_wait_failed_run_exits_1(cli: Cli) -> None:
    make_job(cli, "broken", "@sim fail", "--max-attempts", "1")
    run = cli("job", "execute", "broken", "--wait", code=1)
    assert "failed" in run.stderr
    assert "simulated failure" in run.output
    [execution] = cli.json("job", "history", "broken")
    assert execution["status"] == "failed"
    assert execution["error"]
    assert cli.json("status")["queued"] == 0, "one attempt in all: no retry queued"
    job = cli.json("job", "show", "broken")
    assert job["failure_count"] == 1 and job["last_status"] == "failed"


def test_execute_wait_usage_limit_exits_75_and_keeps_it_queued(cli: Cli) -> None:
    reset = int(time.time()) + 2 * 3600
    reset_at = datetime.fromtimestamp(reset, UTC)
    make_job(cli, "limited", f"@sim limit reset={reset}")
    make_job(cli, "plain", "@sim text=after-the-reset")

    run = cli("job", "execute", "limited", "--wait", code=75)
    shown = {reset_at.strftime("%H:%M"), reset_at.astimezone().strftime("%H:%M")}
    assert any(text in run.stderr for text in shown), run.stderr
    [execution] = cli.json("job", "history", "limited")
    assert execution["status"] == "queued", "it waits for the reset without using an attempt"
    assert execution["attempt"] == 1
    assert "usage limit" in execution["error"]

    status = cli.json("status")
    assert status["queued"] == 1
    assert parse_time(status["cooldown"]["until"]) == reset_at
    assert 7000 < status["cooldown_seconds_left"] <= 7200
    cooldown = cli.json("cooldown")
    assert parse_time(cooldown["until"]) == reset_at
    assert cooldown["execution_id"] == execution["id"]
    assert "cooldown until" in cli("cooldown").stdout

    # With the cooldown in force, another run exits 75 at once without starting claude.
    started = time.monotonic()
    again = cli("job", "execute", "plain", "--wait", code=75)
    assert time.monotonic() - started < 5
    assert any(text in again.stderr for text in shown), again.stderr
    [waiting] = cli.json("job", "history", "plain")
    assert waiting["status"] == "queued"
    assert waiting["started_at"] is None and waiting["log_lines"] == 0

    assert "cooldown cleared" in cli("cooldown", "--clear").stdout
    assert cli.json("cooldown") is None
    assert cli.json("status")["cooldown"] is None
    assert "no cooldown to clear" in cli("cooldown", "--clear").stdout
    assert "no cooldown" in cli("cooldown").stdout
    done = cli("job", "execute", "plain", "--wait")
    assert "after-the-reset" in done.stdout


def test_execute_wait_with_a_missing_workdir_exits_6(cli: Cli, tmp_path: Path) -> None:
    make_job(cli, "nowhere", "@sim", "--workdir", str(tmp_path / "missing"))
    run = cli("job", "execute", "nowhere", "--wait", code=6)
    assert "working directory" in run.stderr and "does not exist" in run.stderr


def test_cancel_a_queued_execution_without_an_engine(cli: Cli) -> None:
    make_job(cli, "cancel-me")
    queued = cli.json("job", "execute", "cancel-me")
    out = cli("execution", "cancel", queued["id"])
    assert f"cancelled execution {queued['id']}" in out.stdout
    cancelled = cli.json("execution", "show", queued["id"])
    assert cancelled["status"] == "cancelled"
    assert cancelled["started_at"] is None and cancelled["completed_at"] is not None
    assert cli.json("status")["queued"] == 0
    again = cli("execution", "cancel", queued["id"], code=4)
    assert "already ended" in again.stderr
    assert "no log lines" in cli("execution", "logs", queued["id"]).stderr


def test_history_newest_first_with_last(cli: Cli) -> None:
    make_job(cli, "often", "@sim")
    ids = [cli.json("job", "execute", "often")["id"] for _ in range(3)]
    history = cli.json("job", "history", "often")
    assert [e["id"] for e in history] == ids[::-1]
    assert [e["id"] for e in cli.json("job", "history", "often", "--last", "2")] == ids[:0:-1]
    table = cli("job", "history", "often", "--last", "1").stdout
    header, *rows = table.splitlines()
    assert header.split()[:3] == ["ID", "STATUS", "TRIGGER"]
    assert len(rows) == 1 and rows[0].split()[:3] == [ids[-1], "queued", "manual"]


def test_history_of_a_job_without_runs(cli: Cli) -> None:
    make_job(cli, "idle")
    assert "no executions yet" in cli("job", "history", "idle").stdout
    assert cli.json("job", "history", "idle") == []


# --- JOB references -------------------------------------------------------------------------


def jobs_until_first_characters_collide(cli: Cli) -> tuple[str, list[dict[str, Any]]]:
    """Create jobs until two ids share their first character (at most 17 by pigeonhole)."""
    cli("prompt", "create", "Shared", "--id", "shared", "--content", "@sim")
    by_first: dict[str, list[dict[str, Any]]] = {}
    for index in itertools.count():
        assert index < 17
        job = cli.json("job", "create", f"job-{index}", "--prompt-id", "shared", "--every", "1h")
        by_first.setdefault(job["id"][0], []).append(job)
        if len(by_first[job["id"][0]]) == 2:
            return job["id"][0], by_first[job["id"][0]]
    raise AssertionError("unreachable")


def unique_prefix(job_id: str, others: list[str]) -> str:
    for length in range(1, len(job_id)):
        if not any(other.startswith(job_id[:length]) for other in others):
            return job_id[:length]
    raise AssertionError(f"no unique prefix of {job_id}")


def test_job_reference_by_id_prefix_and_name(cli: Cli) -> None:
    first, pair = jobs_until_first_characters_collide(cli)
    ids = [job["id"] for job in cli.json("job", "list")]
    target = pair[0]
    prefix = unique_prefix(target["id"], [i for i in ids if i != target["id"]])
    assert cli.json("job", "show", target["id"])["name"] == target["name"]
    assert cli.json("job", "show", prefix)["name"] == target["name"]
    assert cli.json("job", "show", target["name"])["id"] == target["id"]
    assert "paused job" in cli("job", "pause", prefix).stdout
    assert cli.json("job", "show", target["id"])["status"] == "paused"

    ambiguous = cli("job", "show", first, code=2)
    message = ambiguous.stderr.strip()
    assert message.startswith(f"cnp: '{first}' matches 2 jobs")
    for job in pair:
        assert job["id"] in message and job["name"] in message
    assert len(message.splitlines()) == 1


def test_exact_name_wins_over_an_id_prefix(cli: Cli) -> None:
    other = make_job(cli, "first")
    named = make_job(cli, other["id"][:3])
    assert cli.json("job", "show", other["id"][:3])["id"] == named["id"]


def test_dates_are_shown_on_the_command_line_with_their_zone(cli: Cli) -> None:
    job = make_job(cli, "when", "@sim", "--at", f"{date.today().year + 3}-03-04T05:06Z")
    table = cli("job", "list").stdout
    local = parse_time(job["next_run_time"]).astimezone()
    assert local.strftime("%Y-%m-%d %H:%M:%S %Z") in table


def test_every_command_that_acts_answers_in_json_for_scripts(cli: Cli, tmp_path: Path) -> None:
    """Pause, resume, delete, cancel, logs, config validate and vacuum speak --format json."""
    job = make_job(cli, "scripted", "@sim lines=2 text=done")
    assert cli.json("job", "pause", "scripted")["status"] == "paused"
    resumed = cli.json("job", "resume", "scripted")
    assert resumed["status"] == "active" and resumed["next_run_time"]

    cli("job", "execute", "scripted", "--wait")
    [execution] = cli.json("job", "history", "scripted")
    lines = [
        json.loads(line)
        for line in cli(
            "execution", "logs", execution["id"], "--format", "json"
        ).stdout.splitlines()
    ]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert {"execution_id", "seq", "ts", "stream", "text"} == set(lines[0])
    assert any("Working on it: step" in line["text"] for line in lines)

    queued = cli.json("job", "execute", "scripted")
    assert cli.json("execution", "cancel", queued["id"]) == {
        "id": queued["id"],
        "outcome": "cancelled",
    }

    good = tmp_path / "good.toml"
    good.write_text("[job_engine]\nmax_concurrent_jobs = 3\n")
    assert cli.json("config", "validate", str(good)) == {
        "file": str(good),
        "valid": True,
        "problems": [],
    }
    bad = tmp_path / "bad.toml"
    bad.write_text("[job_engine]\nmax_concurent_jobs = 3\n")
    report = cli.json("config", "validate", str(bad), code=2)  # a config error
    assert report["valid"] is False
    assert any("max_concurrent_jobs" in problem for problem in report["problems"]), report

    vacuumed = cli.json("db", "vacuum")
    assert vacuumed["after_bytes"] > 0 and vacuumed["path"].endswith(".db")

    assert cli.json("job", "delete", "scripted", "--yes") == {
        "deleted": "job",
        "id": job["id"],
        "name": "scripted",
    }
    assert cli.json("prompt", "delete", "scripted") == {"deleted": "prompt", "id": "scripted"}
