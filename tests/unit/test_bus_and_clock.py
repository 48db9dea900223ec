"""The event bus and the manual clock that the engine's tests rely on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from cnp_tui.core.bus import EventBus
from cnp_tui.core.clock import ManualClock
from cnp_tui.core.events import CooldownEnded, Event, JobDeleted


async def test_a_full_subscriber_queue_drops_oldest_and_counts() -> None:
    bus = EventBus()
    queue, unsubscribe = bus.queue(maxsize=2)
    for job_id in ("a", "b", "c"):
        bus.publish(JobDeleted(job_id))
    assert queue.dropped == 1
    assert [queue.get_nowait().job_id, queue.get_nowait().job_id] == ["b", "c"]  # type: ignore[attr-defined]
    unsubscribe()
    bus.publish(JobDeleted("d"))
    assert queue.empty()


async def test_a_failing_subscriber_does_not_stop_the_others() -> None:
    bus = EventBus()
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe(broken)
    bus.subscribe(seen.append)
    bus.publish(CooldownEnded(datetime(2026, 1, 1, tzinfo=UTC)))
    assert len(seen) == 1


async def test_manual_clock_wakes_sleepers_in_deadline_order() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    woken: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woken.append(name)

    tasks = [asyncio.create_task(sleeper("late", 60)), asyncio.create_task(sleeper("early", 10))]
    await asyncio.sleep(0)
    assert clock.next_wakeup == clock.now() + timedelta(seconds=10)
    await clock.advance(30)
    assert woken == ["early"]
    await clock.advance(30)
    assert woken == ["early", "late"]
    await asyncio.gather(*tasks)
