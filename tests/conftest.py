"""Shared fixtures: a real cnp home on disk, settings that use the bundled simulator as
`claude`, a manual clock, and a recorder of engine events to wait on."""

from __future__ import annotations

import asyncio
import shlex
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from cnp_tui.config import Settings
from cnp_tui.core.bus import EventBus
from cnp_tui.core.clock import ManualClock
from cnp_tui.core.events import Event
from cnp_tui.paths import Paths
from cnp_tui.service import JobService
from cnp_tui.store.sqlite import SqliteStore

E = TypeVar("E", bound=Event)

SIMULATOR = f"{shlex.quote(sys.executable)} -m cnp_tui.engine.simulator"
START = datetime(2026, 3, 2, 8, 59, 30, tzinfo=UTC)


def make_settings(**sections: dict[str, Any]) -> Settings:
    """Settings for tests: the simulator as claude, quick polling, short graces."""
    data: dict[str, dict[str, Any]] = {
        "executor": {
            "claude_cli_path": SIMULATOR,
            "kill_grace": 1.0,
            "shutdown_grace": 5.0,
            "sample_interval": 0.1,
        },
        "scheduler": {"tick_interval": 0.05},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Settings.model_validate(data)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    home = tmp_path / "home"
    home.mkdir()
    return Paths(home=home, config_file=None)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


class Recorder:
    """Collects bus events; ``wait_for`` waits (bounded) for one that matches."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        bus.subscribe(self._record)

    def _record(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]

    async def wait_for(
        self,
        kind: type[E],
        predicate: Callable[[E], bool] = lambda _: True,
        *,
        count: int = 1,
        within: float = 20.0,
    ) -> list[E]:
        async def matching() -> list[E]:
            while True:
                found = [event for event in self.of(kind) if predicate(event)]
                if len(found) >= count:
                    return found
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(matching(), within)


@pytest.fixture
async def client(paths: Paths, settings: Settings, clock: ManualClock) -> AsyncIterator[JobService]:
    """A JobService on its own connection, like a `cnp job ...` process beside the engine."""
    async with SqliteStore(paths.database) as store:
        yield JobService(store, settings, clock=clock)


async def add_job(
    service: JobService,
    name: str,
    prompt_text: str,
    *,
    schedule: dict[str, Any] | None = None,
    **fields: Any,
) -> Any:
    """Create a prompt (id = name) and a job that runs it."""
    prompt = await service.create_prompt(name, prompt_text, prompt_id=name)
    spec = {
        "name": name,
        "prompt_id": prompt.id,
        "schedule": schedule or {"type": "cron", "expression": "0 0 1 1 *"},
        **fields,
    }
    return await service.create_job(spec)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Benchmarks run last: by then the freshly installed environment has settled (its files
    written out, its modules compiled), so they measure cnp and its peers, not the install."""
    items.sort(key=lambda item: item.get_closest_marker("benchmark") is not None)
