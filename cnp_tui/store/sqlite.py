"""The SQLite store (aiosqlite, WAL mode).

One connection per process. Writes of the engine's hot path (execution started, log lines,
execution finished) go through a group-commit queue: whatever accumulated while the previous
transaction committed is written in the next one, with one ``executemany`` per statement, so a
thousand executions a second cost tens of transactions, not thousands. Callers that need the
write to be durable await the returned future; the engine awaits the "started" write before it
spawns a process (a slot must never run twice, even across a crash).

Schema changes are migrations keyed by ``PRAGMA user_version``; ``PRAGMA application_id`` marks
the file as a cnp database so that a foreign SQLite file is refused instead of modified.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from cnp_tui.core.models import (
    Cooldown,
    Execution,
    ExecutionStatus,
    Job,
    JobStatus,
    Lease,
    LogLine,
    Prompt,
)
from cnp_tui.errors import (
    ConflictError,
    DatabaseError,
    EngineAlreadyRunningError,
    NotFoundError,
)

T = TypeVar("T")
log = logging.getLogger(__name__)

APPLICATION_ID = 0x636E7031  # "cnp1"
SCHEMA_VERSION = 2

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE prompts (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        content TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        prompt_id TEXT NOT NULL REFERENCES prompts(id),
        status TEXT NOT NULL,
        priority INTEGER NOT NULL,
        spec TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        execution_count INTEGER NOT NULL DEFAULT 0,
        failure_count INTEGER NOT NULL DEFAULT 0,
        avg_execution_time_ms REAL,
        success_rate REAL,
        last_status TEXT,
        next_run_time TEXT,
        last_run_time TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE executions (
        id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        status TEXT NOT NULL,
        trigger TEXT NOT NULL,
        scheduled_for TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        priority INTEGER NOT NULL,
        run_after TEXT,
        retry_of TEXT,
        queued_at TEXT,
        started_at TEXT,
        completed_at TEXT,
        execution_time_ms INTEGER,
        exit_code INTEGER,
        output TEXT,
        error TEXT,
        session_id TEXT,
        cost_usd REAL,
        usage TEXT,
        num_turns INTEGER,
        resource_usage TEXT,
        owner TEXT,
        pid INTEGER,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        log_lines INTEGER NOT NULL DEFAULT 0,
        log_dropped INTEGER NOT NULL DEFAULT 0,
        UNIQUE (job_id, scheduled_for, attempt)
    );
    CREATE INDEX executions_by_status ON executions(status);
    CREATE INDEX executions_by_job ON executions(job_id, queued_at);
    CREATE TABLE logs (
        execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        ts TEXT NOT NULL,
        stream TEXT NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (execution_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE lease (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        owner TEXT NOT NULL,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        started_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
    );
    CREATE TABLE cooldown (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        until TEXT NOT NULL,
        reason TEXT NOT NULL,
        detected_at TEXT NOT NULL,
        execution_id TEXT
    );
    """,
    # 2: the notification outbox (cnp_tui/notify/outbox.py) and per-job alert state.
    2: """
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        execution_id TEXT,
        job_id TEXT,
        event TEXT NOT NULL,
        channel TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        payload TEXT,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at TEXT,
        created_at TEXT NOT NULL,
        delivered_at TEXT,
        folded_into INTEGER
    );
    CREATE INDEX notifications_due ON notifications(status, next_attempt_at);
    CREATE INDEX notifications_by_execution ON notifications(execution_id);
    CREATE TABLE notify_state (
        job_id TEXT PRIMARY KEY,
        failing INTEGER NOT NULL DEFAULT 0,
        changed_at TEXT NOT NULL
    );
    """,
}

_EXECUTION_COLUMNS = [
    "id",
    "job_id",
    "status",
    "trigger",
    "scheduled_for",
    "attempt",
    "priority",
    "run_after",
    "retry_of",
    "queued_at",
    "started_at",
    "completed_at",
    "execution_time_ms",
    "exit_code",
    "output",
    "error",
    "session_id",
    "cost_usd",
    "usage",
    "num_turns",
    "resource_usage",
    "owner",
    "pid",
    "cancel_requested",
    "log_lines",
    "log_dropped",
]
_EXECUTION_TIMES = {"scheduled_for", "run_after", "queued_at", "started_at", "completed_at"}
_EXECUTION_JSON = {"usage", "resource_usage"}
_JOB_SPEC_FIELDS = (
    "schedule",
    "execution_options",
    "retry_config",
    "notification_config",
    "resource_limits",
    "catch_up",
)
_TRUSTED = {"trusted": True}

JOB_STATE_COLUMNS = (
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

# A job row as one JSON document (the stored spec plus the columns), so that pydantic parses it
# in one pass from text instead of json.loads + dict surgery + validation of Python objects.
_JOB_DOC = """json_set(spec,
    '$.id', id, '$.name', name, '$.prompt_id', prompt_id, '$.status', status,
    '$.priority', priority, '$.tags', json(tags), '$.execution_count', execution_count,
    '$.failure_count', failure_count, '$.avg_execution_time_ms', avg_execution_time_ms,
    '$.success_rate', success_rate, '$.last_status', last_status,
    '$.next_run_time', next_run_time, '$.last_run_time', last_run_time,
    '$.created_at', created_at, '$.updated_at', updated_at)"""


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while many objects are built at once.

    Reading thousands of rows allocates only acyclic objects, yet each allocation burst triggers
    collections that rescan the whole heap: half the time of a 10,000-job read went there.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def ts(value: datetime | None) -> str | None:
    """A timestamp as sortable UTC text (naive values are taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


Statement = tuple[str, Sequence[Any]]


class _WriteQueue:
    """Group commit: units of statements queued while a transaction runs go into the next one.

    A unit is what one caller submitted; it commits whole or not at all. If a batch fails (say
    a unit refers to a job deleted meanwhile), each unit is retried in its own transaction so
    one bad unit cannot take the others down with it.
    """

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._pending: list[tuple[list[Statement], asyncio.Future[None] | None]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cnp-store-writer")

    def submit(
        self, statements: Iterable[Statement], *, wait: bool = True
    ) -> asyncio.Future[None] | None:
        """Queue one unit; returns a future resolved once it is committed (if ``wait``)."""
        unit = list(statements)
        if not unit:
            return None
        future = asyncio.get_running_loop().create_future() if wait else None
        self._pending.append((unit, future))
        self._idle.clear()
        self._wakeup.set()
        return future

    async def drain(self) -> None:
        """Wait until everything queued so far is committed."""
        await self._idle.wait()

    async def close(self) -> None:
        await self.drain()
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = self._pending, []
            if batch:
                try:
                    await self._write([statement for unit, _ in batch for statement in unit])
                    errors: list[BaseException | None] = [None] * len(batch)
                except Exception:
                    errors = [await self._write_alone(unit) for unit, _ in batch]
                for (_, future), error in zip(batch, errors, strict=True):
                    if future is None or future.done():
                        continue
                    if error is None:
                        future.set_result(None)
                    else:
                        future.set_exception(error)
            if not self._pending:
                self._idle.set()

    async def _write_alone(self, unit: list[Statement]) -> BaseException | None:
        try:
            await self._write(unit)
        except Exception as exc:
            log.warning("a database write failed: %s (%s)", exc, unit[0][0][:60])
            return exc
        return None

    async def _write(self, statements: list[Statement]) -> None:
        groups: list[tuple[str, list[Sequence[Any]]]] = []
        for sql, params in statements:
            if groups and groups[-1][0] == sql:
                groups[-1][1].append(params)
            else:
                groups.append((sql, [params]))
        # The whole batch is one trip to aiosqlite's thread: a trip per statement wakes the
        # event loop once each, which at a thousand runs a second is the engine's main cost.
        async with self._store._lock:
            await self._store.in_thread(_write_all, groups)


class SqliteStore:
    """The cnp database. ``async with SqliteStore(path) as store: ...``"""

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path)
        self._create = create
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._writer: _WriteQueue | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        if not self.path.exists():
            if not self._create:
                raise DatabaseError(
                    f"no cnp database at {self.path}",
                    hint="create jobs first, or point --home / CNP_HOME at the right directory",
                )
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = await aiosqlite.connect(self.path, isolation_level=None)
            self._conn.row_factory = sqlite3.Row
            await self._conn.execute("PRAGMA busy_timeout = 10000")
            await self._check_and_migrate()
            await self._conn.execute("PRAGMA journal_mode = WAL")
            await self._conn.execute("PRAGMA synchronous = NORMAL")
            await self._conn.execute("PRAGMA foreign_keys = ON")
        except DatabaseError:
            await self._close_conn()
            raise
        except sqlite3.DatabaseError as exc:
            await self._close_conn()
            raise DatabaseError(
                f"{self.path} is not a usable SQLite database ({exc})",
                hint="point --home / CNP_HOME at a cnp home, or move the file away",
            ) from None
        self._writer = _WriteQueue(self)
        self._writer.start()

    async def _close_conn(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        await self._close_conn()

    async def _check_and_migrate(self) -> None:
        conn = self.conn
        app_id = (await self._scalar("PRAGMA application_id")) or 0
        version = (await self._scalar("PRAGMA user_version")) or 0
        tables = await self._scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        if app_id != APPLICATION_ID and (app_id != 0 or tables):
            raise DatabaseError(
                f"{self.path} is not a cnp database",
                hint="point --home / CNP_HOME at a cnp home, or move the file away",
            )
        if version > SCHEMA_VERSION:
            raise DatabaseError(
                f"{self.path} was written by a newer cnp (schema {version}, this cnp knows "
                f"{SCHEMA_VERSION})",
                hint="upgrade cnp (pip install -U cnp-tui)",
            )
        if version == SCHEMA_VERSION:
            return
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        await conn.execute(statement)
            await conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            await conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("the store is not open")
        return self._conn

    def transaction(self) -> _Transaction:
        """``async with store.transaction() as conn``: BEGIN IMMEDIATE ... COMMIT, serialised."""
        return _Transaction(self)

    async def in_thread(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(sqlite3_connection, *args)`` in the connection's thread, in one trip.

        aiosqlite's queue of calls is ``Connection._execute``; nothing public takes a function.
        Callers hold ``_lock`` when ``work`` writes.
        """
        conn = self.conn
        return await conn._execute(work, conn._conn, *args)

    async def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self._rows(sql, params)
        return rows[0][0] if rows else None

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return list(await self.conn.execute_fetchall(sql, params))

    async def data_version(self) -> int:
        """Changes whenever another connection commits (the engine's wake-up signal)."""
        return int(await self._scalar("PRAGMA data_version"))

    async def flush(self) -> None:
        """Wait until every queued write is committed."""
        if self._writer is not None:
            await self._writer.drain()

    def _submit(
        self, statements: Iterable[Statement], *, wait: bool = True
    ) -> asyncio.Future[None] | None:
        assert self._writer is not None
        return self._writer.submit(statements, wait=wait)

    # --- prompts ---------------------------------------------------------------------------

    async def add_prompt(self, prompt: Prompt) -> Prompt:
        try:
            async with self.transaction() as conn:
                await conn.execute(
                    "INSERT INTO prompts (id, title, content, tags, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        prompt.id,
                        prompt.title,
                        prompt.content,
                        json.dumps(prompt.tags),
                        ts(prompt.created_at),
                        ts(prompt.updated_at),
                    ),
                )
        except sqlite3.IntegrityError:
            raise ConflictError(
                f"a prompt with id '{prompt.id}' already exists",
                hint="choose another --id, or update the existing prompt",
            ) from None
        return prompt

    async def save_prompt(self, prompt: Prompt) -> Prompt:
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE prompts SET title = ?, content = ?, tags = ?, updated_at = ? WHERE id = ?",
                (
                    prompt.title,
                    prompt.content,
                    json.dumps(prompt.tags),
                    ts(prompt.updated_at),
                    prompt.id,
                ),
            )
            if cursor.rowcount == 0:
                raise NotFoundError(f"no prompt with id '{prompt.id}'")
        return prompt

    @staticmethod
    def _prompt(row: sqlite3.Row) -> Prompt:
        return Prompt.model_construct(
            id=row["id"],
            title=row["title"],
            content=row["content"],
            tags=json.loads(row["tags"]),
            created_at=_dt(row["created_at"]),
            updated_at=_dt(row["updated_at"]),
        )

    async def get_prompt(self, prompt_id: str) -> Prompt | None:
        rows = await self._rows("SELECT * FROM prompts WHERE id = ?", (prompt_id,))
        return self._prompt(rows[0]) if rows else None

    async def list_prompts(self) -> list[Prompt]:
        return [self._prompt(row) for row in await self._rows("SELECT * FROM prompts ORDER BY id")]

    async def delete_prompt(self, prompt_id: str) -> None:
        async with self.transaction() as conn:
            async with conn.execute(
                "SELECT name FROM jobs WHERE prompt_id = ?", (prompt_id,)
            ) as cur:
                users = [row[0] for row in await cur.fetchall()]
            if users:
                raise ConflictError(
                    f"prompt '{prompt_id}' is used by {len(users)} job(s): {', '.join(users[:5])}",
                    hint="delete those jobs or point them at another prompt first",
                )
            cursor = await conn.execute("DELETE FROM prompts WHERE id = ?", (prompt_id,))
            if cursor.rowcount == 0:
                raise NotFoundError(f"no prompt with id '{prompt_id}'")

    # --- jobs ------------------------------------------------------------------------------

    @staticmethod
    def _job_params(job: Job) -> tuple[Any, ...]:
        spec = job.model_dump(mode="json", include=set(_JOB_SPEC_FIELDS))
        return (
            job.id,
            job.name,
            job.prompt_id,
            job.status.value,
            job.priority,
            json.dumps(spec),
            json.dumps(job.tags),
            job.execution_count,
            job.failure_count,
            job.avg_execution_time_ms,
            job.success_rate,
            job.last_status.value if job.last_status else None,
            ts(job.next_run_time),
            ts(job.last_run_time),
            ts(job.created_at),
            ts(job.updated_at),
        )

    @staticmethod
    def _job(row: sqlite3.Row) -> Job:
        return Job.model_validate_json(row[0], context=_TRUSTED)

    @classmethod
    def _jobs(cls, rows: Iterable[sqlite3.Row]) -> list[Job]:
        with paused_gc():
            return [cls._job(row) for row in rows]

    async def add_job(self, job: Job) -> Job:
        try:
            async with self.transaction() as conn:
                await conn.execute(
                    f"INSERT INTO jobs VALUES ({', '.join('?' * 16)})", self._job_params(job)
                )
        except sqlite3.IntegrityError as exc:
            raise self._job_integrity_error(job, exc) from None
        return job

    def _job_integrity_error(self, job: Job, exc: sqlite3.IntegrityError) -> Exception:
        text = str(exc)
        if "jobs.name" in text:
            return ConflictError(
                f"a job named '{job.name}' already exists",
                hint="choose another name, or update the existing job",
            )
        if "FOREIGN KEY" in text:
            return NotFoundError(
                f"no prompt with id '{job.prompt_id}'", hint="list prompts with `cnp prompt list`"
            )
        return ConflictError(f"job '{job.name}' conflicts with an existing job ({text})")

    async def save_job(self, job: Job) -> Job:
        """Replace a job's definition and state (not its statistics, which the engine keeps)."""
        params = self._job_params(job)
        try:
            async with self.transaction() as conn:
                cursor = await conn.execute(
                    "UPDATE jobs SET name = ?, prompt_id = ?, status = ?, priority = ?, spec = ?,"
                    " tags = ?, next_run_time = ?, updated_at = ? WHERE id = ?",
                    (*params[1:7], params[12], params[15], job.id),
                )
                if cursor.rowcount == 0:
                    raise NotFoundError(f"no job with id '{job.id}'")
        except sqlite3.IntegrityError as exc:
            raise self._job_integrity_error(job, exc) from None
        return job

    async def set_job_state(
        self,
        job_id: str,
        *,
        status: JobStatus | None = None,
        next_run_time: datetime | None = None,
        updated_at: datetime | None = None,
        wait: bool = True,
    ) -> None:
        """Update status and next run time (engine bookkeeping, group-committed)."""
        sets, params = ["next_run_time = ?"], [ts(next_run_time)]
        if status is not None:
            sets.append("status = ?")
            params.append(status.value)
        if updated_at is not None:
            sets.append("updated_at = ?")
            params.append(ts(updated_at))
        future = self._submit(
            [(f"UPDATE jobs SET {', '.join(sets)} WHERE id = ?", (*params, job_id))], wait=wait
        )
        if future is not None:
            await future

    async def jobs_updated_since(self, updated_at: str) -> Iterator[Job]:
        """Jobs whose definition changed at or after ``updated_at`` (all jobs for "").

        Each job is built when the iterator reaches it, so a caller that keeps only part of
        each (the engine shares equal sections) never holds them all in full at once.
        """
        rows = await self._rows(f"SELECT {_JOB_DOC} FROM jobs WHERE updated_at >= ?", (updated_at,))
        return (self._job(row) for row in rows)

    async def job_states(self) -> list[tuple[Any, ...]]:
        """Every job's changing columns as plain tuples, in ``JOB_STATE_COLUMNS`` order.

        For a live list of 10,000 jobs: only a job whose ``updated_at`` moved needs a full read.
        """
        rows = await self._rows(f"SELECT {', '.join(JOB_STATE_COLUMNS)} FROM jobs")
        return [tuple(row) for row in rows]

    async def jobs_fingerprint(self) -> tuple[Any, ...]:
        """A summary of the jobs table that changes when any job's shown state changes.

        Computed inside SQLite (a scan of 10,000 rows takes about 2 ms there, off the event
        loop), so a dashboard skips reading jobs while only log lines are being written.
        """
        rows = await self._rows(
            "SELECT count(*), max(updated_at), total(execution_count), total(failure_count),"
            " total(julianday(next_run_time)), count(next_run_time),"
            " total(julianday(last_run_time)), total(status = 'paused'),"
            " total(status = 'completed') FROM jobs"
        )
        return tuple(rows[0])

    async def job_ids(self) -> list[str]:
        return [row[0] for row in await self._rows("SELECT id FROM jobs")]

    async def get_job(self, job_id: str) -> Job | None:
        rows = await self._rows(f"SELECT {_JOB_DOC} FROM jobs WHERE id = ?", (job_id,))
        return self._job(rows[0]) if rows else None

    async def get_jobs(self, job_ids: Iterable[str]) -> dict[str, Job]:
        """The jobs of ``job_ids`` that exist, by id, in one query per 500 ids."""
        wanted = list(dict.fromkeys(job_ids))
        found: dict[str, Job] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = await self._rows(
                f"SELECT {_JOB_DOC} FROM jobs WHERE id IN ({', '.join('?' * len(chunk))})", chunk
            )
            found.update((job.id, job) for job in self._jobs(rows))
        return found

    async def find_jobs(self, ref: str) -> list[Job]:
        """Jobs whose id equals ``ref``, else whose name equals it, else whose id starts with it."""
        for sql, param in (
            (f"SELECT {_JOB_DOC} FROM jobs WHERE id = ?", ref),
            (f"SELECT {_JOB_DOC} FROM jobs WHERE name = ?", ref),
            (
                f"SELECT {_JOB_DOC} FROM jobs WHERE id LIKE ? ESCAPE '\\' LIMIT 10",
                _like_prefix(ref),
            ),
        ):
            rows = await self._rows(sql, (param,))
            if rows:
                return self._jobs(rows)
        return []

    async def list_jobs(
        self, *, status: JobStatus | None = None, tag: str | None = None
    ) -> list[Job]:
        rows = await self._job_rows(status, tag)
        return self._jobs(rows)

    async def iter_jobs(
        self, *, status: JobStatus | None = None, tag: str | None = None
    ) -> Iterator[Job]:
        rows = await self._job_rows(status, tag)
        return (self._job(row) for row in rows)

    async def _job_rows(self, status: JobStatus | None, tag: str | None) -> list[sqlite3.Row]:
        where, params = [], []
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if tag is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?)")
            params.append(tag)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return await self._rows(f"SELECT {_JOB_DOC} FROM jobs{clause} ORDER BY name", params)

    async def delete_job(self, job_id: str) -> None:
        async with self.transaction() as conn:
            cursor = await conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            if cursor.rowcount == 0:
                raise NotFoundError(f"no job with id '{job_id}'")

    # --- executions ------------------------------------------------------------------------

    @staticmethod
    def _execution_params(execution: Execution) -> tuple[Any, ...]:
        values = []
        for column in _EXECUTION_COLUMNS:
            value = getattr(execution, column)
            if column in _EXECUTION_TIMES:
                value = ts(value)
            elif column in _EXECUTION_JSON:
                value = value.model_dump_json() if value is not None else None
            elif hasattr(value, "value"):
                value = value.value
            values.append(value)
        return tuple(values)

    @staticmethod
    def _execution(row: sqlite3.Row) -> Execution:
        data = dict(row)
        for column in _EXECUTION_JSON:
            if data[column] is not None:
                data[column] = json.loads(data[column])
        data["cancel_requested"] = bool(data["cancel_requested"])
        return Execution.model_validate(data)

    _INSERT_EXECUTION = (
        f"INSERT INTO executions ({', '.join(_EXECUTION_COLUMNS)})"
        f" VALUES ({', '.join('?' * len(_EXECUTION_COLUMNS))})"
    )

    async def add_execution(self, execution: Execution) -> Execution:
        """Insert a queued execution (manual runs from clients); raises on a duplicate slot."""
        try:
            async with self.transaction() as conn:
                await conn.execute(self._INSERT_EXECUTION, self._execution_params(execution))
        except sqlite3.IntegrityError:
            raise ConflictError(
                f"an execution of job {execution.job_id} for {execution.scheduled_for} attempt "
                f"{execution.attempt} already exists"
            ) from None
        return execution

    async def claim_slots(
        self,
        executions: Sequence[Execution],
        next_runs: dict[str, tuple[datetime | None, JobStatus | None]],
    ) -> list[Execution]:
        """Insert the executions of due slots and move their jobs on, in one transaction.

        Returns the executions actually inserted: a slot that was already claimed (same job,
        scheduled time and attempt) is skipped, which makes every slot run at most once.
        """
        if not executions and not next_runs:
            return []
        insert = self._INSERT_EXECUTION.replace("INSERT", "INSERT OR IGNORE", 1)
        claimed: list[Execution] = []
        async with self.transaction() as conn:
            if executions:
                await conn.executemany(insert, [self._execution_params(e) for e in executions])
                # Ids are fresh, so an id present now was inserted by this claim.
                ids = [e.id for e in executions]
                present: set[str] = set()
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    async with conn.execute(
                        f"SELECT id FROM executions WHERE id IN ({', '.join('?' * len(chunk))})",
                        chunk,
                    ) as cursor:
                        present.update(row[0] for row in await cursor.fetchall())
                claimed = [e for e in executions if e.id in present]
            rows = []
            for job_id, (next_run, status) in next_runs.items():
                rows.append((ts(next_run), status.value if status else None, job_id))
            if rows:
                await conn.executemany(
                    "UPDATE jobs SET next_run_time = ?, status = coalesce(?, status) WHERE id = ?",
                    rows,
                )
        return claimed

    async def get_execution(self, execution_id: str) -> Execution | None:
        rows = await self._rows("SELECT * FROM executions WHERE id = ?", (execution_id,))
        return self._execution(rows[0]) if rows else None

    async def find_executions(self, ref: str) -> list[Execution]:
        """Executions whose id equals ``ref`` or starts with it."""
        rows = await self._rows("SELECT * FROM executions WHERE id = ?", (ref,))
        if not rows:
            rows = await self._rows(
                "SELECT * FROM executions WHERE id LIKE ? ESCAPE '\\' LIMIT 10",
                (_like_prefix(ref),),
            )
        return [self._execution(row) for row in rows]

    async def list_executions(
        self,
        *,
        job_id: str | None = None,
        status: Sequence[ExecutionStatus] | None = None,
        limit: int | None = 100,
    ) -> list[Execution]:
        """Newest first."""
        where, params = [], []
        if job_id is not None:
            where.append("job_id = ?")
            params.append(job_id)
        if status:
            where.append(f"status IN ({', '.join('?' * len(status))})")
            params.extend(s.value for s in status)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT * FROM executions{clause} ORDER BY queued_at DESC, attempt DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [self._execution(row) for row in await self._rows(sql, params)]

    async def queued_executions(self) -> list[Execution]:
        rows = await self._rows("SELECT * FROM executions WHERE status = 'queued'")
        return [self._execution(row) for row in rows]

    async def running_executions(self) -> list[Execution]:
        rows = await self._rows("SELECT * FROM executions WHERE status = 'running'")
        return [self._execution(row) for row in rows]

    async def cancel_requests(self) -> list[tuple[str, str]]:
        """(id, status) of queued or running executions that a client asked to cancel."""
        rows = await self._rows(
            "SELECT id, status FROM executions"
            " WHERE cancel_requested = 1 AND status IN ('queued', 'running')"
        )
        return [(row["id"], row["status"]) for row in rows]

    def mark_started(self, execution: Execution) -> asyncio.Future[None] | None:
        """Record that the execution is running (claimed by ``owner``); await before spawning.

        The ``status = 'queued'`` guard makes the start itself a claim: if a client cancelled
        the execution meanwhile, nothing changes; callers check with ``was_started``.
        """
        return self._submit(
            [
                (
                    "UPDATE executions SET status = 'running', started_at = ?, owner = ?,"
                    " pid = NULL WHERE id = ? AND status = 'queued'",
                    (ts(execution.started_at), execution.owner, execution.id),
                )
            ]
        )

    def set_pid(self, execution_id: str, pid: int) -> None:
        self._submit(
            [("UPDATE executions SET pid = ? WHERE id = ?", (pid, execution_id))], wait=False
        )

    def append_logs(self, lines: Sequence[LogLine]) -> None:
        """Queue log lines for the next group commit (fire and forget)."""
        self._submit(
            [
                (
                    "INSERT OR IGNORE INTO logs VALUES (?, ?, ?, ?, ?)",
                    (line.execution_id, line.seq, ts(line.ts), line.stream, line.text),
                )
                for line in lines
            ],
            wait=False,
        )

    def finish_execution(
        self,
        execution: Execution,
        *,
        job_status: JobStatus | None = None,
        retry: Execution | None = None,
        count_in_stats: bool = True,
    ) -> asyncio.Future[None] | None:
        """Record the end of an execution, update its job's statistics, queue its retry."""
        statements: list[Statement] = [
            (
                "UPDATE executions SET status = ?, completed_at = ?, execution_time_ms = ?,"
                " exit_code = ?, output = ?, error = ?, session_id = ?, cost_usd = ?, usage = ?,"
                " num_turns = ?, resource_usage = ?, log_lines = ?, log_dropped = ?,"
                " started_at = ?, run_after = ? WHERE id = ?",
                (
                    execution.status.value,
                    ts(execution.completed_at),
                    execution.execution_time_ms,
                    execution.exit_code,
                    execution.output,
                    execution.error,
                    execution.session_id,
                    execution.cost_usd,
                    execution.usage.model_dump_json() if execution.usage else None,
                    execution.num_turns,
                    execution.resource_usage.model_dump_json()
                    if execution.resource_usage
                    else None,
                    execution.log_lines,
                    execution.log_dropped,
                    ts(execution.started_at),
                    ts(execution.run_after),
                    execution.id,
                ),
            )
        ]
        if count_in_stats:
            failed = int(execution.status is not ExecutionStatus.COMPLETED)
            elapsed = execution.execution_time_ms
            statements.append(
                (
                    "UPDATE jobs SET"
                    " avg_execution_time_ms = CASE WHEN ? IS NULL THEN avg_execution_time_ms"
                    "   ELSE (coalesce(avg_execution_time_ms, 0) * execution_count + ?)"
                    "        / (execution_count + 1) END,"
                    " success_rate = 1.0 - (failure_count + ?) * 1.0 / (execution_count + 1),"
                    " execution_count = execution_count + 1,"
                    " failure_count = failure_count + ?,"
                    " last_status = ?, last_run_time = ?, status = coalesce(?, status)"
                    " WHERE id = ?",
                    (
                        elapsed,
                        elapsed,
                        failed,
                        failed,
                        execution.status.value,
                        ts(execution.started_at or execution.completed_at),
                        job_status.value if job_status else None,
                        execution.job_id,
                    ),
                )
            )
        elif job_status is not None:
            statements.append(
                ("UPDATE jobs SET status = ? WHERE id = ?", (job_status.value, execution.job_id))
            )
        if retry is not None:
            statements.append(
                (
                    self._INSERT_EXECUTION.replace("INSERT", "INSERT OR IGNORE", 1),
                    self._execution_params(retry),
                )
            )
        return self._submit(statements)

    async def cancel_queued(self, execution_id: str, now: datetime, reason: str) -> bool:
        """Cancel an execution that has not started; False if it is no longer queued."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE executions SET status = 'cancelled', completed_at = ?, error = ?"
                " WHERE id = ? AND status = 'queued'",
                (ts(now), reason, execution_id),
            )
            return cursor.rowcount > 0

    async def request_cancel(self, execution_id: str) -> bool:
        """Ask the engine to cancel a queued or running execution; False if it has ended."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE executions SET cancel_requested = 1"
                " WHERE id = ? AND status IN ('queued', 'running')",
                (execution_id,),
            )
            return cursor.rowcount > 0

    async def get_logs(
        self, execution_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[LogLine]:
        sql = "SELECT * FROM logs WHERE execution_id = ? AND seq > ? ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = await self._rows(sql, (execution_id, after_seq))
        return [
            LogLine.model_construct(
                execution_id=row["execution_id"],
                seq=row["seq"],
                ts=_dt(row["ts"]),
                stream=row["stream"],
                text=row["text"],
            )
            for row in rows
        ]

    async def last_log_seq(self, execution_id: str) -> int:
        return int(
            await self._scalar(
                "SELECT coalesce(max(seq), 0) FROM logs WHERE execution_id = ?", (execution_id,)
            )
        )

    async def count_jobs(self) -> dict[str, int]:
        rows = await self._rows("SELECT status, count(*) AS n FROM jobs GROUP BY status")
        return {row["status"]: row["n"] for row in rows}

    async def count_executions(self) -> dict[str, int]:
        rows = await self._rows("SELECT status, count(*) AS n FROM executions GROUP BY status")
        return {row["status"]: row["n"] for row in rows}

    async def prune(self, *, older_than: datetime | None, keep_per_job: int | None) -> int:
        """Delete finished executions (and their logs) beyond retention; returns how many."""
        deleted = 0
        async with self.transaction() as conn:
            if older_than is not None:
                cursor = await conn.execute(
                    "DELETE FROM executions WHERE status NOT IN ('queued', 'running')"
                    " AND completed_at < ?",
                    (ts(older_than),),
                )
                deleted += cursor.rowcount
            if keep_per_job is not None:
                cursor = await conn.execute(
                    "DELETE FROM executions WHERE id IN (SELECT id FROM (SELECT id, status,"
                    " row_number() OVER (PARTITION BY job_id ORDER BY queued_at DESC) AS n"
                    " FROM executions) WHERE n > ? AND status NOT IN ('queued', 'running'))",
                    (keep_per_job,),
                )
                deleted += cursor.rowcount
        return deleted

    # --- lease -----------------------------------------------------------------------------

    @staticmethod
    def _lease(row: sqlite3.Row) -> Lease:
        return Lease(
            owner=row["owner"],
            pid=row["pid"],
            host=row["host"],
            started_at=_dt(row["started_at"]),
            heartbeat_at=_dt(row["heartbeat_at"]),
        )

    async def get_lease(self) -> Lease | None:
        rows = await self._rows("SELECT * FROM lease WHERE id = 1")
        return self._lease(rows[0]) if rows else None

    async def acquire_lease(
        self, lease: Lease, *, is_stale: Callable[[Lease], bool]
    ) -> Lease | None:
        """Take the lease unless a live engine holds it.

        ``is_stale(current_lease) -> bool`` decides whether a held lease may be taken over.
        Returns the lease that was taken over (None if it was free); raises
        EngineAlreadyRunningError naming the holder otherwise.
        """
        async with self.transaction() as conn:
            async with conn.execute("SELECT * FROM lease WHERE id = 1") as cursor:
                row = await cursor.fetchone()
            previous = self._lease(row) if row else None
            if previous is not None and previous.owner != lease.owner and not is_stale(previous):
                raise EngineAlreadyRunningError(
                    f"an engine is already running on this database (pid {previous.pid} on "
                    f"{previous.host}, since {previous.started_at:%Y-%m-%d %H:%M:%S} UTC)",
                    hint="stop it first, or use another --home",
                )
            await conn.execute(
                "INSERT OR REPLACE INTO lease VALUES (1, ?, ?, ?, ?, ?)",
                (lease.owner, lease.pid, lease.host, ts(lease.started_at), ts(lease.heartbeat_at)),
            )
        return previous

    async def renew_lease(self, owner: str, now: datetime) -> bool:
        """Heartbeat; False if the lease was taken over by another engine."""
        async with self.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE lease SET heartbeat_at = ? WHERE id = 1 AND owner = ?", (ts(now), owner)
            )
            return cursor.rowcount > 0

    async def release_lease(self, owner: str) -> None:
        async with self.transaction() as conn:
            await conn.execute("DELETE FROM lease WHERE id = 1 AND owner = ?", (owner,))

    async def interrupt_orphans(self, owner: str, now: datetime, reason: str) -> list[Execution]:
        """Mark executions left running by engines other than ``owner`` as interrupted."""
        async with self.transaction() as conn:
            async with conn.execute(
                "SELECT * FROM executions WHERE status = 'running' AND coalesce(owner, '') != ?",
                (owner,),
            ) as cursor:
                rows = list(await cursor.fetchall())
            await conn.execute(
                "UPDATE executions SET status = 'interrupted', completed_at = ?, error = ?"
                " WHERE status = 'running' AND coalesce(owner, '') != ?",
                (ts(now), reason, owner),
            )
        orphans = []
        for row in rows:
            execution = self._execution(row)
            execution.status = ExecutionStatus.INTERRUPTED
            execution.completed_at = now
            execution.error = reason
            orphans.append(execution)
        return orphans

    # --- cooldown --------------------------------------------------------------------------

    async def get_cooldown(self) -> Cooldown | None:
        rows = await self._rows("SELECT * FROM cooldown WHERE id = 1")
        if not rows:
            return None
        row = rows[0]
        return Cooldown(
            until=_dt(row["until"]),
            reason=row["reason"],
            detected_at=_dt(row["detected_at"]),
            execution_id=row["execution_id"],
        )

    async def set_cooldown(self, cooldown: Cooldown) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO cooldown VALUES (1, ?, ?, ?, ?)",
                (
                    ts(cooldown.until),
                    cooldown.reason,
                    ts(cooldown.detected_at),
                    cooldown.execution_id,
                ),
            )

    async def clear_cooldown(self) -> bool:
        async with self.transaction() as conn:
            cursor = await conn.execute("DELETE FROM cooldown WHERE id = 1")
            return cursor.rowcount > 0

    def requeue(self, execution: Execution, note: str) -> asyncio.Future[None] | None:
        """Put an execution back in the queue (usage limit hit): no attempt is used."""
        return self._submit(
            [
                (
                    "UPDATE executions SET status = 'queued', started_at = NULL, owner = NULL,"
                    " pid = NULL, error = ?, log_lines = ?, log_dropped = ? WHERE id = ?",
                    (note, execution.log_lines, execution.log_dropped, execution.id),
                )
            ]
        )


class _Transaction:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    async def __aenter__(self) -> aiosqlite.Connection:
        await self._store._lock.acquire()
        conn = self._store.conn
        try:
            await conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._store._lock.release()
            raise
        return conn

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        conn = self._store.conn
        try:
            await conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._store._lock.release()


def _write_all(conn: sqlite3.Connection, groups: list[tuple[str, list[Sequence[Any]]]]) -> None:
    """One transaction of statement groups (run in the connection's thread)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql, rows in groups:
            conn.executemany(sql, rows)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
