"""How server nodes tell each other "queue X has news".

A :class:`Bus` carries only device ids, never content. ``InProcessBus`` is
the default for one node; ``NatsBus`` lets several nodes that share one
PostgreSQL wake each other's WebSocket connections. Beside news, the nodes
exchange opaque ``shared`` messages (what each took from the rate limits,
``accord.server.shared_limits``) on a second subject; one node has nobody to
tell, so ``InProcessBus`` drops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from accord.tasks import cancel_and_wait

Listener = Callable[[list[str]], Awaitable[None]]
Resync = Callable[[], Awaitable[None]]  # wake every local watcher: news may have been lost
Shared = Callable[[bytes], Awaitable[None]]  # another node's exchange message
log = logging.getLogger("accord.bus")
NODE_HEADER = "Accord-Node"


class Bus(Protocol):
    @property
    def connected(self) -> bool: ...
    @property
    def errors(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    async def start(self, listener: Listener, resync: Resync | None = None,
                    shared: Shared | None = None) -> None: ...
    async def publish(self, device_ids: Iterable[str]) -> None: ...
    async def share(self, data: bytes) -> None: ...
    async def close(self) -> None: ...


class InProcessBus:
    connected = True  # nothing to lose: the bus is this process
    errors = 0
    dropped = 0

    def __init__(self) -> None:
        self._listener: Listener | None = None

    async def start(self, listener: Listener, resync: Resync | None = None,
                    shared: Shared | None = None) -> None:
        self._listener = listener

    async def publish(self, device_ids: Iterable[str]) -> None:
        ids = list(device_ids)
        if ids and self._listener is not None:
            await self._listener(ids)

    async def share(self, data: bytes) -> None:
        """One node: no other node to tell."""

    async def close(self) -> None:
        self._listener = None


class NatsBus:
    """News on one NATS subject, which every node hears.

    A node's own news wakes its own sockets at once, without the round trip
    through NATS (and without NATS: a node cut from it still pushes to the
    devices it holds); the copy that comes back from NATS, marked with this
    node's id, is skipped. News for other nodes is best effort: while NATS
    is unreachable it is dropped and counted, not buffered (the client
    library would buffer it without bound), since every WebSocket re-reads
    its queue at least every ``accord.server.ws.IDLE_RECHECK_S`` anyway.
    A node that reconnects to NATS wakes every WebSocket it holds (``resync``),
    each of which re-reads its queue: news other nodes published meanwhile was
    dropped, and would otherwise wait for the re-read (issue 23).
    """

    def __init__(self, url: str, subject: str = "accord.news") -> None:
        self.url = url
        self.subject = subject
        self.shared_subject = subject + ".shared"
        self.node = secrets.token_hex(8)  # tells this node's news from others'
        self._nc: Any = None
        self._listener: Listener | None = None
        self.errors = 0  # errors and disconnections since start (the node's metrics)
        self.dropped = 0  # news not sent because NATS was unreachable

    @property
    def connected(self) -> bool:
        return self._nc is not None and bool(self._nc.is_connected)

    async def start(self, listener: Listener, resync: Resync | None = None,
                    shared: Shared | None = None) -> None:
        import nats

        async def on_error(exc: Exception) -> None:
            self.errors += 1
            log.warning("bus error: %s", type(exc).__name__)  # the text may name the URL

        async def on_disconnect() -> None:
            self.errors += 1
            log.warning("bus disconnected; reconnecting")

        async def on_reconnect() -> None:
            log.info("bus reconnected; waking every local WebSocket")
            if resync is not None:
                await resync()

        self._nc = await nats.connect(self.url, name="accord-server", max_reconnect_attempts=-1,
                                      error_cb=on_error, disconnected_cb=on_disconnect,
                                      reconnected_cb=on_reconnect)

        self._listener = listener

        async def on_msg(msg: Any) -> None:
            if self._ours(msg):
                return  # our own, delivered locally when published
            try:
                ids = json.loads(msg.data)
            except ValueError:
                log.warning("ignored a malformed news message on %s", self.subject)
                return
            if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
                await listener(ids)

        await self._nc.subscribe(self.subject, cb=on_msg)

        if shared is not None:
            async def on_shared(msg: Any) -> None:
                if not self._ours(msg):
                    await shared(msg.data)

            await self._nc.subscribe(self.shared_subject, cb=on_shared)

    async def publish(self, device_ids: Iterable[str]) -> None:
        ids = list(device_ids)
        if not ids:
            return
        if self._listener is not None:
            await self._listener(ids)
        await self._send(self.subject, json.dumps(ids).encode())

    async def share(self, data: bytes) -> None:
        """Best effort, like news: while NATS is unreachable it is dropped and counted."""
        await self._send(self.shared_subject, data)

    async def _send(self, subject: str, data: bytes) -> None:
        """Publish marked as this node's; best effort: the post is stored, the limits hold
        locally, so a message NATS cannot take is dropped and counted, never buffered."""
        import nats.errors

        if not self.connected:
            self.dropped += 1
            return
        try:
            await self._nc.publish(subject, data, headers={NODE_HEADER: self.node})
        except nats.errors.Error as exc:
            self.errors += 1
            self.dropped += 1
            log.warning("bus publish on %s failed: %s", subject, type(exc).__name__)

    def _ours(self, msg: Any) -> bool:
        return bool((msg.headers or {}).get(NODE_HEADER) == self.node)

    async def close(self) -> None:
        if self._nc is not None:
            nc, self._nc = self._nc, None
            await nc.drain()


class Notifier:
    """Local wake-ups: one asyncio.Event per connected device, set by bus news."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}

    def watch(self, device_id: str) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.setdefault(device_id, set()).add(event)
        return event

    def watchers(self, device_id: str) -> int:
        """How many sockets of this node watch ``device_id`` (the per-device cap)."""
        return len(self._waiters.get(device_id, ()))

    def unwatch(self, device_id: str, event: asyncio.Event) -> None:
        events = self._waiters.get(device_id)
        if events is not None:
            events.discard(event)
            if not events:
                del self._waiters[device_id]

    async def wake_all(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()

    async def on_news(self, device_ids: list[str]) -> None:
        for device_id in device_ids:
            for event in self._waiters.get(device_id, ()):
                event.set()


class NewsQueue:
    """Wake-ups off the request path (issue 23): a handler puts the devices whose queues
    have news and returns; one task publishes them on the bus.

    Each device is pending once however many messages it got meanwhile (a push
    re-reads the whole queue), so the wake-ups of a burst of posts, or of one batch
    of them (``accord.storage.post_batch``), go out as one bus message of at most
    ``CHUNK`` devices. The pending set is bounded by ``limit``: past it a device is
    not added and counted in ``overflowed``, and the next drain wakes every socket
    of this node (``resync``) instead; sockets on other nodes re-read their queue
    within ``accord.server.ws.IDLE_RECHECK_S`` anyway.
    """

    CHUNK = 1000  # device ids per bus message (NATS takes at most 1 MiB)

    def __init__(self, bus: Bus, resync: Resync | None = None, limit: int = 65_536) -> None:
        self.bus = bus
        self.limit = limit
        self.overflowed = 0
        self._resync = resync
        self._pending: dict[str, None] = {}  # an ordered set
        self._overflow = False
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def depth(self) -> int:
        return len(self._pending)

    def put(self, device_ids: Iterable[str]) -> None:
        pending = self._pending
        for device_id in device_ids:
            if device_id in pending:
                continue
            if len(pending) >= self.limit:
                self.overflowed += 1
                self._overflow = True
                continue
            pending[device_id] = None
        if not pending and not self._overflow:
            return
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(self._wake))
        assert self._wake is not None
        self._wake.set()

    async def _run(self, wake: asyncio.Event) -> None:
        while True:
            await wake.wait()
            wake.clear()
            ids, self._pending = list(self._pending), {}
            overflow, self._overflow = self._overflow, False
            try:
                if overflow and self._resync is not None:
                    await self._resync()
                for start in range(0, len(ids), self.CHUNK):
                    await self.bus.publish(ids[start:start + self.CHUNK])
            except Exception as exc:  # noqa: BLE001 - news is best effort; the items are stored
                log.warning("news not published: %s", type(exc).__name__)

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)


def make_bus(url: str | None) -> Bus:
    if url:
        if not url.startswith(("nats://", "tls://")):
            raise ValueError("--bus takes a nats:// URL")
        return NatsBus(url)
    return InProcessBus()
