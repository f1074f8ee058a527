"""The device-linking rendezvous service over a real store, time as an input."""

from __future__ import annotations

import os

import pytest
from tests.server.test_services import register

from accord.errors import Conflict, NotFound, RateLimited
from accord.server import accounts, rendezvous
from accord.server.state import Provider
from accord.wire import rendezvous as w


def _slot() -> bytes:
    return os.urandom(w.SLOT_LEN)


async def _me(p: Provider, user: str):  # type: ignore[no-untyped-def]
    _, _, token = await register(p, user + os.urandom(3).hex())
    return await accounts.authenticate(p, token, p.clock())


async def test_slot_expires_with_the_clock(provider: Provider, clock) -> None:
    me = await _me(provider, "alice")
    slot = _slot()
    created = await rendezvous.create(provider, me, w.RendezvousCreate(slot, b"offer", 60_000),
                                      clock())
    assert created.expires_at == clock() + 60_000
    assert (await rendezvous.read_offer(provider, slot, clock())).offer == b"offer"
    clock.advance(60_001)
    with pytest.raises(NotFound):
        await rendezvous.read_offer(provider, slot, clock())
    with pytest.raises(NotFound):
        await rendezvous.answer(provider, slot, w.RendezvousAnswer(b"a"), clock())
    with pytest.raises(NotFound):
        await rendezvous.state(provider, me, slot, clock())


async def test_uses_are_limited_and_the_first_answer_stands(provider: Provider, clock) -> None:
    me = await _me(provider, "alice")
    other = await _me(provider, "eve")
    slot = _slot()
    await rendezvous.create(provider, me, w.RendezvousCreate(slot, b"offer", 60_000), clock())
    await rendezvous.answer(provider, slot, w.RendezvousAnswer(b"first"), clock())
    with pytest.raises(Conflict):
        await rendezvous.answer(provider, slot, w.RendezvousAnswer(b"second"), clock())
    assert (await rendezvous.state(provider, me, slot, clock())).answer == b"first"
    with pytest.raises(NotFound):  # only the slot's creator reads the answer
        await rendezvous.state(provider, other, slot, clock())
    for _ in range(rendezvous.MAX_USES - 2):
        await rendezvous.read_offer(provider, slot, clock())
    with pytest.raises(NotFound):  # used up: gone
        await rendezvous.read_offer(provider, slot, clock())
    with pytest.raises(NotFound):
        await rendezvous.state(provider, me, slot, clock())


async def test_open_slots_per_device_are_bounded(provider: Provider, clock) -> None:
    me = await _me(provider, "alice")
    for _ in range(rendezvous.MAX_OPEN):
        await rendezvous.create(provider, me, w.RendezvousCreate(_slot(), b"o", 60_000), clock())
    with pytest.raises(RateLimited):
        await rendezvous.create(provider, me, w.RendezvousCreate(_slot(), b"o", 60_000), clock())
    clock.advance(60_001)  # expired slots no longer count
    await rendezvous.create(provider, me, w.RendezvousCreate(_slot(), b"o", 60_000), clock())
