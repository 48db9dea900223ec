"""Import boundaries, proven in fresh interpreters through ``sys.modules``: the domain never
imports textual, aiohttp or aiosqlite; ``cnp job list`` and ``cnp --no-ui`` never import textual;
``cnp --help`` starts without pydantic or aiosqlite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SIMULATOR

REPO = Path(__file__).resolve().parents[2]
CORE = sorted(
    f"cnp_tui.core.{path.stem}"
    for path in (REPO / "cnp_tui" / "core").glob("*.py")
    if path.stem != "__init__"
)

# Runs `cnp ARGS...` like the console script would, and on exit (atexit, so also after
# click's sys.exit and after SIGTERM handling) writes the top-level modules loaded to $REPORT.
HARNESS = """
import atexit, json, os, runpy, sys

def report():
    with open(os.environ["REPORT"], "w", encoding="utf-8") as out:
        json.dump(sorted(sys.modules), out)

atexit.register(report)
sys.argv = ["cnp", *json.loads(os.environ["ARGS"])]
runpy.run_module("cnp_tui", run_name="__main__", alter_sys=True)
"""


def loaded(report: Path, *packages: str) -> list[str]:
    """Which of ``packages`` (or their submodules) the report lists."""
    modules = json.loads(report.read_text(encoding="utf-8"))
    return sorted({p for p in packages for m in modules if m == p or m.startswith(p + ".")})


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CNP_")}
    return base | {
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "CNP_HOME": str(tmp_path / "home"),
        "CNP_EXECUTOR__CLAUDE_CLI_PATH": SIMULATOR,
        "CNP_SCHEDULER__TICK_INTERVAL": "0.05",
        "REPORT": str(tmp_path / "modules.json"),
    }


def cnp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-c", HARNESS],
        env=env | {"ARGS": json.dumps(args)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_the_core_package_is_found() -> None:
    assert {"cnp_tui.core.models", "cnp_tui.core.schedule", "cnp_tui.core.retry"} <= set(CORE)


def test_core_imports_no_ui_web_or_database_library(env: dict[str, str]) -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {CORE!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules = json.loads(proc.stdout)
    assert set(CORE) <= set(modules), "every core module was imported"
    forbidden = [
        m
        for m in modules
        if m.split(".")[0] in {"textual", "aiohttp", "aiosqlite", "cnp_tui"}
        and not (m.startswith("cnp_tui.core") or m == "cnp_tui")
    ]
    assert forbidden == []


def test_job_list_never_imports_textual(env: dict[str, str]) -> None:
    report = Path(env["REPORT"])
    cnp(env, "prompt", "create", "P", "--id", "p", "--content", "@sim")
    cnp(env, "job", "create", "j", "--prompt-id", "p", "--every", "1h")
    for args in (("job", "list", "--format", "json"), ("job", "list")):
        proc = cnp(env, *args)
        assert "j" in proc.stdout
        assert loaded(report, "textual") == []
        assert loaded(report, "aiosqlite") == ["aiosqlite"], "the harness sees real imports"


def test_help_starts_without_pydantic_or_aiosqlite(env: dict[str, str]) -> None:
    proc = cnp(env, "--help")
    assert "Usage" in proc.stdout
    assert loaded(Path(env["REPORT"]), "pydantic", "aiosqlite", "textual") == []


@pytest.mark.slow
def test_the_headless_engine_never_imports_textual(env: dict[str, str], tmp_path: Path) -> None:
    report = Path(env["REPORT"])
    stderr_path = tmp_path / "engine.log"
    with stderr_path.open("w") as stderr:
        engine = subprocess.Popen(
            [sys.executable, "-c", HARNESS],
            env=env | {"ARGS": json.dumps(["--no-ui"])},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 20
        while "engine started" not in stderr_path.read_text():
            assert engine.poll() is None, stderr_path.read_text()
            assert time.monotonic() < deadline, "the engine did not start"
            time.sleep(0.05)
        engine.send_signal(signal.SIGTERM)
        assert engine.wait(timeout=20) == 0, stderr_path.read_text()
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait(timeout=10)
    assert loaded(report, "textual") == []
    assert loaded(report, "cnp_tui.api") == [], "without [api] enabled the API is not loaded"
    assert loaded(report, "cnp_tui.engine.runtime") == ["cnp_tui.engine.runtime"]


def test_job_list_and_api_token_never_import_the_web_server(env: dict[str, str]) -> None:
    report = Path(env["REPORT"])
    cnp(env, "prompt", "create", "P", "--id", "p", "--content", "@sim")
    cnp(env, "job", "create", "j", "--prompt-id", "p", "--every", "1h")
    for args in (("job", "list", "--format", "json"), ("api", "token")):
        cnp(env, *args)
        assert loaded(report, "aiohttp.web", "cnp_tui.api.app", "cnp_tui.api.server") == []


def test_the_api_package_is_outside_the_domain() -> None:
    """Arrows point one way: nothing in core, store, engine or the service imports the API."""
    offenders = []
    for package in ("core", "store", "engine"):
        for path in (REPO / "cnp_tui" / package).glob("*.py"):
            imports = [
                line.strip()
                for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip().startswith(("import ", "from "))
            ]
            if any("aiohttp.web" in line or line == "from aiohttp import web" for line in imports):
                offenders.append(str(path))
    service = (REPO / "cnp_tui" / "service.py").read_text(encoding="utf-8")
    assert "cnp_tui.api" not in service and "aiohttp" not in service
    # The runtime starts the API, but only through a lazy import inside a method.
    runtime = (REPO / "cnp_tui" / "engine" / "runtime.py").read_text(encoding="utf-8")
    top_level = [line for line in runtime.splitlines() if line.startswith(("import", "from"))]
    assert not [line for line in top_level if "cnp_tui.api" in line or "aiohttp" in line]
    assert offenders == []


NOTIFY = sorted(
    f"cnp_tui.notify.{path.stem}"
    for path in (REPO / "cnp_tui" / "notify").glob("*.py")
    if path.stem != "__init__"
)


def test_notify_imports_no_ui_or_web_server(env: dict[str, str]) -> None:
    """The notification service may use aiohttp's client, never textual or aiohttp.web; and
    aiohttp (the client) is only imported when a webhook is actually posted."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {NOTIFY!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules = json.loads(proc.stdout)
    assert {"cnp_tui.notify.notifier", "cnp_tui.notify.channels"} <= set(modules)
    assert [m for m in modules if m.split(".")[0] in {"textual", "aiohttp", "aiosmtplib"}] == []


@pytest.mark.slow
def test_job_files_config_and_db_commands_never_import_textual(
    env: dict[str, str], tmp_path: Path
) -> None:
    report = Path(env["REPORT"])
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "name: j\nprompt: {id: p, title: P, content: '@sim'}\n"
        "schedule: {type: interval, expression: every 1h}\n"
    )
    for args in (
        ("job", "apply", "--file", str(jobs)),
        ("job", "export"),
        ("job", "batch-pause", "--tag", "x"),
        ("config", "show"),
        ("db", "backup", str(tmp_path / "b.db")),
    ):
        cnp(env, *args)
        assert loaded(report, "textual", "aiohttp") == [], args


def test_only_the_ui_package_imports_textual() -> None:
    """Source check: textual appears in imports of cnp_tui/ui/ only (cli imports ui lazily)."""
    import ast

    offenders = []
    for path in sorted((REPO / "cnp_tui").rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith("cnp_tui/ui/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name == "textual" or name.startswith("textual.") for name in names):
                offenders.append(relative)
    assert offenders == []


@pytest.mark.slow
def test_the_headless_demo_never_imports_textual(env: dict[str, str], tmp_path: Path) -> None:
    report = Path(env["REPORT"])
    stderr_path = tmp_path / "demo.log"
    with stderr_path.open("w") as stderr:
        demo = subprocess.Popen(
            [sys.executable, "-c", HARNESS],
            env=env | {"ARGS": json.dumps(["demo", "--no-ui"])},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 30
        # The demo queues a run at once: wait until the engine has finished one.
        while (
            "completed" not in stderr_path.read_text() and "failed" not in stderr_path.read_text()
        ):
            assert demo.poll() is None, stderr_path.read_text()
            assert time.monotonic() < deadline, f"the demo ran nothing:\n{stderr_path.read_text()}"
            time.sleep(0.05)
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=20) == 0, stderr_path.read_text()
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(timeout=10)
    assert loaded(report, "textual") == []
    home = stderr_path.read_text().split("throwaway home ", 1)[1].split()[0]
    assert not Path(home).exists(), "the throwaway home is removed afterwards"
