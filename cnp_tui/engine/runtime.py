"""Wiring of one engine: ``async with Runtime(paths, settings) as rt: ...``.

Entering opens the store, takes the lease (refusing to start when a live engine holds it),
recovers what a crashed engine left behind and starts the scheduler, the heartbeat and the
housekeeping (retention). Leaving stops dispatch, gives running executions
``[executor] shutdown_grace`` to finish, interrupts the rest and releases the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import warnings
from datetime import timedelta
from typing import Any

from cnp_tui.config import Settings
from cnp_tui.core.bus import EventBus
from cnp_tui.core.clock import Clock, SystemClock
from cnp_tui.core.events import EngineStarted, EngineStopped
from cnp_tui.core.models import Lease
from cnp_tui.engine.executor import Executor
from cnp_tui.engine.lease import HOSTNAME, lease_is_stale, new_owner_id
from cnp_tui.engine.scheduler import Scheduler
from cnp_tui.notify.notifier import Notifier
from cnp_tui.paths import Paths
from cnp_tui.store.sqlite import SqliteStore

log = logging.getLogger("cnp.engine")

HOUSEKEEPING_EVERY = 3600.0  # retention is about days: hourly is plenty


def install_child_watcher() -> None:
    """Use pidfds to reap children on Python 3.11 (its default starts a thread per child).

    Python 3.12+ picks a pidfd watcher by itself, so nothing is done there.
    """
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return  # kernel without pidfd support: keep the default
    loop = asyncio.get_running_loop()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        current = asyncio.get_child_watcher()
        if isinstance(current, asyncio.PidfdChildWatcher) and current.is_active():
            return
        watcher = asyncio.PidfdChildWatcher()
        asyncio.set_child_watcher(watcher)
        watcher.attach_loop(loop)


class Runtime:
    """One engine, owning one database."""

    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        *,
        clock: Clock | None = None,
        bus: EventBus | None = None,
        require_claude: bool = True,
        run_scheduler: bool = True,
    ) -> None:
        self.paths = paths
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.bus = bus or EventBus()
        self.owner = new_owner_id()
        self.require_claude = require_claude
        self.run_scheduler = run_scheduler
        self.store = SqliteStore(paths.database)
        self.executor = Executor(
            settings,
            self.bus,
            self.clock,
            append_logs=self.store.append_logs,
            record_pid=self.store.set_pid,
        )
        self.scheduler = Scheduler(
            self.store, self.bus, settings, self.clock, self.executor, self.owner
        )
        self.notifier = Notifier(self.store, self.bus, settings, self.clock)
        self.lease: Lease | None = None
        self.lost_lease = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.api: Any = None  # ApiServer when [api] enabled (imported lazily: aiohttp.web)

    async def __aenter__(self) -> Runtime:
        install_child_watcher()
        if self.require_claude:
            self.executor.executable()  # raises ClaudeNotFoundError with what to fix
        self.paths.ensure_home()
        await self.store.open()
        try:
            await self._acquire_lease()
            await self.notifier.start()  # before the scheduler: no event goes unseen
            await self._start_api()
            if self.run_scheduler:
                await self.scheduler.start()
            else:  # one execution in this process (`execute --wait` with no engine)
                await self.scheduler.load()
                await self.scheduler.recover()
        except BaseException:
            if self.api is not None:
                await self.api.stop()
                self.api = None
            await self.notifier.stop()
            if self.lease is not None:
                with contextlib.suppress(Exception):
                    await self.store.release_lease(self.owner)
            await self.store.close()
            raise
        self._tasks = [asyncio.create_task(self._heartbeat(), name="cnp-heartbeat")]
        if self.run_scheduler:
            self._tasks.append(asyncio.create_task(self._housekeeping(), name="cnp-housekeeping"))
        assert self.lease is not None
        self.bus.publish(EngineStarted(self.owner, self.lease.pid, self.lease.host))
        log.info(
            "engine started: pid %d on %s, database %s", os.getpid(), HOSTNAME, self.paths.database
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.api is not None:
            await self.api.stop()
        await self.scheduler.stop(self.settings.executor.shutdown_grace)
        await self.notifier.stop()  # undelivered rows stay in the outbox for the next engine
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.store.release_lease(self.owner)
        await self.store.close()
        self.bus.publish(EngineStopped(self.owner))
        log.info("engine stopped")

    async def _start_api(self) -> None:
        """Serve the REST + WebSocket API when [api] enabled (aiohttp.web imported only then)."""
        if not (self.settings.api.enabled and self.run_scheduler):
            return
        from cnp_tui.api.server import ApiServer

        api = ApiServer(self)
        await api.start()
        self.api = api

    async def _acquire_lease(self) -> None:
        now = self.clock.now()
        self.lease = Lease(
            owner=self.owner, pid=os.getpid(), host=HOSTNAME, started_at=now, heartbeat_at=now
        )
        interval = self.settings.job_engine.heartbeat_interval
        previous = await self.store.acquire_lease(
            self.lease, is_stale=lambda lease: lease_is_stale(lease, now, interval)
        )
        if previous is not None and previous.owner != self.owner:
            log.warning(
                "took over the lease of a stopped engine (pid %d on %s)",
                previous.pid,
                previous.host,
            )

    async def _heartbeat(self) -> None:
        while True:
            await self.clock.sleep(self.settings.job_engine.heartbeat_interval)
            try:
                if not await self.store.renew_lease(self.owner, self.clock.now()):
                    log.error("another engine took over this database; stopping")
                    self.lost_lease.set()
                    return
            except Exception:
                log.exception("renewing the engine lease failed")

    async def _housekeeping(self) -> None:
        while True:
            try:
                await self.prune()
            except Exception:
                log.exception("applying execution retention failed")
            await self.clock.sleep(HOUSEKEEPING_EVERY)

    async def prune(self) -> int:
        """Apply ``cleanup_retention_days`` and ``max_execution_history``."""
        if not self.settings.database.cleanup_old_executions:
            return 0
        days = self.settings.job_engine.cleanup_retention_days
        older_than = self.clock.now() - timedelta(days=days) if days else None
        deleted = await self.store.prune(
            older_than=older_than, keep_per_job=self.settings.database.max_execution_history
        )
        if deleted:
            log.info("retention: deleted %d old execution(s) and their logs", deleted)
        if older_than is not None:
            await self.notifier.prune(older_than)  # the outbox follows the same retention
        return deleted


async def run_headless(paths: Paths, settings: Settings) -> int:
    """``cnp --no-ui``: run until SIGINT/SIGTERM (exit 0) or until the lease is lost (exit 1)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Runtime(paths, settings) as runtime:
        # What exists now (modules, jobs, triggers) lives as long as this process: keep it out
        # of the collector's full passes, which otherwise rescan it all every few thousand runs.
        # (Here, not in Runtime: a process that embeds an engine owns its own heap.)
        gc.freeze()
        stopper = asyncio.ensure_future(stop.wait())
        lost = asyncio.ensure_future(runtime.lost_lease.wait())
        await asyncio.wait({stopper, lost}, return_when=asyncio.FIRST_COMPLETED)
        for waiter in (stopper, lost):
            waiter.cancel()
        if stop.is_set():
            log.info(
                "stopping: no new executions; %d running get up to %ss",
                runtime.scheduler.running_count,
                settings.executor.shutdown_grace,
            )
    return 1 if runtime.lost_lease.is_set() else 0
