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
