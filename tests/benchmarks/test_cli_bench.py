"""CLI start-up benchmarks: `cnp job list --format json` over 10,000 jobs, and `cnp --help`.

Each command runs as a real subprocess, the way a user or a script runs it; the figure is the
median wall time of a few runs, interleaved so that a passing load spike hits both alike.
A bare interpreter start (`python -c pass`) is measured alongside as the floor.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.benchmarks import _peers as peers
from tests.benchmarks.conftest import MANY_JOBS, Report, assert_targets

pytestmark = pytest.mark.benchmark

RUNS = 5


def cnp_command() -> list[str]:
    """The installed `cnp` script next to the interpreter, else `python -m cnp_tui`."""
    script = Path(sys.executable).with_name("cnp")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "cnp_tui"]


def timed(argv: Sequence[str], env: dict[str, str]) -> tuple[float, bytes]:
    """Wall time of one run (its whole output read) and that output; fails on a non-zero exit."""
    began = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - began
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return elapsed, done.stdout


def test_cli_start_up(
    many_jobs_database: Path,
    home_copy: Callable[[Path], Path],
    report: Callable[[str], Report],
) -> None:
    """`cnp job list --format json` (10,000 jobs) under 0.5 s, `cnp --help` under 0.25 s."""
    home = home_copy(many_jobs_database)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CNP_")}
    cnp = cnp_command()
    listing = [*cnp, "--home", str(home), "job", "list", "--format", "json"]
    listed, helped, bare = [], [], []
    for run in range(RUNS):  # interleaved
        elapsed, output = timed(listing, env)
        listed.append(elapsed)
        if run == 0:
            assert len(json.loads(output)) == MANY_JOBS
        helped.append(timed([*cnp, "--help"], env)[0])
        bare.append(timed([sys.executable, "-c", "pass"], env)[0])
    list_s, help_s, bare_s = peers.median(listed), peers.median(helped), peers.median(bare)

    table = report(f"5. CLI start-up (median of {RUNS} real subprocess runs)")
    table.add(
        f"cnp job list --format json ({MANY_JOBS:,} jobs)",
        list_s,
        "s",
        peer="python -c pass",
        peer_value=bare_s,
        below=0.5,
    )
    table.add(
        "cnp --help",
        help_s,
        "s",
        peer="python -c pass",
        peer_value=bare_s,
        below=0.25,
    )
    table.note(
        "runs (s): list "
        + ", ".join(f"{v:.3f}" for v in listed)
        + "; help "
        + ", ".join(f"{v:.3f}" for v in helped)
        + f"; command: {' '.join(Path(part).name for part in cnp)}"
    )
    assert_targets(table)
