"""Modal forms: create / edit a job and a prompt, validated inline.

The cron field says what it means and shows the next three fire times as you type, or what is
wrong. Saving goes through JobService; its error names the field, which is then marked.
"""

from __future__ import annotations

import zoneinfo
from typing import Any, ClassVar

from pydantic import ValidationError
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from cnp_tui.core.models import Job, Prompt, RetryStrategy, Schedule, ScheduleType
from cnp_tui.core.schedule import ScheduleError, next_fire_times
from cnp_tui.errors import CnpError
from cnp_tui.notify.channels import channel_spec, notification_changes, notify_on_text
from cnp_tui.service import describe_validation_error
from cnp_tui.ui.format import when

ZONES = sorted(zoneinfo.available_timezones())
FIELD_OF_ERROR = {
    "name": "name",
    "prompt_id": "prompt",
    "schedule": "expression",
    "priority": "priority",
    "execution_options": "timeout",
    "retry_config": "attempts",
    "tags": "tags",
    "notification_config": "channels",
}


def _row(label: str, widget: Any) -> Horizontal:
    return Horizontal(Label(label, classes="field-label"), widget, classes="field")


class JobFormScreen(ModalScreen[None]):
    """Create a job (``job`` None) or edit one."""

    BINDINGS: ClassVar = [
        Binding("ctrl+s", "save", "Save", id="form.save"),
        Binding("escape", "close", "Cancel", id="form.cancel"),
    ]

    def __init__(self, job: Job | None) -> None:
        super().__init__()
        self.job = job

    @property
    def cnp(self) -> Any:
        return self.app

    def compose(self) -> ComposeResult:
        job = self.job
        schedule = job.schedule if job else None
        options = job.execution_options if job else None
        retry = job.retry_config if job else None
        with Vertical(id="form"):
            yield Label("Edit job" if job else "New job", id="form-title")
            with VerticalScroll():
                yield _row("Name", Input(job.name if job else "", id="name"))
                yield _row("Prompt", Select[str]([], id="prompt", allow_blank=True))
                yield _row(
                    "Schedule",
                    Select[str](
                        [(t.value, t.value) for t in ScheduleType],
                        value=schedule.type.value if schedule else "cron",
                        allow_blank=False,
                        id="type",
                    ),
                )
                yield _row(
                    "Expression",
                    Input(
                        schedule.expression if schedule else "0 9 * * *",
                        id="expression",
                        placeholder="0 9 * * 1-5 | every 30m | 2026-12-01T09:00",
                    ),
                )
                yield Static(id="preview")
                yield _row(
                    "Time zone",
                    Input(
                        (schedule.timezone or "") if schedule else "",
                        id="timezone",
                        placeholder=f"default {self.cnp.settings.scheduler.timezone}",
                        suggester=SuggestFromList(ZONES, case_sensitive=False),
                    ),
                )
                yield _row("Priority", Input(str(job.priority if job else 5), id="priority"))
                yield _row(
                    "Timeout",
                    Input(
                        f"{options.timeout_seconds:g}s"
                        if options and options.timeout_seconds
                        else "",
                        id="timeout",
                        placeholder="default; e.g. 15m",
                    ),
                )
                yield _row(
                    "Retry",
                    Select[str](
                        [
                            (s.value, s.value)
                            for s in RetryStrategy
                            if s is not RetryStrategy.CUSTOM
                        ],
                        value=(retry.strategy.value if retry else "exponential_backoff")
                        if not retry or retry.strategy is not RetryStrategy.CUSTOM
                        else "fixed",
                        allow_blank=False,
                        id="strategy",
                    ),
                )
                yield _row(
                    "Attempts", Input(str(retry.max_attempts if retry else 3), id="attempts")
                )
                yield _row(
                    "Workdir",
                    Input(
                        (options.working_directory or "") if options else "",
                        id="workdir",
                        placeholder="current directory",
                    ),
                )
                yield _row(
                    "Tags",
                    Input(", ".join(job.tags) if job else "", id="tags", placeholder="a, b"),
                )
                notify = job.notification_config if job else None
                yield _row(
                    "Notify on",
                    Input(
                        notify_on_text(notify) if notify else "",
                        id="notify_on",
                        placeholder="failure,recovery (start, success, every-failure, ...)",
                    ),
                )
                yield _row(
                    "Channels",
                    Input(
                        " ".join(channel_spec(c) for c in notify.channels) if notify else "",
                        id="channels",
                        placeholder="webhook=URL email=a@b.c system log",
                    ),
                )
            yield Static(id="errors")
            with Horizontal(id="buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")

    async def on_mount(self) -> None:
        prompts = await self.cnp.service.list_prompts()
        select = self.query_one("#prompt", Select)
        select.set_options([(f"{p.title} ({p.id})", p.id) for p in prompts])
        if self.job is not None:
            select.value = self.job.prompt_id
        elif prompts:
            select.value = prompts[0].id
        self.query_one("#name", Input).focus()
        self._preview()

    def _value(self, field: str) -> str:
        return self.query_one(f"#{field}", Input).value.strip()

    @on(Input.Changed, "#expression, #timezone")
    @on(Select.Changed, "#type")
    def _preview(self) -> None:
        preview = self.query_one("#preview", Static)
        expression = self.query_one("#expression", Input)
        kind = self.query_one("#type", Select).value
        tz = self._value("timezone") or self.cnp.settings.scheduler.timezone
        try:
            schedule = Schedule(type=kind, expression=expression.value.strip(), timezone=tz)
            now = self.cnp.clock.now()
            trigger = schedule.trigger(now, tz)
            times = next_fire_times(trigger, now, 3)
        except (ValidationError, ScheduleError, ValueError) as exc:
            message = (
                describe_validation_error(exc, "schedule")
                if isinstance(exc, ValidationError)
                else str(exc)
            )
            preview.update(f"✗ {message}")
            preview.set_class(True, "invalid")
            expression.set_class(True, "-invalid")
            return
        preview.set_class(False, "invalid")
        expression.set_class(False, "-invalid")
        shown = ", ".join(when(t, self.cnp.zone)[5:16] for t in times) or "never (in the past)"
        preview.update(f"✓ {trigger.describe()} · next: {shown}")

    def _spec(self) -> dict[str, Any]:
        tags = [t.strip() for t in self._value("tags").split(",") if t.strip()]
        spec: dict[str, Any] = {
            "name": self._value("name"),
            "prompt_id": self.query_one("#prompt", Select).value
            if self.query_one("#prompt", Select).value is not Select.BLANK
            else "",
            "schedule": {
                "type": self.query_one("#type", Select).value,
                "expression": self._value("expression"),
                "timezone": self._value("timezone") or None,
            },
            "priority": self._value("priority") or 5,
            "execution_options": {
                "timeout_seconds": self._value("timeout") or None,
                "working_directory": self._value("workdir") or None,
            },
            "retry_config": {
                "strategy": self.query_one("#strategy", Select).value,
                "max_attempts": self._value("attempts") or 3,
            },
            "tags": tags,
        }
        notify_on, channels = self._value("notify_on"), self._value("channels").split()
        if notify_on or channels:
            spec["notification_config"] = notification_changes(notify_on or None, channels)
        elif self.job is not None and self.job.notification_config is not None:
            spec["notification_config"] = None  # both fields cleared: no notifications
        return spec

    async def action_save(self) -> None:
        errors = self.query_one("#errors", Static)
        for widget in self.query(Input):
            widget.set_class(False, "-invalid")
        try:
            spec = self._spec()
        except CnpError as exc:  # a notification event or channel that is not understood
            errors.update(f"✗ {exc}")
            field = "notify_on" if "notify-on" in str(exc) else "channels"
            self.query_one(f"#{field}").set_class(True, "-invalid")
            return
        if not spec["prompt_id"]:
            errors.update("✗ prompt: choose a prompt (create one in the prompt library, P)")
            return
        try:
            if self.job is None:
                job = await self.cnp.service.create_job(spec)
                message = f"created job {job.name}"
            else:
                job = await self.cnp.service.update_job(self.job.id, spec)
                message = f"saved job {job.name}"
        except CnpError as exc:
            text = str(exc)
            errors.update(f"✗ {text}")
            for problem in text.removeprefix("invalid job: ").split("; "):
                field = FIELD_OF_ERROR.get(problem.split(".")[0].split(":")[0])
                if field:
                    self.query_one(f"#{field}").set_class(True, "-invalid")
            return
        self.cnp.mark_dirty()
        self.notify(message, timeout=3)
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    async def _save_pressed(self) -> None:
        await self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)


class PromptFormScreen(ModalScreen[None]):
    """Create a prompt (``prompt`` None) or edit one."""

    BINDINGS: ClassVar = [
        Binding("ctrl+s", "save", "Save", id="prompt_form.save"),
        Binding("escape", "close", "Cancel", id="prompt_form.cancel"),
    ]

    def __init__(self, prompt: Prompt | None) -> None:
        super().__init__()
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        prompt = self.prompt
        with Vertical(id="form"):
            yield Label("Edit prompt" if prompt else "New prompt", id="form-title")
            yield _row("Title", Input(prompt.title if prompt else "", id="title"))
            yield _row(
                "Id",
                Input(
                    prompt.id if prompt else "",
                    id="prompt-id",
                    placeholder="made from the title",
                    disabled=prompt is not None,
                ),
            )
            yield _row("Tags", Input(", ".join(prompt.tags) if prompt else "", id="tags"))
            yield Label("Content")
            yield TextArea(prompt.content if prompt else "", id="content")
            yield Static(id="errors")
            with Horizontal(id="buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#title", Input).focus()

    async def action_save(self) -> None:
        service = self.app.service  # type: ignore[attr-defined]
        title = self.query_one("#title", Input).value.strip()
        content = self.query_one("#content", TextArea).text
        tags = [t.strip() for t in self.query_one("#tags", Input).value.split(",") if t.strip()]
        try:
            if self.prompt is None:
                prompt_id = self.query_one("#prompt-id", Input).value.strip() or None
                await service.create_prompt(title, content, prompt_id=prompt_id, tags=tags)
            else:
                await service.update_prompt(self.prompt.id, title=title, content=content, tags=tags)
        except CnpError as exc:
            self.query_one("#errors", Static).update(f"✗ {exc}")
            return
        self.app.mark_dirty()  # type: ignore[attr-defined]
        self.notify(f"saved prompt {title}", timeout=3)
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    async def _save_pressed(self) -> None:
        await self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)
