"""The scheduler: fires due slots, queues executions by priority, dispatches them within limits.

It sleeps until the earliest of: the next due slot, the next retry's not-before time, the end
of a cooldown; or until it is woken (a job changed, an execution finished, another process
committed to the database). It never busy-polls: the only periodic work is a cheap
``PRAGMA data_version`` read every ``[scheduler] tick_interval`` to notice other processes.

Every slot is claimed as an execution row (unique job, scheduled time, attempt) before it is
queued, and marked running (durably) before its process starts, so a slot runs at most once
even across crashes.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import os
import signal
from collections import Counter
from datetime import datetime, timedelta

import psutil
from pydantic import BaseModel

from cnp_tui.config import Settings
from cnp_tui.core import retry as retry_policy
from cnp_tui.core.bus import EventBus
from cnp_tui.core.clock import Clock
from cnp_tui.core.events import (
    CooldownEnded,
    CooldownStarted,
    ExecutionFinished,
    ExecutionQueued,
    ExecutionRequeued,
    ExecutionStarted,
    JobChanged,
)
from cnp_tui.core.models import (
    CatchUp,
    Cooldown,
    Execution,
    ExecutionStatus,
    ExecutionTrigger,
    Job,
    JobStatus,
    Prompt,
    ScheduleType,
)
from cnp_tui.core.schedule import Trigger, fire_times_between
from cnp_tui.engine.executor import Executor, RunResult, StopReason
from cnp_tui.engine.lease import HOSTNAME
from cnp_tui.store.base import Store

log = logging.getLogger("cnp.engine")

_RETRYABLE = (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.INTERRUPTED)
_EPSILON = timedelta(microseconds=1)


def end_orphan_process(execution: Execution) -> None:
    """Kill the process group a crashed engine left running, if it is still ours to kill.

    Only on the same host, and only if the process started right after the execution did
    (so a recycled pid of an unrelated process is never touched).
    """
    if execution.pid is None or execution.started_at is None or execution.owner is None:
        return
    if execution.owner.split(":", 1)[0] != HOSTNAME:
        return
    try:
        created = psutil.Process(execution.pid).create_time()
    except psutil.Error:
        return
    if abs(created - execution.started_at.timestamp()) > 30:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(execution.pid, signal.SIGKILL)
        log.warning(
            "killed the orphaned process group %d of execution %s", execution.pid, execution.id
        )


class SharedSections:
    """Makes jobs with equal sections (schedule, options, retry, limits) share one instance.

    The engine holds every job; 10,000 jobs written from a few templates would otherwise hold
    10,000 equal copies of each section, most of a job's memory. The engine never changes a
    section in place (it replaces whole jobs), so sharing is safe.
    """

    SECTIONS = ("schedule", "execution_options", "retry_config", "resource_limits")

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], BaseModel] = {}

    def share(self, job: Job) -> None:
        for name in self.SECTIONS:
            section: BaseModel = getattr(job, name)
            shared = self._seen.setdefault((name, section.model_dump_json()), section)
            if shared is not section:
                setattr(job, name, shared)


class Scheduler:
    """Owns the in-memory schedule and queue of one engine."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        settings: Settings,
        clock: Clock,
        executor: Executor,
        owner: str,
    ) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.clock = clock
        self.executor = executor
        self.owner = owner
        self._jobs: dict[str, Job] = {}
        self._triggers: dict[str, Trigger] = {}
        self._sections = SharedSections()
        self._due: list[tuple[datetime, str]] = []
        self._queue: list[tuple[int, datetime, int, str]] = []
        self._queued: dict[str, Execution] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._cancel_on_start: set[str] = set()
        self._running_per_job: Counter[str] = Counter()
        self._prompts: dict[str, Prompt] = {}
        self._prompt_loads: dict[str, asyncio.Future[Prompt | None]] = {}
        self._cooldown: Cooldown | None = None
        self._next_run_after: datetime | None = None
        self._deadline: datetime | None = None  # when the sleeping loop wakes by itself
        self._wake = asyncio.Event()
        self._accepting = True
        self._order = itertools.count()
        self._jobs_seen_at = ""
        self._data_version = 0
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Scheduler:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop(self.settings.executor.shutdown_grace)

    async def start(self) -> None:
        """Recover from a previous engine, load the state and start the loop."""
        await self.load()
        await self.recover()
        self._tasks = [
            asyncio.create_task(self._loop(), name="cnp-scheduler"),
            asyncio.create_task(self._watch_database(), name="cnp-db-watch"),
        ]

    async def load(self) -> None:
        self._data_version = await self.store.data_version()
        self._cooldown = await self.store.get_cooldown()
        await self._sync_jobs()
        for execution in await self.store.queued_executions():
            self._enqueue(execution)

    async def recover(self) -> None:
        """Executions left running by a dead engine become interrupted and follow retry policy."""
        now = self.clock.now()
        orphans = await self.store.interrupt_orphans(
            self.owner, now, "interrupted: the engine running it stopped before it finished"
        )
        for execution in orphans:
            log.warning(
                "execution %s of job %s was interrupted by an engine crash",
                execution.id,
                self._job_name(execution.job_id),
            )
            end_orphan_process(execution)
            job = self._jobs.get(execution.job_id)
            if job is not None:
                await self._finish(RunResult(execution), job)

    async def stop(self, grace: float) -> None:
        """Stop dispatching; give running executions ``grace`` seconds, then interrupt them."""
        self._accepting = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        running = list(self._running.values())
        if running:
            log.info("waiting up to %ss for %d running execution(s)", grace, len(running))
            _, pending = await asyncio.wait(running, timeout=grace)
            if pending:
                self.executor.stop_all(StopReason.SHUTDOWN, "interrupted: the engine was shut down")
                await asyncio.gather(*pending, return_exceptions=True)
        await self.store.flush()

    def wake(self) -> None:
        """Re-evaluate now (something changed)."""
        self._wake.set()

    # --- state queries (status display) ----------------------------------------------------

    @property
    def queued_count(self) -> int:
        return len(self._queued)

    @property
    def running_count(self) -> int:
        return len(self._running)

    @property
    def loop_alive(self) -> bool:
        """True while the scheduling loop and the database watcher run (health checks)."""
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    @property
    def cooldown(self) -> Cooldown | None:
        return self._cooldown

    def running_tasks(self) -> list[asyncio.Task[None]]:
        return list(self._running.values())

    # --- the loop --------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            now = self.clock.now()
            try:
                await self._fire_due(now)
                self._check_cooldown(now)
                self._dispatch(now)
            except Exception:  # the loop must survive anything one pass throws
                log.exception("scheduler pass failed; retrying in a second")
                await asyncio.sleep(1.0)  # the database may be locked or full: don't spin
            self._deadline = self._next_wake()
            await self._sleep_until(self._deadline)

    async def _sleep_until(self, when: datetime | None) -> None:
        if self._wake.is_set():
            return
        waiter = asyncio.ensure_future(self._wake.wait())
        waits: set[asyncio.Future[object]] = {waiter}  # type: ignore[arg-type]
        if when is not None:
            waits.add(asyncio.ensure_future(self.clock.sleep_until(when)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    def _next_wake(self) -> datetime | None:
        candidates = []
        if self._due:
            candidates.append(self._due[0][0])
        if self._cooldown is not None:
            candidates.append(self._cooldown.until)
        if self._next_run_after is not None:
            candidates.append(self._next_run_after)
        return min(candidates) if candidates else None

    async def _watch_database(self) -> None:
        """Notice commits of other processes (CLI, API) with a cheap PRAGMA read."""
        while True:
            await asyncio.sleep(self.settings.scheduler.tick_interval)
            try:
                version = await self.store.data_version()
                if version != self._data_version:
                    self._data_version = version
                    await self.sync()
                    self.wake()
            except Exception:
                log.exception("reading changes from the database failed")

    async def sync(self) -> None:
        """Take in changes made by other processes: jobs, manual executions, cancels, cooldown."""
        await self._sync_jobs()
        self._prompts.clear()
        for execution in await self.store.queued_executions():
            if execution.id not in self._queued and execution.id not in self._running:
                self._enqueue(execution)
                self.bus.publish(ExecutionQueued(execution))
        for execution_id, status in await self.store.cancel_requests():
            # The row may still read "queued" for a moment after the start (group commit):
            # what this engine runs decides, not the row.
            if status == ExecutionStatus.QUEUED.value and execution_id not in self._running:
                await self.cancel_queued(execution_id, "cancelled before it started")
            elif (
                not self.executor.stop(execution_id, StopReason.CANCEL, "cancelled by request")
                and execution_id in self._running  # starting: its process does not exist yet
            ):
                self._cancel_on_start.add(execution_id)
        cooldown = await self.store.get_cooldown()
        if self._cooldown is not None and cooldown is None:
            self._cooldown = None
            log.info("cooldown cleared; dispatch resumes")
            self.bus.publish(CooldownEnded(self.clock.now()))
        elif cooldown is not None:
            self._cooldown = cooldown

    async def _sync_jobs(self) -> None:
        now = self.clock.now()
        changed = await self.store.jobs_updated_since(self._jobs_seen_at)
        if self._jobs:
            existing = set(await self.store.job_ids())
            for job_id in [job_id for job_id in self._jobs if job_id not in existing]:
                self._forget_job(job_id)
        fixes: dict[str, tuple[datetime | None, JobStatus | None]] = {}
        for job in changed:
            self._sections.share(job)
            self._jobs_seen_at = max(self._jobs_seen_at, job.updated_at.isoformat())
            previous = self._jobs.get(job.id)
            self._jobs[job.id] = job
            if previous is not None and previous.model_dump() == job.model_dump():
                continue
            try:
                self._triggers[job.id] = job.schedule.trigger(
                    job.created_at, self.settings.scheduler.timezone
                )
            except ValueError as exc:
                log.error("job %s has a schedule that no longer validates: %s", job.name, exc)
                continue
            if job.status is JobStatus.ACTIVE:
                if job.next_run_time is None and job.schedule.type is not ScheduleType.ONCE:
                    job.next_run_time = self._triggers[job.id].next_after(now)
                    fixes[job.id] = (job.next_run_time, None)
                if job.next_run_time is not None:
                    heapq.heappush(self._due, (job.next_run_time, job.id))
            if previous is not None:
                self.bus.publish(JobChanged(job))
        if fixes:
            await self.store.claim_slots([], fixes)

    def _forget_job(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)
        self._triggers.pop(job_id, None)
        for execution_id in [e.id for e in self._queued.values() if e.job_id == job_id]:
            del self._queued[execution_id]

    # --- firing ----------------------------------------------------------------------------

    async def _fire_due(self, now: datetime) -> None:
        if not self._accepting:
            return
        claims: list[Execution] = []
        next_runs: dict[str, tuple[datetime | None, JobStatus | None]] = {}
        fired: list[tuple[datetime, Job, JobStatus]] = []
        while self._due and self._due[0][0] <= now:
            when, job_id = heapq.heappop(self._due)
            job = self._jobs.get(job_id)
            if job is None or job.status is not JobStatus.ACTIVE or job.next_run_time != when:
                continue  # a stale heap entry: the job changed since it was pushed
            fired.append((when, job, job.status))
            trigger = self._triggers[job_id]
            slots = self._slots(job, trigger, when, now)
            for slot, kind in slots:
                claims.append(
                    Execution(
                        job_id=job_id,
                        trigger=kind,
                        scheduled_for=slot,
                        attempt=1,
                        priority=job.priority,
                        queued_at=now,
                    )
                )
            following = trigger.next_after(now)
            job.next_run_time = following
            status = None
            if following is None and job.schedule.type is ScheduleType.ONCE and not slots:
                status = job.status = JobStatus.COMPLETED  # a missed one-shot with catch_up none
            next_runs[job_id] = (following, status)
            if following is not None:
                heapq.heappush(self._due, (following, job_id))
        if not next_runs:
            return
        try:
            claimed = await self.store.claim_slots(claims, next_runs)
        except Exception:
            # Nothing was claimed: put the jobs back as they were, so the slots fire on the
            # next pass instead of being skipped.
            for when, job, status in fired:
                job.next_run_time = when
                job.status = status
                heapq.heappush(self._due, (when, job.id))
            raise
        for execution in claimed:
            self._enqueue(execution)
            self.bus.publish(ExecutionQueued(execution))

    def _slots(
        self, job: Job, trigger: Trigger, first_due: datetime, now: datetime
    ) -> list[tuple[datetime, ExecutionTrigger]]:
        """The slots to run now: the one on time, and missed ones by the job's catch-up policy."""
        cap = self.settings.scheduler.max_missed_runs
        recent = fire_times_between(trigger, first_due - _EPSILON, now, cap + 1)
        if not recent:
            return []
        on_time = (now - recent[-1]).total_seconds() <= self.settings.scheduler.misfire_grace
        missed = recent[:-1] if on_time else recent
        slots = [(recent[-1], ExecutionTrigger.SCHEDULE)] if on_time else []
        if missed:
            if job.catch_up is CatchUp.ALL:
                chosen = missed[-cap:]
            elif job.catch_up is CatchUp.LATEST and not on_time:
                chosen = missed[-1:]
            else:
                chosen = []
            log.info(
                "job %s: slots missed since %s; catch_up=%s runs %d of them",
                job.name,
                first_due.isoformat(),
                job.catch_up.value,
                len(chosen),
            )
            slots = [(slot, ExecutionTrigger.CATCH_UP) for slot in chosen] + slots
        return slots

    # --- queue and dispatch ----------------------------------------------------------------

    def _enqueue(self, execution: Execution) -> None:
        self._queued[execution.id] = execution
        heapq.heappush(
            self._queue,
            (-execution.priority, execution.scheduled_for, next(self._order), execution.id),
        )

    def _check_cooldown(self, now: datetime) -> None:
        if self._cooldown is not None and not self._cooldown.active(now):
            log.info("cooldown over; resuming dispatch by priority (%d queued)", len(self._queued))
            self._cooldown = None
            self.bus.publish(CooldownEnded(now))
            # The database row stays as history until the next limit replaces it.

    def _dispatch(self, now: datetime) -> None:
        self._next_run_after = None
        if not self._accepting or (self._cooldown is not None and self._cooldown.active(now)):
            return
        limit = self.settings.job_engine.max_concurrent_jobs
        skipped = []
        while self._queue and len(self._running) < limit:
            item = heapq.heappop(self._queue)
            execution = self._queued.get(item[3])
            if execution is None:
                continue  # cancelled or its job was deleted
            job = self._jobs.get(execution.job_id)
            if job is None:
                del self._queued[execution.id]
                continue
            if execution.run_after is not None and execution.run_after > now:
                if self._next_run_after is None or execution.run_after < self._next_run_after:
                    self._next_run_after = execution.run_after
                skipped.append(item)
                continue
            if self._running_per_job[job.id] >= job.execution_options.max_parallel:
                skipped.append(item)  # woken again when one of this job's executions ends
                continue
            del self._queued[execution.id]
            self._start(execution, job)
        for item in skipped:
            heapq.heappush(self._queue, item)

    def _start(self, execution: Execution, job: Job) -> None:
        self._running_per_job[job.id] += 1
        self._running[execution.id] = asyncio.create_task(
            self._execute(execution, job), name=f"cnp-execution-{execution.id}"
        )

    async def cancel_queued(self, execution_id: str, reason: str) -> bool:
        execution = self._queued.pop(execution_id, None)
        if execution is None:
            return False
        if await self.store.cancel_queued(execution_id, self.clock.now(), reason):
            execution.status = ExecutionStatus.CANCELLED
            execution.error = reason
            execution.completed_at = self.clock.now()
            self.bus.publish(ExecutionFinished(execution))
        return True

    async def _prompt(self, prompt_id: str) -> Prompt | None:
        prompt = self._prompts.get(prompt_id)
        if prompt is not None:
            return prompt
        # One read per prompt however many runs start at once: a thousand jobs due together
        # would otherwise queue a thousand identical reads before the first child is spawned.
        loading = self._prompt_loads.get(prompt_id)
        if loading is None:
            loading = asyncio.ensure_future(self.store.get_prompt(prompt_id))
            self._prompt_loads[prompt_id] = loading
            loading.add_done_callback(lambda _: self._prompt_loads.pop(prompt_id, None))
        prompt = await asyncio.shield(loading)
        if prompt is not None:
            self._prompts[prompt_id] = prompt
        return prompt

    async def _execute(self, execution: Execution, job: Job) -> None:
        try:
            await self.run_execution(execution, job)
        except Exception:
            log.exception("execution %s of job %s failed inside the engine", execution.id, job.name)
        finally:
            self._running.pop(execution.id, None)
            self._cancel_on_start.discard(execution.id)
            self._running_per_job[job.id] -= 1
            if self._running_per_job[job.id] <= 0:
                del self._running_per_job[job.id]
            self._slot_freed()

    def _slot_freed(self) -> None:
        """Start what waited for the freed slot at once, without a pass of the loop.

        At a thousand runs a second a loop pass per finished run is the engine's main cost;
        the loop is woken only when its sleep must end sooner (a retry due, a cooldown begun).
        """
        try:
            self._dispatch(self.clock.now())
        except Exception:
            log.exception("dispatch after a finished run failed; the loop retries")
            self.wake()
            return
        wanted = self._next_wake()
        if wanted is not None and (self._deadline is None or wanted < self._deadline):
            self.wake()

    async def run_execution(self, execution: Execution, job: Job) -> Execution:
        """Run one queued execution through start, process, result and retry decision."""
        prompt = await self._prompt(job.prompt_id)
        execution.status = ExecutionStatus.RUNNING
        execution.started_at = self.clock.now()
        execution.owner = self.owner
        started = self.store.mark_started(execution)
        if started is not None:
            await started  # durable before the process exists: a slot never runs twice
        self.bus.publish(ExecutionStarted(execution))
        log.info(
            "started %s: job %s (%s, attempt %d)",
            execution.id,
            job.name,
            execution.trigger.value,
            execution.attempt,
        )
        if execution.id in self._cancel_on_start:
            execution.status = ExecutionStatus.CANCELLED
            execution.error = "cancelled by request"
            execution.completed_at = self.clock.now()
            result = RunResult(execution, retryable=False)
        elif prompt is None:
            execution.status = ExecutionStatus.FAILED
            execution.error = (
                f"prompt '{job.prompt_id}' no longer exists; point the job at another prompt"
            )
            execution.completed_at = self.clock.now()
            result = RunResult(execution, retryable=False)
        else:
            result = await self.executor.run(execution, job, prompt)
        await self._finish(result, job)
        return result.execution

    async def _finish(self, result: RunResult, job: Job) -> None:
        execution = result.execution
        now = self.clock.now()
        if result.usage_limit is not None:
            await self._enter_cooldown(execution, result, now)
            return
        retry = None
        if (
            execution.status in _RETRYABLE
            and result.retryable
            and retry_policy.has_attempts_left(job.retry_config, execution.attempt)
        ):
            delay = retry_policy.retry_delay(job.retry_config, execution.attempt)
            retry = Execution(
                job_id=job.id,
                trigger=ExecutionTrigger.RETRY,
                scheduled_for=execution.scheduled_for,
                attempt=execution.attempt + 1,
                priority=execution.priority,
                run_after=now + timedelta(seconds=delay),
                retry_of=execution.id,
                queued_at=now,
            )
        job_status = None
        if (
            retry is None
            and job.schedule.type is ScheduleType.ONCE
            and execution.trigger is not ExecutionTrigger.MANUAL
        ):
            job_status = JobStatus.COMPLETED
        done = self.store.finish_execution(
            execution,
            job_status=job_status,
            retry=retry,
            count_in_stats=execution.started_at is not None,
        )
        if done is not None:
            await done
        if job_status is not None:
            job.status = job_status
            self.bus.publish(JobChanged(job))
        log.info(
            "finished %s: job %s %s%s%s",
            execution.id,
            job.name,
            execution.status.value,
            f" ({execution.error})" if execution.error else "",
            f"; retry {retry.attempt}/{job.retry_config.max_attempts} at {retry.run_after:%H:%M:%S}"
            if retry and retry.run_after
            else "",
        )
        if retry is not None:
            self._enqueue(retry)
            self.bus.publish(ExecutionQueued(retry))
        self.bus.publish(ExecutionFinished(execution, retry))

    async def _enter_cooldown(self, execution: Execution, result: RunResult, now: datetime) -> None:
        limit = result.usage_limit
        assert limit is not None
        until = limit.reset_at
        if until is None or until <= now:
            until = now + timedelta(seconds=self.settings.cooldown.default_duration)
        if limit.suspicious:
            log.warning(
                "usage limit reset %s looks far off for a %s limit", until, limit.limit_type
            )
        if self._cooldown is None or self._cooldown.until < until:
            self._cooldown = Cooldown(
                until=until, reason=limit.message, detected_at=now, execution_id=execution.id
            )
            await self.store.set_cooldown(self._cooldown)
            self.bus.publish(CooldownStarted(self._cooldown))
        log.warning(
            "usage limit reached (%s); no new execution starts until %s UTC",
            limit.source,
            until.strftime("%Y-%m-%d %H:%M"),
        )
        execution.status = ExecutionStatus.QUEUED
        execution.started_at = None
        execution.owner = None
        execution.error = f"usage limit reached; waits for the reset at {until.isoformat()}"
        requeued = self.store.requeue(execution, execution.error)
        if requeued is not None:
            await requeued
        self._enqueue(execution)
        self.bus.publish(ExecutionRequeued(execution))

    def _job_name(self, job_id: str) -> str:
        job = self._jobs.get(job_id)
        return job.name if job else job_id
