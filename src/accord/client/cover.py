"""Cover traffic (T12): posts into the device's own conversations at random times.

Off by default; ``accord cover on`` turns the setting on for this device and
``accord cover run`` (or any loop that calls :func:`tick`) sends. A cover
post is an empty read receipt, a real content of the same bucket as a short
text, protected by MLS and posted through :func:`accord.client.messaging.send_body`
exactly like a real message: same endpoint, same anonymous connection, same
headers, same body fields, same sizes. It goes into one of the device's
conversations chosen uniformly at random (active, accepted, not being moved
by a ReInit), so the group id in the request path tells the provider nothing
either; the note-to-self conversation is one of them, and the only one when
there is no other. Members' devices apply it as a no-op (a receipt for no
message), and a device holding a message request drops it unread
(``consent.hold``). A conversation the key-change gate holds back
(T06) is skipped: cover never confirms anything for the person.

What it does not hide is in docs/PRIVACY.md ("Cover traffic").
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from accord.client import consent, history_transfer, messaging
from accord.client.safety import KeyChangeUnconfirmed
from accord.content import ReadReceipt
from accord.errors import ValidationError
from accord.privacy.cover import CoverSchedule

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

SETTING = "cover_traffic"
Sleep = Callable[[float], Awaitable[None]]
MAX_POSTS_PER_RUN = 10_000


def setting(dev: DeviceCore) -> dict[str, Any]:
    return dict(dev.store.get_json(SETTING, {"enabled": False, "mean_s": 300}))


def configure(dev: DeviceCore, enabled: bool, mean_s: int | None = None) -> dict[str, Any]:
    cur = setting(dev)
    cur["enabled"] = enabled
    if mean_s is not None:
        if not 5 <= mean_s <= 86_400:
            raise ValueError("the mean interval is 5 s to one day")
        cur["mean_s"] = mean_s
    dev.store.put_json(SETTING, cur)
    return cur


def eligible(dev: DeviceCore) -> list[dict[str, Any]]:
    """The conversations a cover post may go into (never a pending request, T14)."""
    return [c for c in dev.store.conversations()
            if c["meta"].get("active", True) and not consent.is_pending(c)
            and not c["meta"].get("reinit")]


async def send_cover(dev: DeviceCore, now: int, rng: random.Random | None = None
                     ) -> bytes | None:
    """One cover post into a conversation chosen at random; its content id, or None
    when the key-change gate holds back every one (e.g. a device of ours is not in
    our log, T05: alerted)."""
    pick = rng or secrets.SystemRandom()
    candidates = eligible(dev)
    pick.shuffle(candidates)
    for conv in candidates:
        try:
            return await messaging.send_body(dev, conv, ReadReceipt(()), now)
        except ValidationError:
            continue  # e.g. the key-change gate waits for the person here (T06)
    conv = await history_transfer.ensure_self_conversation(dev, now)
    try:
        return await messaging.send_body(dev, conv, ReadReceipt(()), now)
    except KeyChangeUnconfirmed:
        return None


def schedule(dev: DeviceCore, rng: random.Random) -> CoverSchedule:
    return CoverSchedule(rng, mean_ms=1000 * int(setting(dev)["mean_s"]))


async def tick(dev: DeviceCore, sched: CoverSchedule, now: int) -> bool:
    """Send a cover post when one is due and the setting is on; whether one was sent."""
    if not setting(dev)["enabled"] or not sched.due(now):
        return False
    return await send_cover(dev, now) is not None


async def run(dev: DeviceCore, clock: Callable[[], int], rng: random.Random, duration_ms: int,
              step_s: float = 1.0, sleep: Sleep = asyncio.sleep) -> int:
    """Send cover posts for ``duration_ms`` (bounded in time and count); how many.
    ``sleep`` waits between steps (a test's moves its clock)."""
    sched = schedule(dev, rng)
    end = clock() + duration_ms
    sent = 0
    dev.suspend_lock()  # other commands may use the profile between posts (issue 19)
    while clock() < end and sent < MAX_POSTS_PER_RUN:
        async with dev.writing():
            sent += await tick(dev, sched, clock())
        await sleep(step_s)
    return sent


async def while_listening(dev: DeviceCore, clock: Callable[[], int], rng: random.Random,
                          enabled: bool | None, duration_ms: int,
                          sleep: Sleep = asyncio.sleep) -> int:
    """Cover posts during ``accord listen``: ``enabled`` (the --cover flag) overrides the setting."""
    if not (setting(dev)["enabled"] if enabled is None else enabled):
        return 0
    sched = schedule(dev, rng)
    end = clock() + duration_ms
    sent = 0
    while clock() < end and sent < MAX_POSTS_PER_RUN:
        if not sched.due(clock()):
            await sleep(1.0)
            continue
        async with dev.writing():  # listen suspends the profile lock between batches
            posted = await send_cover(dev, clock())
        if posted is not None:
            sent += 1
        await sleep(1.0)
    return sent
