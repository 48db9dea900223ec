"""A cheap look at every job's changing state, for the dashboard's live job list.

``list_jobs`` builds 10,000 pydantic models (~0.5 s); the dashboard only needs to know which
jobs changed since it last looked. This reads the small columns as plain tuples; a job whose
``updated_at`` moved is then read in full, the others only take their new statistics.

(A method of SqliteStore in spirit; it lives here while sqlite.py is being optimised.)
"""

from __future__ import annotations

from typing import Any

from cnp_tui.store.sqlite import SqliteStore

STATE_COLUMNS = (
    "id",
    "updated_at",
    "status",
    "next_run_time",
    "execution_count",
    "failure_count",
    "avg_execution_time_ms",
    "success_rate",
    "last_status",
    "last_run_time",
)


async def job_states(store: SqliteStore) -> list[tuple[Any, ...]]:
    """One tuple per job, in ``STATE_COLUMNS`` order."""
    rows = await store._rows(f"SELECT {', '.join(STATE_COLUMNS)} FROM jobs")
    return [tuple(row) for row in rows]


async def jobs_fingerprint(store: SqliteStore) -> tuple[Any, ...]:
    """A summary of the jobs table that changes when any job's shown state changes.

    Computed inside SQLite (a scan of 10,000 rows is ~2 ms there, off the event loop), so a
    dashboard can skip reading the jobs entirely while only log lines are being written.
    """
    rows = await store._rows(
        "SELECT count(*), max(updated_at), total(execution_count), total(failure_count),"
        " total(julianday(next_run_time)), count(next_run_time), total(julianday(last_run_time)),"
        " total(status = 'paused'), total(status = 'completed') FROM jobs"
    )
    return tuple(rows[0])
