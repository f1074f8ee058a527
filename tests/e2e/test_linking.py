"""Device linking with a short code shown by the existing device (issue 5), on a real
provider process: the code names a rendezvous slot and keys what goes through it."""

from __future__ import annotations

import functools
import time

import pytest

from accord.client import conversations as convs
from accord.client import linking, messaging
from accord.client.api import ProviderApi
from accord.errors import ValidationError
from tests.e2e.helpers import Clock, fresh_account, new_device
from tests.engine import database_for, provider_rows, stored_needles
from tests.faults.node import running_node
from tests.federation.groups import arrive
from tests.timing import FakeClock


def _slot_rows(server) -> list[tuple[bytes, bytes | None]]:
    return [(bytes(r[0]), None if r[1] is None else bytes(r[1]))
            for r in provider_rows(server.data_dir, "SELECT offer, answer FROM rendezvous_slots")]


def test_code_is_short_unambiguous_and_normalised() -> None:
    code = linking.new_code()
    assert len(code) == 11 and code[5] == "-"
    assert linking.normalize(code.lower().replace("-", " ")) == code.replace("-", "")
    assert linking.derive(code) == linking.derive(code.lower())
    assert linking.derive(code) != linking.derive(linking.new_code())
    with pytest.raises(ValidationError):
        linking.normalize("ABCDE-FGHJU")  # U is not in the alphabet
    with pytest.raises(ValidationError):
        linking.normalize("ABCD")


async def test_link_with_code_provider_sees_only_ciphertext(server, tmp_path) -> None:
    clock = Clock()
    alice = await new_device(tmp_path / "a", fresh_account("alice"), server.url, clock)
    bob = await new_device(tmp_path / "b", fresh_account("bob"), server.url, clock)
    laptop = await new_device(tmp_path / "laptop", None, server.url, clock)
    try:
        conv = await convs.create(alice, "linked", [bob.identity.account], clock())
        await messaging.send_text(alice, conv, "before the laptop", clock())
        slot = await linking.open_slot(alice, clock())
        assert await linking.poll_answer(alice, slot) is None
        account = await linking.join(laptop, slot.code, server.url)
        assert account == alice.identity.account
        # The answer is in the slot; the provider holds it only sealed.
        key = laptop.signature_public_key
        rows = _slot_rows(server)
        assert len(rows) == 1 and rows[0][1] is not None
        assert stored_needles(server.data_dir, [key, slot.code.encode(),
                                              slot.code.replace("-", "").encode()]) == []
        assert alice.identity.account.encode() not in rows[0][0]  # the offer is sealed too
        new = await linking.poll_answer(alice, slot)
        assert new is not None and new.signature_key == key
        assert new.fingerprint == linking.key_fingerprint(key)
        assert await laptop.complete_link(clock()) is None  # not certified yet
        device_id = await linking.certify(alice, slot, new)
        assert _slot_rows(server) == []  # closed once used
        ident = await laptop.complete_link(clock())
        assert ident is not None and ident.device_id == device_id
        assert await linking.add_to_conversations(alice, device_id, clock()) == 0
        await alice.sync(clock())
        await laptop.sync(clock())
        await arrive(bob, "linked", clock)
        await messaging.send_text(bob, convs.find(bob, "linked"), "hi both", clock())
        await arrive(laptop, "linked", clock)
        got = [m.body for m in laptop.store.messages(convs.find(laptop, "linked")["conv_id"])]
        assert got == ["before the laptop", "hi both"]
    finally:
        for d in (alice, bob, laptop):
            await d.disconnect()


async def test_wrong_code_fails_cleanly_and_the_right_one_still_works(server, tmp_path) -> None:
    clock = Clock()
    alice = await new_device(tmp_path / "a", fresh_account("alice"), server.url, clock)
    laptop = await new_device(tmp_path / "laptop", None, server.url, clock)
    try:
        slot = await linking.open_slot(alice, clock())
        wrong = linking.new_code()
        with pytest.raises(linking.LinkError, match="no such linking code"):
            await linking.join(laptop, wrong, server.url)
        assert await linking.poll_answer(alice, slot) is None
        assert not laptop.registered
        await linking.join(laptop, slot.code, server.url)
        assert await linking.poll_answer(alice, slot) is not None
    finally:
        await linking.close_slot(alice, slot)
        for d in (alice, laptop):
            await d.disconnect()


async def test_expired_slot_fails(tmp_path) -> None:
    """The provider's own clock decides expiry: the real app, in this process, runs on a
    clock the test moves past the slot's expiry (no waiting for the wall clock)."""
    start = time.time_ns() // 1_000_000
    provider_clock, clock = FakeClock(start), Clock(start)
    data = tmp_path / "provider"
    async with running_node(data, database_for(data), clock=provider_clock) as node:
        api = functools.partial(ProviderApi, transport=node.transport)
        alice = await new_device(tmp_path / "a", fresh_account("alice"), "http://node", clock,
                                 provider=api)
        laptop = await new_device(tmp_path / "laptop", None, "http://node", clock, provider=api)
        try:
            slot = await linking.open_slot(alice, clock(), ttl_ms=1000)
            provider_clock.advance(1001)
            with pytest.raises(linking.LinkError):
                await linking.join(laptop, slot.code, "http://node")
            assert not laptop.registered
        finally:
            for d in (alice, laptop):
                await d.disconnect()


async def test_a_tampered_answer_is_refused(server, tmp_path) -> None:
    """Someone without the code cannot answer: a forged answer does not open."""
    clock = Clock()
    alice = await new_device(tmp_path / "a", fresh_account("alice"), server.url, clock)
    try:
        slot = await linking.open_slot(alice, clock())
        forged = linking.seal(linking.derive(linking.new_code()), b"answer", {"v": 1})
        await alice.api.rendezvous_answer(slot.keys.slot, forged)
        with pytest.raises(linking.CryptoError):
            await linking.poll_answer(alice, slot)
    finally:
        await linking.close_slot(alice, slot)
        await alice.disconnect()
