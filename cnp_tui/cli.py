"""The ``cnp`` command line.

Thin: parse, call JobService, print. Heavy modules (pydantic models, aiosqlite, the engine, the
dashboard) are imported inside commands so that ``cnp --help`` starts fast and ``cnp job list``
and ``cnp --no-ui`` never import textual.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from cnp_tui.config import Settings
    from cnp_tui.core.models import Execution, Job, LogLine, Prompt
    from cnp_tui.paths import Paths
    from cnp_tui.service import JobService

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

EXIT_USAGE_LIMIT = 75  # EX_TEMPFAIL: try again later


class Context:
    """What the group options resolve to; settings are loaded on first use."""

    def __init__(self, home: str | None, config: str | None) -> None:
        self._home = home
        self._config = config
        self._paths: Paths | None = None
        self._settings: Settings | None = None

    @property
    def paths(self) -> Paths:
        if self._paths is None:
            from cnp_tui.paths import resolve_paths

            self._paths = resolve_paths(self._home, self._config)
        return self._paths

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from cnp_tui.config import load_settings

            self._settings = load_settings(self.paths.config_file)
        return self._settings

    def run(self, work: Callable[[JobService], Awaitable[T]], *, create: bool = True) -> T:
        """Open the service on the database and run ``work`` with it."""
        from cnp_tui.service import JobService

        async def main() -> T:
            async with JobService.open(self.paths, self.settings, create=create) as service:
                return await work(service)

        return _run(main())


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


class CnpGroup(click.Group):
    """Turns CnpError into one clear sentence on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from cnp_tui.errors import CnpError

        try:
            return super().invoke(ctx)
        except CnpError as exc:
            click.secho(f"cnp: {exc}", err=True, fg="red")
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("cnp: interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug: say so plainly, show the trace only on request
            if os.environ.get("CNP_DEBUG"):
                raise
            click.secho(
                f"cnp: internal error: {type(exc).__name__}: {exc} "
                "(this is a bug; run again with CNP_DEBUG=1 for the traceback and report it)",
                err=True,
                fg="red",
            )
            sys.exit(70)


pass_ctx = click.make_pass_decorator(Context)


def format_option(human: str, help: str) -> Callable[[F], F]:
    """``--format HUMAN|json`` (as ``fmt``): HUMAN for a person, json for scripts."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice([human, "json"]),
        default=human,
        show_default=True,
        help=help,
    )


FORMAT = format_option("table", "Output format; json is for scripts.")


def _json_indent() -> int | None:
    """Indented JSON for a person at a terminal; compact when piped (to jq, a script, a file)."""
    return 2 if sys.stdout.isatty() else None


def _json(data: Any) -> None:
    click.echo(json.dumps(data, indent=_json_indent(), ensure_ascii=False, default=str))


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=False)


def _when(value: datetime | None) -> str:
    """A time in the terminal's local zone, with the zone named."""
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(c) for c in headers]] + [
        ["-" if c is None else str(c) for c in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        line = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        lines.append(click.style(line, bold=True) if index == 0 else line)
    click.echo("\n".join(lines))


def _fields(pairs: Sequence[tuple[str, Any]]) -> None:
    width = max(len(key) for key, _ in pairs)
    for key, value in pairs:
        click.echo(f"{key.ljust(width)}  {'-' if value is None else value}")


@click.group(
    cls=CnpGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--home",
    envvar="CNP_HOME",
    type=click.Path(file_okay=False),
    help="Directory of the database (env CNP_HOME; default: the platform data dir).",
)
@click.option(
    "--config",
    envvar="CNP_CONFIG",
    type=click.Path(dir_okay=False),
    help="Config file (env CNP_CONFIG; default: $CNP_HOME/claude-pilot.toml, then the "
    "platform config dir).",
)
@click.option("--no-ui", is_flag=True, help="Run the engine headless (systemd, tmux, no TTY).")
@click.option(
    "--api",
    "api_bind",
    metavar="[HOST:]PORT",
    help="Serve the REST + WebSocket API from the engine (default host 127.0.0.1).",
)
@click.option("--theme", help="Dashboard theme (default: [ui] theme, cnp-dark).")
@click.version_option(package_name="cnp-tui", prog_name="cnp")
@click.pass_context
def main(
    ctx: click.Context,
    home: str | None,
    config: str | None,
    no_ui: bool,
    api_bind: str | None,
    theme: str | None,
) -> None:
    """cnp: run Claude Code prompts on schedules, unattended.

    Without a command, `cnp` opens the dashboard (with the engine in the same process, or
    attached to the engine that owns the database); `cnp --no-ui` runs the engine headless.
    """
    ctx.obj = Context(home, config)
    if ctx.invoked_subcommand is not None:
        if api_bind:
            raise click.UsageError(
                "--api serves the API from the engine: use it with --no-ui or the dashboard"
            )
        return
    if no_ui:
        import logging

        from cnp_tui.engine.runtime import run_headless

        logging.basicConfig(
            level=logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(message)s",
            datefmt="%Y-%m-%d %H:%M:%S",
        )
        obj: Context = ctx.obj
        if api_bind:
            _enable_api(obj, api_bind)
        sys.exit(_run(run_headless(obj.paths, obj.settings)))
    if api_bind:  # served by the dashboard's own engine (not when it attaches to another)
        _enable_api(ctx.obj, api_bind)
    _open_dashboard(ctx.obj.paths, ctx.obj.settings, theme)


# --- prompts -----------------------------------------------------------------------------


@main.group()
def prompt() -> None:
    """Create, list, show and delete prompts."""


@prompt.command("create")
@click.argument("title")
@click.option("--content", help="The prompt text.")
@click.option(
    "--content-file",
    type=click.File("r", encoding="utf-8"),
    help="Read the prompt text from a file (- for stdin).",
)
@click.option("--id", "prompt_id", help="Slug id (default: made from the title).")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@FORMAT
@pass_ctx
def prompt_create(
    obj: Context,
    title: str,
    content: str | None,
    content_file: Any,
    prompt_id: str | None,
    tags: tuple[str, ...],
    fmt: str,
) -> None:
    """Create a prompt."""
    from cnp_tui.errors import InvalidInputError

    if (content is None) == (content_file is None):
        raise InvalidInputError("give the prompt text with --content TEXT or --content-file PATH")
    text = content if content is not None else content_file.read()
    created = obj.run(lambda s: s.create_prompt(title, text, prompt_id=prompt_id, tags=list(tags)))
    if fmt == "json":
        _json(_dump(created))
    else:
        click.echo(f"created prompt {created.id}")


@prompt.command("list")
@FORMAT
@pass_ctx
def prompt_list(obj: Context, fmt: str) -> None:
    """List prompts."""
    prompts = obj.run(lambda s: s.list_prompts())
    if fmt == "json":
        _json([_dump(p) for p in prompts])
        return
    if not prompts:
        click.echo("no prompts yet: create one with `cnp prompt create TITLE --content TEXT`")
        return
    _table(
        ["ID", "TITLE", "TAGS", "CONTENT"],
        [[p.id, p.title, ",".join(p.tags), _excerpt(p.content, 50)] for p in prompts],
    )


def _excerpt(text: str | None, width: int) -> str:
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


@prompt.command("show")
@click.argument("prompt_id")
@FORMAT
@pass_ctx
def prompt_show(obj: Context, prompt_id: str, fmt: str) -> None:
    """Show a prompt."""
    found: Prompt = obj.run(lambda s: s.get_prompt(prompt_id), create=False)
    if fmt == "json":
        _json(_dump(found))
        return
    _fields(
        [
            ("id", found.id),
            ("title", found.title),
            ("tags", ", ".join(found.tags)),
            ("created", _when(found.created_at)),
            ("updated", _when(found.updated_at)),
        ]
    )
    click.echo()
    click.echo(found.content)


@prompt.command("delete")
@click.argument("prompt_id")
@FORMAT
@pass_ctx
def prompt_delete(obj: Context, prompt_id: str, fmt: str) -> None:
    """Delete a prompt that no job uses."""
    obj.run(lambda s: s.delete_prompt(prompt_id), create=False)
    if fmt == "json":
        _json({"deleted": "prompt", "id": prompt_id})
        return
    click.echo(f"deleted prompt {prompt_id}")


# --- jobs --------------------------------------------------------------------------------


@main.group()
def job() -> None:
    """Create, list and drive jobs."""


def _job_options(create: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    options = [
        click.option("--prompt-id", help="Id of the prompt to run."),
        click.option(
            "--cron", help="Cron expression: 5 fields, or 6 with seconds first; @daily..."
        ),
        click.option(
            "--tz", help="IANA time zone of the cron expression (default [scheduler] timezone)."
        ),
        click.option("--every", help="Interval, like 30m or 1h30m."),
        click.option("--at", "at_time", help="One-shot time, ISO 8601 (2026-12-01T09:00)."),
        click.option("--priority", type=int, help="1-10; 10 runs first (default 5)."),
        click.option("--timeout", help="Kill the run after this long (e.g. 15m)."),
        click.option(
            "--max-attempts", type=int, help="Attempts in all, the first included (default 3)."
        ),
        click.option(
            "--retry-strategy",
            type=click.Choice(["fixed", "exponential_backoff", "linear", "custom"]),
            help="How retries are spaced (default exponential_backoff).",
        ),
        click.option("--retry-interval", help="First retry delay (e.g. 1m)."),
        click.option("--workdir", help="Working directory of the claude process."),
        click.option(
            "--env", "env", multiple=True, help="KEY=VALUE for the claude process (repeatable)."
        ),
        click.option("--tag", "tags", multiple=True, help="A tag (repeatable)."),
        click.option(
            "--catch-up",
            type=click.Choice(["none", "latest", "all"]),
            help="Slots missed while no engine ran: none, latest (default) or all.",
        ),
        click.option(
            "--max-parallel", type=int, help="Executions of this job at once (default 1)."
        ),
        click.option("--model", help="claude --model."),
        click.option("--max-turns", type=int, help="claude --max-turns."),
        click.option(
            "--allowed-tool",
            "allowed_tools",
            multiple=True,
            help="claude --allowedTools entry (repeatable).",
        ),
        click.option(
            "--permission-mode",
            type=click.Choice(["default", "acceptEdits", "plan", "bypassPermissions"]),
            help="claude --permission-mode.",
        ),
        click.option(
            "--notify-on",
            help="Events that notify, comma-separated: start, success, failure, every-failure, "
            "retry, cooldown, recovery, or none (default failure,recovery).",
        ),
        click.option(
            "--notify",
            "notify_channels",
            multiple=True,
            help="Channel: webhook=URL, slack=URL, discord=URL, email=ADDR, system or log "
            "(repeatable; replaces the job's channels).",
        ),
        FORMAT,
    ]

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def _job_changes(options: dict[str, Any], *, create: bool) -> dict[str, Any]:
    """Turn CLI flags into job-file fields (only those given)."""
    from cnp_tui.errors import InvalidInputError

    changes: dict[str, Any] = {}
    kinds = [k for k in ("cron", "every", "at_time") if options.get(k)]
    if len(kinds) > 1:
        raise InvalidInputError("give only one of --cron, --every and --at")
    if create and not options.get("prompt_id"):
        raise InvalidInputError("a job needs a prompt: give --prompt-id ID")
    if create and not kinds:
        raise InvalidInputError(
            "a job needs a schedule: give --cron EXPR, --every DURATION or --at TIME"
        )
    if kinds:
        kind = kinds[0]
        schedule_type = {"cron": "cron", "every": "interval", "at_time": "once"}[kind]
        changes["schedule"] = {"type": schedule_type, "expression": options[kind]}
        if options.get("tz"):  # an update without --tz keeps the job's zone
            changes["schedule"]["timezone"] = options["tz"]
    elif options.get("tz"):
        changes["schedule"] = {"timezone": options["tz"]}
    if options.get("prompt_id"):
        changes["prompt_id"] = options["prompt_id"]
    for flag in ("priority", "tags", "catch_up"):
        if options.get(flag) not in (None, ()):
            changes[flag] = list(options[flag]) if flag == "tags" else options[flag]
    execution: dict[str, Any] = {}
    if options.get("timeout"):
        execution["timeout_seconds"] = options["timeout"]
    if options.get("workdir"):
        execution["working_directory"] = os.path.abspath(os.path.expanduser(options["workdir"]))
    if options.get("max_parallel") is not None:
        execution["max_parallel"] = options["max_parallel"]
    if options.get("env"):
        environment = {}
        for item in options["env"]:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise InvalidInputError(f"--env {item!r}: use KEY=VALUE")
            environment[key] = value
        execution["environment"] = environment
    claude_options: dict[str, Any] = {}
    for flag in ("model", "max_turns", "permission_mode"):
        if options.get(flag) is not None:
            claude_options[flag] = options[flag]
    if options.get("allowed_tools"):
        claude_options["allowed_tools"] = list(options["allowed_tools"])
    if claude_options:
        execution["claude"] = claude_options
    if execution:
        changes["execution_options"] = execution
    retry: dict[str, Any] = {}
    if options.get("max_attempts") is not None:
        retry["max_attempts"] = options["max_attempts"]
    if options.get("retry_strategy"):
        retry["strategy"] = options["retry_strategy"]
    if options.get("retry_interval"):
        retry["initial_interval"] = options["retry_interval"]
    if retry:
        changes["retry_config"] = retry
    notifications = _notify_changes(options)
    if notifications:
        changes["notification_config"] = notifications
    return changes


def _notify_changes(options: dict[str, Any]) -> dict[str, Any]:
    """--notify-on / --notify as a notification_config (the events given are on, others off)."""
    from cnp_tui.notify.channels import notification_changes

    channels = list(options.get("notify_channels") or [])
    return notification_changes(options.get("notify_on"), channels)


@job.command("create")
@click.argument("name", required=False)
@click.option(
    "--interactive", "-i", is_flag=True, help="Ask for each field, with defaults and checks."
)
@_job_options(create=True)
@pass_ctx
def job_create(obj: Context, name: str | None, interactive: bool, fmt: str, **options: Any) -> None:
    """Create a job that runs a prompt on a schedule (NAME is required unless --interactive)."""
    if interactive:
        spec = _interactive_spec(obj, name)
    else:
        if not name:
            from cnp_tui.errors import InvalidInputError

            raise InvalidInputError("give the job a NAME (or use --interactive)")
        spec = {"name": name, **_job_changes(options, create=True)}
    created: Job = obj.run(lambda s: s.create_job(spec))
    if fmt == "json":
        _json(_dump(created))
    else:
        click.echo(
            f"created job {created.id} '{created.name}': "
            f"{created.schedule.describe(obj.settings.scheduler.timezone)}; "
            f"next run {_when(created.next_run_time)}"
        )


@job.command("update")
@click.argument("job_ref", metavar="JOB")
@click.option("--name", help="New name.")
@_job_options(create=False)
@pass_ctx
def job_update(obj: Context, job_ref: str, name: str | None, fmt: str, **options: Any) -> None:
    """Change a job (only the options given)."""
    from cnp_tui.errors import InvalidInputError

    changes = _job_changes(options, create=False)
    if name:
        changes["name"] = name
    if not changes:
        raise InvalidInputError("nothing to update: give at least one option (see --help)")
    updated: Job = obj.run(lambda s: s.update_job(job_ref, changes), create=False)
    if fmt == "json":
        _json(_dump(updated))
    else:
        click.echo(
            f"updated job {updated.id} '{updated.name}'; next run {_when(updated.next_run_time)}"
        )


@job.command("list")
@click.option(
    "--status",
    type=click.Choice(["active", "paused", "completed"]),
    help="Only jobs in this status.",
)
@click.option("--tag", help="Only jobs with this tag.")
@FORMAT
@pass_ctx
def job_list(obj: Context, status: str | None, tag: str | None, fmt: str) -> None:
    """List jobs."""
    from cnp_tui.core.models import Job, JobStatus

    wanted = JobStatus(status) if status else None
    if fmt == "json" and _json_indent() is None:
        # Piped to a script: stream one job at a time (constant memory, fast on 10,000 jobs).
        documents: Iterator[str] = obj.run(lambda s: s.list_jobs_json(status=wanted, tag=tag))
        out = sys.stdout
        out.write("[")
        for index, document in enumerate(documents):
            if index:
                out.write(",")
            out.write(document)
        out.write("]\n")
        return
    jobs: list[Job] = obj.run(lambda s: s.list_jobs(status=wanted, tag=tag))
    if fmt == "json":
        from pydantic import TypeAdapter

        click.echo(TypeAdapter(list[Job]).dump_json(jobs, indent=2).decode())
        return
    if not jobs:
        click.echo(
            "no jobs" + (" match" if status or tag else " yet: create one with `cnp job create`")
        )
        return
    _table(
        ["ID", "NAME", "STATUS", "PRI", "SCHEDULE", "NEXT RUN", "LAST", "RUNS", "OK%", "TAGS"],
        [
            [
                j.id,
                j.name,
                j.status.value,
                j.priority,
                _schedule_text(j),
                _when(j.next_run_time),
                j.last_status.value if j.last_status else None,
                j.execution_count,
                None if j.success_rate is None else f"{100 * j.success_rate:.0f}",
                ",".join(j.tags),
            ]
            for j in jobs
        ],
    )


def _schedule_text(job: Job) -> str:
    text = job.schedule.expression
    if job.schedule.timezone:
        text += f" ({job.schedule.timezone})"
    return text


@job.command("show")
@click.argument("job_ref", metavar="JOB")
@FORMAT
@pass_ctx
def job_show(obj: Context, job_ref: str, fmt: str) -> None:
    """Show a job's configuration, statistics and next runs."""
    found: Job = obj.run(lambda s: s.get_job(job_ref), create=False)
    if fmt == "json":
        _json(_dump(found))
        return
    from cnp_tui.core.schedule import next_fire_times

    tz = obj.settings.scheduler.timezone
    trigger = found.schedule.trigger(found.created_at, tz)
    upcoming = (
        next_fire_times(trigger, datetime.now(UTC), 3) if found.status.value == "active" else []
    )
    options = found.execution_options
    retry = found.retry_config
    _fields(
        [
            ("id", found.id),
            ("name", found.name),
            ("status", found.status.value),
            ("prompt", found.prompt_id),
            ("priority", found.priority),
            (
                "schedule",
                f"{found.schedule.type.value} {found.schedule.expression!r}: "
                f"{found.schedule.describe(tz)}",
            ),
            ("next runs", ", ".join(_when(t) for t in upcoming) or "-"),
            ("catch-up", found.catch_up.value),
            ("timeout", options.timeout_seconds and f"{options.timeout_seconds:g}s"),
            ("max parallel", options.max_parallel),
            ("workdir", options.working_directory),
            (
                "retry",
                f"{retry.max_attempts} attempts, {retry.strategy.value}, "
                f"first delay {retry.initial_interval:g}s",
            ),
            ("tags", ", ".join(found.tags)),
            ("runs", f"{found.execution_count} ({found.failure_count} failed)"),
            (
                "success rate",
                None if found.success_rate is None else f"{100 * found.success_rate:.1f}%",
            ),
            (
                "avg duration",
                None
                if found.avg_execution_time_ms is None
                else f"{found.avg_execution_time_ms / 1000:.1f}s",
            ),
            (
                "last run",
                f"{_when(found.last_run_time)} "
                f"{found.last_status.value if found.last_status else ''}",
            ),
            ("created", _when(found.created_at)),
            ("updated", _when(found.updated_at)),
        ]
    )


@job.command("delete")
@click.argument("job_ref", metavar="JOB")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@FORMAT
@pass_ctx
def job_delete(obj: Context, job_ref: str, yes: bool, fmt: str) -> None:
    """Delete a job and its execution history."""
    found: Job = obj.run(lambda s: s.get_job(job_ref), create=False)
    if not yes:
        if not sys.stdin.isatty():
            from cnp_tui.errors import InvalidInputError

            raise InvalidInputError(
                f"refusing to delete job '{found.name}' without --yes (no terminal to ask)"
            )
        click.confirm(f"Delete job '{found.name}' ({found.id}) and its history?", abort=True)
    obj.run(lambda s: s.delete_job(found.id), create=False)
    if fmt == "json":
        _json({"deleted": "job", "id": found.id, "name": found.name})
        return
    click.echo(f"deleted job {found.id} '{found.name}'")


@job.command("pause")
@click.argument("job_ref", metavar="JOB")
@FORMAT
@pass_ctx
def job_pause(obj: Context, job_ref: str, fmt: str) -> None:
    """Stop scheduling a job (running executions finish)."""
    paused: Job = obj.run(lambda s: s.pause_job(job_ref), create=False)
    if fmt == "json":
        _json(_dump(paused))
        return
    click.echo(f"paused job {paused.id} '{paused.name}'")


@job.command("resume")
@click.argument("job_ref", metavar="JOB")
@FORMAT
@pass_ctx
def job_resume(obj: Context, job_ref: str, fmt: str) -> None:
    """Schedule a paused job again (missed slots are not caught up)."""
    resumed: Job = obj.run(lambda s: s.resume_job(job_ref), create=False)
    if fmt == "json":
        _json(_dump(resumed))
        return
    click.echo(
        f"resumed job {resumed.id} '{resumed.name}'; next run {_when(resumed.next_run_time)}"
    )


@job.command("execute")
@click.argument("job_ref", metavar="JOB")
@click.option(
    "--wait", is_flag=True, help="Follow the log; exit 0 only on success (75: usage limit)."
)
@FORMAT
@pass_ctx
def job_execute(obj: Context, job_ref: str, wait: bool, fmt: str) -> None:
    """Run a job now (queued for the engine; with no engine, --wait runs it here)."""
    from cnp_tui.follow import execute_and_wait

    if not wait:
        execution: Execution = obj.run(lambda s: s.execute_job(job_ref), create=False)
        if fmt == "json":
            _json(_dump(execution))
        else:
            click.echo(
                f"queued execution {execution.id}; follow it with "
                f"`cnp execution logs {execution.id} --follow`"
            )
        return
    final = _run(execute_and_wait(obj.paths, obj.settings, job_ref, echo=fmt != "json"))
    if fmt == "json":
        _json(_dump(final))
    sys.exit(_exit_code(final))


def _exit_code(execution: Execution) -> int:
    status = execution.status.value
    if status == "completed":
        return 0
    if status == "queued":
        return EXIT_USAGE_LIMIT
    return 1


@job.command("history")
@click.argument("job_ref", metavar="JOB")
@click.option(
    "--last", type=click.IntRange(min=1), default=10, show_default=True, help="How many executions."
)
@FORMAT
@pass_ctx
def job_history(obj: Context, job_ref: str, last: int, fmt: str) -> None:
    """A job's executions, newest first."""
    executions: list[Execution] = obj.run(lambda s: s.history(job_ref, last=last), create=False)
    if fmt == "json":
        _json([_dump(e) for e in executions])
        return
    if not executions:
        click.echo("no executions yet")
        return
    _executions_table(executions)


def _executions_table(executions: Sequence[Execution]) -> None:
    _table(
        ["ID", "STATUS", "TRIGGER", "TRY", "STARTED", "DURATION", "COST", "ERROR"],
        [
            [
                e.id,
                e.status.value,
                e.trigger.value,
                e.attempt,
                _when(e.started_at),
                None if e.execution_time_ms is None else f"{e.execution_time_ms / 1000:.1f}s",
                None if e.cost_usd is None else f"${e.cost_usd:.4f}",
                _excerpt(e.error, 60),
            ]
            for e in executions
        ],
    )


@job.command("monitor")
@click.argument("job_ref", metavar="JOB")
@click.option(
    "--follow", "-f", is_flag=True, help="Keep watching: new executions and their logs as they run."
)
@pass_ctx
def job_monitor(obj: Context, job_ref: str, follow: bool) -> None:
    """A job's status and latest log in the plain terminal."""
    from cnp_tui.follow import monitor_job

    _run(monitor_job(obj.paths, obj.settings, job_ref, follow=follow))


# --- executions --------------------------------------------------------------------------


@main.group()
def execution() -> None:
    """Show, follow and cancel executions."""


@execution.command("show")
@click.argument("execution_ref", metavar="ID")
@FORMAT
@pass_ctx
def execution_show(obj: Context, execution_ref: str, fmt: str) -> None:
    """Show an execution's result."""
    found: Execution = obj.run(lambda s: s.get_execution(execution_ref), create=False)
    if fmt == "json":
        _json(_dump(found))
        return
    usage = found.usage
    resources = found.resource_usage
    _fields(
        [
            ("id", found.id),
            ("job", found.job_id),
            ("status", found.status.value),
            ("trigger", found.trigger.value),
            ("attempt", found.attempt),
            ("scheduled for", _when(found.scheduled_for)),
            ("started", _when(found.started_at)),
            ("completed", _when(found.completed_at)),
            (
                "duration",
                None
                if found.execution_time_ms is None
                else f"{found.execution_time_ms / 1000:.2f}s",
            ),
            ("exit code", found.exit_code),
            ("session", found.session_id),
            ("cost", None if found.cost_usd is None else f"${found.cost_usd:.4f}"),
            (
                "tokens",
                usage
                and f"{usage.input_tokens} in, {usage.output_tokens} out, "
                f"{usage.cache_read_input_tokens} cache read",
            ),
            ("turns", found.num_turns),
            (
                "resources",
                resources
                and f"peak {resources.peak_rss_mb} MB, "
                f"{resources.cpu_seconds} CPU s, avg {resources.avg_cpu_percent}%",
            ),
            ("retry of", found.retry_of),
            ("error", found.error),
            (
                "log",
                f"{found.log_lines} lines"
                + (f" ({found.log_dropped} dropped)" if found.log_dropped else ""),
            ),
        ]
    )
    if found.output:
        click.echo()
        click.echo(found.output)


@execution.command("logs")
@click.argument("execution_ref", metavar="ID")
@click.option("--follow", "-f", is_flag=True, help="Keep printing lines until the execution ends.")
@format_option("text", "json: one JSON object per line (execution_id, seq, ts, stream, text).")
@pass_ctx
def execution_logs(obj: Context, execution_ref: str, follow: bool, fmt: str) -> None:
    """Print an execution's log."""
    from cnp_tui.follow import print_logs

    _run(print_logs(obj.paths, obj.settings, execution_ref, follow=follow, as_json=fmt == "json"))


@execution.command("cancel")
@click.argument("execution_ref", metavar="ID")
@FORMAT
@pass_ctx
def execution_cancel(obj: Context, execution_ref: str, fmt: str) -> None:
    """Cancel a queued or running execution."""
    outcome = obj.run(lambda s: s.cancel_execution(execution_ref), create=False)
    if fmt == "json":
        # "cancelled": done here; "requested": the engine running it stops it.
        _json({"id": execution_ref, "outcome": outcome})
        return
    if outcome == "cancelled":
        click.echo(f"cancelled execution {execution_ref}")
    else:
        click.echo(f"asked the engine to cancel execution {execution_ref}")


# --- engine state ------------------------------------------------------------------------


@main.command("status")
@FORMAT
@pass_ctx
def status_command(obj: Context, fmt: str) -> None:
    """The engine owning the database, the queue, running executions and the cooldown."""
    state = obj.run(lambda s: s.status())
    if fmt == "json":
        _json(_dump(state))
        return
    engine = state.engine
    _fields(
        [
            (
                "engine",
                f"running, pid {engine.pid} on {engine.host} since {_when(engine.started_at)}"
                if engine.running
                else "not running (start it with `cnp --no-ui`)",
            ),
            ("jobs", ", ".join(f"{n} {s}" for s, n in sorted(state.jobs.items())) or "none"),
            ("queued", state.queued),
            ("running", state.running),
            (
                "cooldown",
                f"until {_when(state.cooldown.until)} "
                f"({_countdown(state.cooldown_seconds_left)} left): "
                f"{_excerpt(state.cooldown.reason, 80)}"
                if state.cooldown
                else "none",
            ),
        ]
    )


def _countdown(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


@main.command("cooldown")
@click.option("--clear", is_flag=True, help="End the cooldown now (dispatch resumes at once).")
@FORMAT
@pass_ctx
def cooldown_command(obj: Context, clear: bool, fmt: str) -> None:
    """Show (or clear) the usage-limit cooldown."""
    if clear:
        cleared = obj.run(lambda s: s.clear_cooldown())
        click.echo("cooldown cleared" if cleared else "no cooldown to clear")
        return
    active = obj.run(lambda s: s.active_cooldown())
    if fmt == "json":
        _json(_dump(active) if active else None)
    elif active is None:
        click.echo("no cooldown: executions start as scheduled")
    else:
        left = (active.until - datetime.now(UTC)).total_seconds()
        click.echo(
            f"cooldown until {_when(active.until)} ({_countdown(left)} left): {active.reason}"
        )


def format_log_line(line: LogLine, *, color: bool) -> str:
    """One log line for a terminal: time, a marker for the stream, the text."""
    marks = {
        "tool": "→ ",
        "tool_result": "  ",
        "stderr": "! ",
        "engine": "# ",
        "system": "· ",
        "result": "= ",
    }
    text = f"{line.ts.astimezone():%H:%M:%S} {marks.get(line.stream, '')}{line.text}"
    if not color:
        return text
    colors = {
        "tool": "cyan",
        "stderr": "red",
        "engine": "yellow",
        "system": "bright_black",
        "result": "green",
        "tool_result": "bright_black",
    }
    return click.style(text, fg=colors.get(line.stream))


# --- API ---------------------------------------------------------------------------------


def _enable_api(obj: Context, bind: str) -> None:
    """Apply ``--api [HOST:]PORT`` over the config's [api] section."""
    from cnp_tui.config import parse_bind

    host, port = parse_bind(bind)
    settings = obj.settings
    update: dict[str, Any] = {"enabled": True, "port": port}
    if host:
        update["host"] = host
    settings.api = settings.api.model_copy(update=update)


@main.group("api")
def api_group() -> None:
    """The REST + WebSocket API (served by `cnp --no-ui --api PORT`)."""


@api_group.command("token")
@pass_ctx
def api_token(obj: Context) -> None:
    """Print the API's bearer token (generated into the home if there is none yet)."""
    from cnp_tui.api.auth import read_token, token_path

    token = read_token(obj.paths, obj.settings.api, create=True)
    click.echo(token)
    if not obj.settings.api.token_env:
        click.echo(f"(stored in {token_path(obj.paths)}, mode 0600)", err=True)


# --- notifications -----------------------------------------------------------------------


@main.group()
def notify() -> None:
    """See, retry and test notifications (the outbox)."""


def _notifications_table(items: Sequence[Any]) -> None:
    _table(
        ["ID", "CREATED", "EVENT", "CHANNEL", "STATUS", "TRIES", "SUBJECT / LAST ERROR"],
        [
            (
                item.id,
                _when(item.created_at),
                item.event,
                _excerpt(item.channel.describe(), 40),
                item.status.value,
                item.attempts,
                _excerpt(item.subject + (f" — {item.last_error}" if item.last_error else ""), 70),
            )
            for item in items
        ],
    )


@notify.command("list")
@click.option("--failed", is_flag=True, help="Only notifications that gave up.")
@click.option("--execution", "execution_ref", metavar="ID", help="Only those of one execution.")
@click.option("--last", type=int, default=50, show_default=True, help="How many, newest first.")
@FORMAT
@pass_ctx
def notify_list(obj: Context, failed: bool, execution_ref: str | None, last: int, fmt: str) -> None:
    """List notifications and how their delivery went."""
    items: list[Any] = obj.run(
        lambda s: s.list_notifications(execution_ref=execution_ref, failed=failed, limit=last),
        create=False,
    )
    if fmt == "json":
        _json([item.public() for item in items])
    elif not items:
        click.echo("no notifications" + (" failed" if failed else ""))
    else:
        _notifications_table(items)


@notify.command("retry")
@click.argument("notification_id", metavar="ID", type=int)
@FORMAT
@pass_ctx
def notify_retry(obj: Context, notification_id: int, fmt: str) -> None:
    """Deliver a failed notification again (the running engine sends it)."""
    item = obj.run(lambda s: s.retry_notification(notification_id), create=False)
    if fmt == "json":
        _json(item.public())
    else:
        click.echo(
            f"notification {item.id} is due again; the engine delivers it "
            "(start `cnp --no-ui` if none runs)"
        )


@notify.command("test")
@click.option(
    "--channel",
    "channel_spec",
    required=True,
    help="webhook=URL, slack=URL, discord=URL, email=ADDR, system or log.",
)
@FORMAT
@pass_ctx
def notify_test(obj: Context, channel_spec: str, fmt: str) -> None:
    """Send a sample notification now, to check a channel's setup."""
    from cnp_tui.notify.outbox import NotificationStatus

    item = obj.run(lambda s: s.test_notification(channel_spec))
    if fmt == "json":
        _json(item.public())
    elif item.status is NotificationStatus.SENT:
        click.echo(f"sent a test notification to {item.channel.describe()}")
    if item.status is not NotificationStatus.SENT:
        if fmt != "json":
            click.secho(
                f"cnp: the test notification to {item.channel.describe()} failed: "
                f"{item.last_error}",
                err=True,
                fg="red",
            )
        sys.exit(1)


# --- job files, batch operations, interactive create (issue 6) ---------------------------


@job.command("batch-create")
@click.option(
    "--file", "file", required=True, type=click.Path(dir_okay=False), help="Job file (- = stdin)."
)
@click.option("--dry-run", is_flag=True, help="Check everything, create nothing.")
@FORMAT
@pass_ctx
def job_batch_create(obj: Context, file: str, dry_run: bool, fmt: str) -> None:
    """Create every job of a YAML file, or none of them if any is wrong."""
    from cnp_tui.jobfiles import load_job_file

    loaded = load_job_file(file)
    jobs: list[Job] = obj.run(
        lambda s: s.batch_create(loaded.documents, dry_run=dry_run, source=loaded.source)
    )
    if fmt == "json":
        _json({"dry_run": dry_run, "jobs": [_dump(j) for j in jobs]})
        return
    verb = "would create" if dry_run else "created"
    for created in jobs:
        click.echo(
            f"{verb} job '{created.name}': "
            f"{created.schedule.describe(obj.settings.scheduler.timezone)}"
            + ("" if dry_run else f"; next run {_when(created.next_run_time)}")
        )
    click.echo(f"{len(jobs)} job(s) {verb}" + (" (dry run: nothing changed)" if dry_run else ""))


@job.command("apply")
@click.option(
    "--file", "file", required=True, type=click.Path(dir_okay=False), help="Job file (- = stdin)."
)
@click.option("--prune", is_flag=True, help="Also delete jobs that the file does not name.")
@click.option("--dry-run", is_flag=True, help="Show what would change, change nothing.")
@FORMAT
@pass_ctx
def job_apply(obj: Context, file: str, prune: bool, dry_run: bool, fmt: str) -> None:
    """Make the jobs match a YAML file, by name: create, update (and with --prune, delete)."""
    from cnp_tui.jobfiles import load_job_file

    loaded = load_job_file(file)
    result = obj.run(
        lambda s: s.apply_documents(
            loaded.documents, prune=prune, dry_run=dry_run, source=loaded.source
        )
    )
    if fmt == "json":
        _json(_dump(result))
        return
    would = "would be " if dry_run else ""
    for change in result.prompts:
        click.echo(f"prompt {change.id}: {would}{change.action}")
    for name in result.created:
        click.echo(f"+ {name}: {would}created")
    for change in result.updated:
        click.echo(f"~ {change.name}: {would}updated ({', '.join(change.fields)})")
    for name in result.unchanged:
        click.echo(f"= {name}: unchanged")
    for name in result.deleted:
        click.echo(f"- {name}: {would}deleted")
    click.echo(
        f"{len(result.created)} created, {len(result.updated)} updated, "
        f"{len(result.unchanged)} unchanged, {len(result.deleted)} deleted"
        + (" (dry run: nothing changed)" if dry_run else "")
    )


@job.command("export")
@click.option("--tag", help="Only jobs with this tag.")
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False),
    help="Write to this file (default: stdout).",
)
@click.option("--force", is_flag=True, help="Overwrite --file if it exists.")
@pass_ctx
def job_export(obj: Context, tag: str | None, file: str | None, force: bool) -> None:
    """Write jobs (with their prompts inline) as a YAML job file; apply it back as is."""
    from pathlib import Path

    from cnp_tui.errors import InvalidInputError
    from cnp_tui.jobfiles import dump_documents

    documents = obj.run(lambda s: s.export_documents(tag))
    header = (
        f"cnp jobs{f' tagged {tag}' if tag else ''}, exported "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; apply with `cnp job apply --file FILE`"
    )
    text = dump_documents(documents, header) if documents else f"# {header}\n[]\n"
    if file is None:
        click.echo(text, nl=False)
        return
    target = Path(file)
    if target.exists() and not force:
        raise InvalidInputError(f"{target} exists", hint="give --force to overwrite it")
    target.write_text(text, encoding="utf-8")
    click.echo(f"exported {len(documents)} job(s) to {target}", err=True)


def _selection(status: str | None, tag: str | None) -> dict[str, Any]:
    return {"status": status, "tag": tag}


STATUS_OPTION = click.option(
    "--status",
    type=click.Choice(["active", "paused", "completed", "running"]),
    help="Only jobs in this status (running: jobs with an execution running now).",
)
TAG_OPTION = click.option("--tag", help="Only jobs with this tag.")


@job.command("batch-execute")
@TAG_OPTION
@STATUS_OPTION
@FORMAT
@pass_ctx
def job_batch_execute(obj: Context, tag: str | None, status: str | None, fmt: str) -> None:
    """Queue a run now of every job with a tag (and/or status)."""
    queued = obj.run(lambda s: s.batch_execute(**_selection(status, tag)), create=False)
    if fmt == "json":
        _json([{"job": j.name, "execution": _dump(e)} for j, e in queued])
        return
    for found, execution in queued:
        click.echo(f"queued execution {execution.id} of job '{found.name}'")
    click.echo(f"{len(queued)} execution(s) queued" if queued else "no job matches: nothing queued")


def _batch_output(result: Any, fmt: str) -> None:
    if fmt == "json":
        _json(_dump(result))
        return
    past = {"pause": "paused", "resume": "resumed"}[result.action]
    for name in result.done:
        click.echo(f"{past} job '{name}'")
    for skip in result.skipped:
        click.echo(f"left job '{skip.name}' as it is ({skip.reason})")
    click.echo(f"{len(result.done)} job(s) {past}, {len(result.skipped)} left as they were")


@job.command("batch-pause")
@TAG_OPTION
@STATUS_OPTION
@FORMAT
@pass_ctx
def job_batch_pause(obj: Context, tag: str | None, status: str | None, fmt: str) -> None:
    """Pause every job with a tag (and/or status); safe to repeat."""
    _batch_output(obj.run(lambda s: s.batch_pause(**_selection(status, tag)), create=False), fmt)


@job.command("batch-resume")
@TAG_OPTION
@STATUS_OPTION
@FORMAT
@pass_ctx
def job_batch_resume(obj: Context, tag: str | None, status: str | None, fmt: str) -> None:
    """Resume every paused job with a tag (and/or status); safe to repeat."""
    _batch_output(obj.run(lambda s: s.batch_resume(**_selection(status, tag)), create=False), fmt)


def _ask(text: str, check: Callable[[str], Any], default: str | None = None) -> Any:
    """click.prompt until ``check`` accepts the answer (its error is shown, then asked again)."""
    from pydantic import ValidationError

    from cnp_tui.errors import CnpError

    while True:
        answer = click.prompt(text, default=default, show_default=default is not None)
        try:
            return check(str(answer).strip())
        except (ValueError, CnpError) as exc:
            message = str(exc)
            if isinstance(exc, ValidationError):
                message = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
            click.echo(f"  {message}", err=True)


def _interactive_spec(obj: Context, name: str | None) -> dict[str, Any]:
    """Ask for each field of a job, checking each answer; confirm with the next fire times."""
    from cnp_tui.core.durations import parse_duration
    from cnp_tui.core.models import RetryConfig, Schedule, ScheduleType
    from cnp_tui.core.schedule import next_fire_times
    from cnp_tui.errors import InvalidInputError

    prompts: list[Prompt] = obj.run(lambda s: s.list_prompts())
    if not prompts:
        raise InvalidInputError(
            "there are no prompts yet", hint="create one with `cnp prompt create TITLE --content`"
        )
    known = {p.id for p in prompts}

    def prompt_id(answer: str) -> str:
        if answer not in known:
            raise InvalidInputError(
                f"no prompt '{answer}'; choose one of {', '.join(sorted(known))}"
            )
        return answer

    def non_empty(answer: str) -> str:
        if not answer:
            raise InvalidInputError("the name is empty")
        return answer

    def schedule_type(answer: str) -> ScheduleType:
        if answer.lower() not in {t.value for t in ScheduleType}:
            raise InvalidInputError(f"'{answer}' is not a schedule type: cron, interval or once")
        return ScheduleType(answer.lower())

    if not name:
        name = _ask("Job name", non_empty)
    click.echo("Prompts: " + ", ".join(f"{p.id} ({p.title})" for p in prompts))
    chosen_prompt = _ask("Prompt id", prompt_id, prompts[0].id)
    tz_default = obj.settings.scheduler.timezone
    while True:
        kind = _ask("Schedule type (cron, interval, once)", schedule_type, "cron")
        examples = {"cron": "0 9 * * 1-5", "interval": "every 30m", "once": "2030-01-01T09:00"}
        expression = _ask("Expression", lambda a: a, examples[kind.value])
        zone = _ask("Time zone", lambda a: a, tz_default)
        try:
            schedule = Schedule(type=kind, expression=expression, timezone=zone)
        except (ValueError, InvalidInputError) as exc:
            click.echo(f"  {_plain_error(exc)}", err=True)
            continue
        now = datetime.now(UTC)
        upcoming = next_fire_times(schedule.trigger(now, tz_default), now, 3)
        click.echo(f"  {schedule.describe(tz_default)}")
        click.echo("  next runs: " + (", ".join(_when(t) for t in upcoming) or "none"))
        if click.confirm("Use this schedule?", default=True):
            break

    def priority(answer: str) -> int:
        value = int(answer)
        if not 1 <= value <= 10:
            raise InvalidInputError("the priority is 1-10")
        return value

    chosen_priority = _ask("Priority (1-10, 10 runs first)", priority, "5")
    timeout = _ask(
        "Timeout (e.g. 15m; empty = [executor] default_timeout)",
        lambda a: parse_duration(a) if a not in ("", "-") else None,
        "-",
    )
    attempts = _ask(
        "Attempts in all (1 = no retry)",
        lambda a: RetryConfig(max_attempts=int(a)).max_attempts,
        "3",
    )
    tags = _ask(
        "Tags (comma-separated, - for none)",
        lambda a: [t.strip() for t in a.split(",") if t.strip() and a != "-"],
        "-",
    )
    spec: dict[str, Any] = {
        "name": name,
        "prompt_id": chosen_prompt,
        "schedule": schedule.model_dump(mode="json"),
        "priority": chosen_priority,
        "retry": {"max_attempts": attempts},
        "tags": tags,
    }
    if timeout is not None:
        spec["execution"] = {"timeout_seconds": timeout}
    click.echo(
        f"Job '{name}': prompt {chosen_prompt}; {schedule.describe(tz_default)}; "
        f"priority {chosen_priority}; {attempts} attempt(s)"
        + (f"; tags {', '.join(tags)}" if tags else "")
    )
    if not click.confirm("Create it?", default=True):
        click.echo("not created", err=True)
        sys.exit(1)
    return spec


def _plain_error(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
    return str(exc)


# --- global config (issue 6) -------------------------------------------------------------


@main.group("config")
def config_group() -> None:
    """Show, check and create the global config file (claude-pilot.toml)."""


@config_group.command("show")
@FORMAT
@pass_ctx
def config_show(obj: Context, fmt: str) -> None:
    """Every setting in force, and where its value comes from (default, file, env)."""
    from pydantic import BaseModel

    from cnp_tui.config import is_duration, setting_sources, toml_value
    from cnp_tui.core.durations import format_duration

    settings = obj.settings
    sources = setting_sources(obj.paths.config_file)
    rows = []

    def add_rows(name: str, values: BaseModel, source: Callable[[str], str]) -> None:
        for key, info in type(values).model_fields.items():
            value = getattr(values, key)
            if isinstance(value, BaseModel):
                nested = source(key)  # a nested table ([notifications.smtp]) keeps its source
                add_rows(f"{name}.{key}", value, lambda _key, nested=nested: nested)
                continue
            shown: Any = value
            if is_duration(info) and value is not None:
                shown = format_duration(value)
            elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
                shown = [item.model_dump(mode="json", exclude_none=True) for item in value]
            readable = isinstance(shown, int | float | str) and not isinstance(shown, bool)
            if fmt != "json" and shown is not None and not readable:
                shown = toml_value(shown)  # lists, tables and booleans as TOML writes them
            rows.append({"key": f"{name}.{key}", "value": shown, "source": source(key)})

    for section in type(settings).model_fields:
        add_rows(
            section,
            getattr(settings, section),
            lambda key, section=section: sources[(section, key)],
        )
    if fmt == "json":
        _json({"config_file": obj.paths.config_file and str(obj.paths.config_file), "keys": rows})
        return
    click.echo(f"config file: {obj.paths.config_file or '(none: defaults and environment)'}")
    _table(["KEY", "VALUE", "SOURCE"], [[r["key"], r["value"], r["source"]] for r in rows])


@config_group.command("validate")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@FORMAT
@pass_ctx
def config_validate(obj: Context, file: str | None, fmt: str) -> None:
    """Check a config file (default: the one in force); errors name key, line and a fix."""
    from pathlib import Path

    from cnp_tui.config import load_settings
    from cnp_tui.errors import ConfigError

    path = Path(file) if file else obj.paths.config_file
    if path is None:
        raise ConfigError(
            "no config file to check: none given and none found",
            hint="create one with `cnp config init`",
        )
    try:
        load_settings(path, environ={})  # the file alone: env overrides are not part of it
    except ConfigError as exc:
        if fmt == "json":
            _json({"file": str(path), "valid": False, "problems": exc.problems or [str(exc)]})
            sys.exit(exc.exit_code)
        if not exc.problems:
            raise
        click.secho(f"cnp: {path}: {len(exc.problems)} problem(s):", err=True, fg="red")
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(exc.exit_code)
    if fmt == "json":
        _json({"file": str(path), "valid": True, "problems": []})
        return
    click.echo(f"{path}: valid")


@config_group.command("init")
@click.option("--file", "file", type=click.Path(dir_okay=False), help="Where to write it.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def config_init(file: str | None, force: bool) -> None:
    """Write a commented config file with every key at its default."""
    from pathlib import Path

    from cnp_tui.config import default_config_text
    from cnp_tui.errors import ConflictError
    from cnp_tui.paths import CONFIG_NAME, default_config_dir

    target = Path(file).expanduser() if file else default_config_dir() / CONFIG_NAME
    if target.exists() and not force:
        raise ConflictError(f"{target} exists", hint="give --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(default_config_text(), encoding="utf-8")
    click.echo(f"wrote {target}")


# --- database maintenance (issue 6) ------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Back up and compact the database."""


@db_group.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@FORMAT
@pass_ctx
def db_backup(obj: Context, file: str, force: bool, fmt: str) -> None:
    """Copy the database to FILE (SQLite online backup: safe while the engine runs)."""
    from pathlib import Path

    from cnp_tui.store.maintenance import backup_database

    result = backup_database(obj.paths.database, Path(file), overwrite=force)
    if fmt == "json":
        _json(
            {
                "path": str(result.path),
                "size_bytes": result.size_bytes,
                "jobs": result.jobs,
                "executions": result.executions,
            }
        )
        return
    click.echo(
        f"backed up {obj.paths.database} to {result.path} ({result.size_bytes} bytes, "
        f"{result.jobs} jobs, {result.executions} executions)"
    )


@db_group.command("vacuum")
@FORMAT
@pass_ctx
def db_vacuum(obj: Context, fmt: str) -> None:
    """Rebuild the database file to give freed space back to the disk."""
    from cnp_tui.store.maintenance import vacuum_database

    before, after = vacuum_database(obj.paths.database)
    if fmt == "json":
        _json({"path": str(obj.paths.database), "before_bytes": before, "after_bytes": after})
        return
    click.echo(f"vacuumed {obj.paths.database}: {before} -> {after} bytes")


# --- dashboard and demo --------------------------------------------------------------------


def _open_dashboard(paths: Paths, settings: Settings, theme: str | None) -> None:
    """Run the Textual dashboard (imported here: other commands never load textual)."""
    from cnp_tui.ui.app import CnpApp

    CnpApp(paths, settings, theme=theme).run()


@main.command("demo")
@click.option("--no-ui", "demo_no_ui", is_flag=True, help="Run the demo engine headless.")
@click.option("--theme", help="Dashboard theme.")
@click.option(
    "--keep", is_flag=True, help="Keep the throwaway home afterwards (its path is printed)."
)
def demo_command(demo_no_ui: bool, theme: str | None, keep: bool) -> None:
    """Try cnp: sample prompts and jobs against the bundled simulator, in a throwaway home."""
    import shutil
    import tempfile
    from pathlib import Path

    from cnp_tui.demo import demo_settings, seed_demo
    from cnp_tui.paths import Paths

    home = Path(tempfile.mkdtemp(prefix="cnp-demo-"))
    paths = Paths(home=home, config_file=None)
    settings = demo_settings()
    click.echo(f"cnp demo: throwaway home {home}", err=True)
    try:
        _run(seed_demo(paths, settings))
        if demo_no_ui:
            import logging

            from cnp_tui.engine.runtime import run_headless

            logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
            sys.exit(_run(run_headless(paths, settings)))
        _open_dashboard(paths, settings, theme)
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
