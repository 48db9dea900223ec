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
    assert loaded(report, "cnp_tui.engine.runtime") == ["cnp_tui.engine.runtime"]


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
