"""The group engine end to end (RFC 9420 11, 12, 15)."""

from __future__ import annotations

import importlib
import os

import pytest

from accord.errors import AccordError, ValidationError
from accord.mls import group as g
from accord.mls.codec import encode
from accord.mls.structs import (
    Add,
    Credential,
    Extension,
    ExternalSender,
    ExternalSenders,
    PreSharedKey,
    PreSharedKeyID,
    Remove,
)
from accord.mls.suites import get_suite
from tests.mls.group_sim import NOW, Group, identity, new_kp

ALL_SUITES = [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize("suite_id", ALL_SUITES)
def test_create_add_update_remove_messages(suite_id: int) -> None:
    grp = Group(suite_id)
    grp.add("alice", ["bob", "carol", "dave"])
    grp.check_agree()
    grp.send_all("alice", b"hello")
    grp.send_all("carol", b"hi alice")
    grp.commit("bob", force_path=True)  # an empty commit: bob's path update
    grp.check_agree()
    grp.send_all("dave", b"after update")
    grp.commit("carol", by_value=[Remove(grp.leaf("bob"))])
    assert "bob" not in grp.states
    grp.check_agree()
    grp.send_all("alice", b"without bob")


def test_update_proposal_by_reference_committed_by_another() -> None:
    grp = Group()
    grp.add("alice", ["bob", "carol"])
    msg, grp.states["bob"] = g.propose_update(grp.states["bob"])
    grp.deliver(msg, "bob")
    grp.commit("alice")  # proposals=None: every cached proposal
    grp.check_agree()
    grp.send_all("bob", b"bob with a new leaf")
    # bob's new leaf key works: a commit with a path encrypts to it
    grp.commit("carol", force_path=True)
    grp.check_agree()


def test_proposals_by_reference_and_value_mixed() -> None:
    grp = Group()
    grp.add("alice", ["bob", "carol"])
    kp = new_kp(1, "erin")
    msg, grp.states["bob"] = g.propose_add(grp.states["bob"], kp.key_package)
    grp.deliver(msg, "bob")
    ref = grp.states["alice"].proposals[0].ref
    res = grp.commit("alice", proposals=[ref], by_value=[Remove(grp.leaf("carol"))])
    grp.states["erin"] = g.join_from_welcome(res.welcome, kp, NOW)  # type: ignore[arg-type]
    assert "carol" not in grp.states
    grp.check_agree()
    grp.send_all("erin", b"joined by reference")


def test_welcome_without_inline_tree_needs_the_tree() -> None:
    grp = Group()
    kp = new_kp(1, "bob")
    res, st = g.commit(grp.states["alice"], now=NOW, by_value=[Add(kp.key_package)],
                       inline_tree=False)
    alice = g.merge_pending(st)
    with pytest.raises(ValidationError):
        g.join_from_welcome(res.welcome, kp, NOW)  # type: ignore[arg-type]
    bob = g.join_from_welcome(res.welcome, kp, NOW,  # type: ignore[arg-type]
                              ratchet_tree=alice.tree.to_bytes())
    assert g.epoch_authenticator(bob) == g.epoch_authenticator(alice)


def test_pending_commit_discard_and_competing_commit() -> None:
    grp = Group()
    grp.add("alice", ["bob"])
    mine, alice_pending = g.commit(grp.states["alice"], now=NOW, force_path=True)
    theirs, bob_pending = g.commit(grp.states["bob"], now=NOW, force_path=True)
    # the DS ordered bob's commit first: alice discards hers and processes bob's
    alice = g.discard_pending(alice_pending)
    _, alice = g.process(alice, theirs.commit, NOW)
    _, bob = g.process(bob_pending, theirs.commit, NOW)  # own commit back: merged
    assert g.epoch_authenticator(alice) == g.epoch_authenticator(bob)
    # alice's stale commit is refused by bob, whose state stays as it was
    with pytest.raises(AccordError):
        g.process(bob, mine.commit, NOW)


def test_encrypted_handshake_messages() -> None:
    grp = Group(encrypt_handshake=True)
    grp.add("alice", ["bob", "carol"])
    msg, grp.states["carol"] = g.propose_remove(grp.states["carol"], grp.leaf("bob"))
    grp.deliver(msg, "carol")
    grp.commit("alice")
    assert set(grp.states) == {"alice", "carol"}
    grp.check_agree()
    grp.send_all("carol", b"private handshakes")


def test_late_application_message_from_previous_epoch() -> None:
    grp = Group()
    grp.add("alice", ["bob", "carol"])
    late, grp.states["bob"] = g.protect(grp.states["bob"], b"sent before the commit")
    grp.commit("alice", force_path=True)
    out, _ = g.process(grp.states["carol"], late, NOW)
    assert out.application_data == b"sent before the commit"


def test_state_round_trip_continues_identically() -> None:
    grp = Group()
    grp.add("alice", ["bob", "carol"])
    msg, grp.states["bob"] = g.propose_update(grp.states["bob"])
    grp.deliver(msg, "bob")
    for name, st in list(grp.states.items()):
        restored = g.GroupState.from_bytes(st.to_bytes())
        assert restored.to_bytes() == st.to_bytes()
        grp.states[name] = restored
    grp.commit("carol")
    grp.check_agree()
    grp.send_all("bob", b"after restore")


def test_pending_state_round_trip() -> None:
    grp = Group()
    grp.add("alice", ["bob"])
    res, st = g.commit(grp.states["alice"], now=NOW, force_path=True)
    st = g.GroupState.from_bytes(st.to_bytes())
    alice = g.merge_pending(st)
    _, bob = g.process(grp.states["bob"], res.commit, NOW)
    assert g.epoch_authenticator(alice) == g.epoch_authenticator(bob)


def test_external_join_and_resync() -> None:
    grp = Group()
    grp.add("alice", ["bob"])
    info = g.group_info(grp.states["bob"])
    cred, priv = identity(1, "erin")
    commit_msg, erin = g.join_external(info, cred, priv, NOW)
    grp.deliver(commit_msg, None)
    grp.states["erin"] = erin
    grp.check_agree()
    grp.send_all("erin", b"joined externally")
    # resync: erin lost her state and rejoins, removing her old leaf
    old_leaf = erin.own_leaf
    info = g.group_info(grp.states["alice"])
    commit_msg, erin2 = g.join_external(info, cred, priv, NOW, remove_leaf=old_leaf)
    del grp.states["erin"]
    grp.deliver(commit_msg, None)
    grp.states["erin"] = erin2
    grp.check_agree()
    assert len(g.members(erin2)) == 3
    grp.send_all("erin", b"resynced")


def test_external_join_without_external_pub_fails() -> None:
    grp = Group()
    info = g.group_info(grp.states["alice"], with_external_pub=False)
    cred, priv = identity(1, "erin")
    with pytest.raises(ValidationError):
        g.join_external(info, cred, priv, NOW)


def test_external_psk_proposal_and_welcome_psk() -> None:
    grp = Group()
    grp.add("alice", ["bob"])
    psk_id, psk = b"shared-psk", os.urandom(32)
    for name in grp.states:
        grp.states[name] = g.add_external_psk(grp.states[name], psk_id, psk)
    msg, grp.states["bob"] = g.propose_psk(grp.states["bob"], psk_id)
    grp.deliver(msg, "bob")
    kp = new_kp(1, "carol")
    res = grp.commit("alice", by_value=[Add(kp.key_package)])
    with pytest.raises(ValidationError):
        g.join_from_welcome(res.welcome, kp, NOW)  # type: ignore[arg-type]
    grp.states["carol"] = g.join_from_welcome(res.welcome, kp, NOW,  # type: ignore[arg-type]
                                              external_psks={psk_id: psk})
    grp.check_agree()


def test_missing_external_psk_rejects_commit_state_unchanged() -> None:
    grp = Group()
    grp.add("alice", ["bob"])
    psk = PreSharedKeyID.external(b"only-alice", os.urandom(32))
    alice = g.add_external_psk(grp.states["alice"], b"only-alice", b"k" * 32)
    res, _ = g.commit(alice, now=NOW, by_value=[PreSharedKey(psk)])
    bob = grp.states["bob"]
    before = bob.to_bytes()
    with pytest.raises(ValidationError):
        g.process(bob, res.commit, NOW)
    assert bob.to_bytes() == before


def test_resumption_psk_proposal() -> None:
    grp = Group()
    grp.add("alice", ["bob"])
    epoch = grp.states["alice"].epoch
    grp.commit("bob", force_path=True)
    msg, grp.states["alice"] = g.propose_psk(grp.states["alice"], epoch=epoch)
    grp.deliver(msg, "alice")
    grp.commit("bob")
    grp.check_agree()


def test_group_context_extensions_and_external_sender_proposal() -> None:
    grp = Group()
    grp.add("alice", ["bob"])
    ext_cred, ext_priv = identity(1, "moderator")
    ext_pub = get_suite(1).signature_public_key(ext_priv)
    senders = encode(ExternalSenders, (ExternalSender(ext_pub, ext_cred),))
    msg, grp.states["alice"] = g.propose_group_context_extensions(
        grp.states["alice"], (Extension(5, senders),))
    grp.deliver(msg, "alice")
    grp.commit("bob")
    grp.check_agree()
    # the external sender proposes to remove alice; bob commits it
    prop = g.external_proposal(grp.states["bob"].context, Remove(grp.leaf("alice")), 0, ext_priv)
    grp.deliver(prop, None)
    grp.commit("bob")
    assert set(grp.states) == {"bob"}


def test_new_member_add_proposal() -> None:
    grp = Group()
    grp.add("alice", ["bob"])
    kp = new_kp(1, "carol")
    prop = g.new_member_add_proposal(grp.states["alice"].context, kp)
    grp.deliver(prop, None)
    res = grp.commit("bob")
    grp.states["carol"] = g.join_from_welcome(res.welcome, kp, NOW)  # type: ignore[arg-type]
    grp.check_agree()


def test_reinit_to_another_suite() -> None:
    grp = Group()
    grp.add("alice", ["bob"])
    msg, grp.states["bob"] = g.propose_reinit(grp.states["bob"], b"group-v2", 3)
    grp.deliver(msg, "bob")
    grp.commit("alice")
    old_alice, old_bob = grp.states["alice"], grp.states["bob"]
    with pytest.raises(ValidationError):
        g.protect(old_alice, b"old group is closed")
    bob_kp = g.key_package(get_suite(3), old_bob.own_leaf_node.credential,
                           old_bob.signature_priv, NOW)
    res, st = g.reinit(old_alice, [bob_kp.key_package], NOW)
    alice2 = g.merge_pending(st)
    bob2 = g.join_from_welcome(res.welcome, bob_kp, NOW,  # type: ignore[arg-type]
                               resumption_from=[old_bob])
    assert alice2.context.cipher_suite == 3 and alice2.epoch == 1
    assert g.epoch_authenticator(alice2) == g.epoch_authenticator(bob2)
    with pytest.raises(ValidationError):
        g.join_from_welcome(res.welcome, bob_kp, NOW)  # type: ignore[arg-type]


def test_branch_subgroup() -> None:
    grp = Group()
    grp.add("alice", ["bob", "carol"])
    bob = grp.states["bob"]
    bob_kp = g.key_package(get_suite(1), bob.own_leaf_node.credential, bob.signature_priv, NOW)
    res, st = g.branch(grp.states["alice"], b"side-chat", [bob_kp.key_package], NOW)
    alice2 = g.merge_pending(st)
    bob2 = g.join_from_welcome(res.welcome, bob_kp, NOW, resumption_from=[bob])  # type: ignore[arg-type]
    assert g.epoch_authenticator(alice2) == g.epoch_authenticator(bob2)
    stranger = new_kp(1, "mallory")
    res2, _ = g.branch(grp.states["alice"], b"side-2", [stranger.key_package], NOW)
    with pytest.raises(ValidationError):
        g.join_from_welcome(res2.welcome, stranger, NOW,  # type: ignore[arg-type]
                            resumption_from=[bob])


def test_exporter_and_authenticator_agree() -> None:
    grp = Group()
    grp.add("alice", ["bob"])
    a = g.export_secret(grp.states["alice"], "accord posting key", b"ctx", 32)
    b = g.export_secret(grp.states["bob"], "accord posting key", b"ctx", 32)
    assert a == b and len(a) == 32


def test_list_validation_rules() -> None:
    grp = Group()
    grp.add("alice", ["bob", "carol"])
    alice = grp.states["alice"]
    with pytest.raises(ValidationError, match="12.2"):
        g.commit(alice, now=NOW, by_value=[Remove(alice.own_leaf)])
    with pytest.raises(ValidationError, match="12.2"):
        g.commit(alice, now=NOW, by_value=[Remove(grp.leaf("bob")), Remove(grp.leaf("bob"))])
    kp = new_kp(1, "dave")
    with pytest.raises(ValidationError, match="12.2"):
        g.commit(alice, now=NOW, by_value=[Add(kp.key_package), Add(kp.key_package)])
    with pytest.raises(ValidationError, match="12.1.3"):
        g.commit(alice, now=NOW, by_value=[Remove(17)])


def test_removed_member_cannot_read_later_messages() -> None:
    grp = Group()
    grp.add("alice", ["bob", "carol"])
    bob = grp.states["bob"]
    res = grp.commit("alice", by_value=[Remove(grp.leaf("bob"))])
    _, bob = g.process(bob, res.commit, NOW)
    assert bob.removed
    msg, grp.states["alice"] = g.protect(grp.states["alice"], b"secret after removal")
    with pytest.raises(AccordError):
        g.process(bob, msg, NOW)


def _forge_commit(monkeypatch: pytest.MonkeyPatch, state: g.GroupState, **kw: object) -> bytes:
    """A commit made with the committer's own 12.2 checks switched off."""
    commit_mod = importlib.import_module("accord.mls.group.commit")
    monkeypatch.setattr(commit_mod, "check_member_list", lambda *a, **k: None)
    res, _ = g.commit(state, now=NOW, **kw)  # type: ignore[arg-type]
    monkeypatch.undo()
    return res.commit.to_bytes()  # type: ignore[attr-defined, no-any-return]


def test_receiver_rejects_invalid_lists_state_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    grp = Group()
    grp.add("alice", ["bob", "carol"])
    alice, carol = grp.states["alice"], grp.states["carol"]
    before = carol.to_bytes()
    kp = new_kp(1, "dave").key_package
    forged = [
        _forge_commit(monkeypatch, alice, by_value=[Add(kp), Add(kp)]),
        _forge_commit(monkeypatch, alice, by_value=[Add(g.key_package(
            get_suite(1), Credential.basic(b"bob"), grp.states["bob"].signature_priv, NOW
        ).key_package)]),
    ]
    for data in forged:
        with pytest.raises(ValidationError, match="12.2"):
            g.process(carol, data, NOW)
    assert carol.to_bytes() == before


def test_receiver_rejects_missing_path_and_unknown_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    commit_mod = importlib.import_module("accord.mls.group.commit")
    grp = Group()
    grp.add("alice", ["bob", "carol"])
    alice, carol = grp.states["alice"], grp.states["carol"]
    real = commit_mod._maybe_path
    monkeypatch.setattr(commit_mod, "_maybe_path",
                        lambda state, draft, needed, leaf: real(state, draft, False, leaf))
    res, _ = g.commit(alice, now=NOW, by_value=[Remove(grp.leaf("bob"))])
    monkeypatch.undo()
    with pytest.raises(ValidationError, match="12.4"):
        g.process(carol, res.commit, NOW)
    # a reference to a proposal carol never saw
    msg, alice2 = g.propose_remove(alice, grp.leaf("bob"))
    res, _ = g.commit(alice2, now=NOW)
    with pytest.raises(ValidationError, match="unknown proposal"):
        g.process(carol, res.commit, NOW)


def test_update_after_many_epochs_and_removals_shrinks_tree() -> None:
    grp = Group()
    grp.add("alice", [f"m{i}" for i in range(7)])
    for i in range(3, 7):
        grp.commit("alice", by_value=[Remove(grp.leaf(f"m{i}"))])
    grp.check_agree()
    assert grp.states["alice"].tree.n_leaves == 4
    grp.commit("m2", force_path=True)
    grp.check_agree()
    grp.send_all("m1", b"still here")


def test_reinit_to_a_suite_with_another_signature_scheme() -> None:
    grp = Group()
    grp.add("alice", ["bob"])
    msg, grp.states["alice"] = g.propose_reinit(grp.states["alice"], b"group-p256", 2)
    grp.deliver(msg, "alice")
    grp.commit("bob")
    old_alice, old_bob = grp.states["alice"], grp.states["bob"]
    p256 = get_suite(2)
    kps = {
        name: g.key_package(p256, st.own_leaf_node.credential,
                            p256.generate_signature_key_pair()[0], NOW)
        for name, st in (("alice", old_alice), ("bob", old_bob))
    }
    res, st = g.reinit(old_alice, [kps["bob"].key_package], NOW, own=kps["alice"])
    alice2 = g.merge_pending(st)
    bob2 = g.join_from_welcome(res.welcome, kps["bob"], NOW,  # type: ignore[arg-type]
                               resumption_from=[old_bob])
    assert bob2.context.cipher_suite == 2
    assert g.epoch_authenticator(alice2) == g.epoch_authenticator(bob2)
    msg, alice2 = g.protect(alice2, b"on P-256 now")
    out, _ = g.process(bob2, msg, NOW)
    assert out.application_data == b"on P-256 now"


def test_late_messages_from_members_the_commit_removed_or_replaced() -> None:
    grp = Group(max_past_epochs=2)
    grp.add("alice", ["bob", "carol", "dave"])
    from_bob, grp.states["bob"] = g.protect(grp.states["bob"], b"bob, before removal")
    from_dave, grp.states["dave"] = g.protect(grp.states["dave"], b"dave, before his commit")
    grp.commit("alice", by_value=[Remove(grp.leaf("bob"))])
    grp.commit("dave", force_path=True)  # dave's leaf is replaced
    carol = g.GroupState.from_bytes(grp.states["carol"].to_bytes(), grp.config)
    out, carol = g.process(carol, from_bob, NOW)
    assert out.application_data == b"bob, before removal"
    out, carol = g.process(carol, from_dave, NOW)
    assert out.application_data == b"dave, before his commit"
    with pytest.raises(AccordError):  # each key is used once
        g.process(carol, from_dave, NOW)


def test_own_private_proposal_coming_back_is_recognised() -> None:
    grp = Group(encrypt_handshake=True)
    grp.add("alice", ["bob"])
    msg, alice = g.propose_update(grp.states["alice"])
    out, same = g.process(alice, msg, NOW)
    assert same is alice and out.proposal_ref == alice.proposals[0].ref
    restored = g.GroupState.from_bytes(alice.to_bytes(), grp.config)
    out, _ = g.process(restored, msg.to_bytes(), NOW)  # type: ignore[attr-defined]
    assert out.proposal_ref == alice.proposals[0].ref


def test_external_join_with_a_psk() -> None:
    grp = Group()
    grp.add("alice", ["bob"])
    psk_id, psk = b"join-psk", os.urandom(32)
    for name in grp.states:
        grp.states[name] = g.add_external_psk(grp.states[name], psk_id, psk)
    cred, priv = identity(1, "erin")
    info = g.group_info(grp.states["alice"])
    commit_msg, erin = g.join_external(info, cred, priv, NOW, psks={psk_id: psk})
    grp.deliver(commit_msg, None)
    grp.states["erin"] = erin
    grp.check_agree()
    # without the PSK, the members cannot follow the commit
    info = g.group_info(grp.states["alice"])
    commit_msg, _ = g.join_external(info, *identity(1, "frank"), NOW, psks={b"unknown": psk})
    with pytest.raises(ValidationError, match="PSK"):
        g.process(grp.states["bob"], commit_msg, NOW)


@pytest.mark.parametrize("force_path", [False, True])
def test_branch_with_extensions_and_external_tree(force_path: bool) -> None:
    grp = Group()
    grp.add("alice", ["bob", "carol"])
    kps = {n: g.key_package(get_suite(1), grp.states[n].own_leaf_node.credential,
                            grp.states[n].signature_priv, NOW) for n in ("bob", "carol")}
    exts = (Extension(3, b"\x00\x00\x00"), Extension(5, b"\x00"))
    res, st = g.branch(grp.states["alice"], b"branch", [k.key_package for k in kps.values()],
                       NOW, extensions=exts, inline_tree=False, force_path=force_path)
    alice = g.merge_pending(st)
    for name, kp in kps.items():
        joined = g.join_from_welcome(res.welcome, kp, NOW,  # type: ignore[arg-type]
                                     ratchet_tree=alice.tree.to_bytes(),
                                     resumption_from=[grp.states[name]])
        assert g.epoch_authenticator(joined) == g.epoch_authenticator(alice)
        assert joined.context.extensions == exts


def test_reinit_welcomed_by_a_member_other_than_the_committer() -> None:
    grp = Group()
    grp.add("alice", ["bob", "carol"])
    msg, grp.states["alice"] = g.propose_reinit(grp.states["alice"], b"v2", 1,
                                                (Extension(3, b"\x00\x00\x00"),))
    grp.deliver(msg, "alice")
    grp.commit("bob")
    olds = dict(grp.states)
    kps = {n: g.key_package(get_suite(1), s.own_leaf_node.credential, s.signature_priv, NOW)
           for n, s in olds.items() if n != "carol"}
    res, st = g.reinit(olds["carol"], [k.key_package for k in kps.values()], NOW)
    carol = g.merge_pending(st)
    for name, kp in kps.items():
        joined = g.join_from_welcome(res.welcome, kp, NOW,  # type: ignore[arg-type]
                                     resumption_from=[olds[name]])
        assert g.epoch_authenticator(joined) == g.epoch_authenticator(carol)


def test_required_capabilities_apply_to_adds_in_the_same_commit() -> None:
    from accord.mls.leaf_node import make_capabilities
    from accord.mls.structs import GroupContextExtensions, RequiredCapabilities

    suite = get_suite(1)
    caps = make_capabilities(1, extensions=[0xFF00])

    def capable(name: str) -> g.KeyPackagePrivate:
        cred, priv = identity(1, name)
        return g.key_package(suite, cred, priv, NOW, capabilities=caps)

    alice_kp = capable("alice")
    alice = g.create_group(suite, b"caps", alice_kp.key_package.leaf_node.credential,
                           alice_kp.signature_priv, NOW, key_package=alice_kp)
    required = RequiredCapabilities((0xFF00,), (), ()).to_bytes()
    change = GroupContextExtensions((Extension(3, required),))
    with pytest.raises(ValidationError, match="7.3"):
        g.commit(alice, now=NOW, by_value=[change, Add(new_kp(1, "plain").key_package)])
    res, st = g.commit(alice, now=NOW, by_value=[change, Add(capable("bob").key_package)])
    assert g.merge_pending(st).context.extensions == (Extension(3, required),)


def test_external_resync_must_remove_the_same_client() -> None:
    grp = Group()
    grp.add("alice", ["bob"])
    info = g.group_info(grp.states["alice"])
    cred, priv = identity(1, "mallory")
    commit_msg, _ = g.join_external(info, cred, priv, NOW, remove_leaf=grp.leaf("bob"))
    with pytest.raises(ValidationError, match="another client"):
        g.process(grp.states["alice"], commit_msg, NOW)


def test_commit_of_all_cached_proposals_skips_conflicting_ones() -> None:
    grp = Group()
    grp.add("alice", ["bob", "carol", "dave"])
    kp = new_kp(1, "erin")
    for name in ("bob", "carol"):  # both propose erin, and both remove dave
        msg, grp.states[name] = g.propose_add(grp.states[name], kp.key_package)
        grp.deliver(msg, name)
        msg, grp.states[name] = g.propose_remove(grp.states[name], grp.leaf("dave"))
        grp.deliver(msg, name)
    msg, grp.states["dave"] = g.propose_update(grp.states["dave"])
    grp.deliver(msg, "dave")
    res = grp.commit("alice")
    assert "dave" not in grp.states
    grp.states["erin"] = g.join_from_welcome(res.welcome, kp, NOW)  # type: ignore[arg-type]
    grp.check_agree()
    assert len(g.members(grp.states["alice"])) == 4


def test_single_proposal_rules() -> None:
    """12.1: proposals invalid on their own are refused when received."""
    from accord.mls.framing import protect_public
    from accord.mls.structs import FramedContent, MLSMessage, ReInit, Sender, Update

    grp = Group()
    grp.add("alice", ["bob"])
    alice, bob = grp.states["alice"], grp.states["bob"]

    def send(body: object, sender: Sender | None = None, priv: bytes | None = None) -> bytes:
        content = FramedContent(alice.group_id, alice.epoch, sender or Sender.member(alice.own_leaf),
                                b"", body)
        msg = protect_public(alice.suite, content, priv or alice.signature_priv, alice.context,
                             alice.secrets.membership_key)
        return MLSMessage.wrap(msg).to_bytes()  # type: ignore[attr-defined, no-any-return]

    suite = alice.suite
    bad_psk = PreSharedKey(PreSharedKeyID.resumption(2, alice.group_id, alice.epoch,
                                                     os.urandom(32)))
    short_nonce = PreSharedKey(PreSharedKeyID.external(b"x", b"short"))
    old_version = ReInit(b"g", 0, 1, ())
    same_key_update = Update(alice.own_leaf_node)
    for body, rule in ((bad_psk, "12.1.4"), (short_nonce, "8.4"), (old_version, "12.1.5"),
                       (same_key_update, "7.3"), (Remove(9), "12.1.3")):
        with pytest.raises(ValidationError, match=rule):
            g.process(bob, send(body), NOW)
    # an external sender may not send an Update; none is configured anyway
    ext_priv = suite.generate_signature_key_pair()[0]
    with pytest.raises(ValidationError):
        g.process(bob, send(Remove(0), Sender(2, 0), ext_priv), NOW)


def test_second_commit_while_one_is_pending_is_refused() -> None:
    from accord.errors import Conflict

    grp = Group()
    _, pending = g.commit(grp.states["alice"], now=NOW, force_path=True)
    with pytest.raises(Conflict):
        g.commit(pending, now=NOW, force_path=True)
    g.commit(g.discard_pending(pending), now=NOW, force_path=True)
