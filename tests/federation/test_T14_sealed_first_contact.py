"""T14, the sealed first-contact request (issue 18): a stranger's invitation shows its
sender and a bounded preview before Accept, without the Welcome being read.

alice (alpha.test) starts a conversation with bob (beta.test), a stranger,
with a first message. Her device seals a small signed request to the key in
bob's KeyPackage (HPKE, X-Wing); the providers carry it as ciphertext next
to the Welcome. bob's device opens and checks it (his device, this group,
this Welcome, the listed sender, the signature, the sender's key in key
transparency, the preview bound) and shows the preview; its MLS engine runs
nothing and nothing leaves the device until he accepts.

The negative cases: mallory's device seals a request that fails one check
each; bob's device drops it with the reason, shows no preview, and the
invitation still waits (and can be accepted: the Welcome itself is fine).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.client import conversations as convs
from accord.client import first_contact, invites, message_requests
from accord.client.device import Device
from accord.content import first_contact as fc
from accord.mls.codec import encode
from accord.mls.suites import get_suite
from accord.wire import messages as m
from tests.e2e.helpers import Clock, new_device
from tests.engine import stored_needles
from tests.federation.groups import until, user
from tests.federation.providers import Provider
from tests.federation.test_T14_welcome_waits_for_accept import _spy

FIRST = "hello bob, we met at the conference"


def _sent(dev: Device) -> Counter[str]:
    """Count what the device sends to a group (posts, commits, proposals)."""
    calls: Counter[str] = Counter()
    for name in ("post_application", "commit", "propose"):
        real = getattr(dev.api, name)

        async def counted(*a: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            calls[_name] += 1
            return await _real(*a, **kw)

        setattr(dev.api, name, counted)
    return calls


def _decided(bob: Device) -> Callable[[], list[dict[str, Any]]]:
    return lambda: [c for c in message_requests.pending(bob)
                    if c["meta"]["request"].get("first_contact") is not None]


async def test_T14_a_strangers_first_contact_shows_its_sealed_preview_before_accept(
        providers: dict[str, Provider], tmp_path: Path) -> None:
    clock, tag = Clock(), os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", providers["alpha"].url,
                             clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    parsed, sent = _spy(bob), _sent(bob)
    try:
        conv = await convs.create(alice, "offer", [bob.identity.account], clock(),
                                  first_message=FIRST)
        breq = (await until(bob, clock, _decided(bob)))[0]
        request = breq["meta"]["request"]
        assert request["from"] == alice.identity.account
        assert request["first_contact"] == {
            "state": "checked", "preview": FIRST, "sent_at": request["first_contact"]["sent_at"],
            "sender": alice.identity.mls_identity.decode()}
        await until(bob, clock, lambda: invites.held_count(bob, breq) == 3)  # 2 notices, text
        assert parsed == Counter() and sent == Counter()  # no MLS parse, nothing sent
        # The providers held only ciphertext: the preview is in no file of theirs.
        for p in (providers["alpha"], providers["beta"]):
            assert stored_needles(p.data_dir, [FIRST.encode()], p.database) == []

        assert await message_requests.accept(bob, breq, clock()) == 3
        assert parsed["join"] == 1
        shown = [x.body for x in bob.store.messages(breq["conv_id"]) if x.kind == "text"]
        assert shown == [FIRST]
        assert conv["group_id"] == breq["group_id"]
    finally:
        for d in (alice, bob):
            await d.disconnect()


def _forge(tamper: str) -> Callable[..., bytes]:
    """``fc.seal`` as a hostile sender's device would do it, wrong in one way."""
    real = fc.seal

    def seal(**kw: Any) -> bytes:
        if tamper == "garbage":
            return os.urandom(300)
        if tamper == "wrong_recipient":
            kw["recipient"] = b"carol@beta.test/" + b"C" * 22
        if tamper == "wrong_group":
            kw["group_id"] = os.urandom(16)  # a request replayed from another invitation
        if tamper == "oversize":
            suite = get_suite(fc.SUITE)
            tbs = fc.FirstContactTBS(kw["sender"], suite.signature_public_key(kw["signature_priv"]),
                                     kw["recipient"], kw["group_id"],
                                     fc.welcome_hash(kw["welcome"]), kw["sent_at"],
                                     "x" * (fc.MAX_PREVIEW_CHARS + 1))
            sig = suite.sign_with_label(kw["signature_priv"], fc.SIGN_LABEL,
                                        encode(fc.FirstContactTBS, tbs))
            plain = encode(fc.SignedFirstContact, fc.SignedFirstContact(tbs, sig))
            kem, ct = suite.hpke_seal(kw["request_key"], fc.HPKE_INFO, b"", plain)
            return encode(fc.SealedRequest, fc.SealedRequest(kem, ct))
        if tamper == "bad_signature":
            return _resigned(kw, flip=True)
        if tamper == "key_not_in_log":
            kw["signature_priv"] = get_suite(fc.SUITE).generate_signature_key_pair()[0]
        return real(**kw)

    return seal


def _resigned(kw: dict[str, Any], *, flip: bool) -> bytes:
    suite = get_suite(fc.SUITE)
    tbs = fc.FirstContactTBS(kw["sender"], suite.signature_public_key(kw["signature_priv"]),
                             kw["recipient"], kw["group_id"], fc.welcome_hash(kw["welcome"]),
                             kw["sent_at"], kw["preview"])
    sig = bytearray(suite.sign_with_label(kw["signature_priv"], fc.SIGN_LABEL,
                                          encode(fc.FirstContactTBS, tbs)))
    sig[0] ^= 1 if flip else 0
    plain = encode(fc.SignedFirstContact, fc.SignedFirstContact(tbs, bytes(sig)))
    kem, ct = suite.hpke_seal(kw["request_key"], fc.HPKE_INFO, b"", plain)
    return encode(fc.SealedRequest, fc.SealedRequest(kem, ct))


@pytest.mark.parametrize("tamper, reason", [
    ("garbage", "malformed"),
    ("wrong_recipient", "wrong_recipient"),
    ("wrong_group", "wrong_group"),
    ("oversize", "oversize"),
    ("bad_signature", "bad_signature"),
    ("key_not_in_log", "key_not_in_log"),
])
async def test_T14_a_bad_sealed_request_is_dropped_with_its_reason(
        providers: dict[str, Provider], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        tamper: str, reason: str) -> None:
    clock, tag = Clock(), os.urandom(3).hex()
    mallory = await new_device(tmp_path / "m", f"mallory{tag}@gamma.test",
                               providers["gamma"].url, clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", providers["beta"].url, clock)
    parsed, sent = _spy(bob), _sent(bob)
    try:
        monkeypatch.setattr(first_contact.fc, "seal", _forge(tamper))
        await convs.create(mallory, "spam", [bob.identity.account], clock(),
                           first_message="cheap watches")
        monkeypatch.undo()
        breq = (await until(bob, clock, lambda: [
            c for c in _decided(bob)() if invites.held_count(bob, c) == 3]))[0]
        assert breq["meta"]["request"]["first_contact"] == {"state": "dropped",
                                                            "reason": reason}
        assert parsed == Counter() and sent == Counter()
        assert bob.store.get_json(first_contact.SEALED, {}) == {}  # not kept once decided
        # Only the request is dropped: the invitation still waits for bob's answer.
        assert await message_requests.accept(bob, breq, clock()) == 3
        assert [x.body for x in bob.store.messages(breq["conv_id"])
                if x.kind == "text"] == ["cheap watches"]
    finally:
        for d in (mallory, bob):
            await d.disconnect()


async def test_T14_a_sealed_request_is_only_for_an_added_device(
        providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]) -> None:
    """The hub's one acceptance path (local and forwarded commits): each sealed request
    names a device the commit adds, once."""
    tag = os.urandom(3).hex()
    alice = await user(clients["alpha"], f"alice{tag}@alpha.test")
    bob = await user(clients["beta"], f"bob{tag}@beta.test")
    await alice.create_group(os.urandom(16))
    claimed = await alice.claim(bob.account)
    for wrong in ([m.SealedFirstContact(alice.device_id, b"x")],
                  [m.SealedFirstContact(bob.device_id, b"x")] * 2):
        r = await alice.commit_add(claimed, expect=None, first_contact=wrong)
        assert r.status_code == 422, r.text
        assert "one per device" in r.json()["message"]
    r = await alice.commit_add(claimed, first_contact=[m.SealedFirstContact(bob.device_id,
                                                                            b"x")])
    assert r.status_code == 201
