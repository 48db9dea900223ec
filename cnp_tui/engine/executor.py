"""Runs one execution: the claude process, its output, its limits.

The process gets its own session (process group) so that a timeout, a cancel or a memory limit
ends the whole tree: SIGTERM to the group, then SIGKILL after ``[executor] kill_grace``. Output is
read line by line as it arrives, parsed (``claude.StreamParser``) into readable log lines, queued
for the store's group commit and published on the bus. Memory and CPU of the whole tree are
sampled with psutil.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import Enum
from pathlib import Path

import psutil

from cnp_tui.config import Settings
from cnp_tui.core.bus import EventBus
from cnp_tui.core.clock import Clock
from cnp_tui.core.cooldown import UsageLimit
from cnp_tui.core.events import LogLinesAppended
from cnp_tui.core.models import (
    Execution,
    ExecutionStatus,
    Job,
    LogLine,
    LogStream,
    Prompt,
    ResourceUsage,
    TokenUsage,
)
from cnp_tui.engine import claude
from cnp_tui.errors import CnpError, WorkingDirectoryError

log = logging.getLogger(__name__)

LINE_LIMIT = 32 * 1024 * 1024  # stream-json lines carry whole tool results: allow big ones
EOF_GRACE = 2.0  # after the child exits, how long grandchildren may hold the pipes open


class StopReason(Enum):
    TIMEOUT = "timeout"
    CANCEL = "cancel"
    SHUTDOWN = "shutdown"
    MEMORY = "memory"


@dataclass
class RunResult:
    """What the scheduler needs to decide what happens next."""

    execution: Execution
    retryable: bool = True
    usage_limit: UsageLimit | None = None


@dataclass
class _Run:
    execution: Execution
    stop: asyncio.Future[StopReason] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    stop_detail: str = ""


class Executor:
    """Spawns and supervises claude processes."""

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        clock: Clock,
        *,
        append_logs: Callable[[list[LogLine]], None],
        record_pid: Callable[[str, int], None] | None = None,
        local_tz: tzinfo | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.clock = clock
        self._append_logs = append_logs
        self._record_pid = record_pid
        self.local_tz = local_tz or datetime.now().astimezone().tzinfo
        self._runs: dict[str, _Run] = {}
        self._argv_prefix: list[str] | None = None
        self._monitor = ProcessMonitor(settings.executor.sample_interval)

    def executable(self) -> list[str]:
        """The resolved claude argv prefix; raises ClaudeNotFoundError with what to fix."""
        if self._argv_prefix is None:
            self._argv_prefix = claude.resolve_executable(self.settings.executor.claude_cli_path)
        return self._argv_prefix

    @property
    def running_ids(self) -> list[str]:
        return list(self._runs)

    def stop(self, execution_id: str, reason: StopReason, detail: str = "") -> bool:
        """Ask a running execution to stop; False if it is not running here."""
        run = self._runs.get(execution_id)
        if run is None or run.stop.done():
            return False
        run.stop_detail = detail
        run.stop.set_result(reason)
        return True

    def stop_all(self, reason: StopReason, detail: str = "") -> None:
        for execution_id in list(self._runs):
            self.stop(execution_id, reason, detail)

    async def run(self, execution: Execution, job: Job, prompt: Prompt) -> RunResult:
        """Run ``execution`` (already marked running) to its end and fill in its result."""
        run = _Run(execution)
        self._runs[execution.id] = run
        try:
            return await self._run(run, job, prompt)
        finally:
            del self._runs[execution.id]

    async def _run(self, run: _Run, job: Job, prompt: Prompt) -> RunResult:
        execution = run.execution
        logs = _LogWriter(
            execution, self.clock, self._append_logs, self.bus, self.settings.executor.max_log_lines
        )
        started = time.monotonic()  # real elapsed time, whatever clock drives the schedule
        options = job.execution_options
        try:
            argv = claude.build_argv(
                self.executable(),
                prompt.content,
                **options.claude.model_dump(exclude={"extra_args", "permission_mode"}),
                permission_mode=options.claude.permission_mode.value
                if options.claude.permission_mode
                else None,
                extra_args=options.claude.extra_args,
            )
            cwd = check_working_directory(options.working_directory)
        except CnpError as exc:
            return self._fail_at_once(execution, logs, str(exc))
        # Inherit the environment as is unless the job adds variables: copying and re-encoding
        # os.environ for every spawn is measurable at a thousand runs a second.
        env = {**os.environ, **options.environment} if options.environment else None
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                limit=LINE_LIMIT,
            )
        except OSError as exc:
            return self._fail_at_once(
                execution,
                logs,
                f"could not start {argv[0]}: {exc.strerror or exc}; check executor.claude_cli_path",
            )
        execution.pid = process.pid
        if self._record_pid is not None:
            self._record_pid(execution.id, process.pid)
        parser = claude.StreamParser(self.clock.now, self.local_tz)
        readers = [
            asyncio.create_task(self._read(process.stdout, parser.feed_stdout, logs)),
            asyncio.create_task(self._read(process.stderr, parser.feed_stderr, logs)),
        ]
        sampler = _Sampler(
            process.pid, job.resource_limits.max_memory_mb, job.resource_limits.max_cpu_percent
        )
        self._monitor.watch(sampler, lambda sampled: self._check_limits(run, sampled, logs))
        timeout = self.settings.executor.effective_timeout(options.timeout_seconds)
        timer = asyncio.create_task(self.clock.sleep(timeout))
        waiter = asyncio.create_task(process.wait())
        try:
            await asyncio.wait({waiter, timer, run.stop}, return_when=asyncio.FIRST_COMPLETED)
            reason: StopReason | None = None
            if not waiter.done():
                if run.stop.done():
                    reason = run.stop.result()
                else:
                    reason = StopReason.TIMEOUT
                    run.stop_detail = f"timed out after {_fmt_seconds(timeout)}"
                    run.stop.set_result(reason)
                logs.engine(f"stopping: {run.stop_detail or reason.value}")
                await self._terminate(process, waiter)
            exit_code = await waiter
            _, pending = await asyncio.wait(readers, timeout=EOF_GRACE)
            if pending:  # grandchildren still hold the pipes: end the group and stop reading
                _killpg(process.pid, signal.SIGKILL)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        finally:
            self._monitor.unwatch(sampler)
            timer.cancel()
            if not waiter.done():
                _killpg(process.pid, signal.SIGKILL)
                waiter.cancel()
            for task in readers:
                task.cancel()
        if reason is None and run.stop.done():  # a stop that raced the exit
            reason = run.stop.result()
        now = self.clock.now()
        elapsed = time.monotonic() - started
        execution.completed_at = now
        execution.execution_time_ms = int(elapsed * 1000)
        execution.exit_code = exit_code
        execution.resource_usage = sampler.usage()
        outcome = claude.classify(parser, exit_code)
        result = parser.result
        if result is not None:
            execution.output = result.text
            execution.session_id = result.session_id
            execution.cost_usd = result.cost_usd
            execution.num_turns = result.num_turns
            execution.usage = TokenUsage.model_validate(result.usage) if result.usage else None
        execution.session_id = execution.session_id or parser.session_id
        usage_limit = None
        if reason is StopReason.TIMEOUT:
            execution.status = ExecutionStatus.TIMED_OUT
            execution.error = (
                f"{run.stop_detail}; raise execution.timeout_seconds if the job needs longer"
            )
        elif reason is StopReason.CANCEL:
            execution.status = ExecutionStatus.CANCELLED
            execution.error = run.stop_detail or "cancelled"
        elif reason is StopReason.SHUTDOWN:
            execution.status = ExecutionStatus.INTERRUPTED
            execution.error = run.stop_detail or "interrupted by engine shutdown"
        elif reason is StopReason.MEMORY:
            execution.status = ExecutionStatus.FAILED
            execution.error = run.stop_detail
        elif outcome.succeeded:
            execution.status = ExecutionStatus.COMPLETED
            execution.output = outcome.output if outcome.output is not None else execution.output
            execution.error = None
        else:
            execution.status = ExecutionStatus.FAILED
            execution.error = outcome.error
            usage_limit = outcome.usage_limit
        logs.close()
        return RunResult(
            execution,
            retryable=reason is not StopReason.CANCEL,
            usage_limit=usage_limit,
        )

    def _fail_at_once(self, execution: Execution, logs: _LogWriter, error: str) -> RunResult:
        logs.engine(error)
        logs.close()
        execution.status = ExecutionStatus.FAILED
        execution.error = error
        execution.completed_at = self.clock.now()
        execution.execution_time_ms = 0
        return RunResult(execution, retryable=False)

    async def _read(
        self,
        stream: asyncio.StreamReader | None,
        feed: Callable[[str], list[claude.LogEntry]],
        logs: _LogWriter,
    ) -> None:
        assert stream is not None
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # one line over LINE_LIMIT: drop it, keep reading
                logs.engine(f"an output line over {LINE_LIMIT // 2**20} MB was dropped")
                continue
            if not raw:
                return
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if line:
                logs.add(feed(line))

    def _check_limits(self, run: _Run, sampler: _Sampler, logs: _LogWriter) -> None:
        """After each sample: end a tree over its memory limit, warn once about CPU."""
        over = sampler.memory_exceeded()
        if over and not run.stop.done():
            run.stop_detail = over
            run.stop.set_result(StopReason.MEMORY)
            return
        warning = sampler.cpu_warning()
        if warning:
            logs.engine(warning)

    async def _terminate(
        self, process: asyncio.subprocess.Process, waiter: asyncio.Task[int]
    ) -> None:
        _killpg(process.pid, signal.SIGTERM)
        done, _ = await asyncio.wait({waiter}, timeout=self.settings.executor.kill_grace)
        if not done:
            _killpg(process.pid, signal.SIGKILL)


def check_working_directory(path: str | None) -> str | None:
    """The directory to run in; WorkingDirectoryError saying what to fix when it is missing."""
    if path is None:
        return None
    directory = Path(path).expanduser()
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise WorkingDirectoryError(
            f"working directory {directory} {what}",
            hint="create it or fix execution.working_directory of the job",
        )
    return str(directory)


def _killpg(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _fmt_seconds(seconds: float) -> str:
    from cnp_tui.core.durations import format_duration

    return format_duration(seconds)


class _LogWriter:
    """Numbers lines, applies the per-execution cap (head + tail kept), queues and publishes."""

    def __init__(
        self,
        execution: Execution,
        clock: Clock,
        append: Callable[[list[LogLine]], None],
        bus: EventBus,
        max_lines: int,
    ) -> None:
        self.execution = execution
        self.clock = clock
        self._append = append
        self._bus = bus
        self._seq = execution.log_lines  # a re-queued execution continues its log
        self._head = max_lines - max_lines // 10
        self._tail: deque[tuple[datetime, str, str]] = deque(maxlen=max_lines // 10)
        self._dropped = 0
        self._kept_head = 0

    def add(self, entries: list[claude.LogEntry]) -> None:
        if not entries:
            return
        now = self.clock.now()
        lines = []
        for entry in entries:
            if self._kept_head < self._head:
                self._kept_head += 1
                lines.append(self._line(now, entry.stream, entry.text))
            else:
                if len(self._tail) == self._tail.maxlen:
                    self._dropped += 1
                self._tail.append((now, entry.stream, entry.text))
        self._emit(lines)

    def engine(self, text: str) -> None:
        self._emit([self._line(self.clock.now(), LogStream.ENGINE.value, text)])

    def _line(self, now: datetime, stream: str, text: str) -> LogLine:
        self._seq += 1
        return LogLine.model_construct(
            execution_id=self.execution.id, seq=self._seq, ts=now, stream=stream, text=text
        )

    def _emit(self, lines: list[LogLine]) -> None:
        if lines:
            self._append(lines)
            self._bus.publish(LogLinesAppended(self.execution.id, tuple(lines)))

    def close(self) -> None:
        """Write the kept tail, after a marker saying how much of the middle was dropped."""
        lines = []
        if self._dropped:
            lines.append(
                self._line(
                    self.clock.now(),
                    LogStream.ENGINE.value,
                    f"… {self._dropped} log lines dropped (cap [executor] max_log_lines = "
                    f"{self._head + (self._tail.maxlen or 0)}) …",
                )
            )
        lines.extend(self._line(ts, stream, text) for ts, stream, text in self._tail)
        self._tail.clear()
        self._emit(lines)
        self.execution.log_lines = self._seq
        self.execution.log_dropped += self._dropped


FIRST_SAMPLE_AFTER = 0.05  # seconds: a new tree is first measured this soon, so short runs count


class ProcessMonitor:
    """Samples every running process tree from one task.

    One pass over the process table per interval finds the descendants of every run at once;
    ``children(recursive=True)`` per run would scan it once per run, O(n²) with a thousand running.
    A tree that just started gets a first, root-only sample within FIRST_SAMPLE_AFTER, batched
    with the others that started meanwhile (a burst of starts costs one wake-up, not one each).
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._watched: dict[_Sampler, Callable[[_Sampler], None]] = {}
        self._fresh: list[_Sampler] = []
        self._changed: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def watch(self, sampler: _Sampler, on_sample: Callable[[_Sampler], None]) -> None:
        """Sample ``sampler``'s tree until ``unwatch``; ``on_sample`` runs after each sample."""
        self._watched[sampler] = on_sample
        self._fresh.append(sampler)
        if self._task is None or self._task.done():
            self._changed = asyncio.Event()
            self._task = asyncio.create_task(self._loop(), name="cnp-process-monitor")
        assert self._changed is not None
        self._changed.set()

    def unwatch(self, sampler: _Sampler) -> None:
        self._watched.pop(sampler, None)
        if not self._watched and self._changed is not None:
            self._changed.set()  # let the loop end now rather than at its next tick

    async def _loop(self) -> None:
        assert self._changed is not None
        changed = self._changed
        next_full = time.monotonic() + self.interval
        while self._watched:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), max(0.0, next_full - time.monotonic()))
            if not self._watched:
                break
            if changed.is_set() and time.monotonic() < next_full:
                await asyncio.sleep(FIRST_SAMPLE_AFTER)
                changed.clear()
                fresh, self._fresh = self._fresh, []
                self._sample([sampler for sampler in fresh if sampler in self._watched], None)
                continue
            changed.clear()
            self._fresh = []
            self._sample(list(self._watched), _children_by_parent())
            next_full = time.monotonic() + self.interval

    def _sample(self, samplers: list[_Sampler], tree: dict[int, list[int]] | None) -> None:
        for sampler in samplers:
            sampler.sample(tree)
            on_sample = self._watched.get(sampler)
            if on_sample is not None:
                on_sample(sampler)


def _children_by_parent() -> dict[int, list[int]]:
    """Every process's children, from one pass over the process table."""
    children: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        parent = proc.info["ppid"]
        if parent:
            children.setdefault(parent, []).append(proc.pid)
    return children


class _Sampler:
    """Memory and CPU of one process tree (sampled by the ProcessMonitor)."""

    def __init__(
        self, pid: int, max_memory_mb: float | None, max_cpu_percent: float | None
    ) -> None:
        self.pid = pid
        self.max_memory_mb = max_memory_mb
        self.max_cpu_percent = max_cpu_percent
        self._procs: dict[int, psutil.Process] = {}
        self._cpu: dict[int, float] = {}
        self._root_found = False
        self.peak_rss_mb: float | None = None
        self.rss_mb = 0.0
        self.samples = 0
        self._first: tuple[float, float] | None = None
        self._last: tuple[float, float] | None = None
        self._prev: tuple[float, float] | None = None
        self.max_cpu: float | None = None
        self._warned = False

    def sample(self, tree: dict[int, list[int]] | None = None) -> None:
        """Measure the root and what is known of its tree (``tree`` adds new descendants)."""
        if not self._root_found:
            self._root_found = True
            with contextlib.suppress(psutil.Error):
                self._procs[self.pid] = psutil.Process(self.pid)
        if self.pid not in self._procs:
            return  # the root is gone: its last figures stand
        if tree is not None:
            stack = list(tree.get(self.pid, ()))
            while stack:
                pid = stack.pop()
                if pid not in self._procs:
                    with contextlib.suppress(psutil.Error):
                        self._procs[pid] = psutil.Process(pid)
                stack.extend(tree.get(pid, ()))
        rss = 0
        for pid, proc in list(self._procs.items()):
            try:
                with proc.oneshot():
                    rss += proc.memory_info().rss
                    times = proc.cpu_times()
                    self._cpu[pid] = times.user + times.system
            except psutil.Error:
                self._procs.pop(pid, None)  # gone: its last CPU figure stays counted
        now = time.monotonic()
        cpu = sum(self._cpu.values())
        if self._first is None:
            self._first = (now, cpu)
        self._prev, self._last = self._last, (now, cpu)
        if self._prev is not None and now > self._prev[0]:
            percent = 100.0 * (cpu - self._prev[1]) / (now - self._prev[0])
            self.max_cpu = percent if self.max_cpu is None else max(self.max_cpu, percent)
        self.rss_mb = rss / 2**20
        self.peak_rss_mb = max(self.peak_rss_mb or 0.0, self.rss_mb)
        self.samples += 1

    def memory_exceeded(self) -> str | None:
        if self.max_memory_mb is not None and self.rss_mb > self.max_memory_mb:
            return (
                f"memory limit exceeded: the process tree used {self.rss_mb:.0f} MB, over "
                f"resource_limits.max_memory_mb = {self.max_memory_mb:g}"
            )
        return None

    def cpu_warning(self) -> str | None:
        if (
            self.max_cpu_percent is not None
            and not self._warned
            and self.max_cpu is not None
            and self.max_cpu > self.max_cpu_percent
        ):
            self._warned = True
            return (
                f"CPU use {self.max_cpu:.0f}% is over resource_limits.max_cpu_percent = "
                f"{self.max_cpu_percent:g} (recorded, not enforced)"
            )
        return None

    def usage(self) -> ResourceUsage | None:
        if not self.samples:
            return None
        cpu_seconds = sum(self._cpu.values())
        avg = None
        if self._first and self._last and self._last[0] > self._first[0]:
            avg = 100.0 * (self._last[1] - self._first[1]) / (self._last[0] - self._first[0])
        return ResourceUsage(
            peak_rss_mb=round(self.peak_rss_mb or 0.0, 1),
            cpu_seconds=round(cpu_seconds, 3),
            avg_cpu_percent=None if avg is None else round(avg, 1),
            max_cpu_percent=None if self.max_cpu is None else round(self.max_cpu, 1),
            samples=self.samples,
        )
