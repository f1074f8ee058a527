"""The device as the faces (cli, web) use it: the core plus its sync loop.

:class:`Device` is the top of the client package: it composes the device core
(``device_core``: profile, keys, provider session) with the feature modules
that apply what the provider queued (``inbox``) and the duties that follow a
sync (``housekeeping``, ``device_kt``, ``outbox``). The feature modules take a
``DeviceCore`` and never import this module back.

Push is an input: ``on_push`` applies one batch of pushed items (the ones this
device has not applied yet) and is what ``listen`` calls for each batch the
provider's WebSocket delivers; a test calls it with items of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from accord.client.device_core import DeviceCore
from accord.wire import messages as m

MAX_SYNC_PAGES = 200  # per sync call; the rest waits for the next one
PAGE = 100

# The feature modules are imported on a device's first sync (function-local): a
# command that never syncs does not load key transparency and the rest.


class Device(DeviceCore):
    """One open profile, with the sync loop (see ``DeviceCore`` for the rest)."""

    async def catch_up(self, now: int) -> int:
        """Fetch and apply everything queued for this device (bounded pages); how many
        items were applied."""
        from accord.client import inbox

        total = 0
        for _ in range(MAX_SYNC_PAGES):
            page = await self.api.fetch(self.cursor, PAGE)
            if not page.items:
                break
            total += await inbox.apply_items(self, page.items, now)
        return total

    async def sync(self, now: int, *, housekeep: bool = True) -> int:
        """Fetch and apply everything queued for this device, then (``housekeep``) the
        duties that follow; how many items were applied."""
        from accord.client import device_kt, housekeeping, outbox

        total = await self.catch_up(now)
        if housekeep:
            await housekeeping.run(self, now)
            await device_kt.after_sync(self, now)  # key transparency duties (issue 7)
            await outbox.flush(self, now)  # what an outage kept back, when due (issue 19)
        return total

    async def on_push(self, items: list[m.QueueItem], now: Callable[[], int]
                      ) -> tuple[int, list[m.QueueItem]]:
        """Apply one batch of pushed items and the duties after it: how many were applied,
        and the items that were new (another command's sync may have applied some)."""
        from accord.client import device_kt, housekeeping, inbox

        fresh = [i for i in items if i.seq > self.cursor]
        n = await inbox.apply_items(self, fresh, now())
        await housekeeping.run(self, now())
        await device_kt.after_sync(self, now())  # key transparency (issue 7)
        return n, fresh

    async def listen(self, now_fn: Callable[[], int], *, max_frames: int = 1_000_000,
                     idle_timeout: float | None = None,
                     on_items: Callable[[list[m.QueueItem]], object] | None = None,
                     on_connected: Callable[[], object] | None = None) -> int:
        """Apply pushed items as they arrive (bounded); ``now_fn()`` is the caller's clock.
        ``on_connected()`` runs once the catch-up sync is done (the live view shows
        what it brought at once)."""
        # Other commands may use the profile while this one waits on the network;
        # every batch is applied under the writer lock (``profile_lock``).
        self.suspend_lock()
        async with self.writing():
            await self.sync(now_fn())
            after = self.cursor
        if on_connected is not None:
            on_connected()
        total = 0
        async for items in self.api.push(after, max_frames=max_frames,
                                         idle_timeout=idle_timeout):
            async with self.writing():
                n, fresh = await self.on_push(items, now_fn)
            total += n
            if on_items is not None and fresh:
                on_items(fresh)
        return total
