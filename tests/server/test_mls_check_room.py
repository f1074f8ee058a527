"""The hub holds MIMI room state to the room policy (draft-ietf-mimi-protocol-06 7.5,
7.6; issue 22): commits with AppDataUpdate and SelfRemove proposals go through the
hub's commit plan (``commit_plan.leaf_plan``) on the group's public state, which runs
the members' checks with the room-state components (T08: a member cannot exceed its
role; the declared roster must include a SelfRemove's leaver)."""

from __future__ import annotations

import time

import pytest

from accord.errors import ValidationError
from accord.federation import commit_plan, mls_check
from accord.mls import group as g
from accord.mls.group import public
from accord.mls.leaf_node import make_capabilities
from accord.mls.structs import Add, Credential, Extension, Remove, SelfRemove
from accord.mls.structs.app_data import AppDataDictionary
from accord.mls.structs.enums import ExtensionType, ProposalType
from accord.mls.suites import get_suite
from accord.storage import CommitChange, GroupRecord
from accord.wire import mimi_room as r

GID = b"r" * 16
NOW = int(time.time())
SUITE = get_suite(1)
ALICE, BOB, CAROL = (b"alice@alpha.test/a1", b"bob@beta.test/b1", b"carol@gamma.test/c1")
U_ALICE, U_BOB, U_CAROL = (b"mimi://alpha.test/u/alice", b"mimi://beta.test/u/bob",
                           b"mimi://gamma.test/u/carol")
CONFIG = mls_check.HUB_CONFIG  # the members use the same components as the hub here


def _kp(identity: bytes) -> g.KeyPackagePrivate:
    priv, _ = SUITE.generate_signature_key_pair()
    caps = make_capabilities(1, extensions=[ExtensionType.APP_DATA_DICTIONARY],
                             proposals=[ProposalType.APP_DATA_UPDATE, ProposalType.SELF_REMOVE])
    return g.key_package(SUITE, Credential.basic(identity), priv, NOW, capabilities=caps)


class Hub:
    """Three members and the hub's public state; commits go through the hub's plan."""

    def __init__(self) -> None:
        first = _kp(ALICE)
        plist = r.ParticipantListData((r.UserRolePair(U_ALICE, r.ROLE_ADMIN),))
        ext = Extension(ExtensionType.APP_DATA_DICTIONARY, AppDataDictionary().with_data(
            r.PARTICIPANT_LIST, plist.to_bytes()).to_bytes())
        alice = g.create_group(SUITE, GID, first.key_package.leaf_node.credential,
                               first.signature_priv, NOW, key_package=first, extensions=(ext,),
                               config=CONFIG)
        self.state = public.from_group_info(g.group_info(alice), NOW)[0].to_bytes()
        self.group = GroupRecord(GID, "alpha.test", 0, ("a1",), (0,))
        self.states = {"a1": alice}
        kps = {"b1": _kp(BOB), "c1": _kp(CAROL)}
        change = r.participant_change(plist, add=[(U_BOB, r.ROLE_MEMBER),
                                                  (U_CAROL, r.ROLE_MEMBER)])
        res = self.commit("a1", ("b1", "c1"), (), by_value=[
            change, *(Add(k.key_package) for k in kps.values())])
        for d, k in kps.items():
            self.states[d] = g.join_from_welcome(res.welcome, k, NOW, config=CONFIG)  # type: ignore[arg-type]

    def plan(self, raw: bytes, sender: str, added: tuple[str, ...], removed: tuple[str, ...],
             accepted: tuple[bytes, ...] = ()) -> bytes:
        change = CommitChange(GID, self.group.epoch, sender, added, removed, b"P" * 32)
        view = mls_check.view_commit(raw, GID, self.group.epoch)
        identity = {"a1": ALICE, "b1": BOB, "c1": CAROL}[sender]
        _, after = commit_plan.leaf_plan(view, change, None, {}, identity, raw, NOW * 1000)(
            self.group, list(accepted), self.state)
        assert after is not None
        return after

    def commit(self, who: str, added: tuple[str, ...], removed: tuple[str, ...],
               accepted: tuple[bytes, ...] = (), **kw: object) -> g.CommitResult:
        res, st = g.commit(self.states[who], now=NOW, **kw)  # type: ignore[arg-type]
        raw = bytes(res.commit.to_bytes())
        self.state = self.plan(raw, who, added, removed, accepted)
        self.states[who] = g.merge_pending(st)
        for d in [d for d in self.states if d != who]:
            out, self.states[d] = g.process(self.states[d], raw, NOW)
            if out.removed_self:
                del self.states[d]
        after = public.PublicGroup.from_bytes(self.state)
        devices = [d for d in ("a1", "b1", "c1") if d in self.states or d in added]
        leaves = {mls_check.identity_device(n.credential.identity): i
                  for i, n in after.tree.leaves()}
        self.group = GroupRecord(GID, "alpha.test", after.epoch, tuple(devices),
                                 tuple(leaves[d] for d in devices))
        assert {s.context.to_bytes() for s in self.states.values()} == {
            after.context.to_bytes()}
        return res

    def participants(self) -> r.ParticipantListData:
        return r.room_state(g.app_data(self.states["a1"]))[0]

    def refused(self, who: str, match: str, *, members: g.GroupConfig | None = None,
                **kw: object) -> None:
        """A commit the member's own engine (or a lax one) makes, which the hub refuses."""
        state = self.states[who]
        if members is not None:
            state = g.GroupState.from_bytes(state.to_bytes(), members)
        res, _ = g.commit(state, now=NOW, **kw)  # type: ignore[arg-type]
        before = self.state
        with pytest.raises(ValidationError, match=match):
            self.plan(bytes(res.commit.to_bytes()), who, (), ())
        assert self.state == before


LAX = g.GroupConfig(components=r.components(
    r.RoomPolicy({i: frozenset({r.ADD_USER, r.REMOVE_USER, r.SET_ROLE, r.CHANGE_METADATA})
                  for i in range(1, 8)}), mls_check.room_user))


def test_T08_the_hub_holds_room_state_changes_to_the_room_policy() -> None:
    hub = Hub()
    plist = hub.participants()
    assert [(p.user, p.role_index) for p in plist.participants] == [
        (U_ALICE, 4), (U_BOB, 2), (U_CAROL, 2)]
    # bob (a member) makes himself admin, removes carol, renames the room: his client
    # was told to allow it, the hub is not
    hub.refused("b1", "may not set role", members=LAX,
                by_value=[r.participant_change(plist, set_role={U_BOB: r.ROLE_ADMIN})])
    hub.refused("b1", "may not remove user", members=LAX,
                by_value=[r.participant_change(plist, remove=[U_CAROL])])
    hub.refused("b1", "may not change metadata", members=LAX,
                by_value=[r.metadata_change(r.RoomMetaData(room_name=r.UTF8String(b"mine")))])
    # an undefined role is refused even from the admin
    hub.refused("a1", "not defined", members=LAX,
                by_value=[r.participant_change(plist, set_role={U_BOB: 7})])
    # the admin may: carol becomes moderator and the room gets a name
    name = r.RoomMetaData(room_name=r.UTF8String(b"Clubhouse"))
    hub.commit("a1", (), (), by_value=[r.participant_change(plist, set_role={U_CAROL: 3}),
                                       r.metadata_change(name)])
    after = public.PublicGroup.from_bytes(hub.state)
    assert r.room_state(g.app_data(hub.states["c1"]))[1] == name
    assert after.context == hub.states["c1"].context


def test_T08_a_self_remove_at_the_hub_is_declared_as_the_leavers_removal() -> None:
    hub = Hub()
    msg, hub.states["b1"] = g.propose_self_remove(hub.states["b1"])
    raw = bytes(msg.to_bytes())
    mls_check.check_proposal_public(raw, hub.state, NOW * 1000)
    for d in ("a1", "c1"):
        _, hub.states[d] = g.process(hub.states[d], raw, NOW)
    res, _ = g.commit(hub.states["a1"], now=NOW)
    commit = bytes(res.commit.to_bytes())
    with pytest.raises(ValidationError, match="12.1.3"):  # the leaver must be declared
        hub.plan(commit, "a1", (), (), (raw,))
    with pytest.raises(ValidationError, match="12.1.3"):  # and only the leaver
        hub.plan(commit, "a1", (), ("c1",), (raw,))
    hub.commit("a1", (), ("b1",), (raw,))
    assert "b1" not in hub.states


def test_T08_the_hub_refuses_a_proposal_beyond_the_proposers_role() -> None:
    hub = Hub()
    plist = hub.participants()
    bob = g.GroupState.from_bytes(hub.states["b1"].to_bytes(), LAX)
    msg, _ = g.propose_app_data_update(bob, r.PARTICIPANT_LIST, r.participant_change(
        plist, set_role={U_BOB: r.ROLE_ADMIN}).update)
    with pytest.raises(ValidationError, match="may not set role") as refused:
        mls_check.check_proposal_public(bytes(msg.to_bytes()), hub.state, NOW * 1000)
    assert not isinstance(refused.value, mls_check.InvalidProposal)  # policy: MIMI notAllowed
    with pytest.raises(ValidationError, match="may not set role"):  # and so do members
        g.process(hub.states["a1"], msg, NOW)
    # bob's own removal from the list (leaving) is his to propose
    msg, _ = g.propose_app_data_update(hub.states["b1"], r.PARTICIPANT_LIST,
                                       r.participant_change(plist, remove=[U_BOB]).update)
    mls_check.check_proposal_public(bytes(msg.to_bytes()), hub.state, NOW * 1000)


def test_T08_the_hub_takes_one_self_remove_per_member_and_epoch() -> None:
    hub = Hub()
    first, bob = g.propose_self_remove(hub.states["b1"])
    second, _ = g.propose(bob, SelfRemove(), b"again")
    raw1, raw2 = bytes(first.to_bytes()), bytes(second.to_bytes())
    mls_check.check_proposal_public(raw1, hub.state, NOW * 1000, [])
    mls_check.check_proposal_public(raw2, hub.state, NOW * 1000, [])  # alone, it is fine
    with pytest.raises(mls_check.InvalidProposal, match="second SelfRemove") as refused:
        mls_check.check_proposal_public(raw2, hub.state, NOW * 1000, [raw1])
    assert refused.value.refs == (mls_check.proposal_ref(raw2, 1),)  # MIMI invalidProposal


# A member's engine without the members rule: the components but not check_members.
UNBOUND = g.GroupConfig(components=r.components(r.DEFAULT_POLICY, mls_check.room_user))


def test_T08_members_are_clients_of_listed_participants_at_the_hub_and_the_members() -> None:
    hub = Hub()
    plist = hub.participants()
    dave = _kp(b"dave@delta.test/d1")
    # Adds with no participant_list change (draft 3.2: "AppSync(+Bob), Add*"), or with
    # another user's, are refused by the hub, and by every member receiving them
    for by_value in ([Add(dave.key_package)],
                     [Add(dave.key_package), r.participant_change(
                         plist, add=[(b"mimi://delta.test/u/eve", r.ROLE_MEMBER)])]):
        hub.refused("a1", "not a client of a participant", members=UNBOUND, by_value=by_value)
        res, _ = g.commit(g.GroupState.from_bytes(hub.states["a1"].to_bytes(), UNBOUND),
                          now=NOW, by_value=by_value)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="not a client of a participant"):
            g.process(hub.states["b1"], res.commit, NOW)
    # and the reverse: carol unlisted while her client stays (3.5: Remove* with it)
    hub.refused("a1", "not a client of a participant", members=UNBOUND,
                by_value=[r.participant_change(plist, remove=[U_CAROL])])
    with pytest.raises(ValidationError, match="not a client of a participant"):
        g.commit(hub.states["a1"], now=NOW, by_value=[r.participant_change(
            plist, remove=[U_CAROL])])  # the honest engine does not make it
    # the draft's commits pass: dave listed with his client, carol unlisted with hers
    hub.commit("a1", (), ("c1",), by_value=[
        r.participant_change(plist, remove=[U_CAROL]), Remove(2)])
    assert [p.user for p in hub.participants().participants] == [U_ALICE, U_BOB]
    res = hub.commit("a1", ("d1",), (), by_value=[
        r.participant_change(hub.participants(),
                             add=[(b"mimi://delta.test/u/dave", r.ROLE_MEMBER)]),
        Add(dave.key_package)])
    joined = g.join_from_welcome(res.welcome, dave, NOW, config=CONFIG)  # type: ignore[arg-type]
    assert b"mimi://delta.test/u/dave" in [p.user for p in r.room_state(
        g.app_data(joined))[0].participants]


def test_members_rule_binds_only_groups_with_a_participant_list() -> None:
    plain = _kp(ALICE)
    state = g.create_group(SUITE, GID, plain.key_package.leaf_node.credential,
                           plain.signature_priv, NOW, key_package=plain, config=CONFIG)
    res, _ = g.commit(state, now=NOW, by_value=[Add(_kp(BOB).key_package)])
    assert res.welcome is not None


def test_T08_an_external_joiner_is_a_client_of_a_listed_participant() -> None:
    hub = Hub()
    info = g.group_info(hub.states["a1"])
    sig, _ = SUITE.generate_signature_key_pair()
    # a second client of bob, a participant, may join by external commit (draft 3.6)
    commit, _ = g.join_external(info, Credential.basic(b"bob@beta.test/b2"), sig, NOW,
                                config=CONFIG)
    g.process(hub.states["a1"], commit, NOW)
    # dave, no participant, may not: his own engine refuses, and so do the members
    with pytest.raises(ValidationError, match="not a client of a participant"):
        g.join_external(info, Credential.basic(b"dave@delta.test/d1"), sig, NOW, config=CONFIG)
    commit, _ = g.join_external(info, Credential.basic(b"dave@delta.test/d1"), sig, NOW,
                                config=UNBOUND)
    with pytest.raises(ValidationError, match="not a client of a participant"):
        g.process(hub.states["a1"], commit, NOW)
    with pytest.raises(ValidationError, match="not a client of a participant"):
        public.apply_commit(mls_check.hub_group(hub.state), bytes(commit.to_bytes()), [], NOW)
