"""Wake-ups off the request path (accord.bus.NewsQueue, issue 23): coalesced per device,
bounded, published by one task that a failing bus does not stop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from accord.bus import NewsQueue


class RecordingBus:
    connected = True
    errors = 0
    dropped = 0

    def __init__(self, fail: int = 0) -> None:
        self.published: list[list[str]] = []
        self.fail = fail
        self.sent = asyncio.Event()

    async def publish(self, device_ids: Iterable[str]) -> None:
        if self.fail:
            self.fail -= 1
            raise OSError("bus down")
        self.published.append(list(device_ids))
        self.sent.set()


async def _drained(bus: RecordingBus) -> None:
    await asyncio.wait_for(bus.sent.wait(), 5)
    bus.sent.clear()


async def test_a_burst_is_one_bus_message_with_each_device_once() -> None:
    bus = RecordingBus()
    news = NewsQueue(bus)  # type: ignore[arg-type]
    for _ in range(50):  # fifty posts to a group of three, before the task runs
        news.put(["a", "b", "c"])
    assert news.depth == 3
    await _drained(bus)
    assert bus.published == [["a", "b", "c"]]
    await news.close()


async def test_large_bursts_are_chunked() -> None:
    bus = RecordingBus()
    news = NewsQueue(bus)  # type: ignore[arg-type]
    news.put([f"d{i}" for i in range(2 * NewsQueue.CHUNK + 1)])
    await _drained(bus)
    assert [len(ids) for ids in bus.published] == [NewsQueue.CHUNK, NewsQueue.CHUNK, 1]
    await news.close()


async def test_past_the_bound_every_local_socket_is_woken_instead() -> None:
    bus = RecordingBus()
    woken = asyncio.Event()

    async def resync() -> None:
        woken.set()

    news = NewsQueue(bus, resync, limit=2)  # type: ignore[arg-type]
    news.put(["a", "b", "c", "d"])
    assert news.depth == 2 and news.overflowed == 2
    await _drained(bus)
    assert woken.is_set() and bus.published == [["a", "b"]]
    await news.close()


async def test_a_failing_bus_does_not_stop_the_news() -> None:
    bus = RecordingBus(fail=1)
    news = NewsQueue(bus)  # type: ignore[arg-type]
    news.put(["a"])
    for _ in range(100):  # the first drain fails; wait until it has
        if not news.depth and bus.fail == 0:
            break
        await asyncio.sleep(0)
    assert bus.fail == 0 and bus.published == []
    await asyncio.sleep(0)
    task = news._task
    assert task is not None and not task.done()  # the same task drains on
    news.put(["b"])
    await _drained(bus)
    assert bus.published == [["b"]] and news._task is task
    await news.close()
