"""The OpenAPI 3.1 document: component schemas generated from the pydantic models
(``models_json_schema``) and a table of operations kept next to the routes."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from cnp_tui.api.schemas import (
    CancelResult,
    ErrorBody,
    Health,
    LogPage,
    PromptBody,
    PromptChanges,
)
from cnp_tui.core.models import Execution, ExecutionStatus, Job, JobStatus, Prompt
from cnp_tui.jobfiles import JobDocument
from cnp_tui.service import Page, Stats

REF = "#/components/schemas/{model}"

# (method, path, summary, request body model or "object", {status: response model or "text"})
OPERATIONS: list[tuple[str, str, str, Any, dict[int, Any]]] = [
    (
        "post",
        "/api/jobs",
        "Create a job (job file format; inline prompt allowed)",
        JobDocument,
        {201: Job},
    ),
    ("get", "/api/jobs", "List jobs (paged; filter by status, tag)", None, {200: Page[Job]}),
    (
        "get",
        "/api/jobs/stats",
        "Totals and per-job success rates and durations",
        None,
        {200: Stats},
    ),
    (
        "get",
        "/api/jobs/health",
        "Component checks (no token needed)",
        None,
        {200: Health, 503: Health},
    ),
    ("get", "/api/jobs/metrics", "Prometheus text format", None, {200: "text"}),
    ("get", "/api/jobs/{job}", "A job (id, name or unique id prefix)", None, {200: Job}),
    (
        "put",
        "/api/jobs/{job}",
        "Change job-file fields (nested sections are merged)",
        "object",
        {200: Job},
    ),
    ("delete", "/api/jobs/{job}", "Delete a job and its history", None, {200: Job}),
    ("post", "/api/jobs/{job}/execute", "Queue a manual execution", None, {202: Execution}),
    ("post", "/api/jobs/{job}/pause", "Stop scheduling a job", None, {200: Job}),
    ("post", "/api/jobs/{job}/resume", "Schedule a paused job again", None, {200: Job}),
    (
        "get",
        "/api/jobs/{job}/executions",
        "A job's executions, newest first (paged)",
        None,
        {200: Page[Execution]},
    ),
    ("get", "/api/executions/{execution}", "An execution", None, {200: Execution}),
    (
        "post",
        "/api/executions/{execution}/cancel",
        "Cancel a queued or running execution",
        None,
        {202: CancelResult},
    ),
    ("get", "/api/executions/{execution}/logs", "Log lines after after_seq", None, {200: LogPage}),
    ("get", "/api/prompts", "List prompts (paged)", None, {200: Page[Prompt]}),
    ("post", "/api/prompts", "Create a prompt", PromptBody, {201: Prompt}),
    ("get", "/api/prompts/{prompt}", "A prompt", None, {200: Prompt}),
    ("put", "/api/prompts/{prompt}", "Change a prompt", PromptChanges, {200: Prompt}),
    ("delete", "/api/prompts/{prompt}", "Delete a prompt no job uses", None, {200: Prompt}),
    ("get", "/api/openapi.json", "This document", None, {200: "object"}),
]

_PAGING = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
    },
    {
        "name": "cursor",
        "in": "query",
        "schema": {"type": "string"},
        "description": "next_cursor of the previous page",
    },
]
_QUERY: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("get", "/api/jobs"): [
        {
            "name": "status",
            "in": "query",
            "schema": {"type": "string", "enum": [s.value for s in JobStatus]},
        },
        {"name": "tag", "in": "query", "schema": {"type": "string"}},
        *_PAGING,
    ],
    ("get", "/api/jobs/{job}/executions"): [
        {
            "name": "status",
            "in": "query",
            "schema": {"type": "string", "enum": [s.value for s in ExecutionStatus]},
        },
        *_PAGING,
    ],
    ("get", "/api/prompts"): _PAGING,
    ("get", "/api/executions/{execution}/logs"): [
        {
            "name": "after_seq",
            "in": "query",
            "schema": {"type": "integer", "minimum": 0, "default": 0},
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000},
        },
    ],
}

_ERRORS = {
    "400": "Malformed request (not JSON, wrong parameter type)",
    "401": "Missing or wrong bearer token",
    "404": "Not found",
    "409": "Conflict with the current state (duplicate, ambiguous reference, already ended)",
    "413": "Body over [api] max_body_bytes",
    "422": "Validation failed: field path and message",
}


def _name(model: type[BaseModel]) -> str:
    return model.__name__.replace("[", "_").replace("]", "").replace("cnp_tui.core.models.", "")


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The document served at ``/api/openapi.json``."""
    models: set[tuple[type[BaseModel], str]] = {(ErrorBody, "serialization")}
    for _, _, _, body, responses in OPERATIONS:
        if isinstance(body, type):
            models.add((body, "validation"))
        for response in responses.values():
            if isinstance(response, type):
                models.add((response, "serialization"))
    keys, schema = models_json_schema(
        sorted(models, key=lambda pair: (_name(pair[0]), pair[1])), ref_template=REF
    )
    components = schema.get("$defs", {})

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        return keys[(model, mode)]  # type: ignore[index]

    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, body, responses in OPERATIONS:
        operation: dict[str, Any] = {"summary": summary, "operationId": f"{method}:{path}"}
        parameters = [
            {"name": part[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
            for part in path.split("/")
            if part.startswith("{")
        ] + _QUERY.get((method, path), [])
        if parameters:
            operation["parameters"] = parameters
        if body is not None:
            schema_of_body = {"type": "object"} if body == "object" else ref(body, "validation")
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema_of_body}},
            }
        answers: dict[str, Any] = {}
        for status, response in responses.items():
            if response == "text":
                content = {"text/plain": {"schema": {"type": "string"}}}
            elif response == "object":
                content = {"application/json": {"schema": {"type": "object"}}}
            else:
                content = {"application/json": {"schema": ref(response, "serialization")}}
            answers[str(status)] = {"description": summary, "content": content}
        for status, text in _ERRORS.items():
            answers.setdefault(
                status,
                {
                    "description": text,
                    "content": {"application/json": {"schema": ref(ErrorBody, "serialization")}},
                },
            )
        operation["responses"] = answers
        if path == "/api/jobs/health":
            operation["security"] = []
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cnp API",
            "version": "1",
            "description": "Drive and watch cnp: jobs, prompts, executions, logs, metrics. "
            "WebSocket at /api/ws (see cnp_tui/api/ws.py for its messages).",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
