"""Delivery of one notification on its channel: webhook, email, system, log.

Each ``send_*`` either returns (delivered) or raises ``DeliveryError`` saying whether trying
again can help and, for HTTP 429/503, after how long the server asked us to wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

from cnp_tui.config import NotificationsConfig
from cnp_tui.core.models import EmailChannel, LogChannel, SystemChannel, WebhookChannel
from cnp_tui.notify.outbox import Notification

log = logging.getLogger("cnp.notify")

SIGNATURE_HEADER = "X-Cnp-Signature"
TIMESTAMP_HEADER = "X-Cnp-Timestamp"
JSON_SCHEMA_VERSION = 1


class DeliveryError(Exception):
    """A delivery attempt that failed; ``retryable`` says whether to try again."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


# --- payloads --------------------------------------------------------------------------------


def json_payload(item: Notification) -> dict[str, Any]:
    """The stable json schema (docs/notifications.md): version 1."""
    variables = item.variables
    return {
        "schema": "cnp.notification",
        "version": JSON_SCHEMA_VERSION,
        "id": item.id,
        "event": item.event,
        "subject": item.subject,
        "body": item.body,
        "created_at": item.created_at.isoformat(),
        "job": {"id": item.job_id, "name": variables.get("job_name")},
        "execution": {
            "id": item.execution_id,
            "status": variables.get("status"),
            "trigger": variables.get("trigger"),
            "attempt": variables.get("attempt"),
            "duration": variables.get("duration"),
            "started_at": variables.get("started_at"),
            "error": variables.get("error"),
            "output_excerpt": variables.get("output_excerpt"),
            "cost_usd": variables.get("cost_usd"),
        },
        "next_run_time": variables.get("next_run_time"),
        "cooldown_until": variables.get("cooldown_until"),
    }


_COLORS = {"failure": "#d0312d", "retry": "#e8a317", "cooldown": "#e8a317", "recovery": "#2eb67d"}


def slack_payload(item: Notification) -> dict[str, Any]:
    """A Slack incoming-webhook message: fallback text plus blocks."""
    return {
        "text": item.subject,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": item.subject[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": item.body[:3000]}},
        ],
    }


def discord_payload(item: Notification) -> dict[str, Any]:
    """A Discord webhook message with one embed."""
    color = int(_COLORS.get(item.event, "#5865f2").lstrip("#"), 16)
    return {
        "content": item.subject[:2000],
        "embeds": [
            {
                "title": item.subject[:256],
                "description": item.body[:4096],
                "color": color,
                "timestamp": item.created_at.isoformat(),
            }
        ],
        "allowed_mentions": {"parse": []},
    }


PAYLOADS: dict[str, Callable[[Notification], dict[str, Any]]] = {
    "json": json_payload,
    "slack": slack_payload,
    "discord": discord_payload,
}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>." + body)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    return None


# --- senders ---------------------------------------------------------------------------------


async def send_webhook(
    channel: WebhookChannel, item: Notification, config: NotificationsConfig
) -> None:
    import aiohttp  # the client only; lazily, so CLI commands that never post stay fast

    body = json.dumps(PAYLOADS[channel.format](item), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "cnp-notify/1"}
    headers.update(channel.headers)
    secret = channel.secret
    if channel.secret_env:
        secret = os.environ.get(channel.secret_env)
        if not secret:
            raise DeliveryError(
                f"environment variable {channel.secret_env} (the webhook secret) is not set",
                retryable=False,
            )
    if secret:
        stamp = str(int(time.time()))
        headers[TIMESTAMP_HEADER] = stamp
        headers[SIGNATURE_HEADER] = signature(secret, stamp, body)
    timeout = aiohttp.ClientTimeout(total=config.webhook_timeout)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(channel.url, data=body, headers=headers) as response,
        ):
            text = (await response.text())[:200]
            if response.status < 300:
                return
            message = f"HTTP {response.status} from {channel.url}: {text.strip()}"
            if response.status == 429 or response.status >= 500:
                raise DeliveryError(
                    message,
                    retryable=True,
                    retry_after=_retry_after(response.headers.get("Retry-After")),
                )
            raise DeliveryError(message, retryable=False)
    except TimeoutError:
        raise DeliveryError(
            f"no answer from {channel.url} within {config.webhook_timeout:g}s", retryable=True
        ) from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(
            f"cannot reach {channel.url}: {exc or type(exc).__name__}", retryable=True
        ) from None


async def send_email(
    channel: EmailChannel, item: Notification, config: NotificationsConfig
) -> None:
    import aiosmtplib

    smtp = config.smtp
    password = None
    if smtp.password_env:
        password = os.environ.get(smtp.password_env)
        if password is None:
            raise DeliveryError(
                f"environment variable {smtp.password_env} ([notifications.smtp] password_env) "
                "is not set",
                retryable=False,
            )
    message = EmailMessage()
    message["From"] = smtp.from_address
    message["To"] = ", ".join(channel.recipients)
    message["Subject"] = item.subject
    message.set_content(item.body)
    try:
        await aiosmtplib.send(
            message,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=password,
            use_tls=smtp.security == "tls",
            start_tls=smtp.security == "starttls",
            timeout=smtp.timeout,
        )
    except aiosmtplib.SMTPResponseException as exc:
        # 4xx is a temporary refusal (try again); 5xx is permanent.
        raise DeliveryError(
            f"SMTP {smtp.host}:{smtp.port} answered {exc.code} {exc.message}",
            retryable=400 <= exc.code < 500,
        ) from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise DeliveryError(
            f"cannot send mail through {smtp.host}:{smtp.port}: {exc}", retryable=True
        ) from None


async def send_system(channel: SystemChannel, item: Notification) -> None:
    """``notify-send`` when there is one; else a bell and OSC 9 on a terminal."""
    notify_send = shutil.which("notify-send")
    if notify_send:
        process = await asyncio.create_subprocess_exec(
            notify_send,
            "--app-name=cnp",
            item.subject,
            item.body[:500],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), 10)
        except TimeoutError:
            process.kill()
            raise DeliveryError("notify-send did not finish in 10s", retryable=True) from None
        if process.returncode == 0:
            return
        log.debug("notify-send failed: %s", stderr.decode(errors="replace").strip())
    stream = sys.stderr
    if stream.isatty():
        # OSC 9 shows a desktop notification in iTerm2, kitty, WezTerm, Windows Terminal...
        stream.write(f"\a\x1b]9;{item.subject}\x07")
        stream.flush()


def send_log(channel: LogChannel, item: Notification) -> None:
    level = getattr(logging, channel.level.upper())
    log.log(level, "%s — %s", item.subject, item.body.replace("\n", " | "))


def parse_channel_spec(spec: str) -> Any:
    """A channel from the CLI form: ``webhook=URL``, ``slack=URL``, ``discord=URL``,
    ``email=ADDR[,ADDR]``, ``system`` or ``log``; raises InvalidInputError."""
    from pydantic import TypeAdapter, ValidationError

    from cnp_tui.core.models import AnyChannel
    from cnp_tui.errors import InvalidInputError

    kind, sep, value = spec.partition("=")
    kind = kind.strip().lower()
    data: dict[str, Any]
    if kind in ("webhook", "slack", "discord") and sep and value:
        data = {
            "type": "webhook",
            "url": value.strip(),
            "format": "json" if kind == "webhook" else kind,
        }
    elif kind == "email" and sep and value:
        data = {"type": "email", "recipients": [a.strip() for a in value.split(",") if a.strip()]}
    elif kind in ("system", "log") and not sep:
        data = {"type": kind}
    else:
        raise InvalidInputError(
            f"notification channel {spec!r} is not understood",
            hint="use webhook=URL, slack=URL, discord=URL, email=ADDR, system or log",
        )
    try:
        return TypeAdapter(AnyChannel).validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise InvalidInputError(f"notification channel {spec!r}: {problems}") from None


NOTIFY_EVENTS = ("start", "success", "failure", "every-failure", "retry", "cooldown", "recovery")


def notification_changes(notify_on: str | None, channel_specs: list[str]) -> dict[str, Any]:
    """``--notify-on a,b`` and channel specs as notification_config fields (events given are on,
    the others off); shared by the CLI and the dashboard's job form. Raises InvalidInputError."""
    from cnp_tui.errors import InvalidInputError

    changes: dict[str, Any] = {}
    if notify_on:
        names = [n.strip().lower() for n in notify_on.split(",") if n.strip()]
        unknown = [n for n in names if n not in (*NOTIFY_EVENTS, "none")]
        if unknown:
            raise InvalidInputError(
                f"--notify-on: unknown event '{unknown[0]}'",
                hint=f"use any of {', '.join(NOTIFY_EVENTS)}, or none",
            )
        for name in ("start", "success", "retry", "cooldown", "recovery"):
            changes[f"on_{name}"] = name in names
        changes["on_failure"] = "every" if "every-failure" in names else "failure" in names
    if channel_specs:
        changes["channels"] = [
            parse_channel_spec(spec).model_dump(exclude_none=True) for spec in channel_specs
        ]
    return changes


def notify_on_text(config: Any) -> str:
    """The ``--notify-on`` form of a NotificationConfig (``failure,recovery``)."""
    names = [
        name
        for name in ("start", "success", "retry", "cooldown", "recovery")
        if getattr(config, f"on_{name}")
    ]
    if config.on_failure == "every":
        names.insert(0, "every-failure")
    elif config.on_failure:
        names.insert(0, "failure")
    return ",".join(names) or "none"


def channel_spec(channel: Any) -> str:
    """The spec form of a channel, as ``parse_channel_spec`` reads it."""
    if channel.type == "webhook":
        kind = "webhook" if channel.format == "json" else channel.format
        return f"{kind}={channel.url}"
    if channel.type == "email":
        return "email=" + ",".join(channel.recipients)
    return str(channel.type)
