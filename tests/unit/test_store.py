"""The SQLite store on a real file: schema checks, slot claims, group commit, retention."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cnp_tui.core.models import (
    Execution,
    ExecutionStatus,
    Job,
    JobStatus,
    LogLine,
    Prompt,
    Schedule,
)
from cnp_tui.errors import ConflictError, DatabaseError, NotFoundError
from cnp_tui.store.sqlite import SCHEMA_VERSION, SqliteStore

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _job(name: str = "job", prompt_id: str = "p") -> Job:
    return Job(
        name=name,
        prompt_id=prompt_id,
        schedule=Schedule(type="cron", expression="*/5 * * * *"),
        next_run_time=NOW,
    )


@pytest.fixture
async def store(tmp_path: Path):
    async with SqliteStore(tmp_path / "cnp.db") as opened:
        await opened.add_prompt(Prompt(id="p", title="P", content="do it"))
        yield opened


async def test_schema_is_versioned_and_wal(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "cnp.db"):
        pass
    conn = sqlite3.connect(tmp_path / "cnp.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="is not a cnp database"):
        await SqliteStore(path).open()
    tables = sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("notes",)]


async def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cnp.db"
    path.write_text("hello, I am a text file" * 100)
    with pytest.raises(DatabaseError, match="not a usable SQLite database"):
        await SqliteStore(path).open()


async def test_a_database_from_a_newer_cnp_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cnp.db"
    async with SqliteStore(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="newer cnp"):
        await SqliteStore(path).open()


async def test_timestamps_are_stored_in_utc(store: SqliteStore) -> None:
    job = _job()
    job.next_run_time = datetime(2026, 5, 1, 14, 0, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Europe/Berlin")
    )
    await store.add_job(job)
    async with store.conn.execute("SELECT next_run_time FROM jobs") as cursor:
        (text,) = await cursor.fetchone()
    assert text == "2026-05-01T14:00:00.000000+00:00"
    loaded = await store.get_job(job.id)
    assert loaded is not None and loaded.next_run_time == job.next_run_time


async def test_job_round_trips_and_names_are_unique(store: SqliteStore) -> None:
    job = _job("nightly")
    job.tags = ["daily", "repo"]
    await store.add_job(job)
    loaded = await store.get_job(job.id)
    assert loaded == job
    with pytest.raises(ConflictError, match="a job named 'nightly' already exists"):
        await store.add_job(_job("nightly"))
    with pytest.raises(NotFoundError, match="no prompt with id 'missing'"):
        await store.add_job(_job("other", prompt_id="missing"))
    assert [j.name for j in await store.list_jobs(tag="repo")] == ["nightly"]
    assert await store.list_jobs(tag="nope") == []


async def test_a_prompt_in_use_cannot_be_deleted(store: SqliteStore) -> None:
    await store.add_job(_job("user-of-p"))
    with pytest.raises(ConflictError, match="used by 1 job"):
        await store.delete_prompt("p")


async def test_each_slot_is_claimed_at_most_once(store: SqliteStore) -> None:
    job = _job()
    await store.add_job(job)
    slot = NOW
    first = Execution(job_id=job.id, scheduled_for=slot, queued_at=NOW)
    again = Execution(job_id=job.id, scheduled_for=slot, queued_at=NOW)
    claimed = await store.claim_slots([first], {job.id: (NOW + timedelta(minutes=5), None)})
    assert claimed == [first]
    assert await store.claim_slots([again], {}) == [], "the same slot is not claimed twice"
    retry = Execution(job_id=job.id, scheduled_for=slot, attempt=2, queued_at=NOW)
    assert await store.claim_slots([retry], {}) == [retry], "another attempt is another slot"
    loaded = await store.get_job(job.id)
    assert loaded is not None and loaded.next_run_time == NOW + timedelta(minutes=5)


async def test_group_commit_writes_start_logs_and_finish_with_statistics(
    store: SqliteStore,
) -> None:
    job = _job()
    await store.add_job(job)
    execution = Execution(job_id=job.id, scheduled_for=NOW, queued_at=NOW)
    await store.claim_slots([execution], {})
    execution.started_at = NOW
    execution.owner = "me"
    await store.mark_started(execution)
    store.append_logs(
        [
            LogLine(execution_id=execution.id, seq=i, ts=NOW, stream="assistant", text=f"line {i}")
            for i in range(1, 4)
        ]
    )
    execution.status = ExecutionStatus.FAILED
    execution.completed_at = NOW + timedelta(seconds=2)
    execution.execution_time_ms = 2000
    await store.finish_execution(execution)
    other = Execution(job_id=job.id, scheduled_for=NOW + timedelta(minutes=5), queued_at=NOW)
    await store.claim_slots([other], {})
    other.status = ExecutionStatus.COMPLETED
    other.started_at = NOW
    other.execution_time_ms = 4000
    await store.finish_execution(other, job_status=JobStatus.COMPLETED)
    logs = await store.get_logs(execution.id)
    assert [line.text for line in logs] == ["line 1", "line 2", "line 3"]
    assert [line.seq for line in await store.get_logs(execution.id, after_seq=2)] == [3]
    loaded = await store.get_job(job.id)
    assert loaded is not None
    assert (loaded.execution_count, loaded.failure_count) == (2, 1)
    assert loaded.success_rate == 0.5
    assert loaded.avg_execution_time_ms == 3000
    assert loaded.status is JobStatus.COMPLETED
    assert loaded.last_status is ExecutionStatus.COMPLETED


async def test_a_bad_unit_in_a_batch_does_not_lose_the_others(store: SqliteStore) -> None:
    job = _job()
    await store.add_job(job)
    good = Execution(job_id=job.id, scheduled_for=NOW, queued_at=NOW)
    await store.claim_slots([good], {})
    orphan_retry = Execution(job_id="no-such-job", scheduled_for=NOW, queued_at=NOW)
    good.status = ExecutionStatus.COMPLETED
    bad = store.finish_execution(good.model_copy(update={"id": "x"}), retry=orphan_retry)
    fine = store.finish_execution(good)
    with pytest.raises(sqlite3.IntegrityError):
        await bad
    await fine
    loaded = await store.get_execution(good.id)
    assert loaded is not None and loaded.status is ExecutionStatus.COMPLETED


async def test_retention_deletes_old_and_excess_history(store: SqliteStore) -> None:
    job = _job()
    await store.add_job(job)
    executions = []
    for day in range(5):
        when = NOW - timedelta(days=day)
        execution = Execution(
            job_id=job.id,
            scheduled_for=when,
            queued_at=when,
            status=ExecutionStatus.COMPLETED,
            completed_at=when,
        )
        executions.append(execution)
    queued = Execution(
        job_id=job.id, scheduled_for=NOW - timedelta(days=40), queued_at=NOW - timedelta(days=40)
    )
    await store.claim_slots([*executions, queued], {})
    deleted = await store.prune(older_than=NOW - timedelta(days=3, hours=1), keep_per_job=None)
    assert deleted == 1
    deleted = await store.prune(older_than=None, keep_per_job=2)
    assert deleted == 2
    remaining = await store.list_executions(job_id=job.id)
    assert {e.id for e in remaining} == {executions[0].id, executions[1].id, queued.id}


async def test_orphans_of_a_dead_engine_become_interrupted(store: SqliteStore) -> None:
    job = _job()
    await store.add_job(job)
    execution = Execution(job_id=job.id, scheduled_for=NOW, queued_at=NOW)
    await store.claim_slots([execution], {})
    execution.started_at = NOW
    execution.owner = "dead-engine"
    await store.mark_started(execution)
    orphans = await store.interrupt_orphans("new-engine", NOW, "engine crashed")
    assert [o.id for o in orphans] == [execution.id]
    loaded = await store.get_execution(execution.id)
    assert loaded is not None and loaded.status is ExecutionStatus.INTERRUPTED
