"""The sealed first-contact request (issue 18, T14): each check, with its typed reason."""

from __future__ import annotations

import os
from typing import Any

import pytest

from accord.content import first_contact as fc
from accord.mls.codec import encode
from accord.mls.suites import get_suite

SENDER = b"alice@alpha.test/" + b"A" * 22
BOB = b"bob@beta.test/" + b"B" * 22
GROUP = b"g" * 16
WELCOME = b"the welcome as queued"


@pytest.fixture(scope="module")
def keys() -> dict[str, bytes]:
    sig_priv, _ = get_suite(fc.SUITE).generate_signature_key_pair()
    priv, pub = fc.new_request_key()
    return {"sig": sig_priv, "priv": priv, "pub": pub}


def _sealed(keys: dict[str, bytes], **over: Any) -> bytes:
    kw = {"sender": SENDER, "signature_priv": keys["sig"], "recipient": BOB,
          "request_key": keys["pub"], "group_id": GROUP, "welcome": WELCOME, "sent_at": 7,
          "preview": "hello"} | over
    return fc.seal(**kw)


def _check(keys: dict[str, bytes], sealed: bytes, **over: Any) -> fc.FirstContactTBS:
    kw = {"recipient": BOB, "group_id": GROUP, "welcome": WELCOME,
          "sender_account": "alice@alpha.test"} | over
    return fc.check(fc.open_request(sealed, keys["priv"]), **kw)


def _reason(fn: Any) -> str:
    with pytest.raises(fc.FirstContactRefused) as info:
        fn()
    return info.value.reason


def test_T14_a_sealed_request_opens_and_checks(keys: dict[str, bytes]) -> None:
    tbs = _check(keys, _sealed(keys, preview=fc.preview_of("hi\n  there\x1b[31m")))
    assert (tbs.sender, tbs.recipient, tbs.preview, tbs.sent_at) == (SENDER, BOB,
                                                                     "hi there[31m", 7)


def test_T14_garbage_and_other_keys_are_refused(keys: dict[str, bytes]) -> None:
    assert _reason(lambda: fc.open_request(os.urandom(200), keys["priv"])) == "malformed"
    other, _ = fc.new_request_key()
    assert _reason(lambda: fc.open_request(_sealed(keys), other)) == "undecryptable"
    sealed = bytearray(_sealed(keys))
    sealed[-1] ^= 1
    assert _reason(lambda: fc.open_request(bytes(sealed), keys["priv"])) == "undecryptable"


def test_T14_each_binding_is_checked(keys: dict[str, bytes]) -> None:
    sealed = _sealed(keys)
    carol = b"carol@beta.test/" + b"C" * 22
    assert _reason(lambda: _check(keys, sealed, recipient=carol)) == "wrong_recipient"
    assert _reason(lambda: _check(keys, sealed, group_id=b"h" * 16)) == "wrong_group"
    assert _reason(lambda: _check(keys, sealed, welcome=b"another")) == "wrong_group"
    assert _reason(lambda: _check(keys, sealed, sender_account="mallory@gamma.test")
                   ) == "wrong_sender"


def test_T14_a_forged_signature_is_refused(keys: dict[str, bytes]) -> None:
    suite = get_suite(fc.SUITE)
    tbs = fc.FirstContactTBS(SENDER, suite.signature_public_key(keys["sig"]), BOB, GROUP,
                             fc.welcome_hash(WELCOME), 7, "hello")
    other, _ = suite.generate_signature_key_pair()  # signed by another key than it names
    sig = suite.sign_with_label(other, fc.SIGN_LABEL, encode(fc.FirstContactTBS, tbs))
    plain = encode(fc.SignedFirstContact, fc.SignedFirstContact(tbs, sig))
    kem, ct = suite.hpke_seal(keys["pub"], fc.HPKE_INFO, b"", plain)
    sealed = encode(fc.SealedRequest, fc.SealedRequest(kem, ct))
    assert _reason(lambda: _check(keys, sealed)) == "bad_signature"


def test_T14_an_oversize_preview_is_refused(keys: dict[str, bytes]) -> None:
    long = "x" * (fc.MAX_PREVIEW_CHARS + 1)
    assert _reason(lambda: _check(keys, _sealed(keys, preview=long))) == "oversize"
    assert _reason(lambda: _check(keys, _sealed(keys, preview="a\nb"))) == "oversize"
    assert len(fc.preview_of(long)) == fc.MAX_PREVIEW_CHARS  # the sender cuts it
