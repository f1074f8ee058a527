"""WebSocket push on ``/v1/ws``: a device's new queue items, as they arrive.

The first frame authenticates (a token in the URL would end up in logs).
After that the server sends ``WsItems`` frames whenever the bus says this
device's queue has news; the device may send ``{"type": "ack", "up_to": n}``.
Items stay queued until acknowledged, so a dropped socket loses nothing.

Close codes: 4401 when the first frame does not authenticate (malformed,
deep JSON, bad token, or none within ``AUTH_TIMEOUT_S``); 4429 when the
client address already holds ``max_pending_sockets_per_address`` sockets
that have not authenticated yet (issue 17: each is held up to
``AUTH_TIMEOUT_S`` by anyone, with no account), or when the device already
holds ``max_sockets_per_device`` sockets on this node (each socket costs a
task, a buffer and a wake-up on every queue change); 1001
(going away) when the node drains before it stops (``accord.server.lifecycle``):
the device reconnects, to another node, and resumes from its cursor; 1013 (try
again later) when the provider's database is unavailable, while authenticating or
reading the queue: the token is fine and the device reconnects later (it was a 4401,
which tells a client to drop its token; issue 23); 4408
when the device does not take a frame within ``push_send_timeout_s`` (a
slow or stalled reader).

A device that offers the subprotocol ``accord.queue.v1`` (``wire.binary``, issue 23)
gets its items as binary frames, each a queue page in the binary envelope (the MLS
bytes as they are, no base64) whose ``next_after`` is the frame's last seq; any
other device gets ``WsItems`` JSON text frames.

What a socket may hold is bounded: one queue page at a time, sent in frames
of at most ``PUSH_FRAME_BYTES`` (a client reads frames of up to 4 MiB), and
behind it only the transport's write buffer, whose high-water mark makes
each send wait. A reader that stops reading would hold its page for ever;
past the send timeout it is dropped, and since items stay queued until
acknowledged, it resynchronizes by reconnecting from its cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from accord.errors import AccordError, StoreUnavailable
from accord.server import accounts, delivery
from accord.server.lifecycle import GOING_AWAY
from accord.server.state import Provider
from accord.storage import DeviceRecord
from accord.wire import decode, encode, loads, parse
from accord.wire import messages as m
from accord.wire.binary import QUEUE_SUBPROTOCOL, encode_queue_page

log = logging.getLogger("accord.server.ws")
AUTH_TIMEOUT_S = 10.0
IDLE_RECHECK_S = 30.0
CLOSE_AUTH = 4401
CLOSE_TOO_MANY = 4429
CLOSE_SLOW = 4408
CLOSE_TRY_LATER = 1013
PUSH_FRAME_BYTES = 1024 * 1024
CLOSE_WAIT_S = 2.0  # a stalled reader cannot take the close frame either


async def push_endpoint(ws: WebSocket) -> None:
    p: Provider = ws.app.state.provider
    binary = QUEUE_SUBPROTOCOL in ws.scope.get("subprotocols", ())
    await ws.accept(subprotocol=QUEUE_SUBPROTOCOL if binary else None)
    if p.lifecycle.draining:
        with contextlib.suppress(Exception):
            await ws.close(code=GOING_AWAY)
        return
    address = ws.client.host if ws.client else "-"
    pending = p.lifecycle.pending
    if pending.get(address, 0) >= _pending_limit(p):
        log.info("ws: refused, too many unauthenticated sockets from one address")
        with contextlib.suppress(Exception):
            await ws.close(code=CLOSE_TOO_MANY)
        return
    pending[address] = pending.get(address, 0) + 1
    try:
        first = await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_S)
        auth = parse(m.WsAuth, first)
        device = await accounts.authenticate(p, auth.token, p.clock())
    except StoreUnavailable:
        await _close_try_later(ws)
        return
    except (AccordError, ValueError, TimeoutError, WebSocketDisconnect) as exc:
        log.info("ws: authentication refused (%s)", type(exc).__name__)
        with contextlib.suppress(Exception):
            await ws.close(code=CLOSE_AUTH)
        return
    finally:
        pending[address] -= 1
        if not pending[address]:
            del pending[address]
    if p.notifier.watchers(device.device_id) >= p.config.max_sockets_per_device:
        log.info("ws: refused, the device holds too many sockets")
        with contextlib.suppress(Exception):
            await ws.close(code=CLOSE_TOO_MANY)
        return
    event = p.notifier.watch(device.device_id)
    reader = asyncio.create_task(_read_acks(p, ws, device))
    p.lifecycle.sockets.add(ws)
    try:
        await _push_loop(p, ws, device, auth.after, event, reader, binary)
    except (WebSocketDisconnect, RuntimeError):
        pass
    except StoreUnavailable:
        await _close_try_later(ws)
    except TimeoutError:
        p.lifecycle.slow_consumers += 1
        log.info("ws: dropped a reader that took no frame in %.0f s", p.config.push_send_timeout_s)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(code=CLOSE_SLOW), CLOSE_WAIT_S)
    finally:
        p.lifecycle.sockets.discard(ws)
        p.notifier.unwatch(device.device_id, event)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


def _pending_limit(p: Provider) -> int:
    """Per-address, so scaled like the per-address rate limits (tests and benchmarks
    open many sockets from one address)."""
    c = p.config
    return max(1, int(c.max_pending_sockets_per_address * c.rate_limit_scale))


async def _close_try_later(ws: WebSocket) -> None:
    log.info("ws: closed, the database is unavailable")
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(code=CLOSE_TRY_LATER), CLOSE_WAIT_S)


async def _push_loop(
    p: Provider,
    ws: WebSocket,
    device: DeviceRecord,
    cursor: int,
    event: asyncio.Event,
    reader: asyncio.Task[None],
    binary: bool,
) -> None:
    while not reader.done():
        event.clear()
        page = await delivery.fetch(p, device, cursor, p.config.max_queue_page)
        if page.items:
            for items in _frames(page.items):
                if binary:
                    data = encode_queue_page(m.QueuePage(items=items, next_after=items[-1].seq))
                    sent = ws.send_bytes(data)
                else:
                    sent = ws.send_text(orjson.dumps(encode(m.WsItems(type="items",
                                                                      items=items))).decode())
                await asyncio.wait_for(sent, p.config.push_send_timeout_s)
            cursor = page.next_after
            continue
        waiter = asyncio.create_task(event.wait())
        await asyncio.wait({waiter, reader}, timeout=IDLE_RECHECK_S,
                           return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()


def _frames(items: list[m.QueueItem]) -> list[list[m.QueueItem]]:
    """The page in order, in frames of about ``PUSH_FRAME_BYTES`` at most (an item
    larger than that alone; one message is at most 256 KiB)."""
    frames: list[list[m.QueueItem]] = [[]]
    size = 0
    for item in items:
        cost = len(item.body) * 4 // 3 + 512  # base64 and the item's other fields
        if frames[-1] and size + cost > PUSH_FRAME_BYTES:
            frames.append([])
            size = 0
        frames[-1].append(item)
        size += cost
    return frames


async def _read_acks(p: Provider, ws: WebSocket, device: DeviceRecord) -> None:
    while True:
        try:
            frame = loads(await ws.receive_text())
            if isinstance(frame, dict) and frame.get("type") == "ack":
                req = decode(m.AckRequest, {"up_to": frame.get("up_to")})
                await delivery.ack(p, device, req)
        except (ValueError, AccordError):
            log.info("ws: ignored a malformed frame")
        except (WebSocketDisconnect, RuntimeError):
            return
