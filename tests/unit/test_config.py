"""The global config: ``load_settings`` (file + environment) and the lookup of ``resolve_paths``."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnp_tui.config import Settings, load_settings
from cnp_tui.errors import ConfigError
from cnp_tui.paths import CONFIG_NAME, resolve_paths


def write(tmp_path: Path, text: str, name: str = CONFIG_NAME) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path | None, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ or {})
    assert caught.value.exit_code == 2
    return str(caught.value)


# --- values ----------------------------------------------------------------------------------


def test_defaults_without_a_file() -> None:
    settings = load_settings(None, {})
    assert settings == Settings()
    assert settings.job_engine.max_concurrent_jobs == 10
    assert settings.job_engine.cleanup_retention_days == 30
    assert settings.job_engine.heartbeat_interval == 10
    assert settings.scheduler.tick_interval == 1
    assert settings.scheduler.timezone == "UTC"
    assert settings.scheduler.max_missed_runs == 3
    assert settings.scheduler.misfire_grace == 60
    assert settings.executor.claude_cli_path == "claude"
    assert settings.executor.default_timeout == 15 * 60
    assert settings.executor.shutdown_grace == 30
    assert settings.executor.kill_grace == 5
    assert settings.executor.max_log_lines == 20_000
    assert settings.cooldown.default_duration == 3600
    assert settings.database.cleanup_old_executions is True
    assert settings.database.max_execution_history == 1000


def test_the_readme_example_file_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[job_engine]
max_concurrent_jobs = 4
cleanup_retention_days = 0
health_check_interval = "30s"
heartbeat_interval = "15s"

[scheduler]
tick_interval = "2s"
timezone = "Europe/Berlin"
max_missed_runs = 5
misfire_grace = "1m"

[executor]
claude_cli_path = "npx @anthropic-ai/claude-code@latest"
default_timeout = "1h30m"
shutdown_grace = "30s"
kill_grace = "5s"
max_log_lines = 500
sample_interval = "1s"

[cooldown]
default_duration = "2h"

[database]
cleanup_old_executions = false
max_execution_history = 50
""",
    )
    settings = load_settings(path, {})
    assert settings.job_engine.max_concurrent_jobs == 4
    assert settings.job_engine.cleanup_retention_days == 0
    assert settings.job_engine.heartbeat_interval == 15
    assert settings.scheduler.tick_interval == 2
    assert settings.scheduler.timezone == "Europe/Berlin"
    assert settings.executor.claude_cli_path == "npx @anthropic-ai/claude-code@latest"
    assert settings.executor.default_timeout == 5400
    assert settings.cooldown.default_duration == 7200
    assert settings.database.cleanup_old_executions is False
    assert settings.database.max_execution_history == 50


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("1h30m", 5400), ("2d", 172800), ("90", 90), ("1.5h", 5400)],
)
def test_durations_as_strings(tmp_path: Path, text: str, seconds: float) -> None:
    path = write(tmp_path, f'[executor]\ndefault_timeout = "{text}"\n')
    assert load_settings(path, {}).executor.default_timeout == seconds


def test_durations_as_numbers_are_seconds(tmp_path: Path) -> None:
    path = write(tmp_path, "[executor]\ndefault_timeout = 90\nkill_grace = 2.5\n")
    settings = load_settings(path, {})
    assert settings.executor.default_timeout == 90
    assert settings.executor.kill_grace == 2.5


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[job_engine]\nmax_concurrent_jobs = 4\n[scheduler]\ntick_interval = "2s"\n'
        'timezone = "Asia/Tokyo"\n',
    )
    settings = load_settings(
        path,
        {
            "CNP_JOB_ENGINE__MAX_CONCURRENT_JOBS": "7",
            "CNP_SCHEDULER__TICK_INTERVAL": "250ms",
            "CNP_EXECUTOR__CLAUDE_CLI_PATH": "/opt/claude/bin/claude",
            "CNP_DATABASE__CLEANUP_OLD_EXECUTIONS": "false",
            "CNP_HOME": "/somewhere",  # not a setting: no "__"
            "OTHER__THING": "1",
        },
    )
    assert settings.job_engine.max_concurrent_jobs == 7, "env beats the file"
    assert settings.scheduler.tick_interval == 0.25
    assert settings.scheduler.timezone == "Asia/Tokyo", "keys the env does not name stay"
    assert settings.executor.claude_cli_path == "/opt/claude/bin/claude"
    assert settings.database.cleanup_old_executions is False


def test_environment_overrides_without_a_file() -> None:
    settings = load_settings(None, {"CNP_COOLDOWN__DEFAULT_DURATION": "45m"})
    assert settings.cooldown.default_duration == 2700


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNP_SCHEDULER__MAX_MISSED_RUNS", "9")
    assert load_settings(None).scheduler.max_missed_runs == 9


# --- errors ----------------------------------------------------------------------------------


def test_unknown_key_names_line_and_suggests(tmp_path: Path) -> None:
    path = write(tmp_path, "[job_engine]\n# how many at once\nmax_concurent_jobs = 3\n")
    message = error_of(path)
    assert f"{path}:3" in message
    assert "unknown key [job_engine] max_concurent_jobs" in message
    assert "did you mean max_concurrent_jobs?" in message


def test_unknown_section_suggests_the_known_one(tmp_path: Path) -> None:
    path = write(tmp_path, '[sheduler]\ntimezone = "UTC"\n')
    message = error_of(path)
    assert f"{path}:1" in message and "sheduler" in message
    assert "did you mean scheduler?" in message


def test_unknown_key_without_a_close_match_lists_the_known_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "[cooldown]\nbanana = 1\n")
    message = error_of(path)
    assert "banana" in message and "default_duration" in message


def test_wrong_type_names_key_line_and_reason(tmp_path: Path) -> None:
    path = write(tmp_path, '[scheduler]\n\nmax_missed_runs = "lots"\n')
    message = error_of(path)
    assert f"{path}:3" in message
    assert "[scheduler] max_missed_runs" in message
    assert "integer" in message and "'lots'" in message


def test_out_of_range_value_says_the_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "[job_engine]\nmax_concurrent_jobs = 0\n")
    message = error_of(path)
    assert f"{path}:2" in message
    assert "max_concurrent_jobs" in message and "greater than or equal to 1" in message


def test_bad_duration_says_how_to_write_one(tmp_path: Path) -> None:
    path = write(tmp_path, '[executor]\nkill_grace = "5 parsecs"\n')
    message = error_of(path)
    assert f"{path}:2" in message
    assert "[executor] kill_grace" in message
    assert "not a duration" in message and "1h30m" in message


def test_negative_duration_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[executor]\nshutdown_grace = "-5s"\n')
    assert "shutdown_grace" in error_of(path)


def test_bad_time_zone(tmp_path: Path) -> None:
    path = write(tmp_path, '[scheduler]\ntimezone = "Mars/Olympus_Mons"\n')
    message = error_of(path)
    assert f"{path}:2" in message
    assert "Mars/Olympus_Mons" in message and "IANA" in message


def test_bad_toml_gives_the_position(tmp_path: Path) -> None:
    path = write(tmp_path, '[executor]\nclaude_cli_path = "claude\n')
    message = error_of(path)
    assert str(path) in message and "not valid TOML" in message
    assert "line 2" in message


def test_a_section_that_is_not_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, "executor = 5\n")
    message = error_of(path)
    assert "[executor]" in message


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "[job_engine]\nmax_concurrent_jobs = -1\nmax_concurent = 3\n")
    message = error_of(path)
    assert f"{path}:2" in message and f"{path}:3" in message


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    message = error_of(missing)
    assert str(missing) in message and "does not exist" in message


def test_bad_environment_value_is_reported_without_a_file() -> None:
    message = error_of(None, {"CNP_JOB_ENGINE__MAX_CONCURRENT_JOBS": "many"})
    assert "max_concurrent_jobs" in message and "'many'" in message


def test_bad_environment_value_names_the_variable_not_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[job_engine]\nmax_concurrent_jobs = 4\n")
    message = error_of(path, {"CNP_JOB_ENGINE__MAX_CONCURRENT_JOBS": "many"})
    assert "CNP_JOB_ENGINE__MAX_CONCURRENT_JOBS" in message
    assert f"{path}:2" not in message, "line 2 of the file is fine"


@pytest.mark.parametrize(
    "line",
    ["[executor]\nshutdown_grace = true", "[job_engine]\nmax_concurrent_jobs = true"],
    ids=["duration", "integer"],
)
def test_a_boolean_is_not_a_number(tmp_path: Path, line: str) -> None:
    path = write(tmp_path, line + "\n")
    message = error_of(path)
    assert f"{path}:2" in message


# --- resolve_paths ---------------------------------------------------------------------------


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Platform dirs under tmp (XDG on Linux) and no CNP_HOME / CNP_CONFIG from outside."""
    monkeypatch.delenv("CNP_HOME", raising=False)
    monkeypatch.delenv("CNP_CONFIG", raising=False)
    layout = {
        "xdg_config": tmp_path / "xdg-config",
        "xdg_data": tmp_path / "xdg-data",
        "home": tmp_path / "cnp-home",
        "env_home": tmp_path / "env-home",
    }
    monkeypatch.setenv("XDG_CONFIG_HOME", str(layout["xdg_config"]))
    monkeypatch.setenv("XDG_DATA_HOME", str(layout["xdg_data"]))
    for path in (layout["home"], layout["env_home"]):
        path.mkdir()
    return layout


def platform_config(dirs: dict[str, Path]) -> Path:
    path = dirs["xdg_config"] / "cnp" / CONFIG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("", encoding="utf-8")
    return path


def test_nothing_found_means_no_file_and_the_platform_home(dirs: dict[str, Path]) -> None:
    paths = resolve_paths()
    assert paths.config_file is None
    assert paths.home == dirs["xdg_data"] / "cnp"
    assert paths.database == dirs["xdg_data"] / "cnp" / "cnp.db"
    assert not paths.home.exists(), "nothing is created by looking"


def test_home_flag_beats_cnp_home(dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNP_HOME", str(dirs["env_home"]))
    assert resolve_paths().home == dirs["env_home"]
    assert resolve_paths(dirs["home"]).home == dirs["home"]


def test_home_expands_the_user(dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(dirs["home"]))
    assert resolve_paths("~/data").home == dirs["home"] / "data"


def test_platform_config_dir_is_the_last_resort(dirs: dict[str, Path]) -> None:
    found = platform_config(dirs)
    assert resolve_paths(dirs["home"]).config_file == found


def test_config_in_the_home_beats_the_platform_dir(dirs: dict[str, Path]) -> None:
    platform_config(dirs)
    in_home = write(dirs["home"], "")
    assert resolve_paths(dirs["home"]).config_file == in_home


def test_config_in_cnp_home_is_found(
    dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    platform_config(dirs)
    in_env_home = write(dirs["env_home"], "")
    monkeypatch.setenv("CNP_HOME", str(dirs["env_home"]))
    assert resolve_paths().config_file == in_env_home


def test_cnp_config_beats_the_home_file(
    dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    platform_config(dirs)
    write(dirs["home"], "")
    explicit = write(tmp_path, "", "env.toml")
    monkeypatch.setenv("CNP_CONFIG", str(explicit))
    assert resolve_paths(dirs["home"]).config_file == explicit


def test_config_flag_beats_everything(
    dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    platform_config(dirs)
    write(dirs["home"], "")
    monkeypatch.setenv("CNP_CONFIG", str(write(tmp_path, "", "env.toml")))
    flag = write(tmp_path, "", "flag.toml")
    assert resolve_paths(dirs["home"], flag).config_file == flag


def test_a_named_config_file_is_used_even_if_missing(dirs: dict[str, Path], tmp_path: Path) -> None:
    """--config and $CNP_CONFIG are not skipped when absent: loading then says it is missing."""
    platform_config(dirs)
    missing = tmp_path / "typo.toml"
    paths = resolve_paths(dirs["home"], missing)
    assert paths.config_file == missing
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(paths.config_file, {})


def test_a_directory_named_like_the_config_is_skipped(dirs: dict[str, Path]) -> None:
    (dirs["home"] / CONFIG_NAME).mkdir()
    found = platform_config(dirs)
    assert resolve_paths(dirs["home"]).config_file == found


def test_the_lookup_feeds_load_settings(dirs: dict[str, Path]) -> None:
    write(dirs["home"], '[scheduler]\ntimezone = "Asia/Taipei"\n')
    paths = resolve_paths(dirs["home"])
    assert paths.config_file is not None
    settings = load_settings(paths.config_file, {})
    assert settings.scheduler.timezone == "Asia/Taipei"
