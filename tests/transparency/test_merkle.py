"""The RFC 9162 log: roots, inclusion and consistency proofs (T06)."""

from __future__ import annotations

from hashlib import sha256

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.errors import Conflict, CryptoError, NotFound, ValidationError
from accord.transparency import (
    EMPTY_ROOT,
    MemoryNodeStore,
    MerkleLog,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
DATA = [i.to_bytes(4, "big") for i in range(5000)]


def reference_root(d: list[bytes]) -> bytes:
    """MTH straight from the definition in RFC 9162 2.1.1."""
    if not d:
        return sha256(b"").digest()
    if len(d) == 1:
        return leaf_hash(d[0])
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return node_hash(reference_root(d[:k]), reference_root(d[k:]))


def build(n: int) -> MerkleLog:
    log = MerkleLog()
    for x in DATA[:n]:
        log.append(x)
    return log


LOG64 = build(64)


@pytest.mark.parametrize("n", range(1, 65))
def test_T06_every_proof_verifies_for_every_size_1_to_64(n: int) -> None:
    root = LOG64.root(n)
    assert root == reference_root(DATA[:n])
    for i in range(n):
        path = LOG64.inclusion_proof(i, n)
        verify_inclusion(i, n, leaf_hash(DATA[i]), path, root)
    for m in range(0, n + 1):
        verify_consistency(m, n, LOG64.root(m), root, LOG64.consistency_proof(m, n))


def test_empty_tree_root() -> None:
    assert MerkleLog().root() == EMPTY_ROOT == sha256(b"").digest()


@SETTINGS
@given(st.integers(65, 5000), st.data())
def test_T06_random_larger_trees_verify(n: int, data: st.DataObject) -> None:
    log = MerkleLog()
    log.extend_hashes([leaf_hash(x) for x in DATA[:n]])
    assert log.root() == reference_root(DATA[:n])
    i = data.draw(st.integers(0, n - 1))
    verify_inclusion(i, n, leaf_hash(DATA[i]), log.inclusion_proof(i), log.root())
    m = data.draw(st.integers(1, n))
    verify_consistency(m, n, log.root(m), log.root(), log.consistency_proof(m))
    assert len(log.inclusion_proof(i)) <= n.bit_length()


@SETTINGS
@given(st.lists(st.integers(1, 300), min_size=1, max_size=6))
def test_bulk_extend_equals_single_appends(batches: list[int]) -> None:
    bulk, single, used = MerkleLog(), MerkleLog(), 0
    for b in batches:
        bulk.extend_hashes([leaf_hash(x) for x in DATA[used : used + b]])
        for x in DATA[used : used + b]:
            single.append(x)
        used += b
        assert bulk.root() == single.root() == reference_root(DATA[:used])


@SETTINGS
@given(st.lists(st.integers(1, 200), min_size=2, max_size=8))
def test_T06_consistency_across_growth(steps: list[int]) -> None:
    """A client keeps its last head and moves forward only by proof."""
    log = MerkleLog()
    held_size, held_root = 0, log.root()
    for step in steps:
        for _ in range(step):
            log.append(DATA[log.size])
        proof = log.consistency_proof(held_size)
        verify_consistency(held_size, log.size, held_root, log.root(), proof)
        held_size, held_root = log.size, log.root()
    # Old heads stay provable after growth.
    verify_consistency(
        steps[0], log.size, log.root(steps[0]), log.root(), log.consistency_proof(steps[0])
    )


def _flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


@SETTINGS
@given(st.integers(2, 64), st.data())
def test_T06_tampered_inclusion_proofs_fail(n: int, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, n - 1))
    root, leaf, path = LOG64.root(n), leaf_hash(DATA[i]), list(LOG64.inclusion_proof(i, n))
    errors = (CryptoError, ValidationError)
    j = data.draw(st.integers(0, len(path) - 1))
    bad = path.copy()
    bad[j] = _flip(bad[j], data.draw(st.integers(0, 7)))
    for args in [
        (i, n, leaf, bad, root),
        (i, n, leaf, path[:-1], root),
        (i, n, leaf, [*path, path[0]], root),
        (i, n, _flip(leaf), path, root),
        (i, n, leaf, path, _flip(root)),
        ((i + 1) % n, n, leaf, path, root),
        (i, i, leaf, path, root),  # an index outside the tree
        (i, n, DATA[i], path, root),  # the data, not its leaf hash
    ]:
        with pytest.raises(errors):
            verify_inclusion(*args)


@SETTINGS
@given(st.integers(2, 64), st.data())
def test_T06_tampered_consistency_proofs_fail(n: int, data: st.DataObject) -> None:
    m = data.draw(st.integers(1, n - 1))
    r1, r2, proof = LOG64.root(m), LOG64.root(n), list(LOG64.consistency_proof(m, n))
    j = data.draw(st.integers(0, len(proof) - 1))
    bad = proof.copy()
    bad[j] = _flip(bad[j])
    for args in [
        (m, n, r1, r2, bad),
        (m, n, r1, r2, proof[:-1]),
        (m, n, r1, r2, [*proof, proof[0]]),
        (m, n, _flip(r1), r2, proof),
        (m, n, r1, _flip(r2), proof),
        (m, n, r1, r2, []),
        (n, m, r2, r1, proof),
        (m, n, r2, r2, proof),
    ]:
        # Random cases: a malformed proof is a ValidationError, a well-formed one
        # that does not verify is a CryptoError; both refuse, neither is a crash.
        with pytest.raises((CryptoError, ValidationError)):
            verify_consistency(*args)


def test_degenerate_consistency_cases() -> None:
    r = LOG64.root(5)
    verify_consistency(5, 5, r, r, ())
    verify_consistency(0, 5, EMPTY_ROOT, r, ())
    with pytest.raises(CryptoError):
        verify_consistency(5, 5, r, LOG64.root(6), ())
    with pytest.raises(CryptoError):
        verify_consistency(0, 5, EMPTY_ROOT, r, (r,))
    with pytest.raises(ValidationError):
        verify_inclusion(0, 1, leaf_hash(b"x"), [b"\x00" * 32] * 70, r)
    with pytest.raises(ValidationError):
        root_from_inclusion(3, 3, leaf_hash(b"x"), [])


def test_size_bounds_are_checked() -> None:
    with pytest.raises(ValidationError):
        LOG64.root(65)
    with pytest.raises(ValidationError):
        LOG64.inclusion_proof(64, 64)
    with pytest.raises(ValidationError):
        LOG64.consistency_proof(10, 9)


class DictStore:
    """Any mapping works: the log depends on the protocol only."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.reads = 0

    def get_node(self, level: int, index: int) -> bytes:
        self.reads += 1
        try:
            return self.nodes[level, index]
        except KeyError:
            raise NotFound("missing") from None

    def put_node(self, level: int, index: int, value: bytes) -> None:
        self.nodes[level, index] = value


def test_storage_agnostic_and_log_reads() -> None:
    store = DictStore()
    log = MerkleLog(store)
    n = 3000
    for x in DATA[:n]:
        log.append(x)
    assert log.root() == reference_root(DATA[:n])
    # Reopened over the same store at the same size: same root, same proofs.
    again = MerkleLog(store, size=n)
    assert again.root() == log.root()
    store.reads = 0
    again.inclusion_proof(1234)
    assert store.reads <= 2 * n.bit_length()  # O(log n) hash reads
    # Complete subtrees only: at most 2n nodes for n leaves.
    assert len(store.nodes) < 2 * n


def test_memory_store_refuses_rewrites_and_gaps() -> None:
    s = MemoryNodeStore()
    s.put_node(0, 0, b"a" * 32)
    s.put_node(0, 0, b"a" * 32)
    with pytest.raises(Conflict):
        s.put_node(0, 0, b"b" * 32)
    with pytest.raises(Conflict):
        s.put_node(0, 5, b"b" * 32)
    with pytest.raises(NotFound):
        s.get_node(3, 0)
    with pytest.raises(NotFound):
        s.get_node(0, -1)
