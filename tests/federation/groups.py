"""Conversations across providers in tests: one set up through the API (alice@alpha hub,
bob@beta follower), and waiting for what client devices receive.

The waits are on events, not on the wall clock: between two syncs a device waits for
its provider to push something past its cursor (``next_push``), a bounded number of
times.
"""

from __future__ import annotations

import inspect
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx

from accord.client import conversations as convs
from accord.client import message_requests
from accord.client.device import Device
from accord.errors import NotFound
from tests.e2e.helpers import new_device
from tests.federation.providers import MlsDevice

T = TypeVar("T")
ROUNDS = 60  # syncs at the most, each after a push or PUSH_WAIT_S without one
PUSH_WAIT_S = 2.0


async def user(http: httpx.AsyncClient, account: str) -> MlsDevice:
    d = MlsDevice(http, account)
    await d.register()
    await d.upload_key_packages()
    return d


async def join_from_queue(dev: MlsDevice) -> None:
    items = await dev.wait_items(1)
    welcomes = [i for i in items if i.kind == "welcome"]
    assert len(welcomes) == 1, items
    dev.join(welcomes[0].body)
    await dev.call("POST", "/v1/queue/ack", {"up_to": items[-1].seq}, expect=200)


async def room_of_two(host: httpx.AsyncClient, owner: str, guest_at: httpx.AsyncClient,
                      guest: str) -> tuple[MlsDevice, MlsDevice, bytes]:
    """``owner``'s new room (her provider hubs it) with ``guest`` added and joined."""
    a = await user(host, owner)
    b = await user(guest_at, guest)
    gid = secrets.token_bytes(16)
    await a.create_group(gid)
    await a.commit_add(await a.claim(b.account))
    await join_from_queue(b)
    return a, b, gid


async def alice_and_bob(alpha: httpx.AsyncClient, beta: httpx.AsyncClient, tag: str
                        ) -> tuple[MlsDevice, MlsDevice, bytes]:
    return await room_of_two(alpha, f"alice{tag}@alpha.test", beta, f"bob{tag}@beta.test")


async def people(tmp_path: Path, providers: Mapping[str, Any], clock: Callable[[], int],
                 *who: str) -> list[Device]:
    """A registered device for each ``name@provider`` (``alice@alpha``: alice on
    alpha.test), in that order; a random tag keeps one test's accounts from another's."""
    tag = os.urandom(3).hex()
    devices = []
    for person in who:
        name, provider = person.split("@")
        devices.append(await new_device(tmp_path / name, f"{name}{tag}@{provider}.test",
                                        providers[provider].url, clock))
    return devices


async def next_push(dev: Device, idle_s: float = PUSH_WAIT_S) -> None:
    """Wait until the provider pushes an item past ``dev``'s cursor, or ``idle_s`` passes.
    An item that came between the last sync and this call is pushed at once."""
    async for _ in dev.api.push(dev.cursor, max_frames=1, idle_timeout=idle_s):
        pass


async def until(dev: Device, clock: Callable[[], int],
                check: Callable[[], T | None] | Callable[[], Awaitable[T | None]],
                what: str = "what crosses providers") -> T:
    """Sync ``dev`` until ``check()`` (awaited when it is a coroutine) gives a value,
    waiting for a push between rounds; a ``NotFound`` from the check means not yet."""
    for _ in range(ROUNDS):
        await dev.sync(clock())
        try:
            found = check()
            if inspect.isawaitable(found):
                found = await found
        except NotFound:
            found = None
        if found:
            return found  # type: ignore[return-value]
        await next_push(dev)
    raise AssertionError(f"{what} never arrived")


async def arrive(dev: Device, name: str, clock: Callable[[], int]) -> dict[str, Any]:
    """Sync until conversation ``name`` is on ``dev``, accepting the message request a first
    contact across providers makes (T14)."""

    async def accepted() -> dict[str, Any] | None:
        for request in message_requests.pending(dev):
            await message_requests.accept(dev, request, clock())
        try:
            return convs.find(dev, name)
        except NotFound:
            return None

    return await until(dev, clock, accepted, f"conversation {name}")


async def acquainted(dev: Device, account: str, clock: Callable[[], int]) -> None:
    """Make ``account`` no stranger to ``dev``'s user the real way (T14), for a test whose
    point is not consent: ``dev`` invites it first (whom a user's own commit invites
    become its contacts), so its invitations to ``dev`` are no message requests. The
    conversation this leaves is a message request on the other side."""
    await convs.create(dev, f"contact {account}", [account], clock())


async def bodies(dev: Device, name: str, want: str, clock: Callable[[], int]) -> list[str]:
    """Sync until ``want`` is among the texts of conversation ``name``; all of them."""

    async def texts() -> list[str] | None:
        conv = convs.find(dev, name)
        found = [x.body for x in dev.store.messages(conv["conv_id"])]
        return found if want in found else None

    return await until(dev, clock, texts, f"{want!r} in {name}")


async def events_of(dev: Device, conv_id: str, kind: str, clock: Callable[[], int],
                    n: int = 1) -> list[dict[str, Any]]:
    """Sync until conversation ``conv_id`` has ``n`` events of ``kind`` (security alerts,
    rejected items); all of them."""

    async def found() -> list[dict[str, Any]] | None:
        events = [e for e in dev.store.events(conv_id) if e["kind"] == kind]
        return events if len(events) >= n else None

    return await until(dev, clock, found, f"{n} {kind} event(s)")
