"""The outbox: notification rows in the cnp database (schema migration 2).

A notification is written here before any delivery is tried, so an alert survives a webhook
that is down and an engine that restarts. It uses the connection (and the transaction lock) of
the ``SqliteStore`` it is given, in the engine and in CLI clients alike.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from cnp_tui.core.models import AnyChannel
from cnp_tui.errors import ConflictError, NotFoundError
from cnp_tui.store.sqlite import SqliteStore, ts

_CHANNEL: TypeAdapter[Any] = TypeAdapter(AnyChannel)


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    FOLDED = "folded"


class Notification(BaseModel):
    """One alert for one channel, and how its delivery went."""

    id: int | None = None
    execution_id: str | None = None
    job_id: str | None = None
    event: str
    channel: AnyChannel
    subject: str
    body: str
    variables: dict[str, str] = Field(
        default_factory=dict, description="Template variables (the json webhook payload)."
    )
    status: NotificationStatus = NotificationStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    delivered_at: datetime | None = None
    folded_into: int | None = Field(default=None, description="Summary that carried it.")

    def public(self) -> dict[str, Any]:
        """As shown by the CLI and the API: secrets left out."""
        data = self.model_dump(mode="json")
        channel = data["channel"]
        if channel.get("secret"):
            channel["secret"] = "***"
        for key in list(channel.get("headers") or {}):
            if key.lower() in ("authorization", "x-api-key"):
                channel["headers"][key] = "***"
        return data


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _row(row: sqlite3.Row) -> Notification:
    return Notification(
        id=row["id"],
        execution_id=row["execution_id"],
        job_id=row["job_id"],
        event=row["event"],
        channel=_CHANNEL.validate_python(json.loads(row["channel"])),
        subject=row["subject"],
        body=row["body"],
        variables=json.loads(row["payload"] or "{}"),
        status=NotificationStatus(row["status"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        next_attempt_at=_dt(row["next_attempt_at"]),
        created_at=_dt(row["created_at"]),
        delivered_at=_dt(row["delivered_at"]),
        folded_into=row["folded_into"],
    )


class Outbox:
    """Notification rows: add, pick the due ones, record each attempt."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return await self.store._rows(sql, params)

    async def add(self, notifications: Sequence[Notification]) -> list[Notification]:
        """Store new rows in one transaction; their ids are filled in."""
        async with self.store.transaction() as conn:
            for item in notifications:
                item.id = await self._insert(conn, item)
        return list(notifications)

    @staticmethod
    async def _insert(conn: Any, item: Notification) -> int:
        cursor = await conn.execute(
            "INSERT INTO notifications (execution_id, job_id, event, channel, subject, body,"
            " payload, status, attempts, last_error, next_attempt_at, created_at, delivered_at,"
            " folded_into) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.execution_id,
                item.job_id,
                item.event,
                item.channel.model_dump_json(),
                item.subject,
                item.body,
                json.dumps(item.variables, ensure_ascii=False),
                item.status.value,
                item.attempts,
                item.last_error,
                ts(item.next_attempt_at),
                ts(item.created_at),
                ts(item.delivered_at),
                item.folded_into,
            ),
        )
        return int(cursor.lastrowid or 0)

    async def get(self, notification_id: int) -> Notification:
        rows = await self._rows("SELECT * FROM notifications WHERE id = ?", (notification_id,))
        if not rows:
            raise NotFoundError(
                f"no notification with id {notification_id}",
                hint="see notifications with `cnp notify list`",
            )
        return _row(rows[0])

    async def query(
        self,
        *,
        execution_id: str | None = None,
        status: Sequence[NotificationStatus] | None = None,
        limit: int | None = 50,
    ) -> list[Notification]:
        """Newest first."""
        where, params = [], []
        if execution_id is not None:
            where.append("execution_id = ?")
            params.append(execution_id)
        if status:
            where.append(f"status IN ({', '.join('?' for _ in status)})")
            params.extend(s.value for s in status)
        sql = "SELECT * FROM notifications"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_row(row) for row in await self._rows(sql, params)]

    async def due(self, now: datetime, limit: int) -> list[Notification]:
        """Pending rows whose time has come, oldest first."""
        rows = await self._rows(
            "SELECT * FROM notifications WHERE status = 'pending' AND next_attempt_at <= ?"
            " ORDER BY next_attempt_at, id LIMIT ?",
            (ts(now), limit),
        )
        return [_row(row) for row in rows]

    async def backlog(self) -> int:
        """Rows not delivered yet: pending, or held by the rate limit for a summary."""
        rows = await self._rows(
            "SELECT count(*) FROM notifications WHERE status = 'pending'"
            " OR (status = 'folded' AND folded_into IS NULL)"
        )
        return int(rows[0][0])

    async def next_due_at(self) -> datetime | None:
        rows = await self._rows(
            "SELECT min(next_attempt_at) FROM notifications WHERE status = 'pending'"
        )
        return _dt(rows[0][0]) if rows else None

    async def record(self, item: Notification) -> None:
        """Save the outcome of an attempt (status, attempts, error, times)."""
        async with self.store.transaction() as conn:
            await conn.execute(
                "UPDATE notifications SET status = ?, attempts = ?, last_error = ?,"
                " next_attempt_at = ?, delivered_at = ?, folded_into = ? WHERE id = ?",
                (
                    item.status.value,
                    item.attempts,
                    item.last_error,
                    ts(item.next_attempt_at),
                    ts(item.delivered_at),
                    item.folded_into,
                    item.id,
                ),
            )

    async def sent_since(self, since: datetime) -> list[datetime]:
        """Delivery times of rows sent after ``since``, oldest first (the rolling rate window)."""
        rows = await self._rows(
            "SELECT delivered_at FROM notifications WHERE status = 'sent' AND delivered_at > ?"
            " ORDER BY delivered_at",
            (ts(since),),
        )
        return [datetime.fromisoformat(row[0]) for row in rows]

    async def held(self) -> list[Notification]:
        """Rows folded by the rate limit that no summary has carried yet."""
        rows = await self._rows(
            "SELECT * FROM notifications WHERE status = 'folded' AND folded_into IS NULL"
            " ORDER BY id"
        )
        return [_row(row) for row in rows]

    async def add_summary(self, summary: Notification, folded: Sequence[int]) -> Notification:
        """Store a summary and point the rows it carries at it, in one transaction."""
        async with self.store.transaction() as conn:
            summary.id = await self._insert(conn, summary)
            await conn.executemany(
                "UPDATE notifications SET folded_into = ? WHERE id = ?",
                [(summary.id, row_id) for row_id in folded],
            )
        return summary

    async def retry(self, notification_id: int, now: datetime) -> Notification:
        """Make a failed (or pending) row due now; a sent one is refused."""
        item = await self.get(notification_id)
        if item.status is NotificationStatus.SENT:
            raise ConflictError(f"notification {notification_id} was already sent")
        if item.status is NotificationStatus.FOLDED:
            raise ConflictError(
                f"notification {notification_id} was folded into a rate-limit summary"
                + (f" (#{item.folded_into})" if item.folded_into else "")
            )
        item.status = NotificationStatus.PENDING
        item.next_attempt_at = now
        await self.record(item)
        return item

    async def prune(self, older_than: datetime) -> int:
        """Delete finished rows (sent, failed, folded) created before ``older_than``."""
        async with self.store.transaction() as conn:
            cursor = await conn.execute(
                # Folded rows go only once the summary that carries them has gone out.
                "DELETE FROM notifications WHERE created_at < ? AND (status IN ('sent', 'failed')"
                " OR (status = 'folded' AND folded_into IS NOT NULL AND folded_into NOT IN"
                " (SELECT id FROM notifications WHERE status = 'pending')))",
                (ts(older_than),),
            )
            return int(cursor.rowcount)

    # --- per-job alert state (failure / recovery folding) ------------------------------------

    async def failing_among(self, job_ids: Collection[str]) -> set[str]:
        """Which of ``job_ids`` are in a failing streak (one query)."""
        if not job_ids:
            return set()
        ids = list(job_ids)
        rows = await self._rows(
            f"SELECT job_id FROM notify_state WHERE failing = 1 AND job_id IN"
            f" ({', '.join('?' * len(ids))})",
            ids,
        )
        return {row[0] for row in rows}

    async def set_failing(self, job_id: str, failing: bool, now: datetime) -> None:
        async with self.store.transaction() as conn:
            await conn.execute(
                "INSERT INTO notify_state (job_id, failing, changed_at) VALUES (?, ?, ?)"
                " ON CONFLICT (job_id) DO UPDATE SET failing = excluded.failing,"
                " changed_at = excluded.changed_at",
                (job_id, int(failing), ts(now)),
            )
