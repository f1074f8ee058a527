"""MIMI room state in MLS (draft-ietf-mimi-protocol-06 7.5, 7.6, 10): the
participant_list and room_metadata components, their encoding, the pure change
functions, and the room policy enforced by every member's group engine."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from accord.errors import DecodeError, ValidationError
from accord.mls import group as g
from accord.mls.components import ComponentUpdate
from accord.mls.leaf_node import make_capabilities
from accord.mls.structs import Add, Credential, Extension, Sender
from accord.mls.structs.app_data import AppDataDictionary
from accord.mls.structs.enums import ExtensionType, ProposalType
from accord.mls.suites import get_suite
from accord.wire import mimi_room as r

NOW = 1_700_000_000
SUITE = get_suite(1)
ALICE, BOB, CAROL = (f"mimi://{d}.example/u/{n}".encode()
                     for d, n in (("a", "alice"), ("b", "bob"), ("c", "carol")))


def user_of(credential: Credential | None) -> bytes | None:
    return None if credential is None else credential.identity


CONFIG = g.GroupConfig(components=r.components(r.DEFAULT_POLICY, user_of))


def test_component_ids_and_encodings_are_the_drafts() -> None:
    assert (r.FRANK_AAD, r.FRANKING_SIGNATURE_KEY, r.PARTICIPANT_LIST, r.ROOM_METADATA) == (
        0x20, 0x21, 0x22, 0x23)
    data = r.ParticipantListData((r.UserRolePair(b"u", 4), r.UserRolePair(b"vw", 2)))
    # participants<V> (13 bytes): opaque user<V> and uint32 role_index per pair
    assert data.to_bytes().hex() == "0d" + "0175" + "00000004" + "027677" + "00000002"
    update = r.ParticipantListUpdate((r.UserindexRolePair(1, 1),), (0,),
                                     (r.UserRolePair(b"x", 2),))
    assert update.to_bytes().hex() == ("08" + "00000001" + "00000001" + "04" + "00000000"
                                       + "06" + "0178" + "00000002")
    meta = r.RoomMetaData(r.Uri(b"mimi://a/r/x"), r.UTF8String("Caf\u00e9".encode()),
                          (r.RichDescription(b"", b"en", b"hi"),))
    again = r.RoomMetaData.from_bytes(meta.to_bytes())
    assert again == meta and meta.to_bytes()[:13] == b"\x0cmimi://a/r/x"
    for bad in (b"\xff", b"a\x00b"):
        with pytest.raises(DecodeError):
            r.UTF8String(bad)
    with pytest.raises(DecodeError):
        r.ParticipantListData((r.UserRolePair(b"u", 4), r.UserRolePair(b"u", 2)))


def test_apply_participant_update_order_and_rules() -> None:
    start = r.ParticipantListData(tuple(r.UserRolePair(u, 2) for u in (ALICE, BOB, CAROL)))
    out = r.apply_participant_update(start, r.ParticipantListUpdate(
        (r.UserindexRolePair(2, 4),), (0,), (r.UserRolePair(b"dave", 3),)))
    assert [(p.user, p.role_index) for p in out.participants] == [
        (BOB, 2), (CAROL, 4), (b"dave", 3)]
    for bad in (
        r.ParticipantListUpdate((), (3,), ()),  # out of range
        r.ParticipantListUpdate((r.UserindexRolePair(1, 4),), (1,), ()),  # twice
        r.ParticipantListUpdate((), (), (r.UserRolePair(BOB, 2),)),  # already listed
    ):
        with pytest.raises(ValidationError, match="7.5"):
            r.apply_participant_update(start, bad)
    change = r.participant_change(start, add=[(b"dave", 2)], remove=[ALICE],
                                  set_role={CAROL: 4})
    assert change.component_id == r.PARTICIPANT_LIST
    assert r.ParticipantListUpdate.from_bytes(change.update or b"") == r.ParticipantListUpdate(
        (r.UserindexRolePair(2, 4),), (0,), (r.UserRolePair(b"dave", 2),))
    with pytest.raises(ValidationError, match="not a participant"):
        r.participant_change(start, remove=[b"nobody"])


def _kp(user: bytes) -> g.KeyPackagePrivate:
    priv, _ = SUITE.generate_signature_key_pair()
    caps = make_capabilities(1, extensions=[ExtensionType.APP_DATA_DICTIONARY],
                             proposals=[ProposalType.APP_DATA_UPDATE, ProposalType.SELF_REMOVE])
    return g.key_package(SUITE, Credential.basic(user), priv, NOW, capabilities=caps)


class Room:
    def __init__(self) -> None:
        creator = _kp(ALICE)
        first = r.ParticipantListData((r.UserRolePair(ALICE, r.ROLE_ADMIN),))
        dictionary = AppDataDictionary().with_data(r.PARTICIPANT_LIST, first.to_bytes())
        ext = Extension(ExtensionType.APP_DATA_DICTIONARY, dictionary.to_bytes())
        self.states = {ALICE: g.create_group(
            SUITE, b"clubhouse", creator.key_package.leaf_node.credential,
            creator.signature_priv, NOW, key_package=creator, extensions=(ext,), config=CONFIG)}
        kps = {u: _kp(u) for u in (BOB, CAROL)}
        change = r.participant_change(self.participants(), add=[(BOB, 2), (CAROL, 2)])
        res = self.commit(ALICE, by_value=[change, *(Add(k.key_package) for k in kps.values())])
        for u, k in kps.items():
            self.states[u] = g.join_from_welcome(res.welcome, k, NOW, config=CONFIG)  # type: ignore[arg-type]

    def participants(self, who: bytes = ALICE) -> r.ParticipantListData:
        return r.room_state(g.app_data(self.states[who]))[0]

    def commit(self, who: bytes, **kw: object) -> g.CommitResult:
        res, st = g.commit(self.states[who], now=NOW, **kw)  # type: ignore[arg-type]
        self.states[who] = g.merge_pending(st)
        for u in [u for u in self.states if u != who]:
            out, self.states[u] = g.process(self.states[u], res.commit, NOW)
            if out.removed_self:
                del self.states[u]
        assert len({g.epoch_authenticator(s) for s in self.states.values()}) == 1
        return res

    def refused(self, who: bytes, by_value: Sequence[object], match: str) -> None:
        with pytest.raises(ValidationError, match=match):
            g.commit(self.states[who], now=NOW, by_value=by_value)  # type: ignore[arg-type]


def test_room_state_rides_in_mls_and_the_policy_holds_for_everyone() -> None:
    room = Room()
    assert [(p.user, p.role_index) for p in room.participants(CAROL).participants] == [
        (ALICE, 4), (BOB, 2), (CAROL, 2)]
    # a member may add users as members (3.3) but not change roles, add with another
    # role, remove others, or rename the room
    plist = room.participants()
    room.refused(BOB, [r.participant_change(plist, set_role={BOB: 4})], "may not set role")
    room.refused(BOB, [r.participant_change(plist, add=[(b"mimi://d/u/dan", 3)])],
                 "may not set role")
    g.commit(room.states[BOB], now=NOW, by_value=[
        r.participant_change(plist, add=[(b"mimi://d/u/dan", 2)])])
    room.refused(BOB, [r.participant_change(plist, remove=[CAROL])], "may not remove user")
    room.refused(BOB, [r.metadata_change(r.RoomMetaData(room_name=r.UTF8String(b"x")))],
                 "may not change metadata")
    # an undefined role, or touching one user twice in a commit, is invalid
    room.refused(ALICE, [r.participant_change(plist, set_role={BOB: 9})], "not defined")
    room.refused(ALICE, [r.participant_change(plist, set_role={BOB: 3}),
                         r.participant_change(plist, remove=[BOB])], "twice")
    room.refused(ALICE, [r.metadata_change(r.RoomMetaData()),
                         r.metadata_change(r.RoomMetaData())], "more than one")
    # the admin renames the room and makes carol a moderator, who may then add
    name = r.RoomMetaData(room_name=r.UTF8String(b"Clubhouse"))
    room.commit(ALICE, by_value=[r.metadata_change(name),
                                 r.participant_change(plist, set_role={CAROL: 3})])
    assert r.room_state(g.app_data(room.states[BOB]))[1] == name
    room.commit(CAROL, by_value=[r.participant_change(room.participants(),
                                                      add=[(b"mimi://d/u/dan", 2)])])
    room.refused(CAROL, [r.participant_change(room.participants(), add=[(b"mimi://e/u/eve", 4)])],
                 "may not set role")
    # bob leaves: his SelfRemove and his own removal from the list, committed by alice
    ref = _propose(room, BOB, g.propose_self_remove)
    leave = _propose(room, BOB, g.propose_app_data_update, r.PARTICIPANT_LIST,
                     r.participant_change(room.participants(), remove=[BOB]).update)
    room.commit(ALICE, proposals=[ref, leave])
    assert BOB not in room.states
    assert [p.user for p in room.participants(CAROL).participants] == [
        ALICE, CAROL, b"mimi://d/u/dan"]


def _propose(room: Room, who: bytes, fn: object, *args: object) -> bytes:
    msg, room.states[who] = fn(room.states[who], *args)  # type: ignore[operator]
    ref = b""
    for u in [u for u in room.states if u != who]:
        out, room.states[u] = g.process(room.states[u], msg, NOW)
        ref = out.proposal_ref or b""
    return ref


def test_a_receiver_refuses_a_commit_its_policy_forbids() -> None:
    room = Room()
    plist = room.participants()
    # bob's own engine would refuse; switch his policy off to make the commit
    lax = r.RoomPolicy({i: frozenset({r.SET_ROLE}) for i in (1, 2, 3, 4)})
    bob = g.GroupState.from_bytes(room.states[BOB].to_bytes(), g.GroupConfig(
        components=r.components(lax, user_of)))
    res, _ = g.commit(bob, now=NOW, by_value=[r.participant_change(plist, set_role={BOB: 4})])
    before = room.states[CAROL].to_bytes()
    with pytest.raises(ValidationError, match="may not set role"):
        g.process(room.states[CAROL], res.commit, NOW)
    assert room.states[CAROL].to_bytes() == before
    # a proposer whose credential names no participant has no role
    outsider = r.components(r.DEFAULT_POLICY, lambda c: None)[r.PARTICIPANT_LIST]
    with pytest.raises(ValidationError, match="may not"):
        outsider.apply(plist.to_bytes(), [g_update(plist)], g.app_data(room.states[ALICE]))


def g_update(plist: r.ParticipantListData) -> ComponentUpdate:
    change = r.participant_change(plist, add=[(b"mimi://x/u/x", 2)])
    return ComponentUpdate(change.update or b"", Sender.member(0), Credential.basic(b"x"))
