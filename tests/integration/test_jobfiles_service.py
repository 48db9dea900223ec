"""JobService's job-file API (what the REST API calls too), on a real database."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnp_tui.config import Settings
from cnp_tui.core.clock import ManualClock
from cnp_tui.core.events import ExecutionFinished, ExecutionStarted
from cnp_tui.engine.runtime import Runtime
from cnp_tui.errors import ConflictError
from cnp_tui.jobfiles import dump_documents, load_job_file, parse_job_file
from cnp_tui.paths import Paths
from cnp_tui.service import JobService
from cnp_tui.store.sqlite import SqliteStore
from tests.conftest import Recorder, add_job

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "sample_jobs").glob("*.yaml"))


async def test_export_then_apply_is_a_no_op(client: JobService) -> None:
    for sample in SAMPLES:
        await client.apply_documents(load_job_file(sample).documents)
    before = {job.name: job for job in await client.list_jobs()}
    exported = await client.export_documents()
    text = dump_documents(exported)
    result = await client.apply_documents(parse_job_file(text).documents, prune=True)
    assert not result.changed
    assert sorted(result.unchanged) == sorted(before)
    after = {job.name: job for job in await client.list_jobs()}
    assert after == before, "not even updated_at moved"


async def test_export_by_tag(client: JobService) -> None:
    for sample in SAMPLES:
        await client.apply_documents(load_job_file(sample).documents)
    names = [doc["name"] for doc in await client.export_documents("chain")]
    assert names == ["pr-review", "pr-review-summary"]


TWO_JOBS = (
    "- name: first\n  prompt: {id: shared, title: New, content: rewritten}\n"
    "  schedule: {type: interval, expression: every 1h}\n"
    "- name: second\n  prompt_id: shared\n"
    "  schedule: {type: interval, expression: every 1h}\n"
)


async def batch_create_losing_a_race(
    paths: Paths, settings: Settings, clock: ManualClock, existing_prompt: str
) -> JobService:
    """``batch-create`` of TWO_JOBS while another process, between the checks and the writes,
    takes the second job's name (with ``existing_prompt``, which it creates first). Returns a
    service on the database afterwards; the batch must have raised ConflictError."""
    async with SqliteStore(paths.database) as other_store:
        other = JobService(other_store, settings, clock=clock)
        await other.create_prompt("Old", "original text", prompt_id=existing_prompt)

        async def rival_writes() -> None:
            if [job.name for job in await other.list_jobs()] == ["first"]:
                await other.create_job(
                    {
                        "name": "second",
                        "prompt_id": existing_prompt,
                        "schedule": {"type": "interval", "expression": "every 2h"},
                    }
                )

        async with SqliteStore(paths.database) as store:
            service = JobService(store, settings, clock=clock, on_change=rival_writes)
            with pytest.raises(ConflictError):
                await service.batch_create(parse_job_file(TWO_JOBS).documents)
    return service


async def test_batch_create_rolls_back_when_another_writer_wins_a_name(
    paths: Paths, settings: Settings, clock: ManualClock
) -> None:
    """The first job and the inline prompt created for it are removed again."""
    await batch_create_losing_a_race(paths, settings, clock, existing_prompt="other")
    async with SqliteStore(paths.database) as store:
        service = JobService(store, settings, clock=clock)
        assert [job.name for job in await service.list_jobs()] == ["second"]
        assert [prompt.id for prompt in await service.list_prompts()] == ["other"]


async def test_batch_create_rollback_restores_a_prompt_the_file_changed(
    paths: Paths, settings: Settings, clock: ManualClock
) -> None:
    """An inline prompt that rewrote an existing prompt gets its old text back."""
    await batch_create_losing_a_race(paths, settings, clock, existing_prompt="shared")
    async with SqliteStore(paths.database) as store:
        restored = await JobService(store, settings, clock=clock).get_prompt("shared")
        assert (restored.title, restored.content) == ("Old", "original text")


async def test_batch_pause_running_selects_jobs_with_a_running_execution(
    paths: Paths, settings: Settings, client: JobService
) -> None:
    busy = await add_job(client, "busy", "@sim lines=2 duration=1")
    await add_job(client, "idle", "@sim")
    async with Runtime(paths, settings) as engine:
        events = Recorder(engine.bus)
        execution = await client.execute_job(busy.id)
        await events.wait_for(ExecutionStarted, lambda e: e.execution.id == execution.id)
        result = await client.batch_pause(status="running")
        assert result.done == ["busy"] and result.skipped == []
        await events.wait_for(ExecutionFinished, lambda e: e.execution.id == execution.id)
    assert {job.name: job.status.value for job in await client.list_jobs()} == {
        "busy": "paused",
        "idle": "active",
    }
    assert (await client.batch_pause(status="running")).done == [], "nothing runs any more"


async def test_durations_that_text_would_round_are_exported_as_numbers(
    client: JobService,
) -> None:
    await add_job(
        client,
        "odd",
        "@sim",
        execution={"timeout_seconds": 90.5},
        retry={"initial_interval": "1h30m", "strategy": "custom", "delays": [12.25, 60]},
    )
    [document] = await client.export_documents()
    assert document["execution"]["timeout_seconds"] == 90.5
    assert document["retry"]["initial_interval"] == "1h30m"
    assert document["retry"]["delays"] == [12.25, "1m"]
    result = await client.apply_documents(parse_job_file(dump_documents([document])).documents)
    assert result.unchanged == ["odd"] and not result.changed
