"""Accord's authenticated data is a Safe AAD (draft-ietf-mls-extensions 4.9) carrying
MIMI's ``frank_aad`` (draft-ietf-mimi-protocol-06 5.4.1) and Accord's epoch tag (T07):
one builder and one parser (``accord.privacy.franking``), what a message without one
of the items means, and reports that recompute the draft's franking tag (T13)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.content import make_content, seal
from accord.content.mimi_map import MemoryIndex
from accord.content.model import Text
from accord.errors import CryptoError, DecodeError
from accord.mls.structs.app_data import SafeAAD, SafeAADItem
from accord.privacy import server_frank
from accord.privacy.franking import (
    franking_tag_in,
    message_aad,
    reported_tag,
    sender_franking_tag,
    split_aad,
)
from accord.privacy.sizes import AAD_LEN
from accord.wire.safe_aad import EPOCH_TAG, FRANK_AAD, FrankAAD

ALICE, ROOM = "mimi://a.example/u/alice", "mimi://a.example/r/room"
HUB_KEY = bytes(range(32))


def _sealed(text: str = "franked"):  # type: ignore[no-untyped-def]
    c = make_content(Text(text), random_bytes=secrets.token_bytes, sent_at=1)
    return c, seal(c, MemoryIndex(), ALICE, ROOM)


def test_T13_the_aad_is_a_safe_aad_of_frank_aad_and_the_epoch_tag() -> None:
    epoch, tag = secrets.token_bytes(8), secrets.token_bytes(32)
    aad = message_aad(epoch, tag)
    safe = SafeAAD.from_bytes(aad)
    assert [i.component_id for i in safe.aad_items] == [FRANK_AAD, EPOCH_TAG] == [0x0020, 0xAC02]
    assert safe.get(FRANK_AAD) == tag  # FrankAAD is the 32 octets, no length prefix
    assert len(aad) == AAD_LEN  # every Accord message's AAD has the same size (T11)
    got = split_aad(aad)
    assert (got.epoch_tag, got.franking_tag) == (epoch, tag)
    assert franking_tag_in(aad) == tag


def test_T13_the_senders_tag_is_the_drafts_hmac_keyed_by_the_salt() -> None:
    c, sealed = _sealed()
    expected = hmac.new(c.message_id, sealed.plaintext, hashlib.sha256).digest()
    assert sealed.franking_tag == expected == sender_franking_tag(sealed.plaintext)


@pytest.mark.parametrize("items", [
    {FRANK_AAD: bytes(32)},  # a foreign MIMI client: no epoch tag
    {EPOCH_TAG: bytes(8)},  # no franking
    {},  # nothing at all (4.9: a zero-length vector)
    {0x0005: b"other", FRANK_AAD: bytes(32), 0x9000: b"x", EPOCH_TAG: bytes(8)},
])
def test_T07_missing_items_read_as_none_and_other_components_are_ignored(
        items: dict[int, bytes]) -> None:
    got = split_aad(SafeAAD.of(items).to_bytes())
    assert got.epoch_tag == items.get(EPOCH_TAG)
    assert got.franking_tag == items.get(FRANK_AAD)


def _unsorted(*items: tuple[int, bytes]) -> bytes:
    raw = SafeAAD.__new__(SafeAAD)  # encoded past the constructor's check, as a peer could
    object.__setattr__(raw, "aad_items", tuple(SafeAADItem(c, d) for c, d in items))
    return raw.to_bytes()


@pytest.mark.parametrize("aad", [
    b"\x01" + bytes(40),  # Accord's old layout: not a Safe AAD
    b"",
    message_aad(bytes(8), bytes(32)) + b"\x00",  # trailing bytes
    _unsorted((EPOCH_TAG, bytes(8)), (FRANK_AAD, bytes(32))),  # unsorted
    _unsorted((FRANK_AAD, bytes(32)), (FRANK_AAD, bytes(32))),  # one id twice
    SafeAAD.of({FRANK_AAD: bytes(31)}).to_bytes(),  # a FrankAAD is 32 octets
    SafeAAD.of({FRANK_AAD: bytes(33)}).to_bytes(),
    SafeAAD.of({EPOCH_TAG: bytes(7)}).to_bytes(),  # an epoch tag is 8 octets
])
def test_T13_a_malformed_safe_aad_is_a_decode_error(aad: bytes) -> None:
    with pytest.raises(DecodeError):
        split_aad(aad)


@settings(max_examples=200, deadline=None)
@given(epoch=st.binary(min_size=8, max_size=8), tag=st.binary(min_size=32, max_size=32),
       extra=st.dictionaries(st.integers(0, 0xFFFF).filter(lambda c: c not in (
           FRANK_AAD, EPOCH_TAG)), st.binary(max_size=16), max_size=4))
def test_T13_the_parser_reads_what_any_sorted_safe_aad_carries(
        epoch: bytes, tag: bytes, extra: dict[int, bytes]) -> None:
    aad = SafeAAD.of({**extra, FRANK_AAD: FrankAAD(tag).to_bytes(), EPOCH_TAG: epoch})
    got = split_aad(aad.to_bytes())
    assert (got.epoch_tag, got.franking_tag) == (epoch, tag)


def test_T13_a_report_recomputes_the_drafts_tag_from_the_revealed_content() -> None:
    c, sealed = _sealed("an abusive message")
    ctx = server_frank.context(ALICE, ROOM, 1_700_000_000_000)
    frank = server_frank.make(HUB_KEY, sealed.franking_tag, ctx, 0, None)
    decoded, tag = reported_tag(sealed.plaintext)
    assert decoded.salt == c.message_id and tag == sealed.franking_tag
    assert server_frank.check_report(HUB_KEY, b"", frank, tag, [ctx]) == ctx
    other_text = seal(make_content(Text("nice"), random_bytes=secrets.token_bytes, sent_at=1),
                      MemoryIndex(), ALICE, ROOM).plaintext
    _c2, resalted = _sealed("an abusive message")  # the same text under another salt
    for forged in (other_text, resalted.plaintext):
        with pytest.raises(CryptoError):
            server_frank.check_report(HUB_KEY, b"", frank, reported_tag(forged)[1], [ctx])
