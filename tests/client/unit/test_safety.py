"""Safety numbers and the key-change gate (``safety``, issue 7, T06): computed from the
keys the device last proved in the log (kept in the profile), on the in-memory provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.client import alerts, messaging, safety
from accord.errors import NotFound
from accord.wire import b64e

from .fakes import NOW, pair

ALICE, BOB = "alice@alpha.test", "bob@alpha.test"


def _proven(dev, account: str, keys: list[bytes]) -> None:
    """What a transparency lookup leaves in the profile (``keycheck``)."""
    dev.store.put_json("kt:keys:" + account, [b64e(k) for k in keys])


def test_safety_numbers_are_symmetric_grouped_and_bound_to_keys() -> None:
    digits, digest = safety.safety_number(ALICE, [b"a" * 32], BOB, [b"b" * 32])
    assert (digits, digest) == safety.safety_number(BOB, [b"b" * 32], ALICE, [b"a" * 32])
    assert len(digits) == 60 and digits.isdigit() and len(digest) == 32
    assert safety.safety_number(ALICE, [b"a" * 32], BOB, [b"c" * 32])[0] != digits
    # key order and repeats do not matter: a set of keys
    assert safety.safety_number(ALICE, [b"x" * 32, b"a" * 32, b"a" * 32], BOB, [b"b" * 32]) \
        == safety.safety_number(ALICE, [b"a" * 32, b"x" * 32], BOB, [b"b" * 32])
    assert safety.grouped("1234567890") == "12345 67890"
    qr = safety.qr_text(digits)
    assert qr.count("\n") > 10


async def test_verify_then_unverify(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    bob.store.delete("kt:keys:" + ALICE)  # as before any lookup
    with pytest.raises(NotFound, match="no proven keys"):
        safety.current(bob, ALICE)
    _proven(bob, BOB, [bob.signature_public_key])
    _proven(bob, ALICE, [])
    with pytest.raises(NotFound, match="no devices"):
        safety.current(bob, ALICE)  # no number made of nothing
    _proven(bob, ALICE, [alice.signature_public_key])
    assert not safety.is_verified(bob, ALICE)
    digits = safety.mark_verified(bob, ALICE)
    assert safety.is_verified(bob, ALICE)
    _proven(alice, ALICE, [alice.signature_public_key])
    _proven(alice, BOB, [bob.signature_public_key])
    assert safety.current(alice, BOB)[0] == digits  # both sides read the same number
    assert safety.unchanged(bob, ALICE, [alice.signature_public_key])
    assert safety.changed_contacts(bob, cb, NOW) == []
    safety.unverify(bob, ALICE)
    assert not safety.is_verified(bob, ALICE)


async def test_T06_a_changed_key_holds_sends_and_adds_until_confirmed(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    _proven(bob, BOB, [bob.signature_public_key])
    _proven(bob, ALICE, [alice.signature_public_key])
    safety.mark_verified(bob, ALICE)
    safety.check_before_send(bob, cb, NOW, confirmed=False)  # unchanged: no question
    _proven(bob, ALICE, [b"\x01" * 32])  # the log now lists another key
    assert not safety.unchanged(bob, ALICE, [])
    with pytest.raises(safety.KeyChangeUnconfirmed) as exc:
        safety.check_before_send(bob, cb, NOW, confirmed=False)
    assert exc.value.accounts == {ALICE}
    with pytest.raises(safety.KeyChangeUnconfirmed):
        safety.check_before_send(bob, cb, NOW, confirmed={"carol@alpha.test"})
    with pytest.raises(safety.KeyChangeUnconfirmed):
        safety.check_before_add(bob, ALICE, [b"\x01" * 32], confirmed=False)
    # one alert per new key set, however often it is checked
    kinds = [a["kind"] for a in alerts.all_alerts(bob.store)]
    assert kinds.count("contact_key_changed") == 1
    safety.check_before_send(bob, cb, NOW, confirmed={ALICE})  # the person said yes
    assert not safety.is_verified(bob, ALICE)
    events = [e for e in bob.store.events(cb["conv_id"]) if e["kind"] == "security"]
    assert events[-1]["detail"]["what"] == "key change accepted; unverified"
    safety.check_before_add(bob, ALICE, [b"\x01" * 32], confirmed=False)  # no longer verified


async def test_check_before_add_accepts_a_confirmation_and_clears_the_verification(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    _proven(bob, BOB, [bob.signature_public_key])
    _proven(bob, ALICE, [alice.signature_public_key])
    safety.mark_verified(bob, ALICE)
    safety.check_before_add(bob, ALICE, [alice.signature_public_key], confirmed=False)
    safety.check_before_add(bob, ALICE, [b"\x02" * 32], confirmed=True)
    assert not safety.is_verified(bob, ALICE)
    # with no conversation, every verified contact is looked at
    safety.mark_verified(bob, ALICE)
    _proven(bob, ALICE, [b"\x03" * 32])
    assert safety.changed_contacts(bob, None, NOW) == [ALICE]


def test_continues_follows_certified_successors_only() -> None:
    old, new, stranger = b"o" * 32, b"n" * 32, b"s" * 32
    assert safety.continues({old}, {old}, [])
    assert not safety.continues({old}, {new}, [])
    assert not safety.continues({old}, {old, stranger}, [])


async def test_T06_a_member_key_missing_from_its_log_holds_the_send(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    bob.store.put_json("kt:bad", [f"{ALICE}|{b64e(alice.signature_public_key)}"])
    assert safety.unproven_members(bob, cb) == [ALICE]
    with pytest.raises(safety.KeyChangeUnconfirmed, match="not in its provider's"):
        await messaging.send_text(bob, cb, "hello?", NOW)
    safety.check_before_send(bob, cb, NOW, confirmed=True)
    events = [e for e in bob.store.events(cb["conv_id"]) if e["kind"] == "security"]
    assert events[-1]["detail"] == {"what": "sending despite keys missing from the log",
                                    "accounts": [ALICE]}
