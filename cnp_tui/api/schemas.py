"""Request bodies and error objects of the API (responses are the domain models themselves,
as ``--format json`` prints them).

``JobBody`` is the job file format (``JobSpec``, with its aliases) plus an optional inline
prompt; it is kept small so it can give way to the shared job-file model later.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from cnp_tui.core.models import CnpModel, JobSpec, LogLine


class InlinePrompt(CnpModel):
    """A prompt created together with the job."""

    id: str | None = Field(default=None, description="Slug; generated from the title if omitted.")
    title: str = Field(min_length=1)
    content: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)


class JobBody(JobSpec):
    """A job in the job file format; ``prompt`` creates the prompt first (then ``prompt_id``
    may be omitted)."""

    prompt_id: str | None = Field(default=None, description="Id of an existing prompt.")  # type: ignore[assignment]
    prompt: InlinePrompt | None = None

    @model_validator(mode="after")
    def _one_prompt(self) -> JobBody:
        if self.prompt is None and self.prompt_id is None:
            raise ValueError("give prompt_id (an existing prompt) or prompt {title, content}")
        if self.prompt is not None and self.prompt_id is not None:
            raise ValueError("give prompt_id or an inline prompt, not both")
        return self


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
