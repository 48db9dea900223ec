"""Job files and batch operations through the real CLI on a real home: apply, export (and the
round trip that changes nothing), all-or-nothing batch-create, batch pause/resume/execute and
the interactive create."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.integration.test_cli import Cli, isolate_env

SAMPLES = Path(__file__).resolve().parents[2] / "sample_jobs"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    isolate_env(monkeypatch, tmp_path)
    return Cli(tmp_path / "home")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def apply_all_samples(cli: Cli) -> None:
    for sample in sorted(SAMPLES.glob("*.yaml")):
        cli("job", "apply", "--file", str(sample))


def test_samples_apply_and_export_then_apply_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    apply_all_samples(cli)
    names = {job["name"] for job in cli.json("job", "list")}
    assert {"nightly-code-quality", "pr-review", "pr-review-summary"} <= names
    assert len(names) >= 7
    exported = tmp_path / "exported.yaml"
    cli("job", "export", "--file", str(exported))
    result = cli.json("job", "apply", "--file", str(exported), "--prune")
    assert result["created"] == result["updated"] == result["deleted"] == []
    assert result["prompts"] == []
    assert sorted(result["unchanged"]) == sorted(names)
    # The export is portable: a fresh home gets the same jobs and exports the same file.
    other = Cli(tmp_path / "other-home")
    other("job", "apply", "--file", str(exported))
    again = tmp_path / "again.yaml"
    other("job", "export", "--file", str(again))

    def body(path: Path) -> list[str]:  # without the header comment (it holds the time)
        return [line for line in path.read_text().splitlines() if not line.startswith("#")]

    assert body(again) == body(exported)


def test_export_writes_the_spec_format_with_durations_as_text(cli: Cli) -> None:
    cli("job", "apply", "--file", str(SAMPLES / "migration-plan-once.yaml"))
    [document] = yaml.safe_load(cli("job", "export").stdout)
    assert document["name"] == "postgres-16-migration-plan"
    assert document["prompt"]["id"] == "migration-plan"
    assert document["execution"]["timeout_seconds"] == "1h"
    assert document["retry"]["delays"] == ["5m", "30m", "2h"]
    assert "execution_options" not in document and "retry_config" not in document


def test_apply_reports_created_updated_unchanged_and_deleted(cli: Cli, tmp_path: Path) -> None:
    job = (
        "- name: {name}\n  prompt: {{id: p, title: P, content: hello}}\n"
        "  schedule: {{type: interval, expression: every 1h}}\n"
        "  retry: {{max_attempts: {attempts}}}\n"
    )
    first = write(
        tmp_path, "a.yaml", job.format(name="one", attempts=2) + job.format(name="two", attempts=2)
    )
    out = cli("job", "apply", "--file", str(first)).stdout
    assert "prompt p: created" in out and "+ one: created" in out and "+ two: created" in out
    second = write(tmp_path, "b.yaml", job.format(name="one", attempts=5))
    dry = cli("job", "apply", "--file", str(second), "--prune", "--dry-run").stdout
    assert "~ one: would be updated (retry.max_attempts)" in dry
    assert "- two: would be deleted" in dry and "nothing changed" in dry
    assert {j["name"] for j in cli.json("job", "list")} == {"one", "two"}
    out = cli("job", "apply", "--file", str(second), "--prune").stdout
    assert "~ one: updated (retry.max_attempts)" in out and "- two: deleted" in out
    [only] = cli.json("job", "list")
    assert only["name"] == "one" and only["retry_config"]["max_attempts"] == 5


def test_apply_replaces_maps_and_keeps_a_paused_job_paused(cli: Cli, tmp_path: Path) -> None:
    job = (
        "name: env\nprompt: {{id: p, title: P, content: hi}}\n"
        "schedule: {{type: interval, expression: every 1h}}\n"
        "execution: {{environment: {env}}}\n"
    )
    cli(
        "job", "apply", "--file", str(write(tmp_path, "a.yaml", job.format(env="{A: '1', B: '2'}")))
    )
    cli("job", "pause", "env")
    path = write(tmp_path, "b.yaml", job.format(env="{A: '1'}"))
    out = cli("job", "apply", "--file", str(path)).stdout
    assert "~ env: updated (execution.environment.B)" in out
    [found] = cli.json("job", "list")
    assert found["execution_options"]["environment"] == {"A": "1"}, "the file is the truth"
    assert found["status"] == "paused"


def test_apply_changes_an_inline_prompt(cli: Cli, tmp_path: Path) -> None:
    job = (
        "name: j\nprompt: {{id: p, title: P, content: {text}}}\n"
        "schedule: {{type: interval, expression: every 1h}}\n"
    )
    cli("job", "apply", "--file", str(write(tmp_path, "a.yaml", job.format(text="old"))))
    out = cli("job", "apply", "--file", str(write(tmp_path, "b.yaml", job.format(text="new"))))
    assert "prompt p: updated" in out.stdout and "= j: unchanged" in out.stdout
    assert cli.json("prompt", "show", "p")["content"] == "new"


def test_batch_create_is_all_or_nothing(cli: Cli, tmp_path: Path) -> None:
    cli("prompt", "create", "Existing", "--content", "hi", "--id", "existing")
    path = write(
        tmp_path,
        "jobs.yaml",
        "- name: good\n  prompt_id: existing\n  schedule: {type: interval, expression: every 1h}\n"
        "- name: bad\n  prompt_id: missing\n  schedule: {type: interval, expression: every 1h}\n",
    )
    result = cli("job", "batch-create", "--file", str(path), code=2)
    assert f"{path}: 1 problem(s)" in result.stderr
    assert "job 2 'bad' (line 5): prompt_id: no prompt with id 'missing'" in result.stderr
    assert cli.json("job", "list") == []
    path.write_text(path.read_text().replace("missing", "existing"))
    dry = cli("job", "batch-create", "--file", str(path), "--dry-run").stdout
    assert "would create job 'good'" in dry and cli.json("job", "list") == []
    created = cli.json("job", "batch-create", "--file", str(path))
    assert [job["name"] for job in created["jobs"]] == ["good", "bad"]
    again = cli("job", "batch-create", "--file", str(path), code=2)
    assert "job 1 'good' (line 1): name: a job with this name exists" in again.stderr
    assert "job 2 'bad' (line 4): name: a job with this name exists" in again.stderr


def test_a_one_shot_time_in_the_past_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    # Only known against the clock, so checked with the database before anything is written:
    # neither the first job nor the inline prompt may be created.
    path = write(
        tmp_path,
        "jobs.yaml",
        "- name: fine\n  prompt: {id: fresh, title: F, content: hi}\n"
        "  schedule: {type: interval, expression: every 1h}\n"
        "- name: past\n  prompt_id: fresh\n"
        "  schedule: {type: once, expression: '2001-01-01T00:00'}\n",
    )
    for command in ("batch-create", "apply"):
        result = cli("job", command, "--file", str(path), code=2)
        assert (
            "job 2 'past' (line 6): schedule.expression: 2001-01-01T00:00 is in the past"
            in result.stderr
        )
        assert cli.json("job", "list") == []
        assert cli.json("prompt", "list") == []


def test_batch_pause_resume_execute_by_tag_and_status(cli: Cli) -> None:
    apply_all_samples(cli)
    weekly = sorted(j["name"] for j in cli.json("job", "list", "--tag", "weekly"))
    assert weekly == ["dependency-security-audit", "weekly-changelog-draft"]
    out = cli("job", "batch-pause", "--tag", "weekly").stdout
    assert "paused job 'dependency-security-audit'" in out and "2 job(s) paused" in out
    again = cli.json("job", "batch-pause", "--tag", "weekly")
    assert again["done"] == [] and {s["reason"] for s in again["skipped"]} == {"already paused"}
    assert sorted(j["name"] for j in cli.json("job", "list", "--status", "paused")) == weekly
    resumed = cli.json("job", "batch-resume", "--status", "paused")
    assert resumed["done"] == weekly
    assert cli.json("job", "list", "--status", "paused") == []
    assert "0 job(s) resumed, 2 left" in cli("job", "batch-resume", "--tag", "weekly").stdout
    queued = cli.json("job", "batch-execute", "--tag", "chain")
    assert [q["job"] for q in queued] == ["pr-review", "pr-review-summary"]
    history = cli.json("job", "history", "pr-review")
    assert [e["trigger"] for e in history] == ["manual"] and history[0]["status"] == "queued"
    nothing = cli("job", "batch-execute", "--tag", "no-such-tag").stdout
    assert "no job matches: nothing queued" in nothing
    refused = cli("job", "batch-pause", code=2)
    assert "give --tag TAG or --status STATUS" in refused.stderr


def test_interactive_create_asks_checks_and_shows_next_runs(cli: Cli) -> None:
    cli("prompt", "create", "Report", "--content", "hi", "--id", "report")
    answers = [
        "daily",  # name
        "nope",  # prompt id: refused
        "report",
        "cron",
        "61 9 * * *",  # refused by validation: asked again from the type
        "UTC",
        "cron",
        "0 9 * * 1-5",
        "Europe/Berlin",
        "y",  # use this schedule
        "11",  # priority: refused
        "8",
        "20m",
        "2",
        "ops, daily",
        "y",  # create
    ]
    result = cli("job", "create", "--interactive", input="\n".join(answers) + "\n")
    assert "no prompt 'nope'; choose one of report" in result.stderr
    assert "minute field '61' is out of range" in result.stderr
    assert "the priority is 1-10" in result.stderr
    assert "At 09:00 on Monday through Friday (Europe/Berlin)" in result.stdout
    assert "next runs: " in result.stdout
    [job] = cli.json("job", "list")
    assert job["name"] == "daily" and job["priority"] == 8
    assert job["schedule"] == {
        "type": "cron",
        "expression": "0 9 * * 1-5",
        "timezone": "Europe/Berlin",
    }
    assert job["execution_options"]["timeout_seconds"] == 1200
    assert job["retry_config"]["max_attempts"] == 2 and job["tags"] == ["ops", "daily"]


def test_interactive_create_can_be_declined(cli: Cli) -> None:
    cli("prompt", "create", "Report", "--content", "hi", "--id", "report")
    answers = ["x", "report", "interval", "every 2h", "UTC", "y", "5", "-", "3", "-", "n"]
    result = cli("job", "create", "-i", input="\n".join(answers) + "\n", code=1)
    assert "Every 2 hours" in result.stdout and "not created" in result.stderr
    assert cli.json("job", "list") == []
