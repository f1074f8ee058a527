"""The secret tree: lazy derivation, deletion (RFC 9420 9.2), the out-of-order window."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import DecodeError, ValidationError
from accord.mls.secret_tree import (
    GenerationTooFarAhead,
    GenerationUnavailable,
    RatchetType,
    SecretTree,
    sender_data_key_nonce,
)
from accord.mls.suites import get_suite

SUITE = get_suite(1)
SECRET = bytes(range(32))
HS, APP = RatchetType.HANDSHAKE, RatchetType.APPLICATION


def fresh(n_leaves: int = 8, **kw: int) -> SecretTree:
    return SecretTree.create(SUITE, SECRET, n_leaves, **kw)


def in_order_keys(leaf: int, kind: RatchetType, count: int) -> list[bytes]:
    tree, out = fresh(), []
    for _ in range(count):
        rk, tree = tree.next_key(leaf, kind)
        out.append(rk.key + rk.nonce)
    return out


def test_sender_and_receiver_agree() -> None:
    sender, receiver = fresh(), fresh()
    for g in range(5):
        sent, sender = sender.next_key(3, APP)
        got, receiver = receiver.key_for(3, APP, g)
        assert sent == got and sent.generation == g
    assert sender.generation(3, APP) == 5 and sender.generation(3, HS) == 0


def test_ratchets_and_leaves_are_independent() -> None:
    tree = fresh()
    a, _ = tree.key_for(0, APP, 0)
    b, _ = tree.key_for(0, HS, 0)
    c, _ = tree.key_for(1, APP, 0)
    assert len({a.key, b.key, c.key}) == 3
    assert len(a.key) == SUITE.aead_key_len and len(a.nonce) == SUITE.aead_nonce_len


def test_out_of_order_then_reuse_is_refused() -> None:
    want = in_order_keys(2, APP, 6)
    tree = fresh()
    for g in (5, 2, 3):
        rk, tree = tree.key_for(2, APP, g)
        assert rk.key + rk.nonce == want[g]
    for g in (5, 2, 3):
        with pytest.raises(GenerationUnavailable):
            tree.key_for(2, APP, g)
    for g in (0, 1, 4):
        rk, tree = tree.key_for(2, APP, g)
        assert rk.key + rk.nonce == want[g]


def test_failed_decryption_keeps_the_old_tree() -> None:
    tree = fresh()
    rk, newer = tree.key_for(1, APP, 7)
    # The caller could not decrypt: it keeps ``tree``, which still has everything.
    again, _ = tree.key_for(1, APP, 7)
    assert again == rk
    first, _ = tree.key_for(1, APP, 0)
    assert first.generation == 0
    with pytest.raises(GenerationUnavailable):
        newer.key_for(1, APP, 7)


def test_forward_window() -> None:
    tree = fresh(max_forward_distance=10)
    with pytest.raises(GenerationTooFarAhead):
        tree.key_for(0, APP, 11)
    _, tree = tree.key_for(0, APP, 10)
    # The window moves with the ratchet.
    _, tree = tree.key_for(0, APP, 21)
    with pytest.raises(GenerationTooFarAhead):
        tree.key_for(0, APP, 33)
    assert issubclass(GenerationTooFarAhead, ValidationError)


def test_skipped_keys_are_bounded() -> None:
    want = in_order_keys(0, APP, 31)
    tree = fresh(max_skipped_keys=3)
    rk, tree = tree.key_for(0, APP, 10)
    assert rk.key + rk.nonce == want[10]
    for g in (0, 6):
        with pytest.raises(GenerationUnavailable):
            tree.key_for(0, APP, g)
    rk, tree = tree.key_for(0, APP, 8)
    assert rk.key + rk.nonce == want[8]
    # A later jump evicts the oldest retained keys first.
    _, tree = tree.key_for(0, APP, 13)  # skips 11, 12; keeps 11, 12 and one of 7, 9
    with pytest.raises(GenerationUnavailable):
        tree.key_for(0, APP, 7)
    for g in (9, 11, 12):
        rk, tree = tree.key_for(0, APP, g)
        assert rk.key + rk.nonce == want[g]
    # A jump longer than the retention derives only what it keeps, and stays correct.
    rk, tree = tree.key_for(0, APP, 30)
    assert rk.key + rk.nonce == want[30]
    for g in (27, 28, 29):
        rk, tree = tree.key_for(0, APP, g)
        assert rk.key + rk.nonce == want[g]


def test_no_skipped_retention() -> None:
    tree = fresh(max_skipped_keys=0)
    _, tree = tree.key_for(0, APP, 4)
    with pytest.raises(GenerationUnavailable):
        tree.key_for(0, APP, 3)


def test_consumed_secrets_are_deleted() -> None:
    tree = fresh()
    rk, tree = tree.key_for(5, APP, 1)
    state = tree.to_bytes()
    assert SECRET not in state
    assert rk.key not in state and rk.nonce not in state
    # Only the skipped generation 0 and unconsumed siblings remain.
    kept, _ = tree.key_for(5, APP, 0)
    assert kept.key in state


def test_leaf_range_and_generation_range() -> None:
    tree = fresh(4)
    with pytest.raises(ValidationError):
        tree.key_for(4, APP, 0)
    with pytest.raises(ValidationError):
        tree.key_for(0, APP, 1 << 32)
    with pytest.raises(ValidationError):
        SecretTree.create(SUITE, SECRET[:5], 4)


def test_serialization_round_trip() -> None:
    tree = fresh(16, max_forward_distance=50, max_skipped_keys=5)
    _, tree = tree.key_for(3, APP, 4)
    _, tree = tree.next_key(9, HS)
    back = SecretTree.from_bytes(tree.to_bytes())
    assert back == tree
    assert back.max_forward_distance == 50 and back.max_skipped_keys == 5
    assert back.key_for(3, APP, 2)[0] == tree.key_for(3, APP, 2)[0]
    assert back.key_for(12, APP, 0)[0] == tree.key_for(12, APP, 0)[0]
    with pytest.raises(DecodeError):
        SecretTree.from_bytes(tree.to_bytes() + b"\x00")
    with pytest.raises(DecodeError):
        SecretTree.from_bytes(tree.to_bytes()[:-3])


def test_repr_hides_secrets() -> None:
    tree = fresh()
    rk, tree = tree.key_for(0, APP, 0)
    for text in (repr(tree), repr(rk)):
        assert SECRET.hex() not in text and rk.key.hex() not in text
        assert repr(SECRET) not in text and repr(rk.key) not in text


def test_large_tree_is_lazy() -> None:
    tree = SecretTree.create(SUITE, SECRET, 16384)
    _, tree = tree.key_for(9999, APP, 0)
    # One path of 14 levels leaves 14 sibling secrets and one leaf's ratchets.
    assert len(tree.to_bytes()) < 2000


def test_ratchet_for_content_type() -> None:
    assert RatchetType.for_content_type(1) is APP
    assert RatchetType.for_content_type(3) is HS
    with pytest.raises(ValidationError):
        RatchetType.for_content_type(0)


def test_sender_data_sample() -> None:
    short = b"\x01" * 10
    k1, n1 = sender_data_key_nonce(SUITE, SECRET, short)
    long = b"\x02" * 32
    assert sender_data_key_nonce(SUITE, SECRET, long) == sender_data_key_nonce(
        SUITE, SECRET, long + b"tail"
    )
    assert len(k1) == SUITE.aead_key_len and len(n1) == SUITE.aead_nonce_len


@settings(max_examples=50, deadline=None)
@given(st.permutations(list(range(12))))
def test_any_delivery_order_within_the_window(order: list[int]) -> None:
    want = in_order_keys(1, HS, 12)
    tree = fresh(max_skipped_keys=12)
    for g in order:
        rk, tree = tree.key_for(1, HS, g)
        assert rk.key + rk.nonce == want[g]
