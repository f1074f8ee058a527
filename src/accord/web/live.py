"""One device behind the web app: a lock around it, the provider push, and the
page's live channel (server-sent events).

The device is one SQLCipher profile and one MLS state per group, so every use
of it (a view, a send, applying pushed items) holds :attr:`Live.lock`. The
provider's push is only a wake-up: each frame makes the device ``sync`` (the
library's own apply path, with housekeeping and key-transparency duties), then
every open page is told to refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from accord.client.device import Device

IDLE_S = 20.0  # reconnect the push this often even when nothing comes
RETRY_S = 0.1
OFFLINE_RETRY_S = 5.0
KEEPALIVE_S = 15.0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Live:
    def __init__(self, dev: Device, clock: Callable[[], int] = now_ms) -> None:
        self.dev = dev
        self.clock = clock
        self.pages: set[asyncio.Queue[str]] = set()
        self.online = False
        self._task: asyncio.Task[None] | None = None

    def changed(self, what: str = "changed", **detail: Any) -> None:
        """Tell every open page that something changed (it fetches what it shows)."""
        data = json.dumps({"type": what, **detail})
        for q in list(self.pages):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(data)

    def turn(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The device for one piece of work: this process's turn and the profile's
        writer lock, so that CLI commands on the same profile run between requests
        (issue 19); ``start`` lets the lock go between them."""
        return self.dev.writing()

    async def sync(self) -> int:
        async with self.turn():
            n = await self.dev.sync(self.clock())
        if n:
            self.changed()
        return n

    async def pump(self) -> None:
        """Forever: sync, then wait on the provider's push; each frame is a sync."""
        while True:
            try:
                async with self.turn():
                    await self.dev.connect()
                await self.sync()
                self.online = True
                async for _items in self.dev.api.push(self.dev.cursor, idle_timeout=IDLE_S):
                    await self.sync()
            except Exception as exc:  # noqa: BLE001 - offline: show what the device holds
                if self.online:
                    self.changed("offline", message=type(exc).__name__)
                self.online = False
            await asyncio.sleep(RETRY_S if self.online else OFFLINE_RETRY_S)

    def start(self) -> None:
        self.dev.suspend_lock()  # from now on taken per request and per sync
        if self.dev.registered and self._task is None:
            self._task = asyncio.create_task(self.pump())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await self.dev.disconnect()

    async def events(self) -> AsyncIterator[str]:
        """The SSE stream of one page: a first hello, then each change, with keep-alives."""
        q: asyncio.Queue[str] = asyncio.Queue(maxsize=64)
        self.pages.add(q)
        try:
            yield "retry: 1000\ndata: {\"type\": \"hello\"}\n\n"
            while True:
                try:
                    data = await asyncio.wait_for(q.get(), KEEPALIVE_S)
                    yield f"data: {data}\n\n"
                except TimeoutError:
                    yield ": keep-alive\n\n"
        finally:
            self.pages.discard(q)
