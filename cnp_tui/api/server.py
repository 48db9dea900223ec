"""Serving the API from an engine process: token, bind checks, an aiohttp AppRunner."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from cnp_tui.api.app import ApiState, create_app
from cnp_tui.api.auth import is_loopback, read_token
from cnp_tui.api.metrics import Metrics
from cnp_tui.errors import ConfigError
from cnp_tui.service import JobService

if TYPE_CHECKING:
    from cnp_tui.engine.runtime import Runtime

log = logging.getLogger("cnp.api")


class ApiServer:
    """The REST + WebSocket API of one engine (``Runtime`` starts and stops it)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.state: ApiState | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        runtime = self.runtime
        api = runtime.settings.api
        token = read_token(runtime.paths, api, create=True)
        if not token and not is_loopback(api.host):
            raise ConfigError(
                f"[api] host {api.host} is not a loopback address and no token is set; "
                "refusing to serve the API unauthenticated",
                hint="set [api] token_env or bind 127.0.0.1",
            )

        async def wake() -> None:
            # Our own commits do not move PRAGMA data_version for the engine's connection:
            # take the change in now, as the watcher would for another process's commit.
            await runtime.scheduler.sync()
            runtime.scheduler.wake()

        metrics = Metrics(runtime.bus)
        metrics.notification_backlog = runtime.notifier.backlog
        service = JobService(runtime.store, runtime.settings, clock=runtime.clock, on_change=wake)
        self.state = ApiState(
            service=service,
            bus=runtime.bus,
            settings=runtime.settings,
            token=token,
            metrics=metrics,
            owner=runtime.owner,
            scheduler_alive=lambda: runtime.scheduler.loop_alive,
        )
        self._runner = web.AppRunner(create_app(self.state), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, api.host, api.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise ConfigError(
                f"the API cannot listen on {api.host}:{api.port}: {exc.strerror or exc}",
                hint="choose another [api] port (or --api PORT), or stop what uses it",
            ) from None
        addresses = self._runner.addresses  # the bound port, when port 0 asked for a free one
        self.port = addresses[0][1] if addresses else api.port
        log.info("API listening on http://%s:%s (token: `cnp api token`)", api.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
