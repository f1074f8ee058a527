"""draft-ietf-mls-extensions in the group engine: the app_data_dictionary GroupContext
extension updated by AppDataUpdate proposals (4.6, 4.7), and SelfRemove (5.3),
across several members, with the invalid cases rejected by committer and receivers."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import pytest

from accord.errors import AccordError, ValidationError
from accord.mls import group as g
from accord.mls.codec import encode
from accord.mls.components import ComponentUpdate
from accord.mls.framing import sign_content, with_confirmation_tag
from accord.mls.framing_public import public_message_from
from accord.mls.group.proposals import check_proposal
from accord.mls.leaf_node import make_capabilities
from accord.mls.structs import (
    Add,
    AppDataUpdate,
    Commit,
    Extension,
    ExternalSender,
    ExternalSenders,
    FramedContent,
    GroupContextExtensions,
    MLSMessage,
    PublicMessage,
    Remove,
    RequiredCapabilities,
    SelfRemove,
    Sender,
)
from accord.mls.structs.app_data import AppDataDictionary
from accord.mls.structs.enums import ExtensionType, ProposalType, WireFormat
from accord.mls.suites import get_suite
from tests.mls.group_sim import NOW, identity

LOG = 0x8001  # a private-use component id (draft-ietf-mls-extensions, IANA)
OTHER = 0x8002
EXTS = (ExtensionType.APP_DATA_DICTIONARY,)
PROPS = (ProposalType.APP_DATA_UPDATE, ProposalType.SELF_REMOVE)


class Log:
    """A test component: appends "proposer:update;" per update; refuses b"bad"."""

    def __init__(self, component_id: int) -> None:
        self.component_id = component_id

    def apply(self, current: bytes | None, updates: Sequence[ComponentUpdate],
              before: AppDataDictionary) -> bytes:
        assert before.get(self.component_id) == current
        out = current or b""
        for u in updates:
            if u.data == b"bad":
                raise ValidationError("the log refuses this update", "test component")
            who = u.credential.identity if u.credential is not None else b"?"
            out += who + b":" + u.data + b";"
        return out


CONFIG = g.GroupConfig(components={LOG: Log(LOG), OTHER: Log(OTHER)})


def kp(name: str, props: Sequence[int] = PROPS, exts: Sequence[int] = EXTS) -> g.KeyPackagePrivate:
    cred, priv = identity(1, name)
    caps = make_capabilities(1, extensions=exts, proposals=props)
    return g.key_package(get_suite(1), cred, priv, NOW, capabilities=caps)


class Room:
    """Members by name; commits are merged by the committer and processed by the rest."""

    def __init__(self, names: Sequence[str], *, unsupported: Sequence[str] = (),
                 no_dictionary: Sequence[str] = (),
                 extensions: tuple[Extension, ...] = ()) -> None:
        first = kp(names[0])
        cred = first.key_package.leaf_node.credential
        self.states = {names[0]: g.create_group(get_suite(1), b"room", cred, first.signature_priv,
                                                NOW, key_package=first, config=CONFIG,
                                                extensions=extensions)}
        kps = {n: kp(n, () if n in unsupported else PROPS, () if n in no_dictionary else EXTS)
               for n in names[1:]}
        res = self.commit(names[0], by_value=[Add(k.key_package) for k in kps.values()])
        for n, k in kps.items():
            self.states[n] = g.join_from_welcome(res.welcome, k, NOW, config=CONFIG)  # type: ignore[arg-type]

    def commit(self, who: str, **kw: object) -> g.CommitResult:
        res, st = g.commit(self.states[who], now=NOW, **kw)  # type: ignore[arg-type]
        self.states[who] = g.merge_pending(st)
        for name in [n for n in self.states if n != who]:
            out, self.states[name] = g.process(self.states[name], res.commit, NOW)
            if out.removed_self:
                del self.states[name]
        return res

    def propose(self, who: str, fn: object, *args: object) -> bytes:
        msg, self.states[who] = fn(self.states[who], *args)  # type: ignore[operator]
        for name in [n for n in self.states if n != who]:
            out, self.states[name] = g.process(self.states[name], msg, NOW)
        return out.proposal_ref  # type: ignore[no-any-return]

    def agree(self) -> bytes:
        assert len({g.epoch_authenticator(s) for s in self.states.values()}) == 1
        assert len({s.context.to_bytes() for s in self.states.values()}) == 1
        return next(iter(self.states.values())).context.to_bytes()

    def log(self, name: str = "alice") -> bytes | None:
        return g.app_data(self.states[name]).get(LOG)


def test_app_data_updates_by_reference_and_value_agree_without_a_path() -> None:
    room = Room(["alice", "bob", "carol", "dave"])
    ref1 = room.propose("bob", g.propose_app_data_update, LOG, b"one")
    ref2 = room.propose("carol", g.propose_app_data_update, LOG, b"two")
    res = room.commit("dave", proposals=[ref1, ref2], by_value=[AppDataUpdate.of(LOG, b"3")])
    assert isinstance(res.commit.message, PublicMessage)
    body = res.commit.message.content.content
    assert isinstance(body, Commit) and body.path is None  # 4.7: no UpdatePath needed
    room.agree()
    assert room.log("carol") == b"bob:one;carol:two;dave:3;"
    assert [e.extension_type for e in room.states["bob"].context.extensions][-1] == 6
    # a later joiner gets the dictionary with the GroupContext (4.6)
    erin = kp("erin")
    res = room.commit("alice", by_value=[Add(erin.key_package)])
    room.states["erin"] = g.join_from_welcome(res.welcome, erin, NOW, config=CONFIG)  # type: ignore[arg-type]
    room.agree()
    assert room.log("erin") == b"bob:one;carol:two;dave:3;"
    # then remove the component's state
    room.commit("erin", by_value=[AppDataUpdate.removing(LOG)])
    room.agree()
    assert room.log("bob") is None


def test_unknown_component_is_refused_by_sender_committer_and_receiver() -> None:
    room = Room(["alice", "bob", "carol"])
    with pytest.raises(ValidationError, match="unknown to the application"):
        g.propose_app_data_update(room.states["bob"], 0x8003, b"x")
    with pytest.raises(ValidationError, match="unknown to the application"):
        g.commit(room.states["bob"], now=NOW, by_value=[AppDataUpdate.of(0x8003, b"x")])
    # carol's application does not know OTHER: alice's commit is invalid for her
    carol = g.GroupState.from_bytes(room.states["carol"].to_bytes(),
                                    g.GroupConfig(components={LOG: Log(LOG)}))
    res, _ = g.commit(room.states["alice"], now=NOW, by_value=[AppDataUpdate.of(OTHER, b"x")])
    with pytest.raises(ValidationError, match="4.7"):
        g.process(carol, res.commit, NOW)


def test_app_data_update_list_rules() -> None:
    room = Room(["alice", "bob", "carol"])
    alice = room.states["alice"]
    with pytest.raises(ValidationError, match="has no state"):
        g.commit(alice, now=NOW, by_value=[AppDataUpdate.removing(LOG)])
    room.commit("alice", by_value=[AppDataUpdate.of(LOG, b"x")])
    alice = room.states["alice"]
    for bad in ([AppDataUpdate.removing(LOG), AppDataUpdate.of(LOG, b"y")],
                [AppDataUpdate.removing(LOG), AppDataUpdate.removing(LOG)]):
        with pytest.raises(ValidationError, match="a remove together"):
            g.commit(alice, now=NOW, by_value=bad)
    with pytest.raises(ValidationError, match="the log refuses"):
        g.commit(alice, now=NOW, by_value=[AppDataUpdate.of(LOG, b"bad")])
    room.commit("bob", by_value=[AppDataUpdate.of(OTHER, b"o"), AppDataUpdate.of(LOG, b"y")])
    room.agree()
    ids = [c.component_id for c in g.app_data(room.states["carol"]).component_data]
    assert ids == [LOG, OTHER]  # kept sorted (4.6)


def _forged(monkeypatch: pytest.MonkeyPatch, state: g.GroupState, names: Sequence[str],
            **kw: object) -> bytes:
    """A commit made with the named checks of the committer switched off."""
    for mod_name, fn in names:
        mod = importlib.import_module(mod_name)
        monkeypatch.setattr(mod, fn, lambda *a, **k: None)
    try:
        res, _ = g.commit(state, now=NOW, **kw)  # type: ignore[arg-type]
    finally:
        monkeypatch.undo()
    return res.commit.to_bytes()  # type: ignore[attr-defined, no-any-return]


def _signed_commit(state: g.GroupState, body: Commit) -> MLSMessage:
    """``body`` as a commit signed and membership-tagged by ``state``'s member (its
    confirmation tag is never reached by the checks under test)."""
    content = FramedContent(state.group_id, state.epoch, Sender.member(state.own_leaf), b"",
                            body)
    auth = sign_content(state.suite, WireFormat.PUBLIC_MESSAGE, content, state.signature_priv,
                        state.context)
    auth = with_confirmation_tag(auth, bytes(state.suite.kdf_len))
    return MLSMessage.wrap(public_message_from(state.suite, auth, state.context,
                                               state.secrets.membership_key))


def test_receivers_refuse_invalid_app_data_lists_state_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    room = Room(["alice", "bob", "carol"])
    room.commit("alice", by_value=[AppDataUpdate.of(LOG, b"x")])
    commit_mod = "accord.mls.group.commit"
    forged = _forged(monkeypatch, room.states["alice"], [(commit_mod, "check_member_list")],
                     by_value=[AppDataUpdate.of(LOG, b"a"), AppDataUpdate.removing(LOG)])
    bob = room.states["bob"]
    before = bob.to_bytes()
    with pytest.raises(ValidationError, match="4.7"):
        g.process(bob, forged, NOW)
    assert bob.to_bytes() == before


def test_proposals_the_component_refuses_are_refused_on_receipt() -> None:
    room = Room(["alice", "bob", "carol"])
    with pytest.raises(ValidationError, match="has no state"):
        g.propose_app_data_update(room.states["bob"], LOG, None)
    with pytest.raises(ValidationError, match="the log refuses"):
        g.propose_app_data_update(room.states["bob"], LOG, b"bad")
    # bob's application would send it; alice's refuses it and never caches it
    lax = g.GroupState.from_bytes(room.states["bob"].to_bytes(), g.GroupConfig(
        components={LOG: Accepting()}))
    msg, _ = g.propose_app_data_update(lax, LOG, b"bad")
    with pytest.raises(ValidationError, match="the log refuses"):
        g.process(room.states["alice"], msg, NOW)
    assert room.states["alice"].proposals == ()


class Accepting:
    def apply(self, current: bytes | None, updates: Sequence[ComponentUpdate],
              before: AppDataDictionary) -> bytes:
        return b"".join(u.data for u in updates)


def test_app_data_update_from_a_non_member_is_refused() -> None:
    room = Room(["alice", "bob", "carol"])
    room.commit("alice", by_value=[Remove(room.states["carol"].own_leaf)])
    # mallory signs a proposal as the leaf carol left blank, with her own key
    _, mallory_priv = identity(1, "mallory")
    mallory = room.states["bob"].replace(own_leaf=2, signature_priv=mallory_priv, proposals=())
    msg, _ = g.propose(mallory, AppDataUpdate.of(LOG, b"evil"))
    with pytest.raises(ValidationError, match="blank"):
        g.process(room.states["alice"], msg, NOW)
    # ... or as bob's leaf: the signature is not bob's
    mallory = mallory.replace(own_leaf=room.states["bob"].own_leaf)
    msg, _ = g.propose(mallory, AppDataUpdate.of(LOG, b"evil"))
    with pytest.raises(AccordError):
        g.process(room.states["alice"], msg, NOW)
    # a would-be member may only propose Add (RFC 9420 12.1.8)
    with pytest.raises(ValidationError, match="12.1.8"):
        check_proposal(room.states["alice"], AppDataUpdate.of(LOG, b"x"),
                         Sender(3, None), NOW)


def test_self_remove_committed_by_another_member() -> None:
    room = Room(["alice", "bob", "carol", "dave"])
    bob_leaf = room.states["bob"].own_leaf
    ref = room.propose("bob", g.propose_self_remove)
    bob = room.states.pop("bob")
    res = room.commit("carol")  # every cached proposal: bob's SelfRemove
    body = res.commit.message.content.content  # type: ignore[union-attr]
    assert body.proposals == (ref,) and body.path is not None  # by reference, path required
    room.agree()
    assert all(s.tree.leaf(bob_leaf) is None for s in room.states.values())
    out, bob = g.process(bob, res.commit, NOW)
    assert out.removed_self and bob.removed and out.removed_leaves == (bob_leaf,)
    room.commit("dave", by_value=[AppDataUpdate.of(LOG, b"after")])
    room.agree()


def test_self_remove_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    room = Room(["alice", "bob", "carol"])
    ref = room.propose("bob", g.propose_self_remove)
    # one SelfRemove per member and epoch (5.3)
    with pytest.raises(ValidationError, match="already sent"):
        g.propose_self_remove(room.states["bob"])
    # the leaver cannot commit its own SelfRemove
    with pytest.raises(ValidationError, match="committer's own SelfRemove"):
        g.commit(room.states["bob"], now=NOW, proposals=[ref])
    with pytest.raises(ValidationError, match="committer's own SelfRemove"):
        g.process(room.states["alice"], _signed_commit(room.states["bob"], Commit((ref,), None)),
                  NOW)
    # by reference only
    with pytest.raises(ValidationError, match="by reference only"):
        g.commit(room.states["alice"], now=NOW, by_value=[SelfRemove()])
    with pytest.raises(ValidationError, match="by reference only"):
        g.process(room.states["carol"], _signed_commit(room.states["alice"], Commit(
            (SelfRemove(),), None)), NOW)
    # a Remove of the same leaf is invalid beside it; committing everything drops it
    bob_leaf = room.states["bob"].own_leaf
    with pytest.raises(ValidationError, match="12.2"):
        g.commit(room.states["alice"], now=NOW, proposals=[ref], by_value=[Remove(bob_leaf)])
    remove_ref = room.propose("carol", g.propose_remove, bob_leaf)
    res, _ = g.commit(room.states["alice"], now=NOW)
    assert res.commit.message.content.content.proposals == (ref,)  # type: ignore[union-attr]
    assert remove_ref != ref


def test_received_self_remove_must_be_public_and_once_per_epoch() -> None:
    room = Room(["alice", "bob", "carol"])
    bob = room.states["bob"]
    private, _ = g.propose(bob, SelfRemove(), wire_format=WireFormat.PRIVATE_MESSAGE)
    with pytest.raises(ValidationError, match="PublicMessage"):
        g.process(room.states["alice"], private, NOW)
    first, bob1 = g.propose_self_remove(bob)
    second, _ = g.propose(bob1, SelfRemove(), b"again")
    _, alice = g.process(room.states["alice"], first, NOW)
    with pytest.raises(ValidationError, match="second SelfRemove"):
        g.process(alice, second, NOW)
    # an external sender may not send one (5.3: External N)
    with pytest.raises(ValidationError, match="12.1.8"):
        check_proposal(alice, SelfRemove(), Sender(2, 0), NOW)


def test_a_member_without_support_blocks_the_new_proposal_types() -> None:
    room = Room(["alice", "bob", "carol"], unsupported=["carol"])
    with pytest.raises(ValidationError, match="12.2"):
        g.commit(room.states["alice"], now=NOW, by_value=[AppDataUpdate.of(LOG, b"x")])
    ref = room.propose("bob", g.propose_self_remove)
    with pytest.raises(ValidationError, match="12.2"):
        g.commit(room.states["alice"], now=NOW, proposals=[ref])
    # a member the commit removes need not support it (12.2)
    carol = room.states["carol"].own_leaf
    room.commit("alice", proposals=[ref], by_value=[Remove(carol),
                                                     AppDataUpdate.of(LOG, b"x")])
    room.agree()
    assert set(room.states) == {"alice"}


def test_a_new_dictionary_needs_every_members_support() -> None:
    room = Room(["alice", "bob", "carol"], no_dictionary=["carol"])
    with pytest.raises(ValidationError, match="does not support group context extension"):
        g.commit(room.states["alice"], now=NOW, by_value=[AppDataUpdate.of(LOG, b"x")])


def test_a_member_without_support_rejects_a_forged_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    room = Room(["alice", "bob", "carol"], unsupported=["carol"])
    forged = _forged(monkeypatch, room.states["alice"],
                     [("accord.mls.group.proposals", "check_app_list")],
                     by_value=[AppDataUpdate.of(LOG, b"x")])
    with pytest.raises(ValidationError, match="does not support proposal type"):
        g.process(room.states["bob"], forged, NOW)


def test_required_capabilities_bind_joiners_and_freeze_the_dictionary_for_gce() -> None:
    required = Extension(ExtensionType.REQUIRED_CAPABILITIES,
                         RequiredCapabilities(EXTS, PROPS, ()).to_bytes())
    room = Room(["alice", "bob"], extensions=(required,))
    with pytest.raises(ValidationError, match="7.3"):
        g.commit(room.states["alice"], now=NOW, by_value=[Add(kp("plain", ()).key_package)])
    room.commit("bob", by_value=[AppDataUpdate.of(LOG, b"x")])
    # 4.7: with AppDataUpdate required, a GroupContextExtensions leaves the dictionary as is
    with pytest.raises(ValidationError, match="AppDataUpdate only"):
        g.commit(room.states["alice"], now=NOW,
                 by_value=[GroupContextExtensions((required,))])
    same = room.states["alice"].context.extensions
    room.commit("alice", by_value=[GroupContextExtensions(same)])
    room.agree()


def test_state_with_pending_self_remove_round_trips() -> None:
    room = Room(["alice", "bob"])
    room.propose("bob", g.propose_self_remove)
    alice = room.states["alice"]
    again = g.GroupState.from_bytes(alice.to_bytes(), CONFIG)
    assert again.proposals == alice.proposals


def test_external_joiner_commits_pending_self_removes_by_reference() -> None:
    room = Room(["alice", "bob", "carol"])
    bob_leaf = room.states["bob"].own_leaf
    leave, room.states["bob"] = g.propose_self_remove(room.states["bob"])
    for name in ("alice", "carol"):
        _, room.states[name] = g.process(room.states[name], leave, NOW)
    cred, priv = identity(1, "erin")
    info = g.group_info(room.states["alice"])
    with pytest.raises(ValidationError, match="SelfRemoves only"):
        other, _ = g.propose_remove(room.states["carol"], 0)
        g.join_external(info, cred, priv, NOW, self_removes=[other], config=CONFIG)
    commit_msg, erin = g.join_external(info, cred, priv, NOW, self_removes=[leave],
                                       config=CONFIG)
    body = commit_msg.message.content.content  # type: ignore[union-attr]
    assert len([i for i in body.proposals if isinstance(i, bytes)]) == 1
    for name in list(room.states):
        out, st = g.process(room.states[name], commit_msg, NOW)
        if name == "bob":
            assert out.removed_self
            del room.states["bob"]
        else:
            room.states[name] = st
    room.states["erin"] = erin
    room.agree()
    # bob's leaf was blanked first, so erin took it (12.4.2: the leftmost blank leaf)
    assert erin.own_leaf == bob_leaf
    assert {n.credential.identity for _, n in g.members(erin)} == {b"alice", b"carol", b"erin"}


def test_an_external_commit_may_refer_to_self_removes_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    room = Room(["alice", "bob", "carol"])
    msg, room.states["carol"] = g.propose_remove(room.states["carol"], room.states["bob"].own_leaf)
    _, alice = g.process(room.states["alice"], msg, NOW)
    cached = alice.proposals
    external = importlib.import_module("accord.mls.group.external")
    monkeypatch.setattr(external, "_self_removes", lambda *a: cached)
    cred, priv = identity(1, "erin")
    commit_msg, _ = g.join_external(g.group_info(alice), cred, priv, NOW, config=CONFIG)
    monkeypatch.undo()
    with pytest.raises(ValidationError, match="12.4.3.2"):
        g.process(alice, commit_msg, NOW)


def test_committing_every_cached_proposal_keeps_the_app_data_list_valid() -> None:
    room = Room(["alice", "bob", "carol"])
    room.commit("alice", by_value=[AppDataUpdate.of(LOG, b"a")])
    # updates win over a remove of the same component; two removes become one
    room.propose("bob", g.propose_app_data_update, LOG, None)
    room.propose("carol", g.propose_app_data_update, LOG, b"b")
    room.commit("alice")
    assert room.log("bob") == b"alice:a;carol:b;"
    room.propose("bob", g.propose_app_data_update, LOG, None)
    room.propose("carol", g.propose_app_data_update, LOG, None)
    room.commit("alice")
    room.agree()
    assert room.log("carol") is None


def test_an_external_sender_updates_app_data() -> None:
    hub_cred, hub_priv = identity(1, "hub")
    ext = Extension(ExtensionType.EXTERNAL_SENDERS, encode(
        ExternalSenders, (ExternalSender(get_suite(1).signature_public_key(hub_priv), hub_cred),)))
    room = Room(["alice", "bob"], extensions=(ext,))
    prop = g.external_proposal(room.states["bob"].context, AppDataUpdate.of(LOG, b"x"), 0,
                               hub_priv)
    for name in list(room.states):
        _, room.states[name] = g.process(room.states[name], prop, NOW)
    room.commit("bob")
    room.agree()
    assert room.log("alice") == b"hub:x;"  # the external sender's credential (4.7)
    # a SelfRemove may not come from an external sender (5.3: External N)
    prop = g.external_proposal(room.states["bob"].context, SelfRemove(), 0, hub_priv)
    with pytest.raises(ValidationError, match="12.1.8"):
        g.process(room.states["alice"], prop, NOW)
