"""``cnp demo``: the sample home runs at once, a flaky job fails and retries, a usage limit
puts the dashboard into a visible cooldown."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnp_tui.core.models import ExecutionStatus, ExecutionTrigger, ScheduleType
from cnp_tui.demo import demo_settings, seed_demo
from cnp_tui.paths import Paths
from cnp_tui.ui.app import CnpApp
from tests.ui.helpers import screen_text, wait_for
from tests.ui.test_flows import row_names


@pytest.mark.slow
async def test_the_demo_shows_runs_retries_and_a_cooldown(tmp_path: Path) -> None:
    paths = Paths(home=tmp_path / "demo", config_file=None)
    settings = demo_settings()
    names = await seed_demo(paths, settings)
    app = CnpApp(paths, settings)
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_for(pilot, lambda: sorted(row_names(app)) == sorted(names), "the demo jobs")
        jobs = await app.service.list_jobs()
        assert {job.schedule.type for job in jobs} == set(ScheduleType)
        # The flaky check fails, then a retry is queued for it.
        retries = await wait_for(
            pilot,
            lambda: _executions(app, "flaky-deploy-check", ExecutionTrigger.RETRY),
            "a retry of the flaky job",
            within=30,
        )
        assert retries[0].attempt == 2
        first = await app.service.get_execution(retries[0].retry_of or "")
        assert first.status is ExecutionStatus.FAILED
        assert "Traceback" not in (first.error or "") and "Error" not in (first.error or "")
        # The refactor hits the usage limit: the header counts down to the reset.
        await app.service.execute_job("big-refactor")
        app.mark_dirty()
        await wait_for(pilot, lambda: "COOLDOWN" in screen_text(app), "the cooldown", within=30)
        assert (await app.service.active_cooldown()) is not None


async def _executions(app: CnpApp, job: str, trigger: ExecutionTrigger) -> list[object]:
    found = await app.service.history(job, last=20)
    return [e for e in found if e.trigger is trigger and e.status is not ExecutionStatus.CANCELLED]
