"""In-process event bus: synchronous publish, fan-out to subscribers.

Publishing never blocks the engine: subscribers are plain callables (cheap, non-blocking) or
bounded queues; a queue that is full drops its oldest event and counts the loss, so a slow
consumer cannot slow the scheduler down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from cnp_tui.core.events import Event

log = logging.getLogger(__name__)

Handler = Callable[[Event], None]


class EventBus:
    """Publish events to every subscriber."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Call ``handler`` for every event; returns a function that unsubscribes."""
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return unsubscribe

    def queue(self, maxsize: int = 10_000) -> tuple[BusQueue, Callable[[], None]]:
        """A bounded queue that receives every event; returns it and its unsubscribe function."""
        bus_queue = BusQueue(maxsize)
        return bus_queue, self.subscribe(bus_queue.put)

    def publish(self, event: Event) -> None:
        for handler in tuple(self._handlers):
            try:
                handler(event)
            except Exception:  # a broken subscriber must not break the engine
                log.exception("event handler %r failed on %s", handler, type(event).__name__)


class BusQueue(asyncio.Queue[Event]):
    """A queue that drops its oldest event when full instead of blocking the publisher."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.dropped = 0

    def put(self, event: Event) -> None:  # type: ignore[override]
        if self.full():
            self.get_nowait()
            self.dropped += 1
        self.put_nowait(event)
