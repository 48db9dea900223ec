"""The peers cnp is measured against, each doing the same work with the same trivial child.

- a bare asyncio loop that spawns the children itself (no records at all);
- APScheduler 3.x ``AsyncIOScheduler``, with its memory job store and with its SQLAlchemy
  SQLite job store (jobs recorded durably);
- a bare spawn-and-record loop: workers that spawn the child, read its lines and record start,
  lines and end into SQLite with the stdlib ``sqlite3`` (one transaction per execution, WAL,
  ``synchronous = NORMAL``).

Children are spawned exactly as cnp's executor spawns them (argv, own session, stdin from
/dev/null, stdout and stderr piped and read line by line), and every peer runs with the same
pidfd child watcher that cnp installs on Python 3.11 (``install_pidfd_watcher``), so the
comparison measures the scheduling and recording, not the way children are reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sqlite3
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` percentile (0-100) by the nearest-rank method; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def install_pidfd_watcher() -> str:
    """Reap children with pidfds on Python 3.11 (the default watcher starts a thread per child).

    Returns the name of the watcher in force, for the figure tables.
    """
    if sys.version_info >= (3, 12):
        return "default (3.12+: pidfd)"
    loop = asyncio.get_running_loop()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        current = asyncio.get_child_watcher()
        if not (isinstance(current, asyncio.PidfdChildWatcher) and current.is_active()):
            try:
                os.close(os.pidfd_open(os.getpid()))
            except (AttributeError, OSError):
                return type(current).__name__
            watcher = asyncio.PidfdChildWatcher()
            asyncio.set_child_watcher(watcher)
            watcher.attach_loop(loop)
        return type(asyncio.get_child_watcher()).__name__


@dataclass
class ChildRun:
    """What one run of the trivial child printed."""

    started: float | None  # the start time the child printed (epoch seconds)
    lines: list[tuple[str, str]] = field(default_factory=list)  # (stream, text)
    exit_code: int | None = None


async def _read_lines(
    stream: asyncio.StreamReader | None, name: str, into: list[tuple[str, str]]
) -> None:
    assert stream is not None
    while raw := await stream.readline():
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if line:
            into.append((name, line))


async def run_child(argv: Sequence[str]) -> ChildRun:
    """Spawn the child like cnp's executor does, read both pipes, wait for its exit."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    lines: list[tuple[str, str]] = []
    await asyncio.gather(
        _read_lines(process.stdout, "stdout", lines),
        _read_lines(process.stderr, "stderr", lines),
    )
    exit_code = await process.wait()
    return ChildRun(printed_start(lines), lines, exit_code)


def printed_start(lines: Sequence[tuple[str, str]]) -> float | None:
    """The start time printed by the trivial child (its first plain-number stdout line)."""
    for stream, text in lines:
        if stream == "stdout":
            try:
                return float(text)
            except ValueError:
                continue
    return None


@dataclass
class Burst:
    """Lateness (seconds after the due instant) of claims and child starts in one burst."""

    claim: list[float]
    start: list[float]
    failures: int = 0


async def _sleep_until(epoch: float) -> None:
    await asyncio.sleep(max(0.0, epoch - time.time()))


async def bare_burst(argv: Sequence[str], due: float, count: int) -> Burst:
    """A bare asyncio loop: at ``due``, start ``count`` tasks that each spawn the child."""
    claims: list[float] = []

    async def one() -> ChildRun:
        claims.append(time.time() - due)
        return await run_child(argv)

    await _sleep_until(due)
    runs = await asyncio.gather(*(one() for _ in range(count)))
    starts = [run.started - due for run in runs if run.started is not None]
    return Burst(claims, starts, sum(run.exit_code != 0 for run in runs))


# --- APScheduler 3.x ------------------------------------------------------------------------

# Jobs in the SQLAlchemy store are pickled with a textual reference to the function, so the job
# function and where it reports live at module level.
_aps_claims: list[float] = []
_aps_runs: list[tuple[float, ChildRun]] = []
_aps_expected = 0
_aps_all_ran: asyncio.Event | None = None


async def aps_job(argv: list[str], due: float) -> None:
    """The APScheduler job: note the entry time (its claim), run the child."""
    _aps_claims.append(time.time() - due)
    _aps_runs.append((due, await run_child(argv)))
    if len(_aps_runs) >= _aps_expected and _aps_all_ran is not None:
        _aps_all_ran.set()


async def apscheduler_burst(
    argv: Sequence[str], due: float, count: int, *, sqlite_file: Path | None
) -> tuple[Burst, float]:
    """APScheduler's ``AsyncIOScheduler`` running ``count`` DateTrigger jobs due at ``due``.

    With ``sqlite_file`` the jobs live in a ``SQLAlchemyJobStore`` on that file (recorded
    durably, removed by the scheduler once run), otherwise in its memory store. Returns the
    burst and how long before ``due`` the scheduler had started (negative: after, invalid).
    """
    from apscheduler.executors.asyncio import AsyncIOExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.date import DateTrigger

    store = SQLAlchemyJobStore(url=f"sqlite:///{sqlite_file}") if sqlite_file else MemoryJobStore()
    scheduler = AsyncIOScheduler(
        jobstores={"default": store},
        executors={"default": AsyncIOExecutor()},
        job_defaults={"misfire_grace_time": 3600, "coalesce": False, "max_instances": 1},
        timezone=UTC,
    )
    global _aps_expected, _aps_all_ran
    _aps_claims.clear()
    _aps_runs.clear()
    _aps_expected, _aps_all_ran = count, asyncio.Event()
    run_date = datetime.fromtimestamp(due, UTC)
    for index in range(count):
        scheduler.add_job(
            aps_job,
            DateTrigger(run_date),
            args=[list(argv), due],
            id=f"job-{index}",
        )
    scheduler.start()  # the pending jobs are written to the store here
    margin = due - time.time()
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_aps_all_ran.wait(), timeout=max(0.0, due - time.time()) + 120)
    finally:
        scheduler.shutdown(wait=False)
        if sqlite_file:
            store.engine.dispose()
    starts = [run.started - d for d, run in _aps_runs if run.started is not None]
    failures = count - len(_aps_runs) + sum(run.exit_code != 0 for _, run in _aps_runs)
    return Burst(list(_aps_claims), starts, failures), margin


# --- bare spawn-and-record ------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS executions (
    id INTEGER PRIMARY KEY, status TEXT NOT NULL, started_at TEXT, completed_at TEXT,
    exit_code INTEGER
);
CREATE TABLE IF NOT EXISTS logs (
    execution_id INTEGER NOT NULL, seq INTEGER NOT NULL, ts TEXT NOT NULL, stream TEXT NOT NULL,
    text TEXT NOT NULL, PRIMARY KEY (execution_id, seq)
) WITHOUT ROWID;
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


async def bare_spawn_and_record(
    argv: Sequence[str], database: Path, count: int, workers: int
) -> tuple[float, int, int]:
    """``workers`` concurrent workers run ``count`` executions and record each in SQLite.

    Each execution is recorded in one transaction (its start, its lines, its end) on a stdlib
    ``sqlite3`` connection in WAL mode with ``synchronous = NORMAL``. Returns the elapsed
    seconds and, read back from the file, the completed executions and stored log lines.
    """
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(_SCHEMA)
    pending = iter(range(count))

    async def worker() -> None:
        for execution_id in pending:
            started_at = _now()
            run = await run_child(argv)
            completed_at = _now()
            conn.execute("BEGIN")
            conn.execute(
                "INSERT INTO executions VALUES (?, ?, ?, ?, ?)",
                (
                    execution_id,
                    "completed" if run.exit_code == 0 else "failed",
                    started_at,
                    completed_at,
                    run.exit_code,
                ),
            )
            conn.executemany(
                "INSERT INTO logs VALUES (?, ?, ?, ?, ?)",
                [
                    (execution_id, seq, completed_at, stream, text)
                    for seq, (stream, text) in enumerate(run.lines, 1)
                ],
            )
            conn.execute("COMMIT")

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - began
    completed = conn.execute(
        "SELECT count(*) FROM executions WHERE status = 'completed'"
    ).fetchone()[0]
    lines = conn.execute("SELECT count(*) FROM logs").fetchone()[0]
    conn.close()
    return elapsed, completed, lines
