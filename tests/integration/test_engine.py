"""The engine end to end: a real SQLite file, the simulator as a real `claude` subprocess,
time driven by a manual clock."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import psutil
import pytest

from cnp_tui.config import Settings
from cnp_tui.core.clock import ManualClock
from cnp_tui.core.events import (
    CooldownEnded,
    CooldownStarted,
    ExecutionFinished,
    ExecutionQueued,
    ExecutionRequeued,
    ExecutionStarted,
)
from cnp_tui.core.models import ExecutionStatus, ExecutionTrigger, JobStatus
from cnp_tui.engine.runtime import Runtime
from cnp_tui.errors import EngineAlreadyRunningError
from cnp_tui.paths import Paths
from cnp_tui.service import JobService
from tests.conftest import Recorder, add_job, make_settings


@pytest.fixture
async def engine(paths: Paths, settings: Settings, clock: ManualClock) -> AsyncIterator[Runtime]:
    async with Runtime(paths, settings, clock=clock) as runtime:
        yield runtime


def finished(job_id: str, status: ExecutionStatus | None = None):
    def check(event: ExecutionFinished) -> bool:
        return event.execution.job_id == job_id and (
            status is None or event.execution.status is status
        )

    return check


async def test_cron_job_runs_on_schedule_and_is_recorded(
    paths: Paths, settings: Settings, clock: ManualClock, client: JobService
) -> None:
    job = await add_job(
        client,
        "nightly",
        "@sim lines=3 text=All-good",
        schedule={"type": "cron", "expression": "0 9 * * *"},
    )
    assert job.next_run_time == clock.now().replace(hour=9, minute=0, second=0)
    async with Runtime(paths, settings, clock=clock) as engine:
        events = Recorder(engine.bus)
        await clock.advance(10)
        assert not events.of(ExecutionStarted), "nothing is due before 09:00"
        await clock.advance(20)  # 09:00:00
        [done] = await events.wait_for(ExecutionFinished, finished(job.id))
    execution = done.execution
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.trigger is ExecutionTrigger.SCHEDULE
    assert execution.output == "All-good"
    assert execution.session_id and execution.cost_usd is not None
    stored = await client.get_execution(execution.id)
    assert stored.status is ExecutionStatus.COMPLETED
    assert stored.scheduled_for == job.next_run_time
    lines = await client.logs(execution.id)
    assert [line.seq for line in lines] == list(range(1, len(lines) + 1))
    assert sum(line.stream == "assistant" for line in lines) == 3
    refreshed = await client.get_job(job.id)
    assert refreshed.execution_count == 1 and refreshed.failure_count == 0
    assert refreshed.success_rate == 1.0
    assert refreshed.next_run_time == job.next_run_time + timedelta(days=1)


async def test_manual_execute_from_another_connection_is_picked_up(
    engine: Runtime, client: JobService
) -> None:
    events = Recorder(engine.bus)
    job = await add_job(client, "manual", "@sim text=by-hand")
    execution = await client.execute_job("manual")
    [done] = await events.wait_for(ExecutionFinished, finished(job.id))
    assert done.execution.id == execution.id
    assert done.execution.trigger is ExecutionTrigger.MANUAL
    assert done.execution.status is ExecutionStatus.COMPLETED


async def test_failed_execution_is_retried_by_policy_then_stays_failed(
    engine: Runtime, client: JobService, clock: ManualClock, tmp_path: Path
) -> None:
    events = Recorder(engine.bus)
    job = await add_job(
        client,
        "flaky",
        f"@sim fail-times=5 state={tmp_path / 'count'}",
        retry={"max_attempts": 3, "strategy": "fixed", "initial_interval": "10m"},
    )
    await client.execute_job(job.id)
    [first] = await events.wait_for(ExecutionFinished, finished(job.id))
    assert first.execution.status is ExecutionStatus.FAILED
    assert first.retry is not None and first.retry.attempt == 2
    assert first.retry.run_after == clock.now() + timedelta(minutes=10)
    await clock.advance(599)
    await asyncio.sleep(0.2)
    assert len(events.of(ExecutionStarted)) == 1, "the retry waits for its delay"
    await clock.advance(1)
    await events.wait_for(ExecutionFinished, finished(job.id), count=2)
    await clock.advance(600)
    done = await events.wait_for(ExecutionFinished, finished(job.id), count=3)
    last = done[-1]
    assert last.execution.attempt == 3 and last.retry is None
    history = await client.history(job.id)
    assert [(e.attempt, e.trigger.value, e.status.value) for e in reversed(history)] == [
        (1, "manual", "failed"),
        (2, "retry", "failed"),
        (3, "retry", "failed"),
    ]
    assert history[0].retry_of == history[1].id
    refreshed = await client.get_job(job.id)
    assert refreshed.execution_count == 3 and refreshed.failure_count == 3


async def test_retry_succeeds_on_a_later_attempt(
    engine: Runtime, client: JobService, clock: ManualClock, tmp_path: Path
) -> None:
    events = Recorder(engine.bus)
    job = await add_job(
        client,
        "recovers",
        f"@sim fail-times=1 state={tmp_path / 'count'}",
        retry={"max_attempts": 3, "strategy": "fixed", "initial_interval": 30},
    )
    await client.execute_job(job.id)
    await events.wait_for(ExecutionFinished, finished(job.id))
    await clock.advance(30)
    [done] = await events.wait_for(ExecutionFinished, finished(job.id, ExecutionStatus.COMPLETED))
    assert done.execution.attempt == 2


async def test_timeout_kills_the_whole_process_group(
    engine: Runtime, client: JobService, clock: ManualClock
) -> None:
    events = Recorder(engine.bus)
    job = await add_job(
        client,
        "slow",
        "@sim hang child",
        execution={"timeout_seconds": "5m"},
        retry={"max_attempts": 1},
    )
    await client.execute_job(job.id)
    [started] = await events.wait_for(ExecutionStarted)
    await _wait_for_children(started.execution.id, engine)
    pid = engine.executor._runs[started.execution.id].execution.pid
    assert pid is not None
    group = [pid, *[child.pid for child in psutil.Process(pid).children(recursive=True)]]
    assert len(group) >= 2, "the simulator started a grandchild"
    await clock.advance(300)
    [done] = await events.wait_for(ExecutionFinished, finished(job.id))
    assert done.execution.status is ExecutionStatus.TIMED_OUT
    assert "timed out after 5m" in (done.execution.error or "")
    await asyncio.sleep(0.3)
    assert not [p for p in group if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]


async def _wait_for_children(execution_id: str, engine: Runtime) -> None:
    for _ in range(200):
        run = engine.executor._runs.get(execution_id)
        if run and run.execution.pid and psutil.Process(run.execution.pid).children():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the simulator did not start its child")


async def test_process_that_ignores_sigterm_is_killed_after_grace(
    engine: Runtime, client: JobService, clock: ManualClock
) -> None:
    events = Recorder(engine.bus)
    job = await add_job(
        client,
        "stubborn",
        "@sim hang ignore-term",
        execution={"timeout_seconds": 60},
        retry={"max_attempts": 1},
    )
    await client.execute_job(job.id)
    await events.wait_for(ExecutionStarted)
    await asyncio.sleep(0.5)  # let it install its SIGTERM handler
    await clock.advance(60)
    [done] = await events.wait_for(ExecutionFinished, finished(job.id))
    assert done.execution.status is ExecutionStatus.TIMED_OUT
    assert done.execution.exit_code == -9


async def test_cancel_from_a_client_stops_a_running_execution(
    engine: Runtime, client: JobService
) -> None:
    events = Recorder(engine.bus)
    job = await add_job(client, "long", "@sim hang")
    execution = await client.execute_job(job.id)
    await events.wait_for(ExecutionStarted)
    assert await client.cancel_execution(execution.id) == "requested"
    [done] = await events.wait_for(ExecutionFinished, finished(job.id))
    assert done.execution.status is ExecutionStatus.CANCELLED
    assert done.retry is None, "a cancelled execution is not retried"
    stored = await client.get_execution(execution.id)
    assert stored.status is ExecutionStatus.CANCELLED


async def test_a_cancel_that_reads_a_not_yet_committed_start_still_stops_the_run(
    engine: Runtime, client: JobService, paths: Paths
) -> None:
    events = Recorder(engine.bus)
    job = await add_job(client, "long", "@sim hang")
    execution = await client.execute_job(job.id)
    await events.wait_for(ExecutionStarted)
    await engine.store.flush()
    # The start is group-committed: for a moment the row still reads "queued". Recreate that.
    with sqlite3.connect(paths.database) as conn:
        conn.execute("UPDATE executions SET status = 'queued' WHERE id = ?", (execution.id,))
    conn.close()
    assert await client.cancel_execution(execution.id) == "requested"
    await engine.scheduler.sync()
    [done] = await events.wait_for(ExecutionFinished, finished(job.id))
    assert done.execution.status is ExecutionStatus.CANCELLED


async def test_max_parallel_queues_a_second_run_instead_of_overlapping(
    engine: Runtime, client: JobService
) -> None:
    events = Recorder(engine.bus)
    job = await add_job(client, "serial", "@sim duration=0.5")
    first = await client.execute_job(job.id)
    second = await client.execute_job(job.id)
    await events.wait_for(ExecutionFinished, finished(job.id), count=2)
    order = [
        (type(e).__name__, e.execution.id)
        for e in events.events
        if isinstance(e, ExecutionStarted | ExecutionFinished)
    ]
    assert order == [
        ("ExecutionStarted", first.id),
        ("ExecutionFinished", first.id),
        ("ExecutionStarted", second.id),
        ("ExecutionFinished", second.id),
    ]


async def test_usage_limit_pauses_dispatch_and_resumes_by_priority(
    paths: Paths, clock: ManualClock, client: JobService
) -> None:
    settings = make_settings(job_engine={"max_concurrent_jobs": 1})
    reset = clock.now() + timedelta(hours=2)
    limited = await add_job(
        client,
        "limited",
        f"@sim limit-times=1 reset={int(reset.timestamp())} state={paths.home / 'limit-count'}",
        priority=5,
    )
    low = await add_job(client, "low", "@sim text=low", priority=2)
    high = await add_job(client, "high", "@sim text=high", priority=9)
    async with Runtime(paths, settings, clock=clock) as engine:
        events = Recorder(engine.bus)
        hit = await client.execute_job(limited.id)
        [cooldown] = await events.wait_for(CooldownStarted)
        assert cooldown.cooldown.until == reset
        [requeued] = await events.wait_for(ExecutionRequeued)
        assert requeued.execution.id == hit.id
        await client.execute_job(low.id)
        await client.execute_job(high.id)
        await events.wait_for(ExecutionQueued, count=2)
        await asyncio.sleep(0.3)
        assert len(events.of(ExecutionStarted)) == 1, "nothing starts during the cooldown"
        status = await client.status()
        assert status.cooldown is not None and status.queued == 3
        await clock.set(reset)
        await events.wait_for(CooldownEnded)
        done = await events.wait_for(ExecutionFinished, count=3)
    started = [e.execution.job_id for e in events.of(ExecutionStarted)]
    assert started == [limited.id, high.id, limited.id, low.id]
    assert all(e.execution.status is ExecutionStatus.COMPLETED for e in done)
    rerun = await client.get_execution(hit.id)
    assert rerun.attempt == 1, "the limit did not use up an attempt"
    assert rerun.status is ExecutionStatus.COMPLETED


async def test_second_engine_on_the_same_database_is_refused(
    engine: Runtime, paths: Paths, settings: Settings, clock: ManualClock
) -> None:
    with pytest.raises(EngineAlreadyRunningError) as refused:
        async with Runtime(paths, settings, clock=clock):
            pass
    assert f"pid {engine.lease.pid}" in str(refused.value)


async def test_stale_lease_is_taken_over(
    paths: Paths, settings: Settings, clock: ManualClock, client: JobService
) -> None:
    from cnp_tui.core.models import Lease

    old = Lease(
        owner="elsewhere:1:x",
        pid=1,
        host="elsewhere",
        started_at=clock.now(),
        heartbeat_at=clock.now() - timedelta(minutes=5),
    )
    await client.store.acquire_lease(old, is_stale=lambda _: True)
    async with Runtime(paths, settings, clock=clock) as engine:
        lease = await client.store.get_lease()
        assert lease is not None and lease.owner == engine.owner


async def test_one_shot_job_completes_after_it_runs(
    engine: Runtime, client: JobService, clock: ManualClock
) -> None:
    events = Recorder(engine.bus)
    at = (clock.now() + timedelta(minutes=1)).isoformat()
    job = await add_job(client, "once", "@sim", schedule={"type": "once", "expression": at})
    await asyncio.sleep(0.2)
    await clock.advance(60)
    await events.wait_for(ExecutionFinished, finished(job.id))
    await engine.store.flush()
    refreshed = await client.get_job(job.id)
    assert refreshed.status is JobStatus.COMPLETED
    assert refreshed.next_run_time is None


async def test_paused_job_does_not_fire_and_resume_skips_missed_slots(
    engine: Runtime, client: JobService, clock: ManualClock
) -> None:
    events = Recorder(engine.bus)
    job = await add_job(
        client, "every-minute", "@sim", schedule={"type": "interval", "expression": "every 1m"}
    )
    await client.pause_job(job.id)
    await asyncio.sleep(0.2)
    await clock.advance(300)
    await asyncio.sleep(0.2)
    assert not events.of(ExecutionStarted)
    resumed = await client.resume_job(job.id)
    assert resumed.next_run_time is not None and resumed.next_run_time > clock.now()
    await asyncio.sleep(0.2)
    await clock.set(resumed.next_run_time)
    await events.wait_for(ExecutionFinished, finished(job.id))
    assert len(events.of(ExecutionStarted)) == 1


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("none", []), ("latest", ["catch_up"]), ("all", ["catch_up", "catch_up", "catch_up"])],
)
async def test_catch_up_policy_after_downtime(
    paths: Paths,
    settings: Settings,
    clock: ManualClock,
    client: JobService,
    policy: str,
    expected: list[str],
) -> None:
    job = await add_job(
        client,
        f"hourly-{policy}",
        "@sim",
        schedule={"type": "cron", "expression": "30 * * * *"},
        catch_up=policy,
    )
    await clock.advance(6 * 3600 + 60)  # six slots pass with no engine; the last is 30 min old
    async with Runtime(paths, settings, clock=clock) as engine:
        events = Recorder(engine.bus)
        await asyncio.sleep(0.3)
        if expected:
            await events.wait_for(ExecutionFinished, count=len(expected))
        await engine.store.flush()
    history = await client.history(job.id)
    assert sorted(e.trigger.value for e in history) == expected
    assert len({e.scheduled_for for e in history}) == len(history)
    refreshed = await client.get_job(job.id)
    assert refreshed.next_run_time is not None and refreshed.next_run_time > clock.now()


async def test_missing_working_directory_fails_at_once_without_retry(
    engine: Runtime, client: JobService, tmp_path: Path
) -> None:
    events = Recorder(engine.bus)
    job = await add_job(
        client, "nowhere", "@sim", execution={"working_directory": str(tmp_path / "gone")}
    )
    await client.execute_job(job.id)
    [done] = await events.wait_for(ExecutionFinished, finished(job.id))
    assert done.execution.status is ExecutionStatus.FAILED
    assert f"working directory {tmp_path / 'gone'} does not exist" in (done.execution.error or "")
    assert done.retry is None


async def test_a_run_records_the_memory_and_cpu_of_its_process_tree(
    engine: Runtime, client: JobService
) -> None:
    events = Recorder(engine.bus)
    job = await add_job(client, "measured", "@sim memory=50 duration=0.4")
    await client.execute_job(job.id)
    [done] = await events.wait_for(ExecutionFinished, finished(job.id))
    usage = done.execution.resource_usage
    assert usage is not None, "a run of 0.4 s is sampled (first sample soon after the start)"
    assert usage.samples >= 2, "sampled again on the interval, not only once"
    assert (usage.peak_rss_mb or 0) > 50
    assert (usage.cpu_seconds or 0) > 0


async def test_memory_limit_ends_the_run_with_a_clear_error(
    engine: Runtime, client: JobService
) -> None:
    events = Recorder(engine.bus)
    job = await add_job(
        client,
        "hungry",
        "@sim memory=200 duration=20",
        resource_limits={"max_memory_mb": 100},
        retry={"max_attempts": 1},
    )
    await client.execute_job(job.id)
    [done] = await events.wait_for(ExecutionFinished, finished(job.id))
    assert done.execution.status is ExecutionStatus.FAILED
    assert "memory limit exceeded" in (done.execution.error or "")
    assert done.execution.resource_usage is not None
    assert (done.execution.resource_usage.peak_rss_mb or 0) > 100


async def test_log_cap_keeps_head_and_tail_with_a_marker(
    paths: Paths, clock: ManualClock, client: JobService
) -> None:
    settings = make_settings(executor={"max_log_lines": 100})
    job = await add_job(client, "chatty", "@sim lines=500")
    async with Runtime(paths, settings, clock=clock) as engine:
        events = Recorder(engine.bus)
        execution = await client.execute_job(job.id)
        await events.wait_for(ExecutionFinished, finished(job.id))
        await engine.store.flush()
    lines = await client.logs(execution.id)
    assert len(lines) == 101
    marker = [line for line in lines if "log lines dropped" in line.text]
    assert len(marker) == 1 and marker[0].stream == "engine"
    assert lines[-1].stream == "result", "the tail (with the result) is kept"
    stored = await client.get_execution(execution.id)
    assert stored.log_dropped > 0 and stored.log_lines == 101


async def test_shutdown_interrupts_running_executions_and_queues_their_retry(
    paths: Paths, clock: ManualClock, client: JobService
) -> None:
    settings = make_settings(executor={"shutdown_grace": 0.2})
    job = await add_job(client, "interrupted", "@sim hang")
    async with Runtime(paths, settings, clock=clock) as engine:
        events = Recorder(engine.bus)
        execution = await client.execute_job(job.id)
        await events.wait_for(ExecutionStarted)
    stored = await client.get_execution(execution.id)
    assert stored.status is ExecutionStatus.INTERRUPTED
    history = await client.history(job.id)
    assert history[0].attempt == 2 and history[0].status is ExecutionStatus.QUEUED


async def test_a_failed_claim_is_retried_not_skipped(
    paths: Paths,
    settings: Settings,
    clock: ManualClock,
    client: JobService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = await add_job(
        client, "resilient", "@sim", schedule={"type": "cron", "expression": "0 9 * * *"}
    )
    async with Runtime(paths, settings, clock=clock) as engine:
        events = Recorder(engine.bus)
        real_claim = engine.store.claim_slots
        failures = []

        async def locked_once(*args: object, **kwargs: object) -> object:
            if not failures:
                failures.append(1)
                raise RuntimeError("database is locked")  # as sqlite3 says after busy_timeout
            return await real_claim(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(engine.store, "claim_slots", locked_once)
        await clock.advance(30)  # 09:00
        [done] = await events.wait_for(ExecutionFinished, finished(job.id))
    assert failures == [1]
    assert done.execution.scheduled_for == job.next_run_time
    assert done.execution.trigger is ExecutionTrigger.SCHEDULE


async def test_loop_alive_reports_the_scheduler_running_then_stopped(
    paths: Paths, clock: ManualClock
) -> None:
    runtime = Runtime(paths, make_settings(), clock=clock)
    assert not runtime.scheduler.loop_alive, "not started yet"
    async with runtime:
        assert runtime.scheduler.loop_alive
    assert not runtime.scheduler.loop_alive
