"""Real ``cnp`` processes on one home: the headless engine, CLI clients beside it, a second
engine, SIGTERM, and recovery after ``kill -9``. Every wait has a deadline; every process a test
starts is killed at the end, whatever happens."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest

from tests.conftest import SIMULATOR

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None], what: str, timeout: float = 20.0, interval: float = 0.05
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def alive(pid: int) -> bool:
    """True if ``pid`` is a live process (a zombie waiting to be reaped counts as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Engine:
    """A ``cnp --no-ui`` process whose stderr goes to a file."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc = proc
        self.log = log

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, fragment: str, timeout: float = 20.0) -> None:
        def seen() -> bool:
            if fragment in self.text():
                return True
            assert self.proc.poll() is None, f"engine exited early:\n{self.text()}"
            return False

        wait_until(seen, f"{fragment!r} in the engine log", timeout)

    def stop(self, timeout: float = 20.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


class Home:
    """One cnp home, driven by real processes."""

    def __init__(self, path: Path, tmp_path: Path) -> None:
        self.path = path
        self.tmp_path = tmp_path
        base = {k: v for k, v in os.environ.items() if not k.startswith("CNP_")}
        self.env = base | {
            "PYTHONPATH": str(REPO),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
            "NO_COLOR": "1",
            "CNP_EXECUTOR__CLAUDE_CLI_PATH": SIMULATOR,
            "CNP_SCHEDULER__TICK_INTERVAL": "0.05",
            "CNP_EXECUTOR__SHUTDOWN_GRACE": "1s",
            "CNP_EXECUTOR__KILL_GRACE": "1s",
        }
        self.engines: list[Engine] = []
        self.watched: list[subprocess.Popen[bytes]] = []
        self.strays: list[int] = []

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "cnp_tui", "--home", str(self.path), *args]

    def run(
        self, *args: str, code: int | None = 0, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self.argv(*args),
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if code is not None:
            assert proc.returncode == code, (
                f"cnp {' '.join(args)} exited {proc.returncode}, expected {code}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--format", "json").stdout)

    def start_engine(self, name: str = "engine") -> Engine:
        log = self.tmp_path / f"{name}-{len(self.engines)}.log"
        with log.open("wb") as stderr:
            proc = subprocess.Popen(
                self.argv("--no-ui"),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        engine = Engine(proc, log)
        self.engines.append(engine)
        return engine

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            self.argv(*args),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.watched.append(proc)
        return proc

    def execution(self, execution_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.json("execution", "show", execution_id)
        return result

    def wait_status(self, execution_id: str, *statuses: str, timeout: float = 20.0) -> Any:
        def probe() -> dict[str, Any] | None:
            execution = self.execution(execution_id)
            return execution if execution["status"] in statuses else None

        return wait_until(probe, f"execution {execution_id} to be {statuses}", timeout, 0.1)

    def add_job(self, name: str, content: str, *options: str) -> str:
        self.run("prompt", "create", name, "--id", name, "--content", content)
        job: dict[str, Any] = self.json(
            "job", "create", name, "--prompt-id", name, "--every", "1h", *options
        )
        return str(job["id"])

    def cleanup(self) -> None:
        procs: list[subprocess.Popen[bytes]] = [e.proc for e in self.engines] + self.watched
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(psutil.Error):
                    for child in psutil.Process(proc.pid).children(recursive=True):
                        child.kill()
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        for pid in self.strays:
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                if "cnp_tui.engine.simulator" in " ".join(process.cmdline()):
                    process.kill()


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    cnp_home = Home(tmp_path / "home", tmp_path)
    try:
        yield cnp_home
    finally:
        cnp_home.cleanup()


def running_with_pid(home: Home, execution_id: str) -> dict[str, Any]:
    """Wait until the execution runs and its claude process id is recorded."""

    def probe() -> dict[str, Any] | None:
        execution = home.execution(execution_id)
        return execution if execution["status"] == "running" and execution["pid"] else None

    execution = wait_until(probe, f"execution {execution_id} to run with a pid", 20, 0.1)
    home.strays.append(execution["pid"])
    assert alive(execution["pid"])
    return execution


# --- the engine and its clients ------------------------------------------------------------


@pytest.mark.slow
def test_engine_runs_what_other_processes_ask(home: Home) -> None:
    job_id = home.add_job("demo", "@sim lines=3 duration=0.6 text=engine-ran")
    engine = home.start_engine()
    engine.wait_for("engine started")

    status = home.json("status")
    assert status["engine"]["running"] is True
    assert status["engine"]["pid"] == engine.pid
    assert status["engine"]["host"] == socket.gethostname()
    table = home.run("status").stdout
    assert f"running, pid {engine.pid}" in table

    queued = home.json("job", "execute", "demo")
    done = home.wait_status(queued["id"], "completed", "failed")
    assert done["status"] == "completed"
    assert done["output"] == "engine-ran"
    assert done["owner"].split(":")[:2] == [socket.gethostname(), str(engine.pid)]
    engine.wait_for(f"finished {queued['id']}")

    waited = home.run("job", "execute", "demo", "--wait")
    assert f"the engine (pid {engine.pid} on {socket.gethostname()}) runs it" in waited.stderr
    assert waited.stdout.count("Working on it: step") == 3
    assert "engine-ran" in waited.stdout
    assert "completed" in waited.stderr

    history = home.json("job", "history", "demo")
    assert [e["status"] for e in history] == ["completed", "completed"]
    assert home.json("job", "show", job_id)["execution_count"] == 2

    assert engine.stop() == 0
    assert "engine stopped" in engine.text()
    assert home.json("status")["engine"]["running"] is False, "the lease is released"


@pytest.mark.slow
def test_a_second_engine_on_the_same_home_refuses_to_start(home: Home) -> None:
    home.add_job("idle", "@sim")
    engine = home.start_engine()
    engine.wait_for("engine started")
    started = time.monotonic()
    second = home.run("--no-ui", code=4, timeout=15)
    assert time.monotonic() - started < 10, "it refuses at once, it does not wait"
    message = second.stderr.strip()
    assert message.startswith("cnp: ") and "already running" in message
    assert f"pid {engine.pid} on {socket.gethostname()}" in message
    assert "engine started" not in second.stderr
    assert engine.proc.poll() is None, "the first engine keeps running"
    assert home.json("status")["engine"]["pid"] == engine.pid
    assert engine.stop() == 0


@pytest.mark.slow
def test_sigterm_interrupts_a_running_execution_after_the_grace(home: Home) -> None:
    home.add_job("stuck", "@sim hang", "--max-attempts", "1")
    engine = home.start_engine()
    engine.wait_for("engine started")
    queued = home.json("job", "execute", "stuck")
    running = running_with_pid(home, queued["id"])

    started = time.monotonic()
    assert engine.stop(timeout=20) == 0
    assert time.monotonic() - started >= 0.9, "running executions get the shutdown grace"
    execution = home.execution(queued["id"])
    assert execution["status"] == "interrupted"
    assert execution["completed_at"] is not None
    wait_until(lambda: not alive(running["pid"]), "the simulator to be gone", 10)
    assert "engine stopped" in engine.text()
    assert home.json("status")["engine"]["running"] is False


@pytest.mark.slow
def test_crash_recovery_interrupts_retries_and_kills_the_orphan(home: Home) -> None:
    home.add_job("crashy", "@sim hang", "--retry-strategy", "fixed", "--retry-interval", "1h")
    first = home.start_engine("first")
    first.wait_for("engine started")
    queued = home.json("job", "execute", "crashy")
    running = running_with_pid(home, queued["id"])
    orphan = running["pid"]

    first.proc.kill()  # kill -9: no cleanup, the lease row stays behind
    first.proc.wait(timeout=10)
    assert alive(orphan), "the simulator outlives a killed engine"
    assert home.execution(queued["id"])["status"] == "running"
    assert home.json("status")["engine"]["running"] is False, "a dead pid on this host"

    restarted_at = time.monotonic()
    second = home.start_engine("second")
    second.wait_for("engine started")
    assert time.monotonic() - restarted_at < 10, "no wait for the heartbeat to go stale"
    assert "took over the lease" in second.text()
    assert f"pid {first.pid}" in second.text()

    interrupted = home.wait_status(queued["id"], "interrupted")
    assert "interrupted" in (interrupted["error"] or "")
    wait_until(lambda: not alive(orphan), "the orphaned simulator to be killed", 10)
    assert "killed the orphaned process group" in second.text()

    history = home.json("job", "history", "crashy")
    retry = history[0]
    assert (retry["attempt"], retry["trigger"], retry["status"]) == (2, "retry", "queued")
    assert retry["retry_of"] == queued["id"]
    run_after = datetime.fromisoformat(retry["run_after"].replace("Z", "+00:00"))
    assert run_after - datetime.now(UTC) > timedelta(minutes=55), "the fixed 1h retry delay"

    status = home.json("status")
    assert status["engine"]["pid"] == second.pid
    assert status["queued"] == 1 and status["running"] == 0
    assert second.stop() == 0


@pytest.mark.slow
def test_logs_follow_and_monitor_against_a_running_engine(home: Home) -> None:
    job_id = home.add_job("watched", "@sim lines=4 duration=2 text=followed-to-the-end")
    engine = home.start_engine()
    engine.wait_for("engine started")

    queued = home.json("job", "execute", "watched")

    running = home.wait_status(queued["id"], "running")
    assert running["completed_at"] is None
    follower = home.spawn("execution", "logs", queued["id"], "--follow")
    out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    assert home.execution(queued["id"])["status"] == "completed", "it ended with the execution"
    stdout = out.decode()
    assert [f"step {n}." in stdout for n in range(1, 5)] == [True] * 4
    assert stdout.count("Working on it: step") == 4, "no line twice"
    assert "followed-to-the-end" in stdout
    assert f"execution {queued['id']} completed" in err.decode()

    monitor = home.run("job", "monitor", "watched", timeout=30)
    lines = monitor.stdout.splitlines()
    assert lines[0].startswith(f"job watched ({job_id}): active")
    assert "1 runs, 0 failed" in lines[0]
    assert f"--- execution {queued['id']} (manual, attempt 1): completed" in monitor.stdout
    assert monitor.stdout.count("Working on it: step") == 4
    assert "followed-to-the-end" in monitor.stdout
    assert engine.stop() == 0


@pytest.mark.slow
def test_execution_show_counts_the_lines_of_a_running_execution(home: Home) -> None:
    home.add_job("slow", "@sim lines=4 duration=3")
    engine = home.start_engine()
    engine.wait_for("engine started")
    queued = home.json("job", "execute", "slow")

    def logged() -> int:
        return len(home.run("execution", "logs", queued["id"]).stdout.splitlines())

    count = wait_until(logged, "the first log lines", 20, 0.1)
    execution = home.execution(queued["id"])
    assert execution["status"] == "running"
    assert execution["log_lines"] >= count
