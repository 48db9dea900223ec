"""The global config commands (show, validate, init), environment overrides, and database
maintenance: backup while an engine writes, vacuum."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from cnp_tui.config import Settings, default_config_text, load_settings, setting_sources
from cnp_tui.core.clock import ManualClock
from cnp_tui.core.events import ExecutionFinished, ExecutionStarted, LogLinesAppended
from cnp_tui.core.models import ExecutionStatus
from cnp_tui.engine.runtime import Runtime
from cnp_tui.errors import ConfigError, DatabaseError, InvalidInputError
from cnp_tui.paths import Paths
from cnp_tui.service import JobService
from cnp_tui.store.maintenance import backup_database
from tests.conftest import Recorder, add_job, make_settings
from tests.integration.test_cli import Cli, isolate_env


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    isolate_env(monkeypatch, tmp_path)
    return Cli(tmp_path / "home")


# --- config -----------------------------------------------------------------------------------


def test_every_key_of_the_spec_is_in_the_config() -> None:
    spec = {
        "job_engine": {
            "max_concurrent_jobs",
            "cleanup_retention_days",
            "health_check_interval",
            "metrics_enabled",
        },
        "scheduler": {"tick_interval", "timezone", "max_missed_runs"},
        "executor": {"default_timeout", "claude_cli_path", "session_timeout"},
        "notifications": {"rate_limit_per_hour", "template_directory"},
        "database": {"cleanup_old_executions", "max_execution_history"},
    }
    for section, keys in spec.items():
        model = Settings.model_fields[section].annotation
        fields = model.model_fields  # type: ignore[union-attr]
        assert keys <= set(fields), section
        for key, info in fields.items():
            assert info.description, f"[{section}] {key} has no description"


def test_the_spec_example_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "claude-pilot.toml"
    path.write_text(
        """
[job_engine]
max_concurrent_jobs = 10
cleanup_retention_days = 30
health_check_interval = "30s"
metrics_enabled = true
[scheduler]
tick_interval = "1s"
timezone = "UTC"
max_missed_runs = 3
[executor]
default_timeout = "15m"
claude_cli_path = "npx @anthropic-ai/claude-code@latest"
session_timeout = "1h"
[notifications]
rate_limit_per_hour = 100
template_directory = "./templates"
[database]
cleanup_old_executions = true
max_execution_history = 1000
""",
        encoding="utf-8",
    )
    settings = load_settings(path, environ={})
    assert settings.executor.session_timeout == 3600
    assert settings.notifications.template_directory == "./templates"


def test_session_timeout_caps_every_execution_timeout() -> None:
    executor = make_settings(executor={"default_timeout": "15m", "session_timeout": "1h"}).executor
    assert executor.effective_timeout(None) == 900
    assert executor.effective_timeout(1800) == 1800
    assert executor.effective_timeout(7200) == 3600, "a job cannot outlast a session"


def test_init_writes_a_commented_default_file_and_never_overwrites(
    cli: Cli, tmp_path: Path
) -> None:
    out = cli("config", "init").stdout
    default = tmp_path / "xdg-config" / "cnp" / "claude-pilot.toml"
    assert f"wrote {default}" in out
    text = default.read_text(encoding="utf-8")
    assert text == default_config_text()
    assert "# Hard cap on one claude session" in text and 'session_timeout = "1h"' in text
    assert Settings.model_validate(tomllib.loads(text)) == Settings()
    refused = cli("config", "init", code=4)
    assert f"{default} exists (give --force to overwrite it)" in refused.stderr
    default.write_text("# mine\n", encoding="utf-8")
    cli("config", "init", "--force")
    assert default.read_text(encoding="utf-8") == text
    other = tmp_path / "elsewhere" / "cnp.toml"
    cli("config", "init", "--file", str(other))
    assert other.read_text(encoding="utf-8") == text
    assert cli("config", "validate", str(other)).stdout == f"{other}: valid\n"


def test_validate_names_key_line_and_hint(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[job_engine]\nmax_concurent_jobs = 4\n\n[scheduler]\ntick_interval = "fast"\n'
        "max_missed_runs = 0\n\n[executer]\nx = 1\n",
        encoding="utf-8",
    )
    err = cli("config", "validate", str(path), code=2).stderr
    assert err.startswith(f"cnp: {path}: 4 problem(s):\n  - {path}:2: unknown key")
    assert (
        f"{path}:2: unknown key [job_engine] max_concurent_jobs "
        "(did you mean max_concurrent_jobs?)" in err
    )
    assert f"{path}:5: [scheduler] tick_interval: 'fast' is not a duration" in err
    assert f"{path}:6: [scheduler] max_missed_runs: Input should be greater than or equal to 1" in (
        err
    )
    assert "[max_missed_runs: At most this many missed slots are caught up" in err
    assert f"{path}:8: unknown key [executer] (did you mean executor?)" in err
    path.write_text("[scheduler\n", encoding="utf-8")
    err = cli("config", "validate", str(path), code=2).stderr
    assert "is not valid TOML" in err and "line 1" in err
    missing = cli("config", "validate", str(tmp_path / "none.toml"), code=2).stderr
    assert "none.toml does not exist" in missing
    nothing = cli("config", "validate", code=2).stderr
    assert "no config file to check" in nothing and "cnp config init" in nothing


def test_show_tells_where_each_value_comes_from(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "home" / "claude-pilot.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[scheduler]\ntimezone = "Asia/Taipei"\n\n[executor]\nkill_grace = "9s"\n')
    monkeypatch.setenv("CNP_JOB_ENGINE__MAX_CONCURRENT_JOBS", "4")
    shown = cli.json("config", "show")
    keys = {row["key"]: row for row in shown["keys"]}
    assert shown["config_file"] == str(config)
    assert keys["scheduler.timezone"] == {
        "key": "scheduler.timezone",
        "value": "Asia/Taipei",
        "source": f"{config}:2",
    }
    assert keys["executor.kill_grace"]["value"] == "9s"
    assert keys["executor.kill_grace"]["source"] == f"{config}:5"
    assert keys["job_engine.max_concurrent_jobs"]["value"] == 4
    assert (
        keys["job_engine.max_concurrent_jobs"]["source"]
        == "env CNP_JOB_ENGINE__MAX_CONCURRENT_JOBS"
    )
    assert keys["executor.session_timeout"] == {
        "key": "executor.session_timeout",
        "value": "1h",
        "source": "default",
    }
    table = cli("config", "show").stdout
    assert "metrics_enabled" in table and "true" in table


def test_env_overrides_beat_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[executor]\nsession_timeout = "2h"\n[notifications]\nrate_limit_per_hour = 5\n'
    )
    environ = {"CNP_EXECUTOR__SESSION_TIMEOUT": "30m", "CNP_DATABASE__CLEANUP_OLD_EXECUTIONS": "0"}
    settings = load_settings(path, environ=environ)
    assert settings.executor.session_timeout == 1800
    assert settings.notifications.rate_limit_per_hour == 5
    assert settings.database.cleanup_old_executions is False
    sources = setting_sources(path, environ)
    assert sources[("executor", "session_timeout")] == "env CNP_EXECUTOR__SESSION_TIMEOUT"
    assert sources[("notifications", "rate_limit_per_hour")] == f"{path}:4"
    with pytest.raises(ConfigError, match="environment variable CNP_NOTIFICATIONS__RATE_LIMIT"):
        load_settings(path, environ={"CNP_NOTIFICATIONS__RATE_LIMIT_PER_HOUR": "lots"})


# --- database maintenance ---------------------------------------------------------------------


@pytest.mark.slow
async def test_backup_while_the_engine_runs_and_writes(
    paths: Paths, client: JobService, tmp_path: Path
) -> None:
    settings = make_settings()
    job = await add_job(client, "busy", "@sim lines=400 duration=3")
    async with Runtime(paths, settings) as engine:
        events = Recorder(engine.bus)
        execution = await client.execute_job(job.id)
        await events.wait_for(LogLinesAppended, lambda e: e.execution_id == execution.id)
        while not await client.logs(execution.id, limit=1):  # committed by the group writer
            await events.wait_for(LogLinesAppended, count=len(events.of(LogLinesAppended)) + 1)
        backups = []
        for index in range(3):  # while log lines keep arriving
            backups.append(
                await asyncio.to_thread(
                    backup_database, paths.database, tmp_path / f"backup-{index}.db"
                )
            )
        [done] = await events.wait_for(ExecutionFinished, lambda e: e.execution.id == execution.id)
    assert done.execution.status is ExecutionStatus.COMPLETED
    statuses = []
    for result in backups:
        assert result.jobs == 1 and result.executions == 1
        with sqlite3.connect(result.path) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            (status,) = copy.execute("SELECT status FROM executions").fetchone()
            statuses.append(status)
            logged = copy.execute("SELECT count(*) FROM logs").fetchone()[0]
            assert logged > 0, "the backup holds the log lines written so far"
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith((".partial", "-wal"))]
    assert leftovers == [], "a backup is one standalone file, no partial copy left behind"
    assert statuses[0] == "running", "the first backup was taken while the execution ran"


def test_backup_refuses_to_overwrite_or_copy_onto_itself(paths: Paths, tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="no database at"):
        backup_database(paths.database, tmp_path / "b.db")
    sqlite3.connect(paths.database).execute("CREATE TABLE jobs (x)").connection.close()
    with pytest.raises(InvalidInputError, match="the backup file is the database itself"):
        backup_database(paths.database, paths.database)
    existing = tmp_path / "exists.db"
    existing.write_text("keep me")
    with pytest.raises(InvalidInputError, match="exists"):
        backup_database(paths.database, existing)
    assert existing.read_text() == "keep me"
    with pytest.raises(InvalidInputError, match="does not exist"):
        backup_database(paths.database, tmp_path / "no" / "dir" / "b.db")


def test_db_backup_and_vacuum_commands(cli: Cli, tmp_path: Path) -> None:
    cli("prompt", "create", "P", "--content", "x" * 20_000, "--id", "p")
    for index in range(30):
        cli("job", "create", f"job-{index}", "--prompt-id", "p", "--every", "1h")
    target = tmp_path / "backup.db"
    data = cli.json("db", "backup", str(target))
    assert data["jobs"] == 30 and data["path"] == str(target)
    refused = cli("db", "backup", str(target), code=2)
    assert "--force" in refused.stderr
    assert "30 jobs" in cli("db", "backup", str(target), "--force").stdout
    restored = Cli(tmp_path / "restored")
    restored.home.mkdir()
    (restored.home / "cnp.db").write_bytes(target.read_bytes())
    assert len(restored.json("job", "list")) == 30, "a backup is a working home"
    for index in range(30):
        cli("job", "delete", f"job-{index}", "--yes")
    cli("prompt", "delete", "p")
    out = cli("db", "vacuum").stdout
    before, after = (int(n) for n in out.split(": ")[1].removesuffix(" bytes\n").split(" -> "))
    assert after < before
    empty = Cli(tmp_path / "nowhere")
    assert "no database at" in empty("db", "vacuum", code=5).stderr


@pytest.mark.slow
async def test_session_timeout_ends_a_run_whose_job_allows_longer(
    paths: Paths, client: JobService, clock: ManualClock
) -> None:
    settings = make_settings(executor={"session_timeout": "1m", "shutdown_grace": 0.5})
    job = await add_job(
        client,
        "long",
        "@sim hang",
        execution={"timeout_seconds": "1h"},
        retry={"max_attempts": 1},
    )
    async with Runtime(paths, settings, clock=clock) as engine:
        events = Recorder(engine.bus)
        await client.execute_job(job.id)
        await events.wait_for(ExecutionStarted)
        deadline = clock.now() + timedelta(minutes=1)
        for _ in range(100):  # until the executor's timer sleeps on the clock (if it is capped)
            if deadline in {when for when, _, _ in clock._sleepers}:
                break
            await asyncio.sleep(0.01)
        await clock.advance(61)
        [done] = await events.wait_for(ExecutionFinished, within=2)
    assert done.execution.status is ExecutionStatus.TIMED_OUT
