"""Bad input of every class: one clear sentence on stderr, the documented exit code (2 bad input,
3 not found, 4 conflict, 5 unusable database, 6 claude not found), no traceback, and nothing
changed in the database."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from cnp_tui.store.sqlite import SCHEMA_VERSION
from tests.conftest import SIMULATOR
from tests.integration.test_cli import Cli, isolate_env, jobs_until_first_characters_collide

REPO = Path(__file__).resolve().parents[2]

Snapshot = tuple[str, ...]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    isolate_env(monkeypatch, tmp_path)
    cli = Cli(tmp_path / "home")
    cli("prompt", "create", "Prompt", "--id", "p", "--content", "@sim")
    cli("job", "create", "existing", "--prompt-id", "p", "--cron", "0 9 * * *", "--tag", "t")
    cli("job", "execute", "existing")
    return cli


def state(cli: Cli) -> Snapshot:
    """Everything a user can list: jobs, prompts, the queue and the existing job's history."""
    return tuple(
        cli(*args, "--format", "json").stdout
        for args in (
            ("job", "list"),
            ("prompt", "list"),
            ("status",),
            ("job", "history", "existing"),
        )
    )


def refused(result: Result, code: int, *fragments: str) -> str:
    """Assert a clean refusal: the exit code, one sentence on stderr naming ``fragments``."""
    message = result.stderr.strip()
    assert result.exit_code == code, f"exit {result.exit_code}, expected {code}: {message}"
    assert "Traceback" not in result.output
    assert message.startswith("cnp: "), message
    assert len(message.splitlines()) == 1, f"not one line: {message!r}"
    assert "internal error" not in message
    for fragment in fragments:
        assert fragment.lower() in message.lower(), f"{fragment!r} not in {message!r}"
    assert result.stdout == "", "nothing is printed as if it had worked"
    return message


CREATE_CASES: list[tuple[str, list[str], int, list[str]]] = [
    ("cron minute out of range", ["--cron", "61 * * * *"], 2, ["minute", "61", "0-59"]),
    ("cron hour out of range", ["--cron", "0 25 * * *"], 2, ["hour", "25"]),
    ("cron with 4 fields", ["--cron", "* * * *"], 2, ["5 fields", "got 4"]),
    ("cron word", ["--cron", "sometimes"], 2, ["cron", "sometimes"]),
    (
        "unknown time zone",
        ["--cron", "0 9 * * *", "--tz", "Mars/Olympus_Mons"],
        2,
        ["time zone", "Mars/Olympus_Mons"],
    ),
    ("priority 0", ["--every", "1h", "--priority", "0"], 2, ["priority", "1"]),
    ("priority 11", ["--every", "1h", "--priority", "11"], 2, ["priority", "10"]),
    ("unknown prompt", ["--every", "1h", "--prompt-id", "nope"], 3, ["prompt", "'nope'"]),
    ("timeout 5x", ["--every", "1h", "--timeout", "5x"], 2, ["timeout", "5x", "15m"]),
    ("every soon", ["--every", "soon"], 2, ["interval", "soon"]),
    ("zero interval", ["--every", "0s"], 2, ["0s"]),
    ("retry interval", ["--every", "1h", "--retry-interval", "later"], 2, ["later"]),
    ("at tomorrow", ["--at", "tomorrow"], 2, ["tomorrow", "ISO 8601"]),
    ("at in the past", ["--at", "2001-01-01T00:00"], 2, ["2001-01-01T00:00", "past"]),
    ("env without =", ["--every", "1h", "--env", "NOEQUALS"], 2, ["NOEQUALS", "KEY=VALUE"]),
    ("env without key", ["--every", "1h", "--env", "=x"], 2, ["KEY=VALUE"]),
    ("two schedules", ["--every", "1h", "--cron", "0 9 * * *"], 2, ["--cron", "--every"]),
    ("no schedule", [], 2, ["schedule", "--cron", "--every", "--at"]),
    ("zero attempts", ["--every", "1h", "--max-attempts", "0"], 2, ["max_attempts"]),
    ("custom retry without delays", ["--every", "1h", "--retry-strategy", "custom"], 2, ["delays"]),
    ("zero max-parallel", ["--every", "1h", "--max-parallel", "0"], 2, ["max_parallel"]),
]


@pytest.mark.parametrize(
    ("options", "code", "fragments"),
    [case[1:] for case in CREATE_CASES],
    ids=[case[0] for case in CREATE_CASES],
)
def test_job_create_refuses_bad_input(
    cli: Cli, options: list[str], code: int, fragments: list[str]
) -> None:
    before = state(cli)
    prompt = [] if "--prompt-id" in options else ["--prompt-id", "p"]
    result = cli("job", "create", "new-job", *prompt, *options, code=None)
    refused(result, code, *fragments)
    assert state(cli) == before
    cli("job", "show", "new-job", code=3)


def test_duplicate_job_name_is_a_conflict(cli: Cli) -> None:
    before = state(cli)
    result = cli("job", "create", "existing", "--prompt-id", "p", "--every", "1m", code=None)
    refused(result, 4, "'existing'", "already exists")
    cli("job", "create", "other", "--prompt-id", "p", "--every", "1m")
    result = cli("job", "update", "other", "--name", "existing", code=None)
    refused(result, 4, "'existing'", "already exists")
    assert cli.json("job", "show", "existing")["schedule"]["expression"] == "0 9 * * *"
    cli("job", "delete", "other", "--yes")
    assert state(cli) == before


UPDATE_CASES: list[tuple[str, list[str], int, list[str]]] = [
    ("bad cron", ["--cron", "0 0 32 * *"], 2, ["day", "32"]),
    ("bad zone", ["--tz", "Nowhere/City"], 2, ["Nowhere/City"]),
    ("priority 11", ["--priority", "11"], 2, ["priority"]),
    ("unknown prompt", ["--prompt-id", "ghost"], 3, ["'ghost'"]),
    ("malformed timeout", ["--timeout", "5x"], 2, ["5x"]),
    ("nothing to change", [], 2, ["nothing to update"]),
]


@pytest.mark.parametrize(
    ("options", "code", "fragments"),
    [case[1:] for case in UPDATE_CASES],
    ids=[case[0] for case in UPDATE_CASES],
)
def test_job_update_refuses_bad_input(
    cli: Cli, options: list[str], code: int, fragments: list[str]
) -> None:
    before = state(cli)
    refused(cli("job", "update", "existing", *options, code=None), code, *fragments)
    assert state(cli) == before


NOT_FOUND: list[list[str]] = [
    ["job", "show", "nope"],
    ["job", "execute", "nope", "--wait"],
    ["job", "delete", "nope", "--yes"],
    ["job", "pause", "nope"],
    ["job", "history", "nope"],
    ["prompt", "show", "nope"],
    ["prompt", "delete", "nope"],
    ["execution", "show", "nope"],
    ["execution", "cancel", "nope"],
    ["execution", "logs", "nope"],
]


@pytest.mark.parametrize("args", NOT_FOUND, ids=[" ".join(a[:2]) for a in NOT_FOUND])
def test_unknown_references_are_not_found(cli: Cli, args: list[str]) -> None:
    before = state(cli)
    refused(cli(*args, code=None), 3, "'nope'")
    assert state(cli) == before


def test_ambiguous_job_prefix_names_the_candidates(cli: Cli) -> None:
    first, pair = jobs_until_first_characters_collide(cli)
    before = state(cli)
    for args in (("job", "delete", first, "--yes"), ("job", "pause", first)):
        message = refused(cli(*args, code=None), 2, f"'{first}'", "matches")
        for job in pair:
            assert job["id"] in message and job["name"] in message
    assert state(cli) == before


def test_prompt_input_errors(cli: Cli) -> None:
    before = state(cli)
    refused(cli("prompt", "create", "Again", "--id", "p", "--content", "x", code=None), 4, "'p'")
    refused(
        cli("prompt", "create", "Bad", "--id", "Bad Id", "--content", "x", code=None),
        2,
        "'Bad Id'",
        "prompt id",
    )
    refused(cli("prompt", "create", "No text", code=None), 2, "--content")
    refused(cli("prompt", "delete", "p", code=None), 4, "existing")
    assert state(cli) == before


# --- configuration ---------------------------------------------------------------------------


CONFIG_CASES: list[tuple[str, str, list[str]]] = [
    ("toml syntax", "[job_engine\nmax_concurrent_jobs = 3\n", ["not valid TOML", "line 1"]),
    (
        "unknown key",
        "[job_engine]\nmax_concurent_jobs = 3\n",
        ["claude-pilot.toml:2", "max_concurent_jobs", "did you mean max_concurrent_jobs"],
    ),
    (
        "unknown section",
        "[exector]\ndefault_timeout = '5m'\n",
        ["claude-pilot.toml:1", "exector", "did you mean executor"],
    ),
    (
        "wrong type",
        "[job_engine]\n# comment\nmax_concurrent_jobs = 'ten'\n",
        ["claude-pilot.toml:3", "[job_engine] max_concurrent_jobs", "integer", "'ten'"],
    ),
    (
        "bad duration",
        "[executor]\ndefault_timeout = 'fifteen minutes'\n",
        ["claude-pilot.toml:2", "default_timeout", "not a duration"],
    ),
    (
        "bad zone",
        "[scheduler]\ntimezone = 'Europe/Atlantis'\n",
        ["claude-pilot.toml:2", "timezone", "Europe/Atlantis"],
    ),
]


@pytest.mark.parametrize(
    ("text", "fragments"),
    [case[1:] for case in CONFIG_CASES],
    ids=[case[0] for case in CONFIG_CASES],
)
def test_a_bad_config_file_is_refused_with_key_line_and_reason(
    cli: Cli, text: str, fragments: list[str]
) -> None:
    before = state(cli)
    config = cli.home / "claude-pilot.toml"
    config.write_text(text, encoding="utf-8")
    for args in (
        ("job", "create", "new-job", "--prompt-id", "p", "--every", "1h"),
        ("job", "list"),
    ):
        refused(cli(*args, code=None), 2, *fragments)
    config.unlink()
    assert state(cli) == before


def test_a_missing_explicit_config_file_is_refused(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    refused(cli("--config", str(missing), "job", "list", code=None), 2, str(missing), "not exist")


# --- unusable databases ----------------------------------------------------------------------


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def foreign_home(tmp_path: Path, write: Callable[[Path], None]) -> Cli:
    home = tmp_path / "foreign"
    home.mkdir()
    write(home / "cnp.db")
    return Cli(home)


def _other_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        conn.execute("INSERT INTO notes (text) VALUES ('mine')")
    conn.close()


def _not_sqlite(path: Path) -> None:
    path.write_bytes(b"this is a text file, not a database\n" * 40)


@pytest.mark.parametrize(
    ("write", "fragments"),
    [(_other_sqlite, ["not a cnp database"]), (_not_sqlite, ["not a usable SQLite database"])],
    ids=["foreign sqlite", "not sqlite"],
)
def test_a_foreign_database_is_refused_and_left_alone(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    write: Callable[[Path], None],
    fragments: list[str],
) -> None:
    isolate_env(monkeypatch, tmp_path)
    cli = foreign_home(tmp_path, write)
    database = cli.home / "cnp.db"
    before = digest(database)
    for args in (
        ("job", "list"),
        ("prompt", "create", "P", "--content", "x"),
        ("status",),
        ("job", "show", "x"),
    ):
        refused(cli(*args, code=None), 5, str(database), *fragments)
    assert digest(database) == before
    assert sorted(p.name for p in cli.home.iterdir()) == ["cnp.db"]


def test_a_database_from_a_newer_cnp_is_refused(cli: Cli) -> None:
    before = state(cli)
    database = cli.home / "cnp.db"

    def set_version(version: int) -> None:
        conn = sqlite3.connect(database)
        try:
            conn.execute(f"PRAGMA user_version = {version}")
            conn.commit()
        finally:
            conn.close()

    set_version(SCHEMA_VERSION + 1)
    for args in (
        ("job", "list"),
        ("job", "create", "new-job", "--prompt-id", "p", "--every", "1h"),
        ("job", "execute", "existing"),
    ):
        refused(cli(*args, code=None), 5, "newer", "upgrade")
    conn = sqlite3.connect(database)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    conn.close()
    set_version(SCHEMA_VERSION)
    assert state(cli) == before


# --- claude not found ------------------------------------------------------------------------


def test_execute_wait_without_claude_exits_6(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNP_EXECUTOR__CLAUDE_CLI_PATH", "/nonexistent/bin/claude")
    result = cli("job", "execute", "existing", "--wait", code=None)
    assert result.exit_code == 6
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("cnp: ") and "/nonexistent/bin/claude" in message
    assert "claude_cli_path" in message
    assert "Traceback" not in result.output


def test_execute_wait_without_claude_leaves_nothing_queued(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = state(cli)
    monkeypatch.setenv("CNP_EXECUTOR__CLAUDE_CLI_PATH", "/nonexistent/bin/claude")
    assert cli("job", "execute", "existing", "--wait", code=None).exit_code == 6
    monkeypatch.setenv("CNP_EXECUTOR__CLAUDE_CLI_PATH", "unused")
    assert state(cli) == before


def test_engine_without_claude_refuses_to_start(cli: Cli, tmp_path: Path) -> None:
    env = engine_env(tmp_path, CNP_EXECUTOR__CLAUDE_CLI_PATH="/nonexistent/bin/claude")
    proc = subprocess.run(
        [sys.executable, "-m", "cnp_tui", "--home", str(cli.home), "--no-ui"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 6, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "/nonexistent/bin/claude" in proc.stderr
    assert "engine started" not in proc.stderr
    assert cli.json("status")["engine"]["running"] is False


def engine_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "CNP_EXECUTOR__CLAUDE_CLI_PATH": SIMULATOR,
        **extra,
    }


@pytest.mark.parametrize("setup", ["bad config", "foreign database", "newer database"])
def test_the_engine_refuses_an_unusable_home(cli: Cli, tmp_path: Path, setup: str) -> None:
    database = cli.home / "cnp.db"
    if setup == "bad config":
        (cli.home / "claude-pilot.toml").write_text("[scheduler]\ntick_intervall = 1\n")
        code, fragment = 2, "did you mean tick_interval"
    elif setup == "foreign database":
        database.unlink()
        _other_sqlite(database)
        code, fragment = 5, "not a cnp database"
    else:
        conn = sqlite3.connect(database)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.commit()
        conn.close()
        code, fragment = 5, "newer"
    proc = subprocess.run(
        [sys.executable, "-m", "cnp_tui", "--home", str(cli.home), "--no-ui"],
        env=engine_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    assert fragment in proc.stderr
    assert "engine started" not in proc.stderr
