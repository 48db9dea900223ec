"""Injected time.

Scheduler, executor timeouts, retry and cooldown code take a ``Clock`` so that tests drive time
with ``ManualClock.advance`` instead of sleeping, while production uses ``SystemClock``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time (aware UTC) and a way to wait for it."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...

    async def sleep_until(self, when: datetime) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, when: datetime) -> None:
        # Sleep in bounded steps so a system clock change (NTP, suspend) is noticed.
        while True:
            remaining = (when - self.now()).total_seconds()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, 60.0))

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that only moves when a test calls ``advance`` or ``set``."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + timedelta(seconds=max(0.0, seconds)))

    async def sleep_until(self, when: datetime) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._counter), future))
        await future

    def monotonic(self) -> float:
        return self._now.timestamp()

    async def advance(self, seconds: float) -> None:
        """Move time forward and let every task woken by it run."""
        await self.set(self._now + timedelta(seconds=seconds))

    async def set(self, when: datetime) -> None:
        """Jump to ``when`` (never backwards) and wake the sleepers that are due."""
        self._now = max(self._now, when)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
        # Several rounds so chains of awaits that follow a wake-up get to run.
        for _ in range(5):
            await asyncio.sleep(0)

    @property
    def next_wakeup(self) -> datetime | None:
        """The earliest pending sleeper's deadline (tests use it to step to the next event)."""
        live = [entry for entry in self._sleepers if not entry[2].done()]
        return min(live)[0] if live else None


def utcnow() -> datetime:
    """Current aware UTC time, for code that has no clock of its own (CLI clients)."""
    return datetime.now(UTC)
