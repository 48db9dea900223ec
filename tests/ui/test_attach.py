"""The dashboard attaches to an engine running in another process (``cnp --no-ui``): it says
so, its actions are carried out by that engine, it sees the log through the database, and
closing it leaves the engine running."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from cnp_tui.config import Settings
from cnp_tui.core.models import ExecutionStatus
from cnp_tui.paths import Paths
from cnp_tui.service import JobService
from cnp_tui.store.sqlite import SqliteStore
from cnp_tui.ui.app import CnpApp
from cnp_tui.ui.screens.execution import ExecutionScreen
from cnp_tui.ui.screens.jobs import JobListScreen
from tests.conftest import SIMULATOR, make_settings
from tests.ui.helpers import screen_text, wait_for
from tests.ui.test_flows import row_names, seed

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def other_engine(paths: Paths, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``cnp --no-ui`` on the test's home, in its own process; stopped at the end."""
    asyncio.run(seed(paths, make_settings(), ("remote", "Hello.\n@sim lines=25 duration=1")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNP_")} | {
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "CNP_EXECUTOR__CLAUDE_CLI_PATH": SIMULATOR,
        "CNP_SCHEDULER__TICK_INTERVAL": "0.05",
    }
    with (tmp_path / "engine.log").open("wb") as log:
        engine = subprocess.Popen(
            [sys.executable, "-m", "cnp_tui", "--home", str(paths.home), "--no-ui"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        yield engine
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=20)


async def test_attach_to_an_engine_in_another_process(
    paths: Paths, other_engine: subprocess.Popen[bytes]
) -> None:
    settings = make_settings()
    await _wait_for_lease(paths, settings, other_engine)
    app = CnpApp(paths, settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, JobListScreen), "the list")
        assert app.mode_name == "attached"
        await _drive(app, pilot, other_engine.pid)
    assert other_engine.poll() is None, "closing an attached dashboard never stops the engine"
    assert psutil.Process(other_engine.pid).is_running()
    async with SqliteStore(paths.database) as store:
        lease = await JobService(store, settings).live_engine()
    assert lease is not None and lease.pid == other_engine.pid


async def _wait_for_lease(
    paths: Paths, settings: Settings, engine: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 20
    async with SqliteStore(paths.database) as store:
        service = JobService(store, settings)
        while await service.live_engine() is None:
            assert engine.poll() is None, "the engine exited"
            assert time.monotonic() < deadline, "the engine did not take the lease"
            await asyncio.sleep(0.05)


async def _drive(app: CnpApp, pilot, engine_pid: int) -> None:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: row_names(app) == ["remote"], "the job list")
    await wait_for(pilot, lambda: f"{engine_pid}@" in screen_text(app), "the owner in the header")
    assert "attached" in screen_text(app)
    await pilot.press("x")
    execution = (await wait_for(pilot, lambda: app.service.history("remote", last=1), "queued"))[0]
    await pilot.press("l")
    screen = await wait_for(
        pilot, lambda: isinstance(app.screen, ExecutionScreen) and app.screen, "the log"
    )
    done = await wait_for(
        pilot, lambda: _finished(app, execution.id), "the other engine to run it", within=30
    )
    assert done.status is ExecutionStatus.COMPLETED
    assert done.pid is not None and done.pid != os.getpid(), "it ran in the other process"
    await wait_for(pilot, lambda: screen.log_view.last_seq == done.log_lines, "the whole log")
    assert any("step 25" in text for _, _, text in screen.log_view.lines)
    await pilot.press("escape", "q")


async def _finished(app: CnpApp, execution_id: str):  # type: ignore[no-untyped-def]
    execution = await app.service.get_execution(execution_id)
    return execution if execution.status.finished else None
