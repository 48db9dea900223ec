"""``/api/ws``: live status updates and execution log streams over one WebSocket.

Client messages (JSON):
  ``{"type": "subscribe", "jobs": ["ID", ...]}``   status updates of these jobs (omit: all)
  ``{"type": "unsubscribe"}``                      no more status updates
  ``{"type": "subscribe_logs", "executionId": "ID", "afterSeq": 0}``   stored tail, then live
  ``{"type": "unsubscribe_logs", "executionId": "ID"}``
Server messages: ``TaskStatusUpdate {jobId, executionId?, status, progress?, message?,
timestamp}``, ``ExecutionLogStream {executionId, logLevel, stream, message, timestamp, seq}``,
``subscribed`` acknowledgements and ``error``.

Resume: the connection is subscribed to the bus before the stored tail is read; live lines
that arrive meanwhile are held back, and every line is sent once, in seq order (lines with a
seq already sent are dropped) -- the same rule ``follow.py`` applies for the CLI. A client that
reconnects with ``afterSeq`` = the last seq it saw misses nothing.

A client that falls ``[api] ws_send_queue`` messages behind is closed with code 1013 (try
again later) so that it cannot slow the engine; it reconnects and resumes by seq.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from cnp_tui.api.app import STATE, ApiState
from cnp_tui.core.events import (
    Event,
    ExecutionFinished,
    ExecutionQueued,
    ExecutionRequeued,
    ExecutionStarted,
    JobChanged,
    JobDeleted,
    LogLinesAppended,
)
from cnp_tui.core.models import Execution, LogLine

log = logging.getLogger("cnp.api")

CLOSE_TOO_SLOW = int(WSCloseCode.TRY_AGAIN_LATER)  # 1013
CATCH_UP_PAGE = 1000
LOG_LEVELS = {"stderr": "error", "engine": "warning", "system": "debug"}


def log_message(line: LogLine) -> dict[str, Any]:
    """An ExecutionLogStream message."""
    return {
        "type": "ExecutionLogStream",
        "executionId": line.execution_id,
        "seq": line.seq,
        "logLevel": LOG_LEVELS.get(line.stream, "info"),
        "stream": line.stream,
        "message": line.text,
        "timestamp": line.ts.isoformat(),
    }


def _status_message(
    job_id: str,
    status: str,
    timestamp: str,
    *,
    execution: Execution | None = None,
    message: str | None = None,
    progress: float | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "TaskStatusUpdate",
        "jobId": job_id,
        "status": status,
        "timestamp": timestamp,
    }
    if execution is not None:
        body["executionId"] = execution.id
    if progress is not None:
        body["progress"] = progress
    if message:
        body["message"] = message
    return body


@dataclass
class _LogSubscription:
    last_seq: int
    live: bool = False
    held: list[LogLine] = field(default_factory=list)


@dataclass
class _CatchUp:
    execution_id: str


class Connection:
    """One client: what it subscribed to, and a bounded queue of what to send it."""

    def __init__(self, ws: web.WebSocketResponse, state: ApiState) -> None:
        self.ws = ws
        self.state = state
        self.queue: asyncio.Queue[dict[str, Any] | _CatchUp | LogLinesAppended] = asyncio.Queue(
            state.settings.api.ws_send_queue
        )
        self.jobs: set[str] | None = None  # None: no status subscription
        self.all_jobs = False
        self.logs: dict[str, _LogSubscription] = {}
        self.too_slow = asyncio.Event()
        self.unsubscribe = state.bus.subscribe(self.on_event)

    # Bus side: synchronous, never blocks -----------------------------------------------------

    def _put(self, item: dict[str, Any] | _CatchUp | LogLinesAppended) -> None:
        if self.too_slow.is_set():
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.too_slow.set()
            self.unsubscribe()

    def _wants(self, job_id: str) -> bool:
        return self.all_jobs or (self.jobs is not None and job_id in self.jobs)

    def on_event(self, event: Event) -> None:
        if isinstance(event, LogLinesAppended):
            if event.execution_id in self.logs:
                self._put(event)
            return
        message = self._status_of(event)
        if message is not None and self._wants(message["jobId"]):
            self._put(message)

    def _status_of(self, event: Event) -> dict[str, Any] | None:
        now = self.state.service.clock.now().isoformat()
        if isinstance(event, ExecutionQueued | ExecutionStarted | ExecutionRequeued):
            execution = event.execution
            message = None
            if isinstance(event, ExecutionRequeued):
                message = execution.error
            elif isinstance(event, ExecutionQueued):
                message = f"{execution.trigger.value}, attempt {execution.attempt}"
            return _status_message(
                execution.job_id,
                execution.status.value,
                now,
                execution=execution,
                message=message,
                progress=0.0 if isinstance(event, ExecutionStarted) else None,
            )
        if isinstance(event, ExecutionFinished):
            execution = event.execution
            return _status_message(
                execution.job_id,
                execution.status.value,
                now,
                execution=execution,
                message=execution.error,
                progress=1.0,
            )
        if isinstance(event, JobChanged):
            return _status_message(event.job.id, event.job.status.value, now)
        if isinstance(event, JobDeleted):
            return _status_message(event.job_id, "deleted", now)
        return None

    # Client side -----------------------------------------------------------------------------

    async def handle(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            await self._error("the message is not valid JSON")
            return
        if not isinstance(message, dict):
            await self._error("a message must be a JSON object with a type")
            return
        kind = message.get("type")
        if kind == "subscribe":
            jobs = message.get("jobs")
            if jobs is None or jobs == "*":
                self.all_jobs, self.jobs = True, set()
            elif isinstance(jobs, list) and all(isinstance(j, str) for j in jobs):
                resolved = set()
                for ref in jobs:
                    resolved.add((await self.state.service.get_job(ref)).id)
                self.all_jobs = False
                self.jobs = (self.jobs or set()) | resolved
            else:
                await self._error("jobs: a list of job ids, or omit it for all jobs")
                return
            self._put(
                {
                    "type": "subscribed",
                    "jobs": "*" if self.all_jobs else sorted(self.jobs or ()),
                }
            )
        elif kind == "unsubscribe":
            self.all_jobs, self.jobs = False, None
            self._put({"type": "unsubscribed"})
        elif kind == "subscribe_logs":
            ref = message.get("executionId")
            after = message.get("afterSeq", 0)
            if not isinstance(ref, str) or not isinstance(after, int) or isinstance(after, bool):
                await self._error("subscribe_logs needs executionId (string), afterSeq (integer)")
                return
            execution = await self.state.service.get_execution(ref)
            # Subscribed from here on: live lines are held back until the stored tail is sent.
            self.logs[execution.id] = _LogSubscription(last_seq=max(after, 0))
            self._put(_CatchUp(execution.id))
        elif kind == "unsubscribe_logs":
            self.logs.pop(str(message.get("executionId")), None)
        else:
            await self._error(
                f"unknown message type {kind!r}: use subscribe, unsubscribe, subscribe_logs, "
                "unsubscribe_logs"
            )

    async def _error(self, detail: str) -> None:
        self._put({"type": "error", "detail": detail})

    # Sending -------------------------------------------------------------------------------

    async def send_loop(self) -> None:
        while True:
            item = await self.queue.get()
            if isinstance(item, _CatchUp):
                await self._catch_up(item.execution_id)
            elif isinstance(item, LogLinesAppended):
                subscription = self.logs.get(item.execution_id)
                if subscription is None:
                    continue
                if not subscription.live:
                    subscription.held.extend(item.lines)
                    continue
                await self._send_lines(subscription, item.lines)
            else:
                await self.ws.send_json(item)

    async def _send_lines(self, subscription: _LogSubscription, lines: Any) -> None:
        for line in lines:
            if line.seq > subscription.last_seq:  # drop what was sent already
                await self.ws.send_json(log_message(line))
                subscription.last_seq = line.seq

    async def _catch_up(self, execution_id: str) -> None:
        subscription = self.logs.get(execution_id)
        if subscription is None:
            return
        store = self.state.service.store
        await store.flush()  # lines published before we subscribed are committed now
        while True:
            lines = await store.get_logs(
                execution_id, after_seq=subscription.last_seq, limit=CATCH_UP_PAGE
            )
            await self._send_lines(subscription, lines)
            if len(lines) < CATCH_UP_PAGE:
                break
        held = sorted(subscription.held, key=lambda line: line.seq)
        subscription.held = []
        subscription.live = True
        await self._send_lines(subscription, held)
        execution = await self.state.service.get_execution(execution_id)
        await self.ws.send_json(
            {
                "type": "subscribed_logs",
                "executionId": execution_id,
                "lastSeq": subscription.last_seq,
                "status": execution.status.value,
            }
        )


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """The ``/api/ws`` handler."""
    from cnp_tui.errors import CnpError

    state = request.app[STATE]
    ws = web.WebSocketResponse(heartbeat=30.0)
    await ws.prepare(request)
    connection = Connection(ws, state)
    state.sockets.add(ws)
    sender = asyncio.create_task(connection.send_loop(), name="cnp-ws-send")

    async def drop_when_too_slow() -> None:
        await connection.too_slow.wait()
        sender.cancel()
        log.warning(
            "closing a WebSocket client that fell behind by %d messages", connection.queue.maxsize
        )
        await ws.close(code=CLOSE_TOO_SLOW, message=b"client too slow: reconnect, resume by seq")

    watcher = asyncio.create_task(drop_when_too_slow(), name="cnp-ws-watch")
    try:
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                try:
                    await connection.handle(message.data)
                except CnpError as exc:
                    await connection._error(str(exc))
            elif message.type is WSMsgType.BINARY:
                await connection._error("send text frames with JSON messages")
            if sender.done():
                break
    finally:
        connection.unsubscribe()
        sender.cancel()
        if not connection.too_slow.is_set():
            watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher
        state.sockets.discard(ws)
    return ws


async def close_all(app: web.Application) -> None:
    """On shutdown: close every socket with 1001 (going away)."""
    for ws in list(app[STATE].sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"engine stopping")
