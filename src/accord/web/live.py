"""One device behind the web app: a lock around it, the provider push, and the
page's live channel (server-sent events).

The device is one SQLCipher profile and one MLS state per group, so every use
of it (a view, a send, applying pushed items) holds its turn (``Live.turn``).
A push frame carries the items themselves: they are applied at once through the
library's one apply path (``inbox.apply_items``, as ``Device.listen`` does) and
the pages are told; only then do the duties of a sync run (housekeeping, key
transparency, the outbox), and the pages are told again when they found
something. A frame is no longer a whole sync with a fetch of its own (the push
to screen latency, docs/PERFORMANCE.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from accord.client import alerts, device_kt, housekeeping, inbox, outbox
from accord.client.device import Device
from accord.errors import Conflict
from accord.wire import messages as m

IDLE_S = 20.0  # reconnect the push this often even when nothing comes
RETRY_S = 0.1
OFFLINE_RETRY_S = 5.0
KEEPALIVE_S = 15.0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class NotSetUp(Conflict):
    code = "not_set_up"


class Live:
    """``dev`` is None until the person creates or restores a profile from the page
    (onboarding, ``accord.web.setup_views``); then ``attach`` gives it one."""

    def __init__(self, dev: Device | None, clock: Callable[[], int] = now_ms) -> None:
        self._dev = dev
        self._owned = False
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

    @property
    def dev(self) -> Device:
        if self._dev is None:
            raise NotSetUp("there is no profile yet: create or restore one first")
        return self._dev

    @property
    def ready(self) -> bool:
        return self._dev is not None and self._dev.registered

    def attach(self, dev: Device) -> None:
        """The profile the onboarding made (its writer lock held): serve it from now on."""
        self._dev = dev
        self._owned = True  # made here: closed by ``stop``
        self.start()

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

    async def apply(self, items: list[m.QueueItem]) -> int:
        """A push frame: its items applied and shown first, the duties after."""
        async with self.turn():
            # another command on this profile may have applied some already
            fresh = [i for i in items if i.seq > self.dev.cursor]
            n = await inbox.apply_items(self.dev, fresh, self.clock())
        if n:
            self.changed()
        async with self.turn():
            before = alerts.pending(self.dev.store)
            await housekeeping.run(self.dev, self.clock())
            await device_kt.after_sync(self.dev, self.clock())  # key transparency (issue 7)
            await outbox.flush(self.dev, self.clock())
            if n or alerts.pending(self.dev.store) != before:
                self.changed()  # what the checks found (a key change, an alert) is shown too
        return n

    async def pump(self) -> None:
        """Forever: sync, then apply what the provider's push brings."""
        while True:
            try:
                async with self.turn():
                    await self.dev.connect()
                await self.sync()
                self.online = True
                async for items in self.dev.api.push(self.dev.cursor, idle_timeout=IDLE_S):
                    await self.apply(items)
            except Exception as exc:  # noqa: BLE001 - offline: show what the device holds
                if self.online:
                    self.changed("offline", message=type(exc).__name__)
                self.online = False
            await asyncio.sleep(RETRY_S if self.online else OFFLINE_RETRY_S)

    def start(self) -> None:
        if self._dev is None:
            return
        self._dev.suspend_lock()  # from now on taken per request and per sync
        if self._dev.registered and self._task is None:
            self._task = asyncio.create_task(self.pump())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._dev is not None:
            with contextlib.suppress(Exception):
                await self._dev.disconnect()
            if self._owned:
                self._dev.close()

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
