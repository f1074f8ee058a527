"""The client's RFC 9420 engine adapter (``mls_rfc.RfcEngine``) and the Accord
derivations over it (``mls_session``): sans-I/O, driven with fixed times."""

from __future__ import annotations

import pytest

from accord.client.mls_rfc import RfcEngine, _lp, _unlp, default_engine
from accord.client.mls_session import (
    CLASSIC_SUITE,
    PQ_SUITE,
    describe_suite,
    epoch_tag,
    identity_of,
    posting_key,
    posting_public_key,
    split_identity,
)
from accord.errors import AccordError, DecodeError, NotFound, ValidationError

NOW = 1_700_000_000_000
E = RfcEngine()
ALICE = identity_of("alice@alpha.test", "A" * 22)
BOB = identity_of("bob@beta.test", "B" * 22)
CAROL = identity_of("carol@alpha.test", "C" * 22)


class Person:
    def __init__(self, identity: bytes) -> None:
        self.identity = identity
        self.priv, self.pub = E.signature_keypair()

    def kp(self, suite: int = CLASSIC_SUITE, exts: tuple[tuple[int, bytes], ...] = ()):
        return E.key_package(self.identity, self.priv, self.pub, NOW, suite, exts)


def _two(suite: int = CLASSIC_SUITE) -> tuple[Person, Person, bytes, bytes, bytes]:
    """alice's group with bob added: (alice, bob, alice_state, bob_state, commit)."""
    a, b = Person(ALICE), Person(BOB)
    state = E.create_group(b"g1" * 8, a.identity, a.priv, a.pub, NOW, suite)
    bob_kp = b.kp(suite)
    out = E.commit(state, add=[bob_kp.public], remove=[], update=False, now=NOW)
    assert out.welcome is not None
    assert E.welcome_key_package_refs(out.welcome) == [bob_kp.ref]
    bob_state = E.join(out.welcome, {bob_kp.ref: bob_kp.private}, NOW)
    return a, b, out.state, bob_state, out.commit


def test_a_key_package_names_its_identity_and_suite_and_its_extensions() -> None:
    a = Person(ALICE)
    bundle = a.kp(exts=((0xF0A1, b"first contact"),))
    assert E.key_package_identity(bundle.public, NOW) == (ALICE, a.pub)
    assert E.key_package_extension(bundle.public, 0xF0A1) == b"first contact"
    assert E.key_package_extension(bundle.public, 0xF0A2) is None
    # asked for another suite: refused before it is validated
    with pytest.raises(ValidationError, match="not for cipher suite"):
        E.key_package_identity(bundle.public, NOW, PQ_SUITE)
    # a suite Accord does not offer is refused at creation
    with pytest.raises(ValidationError, match="not one Accord offers"):
        a.kp(suite=0x0002)
    with pytest.raises(ValidationError, match="not one Accord offers"):
        E.create_group(b"g" * 16, ALICE, a.priv, a.pub, NOW, 0x0003)


def test_a_tampered_or_foreign_key_package_is_refused() -> None:
    a, b, state, _, _ = _two()
    bundle = Person(CAROL).kp()
    tampered = bytearray(bundle.public)
    tampered[-5] ^= 1  # inside the signature
    with pytest.raises(AccordError):
        E.key_package_identity(bytes(tampered), NOW)
    # a group message where a KeyPackage belongs
    with pytest.raises(ValidationError, match="not a KeyPackage"):
        E.key_package_identity(E.group_info(state), NOW)
    with pytest.raises(ValidationError, match="not a Welcome"):
        E.welcome_key_package_refs(bundle.public)
    with pytest.raises(DecodeError):
        E.key_package_identity(b"\x00\x01garbage", NOW)


def test_two_members_exchange_application_messages_both_ways() -> None:
    a, b, alice, bob, _ = _two()
    assert E.epoch(alice) == E.epoch(bob) == 1
    assert E.group_id(bob) == b"g1" * 8
    assert [m.identity for m in E.members(bob)] == [ALICE, BOB]
    assert E.own_identity(bob) == BOB and E.own_identity(alice) == ALICE
    assert E.epoch_authenticator(alice) == E.epoch_authenticator(bob)
    assert E.cipher_suite(bob) == CLASSIC_SUITE
    msg, alice = E.protect(alice, b"hello bob", b"aad")
    got = E.process(bob, msg, NOW)
    assert (got.kind, got.sender, got.plaintext, got.authenticated_data, got.epoch) == (
        "application", ALICE, b"hello bob", b"aad", 1)
    bob = got.state
    reply, bob = E.protect(bob, b"hi alice", b"")
    assert E.process(alice, reply, NOW).plaintext == b"hi alice"
    # the same message twice: its generation is used up (RFC 9420 9.1)
    with pytest.raises(AccordError):
        E.process(bob, msg, NOW)


def test_commits_report_who_was_added_and_removed_and_a_removed_member_keeps_its_state() -> None:
    a, b, alice, bob, _ = _two()
    c = Person(CAROL)
    ckp = c.kp()
    out = E.commit(alice, add=[ckp.public], remove=[], update=True, now=NOW)
    got = E.process(bob, out.commit, NOW)
    assert (got.kind, got.added, got.removed, got.epoch) == ("commit", (CAROL,), (), 1)
    bob, alice = got.state, out.state
    carol = E.join(out.welcome, {ckp.ref: ckp.private}, NOW)
    assert E.epoch(carol) == E.epoch(bob) == E.epoch(alice) == 2
    # removing bob: carol sees bob removed; bob sees himself removed, state unchanged
    out = E.commit(alice, add=[], remove=[BOB], update=False, now=NOW)
    assert out.welcome is None
    assert E.process(carol, out.commit, NOW).removed == (BOB,)
    mine = E.process(bob, out.commit, NOW)
    assert mine.removed == (BOB,) and mine.state == bob
    with pytest.raises(NotFound):
        E.commit(out.state, add=[], remove=[BOB], update=False, now=NOW)


def test_a_member_proposes_its_own_removal_and_the_commit_takes_it_by_reference() -> None:
    a, b, alice, bob, _ = _two()
    proposals, bob = E.propose_remove(bob, [BOB])
    assert len(proposals) == 1
    got = E.process(alice, proposals[0], NOW)
    assert (got.kind, got.sender, got.removed) == ("proposal", BOB, (BOB,))
    out = E.commit(got.state, add=[], remove=[BOB], update=False, now=NOW)
    assert [m.identity for m in E.members(out.state)] == [ALICE]
    assert E.process(bob, out.commit, NOW).removed == (BOB,)


def test_a_welcome_for_someone_else_is_not_joined() -> None:
    a, b = Person(ALICE), Person(BOB)
    state = E.create_group(b"g2" * 8, ALICE, a.priv, a.pub, NOW)
    bkp = b.kp()
    out = E.commit(state, add=[bkp.public], remove=[], update=False, now=NOW)
    other = Person(CAROL).kp()
    with pytest.raises(NotFound, match="none of our KeyPackages"):
        E.join(out.welcome, {other.ref: other.private}, NOW)
    # a truncated private bundle is a decode error, not a crash
    with pytest.raises(DecodeError, match="truncated"):
        E.join(out.welcome, {bkp.ref: bkp.private[:10]}, NOW)


def test_length_prefixed_bundles_round_trip_and_refuse_trailing_bytes() -> None:
    packed = _lp(b"a", b"", b"ccc")
    assert _unlp(packed, 3) == [b"a", b"", b"ccc"]
    with pytest.raises(DecodeError, match="trailing"):
        _unlp(packed + b"x", 3)
    with pytest.raises(DecodeError, match="truncated"):
        _unlp(packed[:3], 1)


def test_a_reinit_moves_the_group_to_a_new_id_and_suite() -> None:
    a, b, alice, bob, _ = _two()
    assert E.reinit_target(alice) is None
    out = E.commit_reinit(alice, b"new-group-id-016", CLASSIC_SUITE, NOW)
    got = E.process(bob, out.commit, NOW)
    assert E.reinit_target(out.state) == (b"new-group-id-016", CLASSIC_SUITE)
    assert E.reinit_target(got.state) == (b"new-group-id-016", CLASSIC_SUITE)
    bkp = b.kp()
    moved = E.reinit_group(out.state, [bkp.public], NOW)
    assert moved.created_info is not None and moved.welcome is not None
    bob_new = E.join(moved.welcome, {bkp.ref: bkp.private}, NOW, resumed=[got.state])
    assert E.group_id(bob_new) == b"new-group-id-016"
    assert E.epoch_authenticator(bob_new) == E.epoch_authenticator(moved.state)
    with pytest.raises(ValidationError, match="not one Accord offers"):
        E.commit_reinit(alice, b"x" * 16, 0x0002, NOW)


def test_posting_key_and_epoch_tag_are_shared_by_the_epoch_only() -> None:
    a, b, alice, bob, _ = _two()
    assert posting_public_key(E, alice) == posting_public_key(E, bob)
    sig = posting_key(E, bob).sign(b"post")
    posting_key(E, alice).public_key().verify(sig, b"post")
    assert epoch_tag(E, alice) == epoch_tag(E, bob) and len(epoch_tag(E, alice)) == 8
    nxt = E.commit(alice, add=[], remove=[], update=True, now=NOW).state
    assert posting_public_key(E, nxt) != posting_public_key(E, alice)
    assert epoch_tag(E, nxt) != epoch_tag(E, alice)


def test_T16_credential_identities_must_have_the_wire_syntax() -> None:
    assert split_identity(ALICE) == ("alice@alpha.test", "A" * 22)
    for bad in (b"no-slash", b"\xff\xfe/dev", b"[b]x@evil.test/" + b"A" * 22,
                b"alice@alpha.test/short", b"bob\xe2\x80\xae@evil.test/" + b"A" * 22):
        with pytest.raises(ValidationError):
            split_identity(bad)


def test_suites_are_described_with_their_post_quantum_property() -> None:
    assert describe_suite(CLASSIC_SUITE) == {
        "cipher_suite": "0x0001", "suite_name": describe_suite(1)["suite_name"],
        "post_quantum": False}
    assert describe_suite(PQ_SUITE)["post_quantum"] is True
    assert isinstance(default_engine(), RfcEngine)


def test_the_post_quantum_suite_makes_a_working_group() -> None:
    _, _, alice, bob, _ = _two(PQ_SUITE)
    assert E.cipher_suite(alice) == PQ_SUITE
    msg, _ = E.protect(alice, b"pq", b"")
    assert E.process(bob, msg, NOW).plaintext == b"pq"
