"""Key transparency duties of a device (``device_kt``, T05, T06): member keys checked
against their owner's log, self-monitoring approvals, gossip, and an unreachable log as
an alert, on the in-memory provider's log."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.client import alerts, device_kt, safety
from accord.errors import NotFound

from .fakes import NOW, error, pair

ALICE, BOB = "alice@alpha.test", "bob@alpha.test"


def _kinds(dev) -> list[str]:
    return [a["kind"] for a in alerts.all_alerts(dev.store)]


async def test_T06_a_member_key_missing_from_its_log_is_an_alert_and_holds_sends(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    assert device_kt.unchecked_members(bob) == []  # checked when bob joined
    p.log.publish(ALICE, [b"\x05" * 32], p.now + 1)  # the log no longer lists her key
    bob.store.put_json("kt:checked", [])  # as for a leaf added since
    assert device_kt.unchecked_members(bob) == [(ALICE, alice.signature_public_key)]
    async with device_kt.checker(bob) as kc:
        assert await device_kt.check_members(bob, kc, NOW + 2) == 1
    assert "key_not_in_log" in _kinds(bob)
    assert device_kt.unproven(bob) and safety.unproven_members(bob, cb) == [ALICE]
    events = [e["detail"] for e in bob.store.events(cb["conv_id"]) if e["kind"] == "security"]
    assert events[-1] == {"account": ALICE, "what": "a member key is not in its transparency log"}
    async with device_kt.checker(bob) as kc:  # checked once: not alerted at every sync
        assert await device_kt.check_members(bob, kc, NOW + 3) == 0


async def test_T05_approving_our_own_key_by_its_fingerprint(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    async with device_kt.checker(alice) as kc:
        assert await device_kt.monitor(alice, kc, NOW + 1) == ()  # nothing unapproved
    assert alice.store.get_json("kt:keys:" + ALICE)  # the monitor looked at our entry
    with pytest.raises(NotFound):
        device_kt.approve(alice, "zzzz")
    with pytest.raises(NotFound):
        device_kt.approve(alice, "")
    print_ = alerts.fingerprint(alice.signature_public_key)
    assert device_kt.approve(alice, print_[:8]) == 1


async def test_peers_contact_domains_and_gossip(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    device_kt.set_peer(bob, "beta.test", "http://beta.test/")
    assert device_kt.peers(bob) == {"beta.test": "http://beta.test"}
    assert device_kt.contact_domains(bob) == []  # only our own provider's users
    async with device_kt.checker(bob) as kc:
        assert await device_kt.gossip(bob, kc, NOW + 5) == 0
    assert bob.store.get_json("kt:gossiped_at") == NOW + 5


async def test_an_unreachable_log_is_an_alert_never_a_failed_sync(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    await device_kt.after_sync(bob, NOW + 1)  # nothing due: no request at all
    seen = len(p.requests_seen)
    await device_kt.after_sync(bob, NOW + 1)
    assert len(p.requests_seen) == seen
    p.answer("GET", r"/v1/transparency/.*", lambda _r: error(503, "unavailable"))
    await device_kt.after_sync(bob, NOW + 2, force=True)
    assert "log_unavailable" in _kinds(bob)
