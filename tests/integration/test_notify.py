"""Notifications end to end: a real local aiohttp server as the webhook, aiosmtpd as the mail
server, the engine with the simulator as ``claude``, time driven by a manual clock."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from cnp_tui.config import Settings
from cnp_tui.core.bus import EventBus
from cnp_tui.core.clock import ManualClock
from cnp_tui.core.events import (
    ExecutionFinished,
    ExecutionStarted,
    NotificationDelivered,
    SystemNotification,
)
from cnp_tui.core.models import Execution, ExecutionStatus, ExecutionTrigger, WebhookChannel
from cnp_tui.engine.runtime import Runtime
from cnp_tui.errors import ConfigError
from cnp_tui.notify.notifier import Notifier
from cnp_tui.notify.outbox import Notification, NotificationStatus
from cnp_tui.notify.templates import Templates
from cnp_tui.paths import Paths
from cnp_tui.service import JobService
from cnp_tui.store.sqlite import SqliteStore
from tests.conftest import Recorder, add_job, make_settings


@dataclass
class Hook:
    """A local webhook endpoint: records requests, answers from a script of responses."""

    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    hang: bool = False
    received: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def wait_requests(self, count: int, within: float = 10.0) -> None:
        async def enough() -> None:
            while len(self.requests) < count:
                self.received.clear()
                await self.received.wait()

        await asyncio.wait_for(enough(), within)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(
            {"headers": dict(request.headers), "raw": body, "json": json.loads(body)}
        )
        self.received.set()
        if self.hang:
            await asyncio.Event().wait()  # never answers
        status, headers = self.script.pop(0) if self.script else (200, {})
        return web.Response(status=status, headers=headers, text="ok" if status < 300 else "no")


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    state = Hook()
    app = web.Application()
    app.router.add_post("/hook", state.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{port}/hook"
    yield state
    await runner.cleanup()


class Mailbox:
    """aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Any:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def notifying(channel: dict[str, Any], **flags: Any) -> dict[str, Any]:
    return {
        "notification_config": {"channels": [channel], **flags},
        "retry_config": {"max_attempts": 1},
    }


@pytest.fixture
async def store(paths: Paths) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(paths.database) as opened:
        yield opened


def sample(url: str, created_at: Any = None, **channel: Any) -> Notification:
    return Notification(
        **({"created_at": created_at} if created_at else {}),
        event="failure",
        job_id="j1",
        channel=WebhookChannel(url=url, **channel),
        subject="✗ nightly failed",
        body="details",
        variables={"job_name": "nightly", "status": "failed"},
    )


async def delivered(recorder: Recorder, count: int = 1, status: str | None = None) -> list[Any]:
    return await recorder.wait_for(
        NotificationDelivered, lambda e: status is None or e.status == status, count=count
    )


# --- webhooks through the engine ----------------------------------------------------------


async def test_a_failing_job_posts_a_signed_json_webhook(
    paths: Paths, settings: Settings, clock: ManualClock, client: JobService, hook: Hook
) -> None:
    channel = {
        "type": "webhook",
        "url": hook.url,
        "secret": "s3cret",
        "headers": {"X-Team": "ops"},
    }
    job = await add_job(client, "nightly", "@sim fail", **notifying(channel))
    async with Runtime(paths, settings, clock=clock) as engine:
        events = Recorder(engine.bus)
        execution = await client.execute_job(job.id)
        (note,) = await delivered(events, status="sent")
    assert note.execution_id == execution.id
    (request,) = hook.requests
    headers, payload = request["headers"], request["json"]
    assert headers["X-Team"] == "ops"
    expected = hmac.new(
        b"s3cret", headers["X-Cnp-Timestamp"].encode() + b"." + request["raw"], hashlib.sha256
    ).hexdigest()
    assert headers["X-Cnp-Signature"] == f"sha256={expected}"
    assert payload["schema"] == "cnp.notification" and payload["version"] == 1
    assert set(payload) == {
        "schema",
        "version",
        "id",
        "event",
        "subject",
        "body",
        "created_at",
        "job",
        "execution",
        "next_run_time",
        "cooldown_until",
    }, "the documented schema (docs/notifications.md)"
    assert set(payload["execution"]) == {
        "id",
        "status",
        "trigger",
        "attempt",
        "duration",
        "started_at",
        "error",
        "output_excerpt",
        "cost_usd",
    }
    assert payload["event"] == "failure"
    assert payload["job"] == {"id": job.id, "name": "nightly"}
    assert payload["execution"]["id"] == execution.id
    assert payload["execution"]["status"] == "failed"
    assert payload["execution"]["attempt"] == "1"
    assert "nightly failed" in payload["subject"]
    rows = await client.execution_notifications(execution.id)
    assert [(r.status, r.attempts) for r in rows] == [(NotificationStatus.SENT, 1)]
    assert rows[0].delivered_at is not None


async def test_one_alert_when_failing_starts_and_one_on_recovery(
    paths: Paths, settings: Settings, clock: ManualClock, client: JobService, tmp_path: Path
) -> None:
    state = tmp_path / "runs"
    job = await add_job(
        client, "flaky", f"@sim fail-times=3 state={state}", **notifying({"type": "log"})
    )
    async with Runtime(paths, settings, clock=clock) as engine:
        events = Recorder(engine.bus)
        for run in range(1, 5):
            await client.execute_job(job.id)
            await events.wait_for(ExecutionFinished, count=run)
        await engine.notifier.stop()  # writes the rows of every event seen
        statuses = [e.execution.status for e in events.of(ExecutionFinished)]
    assert statuses == [ExecutionStatus.FAILED] * 3 + [ExecutionStatus.COMPLETED]
    rows = await client.list_notifications()
    assert sorted(r.event for r in rows) == ["failure", "recovery"]


async def test_events_decided_together_keep_their_order_per_job(
    client: JobService, clock: ManualClock
) -> None:
    """A burst read in one go (one query for the jobs, one for their streaks) alerts exactly as
    the same events one by one: fail, fail, recover, fail again; a deleted job's are ignored."""
    flaky = await add_job(client, "flaky", "@sim", **notifying({"type": "log"}, on_recovery=True))
    steady = await add_job(client, "steady", "@sim", **notifying({"type": "log"}, on_start=True))
    gone = await add_job(client, "gone", "@sim", **notifying({"type": "log"}, on_start=True))
    await client.delete_job(gone.id)

    def run(job_id: str, status: ExecutionStatus) -> Execution:
        return Execution(
            job_id=job_id,
            trigger=ExecutionTrigger.MANUAL,
            scheduled_for=clock.now(),
            status=status,
            started_at=clock.now(),
        )

    failed, completed = ExecutionStatus.FAILED, ExecutionStatus.COMPLETED
    notifier = Notifier(client.store, EventBus(), client.settings, clock)  # type: ignore[arg-type]
    notifier.templates = Templates.load(None)
    rows = await notifier.handle_many(
        [
            ExecutionStarted(run(steady.id, ExecutionStatus.RUNNING)),
            ExecutionFinished(run(flaky.id, failed)),
            ExecutionStarted(run(gone.id, ExecutionStatus.RUNNING)),
            ExecutionFinished(run(flaky.id, failed)),
            ExecutionFinished(run(flaky.id, completed)),
            ExecutionFinished(run(flaky.id, failed)),
        ]
    )
    assert [(r.job_id, r.event) for r in rows] == [
        (steady.id, "start"),
        (flaky.id, "failure"),
        (flaky.id, "recovery"),
        (flaky.id, "failure"),
    ]
    assert await notifier.outbox.failing_among([flaky.id]) == {flaky.id}, "the streak is stored"
    more = await notifier.handle_many([ExecutionFinished(run(flaky.id, failed))])
    assert more == [], "still failing: no second alert"


async def test_on_failure_every_alerts_each_time_and_retries_can_notify(
    paths: Paths, settings: Settings, clock: ManualClock, client: JobService
) -> None:
    config = notifying({"type": "log"}, on_failure="every", on_retry=True, on_start=True)
    config["retry_config"] = {"max_attempts": 2, "initial_interval": 60}
    job = await add_job(client, "always-fails", "@sim fail", **config)
    async with Runtime(paths, settings, clock=clock) as engine:
        events = Recorder(engine.bus)
        await client.execute_job(job.id)
        await events.wait_for(ExecutionFinished)
        await clock.advance(61)  # the retry
        await events.wait_for(ExecutionFinished, count=2)
        await client.execute_job(job.id)
        await events.wait_for(ExecutionFinished, count=3)
        await clock.advance(61)
        await events.wait_for(ExecutionFinished, count=4)
        await engine.notifier.stop()
    events_seen = sorted(r.event for r in await client.list_notifications())
    assert events_seen == ["failure", "failure", "retry", "retry"] + ["start"] * 4


async def test_a_webhook_that_never_answers_does_not_slow_the_scheduler(
    paths: Paths, clock: ManualClock, client: JobService, hook: Hook
) -> None:
    hook.hang = True
    settings = make_settings(notifications={"webhook_timeout": 60, "max_concurrent_deliveries": 2})
    channel = {"type": "webhook", "url": hook.url}
    job = await add_job(
        client, "chatty", "@sim", **notifying(channel, on_start=True, on_success=True)
    )
    job.execution_options.max_parallel = 5
    await client.update_job(job.id, {"execution_options": {"max_parallel": 5}})
    async with Runtime(paths, settings, clock=clock) as engine:
        events = Recorder(engine.bus)
        for _ in range(5):
            await client.execute_job(job.id)
        finished = await events.wait_for(ExecutionFinished, count=5, within=15)
        await hook.wait_requests(2)
        assert all(e.execution.status is ExecutionStatus.COMPLETED for e in finished)
        assert not events.of(NotificationDelivered), "the hung webhook delivered nothing"
        assert len(engine.notifier._in_flight) == 2, "at most max_concurrent_deliveries"
        assert len(hook.requests) == 2
    rows = await client.list_notifications(limit=None)
    assert len(rows) == 10
    assert {r.status for r in rows} == {NotificationStatus.PENDING}, "kept for the next engine"


async def test_a_restarted_engine_delivers_what_the_last_one_could_not(
    paths: Paths, settings: Settings, clock: ManualClock, client: JobService, hook: Hook
) -> None:
    hook.script = [(503, {"Retry-After": "120"})]
    job = await add_job(
        client, "broken", "@sim fail", **notifying({"type": "webhook", "url": hook.url})
    )
    async with Runtime(paths, settings, clock=clock) as engine:
        events = Recorder(engine.bus)
        await client.execute_job(job.id)
        (attempt,) = await delivered(events)
    assert attempt.status == "pending" and "HTTP 503" in (attempt.error or "")
    (row,) = await client.list_notifications()
    assert row.attempts == 1 and row.next_attempt_at == clock.now() + timedelta(seconds=120)
    await clock.advance(120)
    bus = EventBus()
    events = Recorder(bus)  # before start: the engine sends it straight away
    async with Runtime(paths, settings, clock=clock, bus=bus):
        await delivered(events, status="sent")
    (row,) = await client.list_notifications()
    assert (row.status, row.attempts, row.last_error) == (NotificationStatus.SENT, 2, None)
    assert len(hook.requests) == 2


async def test_a_bad_template_stops_the_engine_at_start(
    paths: Paths, clock: ManualClock, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "failure.subject").write_text("${job_name} broke on ${hostname}")
    settings = make_settings(notifications={"template_directory": str(templates)})
    with pytest.raises(ConfigError) as error:
        async with Runtime(paths, settings, clock=clock):
            pass
    assert "failure.subject" in str(error.value) and "${hostname}" in str(error.value)


# --- the worker on its own: retries, backoff, rate limit ---------------------------------


@pytest.fixture
async def notifier(
    store: SqliteStore, clock: ManualClock
) -> AsyncIterator[tuple[Notifier, Recorder]]:
    bus = EventBus()
    settings = make_settings(
        notifications={"rate_limit_per_hour": 3, "retry_backoff": 30, "max_attempts": 3}
    )
    service = Notifier(store, bus, settings, clock)
    await service.start()
    yield service, Recorder(bus)
    await service.stop()


async def test_a_server_that_fails_then_recovers_gets_the_alert(
    notifier: tuple[Notifier, Recorder], hook: Hook, clock: ManualClock
) -> None:
    service, events = notifier
    hook.script = [(500, {}), (429, {"Retry-After": "5"})]
    (row,) = await service.enqueue([sample(hook.url)])
    first = await delivered(events)
    assert first[0].status == "pending" and "HTTP 500" in (first[0].error or "")
    await clock.advance(29)
    assert len(hook.requests) == 1, "waits out the 30s backoff"
    await clock.advance(1)
    await delivered(events, count=2)
    assert "HTTP 429" in (events.of(NotificationDelivered)[1].error or "")
    await clock.advance(5)  # Retry-After, not the 60s backoff
    await delivered(events, status="sent")
    stored = await service.outbox.get(row.id or 0)
    assert (stored.status, stored.attempts) == (NotificationStatus.SENT, 3)
    assert stored.delivered_at == clock.now()


async def test_other_client_errors_are_not_retried(
    notifier: tuple[Notifier, Recorder], hook: Hook, clock: ManualClock
) -> None:
    service, events = notifier
    hook.script = [(404, {})]
    (row,) = await service.enqueue([sample(hook.url)])
    (event,) = await delivered(events)
    assert event.status == "failed" and "HTTP 404" in (event.error or "")
    await clock.advance(3600)
    assert len(hook.requests) == 1
    stored = await service.outbox.get(row.id or 0)
    assert stored.next_attempt_at is None and stored.attempts == 1


async def test_an_unreachable_webhook_is_retried_then_given_up(
    notifier: tuple[Notifier, Recorder], clock: ManualClock
) -> None:
    service, events = notifier
    url = f"http://127.0.0.1:{free_port()}/nobody"
    await service.enqueue([sample(url)])
    await delivered(events)
    await clock.advance(30)
    await delivered(events, count=2)
    await clock.advance(60)  # backoff doubles
    (last,) = await delivered(events, status="failed")
    assert last.attempts == 3 and "cannot reach" in (last.error or "")


async def test_over_the_rate_limit_alerts_fold_into_one_summary(
    notifier: tuple[Notifier, Recorder], hook: Hook, clock: ManualClock
) -> None:
    service, events = notifier
    rows = [sample(hook.url) for _ in range(5)]
    for index, row in enumerate(rows):
        row.subject = f"alert {index}"
    await service.enqueue(rows)
    await delivered(events, count=3)
    await asyncio.sleep(0.2)
    assert [r["json"]["subject"] for r in hook.requests] == ["alert 0", "alert 1", "alert 2"]
    stored = await service.outbox.query(limit=None)
    assert sorted(r.status for r in stored).count(NotificationStatus.FOLDED) == 2
    assert await service.backlog() == 2, "held rows are still owed"
    await clock.advance(3599)
    assert len(hook.requests) == 3, "the window has not reopened"
    await clock.advance(1)
    await delivered(events, count=4)
    summary = hook.requests[3]["json"]
    assert summary["event"] == "summary"
    assert "2 notification(s) held back" in summary["subject"]
    assert "alert 3" in summary["body"] and "alert 4" in summary["body"]
    folded = [
        r for r in await service.outbox.query(limit=None) if r.status is NotificationStatus.FOLDED
    ]
    assert {r.folded_into for r in folded} == {summary["id"]}
    assert await service.backlog() == 0


async def test_slack_and_discord_payloads_follow_their_formats(
    client: JobService, hook: Hook
) -> None:
    slack = await client.test_notification(f"slack={hook.url}")
    discord = await client.test_notification(f"discord={hook.url}")
    assert slack.status is NotificationStatus.SENT and discord.status is NotificationStatus.SENT
    slack_body, discord_body = (r["json"] for r in hook.requests)
    assert slack_body["text"] == "cnp test notification"
    assert slack_body["blocks"][0]["type"] == "header"
    assert slack_body["blocks"][1]["text"]["type"] == "mrkdwn"
    assert discord_body["content"] == "cnp test notification"
    assert discord_body["embeds"][0]["title"] == "cnp test notification"
    assert "channel works" in discord_body["embeds"][0]["description"]


async def test_system_channel_raises_a_toast_event(
    notifier: tuple[Notifier, Recorder],
) -> None:
    service, events = notifier
    from cnp_tui.core.models import SystemChannel

    item = service.test_notification(SystemChannel())
    await service.enqueue([item])
    (toast,) = await events.wait_for(SystemNotification)
    assert toast.subject == "cnp test notification"
    await delivered(events, status="sent")


# --- email --------------------------------------------------------------------------------


async def test_email_reaches_the_smtp_server(paths: Paths, clock: ManualClock, smtp: Any) -> None:
    controller, mailbox = smtp
    settings = make_settings(
        notifications={
            "smtp": {"host": "127.0.0.1", "port": controller.port, "from_address": "cnp@test"}
        }
    )
    async with SqliteStore(paths.database) as store:
        service = JobService(store, settings, clock=clock)
        job = await add_job(
            service,
            "mailer",
            "@sim fail",
            **notifying({"type": "email", "recipients": ["a@example.com", "b@example.com"]}),
        )
        async with Runtime(paths, settings, clock=clock) as engine:
            events = Recorder(engine.bus)
            await service.execute_job(job.id)
            await delivered(events, status="sent")
    (message,) = mailbox.messages
    assert message.mail_from == "cnp@test"
    assert message.rcpt_tos == ["a@example.com", "b@example.com"]
    text = message.content.decode()
    assert "Subject: =?utf-8?" in text or "mailer failed" in text
    assert "Job: mailer" in text and "Status: failed" in text


async def test_a_missing_smtp_password_variable_is_named(
    client: JobService, smtp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller, _ = smtp
    monkeypatch.delenv("CNP_TEST_SMTP_PASSWORD", raising=False)
    client.settings = make_settings(
        notifications={
            "smtp": {
                "host": "127.0.0.1",
                "port": controller.port,
                "username": "cnp",
                "password_env": "CNP_TEST_SMTP_PASSWORD",
            }
        }
    )
    item = await client.test_notification("email=ops@example.com")
    assert item.status is NotificationStatus.FAILED
    assert "CNP_TEST_SMTP_PASSWORD" in (item.last_error or "")


async def test_a_usage_limit_notifies_with_the_reset_time(
    paths: Paths, settings: Settings, clock: ManualClock, client: JobService
) -> None:
    from cnp_tui.core.events import ExecutionRequeued

    job = await add_job(
        client,
        "limited",
        "@sim limit form=bar reset=+600",
        **notifying({"type": "log"}, on_cooldown=True, on_failure=False),
    )
    async with Runtime(paths, settings, clock=clock) as engine:
        events = Recorder(engine.bus)
        await client.execute_job(job.id)
        await events.wait_for(ExecutionRequeued)
        await engine.notifier.stop()
        cooldown = engine.scheduler.cooldown
    assert cooldown is not None
    (row,) = await client.list_notifications()
    assert row.event == "cooldown"
    assert cooldown.until.isoformat(timespec="seconds") in row.subject


async def test_a_retry_asked_by_another_process_is_delivered_by_the_engine(
    paths: Paths, clock: ManualClock, client: JobService, hook: Hook
) -> None:
    hook.script = [(410, {})]
    settings = make_settings(notifications={"poll_interval": 0.05})
    job = await add_job(
        client, "gone", "@sim fail", **notifying({"type": "webhook", "url": hook.url})
    )
    bus = EventBus()
    events = Recorder(bus)
    async with Runtime(paths, settings, clock=clock, bus=bus):
        await client.execute_job(job.id)
        (gave_up,) = await delivered(events, status="failed")
        await client.retry_notification(gave_up.notification_id)  # like `cnp notify retry`
        (sent,) = await delivered(events, status="sent")
    assert sent.notification_id == gave_up.notification_id and sent.attempts == 2


async def test_retention_prunes_finished_rows_but_keeps_what_is_owed(
    store: SqliteStore, clock: ManualClock
) -> None:
    from cnp_tui.notify.outbox import Outbox

    outbox = Outbox(store)
    S = NotificationStatus

    def row(status: NotificationStatus, subject: str, folded_into: int | None = None) -> Any:
        item = sample("http://127.0.0.1:9/x", created_at=clock.now())
        item.status, item.subject, item.folded_into = status, subject, folded_into
        return item

    sent_summary, pending_summary = await outbox.add(
        [row(S.SENT, "summary out"), row(S.PENDING, "summary owed")]
    )
    await outbox.add(
        [
            row(S.SENT, "sent"),
            row(S.FAILED, "failed"),
            row(S.PENDING, "pending"),
            row(S.FOLDED, "held, no summary yet"),
            row(S.FOLDED, "carried by a sent summary", sent_summary.id),
            row(S.FOLDED, "carried by a pending summary", pending_summary.id),
        ]
    )
    assert await outbox.prune(clock.now()) == 0, "nothing is older than now"
    assert await outbox.prune(clock.now() + timedelta(days=1)) == 4
    left = sorted(r.subject for r in await outbox.query(limit=None))
    assert left == [
        "carried by a pending summary",
        "held, no summary yet",
        "pending",
        "summary owed",
    ]


async def test_smtp_login_takes_the_password_from_the_named_variable(
    client: JobService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.smtp import AuthResult

    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        logins.append((auth.login, auth.password))
        return AuthResult(success=auth.password == b"hunter2")

    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        monkeypatch.setenv("CNP_TEST_SMTP_PASSWORD", "hunter2")
        smtp_settings = {
            "host": "127.0.0.1",
            "port": controller.port,
            "username": "cnp",
            "password_env": "CNP_TEST_SMTP_PASSWORD",
        }
        client.settings = make_settings(notifications={"smtp": smtp_settings})
        item = await client.test_notification("email=ops@example.com")
        assert item.status is NotificationStatus.SENT, item.last_error
    finally:
        controller.stop()
    assert logins == [(b"cnp", b"hunter2")]
    assert len(mailbox.messages) == 1


async def test_a_webhook_secret_can_come_from_the_environment(
    client: JobService, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cnp_tui.notify.channels import signature

    monkeypatch.setenv("CNP_TEST_HOOK_SECRET", "from-env")
    row = sample(hook.url, secret_env="CNP_TEST_HOOK_SECRET")
    notifier = Notifier(client.store, EventBus(), client.settings, client.clock)  # type: ignore[arg-type]
    await notifier.send(row)
    (request,) = hook.requests
    headers = request["headers"]
    assert headers["X-Cnp-Signature"] == signature(
        "from-env", headers["X-Cnp-Timestamp"], request["raw"]
    )
    monkeypatch.delenv("CNP_TEST_HOOK_SECRET")
    from cnp_tui.notify.channels import DeliveryError

    with pytest.raises(DeliveryError, match="CNP_TEST_HOOK_SECRET") as error:
        await notifier.send(row)
    assert error.value.retryable is False


async def test_a_schema_1_database_gains_the_outbox(paths: Paths) -> None:
    import sqlite3

    from cnp_tui.store.sqlite import APPLICATION_ID, MIGRATIONS

    with sqlite3.connect(paths.database) as conn:  # a database written by the engine release
        conn.executescript(MIGRATIONS[1])
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 1")
    async with SqliteStore(paths.database) as opened:
        assert await opened._scalar("PRAGMA user_version") == 2
        service = JobService(opened, make_settings())
        assert await service.list_notifications() == []
