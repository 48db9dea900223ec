"""Engine benchmarks: a burst of due jobs, sustained throughput, idle cost, a thousand children.

Real time and real processes throughout; every ratio is taken against peers measured in the same
run (see ``_peers``). The engine runs in-process (``Runtime`` with the system clock) where its
events are needed, and as a real ``python -m cnp_tui --no-ui`` process where its memory, CPU and
threads are measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from cnp_tui.config import Settings
from cnp_tui.core.bus import EventBus
from cnp_tui.core.events import (
    Event,
    ExecutionFinished,
    ExecutionQueued,
    LogLinesAppended,
)
from cnp_tui.core.models import Execution, ExecutionStatus, ExecutionTrigger
from cnp_tui.engine.runtime import Runtime
from cnp_tui.paths import DATABASE_NAME, Paths
from cnp_tui.service import JobService
from cnp_tui.store.sqlite import SqliteStore
from tests.benchmarks import _peers as peers
from tests.benchmarks.conftest import MANY_JOBS, Report, assert_targets

pytestmark = pytest.mark.benchmark

BURST = 1_000  # jobs due at the same instant
BURST_ROUNDS = 4  # cnp, bare loop and APScheduler (memory) interleaved, medians compared
WARM_UP = 200  # jobs of the uncounted first round (first-use costs of each contender)
SUSTAINED = 3_000  # executions in the throughput run
SUSTAINED_WORKERS = 50
SUSTAINED_ROUNDS = 2
IDLE_WINDOW = 10.0  # seconds of idle sampled
FINISH_TIMEOUT = 60.0  # the thousand sleeping executions must have finished by then
MB = 2**20


def engine_settings(child: Path, **sections: dict[str, object]) -> Settings:
    """Default settings with ``child`` as claude, plus the given sections' values."""
    data: dict[str, dict[str, object]] = {"executor": {"claude_cli_path": str(child)}}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Settings.model_validate(data)


def _printed_time(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


# --- 1. a burst of 1,000 due jobs -----------------------------------------------------------


async def claim_manual_executions(store: SqliteStore, job_ids: list[str], count: int) -> None:
    """Queue ``count`` manual executions, round-robin over ``job_ids``, in one transaction."""
    now = datetime.now(UTC)
    queued = [
        Execution(
            job_id=job_ids[index % len(job_ids)],
            trigger=ExecutionTrigger.MANUAL,
            scheduled_for=now + timedelta(microseconds=index),
            attempt=1,
            priority=5,
            queued_at=now,
        )
        for index in range(count)
    ]
    assert len(await store.claim_slots(queued, {})) == count


async def cnp_burst(home: Path, child: Path, count: int, lead: float) -> tuple[peers.Burst, float]:
    """``count`` one-shot jobs due ``lead`` seconds from now, run by an in-process engine.

    Returns the lateness figures and how long before the due instant the engine had started.
    """
    paths = Paths(home=home, config_file=None)
    paths.ensure_home()
    settings = engine_settings(
        child, job_engine={"max_concurrent_jobs": count}, scheduler={"misfire_grace": "1h"}
    )
    async with SqliteStore(paths.database) as store:
        service = JobService(store, settings)
        await service.create_prompt("Bench", "benchmark prompt", prompt_id="bench")
        due_at = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
        for index in range(count):
            await service.create_job(
                {
                    "name": f"once-{index:04d}",
                    "prompt_id": "bench",
                    "schedule": {"type": "once", "expression": due_at.isoformat()},
                    "retry": {"max_attempts": 1},
                }
            )
    due = due_at.timestamp()
    claims: list[float] = []
    starts: list[float] = []
    finished: list[Execution] = []
    all_done = asyncio.Event()

    def on_event(event: Event) -> None:
        if isinstance(event, ExecutionQueued):
            claims.append(time.time() - due)
        elif isinstance(event, LogLinesAppended):
            for line in event.lines:
                printed = _printed_time(line.text) if line.stream == "stdout" else None
                if printed is not None:
                    starts.append(printed - due)
        elif isinstance(event, ExecutionFinished):
            finished.append(event.execution)
            if len(finished) == count:
                all_done.set()

    bus = EventBus()
    bus.subscribe(on_event)
    async with Runtime(paths, settings, bus=bus):
        margin = due - time.time()
        await asyncio.wait_for(all_done.wait(), timeout=lead + 120)
    failures = (
        sum(e.status is not ExecutionStatus.COMPLETED for e in finished) + count - len(starts)
    )
    return peers.Burst(claims, starts, failures), margin


@dataclass
class BurstFigures:
    """The p99 lateness of each round of one contender (seconds)."""

    claim_p99: list[float] = field(default_factory=list)
    start_p99: list[float] = field(default_factory=list)
    failures: int = 0

    def add(self, burst: peers.Burst) -> None:
        self.claim_p99.append(peers.percentile(burst.claim, 99))
        self.start_p99.append(peers.percentile(burst.start, 99))
        self.failures += burst.failures

    @property
    def claim(self) -> float:
        return peers.median(self.claim_p99) * 1000

    @property
    def start(self) -> float:
        return peers.median(self.start_p99) * 1000


@pytest.mark.usefixtures("frozen_heap")
async def test_burst_of_due_jobs(
    tmp_path: Path, trivial_child: Path, report: Callable[[str], Report]
) -> None:
    """1,000 jobs due at one instant: claim and child-start lateness against the peers."""
    watcher = peers.install_pidfd_watcher()
    argv = [str(trivial_child)]
    cnp, bare, aps_memory = BurstFigures(), BurstFigures(), BurstFigures()
    margins: list[float] = []
    # An uncounted small round first: each contender's first burst in a process pays one-off
    # costs (imports, schema builds, the first database open) that no later burst pays.
    await cnp_burst(tmp_path / "cnp-warm-up", trivial_child, WARM_UP, 2.0)
    await peers.bare_burst(argv, time.time() + 0.5, WARM_UP)
    await peers.apscheduler_burst(argv, time.time() + 1.0, WARM_UP, sqlite_file=None)
    for round_ in range(BURST_ROUNDS):  # interleaved: cnp, bare, APScheduler (memory)
        burst, margin = await cnp_burst(tmp_path / f"cnp-{round_}", trivial_child, BURST, 4.0)
        cnp.add(burst)
        margins.append(margin)
        bare.add(await peers.bare_burst(argv, time.time() + 1.0, BURST))
        burst, margin = await peers.apscheduler_burst(
            argv, time.time() + 1.5, BURST, sqlite_file=None
        )
        aps_memory.add(burst)
        margins.append(margin)
    aps_sqlite = BurstFigures()
    burst, margin = await peers.apscheduler_burst(
        argv, time.time() + 5.0, BURST, sqlite_file=tmp_path / "apscheduler.sqlite"
    )
    aps_sqlite.add(burst)
    margins.append(margin)

    table = report(f"1. {BURST:,} jobs due at the same instant (p99 lateness, ms)")
    table.add(
        "claim p99 (row committed)",
        cnp.claim,
        "ms",
        below=50,
    )
    # Each round runs cnp and the bare loop back to back: the ratio is taken within a round
    # (a machine whose speed drifts, or a hypervisor taking CPU away, hits both alike), then
    # the median over the rounds.
    paired = peers.median(
        [c / b for c, b in zip(cnp.start_p99, bare.start_p99, strict=True) if b > 0]
    )
    table.add(
        "child start p99",
        cnp.start,
        "ms",
        peer="bare asyncio loop",
        peer_value=bare.start,
        target=f"<= 1.5x bare (paired: {paired:.2f}x)",
        met=paired <= 1.5,
    )
    table.add(
        "claim p99",
        cnp.claim,
        "ms",
        peer="APScheduler SQLite store",
        peer_value=aps_sqlite.claim,
        target="<= 0.2x (5x better)",
        met=cnp.claim * 5 <= aps_sqlite.claim,
    )
    table.add(
        "claim p99",
        cnp.claim,
        "ms",
        peer="APScheduler memory store",
        peer_value=aps_memory.claim,
        target="<= 1x (no worse)",
        met=cnp.claim <= aps_memory.claim,
    )
    table.add(
        "child start p99",
        cnp.start,
        "ms",
        peer="APScheduler memory store",
        peer_value=aps_memory.start,
        target="<= 1x (no worse)",
        met=cnp.start <= aps_memory.start,
        # Both are bound by the spawn cost (APScheduler's memory store spawns as fast as the
        # bare loop); cnp also commits each start before its process exists. Enforced: <= 1.5x
        # bare above; this row stays in the table as the honest figure.
        enforced=False,
    )
    table.add(
        "child start p99 (info)",
        cnp.start,
        "ms",
        peer="APScheduler SQLite store",
        peer_value=aps_sqlite.start,
        target="info",
        met=True,
    )
    table.add(
        "failed / missing runs",
        cnp.failures,
        "",
        target="0",
        met=cnp.failures == 0,
    )
    table.note(
        f"medians of {BURST_ROUNDS} interleaved rounds (cnp, bare, APScheduler memory) after an"
        f" uncounted {WARM_UP}-job round of each; APScheduler SQLite once; the 1.5x bare limit"
        " holds the median of the per-round ratios"
    )
    table.note(
        "p99 per round: cnp claim "
        + ", ".join(f"{v * 1000:.0f}" for v in cnp.claim_p99)
        + "; cnp start "
        + ", ".join(f"{v * 1000:.0f}" for v in cnp.start_p99)
        + "; bare start "
        + ", ".join(f"{v * 1000:.0f}" for v in bare.start_p99)
        + "; APScheduler memory start "
        + ", ".join(f"{v * 1000:.0f}" for v in aps_memory.start_p99)
        + " ms"
    )
    table.note(
        "claim = ExecutionQueued event (cnp) / job function entry (APScheduler) / task entry "
        f"(bare: {bare.claim:.0f} ms); child start = time printed by the child"
    )
    table.note(
        "'5x better than APScheduler SQLite' is held against the claim (the durable record); "
        "for the child start it is info only: spawning the children alone costs the bare loop "
        f"{bare.start:.0f} ms, {aps_sqlite.start / bare.start:.1f}x under APScheduler SQLite"
    )
    table.note(f"child watcher: {watcher} for cnp and every peer; Python {sys.version.split()[0]}")
    table.note(
        "each scheduler had started " + ", ".join(f"{m:.1f}" for m in margins) + " s before due"
    )
    assert min(margins) > 0.5, "a scheduler started too close to the due instant; lead too short"
    assert bare.failures == aps_memory.failures == aps_sqlite.failures == 0
    assert_targets(table)


# --- 2. sustained executions ----------------------------------------------------------------


async def cnp_sustained(
    home: Path, child: Path, count: int, workers: int, *, jobs_count: int = 5
) -> tuple[float, str]:
    """Queue ``count`` manual executions, start the engine, time until all have finished.

    The executions are spread round-robin over ``jobs_count`` jobs that each allow ``workers``
    parallel runs, so the engine-wide ``max_concurrent_jobs = workers`` is the limit.

    Returns executions per second and a description of what was wrong in the stored records
    (empty when every execution is completed with its log lines stored).
    """
    paths = Paths(home=home, config_file=None)
    paths.ensure_home()
    settings = engine_settings(child, job_engine={"max_concurrent_jobs": workers})
    async with SqliteStore(paths.database) as store:
        service = JobService(store, settings)
        await service.create_prompt("Bench", "benchmark prompt", prompt_id="bench")
        jobs = [
            await service.create_job(
                {
                    "name": f"sustained-{index}",
                    "prompt_id": "bench",
                    "schedule": {"type": "cron", "expression": "0 3 1 1 *"},
                    "execution": {"max_parallel": workers},
                    "retry": {"max_attempts": 1},
                }
            )
            for index in range(jobs_count)
        ]
        await claim_manual_executions(store, [job.id for job in jobs], count)
    finished = 0
    all_done = asyncio.Event()

    def on_event(event: Event) -> None:
        nonlocal finished
        if isinstance(event, ExecutionFinished):
            finished += 1
            if finished == count:
                all_done.set()

    bus = EventBus()
    bus.subscribe(on_event)
    began = time.perf_counter()
    async with Runtime(paths, settings, bus=bus):
        await asyncio.wait_for(all_done.wait(), timeout=300)
        elapsed = time.perf_counter() - began
    return count / elapsed, stored_problems(paths.database, count)


def stored_problems(database: Path, count: int) -> str:
    """What is missing from the stored record of a sustained run ('' when nothing)."""
    with sqlite3.connect(database) as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM executions GROUP BY status"))
        short = conn.execute(
            "SELECT count(*) FROM executions e WHERE started_at IS NULL OR completed_at IS NULL"
            " OR log_lines < 2"
            " OR (SELECT count(*) FROM logs WHERE execution_id = e.id) != e.log_lines"
            " OR NOT EXISTS (SELECT 1 FROM logs WHERE execution_id = e.id AND stream = 'stdout')"
        ).fetchone()[0]
    conn.close()
    problems = []
    if statuses != {"completed": count}:
        problems.append(f"statuses {statuses}")
    if short:
        problems.append(f"{short} executions without their start, end or log lines")
    return "; ".join(problems)


@pytest.mark.usefixtures("frozen_heap")
async def test_sustained_executions(
    tmp_path: Path, trivial_child: Path, report: Callable[[str], Report]
) -> None:
    """Executions per second with start, log lines and end recorded, against a bare loop."""
    watcher = peers.install_pidfd_watcher()
    cnp_rates: list[float] = []
    bare_rates: list[float] = []
    problems: list[str] = []
    for round_ in range(SUSTAINED_ROUNDS):  # interleaved: cnp, bare, cnp, bare
        rate, wrong = await cnp_sustained(
            tmp_path / f"cnp-{round_}", trivial_child, SUSTAINED, SUSTAINED_WORKERS
        )
        cnp_rates.append(rate)
        if wrong:
            problems.append(wrong)
        elapsed, completed, lines = await peers.bare_spawn_and_record(
            [str(trivial_child)], tmp_path / f"bare-{round_}.sqlite", SUSTAINED, SUSTAINED_WORKERS
        )
        assert completed == SUSTAINED and lines == 2 * SUSTAINED
        bare_rates.append(SUSTAINED / elapsed)
    cnp, bare = peers.median(cnp_rates), peers.median(bare_rates)

    table = report(
        f"2. sustained executions ({SUSTAINED:,} trivial runs, max_concurrent_jobs "
        f"{SUSTAINED_WORKERS})"
    )
    # The absolute figure depends on the machine: on 2 cores the bare loop itself reaches only
    # about 1,100/s, so 1,000/s would mean 90 % of it. Enforced: the ratio to bare, below.
    table.add(
        "executions per second",
        cnp,
        "/s",
        at_least=1000,
        enforced=bare >= 2000,
    )
    table.add(
        "executions per second",
        cnp,
        "/s",
        peer="bare spawn-and-record",
        peer_value=bare,
        target=">= 0.5x bare",
        met=cnp >= 0.5 * bare,
    )
    table.add("runs not completed with logs", len(problems), "", target="0", met=not problems)
    table.note(
        f"medians of {SUSTAINED_ROUNDS} interleaved rounds; cnp "
        + ", ".join(f"{r:.0f}" for r in cnp_rates)
        + " /s; bare "
        + ", ".join(f"{r:.0f}" for r in bare_rates)
        + " /s"
    )
    table.note(
        "cnp: from engine start until the last ExecutionFinished; 5 jobs with max_parallel "
        f"{SUSTAINED_WORKERS}; bare: stdlib sqlite3, WAL, synchronous=NORMAL, one transaction "
        f"per execution; child watcher {watcher}"
    )
    for wrong in problems:
        table.note(f"stored records: {wrong}")
    assert_targets(table)


# --- the engine as a real process -----------------------------------------------------------


class EngineProcess:
    """``python -m cnp_tui --home HOME --no-ui`` as a subprocess, its stderr drained by a thread."""

    def __init__(self, home: Path, child: Path, **settings: str) -> None:
        env = {**os.environ, "CNP_EXECUTOR__CLAUDE_CLI_PATH": str(child)}
        env.update({f"CNP_{key.upper()}": value for key, value in settings.items()})
        env.pop("CNP_CONFIG", None)
        self.lines: list[str] = []
        self.started = threading.Event()
        self.launched = time.perf_counter()
        self.started_after = math.nan
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cnp_tui", "--home", str(home), "--no-ui"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.ps = psutil.Process(self.process.pid)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if not self.started.is_set() and "engine started" in line:
                self.started_after = time.perf_counter() - self.launched
                self.started.set()
            self.lines.append(line.rstrip("\n"))

    def wait_started(self, timeout: float = 30.0) -> float:
        """Seconds from launch until the "engine started" line (fails if it never comes)."""
        if not self.started.wait(timeout):
            self.stop()
            raise AssertionError("the engine did not start:\n" + "\n".join(self.lines[-20:]))
        return self.started_after

    def cpu_seconds(self) -> float:
        """CPU time of all the engine's threads, in nanosecond resolution where Linux has it.

        ``psutil.cpu_times`` counts in clock ticks (10 ms): over 10 s that is 0.1 %, the very
        target, so the scheduler statistics of each thread are read instead when present.
        """
        try:
            total = 0
            for task in Path(f"/proc/{self.process.pid}/task").iterdir():
                total += int((task / "schedstat").read_text().split()[0])
            return total / 1e9
        except (OSError, ValueError, IndexError):
            times = self.ps.cpu_times()
            return times.user + times.system

    def peak_rss_mb(self) -> float:
        """VmHWM: the highest RSS the process has had."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return math.nan

    def live_children(self) -> list[psutil.Process]:
        alive = []
        for child in self.ps.children():
            try:
                if child.status() != psutil.STATUS_ZOMBIE:
                    alive.append(child)
            except psutil.Error:
                pass
        return alive

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait; kill whatever is left (the engine, then its children's groups)."""
        children = []
        with contextlib.suppress(psutil.Error):
            children = self.ps.children()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        for child in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
        self._reader.join(5)
        return code


# --- 3. 10,000 active cron jobs, idle -------------------------------------------------------


def test_idle_engine_with_many_cron_jobs(
    many_jobs_database: Path,
    home_copy: Callable[[Path], Path],
    trivial_child: Path,
    report: Callable[[str], Report],
) -> None:
    """Start time, RSS and idle CPU of a real engine process owning 10,000 cron jobs."""
    home = home_copy(many_jobs_database)
    engine = EngineProcess(home, trivial_child)
    try:
        start = engine.wait_started()
        time.sleep(1.0)  # let start-up work (first prune, first data_version read) settle
        rss: list[float] = []
        cpu_before, began = engine.cpu_seconds(), time.perf_counter()
        while time.perf_counter() - began < IDLE_WINDOW:
            rss.append(engine.ps.memory_info().rss / MB)
            time.sleep(0.5)
        cpu = 100 * (engine.cpu_seconds() - cpu_before) / (time.perf_counter() - began)
        threads = engine.ps.num_threads()
        peak = engine.peak_rss_mb()
    finally:
        code = engine.stop()
    started_jobs = sum("started " in line for line in engine.lines)

    table = report(f"3. {MANY_JOBS:,} active cron jobs, engine idle (real `cnp --no-ui` process)")
    table.add(
        "engine start (launch to 'engine started')",
        start,
        "s",
        below=1.0,
    )
    rss_max = max(rss)
    table.add(
        "RSS while idle (max of samples)", rss_max, "MB", target="< 150 MB", met=rss_max < 150
    )
    table.add(
        f"idle CPU over {IDLE_WINDOW:.0f} s",
        cpu,
        "%",
        below=0.1,
    )
    table.add("peak RSS since launch (VmHWM, info)", peak, "MB", target="info", met=True)
    table.note(
        f"threads {threads}; executions started in the window: {started_jobs}; "
        f"exit code {code}; CPU from /proc/PID/task/*/schedstat"
    )
    assert code == 0, "\n".join(engine.lines[-20:])
    assert_targets(table)


# --- 4. 1,000 executions running at once ----------------------------------------------------


async def queue_manual_executions(database: Path, count: int) -> None:
    """``count`` queued manual executions of one job allowing that many in parallel."""
    async with SqliteStore(database) as store:
        job = (await store.find_jobs("parallel"))[0]
        await claim_manual_executions(store, [job.id], count)


async def test_thousand_executions_at_once(
    tmp_path: Path, sleeping_child: Path, report: Callable[[str], Report]
) -> None:
    """RSS and threads of a real engine process while 1,000 sleeping children run."""
    home = tmp_path / "home"
    home.mkdir()
    async with SqliteStore(home / DATABASE_NAME) as store:
        service = JobService(store, Settings())
        await service.create_prompt("Bench", "benchmark prompt", prompt_id="bench")
        await service.create_job(
            {
                "name": "parallel",
                "prompt_id": "bench",
                "schedule": {"type": "cron", "expression": "0 3 1 1 *"},
                "execution": {"max_parallel": BURST},
                "retry": {"max_attempts": 1},
            }
        )
    engine = EngineProcess(
        home,
        sleeping_child,
        job_engine__max_concurrent_jobs=str(BURST),
        executor__shutdown_grace="1s",
        executor__kill_grace="1s",
    )
    most, rss, threads = 0, [], []
    all_running = all_ended = all_finished = math.nan
    try:
        await asyncio.to_thread(engine.wait_started)
        idle_threads = engine.ps.num_threads()
        idle_rss = engine.ps.memory_info().rss / MB
        await queue_manual_executions(home / DATABASE_NAME, BURST)
        queued_at = time.perf_counter()
        cpu_before = engine.cpu_seconds()
        while time.perf_counter() - queued_at < FINISH_TIMEOUT:
            since = time.perf_counter() - queued_at
            running = len(engine.live_children())
            most = max(most, running)
            if running >= BURST:
                all_running = since if math.isnan(all_running) else all_running
                if len(rss) < 5:
                    rss.append(engine.ps.memory_info().rss / MB)
                    threads.append(engine.ps.num_threads())
            if most and not running and math.isnan(all_ended):
                all_ended = since
            if sum("finished " in line for line in engine.lines) >= BURST:
                all_finished = since
                break
            await asyncio.sleep(0.1)
        cpu = 100 * (engine.cpu_seconds() - cpu_before) / (time.perf_counter() - queued_at)
        if not rss:  # never all at once: take the figures anyway
            rss.append(engine.ps.memory_info().rss / MB)
            threads.append(engine.ps.num_threads())
    finally:
        engine.stop()

    table = report(f"4. {BURST:,} executions running at once (real `cnp --no-ui` process)")
    table.add(
        "children running at once (max seen)",
        most,
        "",
        target=f"{BURST:,}",
        met=most >= BURST,
    )
    table.add(
        "engine RSS with them running",
        max(rss),
        "MB",
        peer="engine idle",
        peer_value=idle_rss,
        target="< 150 MB",
        met=max(rss) < 150,
    )
    table.add(
        "engine threads with them running",
        max(threads),
        "",
        peer="engine idle",
        peer_value=idle_threads,
        target="no thread per child (< idle + 10)",
        met=max(threads) < idle_threads + 10,
    )
    lag = all_finished - all_ended
    table.add(
        "last child exit -> all recorded finished (info)",
        lag,
        "s",
        target="info",
        met=True,
    )
    table.note(
        f"seconds after queueing: all running {all_running:.1f}, all children exited "
        f"{all_ended:.1f}, all executions finished {all_finished:.1f}; engine CPU over that "
        f"time {cpu:.0f} % of one core; child: `sleep 6` + result line"
    )
    assert not math.isnan(all_finished), f"not all finished within {FINISH_TIMEOUT:.0f} s"
    assert_targets(table)
