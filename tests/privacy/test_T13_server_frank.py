"""T13, MIMI franking (draft-ietf-mimi-protocol-06 5.4.1.2, 5.4.1.3, 5.9) without I/O:
the hub's frank, a receiver's checks and the hub's report check, one altered input each."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.errors import CryptoError
from accord.mls.suites import get_suite
from accord.privacy import server_frank as sf
from accord.wire.mimi import Frank
from accord.wire.mimi_frank import (
    INTEGRITY_LABEL,
    FrankingAgentData,
    FrankingIntegrityTBS,
    ServerFrankingContext,
)

HUB_KEY = secrets.token_bytes(32)
TAG = secrets.token_bytes(32)
ROOM = "mimi://hub.example/r/room"
BOB = "mimi://b.example/u/bob"
AT = 1_800_000_000_000
SUITE = 1
SIGNER = Ed25519PrivateKey.generate()
PUBLIC = SIGNER.public_key().public_bytes_raw()
AGENT = sf.agent("hub.example", PUBLIC)


def _ctx(sender: str | None = BOB, room: str = ROOM, at: int = AT) -> ServerFrankingContext:
    return sf.context(sender, room, at)


def _frank(ctx: ServerFrankingContext | None = None, key: bytes | None = None,
           suite: int = SUITE) -> Frank:
    return sf.make(HUB_KEY, TAG, ctx or _ctx(), suite,
                   key if key is not None else SIGNER.private_bytes_raw())


def _receive(frank: Frank, agent: FrankingAgentData | None = AGENT,
             hub: str = "hub.example") -> ServerFrankingContext | None:
    return sf.verify_received(frank, SUITE, agent, hub, [_ctx(), _ctx(None)])


def test_T13_the_hubs_frank_is_the_drafts_construction() -> None:
    ctx = _ctx()
    frank = _frank(ctx)
    # 5.4.1.2: server_frank = HMAC_SHA256(hub_key, franking_tag || context)
    assert frank.server_frank == hmac.new(HUB_KEY, TAG + ctx.to_bytes(), hashlib.sha256).digest()
    tbs = FrankingIntegrityTBS(frank.server_frank, SUITE, ctx).to_bytes()
    get_suite(SUITE).verify_with_label(PUBLIC, INTEGRITY_LABEL, tbs,
                                       frank.franking_integrity_signature)
    assert frank.franking_signature_ciphersuite == SUITE
    # the hidden sender's context is the empty URI
    assert sf.context(None, ROOM, AT).sender_uri.uri == b""
    unsigned = sf.make(HUB_KEY, TAG, ctx, SUITE, None)
    assert (unsigned.server_frank, unsigned.franking_signature_ciphersuite,
            unsigned.franking_integrity_signature) == (frank.server_frank, 0, b"")


def test_T13_a_receiver_takes_only_a_frank_the_rooms_hub_signed() -> None:
    assert _receive(_frank()) == _ctx()
    assert _receive(_frank(_ctx(None))) == _ctx(None)  # a hidden sender
    other_key = Ed25519PrivateKey.generate().private_bytes_raw()
    good = _frank()
    refused = {
        "another server frank": (dataclasses.replace(good, server_frank=bytes(32)), AGENT),
        "another signature": (dataclasses.replace(good, franking_integrity_signature=bytes(64)),
                              AGENT),
        "another hub's key": (_frank(key=other_key), AGENT),
        "another sender": (_frank(_ctx("mimi://b.example/u/mallory")), AGENT),
        "another room": (_frank(_ctx(room="mimi://hub.example/r/other")), AGENT),
        "another time": (_frank(_ctx(at=AT + 1)), AGENT),
        "another suite": (_frank(suite=3), AGENT),
        "an agent naming another domain": (good, sf.agent("evil.example", PUBLIC)),
        "no agent in the room": (good, None),
        "a stripped signature": (Frank(good.server_frank, 0, b""), AGENT),
        "a signature under no suite": (Frank(good.server_frank, 0, b"x"), None),
    }
    for what, (frank, agent) in refused.items():
        with pytest.raises(CryptoError):
            _receive(frank, agent)
            pytest.fail(what)
    # a room without a franking agent: an unsigned frank is kept, unverified
    assert _receive(Frank(good.server_frank, 0, b""), None) is None


def test_T13_the_hub_files_a_report_only_for_its_own_frank_of_that_content() -> None:
    ctx = _ctx()
    frank = _frank(ctx)
    both = [_ctx(), _ctx(None)]
    assert sf.check_report(HUB_KEY, PUBLIC, frank, TAG, both) == ctx
    hidden = _frank(_ctx(None))
    assert sf.check_report(HUB_KEY, PUBLIC, hidden, TAG, both) == _ctx(None)
    other_key = Ed25519PrivateKey.generate()
    refused = {
        "altered content (another franking_tag)": (frank, secrets.token_bytes(32), both),
        "another server frank": (dataclasses.replace(frank, server_frank=bytes(32)), TAG, both),
        "another time": (frank, TAG, [_ctx(at=AT + 1), _ctx(None, at=AT + 1)]),
        "another room": (frank, TAG, [_ctx(room="mimi://hub.example/r/x")]),
        "another sender": (frank, TAG, [_ctx("mimi://b.example/u/mallory")]),
        "another signature": (dataclasses.replace(frank, franking_integrity_signature=bytes(64)),
                              TAG, both),
        "signed by another key": (_frank(ctx, key=other_key.private_bytes_raw()), TAG, both),
        "a signature under no suite": (Frank(frank.server_frank, 0, b"x"), TAG, both),
    }
    for what, (f, tag, contexts) in refused.items():
        with pytest.raises(CryptoError):
            sf.check_report(HUB_KEY, PUBLIC, f, tag, contexts)
            pytest.fail(what)
    # another hub (another hub key) cannot have made this frank
    with pytest.raises(CryptoError):
        sf.check_report(secrets.token_bytes(32), PUBLIC, frank, TAG, both)
