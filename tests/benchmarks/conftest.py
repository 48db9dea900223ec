"""Fixtures of the benchmarks: the trivial child, cnp homes full of jobs, and the figure tables.

Benchmarks measure real time, so they use the system clock and real subprocesses. Each test
builds a ``Report`` (figure, cnp's value, the peer's value, the ratio, the target, MET/MISSED),
prints it where ``pytest`` without ``-s`` shows it, then asserts every target.
"""

from __future__ import annotations

import asyncio
import math
import os
import resource
import shutil
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cnp_tui.config import Settings
from cnp_tui.core.models import Job, new_id
from cnp_tui.paths import DATABASE_NAME
from cnp_tui.service import JobService
from cnp_tui.store.sqlite import SqliteStore

RESULT_LINE = (
    '{"type":"result","subtype":"success","is_error":false,"result":"ok",'
    '"session_id":"s","num_turns":1,"total_cost_usd":0}'
)
IDLE_CRON = "0 3 1 1 *"  # 03:00 on January 1st: never fires while a benchmark runs
MANY_JOBS = 10_000

# The limits in milliseconds, seconds and CPU are the issues' figures for the 2-core machine CI
# runs on, where a bare interpreter start (`python -c pass`, median) took 9.5 ms on 2026-11-28.
# The same kind of machine has been seen running everything 2-3x slower. On a machine up to
# TOO_SLOW times slower than the reference, such a limit is stretched by how much slower it is
# (measured in the same run) and the table says so. Beyond that the interpreter start no longer
# predicts CPU-bound work (seen: start 2.3x slower, Python code 3x), so those limits are printed
# but cannot fail the run. Limits against a peer measured in the same run, and memory, threads
# and counts, hold on every machine.
REFERENCE_START_S = 0.0095
TOO_SLOW = 1.5


def interpreter_start(runs: int = 9) -> float:
    """Median wall time of `python -c pass` on this machine, in seconds."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CNP_")}
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        times.append(time.perf_counter() - began)
    return sorted(times)[len(times) // 2]


@dataclass(frozen=True)
class Machine:
    """How fast this machine is against the one the absolute targets were set for."""

    start_s: float

    @property
    def factor(self) -> float:
        return self.start_s / REFERENCE_START_S

    @property
    def slowdown(self) -> float:
        """How much an absolute limit is stretched here (never tightened on a faster machine)."""
        return max(1.0, self.factor)

    @property
    def too_slow(self) -> bool:
        return self.factor > TOO_SLOW

    def describe(self) -> str:
        if self.too_slow:
            verdict = (
                f"more than {TOO_SLOW}x slower, too slow to judge absolute time and CPU limits:"
                " reported, not enforced"
            )
        elif self.slowdown > 1.0:
            verdict = f"absolute time and CPU limits are stretched by {self.slowdown:.2f}"
        else:
            verdict = "absolute limits hold as written"
        return (
            f"machine: python -c pass {self.start_s * 1000:.1f} ms, {self.factor:.2f}x the"
            f" reference machine's {REFERENCE_START_S * 1000:.1f} ms: {verdict}"
        )


@pytest.fixture(scope="session")
def machine() -> Machine:
    """This machine's speed, measured once per run."""
    return Machine(interpreter_start())


@pytest.fixture(scope="session", autouse=True)
def _byte_compiled() -> None:
    """Byte-compile cnp_tui first, as pip does when it installs a package; then sync the disk.

    An editable install run with PYTHONDONTWRITEBYTECODE=1 (as CI machines set it) would
    otherwise compile every module again at every start of a measured `cnp` process.
    """
    import compileall

    import cnp_tui

    compileall.compile_dir(Path(cnp_tui.__file__).parent, quiet=1)
    # Write out what is pending (an install, a compile) so that disk writeback does not land
    # inside a measurement: cnp commits to SQLite while it runs, the bare loop does not.
    os.sync()


def write_child(path: Path, *body: str) -> Path:
    """An executable shell script that ignores its arguments, runs ``body``, prints a result."""
    path.write_text("\n".join(["#!/bin/sh", *body, f"printf '%s\\n' '{RESULT_LINE}'", ""]))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def trivial_child(tmp_path: Path) -> Path:
    """The trivial `claude`: prints its own start time (epoch seconds), then a result line."""
    return write_child(tmp_path / "trivial-claude", "date +%s.%N")


@pytest.fixture
def sleeping_child(tmp_path: Path) -> Path:
    """A `claude` that sleeps a few seconds before its result line."""
    return write_child(tmp_path / "sleepy-claude", "sleep 6")


@pytest.fixture(scope="session", autouse=True)
def _enough_file_descriptors() -> None:
    """A thousand children hold several thousand pipes: raise the soft limit (to 16,384)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 16_384 if hard == resource.RLIM_INFINITY else min(hard, 16_384)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@pytest.fixture
def frozen_heap() -> Iterator[None]:
    """The heap as `cnp --no-ui` runs with it: what exists at start is frozen (gc.freeze in
    run_headless). In-process, the heap is the test session's, hundreds of tests deep; left
    unfrozen, every full collection the engine triggers would rescan it all, a cost the real
    engine does not have. Released after the test."""
    import gc

    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.fixture(autouse=True)
def _restore_child_watcher() -> Iterator[None]:
    """Put back the process-wide child watcher (Python 3.11) that engines and peers replace.

    A pidfd watcher stays bound to the loop of the test that installed it; leaving it behind
    would break asyncio subprocesses in later tests that run on another loop.
    """
    if sys.version_info >= (3, 12):
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        previous = asyncio.get_child_watcher()
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_child_watcher(previous)


async def fill_with_cron_jobs(database: Path, count: int) -> None:
    """``count`` active cron jobs that will not fire soon, sharing one prompt."""
    async with SqliteStore(database) as store:
        service = JobService(store, Settings())
        await service.create_prompt("Bench", "benchmark prompt", prompt_id="bench")
        first = await service.create_job(
            {
                "name": "cron-00000",
                "prompt_id": "bench",
                "schedule": {"type": "cron", "expression": IDLE_CRON},
            }
        )
        for index in range(1, count):  # the same validated job, new identity
            job: Job = first.model_copy(update={"id": new_id(), "name": f"cron-{index:05d}"})
            await store.add_job(job)


@pytest.fixture(scope="session")
def many_jobs_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cnp database with 10,000 active cron jobs (built once; copy it with ``home_copy``)."""
    database = tmp_path_factory.mktemp("many-jobs") / DATABASE_NAME
    asyncio.run(fill_with_cron_jobs(database, MANY_JOBS))
    return database


@pytest.fixture
def home_copy(tmp_path: Path) -> Callable[[Path], Path]:
    """Copy a template database into a fresh cnp home; returns the home."""

    def copy(database: Path) -> Path:
        home = tmp_path / f"home-{len(list(tmp_path.glob('home-*')))}"
        home.mkdir()
        shutil.copyfile(database, home / DATABASE_NAME)
        return home

    return copy


# --- figure tables --------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    value: float
    unit: str
    target: str
    met: bool
    peer: str = "-"
    peer_value: float | None = None
    enforced: bool = True
    too_slow: bool = False  # an absolute limit this machine is too slow to judge

    @property
    def ratio(self) -> float | None:
        if self.peer_value is None or self.peer_value == 0 or math.isnan(self.peer_value):
            return None
        return self.value / self.peer_value


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return "n/a"
    if not unit and float(value).is_integer():
        text = f"{int(value):,}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return f"{text} {unit}".rstrip()


@dataclass
class Report:
    """The figure table of one benchmark."""

    title: str
    machine: Machine | None = None
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        figure: str,
        value: float,
        unit: str,
        *,
        target: str = "",
        met: bool = True,
        peer: str = "-",
        peer_value: float | None = None,
        enforced: bool = True,
        below: float | None = None,
        at_least: float | None = None,
    ) -> None:
        """One figure; ``enforced=False`` reports a miss in the table without failing the run.

        Only for targets this machine cannot show either way (the note of the table says why);
        every target measured against a peer in the same run is enforced. ``below`` and
        ``at_least`` are absolute time or CPU limits: they give the target and the verdict, the
        limit scaled on a machine slower than the reference (see ``Machine``).
        """
        slowdown = self.machine.slowdown if self.machine is not None else 1.0
        too_slow = False
        for limit, sign, here in (
            (below, "<", None if below is None else below * slowdown),
            (at_least, ">=", None if at_least is None else at_least / slowdown),
        ):
            if limit is None or here is None:
                continue
            target = f"{sign} {limit:g} {unit}"
            if self.machine is not None and slowdown > 1.0:
                too_slow = self.machine.too_slow
                if not too_slow:
                    target += f" (x{slowdown:.2f}: {_fmt(here, unit)})"
                else:
                    here = limit
                if self.machine.describe() not in self.notes:
                    self.notes.append(self.machine.describe())
            met = value < here if sign == "<" else value >= here
        self.rows.append(
            Row(
                figure,
                value,
                unit,
                target,
                met and not math.isnan(value),
                peer,
                peer_value,
                enforced and not too_slow,
                too_slow,
            )
        )

    def note(self, text: str) -> None:
        self.notes.append(text)

    def render(self) -> str:
        header = ("figure", "cnp", "peer", "peer value", "ratio", "target", "result")
        cells = [header] + [
            (
                row.figure,
                _fmt(row.value, row.unit),
                row.peer,
                _fmt(row.peer_value, row.unit),
                "-" if row.ratio is None else f"{row.ratio:.2f}x",
                row.target,
                _verdict(row),
            )
            for row in self.rows
        ]
        widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
        lines = [f"== {self.title} =="]
        for index, line in enumerate(cells):
            lines.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
            if index == 0:
                lines.append("  ".join("-" * w for w in widths))
        lines.extend(f"   {text}" for text in self.notes)
        return "\n".join(lines)

    @property
    def missed(self) -> list[Row]:
        return [row for row in self.rows if not row.met and row.enforced]


def _verdict(row: Row) -> str:
    if row.met:
        return "MET"
    if row.enforced:
        return "MISSED"
    return "MISSED (machine too slow)" if row.too_slow else "MISSED (reported)"


_reports: list[Report] = []


@pytest.fixture
def report(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str], machine: Machine
) -> Iterator[Callable[[str], Report]]:
    """``report(title)`` starts a table; it is printed (uncaptured) when the test ends."""
    made: list[Report] = []

    def start(title: str) -> Report:
        made.append(Report(title, machine))
        return made[-1]

    yield start
    with capsys.disabled():
        for table in made:
            print("\n" + table.render(), flush=True)
    _reports.extend(made)


def assert_targets(table: Report) -> None:
    """Fail with the missed targets (after the table has its figures)."""
    missed = [
        f"{row.figure}: {_fmt(row.value, row.unit)} (target {row.target})" for row in table.missed
    ]
    assert not missed, f"{table.title}: targets MISSED: " + "; ".join(missed)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat every figure table at the end of the run, where CI logs are read."""
    if not _reports:
        return
    terminalreporter.section("cnp benchmark figures")
    for table in _reports:
        terminalreporter.write_line(table.render())
        terminalreporter.write_line("")
