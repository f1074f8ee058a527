"""The key directory end to end: heads, lookups, monitoring, split views (T05, T06, T07)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.errors import CryptoError, DecodeError, NotFound, ValidationError
from accord.mls.codec import decode, encode
from accord.transparency import (
    EntryProof,
    KeyDirectory,
    LogEntry,
    LookupProof,
    MemoryEntryStore,
    MemoryNodeStore,
    SignedTreeHead,
    Succession,
    TreeHead,
    check_split_view_evidence,
    decode_entry,
    decode_signed_head,
    detect_split_view,
    encode_entry,
    proven_successions,
    replay_map_root,
    require_device_key,
    sign_head,
    unknown_devices,
    verify_entry,
    verify_head_update,
    verify_lookup,
    verify_signed_head,
    vouched,
)
from accord.transparency.entries import MAX_SUCCESSIONS
from accord.wire import signing

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
DOMAIN = "a.example"
SK = Ed25519PrivateKey.generate()
PK = SK.public_key()
ALICE, BOB = "alice@a.example", "bob@a.example"


def key(n: int) -> bytes:
    return bytes([n]) * 32


def directory() -> KeyDirectory:
    d = KeyDirectory(DOMAIN, b"\x42" * 32)
    d.publish(ALICE, [key(1)], now=1)
    d.publish(BOB, [key(2)], now=2)
    for i in range(20):
        d.publish(f"user{i}@a.example", [key(100 + i)], now=3 + i)
    d.publish(ALICE, [key(1), key(3)], now=30)
    return d


def head_of(d: KeyDirectory, now: int = 100) -> TreeHead:
    return verify_signed_head(d.signed_head(SK, now), PK, DOMAIN)


def test_T06_lookup_proves_the_current_device_set() -> None:
    d = directory()
    h = head_of(d)
    entry = verify_lookup(h, ALICE, d.lookup(ALICE))
    assert entry is not None and entry.device_keys == (key(1), key(3)) and entry.version == 2
    require_device_key(entry, key(3))
    with pytest.raises(ValidationError):
        require_device_key(entry, key(9))
    assert verify_lookup(h, "nobody@a.example", d.lookup("nobody@a.example")) is None
    proof = d.lookup(ALICE)
    assert decode(LookupProof, encode(LookupProof, proof)) == proof


def test_T06_substituted_or_stale_entries_are_detected() -> None:
    d = directory()
    h = head_of(d)
    good = d.lookup(ALICE)
    assert good.entry is not None
    # Bob's genuine entry passed off as Alice's.
    with pytest.raises(CryptoError):
        verify_lookup(h, ALICE, dataclasses.replace(d.lookup(BOB), opening=good.opening))
    with pytest.raises(CryptoError):
        verify_lookup(h, ALICE, d.lookup(BOB))
    # Alice's first (stale) entry instead of her latest one.
    stale = dataclasses.replace(good, entry=d.entry_proof(0))
    with pytest.raises(CryptoError):
        verify_lookup(h, ALICE, stale)
    # A forged entry with the provider's own key added.
    forged = dataclasses.replace(
        decode_entry(good.entry.entry), device_keys=(key(1), key(3), key(66))
    )
    forged_proof = dataclasses.replace(good.entry, entry=encode_entry(forged))
    with pytest.raises(CryptoError):
        verify_lookup(h, ALICE, dataclasses.replace(good, entry=forged_proof))
    # Hiding Alice: claiming the map has no entry for her index.
    with pytest.raises(CryptoError):
        verify_lookup(h, ALICE, dataclasses.replace(good, entry=None))
    absent = d.lookup("nobody@a.example")
    with pytest.raises(CryptoError):
        verify_lookup(h, ALICE, dataclasses.replace(good, map_proof=absent.map_proof))


def test_T05_owner_monitoring_sees_a_ghost_device() -> None:
    d = directory()
    mine = [key(1), key(3)]
    assert unknown_devices(verify_lookup(head_of(d), ALICE, d.lookup(ALICE)), mine) == ()
    d.publish(ALICE, [key(1), key(3), key(77)], now=40)  # the provider adds a device
    entry = verify_lookup(head_of(d), ALICE, d.lookup(ALICE))
    assert unknown_devices(entry, mine) == (key(77),)


def test_T05_history_walk_through_previous_entries() -> None:
    d = directory()
    h = head_of(d)
    entry = verify_lookup(h, ALICE, d.lookup(ALICE))
    versions = []
    while entry is not None:
        versions.append(entry.version)
        entry = None if entry.previous is None else verify_entry(h, d.entry_proof(entry.previous))
    assert versions == [2, 1]
    with pytest.raises(CryptoError):
        verify_entry(h, dataclasses.replace(d.entry_proof(1), position=2))


def test_T18_tombstone() -> None:
    d = directory()
    d.delete(BOB, now=50)
    entry = verify_lookup(head_of(d), BOB, d.lookup(BOB))
    assert entry is not None and entry.deleted and entry.device_keys == ()
    with pytest.raises(ValidationError):
        require_device_key(entry, key(2))
    with pytest.raises(NotFound):
        d.delete("nobody@a.example", now=51)


def test_heads_are_signed_over_domain_and_time() -> None:
    d = directory()
    sth = d.signed_head(SK, 100)
    assert decode_signed_head(encode(SignedTreeHead, sth)) == sth
    for field, value in [
        ("size", 1),
        ("timestamp", 101),
        ("root", bytes(32)),
        ("map_root", bytes(32)),
    ]:
        changed: dict[str, Any] = {field: value}
        bad = SignedTreeHead(dataclasses.replace(sth.head, **changed), sth.signature)
        with pytest.raises(CryptoError):
            verify_signed_head(bad, PK, DOMAIN)
    with pytest.raises(ValidationError):
        verify_signed_head(sth, PK, "b.example")
    other = sign_head(Ed25519PrivateKey.generate(), sth.head)
    with pytest.raises(CryptoError):
        verify_signed_head(other, PK, DOMAIN)
    with pytest.raises(CryptoError):
        verify_signed_head(
            sth, Ed25519PrivateKey.generate().public_key().public_bytes_raw(), DOMAIN
        )


def test_T06_head_updates_move_forward_only_by_proof() -> None:
    d = directory()
    old = head_of(d, 100)
    verify_head_update(None, old, ())
    d.publish(BOB, [key(2), key(4)], now=110)
    new = head_of(d, 120)
    verify_head_update(old, new, d.consistency_proof(old.size))
    with pytest.raises(ValidationError):
        verify_head_update(new, old, ())
    with pytest.raises(CryptoError):
        verify_head_update(old, new, ())
    with pytest.raises(ValidationError):
        verify_head_update(
            old, dataclasses.replace(new, timestamp=1), d.consistency_proof(old.size)
        )
    with pytest.raises(CryptoError):
        verify_head_update(old, dataclasses.replace(old, map_root=bytes(32)), ())


def _forked() -> tuple[KeyDirectory, KeyDirectory]:
    """One provider keeping two logs: the honest one, and one with a ghost device."""
    a, b = directory(), directory()
    a.publish(BOB, [key(2)], now=60)
    b.publish(BOB, [key(2), key(99)], now=60)
    return a, b


def test_T06_T07_split_view_same_size_is_conclusive() -> None:
    a, b = _forked()
    sa, sb = a.signed_head(SK, 70), b.signed_head(SK, 70)
    evidence = detect_split_view(PK, sa, sb)
    assert evidence is not None and evidence.kind == "same_size_different_root"
    assert evidence.conclusive
    check_split_view_evidence(PK, evidence)


def test_T06_T07_split_view_across_sizes() -> None:
    a, b = _forked()
    old = a.signed_head(SK, 70)
    b.publish(ALICE, [key(1)], now=80)
    new = b.signed_head(SK, 90)
    # Whatever proof the provider serves, the fork cannot be linked to the old head.
    for proof in (b.consistency_proof(old.head.size), a.consistency_proof(old.head.size - 1), ()):
        evidence = detect_split_view(PK, old, new, proof)
        assert evidence is not None and evidence.kind == "inconsistent_proof"
        assert not evidence.conclusive


def test_T07_honest_heads_raise_no_alert() -> None:
    d = directory()
    old = d.signed_head(SK, 100)
    assert detect_split_view(PK, old, old) is None
    d.publish(BOB, [key(5)], now=101)
    new = d.signed_head(SK, 102)
    assert detect_split_view(PK, old, new, d.consistency_proof(old.head.size)) is None
    assert detect_split_view(PK, new, old, d.consistency_proof(old.head.size)) is None
    # A claim of conflict about two honest heads does not hold up.
    from accord.transparency import SplitViewEvidence

    with pytest.raises(ValidationError):
        check_split_view_evidence(PK, SplitViewEvidence("same_size_different_root", old, old))


def test_T07_rollback_and_map_equivocation_are_conclusive() -> None:
    d = directory()
    small = d.signed_head(SK, 200)
    d.publish(BOB, [key(5)], now=101)
    big = d.signed_head(SK, 100)  # bigger log, earlier time
    ev = detect_split_view(PK, small, big, d.consistency_proof(small.head.size))
    assert ev is not None and ev.kind == "log_went_back" and ev.conclusive
    two_maps = sign_head(SK, dataclasses.replace(big.head, map_root=bytes(32)))
    ev = detect_split_view(PK, big, two_maps)
    assert ev is not None and ev.kind == "different_map_root"
    with pytest.raises(CryptoError):  # heads the provider never signed are no evidence
        detect_split_view(PK, big, SignedTreeHead(two_maps.head, big.signature))


def test_directory_reloads_from_its_stores() -> None:
    nodes, entries = MemoryNodeStore(), MemoryEntryStore()
    d = KeyDirectory(DOMAIN, b"\x42" * 32, nodes, entries)
    for i in range(50):
        d.publish(f"u{i % 7}@a.example", [key(i)], now=i)
    again = KeyDirectory(DOMAIN, b"\x42" * 32, nodes, entries)
    assert again.head(5) == d.head(5)
    assert replay_map_root(entries.get_entry(i) for i in range(entries.entry_count())) == d.map.root
    assert "42" * 8 not in repr(d)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.sets(st.integers(0, 40), max_size=4)),
        min_size=1,
        max_size=40,
    )
)
def test_every_identity_verifies_after_random_histories(ops: list[tuple[int, set[int]]]) -> None:
    d = KeyDirectory(DOMAIN, os.urandom(32))
    latest: dict[str, tuple[bytes, ...]] = {}
    held: TreeHead | None = None
    for t, (who, keys) in enumerate(ops):
        name = f"u{who}@a.example"
        d.publish(name, [key(k) for k in keys], now=t)
        latest[name] = tuple(sorted(key(k) for k in keys))
        h = head_of(d, t)
        verify_head_update(held, h, d.consistency_proof(held.size) if held else ())
        held = h
    assert held is not None
    for who in range(6):
        name = f"u{who}@a.example"
        entry = verify_lookup(held, name, d.lookup(name))
        assert (entry.device_keys if entry else None) == latest.get(name)


@SETTINGS
@given(st.binary(max_size=300))
def test_T16_random_bytes_only_decode_error(data: bytes) -> None:
    for parse in (
        decode_entry,
        decode_signed_head,
        lambda b: decode(LookupProof, b),
        lambda b: decode(EntryProof, b),
        lambda b: decode_entry(b"\x01" + b),
    ):
        with contextlib.suppress(DecodeError):
            parse(data)


def test_entry_rules() -> None:
    e = LogEntry(b"i" * 32, b"c" * 32, 1, None, 0, False, (key(2), key(1)))
    with pytest.raises(ValidationError):
        encode_entry(e)  # unsorted
    with pytest.raises(ValidationError):
        encode_entry(dataclasses.replace(e, device_keys=(key(1),), version=2))
    with pytest.raises(ValidationError):
        encode_entry(dataclasses.replace(e, device_keys=(key(1),), deleted=True))
    ok = encode_entry(dataclasses.replace(e, device_keys=(key(1), key(2))))
    swapped = ok.replace(key(1), b"\xff" * 32)
    with pytest.raises(DecodeError):
        decode_entry(swapped)


def _device() -> tuple[Ed25519PrivateKey, bytes]:
    sk = Ed25519PrivateKey.generate()
    return sk, sk.public_key().public_bytes_raw()


def _succession(old: Ed25519PrivateKey, new: bytes, identity: str = ALICE) -> Succession:
    pub = old.public_key().public_bytes_raw()
    return Succession(pub, new, old.sign(signing.succession_input(identity, pub, new)))


def test_T06_a_succession_is_proven_carried_and_trusted_forward_only() -> None:
    """Issue 19: a restore's succession, signed by the old key, is in the proven entry and
    stays in later entries; a succession the provider signed is dropped; trust follows
    a succession forward only."""
    (a, ka), (b, kb), (_, kc) = _device(), _device(), _device()
    other, ko = _device()
    d = KeyDirectory(DOMAIN, b"\x42" * 32)
    d.publish(ALICE, [ka, ko], now=1)
    d.publish(ALICE, [ka, kb, ko], now=2, succession=_succession(a, kb))
    d.publish(ALICE, [kb, ko], now=3)  # the old device removed: the succession stays
    forged = Succession(ko, kc, b.sign(signing.succession_input(ALICE, ko, kc)))
    d.publish(ALICE, [kb, kc], now=4, succession=forged)  # not signed by its predecessor
    entry = verify_lookup(head_of(d), ALICE, d.lookup(ALICE))
    assert entry is not None and len(entry.successions) == 2
    proven = proven_successions(ALICE, entry)
    assert [(s.predecessor, s.successor) for s in proven] == [(ka, kb)]
    assert proven_successions(BOB, entry) == ()  # signed for another identity
    pairs = [(s.predecessor, s.successor) for s in proven]
    assert vouched([ka, ko], pairs) == ({ka, ko, kb}, {ka})
    assert vouched([kb], pairs) == ({kb}, frozenset())  # never backwards
    # A key hands its place on once: a second successor (a stolen copy's) voids both.
    assert vouched([ka, ko], [*pairs, (ka, kc)]) == ({ka, ko}, frozenset())
    assert vouched([ka, ko], [*pairs, (ka, kb)]) == ({ka, ko, kb}, {ka})  # the same twice
    d.delete(ALICE, now=5)
    assert verify_lookup(head_of(d), ALICE, d.lookup(ALICE)).successions == ()


def test_T16_a_version_1_entry_still_reads_and_successions_are_bounded() -> None:
    d = KeyDirectory(DOMAIN, b"\x42" * 32)
    a, ka = _device()
    _, entry = d.publish(ALICE, [ka], now=1)
    v2 = encode_entry(entry)
    assert v2[0] == 2 and v2[-1] == 0  # no successions: an empty vector at the end
    assert decode_entry(b"\x01" + v2[1:-1]) == entry
    with pytest.raises(DecodeError):
        decode_entry(b"\x03" + v2[1:])
    for i in range(MAX_SUCCESSIONS + 2):
        _, new = _device()
        _, entry = d.publish(ALICE, [new], now=2 + i, succession=_succession(a, new))
    assert len(entry.successions) == MAX_SUCCESSIONS
    assert decode_entry(encode_entry(entry)) == entry
