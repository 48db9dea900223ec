"""Request bodies and error objects of the API (responses are the domain models themselves,
as ``--format json`` prints them).

Job bodies are ``cnp_tui.jobfiles.JobDocument``: the job file format, as JSON.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from cnp_tui.core.models import CnpModel, LogLine


class PromptBody(CnpModel):
    """A new prompt."""

    id: str | None = Field(default=None, description="Slug; generated from the title if omitted.")
    title: str = Field(min_length=1)
    content: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)


class PromptChanges(CnpModel):
    """Fields of a prompt to change."""

    title: str | None = Field(default=None, min_length=1)
    content: str | None = Field(default=None, min_length=1)
    tags: list[str] | None = None


class ErrorBody(BaseModel):
    """Every error answer: what kind, one sentence saying what to fix, the field if one."""

    error: str = Field(description="bad_request, unauthorized, not_found, conflict, ...")
    detail: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Validation problems, one per field: {field, message}."
    )


class CancelResult(BaseModel):
    """Outcome of a cancel: cancelled at once (queued) or requested of the engine (running)."""

    execution_id: str
    outcome: str


class HealthCheck(BaseModel):
    """One component check."""

    ok: bool
    detail: str


class Health(BaseModel):
    """``/api/jobs/health``: 200 when every check passes, else 503."""

    status: str
    checks: dict[str, HealthCheck]


class LogPage(BaseModel):
    """Log lines after ``after_seq``; pass ``last_seq`` back as ``after_seq`` to resume."""

    execution_id: str
    status: str
    items: list[LogLine]
    last_seq: int
