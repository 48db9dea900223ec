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
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from cnp_tui.config import Settings
    from cnp_tui.core.models import Execution, Job, LogLine, Prompt
    from cnp_tui.paths import Paths
    from cnp_tui.service import JobService

T = TypeVar("T")

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

FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format; json is for scripts.",
)


def _json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


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
@click.option("--theme", help="Dashboard theme (default: [ui] theme, cnp-dark).")
@click.version_option(package_name="cnp-tui", prog_name="cnp")
@click.pass_context
def main(
    ctx: click.Context, home: str | None, config: str | None, no_ui: bool, theme: str | None
) -> None:
    """cnp: run Claude Code prompts on schedules, unattended.

    Without a command, `cnp` opens the dashboard (with the engine in the same process, or
    attached to the engine that owns the database); `cnp --no-ui` runs the engine headless.
    """
    ctx.obj = Context(home, config)
    if ctx.invoked_subcommand is not None:
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
        sys.exit(_run(run_headless(obj.paths, obj.settings)))
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
@pass_ctx
def prompt_delete(obj: Context, prompt_id: str) -> None:
    """Delete a prompt that no job uses."""
    obj.run(lambda s: s.delete_prompt(prompt_id), create=False)
    click.echo(f"deleted prompt {prompt_id}")


# --- jobs --------------------------------------------------------------------------------


@main.group()
def job() -> None:
    """Create, list and drive jobs."""


def _job_options(create: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    options = [
        click.option("--prompt-id", required=create, help="Id of the prompt to run."),
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
    return changes


@job.command("create")
@click.argument("name")
@_job_options(create=True)
@pass_ctx
def job_create(obj: Context, name: str, fmt: str, **options: Any) -> None:
    """Create a job that runs a prompt on a schedule."""
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

    jobs: list[Job] = obj.run(
        lambda s: s.list_jobs(status=JobStatus(status) if status else None, tag=tag)
    )
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
@pass_ctx
def job_delete(obj: Context, job_ref: str, yes: bool) -> None:
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
    click.echo(f"deleted job {found.id} '{found.name}'")


@job.command("pause")
@click.argument("job_ref", metavar="JOB")
@pass_ctx
def job_pause(obj: Context, job_ref: str) -> None:
    """Stop scheduling a job (running executions finish)."""
    paused: Job = obj.run(lambda s: s.pause_job(job_ref), create=False)
    click.echo(f"paused job {paused.id} '{paused.name}'")


@job.command("resume")
@click.argument("job_ref", metavar="JOB")
@pass_ctx
def job_resume(obj: Context, job_ref: str) -> None:
    """Schedule a paused job again (missed slots are not caught up)."""
    resumed: Job = obj.run(lambda s: s.resume_job(job_ref), create=False)
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
@pass_ctx
def execution_logs(obj: Context, execution_ref: str, follow: bool) -> None:
    """Print an execution's log."""
    from cnp_tui.follow import print_logs

    _run(print_logs(obj.paths, obj.settings, execution_ref, follow=follow))


@execution.command("cancel")
@click.argument("execution_ref", metavar="ID")
@pass_ctx
def execution_cancel(obj: Context, execution_ref: str) -> None:
    """Cancel a queued or running execution."""
    outcome = obj.run(lambda s: s.cancel_execution(execution_ref), create=False)
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
