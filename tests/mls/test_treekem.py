"""TreeKEM: UpdatePath creation and processing (RFC 9420 7.4-7.6, 12.4.2)."""

from __future__ import annotations

import dataclasses

import pytest

from accord.errors import CryptoError, ValidationError
from accord.mls.structs.tree_nodes import HPKECiphertext, UpdatePath, UpdatePathNode
from accord.mls.suites import get_suite
from accord.mls.treekem import create_update_path, merge_update_path, process_update_path
from tests.mls.tree_sim import GroupSim

SUITE = get_suite(1)


def _group(n: int = 6) -> GroupSim:
    sim = GroupSim(SUITE)
    sim.commit(0, tuple(sim.add() for _ in range(n - 1)))
    return sim


@pytest.mark.parametrize("suite_id", [1, 2, 3, 5, 7])
def test_all_members_agree_across_suites(suite_id: int) -> None:
    sim = GroupSim(get_suite(suite_id))
    secrets = {sim.commit(0, tuple(sim.add() for _ in range(4)))}
    for committer in (3, 1, 4):
        secrets.add(sim.commit(committer))
    sim.remove(2)
    secrets.add(sim.commit(1))
    sim.check_keys()
    assert len(secrets) == 5


def test_new_members_are_excluded_from_encryption() -> None:
    sim = _group(4)
    added = (sim.add(), sim.add())
    ctx = sim.context(sim.epoch + 1)
    staged = sim.tree.copy()
    created = create_update_path(staged, 0, sim.sig[0], ctx, exclude=added)
    total = sum(len(n.encrypted_path_secret) for n in created.update_path.nodes)
    assert total == sum(
        len(sim.tree.resolution(s, added)) for _, s in sim.tree.filtered_direct_path(0)
    )
    for m in added:
        with pytest.raises(ValidationError):
            process_update_path(
                sim.tree.copy(), 0, created.update_path, m, sim.keys[m], ctx, exclude=added
            )


def _created(sim: GroupSim, committer: int = 1) -> tuple[UpdatePath, object]:
    ctx = sim.context(sim.epoch + 1)
    created = create_update_path(sim.tree.copy(), committer, sim.sig[committer], ctx)
    return created.update_path, ctx


def test_tampered_ciphertext_is_a_crypto_error_and_state_is_a_copy() -> None:
    sim = _group()
    path, ctx = _created(sim)
    node = path.nodes[-1]
    ct = node.encrypted_path_secret[0]
    bad_ct = HPKECiphertext(ct.kem_output, bytes([ct.ciphertext[0] ^ 1]) + ct.ciphertext[1:])
    bad = dataclasses.replace(
        path,
        nodes=path.nodes[:-1]
        + (UpdatePathNode(node.encryption_key, (bad_ct,) + node.encrypted_path_secret[1:]),),
    )
    before = sim.tree.to_bytes()
    receivers = [m for m in sim.members() if m != 1]
    failures = 0
    for m in receivers:
        try:
            process_update_path(sim.tree.copy(), 1, bad, m, sim.keys[m], ctx)  # type: ignore[arg-type]
        except CryptoError:
            failures += 1
    assert failures >= 1
    assert sim.tree.to_bytes() == before


def test_wrong_node_count_and_wrong_keys_are_rejected() -> None:
    sim = _group()
    path, ctx = _created(sim)
    with pytest.raises(ValidationError, match="filtered direct path"):
        merge_update_path(sim.tree.copy(), 1, dataclasses.replace(path, nodes=path.nodes[:-1]))
    # A public key that does not come from the path secret.
    _, pub = SUITE.generate_hpke_key_pair()
    n0 = path.nodes[-1]
    swapped = dataclasses.replace(
        path, nodes=path.nodes[:-1] + (UpdatePathNode(pub, n0.encrypted_path_secret),)
    )
    with pytest.raises(ValidationError):
        process_update_path(sim.tree.copy(), 1, swapped, 0, sim.keys[0], ctx)  # type: ignore[arg-type]


def test_reused_key_and_bad_leaf_are_rejected() -> None:
    sim = _group()
    path, ctx = _created(sim)
    old_key = sim.tree.leaf(2).encryption_key  # type: ignore[union-attr]
    n0 = path.nodes[0]
    reused = dataclasses.replace(
        path, nodes=(UpdatePathNode(old_key, n0.encrypted_path_secret),) + path.nodes[1:]
    )
    with pytest.raises(ValidationError, match="already in the tree"):
        merge_update_path(sim.tree.copy(), 1, reused)
    bad_source = dataclasses.replace(
        path, leaf_node=dataclasses.replace(path.leaf_node, leaf_node_source=2)
    )
    with pytest.raises(ValidationError, match="commit"):
        merge_update_path(sim.tree.copy(), 1, bad_source)
    bad_sig = dataclasses.replace(
        path, leaf_node=dataclasses.replace(path.leaf_node, signature=b"\x00" * 64)
    )
    with pytest.raises(ValidationError, match="signature"):
        process_update_path(sim.tree.copy(), 1, bad_sig, 0, sim.keys[0], ctx)  # type: ignore[arg-type]


def test_wrong_parent_hash_in_leaf_is_rejected() -> None:
    sim = _group()
    path, _ = _created(sim)
    leaf = dataclasses.replace(path.leaf_node, parent_hash=b"\x01" * 32)
    with pytest.raises(ValidationError) as e:
        merge_update_path(sim.tree.copy(), 1, dataclasses.replace(path, leaf_node=leaf))
    assert e.value.rule == "RFC 9420 7.9.2"


def test_single_member_commit() -> None:
    sim = GroupSim(SUITE)
    ctx = sim.context(1)
    created = create_update_path(sim.tree.copy(), 0, sim.sig[0], ctx)
    assert created.update_path.nodes == () and len(created.commit_secret) == SUITE.kdf_len


def test_secrets_are_not_in_reprs() -> None:
    sim = _group(3)
    ctx = sim.context(sim.epoch + 1)
    created = create_update_path(sim.tree.copy(), 0, sim.sig[0], ctx)
    text = repr(created) + repr(created.keys)
    for _, k in created.keys.items():
        assert k.hex() not in text and repr(k) not in text
    assert created.commit_secret.hex() not in text
