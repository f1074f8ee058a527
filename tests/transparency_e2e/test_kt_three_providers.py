"""Key transparency end to end (issue 7): three provider processes, real client devices.

alpha.test, beta.test and gamma.test run as separate ``accord server``
processes on loopback that federate; devices are ``accord.client.Device``
profiles with the real MLS engine. The dishonest provider is beta.test,
acting on its own data and keys (``malicious``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client import alerts, device_kt, housekeeping, messaging, safety
from accord.client import conversations as convs
from accord.client.device import Device
from accord.client.keycheck import KeyNotInLog, stored_evidence
from accord.client.mls_session import OFFERED_SUITES
from accord.errors import NotFound
from accord.mls.codec import decode as tls_decode
from accord.transparency import (
    SignedTreeHead,
    SplitViewEvidence,
    Succession,
    check_split_view_evidence,
)
from accord.wire import b64d, signing
from tests.e2e.helpers import Clock, new_device
from tests.federation.groups import arrive
from tests.federation.providers import Provider
from tests.transparency_e2e import malicious


def _tag() -> str:
    return os.urandom(3).hex()


def _kinds(dev: Device) -> list[str]:
    return [a["kind"] for a in alerts.pending(dev.store)]


def _substitutes(dev: Device, priv: bytes, pub: bytes, now: int) -> dict[int, bytes]:
    """A KeyPackage of ``pub`` in every suite ``dev`` offers, as its provider would forge them."""
    return {suite: dev.engine.key_package(dev.identity.mls_identity, priv, pub, now, suite).public
            for suite in OFFERED_SUITES}


def _peer_all(dev: Device, providers: dict[str, Provider]) -> None:
    for p in providers.values():
        if p.domain != dev.identity.domain:
            device_kt.set_peer(dev, p.domain, p.url)


async def test_honest_providers_raise_no_alert(providers: dict[str, Provider],
                                               tmp_path: Path) -> None:
    clock, t = Clock(), _tag()
    alice = await new_device(tmp_path / "a", f"alice{t}@alpha.test", providers["alpha"].url, clock)
    bob = await new_device(tmp_path / "b", f"bob{t}@beta.test", providers["beta"].url, clock)
    carol = await new_device(tmp_path / "c", f"carol{t}@gamma.test", providers["gamma"].url,
                             clock)
    devices = [alice, bob, carol]
    try:
        for d in devices:
            _peer_all(d, providers)
        # bob links a second device: approved by the device that certified it.
        bob2 = await new_device(tmp_path / "b2", None, providers["beta"].url, clock)
        code = bob2.link_request(bob.identity.account, providers["beta"].url)
        await housekeeping.link_device(bob, code, clock(), send_history=False)
        assert await bob2.complete_link(clock()) is not None
        devices.append(bob2)
        conv = await convs.create(alice, f"kt{t}", [bob.identity.account,
                                                    carol.identity.account], clock())
        await messaging.send_text(alice, conv, "hello", clock())
        for d in devices[1:]:
            await arrive(d, f"kt{t}", clock)
        for d in devices:
            await d.sync(clock())
            await device_kt.after_sync(d, clock(), force=True)
            assert _kinds(d) == [], (d.identity.account, alerts.pending(d.store))
        # Every member key each device holds was checked against its owner's log.
        for d in devices:
            assert device_kt.unchecked_members(d) == []
        assert stored_evidence(alice.store) == []
    finally:
        for d in devices:
            await d.disconnect()


async def test_T06_substituted_key_package_is_detected_by_sender(
        providers: dict[str, Provider], tmp_path: Path) -> None:
    clock, t = Clock(), _tag()
    alice = await new_device(tmp_path / "a", f"alice{t}@alpha.test", providers["alpha"].url, clock)
    bob = await new_device(tmp_path / "b", f"bob{t}@beta.test", providers["beta"].url, clock)
    try:
        # beta hands out a KeyPackage of its own key as bob's, and lists that key as bob's.
        priv, pub = bob.engine.signature_keypair()
        await malicious.substitute_key_packages(providers["beta"], bob.identity.device_id,
                                                _substitutes(bob, priv, pub, clock()), pub)
        with pytest.raises(KeyNotInLog):
            await convs.create(alice, f"sub{t}", [bob.identity.account], clock())
        pending = alerts.pending(alice.store)
        assert [a["kind"] for a in pending] == ["key_not_in_log"]
        assert pending[0]["detail"]["account"] == bob.identity.account
        assert pending[0]["detail"]["key"] == alerts.fingerprint(pub)
        # Nothing was committed, and a creation that failed saves no conversation.
        with pytest.raises(NotFound):
            convs.find(alice, f"sub{t}")
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def test_T05_ghost_device_is_detected_by_the_owner(
        providers: dict[str, Provider], tmp_path: Path) -> None:
    clock, t = Clock(), _tag()
    bob = await new_device(tmp_path / "b", f"bob{t}@beta.test", providers["beta"].url, clock)
    bob2 = await new_device(tmp_path / "b2", None, providers["beta"].url, clock)
    try:
        code = bob2.link_request(bob.identity.account, providers["beta"].url)
        await housekeeping.link_device(bob, code, clock(), send_history=False)
        assert await bob2.complete_link(clock()) is not None
        for d in (bob, bob2):
            await d.sync(clock())
            await device_kt.after_sync(d, clock(), force=True)
            assert _kinds(d) == []

        ghost = await malicious.add_ghost_device(providers["beta"], bob.identity.account,
                                                 clock())
        for d in (bob, bob2):
            await device_kt.after_sync(d, clock(), force=True)
            pending = alerts.pending(d.store)
            assert [a["kind"] for a in pending] == ["unknown_device"], pending
            assert pending[0]["detail"]["key"] == alerts.fingerprint(ghost)
            assert "did not approve" in alerts.describe(pending[0])
    finally:
        await bob.disconnect()
        await bob2.disconnect()


async def test_T07_split_view_is_detected_through_gossip(
        providers: dict[str, Provider], tmp_path: Path) -> None:
    """T06/T07: beta shows alice a fork (bob with a ghost key); carol sees the real log."""
    clock, t = Clock(), _tag()
    beta = providers["beta"]
    alice = await new_device(tmp_path / "a", f"alice{t}@alpha.test", providers["alpha"].url, clock)
    carol = await new_device(tmp_path / "c", f"carol{t}@gamma.test", providers["gamma"].url,
                             clock)
    bob = await new_device(tmp_path / "b", f"bob{t}@beta.test", beta.url, clock)
    devices = [alice, carol, bob]
    ghost = os.urandom(32)
    fork = await malicious.forked_directory(beta, bob.identity.account,
                                            [bob.signature_public_key, ghost], clock())
    try:
        async with malicious.ForkProxy(beta, fork, clock()) as proxy:
            device_kt.set_peer(alice, "beta.test", proxy.url)  # alice's view of beta: the fork
            device_kt.set_peer(carol, "beta.test", beta.url)
            # The fork holds bob's real key too: adding bob passes, the ghost rides along.
            await convs.create(alice, f"fork{t}", [bob.identity.account], clock())
            assert proxy.served > 0
            # beta's real log moves on (another user registers): the fork cannot follow.
            dave = await new_device(tmp_path / "d", f"dave{t}@beta.test", beta.url, clock)
            devices.append(dave)
            for d in (alice, carol):
                d.store.upsert_contact(bob.identity.account)
                await device_kt.after_sync(d, clock(), force=True)
        assert "split_view" in _kinds(alice)
        assert "split_view" not in _kinds(carol) and _kinds(carol) == []
        ev = stored_evidence(alice.store)[-1]
        assert ev["provider"] == "beta.test" and ev["conclusive"]
        evidence = SplitViewEvidence(
            ev["kind"], tls_decode(SignedTreeHead, b64d(ev["first"])),
            tls_decode(SignedTreeHead, b64d(ev["second"])),
            tuple(b64d(h) for h in ev["proof"]))
        # Anyone with beta's public key can check the two signed heads conflict.
        check_split_view_evidence(beta.key().public, evidence)
    finally:
        for d in devices:
            await d.disconnect()


async def test_T06_logged_key_substitution_is_detected_by_the_owner(
        providers: dict[str, Provider], tmp_path: Path) -> None:
    """beta swaps bob's key for its own and logs it, so senders' proofs pass: bob sees it."""
    clock, t = Clock(), _tag()
    alice = await new_device(tmp_path / "a", f"alice{t}@alpha.test", providers["alpha"].url, clock)
    bob = await new_device(tmp_path / "b", f"bob{t}@beta.test", providers["beta"].url, clock)
    try:
        await device_kt.after_sync(bob, clock(), force=True)
        assert _kinds(bob) == []
        priv, pub = bob.engine.signature_keypair()
        await malicious.replace_logged_key(providers["beta"], bob.identity.account,
                                           bob.identity.device_id, pub, clock())
        await malicious.substitute_key_packages(providers["beta"], bob.identity.device_id,
                                                _substitutes(bob, priv, pub, clock()), pub)
        # The sender's checks pass: the substituted key is in beta's log now ...
        await convs.create(alice, f"open{t}", [bob.identity.account], clock())
        assert _kinds(alice) == []
        # ... and that is exactly what bob's own devices watch (T05 monitoring).
        await device_kt.after_sync(bob, clock(), force=True)
        assert sorted(_kinds(bob)) == ["key_not_in_log", "unknown_device"]
        ghost_alert = [a for a in alerts.pending(bob.store) if a["kind"] == "unknown_device"][0]
        assert ghost_alert["detail"]["key"] == alerts.fingerprint(pub)
    finally:
        await alice.disconnect()
        await bob.disconnect()


@pytest.mark.parametrize("succession", ["none", "signed_by_the_provider"])
async def test_T06_a_swapped_key_is_a_key_change_for_a_verified_contact(
        providers: dict[str, Provider], tmp_path: Path, succession: str) -> None:
    """beta swaps bob's key for its own and logs it, with no succession or with one it
    signed itself as if bob's old key had (issue 19): alice, who verified bob, is
    alerted and her sends wait for her confirmation; bob's own device is alerted too.
    Only a succession the old key signed continues a verification."""
    clock, t = Clock(), _tag()
    alice = await new_device(tmp_path / "a", f"alice{t}@alpha.test", providers["alpha"].url, clock)
    bob = await new_device(tmp_path / "b", f"bob{t}@beta.test", providers["beta"].url, clock)
    b_acct = bob.identity.account
    try:
        conv = await convs.create(alice, f"swap{t}", [b_acct], clock())
        for d in (alice, bob):
            await device_kt.after_sync(d, clock(), force=True)
        safety.mark_verified(alice, b_acct)  # the create proved bob's keys
        assert _kinds(alice) == [] and _kinds(bob) == []

        priv, pub = bob.engine.signature_keypair()
        forged = None
        if succession == "signed_by_the_provider":
            old = bob.signature_public_key
            sig = Ed25519PrivateKey.from_private_bytes(priv).sign(
                signing.succession_input(b_acct, old, pub))
            forged = Succession(old, pub, sig)
        await malicious.replace_logged_key(providers["beta"], b_acct, bob.identity.device_id,
                                           pub, clock(), forged)
        async with device_kt.checker(alice) as kc:  # as `accord verify` and every claim do
            entry = await kc.current_entry(b_acct, clock())
        assert entry is not None and list(entry.device_keys) == [pub]
        assert len(entry.successions) == (forged is not None)
        assert safety.changed_contacts(alice, None, clock()) == [b_acct]
        assert _kinds(alice) == ["contact_key_changed"]
        with pytest.raises(safety.KeyChangeUnconfirmed):
            await messaging.send_text(alice, conv, "to whom?", clock())
        await device_kt.after_sync(bob, clock(), force=True)
        assert "unknown_device" in _kinds(bob)
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def test_T06_unlogged_key_in_a_joined_group_is_caught_by_the_invitee(
        providers: dict[str, Provider], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """alice's client does not check (an old or careless client); carol joins by Welcome and
    finds bob's substituted key: an alert, a security event, and sends wait for consent."""
    clock, t = Clock(), _tag()
    alice = await new_device(tmp_path / "a", f"alice{t}@alpha.test", providers["alpha"].url, clock)
    bob = await new_device(tmp_path / "b", f"bob{t}@beta.test", providers["beta"].url, clock)
    carol = await new_device(tmp_path / "c", f"carol{t}@gamma.test", providers["gamma"].url,
                             clock)
    try:
        priv, pub = bob.engine.signature_keypair()
        await malicious.substitute_key_packages(providers["beta"], bob.identity.device_id,
                                                _substitutes(bob, priv, pub, clock()), pub)

        async def no_check(*args: object) -> None:
            return None

        with monkeypatch.context() as mp:
            mp.setattr(device_kt, "verify_claimed", no_check)
            conv = await convs.create(alice, f"joined{t}", [bob.identity.account,
                                                            carol.identity.account], clock())
        await messaging.send_text(alice, conv, "hi", clock())
        cconv = await arrive(carol, f"joined{t}", clock)
        pending = alerts.pending(carol.store)
        assert [a["kind"] for a in pending] == ["key_not_in_log"], pending
        assert pending[0]["detail"] == {"account": bob.identity.account,
                                        "key": alerts.fingerprint(pub)}
        events = carol.store.events(cconv["conv_id"])
        assert any(e["kind"] == "security" and e["detail"]["account"] == bob.identity.account
                   for e in events)
        with pytest.raises(safety.KeyChangeUnconfirmed):
            safety.check_before_send(carol, cconv, clock(), confirmed=False)
        safety.check_before_send(carol, cconv, clock(), confirmed=True)
        # alice's own members are fine for carol: only bob's key is flagged.
        assert safety.unproven_members(carol, cconv) == [bob.identity.account]
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()
