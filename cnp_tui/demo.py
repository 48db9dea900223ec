"""``cnp demo``: a throwaway home with sample prompts and jobs that run against the simulator.

Within seconds a newcomer sees runs streaming, a flaky job failing then retrying, and a job
hitting Claude's usage limit so the cooldown countdown shows. Everything uses the bundled
simulator (``@sim`` directive lines in the prompts), never the real claude.
"""

from __future__ import annotations

import shlex
import sys
from datetime import timedelta

from cnp_tui.config import Settings
from cnp_tui.core.clock import Clock, SystemClock
from cnp_tui.paths import Paths
from cnp_tui.service import JobService
from cnp_tui.store.sqlite import SqliteStore

SIMULATOR = f"{shlex.quote(sys.executable)} -m cnp_tui.engine.simulator"


def demo_settings() -> Settings:
    """Settings of the demo: the simulator as claude, quick ticks, short graces."""
    return Settings.model_validate(
        {
            "executor": {
                "claude_cli_path": SIMULATOR,
                "shutdown_grace": 2,
                "kill_grace": 1,
            },
            "scheduler": {"tick_interval": 0.5},
            "cooldown": {"default_duration": "2m"},
        }
    )


async def seed_demo(paths: Paths, settings: Settings, clock: Clock | None = None) -> list[str]:
    """Create the demo's prompts and jobs in ``paths``; return the job names."""
    clock = clock or SystemClock()
    paths.ensure_home()
    state = paths.home / "sim-state"
    state.mkdir(exist_ok=True)  # the simulator keeps its run counters here
    async with SqliteStore(paths.database) as store:
        service = JobService(store, settings, clock=clock)
        prompts = [
            (
                "code-review",
                "Code review",
                "Review the last commit for bugs and unclear names.\n"
                "@sim lines=30 tools=4 duration=6 cost=0.04",
            ),
            (
                "daily-report",
                "Daily report",
                "Summarise yesterday's merged pull requests.\n@sim lines=8 duration=3",
            ),
            (
                "dependency-audit",
                "Dependency audit",
                "List outdated dependencies with known vulnerabilities.\n"
                "@sim lines=12 tools=2 duration=4",
            ),
            (
                "flaky-check",
                "Flaky deploy check",
                "Check that staging answers on /health.\n"
                f"@sim fail-times=2 state={shlex.quote(str(state / 'flaky'))} lines=4 duration=2",
            ),
            (
                "big-refactor",
                "Big refactor",
                "Split the settings module into sections.\n"
                f"@sim limit limit-times=1 reset=+90 state={shlex.quote(str(state / 'limit'))} "
                "lines=3 duration=1",
            ),
        ]
        for prompt_id, title, content in prompts:
            await service.create_prompt(title, content, prompt_id=prompt_id, tags=["demo"])
        soon = (clock.now() + timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%S")
        jobs = [
            {
                "name": "code-review",
                "prompt_id": "code-review",
                "schedule": {"type": "interval", "expression": "every 40s"},
                "priority": 7,
                "tags": ["demo", "review"],
            },
            {
                "name": "daily-report",
                "prompt_id": "daily-report",
                "schedule": {"type": "cron", "expression": "0 9 * * 1-5"},
                "tags": ["demo", "report"],
            },
            {
                "name": "dependency-audit",
                "prompt_id": "dependency-audit",
                "schedule": {"type": "cron", "expression": "*/2 * * * *"},
                "priority": 3,
                "tags": ["demo"],
            },
            {
                "name": "flaky-deploy-check",
                "prompt_id": "flaky-check",
                "schedule": {"type": "interval", "expression": "every 5m"},
                "retry_config": {"strategy": "fixed", "initial_interval": "5s", "max_attempts": 3},
                "tags": ["demo", "flaky"],
            },
            {
                "name": "big-refactor",
                "prompt_id": "big-refactor",
                "schedule": {"type": "once", "expression": soon},
                "priority": 9,
                "tags": ["demo", "limit"],
            },
        ]
        for spec in jobs:
            await service.create_job(spec)
        # Something to watch at once: the reviewer and the flaky check run right away.
        await service.execute_job("code-review")
        await service.execute_job("flaky-deploy-check")
        await store.flush()
        return [str(spec["name"]) for spec in jobs]
