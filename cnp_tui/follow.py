"""Following executions from a plain terminal: ``execute --wait``, ``logs --follow``, ``monitor``.

A client follows through the database: it prints the stored lines after the last seq it has
seen and looks again when ``PRAGMA data_version`` says another process committed, so it works
the same whether the engine runs in another process or (``execute --wait`` with no engine)
in this one.
"""

from __future__ import annotations

import asyncio
import sys

import click

from cnp_tui.config import Settings
from cnp_tui.core.events import Event, LogLinesAppended
from cnp_tui.core.models import Execution, ExecutionStatus, LogLine
from cnp_tui.engine.claude import resolve_executable
from cnp_tui.engine.executor import check_working_directory
from cnp_tui.errors import EngineAlreadyRunningError
from cnp_tui.paths import Paths
from cnp_tui.service import JobService

POLL_SECONDS = 0.2


def _echo_lines(lines: list[LogLine] | tuple[LogLine, ...], *, as_json: bool = False) -> None:
    """Print log lines for a person, or as JSON Lines (one object per line) for a script."""
    if as_json:
        for line in lines:
            click.echo(line.model_dump_json())
        return
    from cnp_tui.cli import format_log_line

    color = sys.stdout.isatty() and "NO_COLOR" not in __import__("os").environ
    for line in lines:
        click.echo(format_log_line(line, color=color))


def _summary(execution: Execution) -> str:
    seconds = (
        ""
        if execution.execution_time_ms is None
        else f" in {execution.execution_time_ms / 1000:.1f}s"
    )
    cost = "" if execution.cost_usd is None else f" (${execution.cost_usd:.4f})"
    if execution.status is ExecutionStatus.COMPLETED:
        return f"execution {execution.id} completed{seconds}{cost}"
    if execution.status is ExecutionStatus.QUEUED:
        return f"execution {execution.id} is queued: {execution.error or 'waiting for the engine'}"
    return f"execution {execution.id} {execution.status.value}{seconds}: {execution.error}"


def _requeued_for_cooldown(execution: Execution) -> bool:
    return (
        execution.status is ExecutionStatus.QUEUED
        and bool(execution.error)
        and (execution.error or "").startswith("usage limit")
    )


async def follow_execution(
    service: JobService, execution_id: str, *, echo: bool = True, as_json: bool = False
) -> Execution:
    """Print the log as it grows; return the execution once it ends (or waits for a reset)."""
    seq = 0
    version = -1
    while True:
        current = await service.store.data_version()
        if current != version:
            version = current
            lines = await service.logs(execution_id, after_seq=seq)
            if lines:
                seq = lines[-1].seq
                if echo:
                    _echo_lines(lines, as_json=as_json)
            execution = await service.get_execution(execution_id)
            if execution.status.finished or _requeued_for_cooldown(execution):
                lines = await service.logs(execution_id, after_seq=seq)
                if echo and lines:
                    _echo_lines(lines, as_json=as_json)
                return execution
        await asyncio.sleep(POLL_SECONDS)


async def execute_and_wait(
    paths: Paths, settings: Settings, ref: str, *, echo: bool = True
) -> Execution:
    """``cnp job execute JOB --wait``: through the engine if one runs, else in this process."""
    async with JobService.open(paths, settings, create=False) as service:
        job = await service.get_job(ref)
        # Fail before queueing anything: a run that cannot start must not be left behind.
        check_working_directory(job.execution_options.working_directory)
        lease = await service.live_engine()
        if lease is None:
            resolve_executable(settings.executor.claude_cli_path)
        execution = await service.execute_job(job.id)
        if lease is None:
            cooldown = await service.active_cooldown()
            if cooldown is not None:
                execution.error = (
                    f"usage limit reached; it stays queued for after the reset at "
                    f"{cooldown.until.astimezone():%Y-%m-%d %H:%M:%S}"
                )
                _say(echo, _summary(execution))
                return execution
            try:
                final = await _run_here(paths, settings, execution, job, echo)
            except EngineAlreadyRunningError:
                final = None  # an engine started meanwhile: it will run the execution
            if final is not None:
                _say(echo, _summary(final))
                return final
            lease = await service.live_engine()
        if lease is not None:
            _say(
                echo,
                f"queued execution {execution.id}; the engine (pid {lease.pid} on "
                f"{lease.host}) runs it",
            )
        final = await follow_execution(service, execution.id, echo=echo)
        _say(echo, _summary(final))
        return final


def _say(echo: bool, text: str) -> None:
    if echo:
        click.echo(text, err=True)


async def _run_here(
    paths: Paths, settings: Settings, execution: Execution, job: object, echo: bool
) -> Execution:
    from cnp_tui.core.models import Job
    from cnp_tui.engine.runtime import Runtime

    assert isinstance(job, Job)
    _say(echo, f"no engine is running: running execution {execution.id} in this process")

    def show(event: Event) -> None:
        if echo and isinstance(event, LogLinesAppended) and event.execution_id == execution.id:
            _echo_lines(event.lines)

    async with Runtime(paths, settings, run_scheduler=False) as runtime:
        runtime.bus.subscribe(show)
        return await runtime.scheduler.run_execution(execution, job)


async def print_logs(
    paths: Paths, settings: Settings, ref: str, *, follow: bool, as_json: bool = False
) -> None:
    """``cnp execution logs ID [--follow] [--format json]``."""
    async with JobService.open(paths, settings, create=False) as service:
        execution = await service.get_execution(ref)
        if follow:
            final = await follow_execution(service, execution.id, as_json=as_json)
            click.echo(_summary(final), err=True)
            return
        lines = await service.logs(execution.id)
        _echo_lines(lines, as_json=as_json)
        if not lines:
            click.echo(
                f"execution {execution.id} has no log lines ({execution.status.value})", err=True
            )


async def monitor_job(paths: Paths, settings: Settings, ref: str, *, follow: bool) -> None:
    """``cnp job monitor JOB [--follow]``: status, then the latest execution's log."""
    async with JobService.open(paths, settings, create=False) as service:
        job = await service.get_job(ref)
        seen: set[str] = set()
        first = True
        while True:
            job = await service.get_job(job.id)
            executions = await service.history(job.id, last=5)
            if first:
                next_run = (
                    job.next_run_time.astimezone().strftime("%Y-%m-%d %H:%M:%S")
                    if job.next_run_time
                    else "-"
                )
                click.echo(
                    f"job {job.name} ({job.id}): {job.status.value}, next run {next_run}, "
                    f"{job.execution_count} runs, {job.failure_count} failed"
                )
            fresh = [e for e in reversed(executions) if e.id not in seen]
            if first:
                fresh = fresh[-1:]  # show only the latest execution at start
                seen.update(e.id for e in executions)
            for execution in fresh:
                seen.add(execution.id)
                click.echo(
                    f"--- execution {execution.id} ({execution.trigger.value}, attempt "
                    f"{execution.attempt}): {execution.status.value}"
                )
                if execution.status.finished or not follow:
                    _echo_lines(await service.logs(execution.id))
                    if execution.status.finished:
                        click.echo(_summary(execution))
                else:
                    final = await follow_execution(service, execution.id)
                    click.echo(_summary(final))
            if not executions and first:
                click.echo("no executions yet")
            first = False
            if not follow:
                return
            await asyncio.sleep(POLL_SECONDS * 5)
