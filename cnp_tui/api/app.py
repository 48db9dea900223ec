"""The aiohttp application: routes, bearer-token auth, JSON errors, body limit.

Every handler calls ``JobService`` and answers with the objects ``--format json`` prints.
Errors are ``{error, detail, field?}`` with the status that fits; nothing reaches the client
as a 500 with a trace (a bug is logged and answered with a plain ``internal`` error).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from cnp_tui.api.auth import token_matches
from cnp_tui.api.metrics import Metrics
from cnp_tui.api.schemas import (
    CancelResult,
    Health,
    HealthCheck,
    PromptBody,
    PromptChanges,
)
from cnp_tui.config import Settings
from cnp_tui.core.bus import EventBus
from cnp_tui.core.models import ExecutionStatus, JobStatus
from cnp_tui.engine.claude import resolve_executable
from cnp_tui.errors import (
    AmbiguousReferenceError,
    ClaudeNotFoundError,
    CnpError,
    ConflictError,
    DatabaseError,
    EngineAlreadyRunningError,
    InvalidInputError,
    NotFoundError,
    UsageLimitReachedError,
    WorkingDirectoryError,
)
from cnp_tui.jobfiles import JobDocument
from cnp_tui.service import JobService, describe_validation_error

log = logging.getLogger("cnp.api")

PUBLIC_PATHS = frozenset({"/api/jobs/health"})
HEALTH_TIMEOUT = 5.0

STATE: web.AppKey[ApiState] = web.AppKey("cnp_state")


@dataclass
class ApiState:
    """What the handlers need: the service, the bus, and how to judge the engine's health."""

    service: JobService
    bus: EventBus
    settings: Settings
    token: str | None
    metrics: Metrics
    owner: str | None = None
    """The engine owning the database in this process (its lease is checked by health)."""
    scheduler_alive: Callable[[], bool] | None = None
    sockets: set[web.WebSocketResponse] = field(default_factory=set)


class BadRequest(Exception):
    """Malformed input (not JSON, wrong type of query parameter): 400."""

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


def error_response(
    status: int,
    error: str,
    detail: str,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> web.Response:
    body: dict[str, Any] = {"error": error, "detail": detail}
    if field is not None:
        body["field"] = field
    if errors:
        body["errors"] = errors
    return web.json_response(body, status=status)


def _validation_response(exc: ValidationError, what: str) -> web.Response:
    problems = []
    for item in exc.errors():
        path = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "is not a known field"
        elif item["type"] == "missing":
            message = "is required"
        problems.append({"field": path, "message": message})
    return error_response(
        422,
        "invalid",
        describe_validation_error(exc, what),
        field=problems[0]["field"] if problems else None,
        errors=problems,
    )


_CNP_STATUS: list[tuple[type[CnpError], int, str]] = [
    (NotFoundError, 404, "not_found"),
    (AmbiguousReferenceError, 409, "ambiguous"),
    (ConflictError, 409, "conflict"),
    (EngineAlreadyRunningError, 409, "conflict"),
    (InvalidInputError, 422, "invalid"),
    (ClaudeNotFoundError, 422, "claude_not_found"),
    (WorkingDirectoryError, 422, "invalid"),
    (UsageLimitReachedError, 503, "usage_limit"),
    (DatabaseError, 503, "database"),
]


def _cnp_response(exc: CnpError) -> web.Response:
    status, error = next(
        ((code, name) for kind, code, name in _CNP_STATUS if isinstance(exc, kind)),
        (400, "bad_request"),
    )
    field = None
    if status == 422:
        # Service messages name the field first: "invalid job: schedule.type: ..." or
        # "limit: must be ..."; take the first problem's path.
        text = re.sub(r"^invalid \w+: ", "", exc.message)
        head, sep, _ = text.partition(": ")
        if sep and " " not in head:
            field = head
    return error_response(status, error, str(exc), field=field)


_HTTP_ERRORS = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn every failure into a JSON error; never leak a trace."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = _HTTP_ERRORS.get(exc.status, "http_error")
        detail = exc.reason
        if exc.status == 404:
            detail = f"no such endpoint: {request.method} {request.path} (see /api/openapi.json)"
        elif exc.status == 405:
            detail = f"{request.method} is not allowed on {request.path}"
        elif exc.status == 413:
            limit = request.app[STATE].settings.api.max_body_bytes
            detail = f"request body is larger than [api] max_body_bytes ({limit} bytes)"
        response = error_response(exc.status, error, detail)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except BadRequest as exc:
        return error_response(400, "bad_request", exc.detail, field=exc.field)
    except ValidationError as exc:
        return _validation_response(exc, "request")
    except CnpError as exc:
        return _cnp_response(exc)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("API request %s %s failed", request.method, request.path)
        return error_response(
            500, "internal", "internal error; the engine log has the details (this is a bug)"
        )


@web.middleware
async def auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Bearer token on everything but health (compared in constant time)."""
    token = request.app[STATE].token
    if token is None or request.path in PUBLIC_PATHS:
        return await handler(request)
    if not token_matches(token, request.headers.get("Authorization")):
        response = error_response(
            401,
            "unauthorized",
            "missing or wrong bearer token: send 'Authorization: Bearer <token>' "
            "(`cnp api token` prints it)",
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="cnp"'
        return response
    return await handler(request)


# --- helpers ---------------------------------------------------------------------------------


def _ok(data: Any, status: int = 200) -> web.Response:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    return web.Response(
        text=json.dumps(data, ensure_ascii=False),
        status=status,
        content_type="application/json",
    )


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()  # over client_max_size: HTTPRequestEntityTooLarge -> 413
    if not raw.strip():
        raise BadRequest("the request body is empty; send a JSON object", field="body")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}", field="body") from None
    if not isinstance(data, dict):
        raise BadRequest(
            f"the request body must be a JSON object, not {type(data).__name__}", field="body"
        )
    return data


def _int_query(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name}: expected an integer, got {raw!r}", field=name) from None


def _enum_query(request: web.Request, name: str, kind: Any) -> Any:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return kind(raw)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise InvalidInputError(f"{name}: {raw!r} is not one of {choices}") from None


def _state(request: web.Request) -> ApiState:
    return request.app[STATE]


# --- jobs ------------------------------------------------------------------------------------


async def create_job(request: web.Request) -> web.Response:
    state = _state(request)
    data = await _body(request)
    try:
        body = JobDocument.model_validate(data)  # the job file format, checked in full first
    except ValidationError as exc:
        return _validation_response(exc, "job")
    created_prompt = None
    if body.prompt is not None:
        created_prompt = await state.service.create_prompt(
            body.prompt.title,
            body.prompt.content,
            prompt_id=body.prompt.prompt_id,
            tags=body.prompt.tags,
        )
    try:
        job = await state.service.create_job(body.spec())
    except CnpError:
        if created_prompt is not None:  # a job that cannot be created leaves nothing behind
            await state.service.delete_prompt(created_prompt.id)
        raise
    return _ok(job, 201)


async def list_jobs(request: web.Request) -> web.Response:
    page = await _state(request).service.page_jobs(
        status=_enum_query(request, "status", JobStatus),
        tag=request.query.get("tag") or None,
        limit=_int_query(request, "limit", 50),
        cursor=request.query.get("cursor") or None,
    )
    return _ok(page)


async def get_job(request: web.Request) -> web.Response:
    return _ok(await _state(request).service.get_job(request.match_info["job"]))


async def update_job(request: web.Request) -> web.Response:
    data = await _body(request)
    return _ok(await _state(request).service.update_job(request.match_info["job"], data))


async def delete_job(request: web.Request) -> web.Response:
    return _ok(await _state(request).service.delete_job(request.match_info["job"]))


async def execute_job(request: web.Request) -> web.Response:
    return _ok(await _state(request).service.execute_job(request.match_info["job"]), 202)


async def pause_job(request: web.Request) -> web.Response:
    return _ok(await _state(request).service.pause_job(request.match_info["job"]))


async def resume_job(request: web.Request) -> web.Response:
    return _ok(await _state(request).service.resume_job(request.match_info["job"]))


async def job_executions(request: web.Request) -> web.Response:
    status = _enum_query(request, "status", ExecutionStatus)
    page = await _state(request).service.page_executions(
        request.match_info["job"],
        status=[status] if status else None,
        limit=_int_query(request, "limit", 50),
        cursor=request.query.get("cursor") or None,
    )
    return _ok(page)


async def job_stats(request: web.Request) -> web.Response:
    return _ok(await _state(request).service.stats())


async def job_metrics(request: web.Request) -> web.Response:
    state = _state(request)
    status = await state.service.status()
    names = {job.id: job.name for job in await state.service.list_jobs()}
    text = await state.metrics.render(status, names)
    response = web.Response(text=text)
    # The Prometheus text exposition format, version 0.0.4.
    response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
    return response


async def health(request: web.Request) -> web.Response:
    state = _state(request)
    checks: dict[str, HealthCheck] = {}
    try:
        version = await asyncio.wait_for(state.service.store.data_version(), HEALTH_TIMEOUT)
        checks["database"] = HealthCheck(ok=True, detail=f"reachable (data_version {version})")
        lease = await asyncio.wait_for(state.service.live_engine(), HEALTH_TIMEOUT)
        if lease is None:
            checks["engine_lease"] = HealthCheck(ok=False, detail="no live engine holds the lease")
        elif state.owner is not None and lease.owner != state.owner:
            checks["engine_lease"] = HealthCheck(
                ok=False, detail=f"the lease is held by another engine ({lease.owner})"
            )
        else:
            checks["engine_lease"] = HealthCheck(
                ok=True, detail=f"held by pid {lease.pid} on {lease.host}"
            )
    except Exception as exc:  # health must answer, whatever the database does
        checks["database"] = HealthCheck(ok=False, detail=f"unreachable: {exc}")
        checks.setdefault(
            "engine_lease", HealthCheck(ok=False, detail="unknown: the database is unreachable")
        )
    alive = state.scheduler_alive() if state.scheduler_alive is not None else False
    checks["scheduler"] = HealthCheck(
        ok=alive, detail="loop running" if alive else "the scheduler loop is not running"
    )
    try:
        argv = resolve_executable(state.settings.executor.claude_cli_path)
        checks["claude"] = HealthCheck(ok=True, detail=f"found at {argv[0]}")
    except ClaudeNotFoundError as exc:
        checks["claude"] = HealthCheck(ok=False, detail=str(exc))
    failing = [name for name, check in checks.items() if not check.ok]
    result = Health(status="ok" if not failing else "failing: " + ", ".join(failing), checks=checks)
    return _ok(result, 200 if not failing else 503)


# --- executions ------------------------------------------------------------------------------


async def get_execution(request: web.Request) -> web.Response:
    return _ok(await _state(request).service.get_execution(request.match_info["execution"]))


async def cancel_execution(request: web.Request) -> web.Response:
    service = _state(request).service
    execution = await service.get_execution(request.match_info["execution"])
    outcome = await service.cancel_execution(execution.id)
    return _ok(CancelResult(execution_id=execution.id, outcome=outcome), 202)


async def execution_logs(request: web.Request) -> web.Response:
    service = _state(request).service
    execution = await service.get_execution(request.match_info["execution"])
    after_seq = _int_query(request, "after_seq", 0)
    limit = _int_query(request, "limit", 1000)
    if after_seq < 0:
        raise InvalidInputError(f"after_seq: must be 0 or more, got {after_seq}")
    if not 1 <= limit <= 10_000:
        raise InvalidInputError(f"limit: must be between 1 and 10000, got {limit}")
    lines = await service.logs(execution.id, after_seq=after_seq, limit=limit)
    return _ok(
        {
            "execution_id": execution.id,
            "status": execution.status.value,
            "items": [line.model_dump(mode="json") for line in lines],
            "last_seq": lines[-1].seq if lines else after_seq,
        }
    )


# --- prompts ---------------------------------------------------------------------------------


async def list_prompts(request: web.Request) -> web.Response:
    limit = _int_query(request, "limit", 50)
    page = await _state(request).service.page_prompts(
        limit=limit, cursor=request.query.get("cursor") or None
    )
    return _ok(page)


async def create_prompt(request: web.Request) -> web.Response:
    try:
        body = PromptBody.model_validate(await _body(request))
    except ValidationError as exc:
        return _validation_response(exc, "prompt")
    prompt = await _state(request).service.create_prompt(
        body.title, body.content, prompt_id=body.id, tags=body.tags
    )
    return _ok(prompt, 201)


async def get_prompt(request: web.Request) -> web.Response:
    return _ok(await _state(request).service.get_prompt(request.match_info["prompt"]))


async def update_prompt(request: web.Request) -> web.Response:
    try:
        body = PromptChanges.model_validate(await _body(request))
    except ValidationError as exc:
        return _validation_response(exc, "prompt")
    prompt = await _state(request).service.update_prompt(
        request.match_info["prompt"], title=body.title, content=body.content, tags=body.tags
    )
    return _ok(prompt)


async def delete_prompt(request: web.Request) -> web.Response:
    service = _state(request).service
    prompt = await service.get_prompt(request.match_info["prompt"])
    await service.delete_prompt(prompt.id)
    return _ok(prompt)


async def openapi(request: web.Request) -> web.Response:
    from cnp_tui.api.openapi import openapi_document

    return _ok(openapi_document())


# --- the application -------------------------------------------------------------------------

ROUTES: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
    # Fixed paths first: /api/jobs/stats must not be read as the job "stats".
    ("GET", "/api/jobs/stats", job_stats),
    ("GET", "/api/jobs/health", health),
    ("GET", "/api/jobs/metrics", job_metrics),
    ("POST", "/api/jobs", create_job),
    ("GET", "/api/jobs", list_jobs),
    ("GET", "/api/jobs/{job}", get_job),
    ("PUT", "/api/jobs/{job}", update_job),
    ("DELETE", "/api/jobs/{job}", delete_job),
    ("POST", "/api/jobs/{job}/execute", execute_job),
    ("POST", "/api/jobs/{job}/pause", pause_job),
    ("POST", "/api/jobs/{job}/resume", resume_job),
    ("GET", "/api/jobs/{job}/executions", job_executions),
    ("GET", "/api/executions/{execution}", get_execution),
    ("POST", "/api/executions/{execution}/cancel", cancel_execution),
    ("GET", "/api/executions/{execution}/logs", execution_logs),
    ("GET", "/api/prompts", list_prompts),
    ("POST", "/api/prompts", create_prompt),
    ("GET", "/api/prompts/{prompt}", get_prompt),
    ("PUT", "/api/prompts/{prompt}", update_prompt),
    ("DELETE", "/api/prompts/{prompt}", delete_prompt),
    ("GET", "/api/openapi.json", openapi),
]


def create_app(state: ApiState) -> web.Application:
    """The application; the caller runs it (``server.ApiServer`` or aiohttp's test client)."""
    from cnp_tui.api.ws import close_all, websocket

    app = web.Application(
        middlewares=[errors_middleware, auth_middleware],
        client_max_size=state.settings.api.max_body_bytes,
    )
    app[STATE] = state
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    app.router.add_get("/api/ws", websocket)
    app.on_shutdown.append(close_all)
    app.on_cleanup.append(_unsubscribe_metrics)
    return app


async def _unsubscribe_metrics(app: web.Application) -> None:
    app[STATE].metrics.unsubscribe()
