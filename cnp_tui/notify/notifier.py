"""The notification service: bus events -> outbox rows -> background delivery.

Deciding is cheap and happens in an intake task fed by a bounded bus queue, so the scheduler
never waits on it. Delivery runs in a worker with at most ``max_concurrent_deliveries`` in
flight, each bounded by its channel's timeout: a channel that is down costs retries in the
outbox, never engine time. Over ``rate_limit_per_hour`` (a rolling hour, all channels) rows are
folded and, when the window reopens, carried by one summary per channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from cnp_tui.config import NotificationsConfig, Settings
from cnp_tui.core.bus import EventBus
from cnp_tui.core.clock import Clock
from cnp_tui.core.events import (
    Event,
    ExecutionFinished,
    ExecutionRequeued,
    ExecutionStarted,
    NotificationDelivered,
    SystemNotification,
)
from cnp_tui.core.models import (
    AnyChannel,
    EmailChannel,
    Execution,
    ExecutionStatus,
    Job,
    LogChannel,
    NotificationConfig,
    SystemChannel,
    WebhookChannel,
)
from cnp_tui.notify import channels as senders
from cnp_tui.notify.outbox import Notification, NotificationStatus, Outbox
from cnp_tui.notify.templates import VARIABLES, Templates
from cnp_tui.store.sqlite import SqliteStore

log = logging.getLogger("cnp.notify")

WINDOW = timedelta(hours=1)
EXCERPT_CHARS = 500
_FAILED = (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.INTERRUPTED)
_DECIDED = (ExecutionStarted, ExecutionFinished, ExecutionRequeued)  # the events that notify
INTAKE_BATCH = 500


def template_kind(channel: AnyChannel) -> str:
    """Which template variant a channel uses: its type, or a webhook's format."""
    if isinstance(channel, WebhookChannel):
        return "webhook" if channel.format == "json" else channel.format
    return channel.type


def _duration(ms: int | None) -> str:
    if ms is None:
        return "-"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(timespec="seconds")


def variables(
    job: Job | None,
    execution: Execution | None,
    *,
    event: str,
    cooldown_until: datetime | None = None,
) -> dict[str, str]:
    """The template variables of an event; every one of VARIABLES is present ('-' if unknown)."""
    values = dict.fromkeys(VARIABLES, "-")
    values["event"] = event
    if job is not None:
        values.update(job_name=job.name, job_id=job.id, next_run_time=_time(job.next_run_time))
    if execution is not None:
        output = (execution.output or "").strip()
        if len(output) > EXCERPT_CHARS:
            output = output[: EXCERPT_CHARS - 1] + "…"
        values.update(
            status=execution.status.value,
            trigger=execution.trigger.value,
            attempt=str(execution.attempt),
            duration=_duration(execution.execution_time_ms),
            started_at=_time(execution.started_at),
            error=execution.error or "-",
            output_excerpt=output or "-",
            cost_usd="-" if execution.cost_usd is None else f"${execution.cost_usd:.4f}",
            execution_id=execution.id,
        )
    if cooldown_until is not None:
        values["cooldown_until"] = _time(cooldown_until)
    return values


class Notifier:
    """Subscribes to the engine's bus, writes outbox rows and delivers them."""

    def __init__(
        self,
        store: SqliteStore,
        bus: EventBus,
        settings: Settings,
        clock: Clock,
        *,
        templates: Templates | None = None,
    ) -> None:
        self.store = store
        self.outbox = Outbox(store)
        self.bus = bus
        self.settings = settings
        self.clock = clock
        self.templates = templates
        self._events: asyncio.Queue[Event] = asyncio.Queue(maxsize=10_000)
        self._unsubscribe: Callable[[], None] | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._cooldowns: dict[str, datetime] = {}
        self.dropped = 0

    @property
    def config(self) -> NotificationsConfig:
        return self.settings.notifications

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the templates (ConfigError names a bad file), subscribe, start the worker."""
        if self.templates is None:
            self.templates = Templates.load(self.config.template_directory)
        self._unsubscribe = self.bus.subscribe(self._on_event)
        self._tasks = [
            asyncio.create_task(self._intake(), name="cnp-notify-intake"),
            asyncio.create_task(self._worker(), name="cnp-notify-worker"),
        ]

    async def stop(self, grace: float = 2.0) -> None:
        """Write rows for the events already received; give deliveries ``grace`` seconds.

        Deliveries still running after that are cancelled; their rows stay pending and the
        next engine sends them.
        """
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._events.join(), 10)
        if self._in_flight:
            await asyncio.wait(list(self._in_flight.values()), timeout=grace)
        for task in [*self._tasks, *self._in_flight.values()]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._in_flight.values(), return_exceptions=True)
        self._tasks = []

    async def backlog(self) -> int:
        """Undelivered rows (the API's ``cnp_notification_backlog`` metric hook)."""
        return await self.outbox.backlog()

    async def prune(self, older_than: datetime) -> int:
        """Delete sent, failed and folded rows created before ``older_than`` (retention)."""
        return await self.outbox.prune(older_than)

    def wake(self) -> None:
        """Look at the outbox now (new rows, a retry)."""
        self._wake.set()

    # --- deciding --------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, _DECIDED):
            try:
                self._events.put_nowait(event)
            except asyncio.QueueFull:  # never block the publisher (the scheduler)
                self.dropped += 1
                log.error("notification intake is full; an event was not considered")

    async def _intake(self) -> None:
        while True:
            # Everything waiting is decided together: a burst of a thousand starts costs two
            # queries, not two thousand, beside the scheduler's own writes.
            batch = [await self._events.get()]
            while len(batch) < INTAKE_BATCH and not self._events.empty():
                batch.append(self._events.get_nowait())
            try:
                await self.handle_many(batch)
            except Exception:
                log.exception("turning %d events into notifications failed", len(batch))
            finally:
                for _ in batch:
                    self._events.task_done()

    def _config_of(self, job: Job) -> tuple[NotificationConfig, list[AnyChannel]]:
        config = job.notification_config or NotificationConfig()
        return config, list(config.channels or self.config.default_channels)

    async def handle_many(self, events: Sequence[Event]) -> list[Notification]:
        """Decide for ``events`` in order (one read of their jobs and alert state), then write
        every row they cause in one transaction."""
        decided = [event for event in events if isinstance(event, _DECIDED)]
        if not decided:
            return []
        jobs = await self.store.get_jobs(event.execution.job_id for event in decided)
        failing = await self.outbox.failing_among(
            {e.execution.job_id for e in decided if isinstance(e, ExecutionFinished)}
        )
        rows: list[Notification] = []
        for event in decided:
            job = jobs.get(event.execution.job_id)
            if job is None:
                continue
            try:
                rows.extend(await self._decide(event, job, failing))
            except Exception:
                log.exception("turning %s into notifications failed", type(event).__name__)
        return await self.enqueue(rows)

    async def _decide(
        self,
        event: ExecutionStarted | ExecutionFinished | ExecutionRequeued,
        job: Job,
        failing: set[str],
    ) -> list[Notification]:
        execution = event.execution
        config, channels = self._config_of(job)
        kinds: list[str] = []
        cooldown_until = None
        if isinstance(event, ExecutionStarted):
            if config.on_start:
                kinds.append("start")
        elif isinstance(event, ExecutionRequeued):
            cooldown = await self.store.get_cooldown()
            cooldown_until = cooldown.until if cooldown else None
            # One alert per job per cooldown, however many of its runs were held back.
            if config.on_cooldown and self._cooldowns.get(job.id) != cooldown_until:
                self._cooldowns[job.id] = cooldown_until  # type: ignore[assignment]
                kinds.append("cooldown")
        else:
            kinds = await self._finished_kinds(job, config, event, failing)
        if not kinds or not channels:  # the failing state above is kept all the same
            return []
        return [
            self._render(kind, channel, job, execution, cooldown_until)
            for kind in kinds
            for channel in channels
        ]

    async def _finished_kinds(
        self, job: Job, config: NotificationConfig, event: ExecutionFinished, failing: set[str]
    ) -> list[str]:
        """What a finished run causes; ``failing`` (the jobs in a failing streak) is updated."""
        status = event.execution.status
        now = self.clock.now()
        if status is ExecutionStatus.COMPLETED:
            kinds = ["success"] if config.on_success else []
            if job.id in failing:
                failing.discard(job.id)
                await self.outbox.set_failing(job.id, False, now)
                if config.on_recovery:
                    kinds.append("recovery")
            return kinds
        if status not in _FAILED:
            return []  # cancelled by a user: they know
        if event.retry is not None:
            return ["retry"] if config.on_retry else []
        # Failed for good (no attempts left): by default alert only on the first of a streak.
        was_failing = job.id in failing
        if not was_failing:
            failing.add(job.id)
            await self.outbox.set_failing(job.id, True, now)
        if config.on_failure == "every" or (config.on_failure is True and not was_failing):
            return ["failure"]
        return []

    def _render(
        self,
        event: str,
        channel: AnyChannel,
        job: Job | None,
        execution: Execution | None,
        cooldown_until: datetime | None = None,
    ) -> Notification:
        assert self.templates is not None
        values = variables(job, execution, event=event, cooldown_until=cooldown_until)
        rendered = self.templates.render(event, template_kind(channel), values)
        now = self.clock.now()
        return Notification(
            execution_id=execution.id if execution else None,
            job_id=job.id if job else None,
            event=event,
            channel=channel,
            subject=rendered.subject,
            body=rendered.body,
            variables=values,
            next_attempt_at=now,
            created_at=now,
        )

    async def enqueue(self, notifications: Sequence[Notification]) -> list[Notification]:
        """Write rows (the outbox first), then wake the worker."""
        if not notifications:
            return []
        for item in notifications:
            if item.status is NotificationStatus.PENDING and item.next_attempt_at is None:
                item.next_attempt_at = self.clock.now()
        stored = await self.outbox.add(notifications)
        self.wake()
        return stored

    def test_notification(self, channel: AnyChannel) -> Notification:
        """A sample row for ``cnp notify test``."""
        return self._render("test", channel, None, None)

    # --- delivering ------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            self._wake.clear()
            wake_at: datetime | None = None
            try:
                wake_at = await self.deliver_due()
            except Exception:
                log.exception("the notification worker failed; trying again shortly")
            waiters = [
                asyncio.ensure_future(self._wake.wait()),
                asyncio.ensure_future(asyncio.sleep(self.config.poll_interval)),
            ]
            if wake_at is not None:
                waiters.append(asyncio.ensure_future(self.clock.sleep_until(wake_at)))
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def deliver_due(self) -> datetime | None:
        """Start deliveries of due rows; returns when something next becomes due."""
        now = self.clock.now()
        # Snapshot what is in flight before reading the database: a delivery that ends while
        # we read is then counted (at worst twice), never missed and never started again.
        busy = set(self._in_flight)
        limit = self.config.rate_limit_per_hour
        budget = None
        reopens_at = None
        if limit:
            sent = await self.outbox.sent_since(now - WINDOW)
            budget = limit - len(sent) - len(busy)
            if len(sent) >= limit:
                reopens_at = sent[len(sent) - limit] + WINDOW
            held = await self.outbox.held()
            if held:
                if budget > 0:
                    await self._summarise(held, now)
                elif reopens_at is not None:
                    reopens_at = max(reopens_at, now)
        free = self.config.max_concurrent_deliveries - len(self._in_flight)
        if free > 0:
            for item in await self.outbox.due(now, free + len(busy)):
                if item.id in busy or item.id in self._in_flight or free <= 0:
                    continue
                if budget is not None and budget <= 0:
                    if item.event != "summary":
                        await self._fold(item)
                    continue
                if budget is not None:
                    budget -= 1
                free -= 1
                assert item.id is not None
                self._in_flight[item.id] = asyncio.create_task(
                    self._deliver(item), name=f"cnp-notify-{item.id}"
                )
        candidates = [t for t in (await self.outbox.next_due_at(), reopens_at) if t is not None]
        return min(candidates) if candidates else None

    async def _fold(self, item: Notification) -> None:
        item.status = NotificationStatus.FOLDED
        item.next_attempt_at = None
        item.last_error = (
            f"held by [notifications] rate_limit_per_hour = {self.config.rate_limit_per_hour}; "
            "sent in a summary when the hour's window reopens"
        )
        await self.outbox.record(item)
        log.info("rate limit reached: notification %s (%s) folded", item.id, item.subject)

    async def _summarise(self, held: list[Notification], now: datetime) -> None:
        groups: dict[str, list[Notification]] = {}
        for item in held:
            groups.setdefault(item.channel.model_dump_json(), []).append(item)
        for items in groups.values():
            lines = [f"- {i.created_at:%Y-%m-%d %H:%M:%S} UTC  {i.subject}" for i in items]
            summary = Notification(
                event="summary",
                channel=items[0].channel,
                subject=f"cnp: {len(items)} notification(s) held back by the rate limit",
                body=(
                    f"More than {self.config.rate_limit_per_hour} notifications in an hour; "
                    "these were held back:\n" + "\n".join(lines)
                ),
                variables={"count": str(len(items))},
                next_attempt_at=now,
                created_at=now,
            )
            await self.outbox.add_summary(summary, [i.id for i in items if i.id is not None])

    async def _deliver(self, item: Notification) -> None:
        assert item.id is not None
        try:
            await self.send(item)
        except senders.DeliveryError as exc:
            self._failed(item, str(exc), exc.retryable, exc.retry_after)
        except Exception as exc:  # a bug in a channel must not stop the others
            log.exception("delivering notification %s failed", item.id)
            self._failed(item, f"{type(exc).__name__}: {exc}", True, None)
        else:
            item.status = NotificationStatus.SENT
            item.attempts += 1
            item.delivered_at = self.clock.now()
            item.next_attempt_at = None
            item.last_error = None
        try:
            await self.outbox.record(item)
        finally:
            self._in_flight.pop(item.id, None)
            self.wake()
        if item.status is NotificationStatus.FAILED:
            log.warning(
                "notification %s (%s) gave up after %d attempt(s): %s",
                item.id,
                item.channel.describe(),
                item.attempts,
                item.last_error,
            )
        self.bus.publish(
            NotificationDelivered(
                item.id,
                item.execution_id,
                item.channel.describe(),
                item.status.value,
                item.attempts,
                item.last_error,
            )
        )

    def _failed(
        self, item: Notification, error: str, retryable: bool, retry_after: float | None
    ) -> None:
        item.attempts += 1
        item.last_error = error
        if retryable and item.attempts < self.config.max_attempts:
            delay = self.config.retry_backoff * 2 ** (item.attempts - 1)
            if retry_after is not None:
                delay = retry_after
            delay = min(delay, self.config.max_backoff)
            item.next_attempt_at = self.clock.now() + timedelta(seconds=delay)
        else:
            item.status = NotificationStatus.FAILED
            item.next_attempt_at = None

    async def send(self, item: Notification) -> None:
        """One delivery attempt on the row's channel (raises DeliveryError)."""
        channel: Any = item.channel
        if isinstance(channel, WebhookChannel):
            await senders.send_webhook(channel, item, self.config)
        elif isinstance(channel, EmailChannel):
            await senders.send_email(channel, item, self.config)
        elif isinstance(channel, SystemChannel):
            self.bus.publish(SystemNotification(item.event, item.subject, item.body, item.job_id))
            await senders.send_system(channel, item)
        elif isinstance(channel, LogChannel):
            senders.send_log(channel, item)
        else:  # pragma: no cover - the channel union is closed
            raise senders.DeliveryError(f"unknown channel {channel!r}", retryable=False)
