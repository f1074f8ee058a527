"""Cover traffic (T12): posts to the account's note-to-self group at random times.

Off by default; ``accord cover on`` turns the setting on for this device and
``accord cover run`` (or any loop that calls :func:`tick`) sends. A cover
post is an empty read receipt, a real content of the same bucket as a short
text, protected by MLS and posted through :func:`accord.client.messaging.send_body`
exactly like a real message: same endpoint, same anonymous connection, same
headers, same body fields, same sizes. Our own devices apply it as a no-op.

What it hides: when and how often this device really sends, from network
observers and from a provider correlating addresses and times. What it does
not hide: the group a post goes to is in the request path, so the provider
can tell posts to the note-to-self group from posts to other groups (a real
note to self and a cover post look the same).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from accord.client import history_transfer, messaging
from accord.client.safety import KeyChangeUnconfirmed
from accord.content import ReadReceipt
from accord.privacy.cover import CoverSchedule

if TYPE_CHECKING:
    from accord.client.device import Device

SETTING = "cover_traffic"
MAX_POSTS_PER_RUN = 10_000


def setting(dev: Device) -> dict[str, Any]:
    return dict(dev.store.get_json(SETTING, {"enabled": False, "mean_s": 300}))


def configure(dev: Device, enabled: bool, mean_s: int | None = None) -> dict[str, Any]:
    cur = setting(dev)
    cur["enabled"] = enabled
    if mean_s is not None:
        if not 5 <= mean_s <= 86_400:
            raise ValueError("the mean interval is 5 s to one day")
        cur["mean_s"] = mean_s
    dev.store.put_json(SETTING, cur)
    return cur


async def send_cover(dev: Device, now: int) -> bytes | None:
    """One cover post to the note-to-self group; its content id, or None when the
    key-change gate holds it (a device of ours is not in our log, T05: alerted)."""
    conv = await history_transfer.ensure_self_conversation(dev, now)
    try:
        return await messaging.send_body(dev, conv, ReadReceipt(()), now)
    except KeyChangeUnconfirmed:
        return None


def schedule(dev: Device, rng: random.Random) -> CoverSchedule:
    return CoverSchedule(rng, mean_ms=1000 * int(setting(dev)["mean_s"]))


async def tick(dev: Device, sched: CoverSchedule, now: int) -> bool:
    """Send a cover post when one is due and the setting is on; whether one was sent."""
    if not setting(dev)["enabled"] or not sched.due(now):
        return False
    return await send_cover(dev, now) is not None


async def run(dev: Device, clock: Callable[[], int], rng: random.Random, duration_ms: int,
              step_s: float = 1.0) -> int:
    """Send cover posts for ``duration_ms`` (bounded in time and count); how many."""
    sched = schedule(dev, rng)
    end = clock() + duration_ms
    sent = 0
    while clock() < end and sent < MAX_POSTS_PER_RUN:
        sent += await tick(dev, sched, clock())
        await asyncio.sleep(step_s)
    return sent


async def while_listening(dev: Device, clock: Callable[[], int], rng: random.Random,
                          enabled: bool | None, duration_ms: int) -> int:
    """Cover posts during ``accord listen``: ``enabled`` (the --cover flag) overrides the setting."""
    if not (setting(dev)["enabled"] if enabled is None else enabled):
        return 0
    sched = schedule(dev, rng)
    end = clock() + duration_ms
    sent = 0
    while clock() < end and sent < MAX_POSTS_PER_RUN:
        if sched.due(clock()) and await send_cover(dev, clock()) is not None:
            sent += 1
        await asyncio.sleep(1.0)
    return sent
