"""JobService: the one API that the CLI, the REST API and the dashboard call.

It works on the database, so it serves a client process (``cnp job ...`` while ``cnp --no-ui``
runs elsewhere) just as well as the engine's own process: the engine notices the commits of
other processes through ``PRAGMA data_version``; in its own process ``on_change`` wakes it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from cnp_tui.config import Settings
from cnp_tui.core.clock import Clock, SystemClock
from cnp_tui.core.models import (
    SECTION_ALIASES,
    Cooldown,
    Execution,
    ExecutionStatus,
    ExecutionTrigger,
    Job,
    JobSpec,
    JobStatus,
    Lease,
    LogLine,
    Prompt,
    ScheduleType,
    slugify,
)
from cnp_tui.engine.lease import lease_is_stale
from cnp_tui.errors import (
    AmbiguousReferenceError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from cnp_tui.paths import Paths
from cnp_tui.store.base import Store
from cnp_tui.store.sqlite import SqliteStore

if TYPE_CHECKING:  # imported by the methods that use them (`cnp job list` starts faster)
    from cnp_tui.jobfiles import JobDocument
    from cnp_tui.notify.outbox import Notification, Outbox


def describe_validation_error(exc: ValidationError, what: str) -> str:
    """One sentence per problem: the field path, what was wrong."""
    problems = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"] if part != "__root__")
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "is not a known field"
        elif error["type"] == "missing":
            message = "is required"
        problems.append(f"{path}: {message}" if path else message)
    return f"invalid {what}: " + "; ".join(problems)


class EngineState(BaseModel):
    """The engine owning the database, as a client sees it."""

    running: bool
    owner: str | None = None
    pid: int | None = None
    host: str | None = None
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None


class Status(BaseModel):
    """What ``cnp status`` shows."""

    engine: EngineState
    queued: int
    running: int
    cooldown: Cooldown | None
    cooldown_seconds_left: float | None
    jobs: dict[str, int]


T = TypeVar("T")
FIELD_OF_SECTION = {alias: name for name, alias in SECTION_ALIASES.items()}


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next (None: the end)."""

    items: list[T]
    next_cursor: str | None = None


class JobStats(BaseModel):
    """Per-job figures of ``/api/jobs/stats``."""

    id: str
    name: str
    status: JobStatus
    execution_count: int
    failure_count: int
    success_rate: float | None
    avg_execution_time_ms: float | None
    last_status: ExecutionStatus | None
    last_run_time: datetime | None


class Stats(BaseModel):
    """Totals and per-job success rates and durations."""

    jobs: dict[str, int]
    executions: dict[str, int]
    total_runs: int
    total_failures: int
    success_rate: float | None
    per_job: list[JobStats]


def _encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or len(key) != size or not all(isinstance(k, str) for k in key):
        raise InvalidInputError(
            "cursor: not a cursor of this list",
            hint="pass the next_cursor of the previous page unchanged, or omit it",
        )
    return key


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= 1000:
        raise InvalidInputError(f"limit: must be between 1 and 1000, got {limit}")
    return limit


def _merge(base: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class JobService:
    """Prompts, jobs and executions, as users and scripts see them."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        clock: Clock | None = None,
        on_change: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.on_change = on_change

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, paths: Paths, settings: Settings, *, create: bool = True
    ) -> AsyncIterator[JobService]:
        """A service on its own store connection (CLI clients)."""
        if create:
            paths.ensure_home()
        async with SqliteStore(paths.database, create=create) as store:
            yield cls(store, settings)

    async def _changed(self) -> None:
        if self.on_change is not None:
            await self.on_change()

    # --- prompts ---------------------------------------------------------------------------

    async def create_prompt(
        self,
        title: str,
        content: str,
        *,
        prompt_id: str | None = None,
        tags: list[str] | None = None,
    ) -> Prompt:
        now = self.clock.now()
        try:
            prompt = Prompt(
                id=prompt_id or slugify(title),
                title=title,
                content=content,
                tags=tags or [],
                created_at=now,
                updated_at=now,
            )
        except ValidationError as exc:
            raise InvalidInputError(describe_validation_error(exc, "prompt")) from None
        return await self.store.add_prompt(prompt)

    async def get_prompt(self, prompt_id: str) -> Prompt:
        prompt = await self.store.get_prompt(prompt_id)
        if prompt is None:
            raise NotFoundError(
                f"no prompt with id '{prompt_id}'", hint="list prompts with `cnp prompt list`"
            )
        return prompt

    async def list_prompts(self) -> list[Prompt]:
        return await self.store.list_prompts()

    async def update_prompt(
        self,
        prompt_id: str,
        *,
        title: str | None = None,
        content: str | None = None,
        tags: list[str] | None = None,
    ) -> Prompt:
        prompt = await self.get_prompt(prompt_id)
        changes = {
            k: v
            for k, v in (("title", title), ("content", content), ("tags", tags))
            if v is not None
        }
        try:
            updated = Prompt.model_validate(
                {**prompt.model_dump(), **changes, "updated_at": self.clock.now()}
            )
        except ValidationError as exc:
            raise InvalidInputError(describe_validation_error(exc, "prompt")) from None
        await self.store.save_prompt(updated)
        await self._changed()
        return updated

    async def delete_prompt(self, prompt_id: str) -> None:
        await self.store.delete_prompt(prompt_id)

    # --- jobs ------------------------------------------------------------------------------

    def _next_run(self, job: Job, now: datetime) -> datetime | None:
        trigger = job.schedule.trigger(job.created_at, self.settings.scheduler.timezone)
        return trigger.next_after(now)

    async def create_job(self, spec: JobSpec | Mapping[str, Any]) -> Job:
        """Validate and store a new job; its first run is computed from now."""
        try:
            if not isinstance(spec, JobSpec):
                spec = JobSpec.model_validate(spec)
        except ValidationError as exc:
            raise InvalidInputError(describe_validation_error(exc, "job")) from None
        await self.get_prompt(spec.prompt_id)
        now = self.clock.now()
        job = Job(**spec.model_dump(), created_at=now, updated_at=now)
        job.next_run_time = self._next_run(job, now)
        if job.next_run_time is None and job.schedule.type is ScheduleType.ONCE:
            raise InvalidInputError(
                f"schedule.expression: {job.schedule.expression} is in the past",
                hint="a one-shot job needs a future time; to run now use `cnp job execute`",
            )
        await self.store.add_job(job)
        await self._changed()
        return job

    async def get_job(self, ref: str) -> Job:
        """Resolve JOB: an id, the exact name or a unique id prefix."""
        jobs = await self.store.find_jobs(ref)
        if not jobs:
            raise NotFoundError(f"no job matches '{ref}'", hint="list jobs with `cnp job list`")
        if len(jobs) > 1:
            names = ", ".join(f"{job.id} ({job.name})" for job in jobs[:5])
            raise AmbiguousReferenceError(
                f"'{ref}' matches {len(jobs)} jobs: {names}",
                hint="give more of the id, or the name",
            )
        return jobs[0]

    async def list_jobs(
        self, *, status: JobStatus | None = None, tag: str | None = None
    ) -> list[Job]:
        return await self.store.list_jobs(status=status, tag=tag)

    async def list_jobs_json(
        self, *, status: JobStatus | None = None, tag: str | None = None
    ) -> Iterator[str]:
        """The jobs of ``list_jobs`` as JSON objects, each built and dropped in turn.

        A script listing 10,000 jobs gets them in constant memory and about half the time of
        building every job first (the allocator reuses one job's memory for the next).
        """
        jobs = await self.store.iter_jobs(status=status, tag=tag)
        return (job.model_dump_json() for job in jobs)

    async def update_job(self, ref: str, changes: Mapping[str, Any]) -> Job:
        """Apply ``changes`` (job-file fields, nested sections merged) to a job."""
        job = await self.get_job(ref)
        # The job file's section names (execution, retry, notifications) name the same fields.
        by_field = {FIELD_OF_SECTION.get(key, key): value for key, value in changes.items()}
        data = _merge(job.spec().model_dump(mode="json"), by_field)
        try:
            spec = JobSpec.model_validate(data)
        except ValidationError as exc:
            raise InvalidInputError(describe_validation_error(exc, "job")) from None
        if spec.prompt_id != job.prompt_id:
            await self.get_prompt(spec.prompt_id)
        now = self._after(job.updated_at)
        updated = job.model_copy(update={**dict(spec), "updated_at": now})
        if updated.status is JobStatus.ACTIVE and (
            spec.schedule != job.schedule or job.next_run_time is None
        ):
            updated.next_run_time = self._next_run(updated, now)
        await self.store.save_job(updated)
        await self._changed()
        return updated

    def _after(self, previous: datetime) -> datetime:
        # The engine picks up definitions by updated_at: it must move forward.
        now = self.clock.now()
        return now if now > previous else previous + timedelta(microseconds=1)

    async def delete_job(self, ref: str) -> Job:
        job = await self.get_job(ref)
        await self.store.delete_job(job.id)
        await self._changed()
        return job

    async def pause_job(self, ref: str) -> Job:
        job = await self.get_job(ref)
        if job.status is JobStatus.COMPLETED:
            raise ConflictError(f"job '{job.name}' has completed; there is nothing to pause")
        job.status = JobStatus.PAUSED
        job.next_run_time = None
        job.updated_at = self._after(job.updated_at)
        await self.store.save_job(job)
        await self._changed()
        return job

    async def resume_job(self, ref: str) -> Job:
        """Resume a paused job; slots missed while paused are not caught up."""
        job = await self.get_job(ref)
        if job.status is JobStatus.COMPLETED:
            raise ConflictError(
                f"job '{job.name}' has completed (a one-shot that ran)",
                hint="give it a new time with `cnp job update --at`, or run it with "
                "`cnp job execute`",
            )
        now = self._after(job.updated_at)
        job.status = JobStatus.ACTIVE
        job.updated_at = now
        job.next_run_time = self._next_run(job, now)
        await self.store.save_job(job)
        await self._changed()
        return job

    # --- executions ------------------------------------------------------------------------

    async def execute_job(self, ref: str) -> Execution:
        """Queue a manual execution; the engine (or ``execute --wait``) runs it."""
        job = await self.get_job(ref)
        now = self.clock.now()
        execution = Execution(
            job_id=job.id,
            trigger=ExecutionTrigger.MANUAL,
            scheduled_for=now,
            attempt=1,
            priority=job.priority,
            queued_at=now,
        )
        for _ in range(100):
            try:
                await self.store.add_execution(execution)
                break
            except ConflictError:
                # Two manual runs in the same microsecond: a manual slot is just "now".
                execution.scheduled_for += timedelta(microseconds=1)
        await self._changed()
        return execution

    async def history(
        self,
        ref: str | None = None,
        *,
        last: int | None = 20,
        status: list[ExecutionStatus] | None = None,
    ) -> list[Execution]:
        job_id = (await self.get_job(ref)).id if ref else None
        return await self.store.list_executions(job_id=job_id, status=status, limit=last)

    async def get_execution(self, ref: str) -> Execution:
        executions = await self.store.find_executions(ref)
        if not executions:
            raise NotFoundError(
                f"no execution matches '{ref}'", hint="see executions with `cnp job history JOB`"
            )
        if len(executions) > 1:
            raise AmbiguousReferenceError(
                f"'{ref}' matches {len(executions)} executions", hint="give more of the id"
            )
        execution = executions[0]
        if execution.status is ExecutionStatus.RUNNING:
            # The row's count is written at the end; while it runs, the log itself knows.
            execution.log_lines = await self.store.last_log_seq(execution.id)
        return execution

    async def logs(
        self, execution_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[LogLine]:
        return await self.store.get_logs(execution_id, after_seq=after_seq, limit=limit)

    async def cancel_execution(self, ref: str) -> str:
        """Cancel a queued or running execution: 'cancelled' now, or 'requested' of the engine."""
        execution = await self.get_execution(ref)
        if execution.status.finished:
            raise ConflictError(
                f"execution {execution.id} has already ended ({execution.status.value})"
            )
        if await self.live_engine() is None:
            if execution.status is ExecutionStatus.QUEUED and await self.store.cancel_queued(
                execution.id, self.clock.now(), "cancelled before it started"
            ):
                return "cancelled"
            raise ConflictError(
                f"execution {execution.id} is marked running but no engine is alive",
                hint="start `cnp --no-ui`: it marks the execution interrupted",
            )
        if not await self.store.request_cancel(execution.id):
            raise ConflictError(f"execution {execution.id} ended before it could be cancelled")
        await self._changed()
        return "requested"

    # --- engine state ----------------------------------------------------------------------

    async def live_engine(self) -> Lease | None:
        lease = await self.store.get_lease()
        if lease is None or lease_is_stale(
            lease, self.clock.now(), self.settings.job_engine.heartbeat_interval
        ):
            return None
        return lease

    async def status(self) -> Status:
        lease = await self.live_engine()
        counts = await self.store.count_executions()
        cooldown = await self.store.get_cooldown()
        now = self.clock.now()
        if cooldown is not None and not cooldown.active(now):
            cooldown = None
        jobs = await self.store.count_jobs()
        engine = EngineState(running=False)
        if lease is not None:
            engine = EngineState(
                running=True,
                **lease.model_dump(exclude={"heartbeat_at"}),
                heartbeat_at=lease.heartbeat_at,
            )
        return Status(
            engine=engine,
            queued=counts.get("queued", 0),
            running=counts.get("running", 0),
            cooldown=cooldown,
            cooldown_seconds_left=cooldown.seconds_left(now) if cooldown else None,
            jobs=jobs,
        )

    async def active_cooldown(self) -> Cooldown | None:
        cooldown = await self.store.get_cooldown()
        return cooldown if cooldown is not None and cooldown.active(self.clock.now()) else None

    async def clear_cooldown(self) -> bool:
        cleared = await self.store.clear_cooldown()
        await self._changed()
        return cleared

    # --- pages and statistics (REST API) ---------------------------------------------------

    async def page_jobs(
        self,
        *,
        status: JobStatus | None = None,
        tag: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Job]:
        """Jobs by name (then id); the cursor is the last (name, id) seen, so a page stays
        correct when jobs are added or deleted meanwhile."""
        _check_limit(limit)
        jobs = sorted(await self.list_jobs(status=status, tag=tag), key=lambda j: (j.name, j.id))
        if cursor:
            after = tuple(_decode_cursor(cursor, 2))
            jobs = [job for job in jobs if (job.name, job.id) > after]
        items = jobs[:limit]
        more = len(jobs) > limit
        return Page[Job](
            items=items,
            next_cursor=_encode_cursor([items[-1].name, items[-1].id]) if more else None,
        )

    async def page_prompts(self, *, limit: int = 50, cursor: str | None = None) -> Page[Prompt]:
        """Prompts by id; the cursor is the last id seen."""
        _check_limit(limit)
        prompts = sorted(await self.list_prompts(), key=lambda p: p.id)
        if cursor:
            [after] = _decode_cursor(cursor, 1)
            prompts = [prompt for prompt in prompts if prompt.id > after]
        items = prompts[:limit]
        more = len(prompts) > limit
        return Page[Prompt](
            items=items, next_cursor=_encode_cursor([items[-1].id]) if more else None
        )

    async def page_executions(
        self,
        ref: str | None = None,
        *,
        status: list[ExecutionStatus] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Execution]:
        """Executions newest first; the cursor is the last (queued time, id) seen.

        The store has no keyset query yet, so this reads the (retention-capped) history and
        pages it here.
        """
        _check_limit(limit)
        job_id = (await self.get_job(ref)).id if ref else None
        executions = await self.store.list_executions(job_id=job_id, status=status, limit=None)

        def stamp(when: datetime) -> str:  # fixed width: compares as text
            return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")

        def key(execution: Execution) -> tuple[str, str]:
            # Manual runs queued in the same instant differ by scheduled_for (microseconds).
            when = execution.queued_at or execution.scheduled_for
            tie = f"{stamp(execution.scheduled_for)}|{execution.attempt:06d}|{execution.id}"
            return (stamp(when), tie)

        executions.sort(key=key, reverse=True)
        if cursor:
            after = tuple(_decode_cursor(cursor, 2))
            executions = [e for e in executions if key(e) < after]
        items = executions[:limit]
        more = len(executions) > limit
        return Page[Execution](
            items=items, next_cursor=_encode_cursor(list(key(items[-1]))) if more else None
        )

    async def stats(self) -> Stats:
        """Totals and per-job success rates and durations (the jobs' own statistics)."""
        jobs = await self.list_jobs()
        runs = sum(job.execution_count for job in jobs)
        failures = sum(job.failure_count for job in jobs)
        return Stats(
            jobs=await self.store.count_jobs(),
            executions=await self.store.count_executions(),
            total_runs=runs,
            total_failures=failures,
            success_rate=(runs - failures) / runs if runs else None,
            per_job=[
                JobStats.model_validate(job.model_dump(include=set(JobStats.model_fields)))
                for job in jobs
            ],
        )

    # --- notifications ---------------------------------------------------------------------

    def _outbox(self) -> Outbox:
        from cnp_tui.notify.outbox import Outbox

        return Outbox(self.store)  # type: ignore[arg-type]  # the outbox lives in SqliteStore

    async def list_notifications(
        self, *, execution_ref: str | None = None, failed: bool = False, limit: int | None = 50
    ) -> list[Notification]:
        """Notification rows, newest first: of one execution, or only the failed ones."""
        from cnp_tui.notify.outbox import NotificationStatus

        execution_id = (await self.get_execution(execution_ref)).id if execution_ref else None
        status = [NotificationStatus.FAILED] if failed else None
        return await self._outbox().query(execution_id=execution_id, status=status, limit=limit)

    async def execution_notifications(self, execution_id: str) -> list[Notification]:
        """Delivery status of the notifications about one execution (dashboard, API)."""
        return await self._outbox().query(execution_id=execution_id, limit=None)

    async def retry_notification(self, notification_id: int) -> Notification:
        """Make a failed notification due again; the engine delivers it."""
        item = await self._outbox().retry(notification_id, self.clock.now())
        await self._changed()
        return item

    async def test_notification(self, channel_spec: str) -> Notification:
        """Send a sample notification now, on this process, and record it in the outbox."""
        from cnp_tui.core.bus import EventBus
        from cnp_tui.notify.channels import DeliveryError, parse_channel_spec
        from cnp_tui.notify.notifier import Notifier
        from cnp_tui.notify.outbox import NotificationStatus
        from cnp_tui.notify.templates import Templates

        channel = parse_channel_spec(channel_spec)
        notifier = Notifier(self.store, EventBus(), self.settings, self.clock)  # type: ignore[arg-type]
        notifier.templates = Templates.load(self.settings.notifications.template_directory)
        item = notifier.test_notification(channel)
        item.attempts = 1
        try:
            await notifier.send(item)
        except DeliveryError as exc:
            item.status = NotificationStatus.FAILED
            item.last_error = str(exc)
        else:
            item.status = NotificationStatus.SENT
            item.delivered_at = self.clock.now()
        item.next_attempt_at = None
        await notifier.outbox.add([item])
        return item

    # --- job files and batch operations (issue 6) ------------------------------------------

    async def _check_documents(
        self, documents: list[JobDocument], *, new_only: bool, source: str
    ) -> dict[str, Job]:
        """Problems the file alone cannot show: unknown prompts, names already taken."""
        from cnp_tui.jobfiles import JobFileError, Problem

        existing = {job.name: job for job in await self.store.list_jobs()}
        inline = {doc.prompt_id for doc in documents if doc.prompt is not None}
        known_prompts = {prompt.id for prompt in await self.store.list_prompts()} | inline
        problems = []
        now = self.clock.now()
        for index, doc in enumerate(documents):
            if doc.prompt_id not in known_prompts:
                problems.append(
                    Problem(
                        index,
                        doc.name,
                        "prompt_id",
                        f"no prompt with id '{doc.prompt_id}' (create it with `cnp prompt "
                        "create`, or give the prompt inline as prompt: {title, content})",
                        doc.field_line("prompt_id"),
                    )
                )
            current = existing.get(doc.name)
            if new_only and current is not None:
                problems.append(
                    Problem(
                        index,
                        doc.name,
                        "name",
                        "a job with this name exists (use `cnp job apply` to update it)",
                        doc.field_line("name"),
                    )
                )
            if (
                doc.schedule.type is ScheduleType.ONCE
                and (current is None or current.schedule != doc.schedule)
                and doc.schedule.trigger(now, self.settings.scheduler.timezone).next_after(now)
                is None
            ):
                # Checked here too, so that a file with a past time changes nothing at all.
                problems.append(
                    Problem(
                        index,
                        doc.name,
                        "schedule.expression",
                        f"{doc.schedule.expression} is in the past; a one-shot job needs a "
                        "future time",
                        doc.field_line("schedule"),
                    )
                )
        if problems:
            raise JobFileError(source, problems)
        return existing

    async def _apply_prompt(self, doc: JobDocument, dry_run: bool) -> str | None:
        """Create or update an inline prompt; returns 'created' / 'updated' / None."""
        wanted = doc.inline_prompt()
        if wanted is None:
            return None
        current = await self.store.get_prompt(wanted.id)
        if current is None:
            if not dry_run:
                now = self.clock.now()
                await self.store.add_prompt(
                    wanted.model_copy(update={"created_at": now, "updated_at": now})
                )
            return "created"
        if (current.title, current.content, current.tags) == (
            wanted.title,
            wanted.content,
            wanted.tags,
        ):
            return None
        if not dry_run:
            await self.update_prompt(
                wanted.id, title=wanted.title, content=wanted.content, tags=wanted.tags
            )
        return "updated"

    async def batch_create(
        self, documents: list[JobDocument], *, dry_run: bool = False, source: str = "job file"
    ) -> list[Job]:
        """Create every job of a file, or none: all are checked before the first is written."""
        await self._check_documents(documents, new_only=True, source=source)
        jobs: list[Job] = []
        if dry_run:
            return [Job(**doc.spec().model_dump()) for doc in documents]
        created_prompts: list[str] = []
        replaced_prompts: list[Prompt] = []  # as they were before the file changed them
        try:
            for doc in documents:
                before = await self.store.get_prompt(doc.prompt_id) if doc.prompt_id else None
                change = await self._apply_prompt(doc, dry_run=False)
                if change == "created":
                    created_prompts.append(doc.prompt_id or "")
                elif change == "updated" and before is not None:
                    replaced_prompts.append(before)
                jobs.append(await self.create_job(doc.spec()))
        except BaseException:
            # A late failure (another writer took a name meanwhile...): undo, all or nothing.
            for job in jobs:
                await self.store.delete_job(job.id)
            for prompt_id in created_prompts:
                await self.store.delete_prompt(prompt_id)
            for prompt in reversed(replaced_prompts):
                await self.store.save_prompt(prompt)
            await self._changed()
            raise
        return jobs

    async def apply_documents(
        self,
        documents: list[JobDocument],
        *,
        prune: bool = False,
        dry_run: bool = False,
        source: str = "job file",
    ) -> ApplyResult:
        """Make the jobs match the file, by name: create, update, (with ``prune``) delete."""
        from cnp_tui.jobfiles import file_path

        existing = await self._check_documents(documents, new_only=False, source=source)
        result = ApplyResult(dry_run=dry_run)
        for doc in documents:
            prompt_change = await self._apply_prompt(doc, dry_run)
            if prompt_change:
                result.prompts.append(PromptChange(id=doc.prompt_id or "", action=prompt_change))
            spec = doc.spec()
            current = existing.get(spec.name)
            if current is None:
                if not dry_run:
                    await self.create_job(spec)
                result.created.append(spec.name)
                continue
            changed = _changed_fields(
                current.spec().model_dump(mode="json"), spec.model_dump(mode="json")
            )
            if not changed:
                result.unchanged.append(spec.name)
                continue
            if not dry_run:
                await self._replace_spec(current, spec)
            result.updated.append(
                JobChange(name=spec.name, fields=[file_path(path) for path in changed])
            )
        if prune:
            wanted = {doc.name for doc in documents}
            for name, job in sorted(existing.items()):
                if name not in wanted:
                    if not dry_run:
                        await self.store.delete_job(job.id)
                    result.deleted.append(name)
        if not dry_run:
            await self._changed()
        return result

    async def _replace_spec(self, job: Job, spec: JobSpec) -> Job:
        """Replace the user-defined part of a job as a whole (no merge of nested maps)."""
        now = self._after(job.updated_at)
        updated = job.model_copy(update={**dict(spec), "updated_at": now})
        if updated.status is JobStatus.ACTIVE and (
            spec.schedule != job.schedule or job.next_run_time is None
        ):
            updated.next_run_time = self._next_run(updated, now)
        await self.store.save_job(updated)
        return updated

    async def export_documents(self, tag: str | None = None) -> list[dict[str, Any]]:
        """The jobs (with a tag, or all) as job-file mappings with their prompts inline."""
        from cnp_tui.jobfiles import job_to_document

        documents = []
        for job in sorted(await self.store.list_jobs(tag=tag), key=lambda j: j.name):
            prompt = await self.store.get_prompt(job.prompt_id)
            documents.append(job_to_document(job, prompt))
        return documents

    async def _select_jobs(self, *, status: JobStatus | str | None, tag: str | None) -> list[Job]:
        """Jobs by tag and/or status; status ``running`` = jobs with an execution running now."""
        if status is None and tag is None:
            raise InvalidInputError(
                "say which jobs: give --tag TAG or --status STATUS (or both)",
            )
        if status == RUNNING:
            running = await self.store.list_executions(status=[ExecutionStatus.RUNNING], limit=None)
            ids = {execution.job_id for execution in running}
            jobs = [job for job in await self.store.list_jobs(tag=tag) if job.id in ids]
        else:
            jobs = await self.store.list_jobs(status=JobStatus(status) if status else None, tag=tag)
        return sorted(jobs, key=lambda j: j.name)

    async def batch_execute(
        self, *, tag: str | None = None, status: JobStatus | str | None = None
    ) -> list[tuple[Job, Execution]]:
        """Queue one manual execution of every selected job."""
        return [
            (job, await self.execute_job(job.id))
            for job in await self._select_jobs(status=status, tag=tag)
        ]

    async def batch_pause(
        self, *, tag: str | None = None, status: JobStatus | str | None = None
    ) -> BatchResult:
        """Pause the selected jobs; paused or completed ones are left as they are."""
        return await self._batch("pause", JobStatus.ACTIVE, self.pause_job, tag, status)

    async def batch_resume(
        self, *, tag: str | None = None, status: JobStatus | str | None = None
    ) -> BatchResult:
        """Resume the selected paused jobs; active or completed ones are left as they are."""
        return await self._batch("resume", JobStatus.PAUSED, self.resume_job, tag, status)

    async def _batch(
        self,
        action: str,
        applies_to: JobStatus,
        change: Callable[[str], Awaitable[Job]],
        tag: str | None,
        status: JobStatus | str | None,
    ) -> BatchResult:
        result = BatchResult(action=action)
        for job in await self._select_jobs(status=status, tag=tag):
            if job.status is applies_to:
                await change(job.id)
                result.done.append(job.name)
            else:
                reason = f"already {job.status.value}"
                if job.status is JobStatus.COMPLETED:
                    reason = "completed"
                result.skipped.append(BatchSkip(name=job.name, reason=reason))
        return result


RUNNING = "running"
"""The batch selector for jobs with an execution running now (the spec's `--status running`)."""


class JobChange(BaseModel):
    """An updated job and the field paths that changed."""

    name: str
    fields: list[str]


class PromptChange(BaseModel):
    """An inline prompt that was created or updated."""

    id: str
    action: str


class ApplyResult(BaseModel):
    """What ``apply`` did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    created: list[str] = []
    updated: list[JobChange] = []
    unchanged: list[str] = []
    deleted: list[str] = []
    prompts: list[PromptChange] = []

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted or self.prompts)


class BatchSkip(BaseModel):
    name: str
    reason: str


class BatchResult(BaseModel):
    """What a batch pause/resume did: jobs changed and jobs left alone (with why)."""

    action: str
    done: list[str] = []
    skipped: list[BatchSkip] = []


def _changed_fields(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Leaf paths that differ between two JSON-like values (``retry_config.max_attempts``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        changed: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            changed += _changed_fields(old.get(key), new.get(key), path)
        return changed
    return [] if old == new else [prefix]
