"""Accord's rooms keep the MIMI room state in MLS (draft-ietf-mimi-protocol-06 3.1-3.5,
7.5, 7.6; issue 22): a room has its participant_list (the creator admin) and
room_metadata from epoch 0; the commit adding a user's devices lists her, the one
removing them unlists her; every leaf advertises what the room state needs
(draft-ietf-mls-extensions); a commit whose roster and list disagree is refused by
the hub and by the members (T08)."""

from __future__ import annotations

import pytest

from accord.client import conversations as convs
from accord.client.mls_session import posting_public_key
from accord.errors import ValidationError
from accord.mls import group as g
from accord.mls.codec import decode
from accord.mls.structs import Add, KeyPackage
from accord.mls.structs.app_data import AppDataDictionary, ComponentId, ComponentsList
from accord.mls.structs.enums import ExtensionType, ProposalType
from accord.mls.structs.messages import MLSMessage
from accord.wire import messages as m
from accord.wire import mimi_room as r
from accord.wire.mimi import mimi_room_uri
from tests.e2e.helpers import Clock, fresh_account, new_device
from tests.federation.groups import arrive

# A member's engine without the members rule (mimi_room.check_members): the lax client.
LAX = g.GroupConfig(components=r.components(r.DEFAULT_POLICY, r.member_user))


def _room(dev, conv) -> tuple[r.ParticipantListData, r.RoomMetaData]:
    state = g.GroupState.from_bytes(dev.store.load_group(conv["group_id"]))
    return r.room_state(g.app_data(state))


async def test_room_state_rides_in_mls_from_creation_to_leaving(server, tmp_path) -> None:
    clock = Clock()
    alice, bob, carol = [await new_device(tmp_path / n, fresh_account(n), server.url, clock)
                         for n in ("alice", "bob", "carol")]
    a, b, c = (d.identity.account for d in (alice, bob, carol))
    try:
        # every KeyPackage advertises app_data_dictionary, AppDataUpdate, SelfRemove and
        # the room components (draft-ietf-mls-extensions 6)
        claimed = await alice.api.claim_key_packages(b, 1)
        kp = decode(MLSMessage, claimed.key_packages[0].key_package).message
        assert isinstance(kp, KeyPackage)
        caps = kp.leaf_node.capabilities
        assert ExtensionType.APP_DATA_DICTIONARY in caps.extensions
        assert {ProposalType.APP_DATA_UPDATE, ProposalType.SELF_REMOVE} <= set(caps.proposals)
        [ext] = [e for e in kp.leaf_node.extensions
                 if e.extension_type == ExtensionType.APP_DATA_DICTIONARY]
        advertised = AppDataDictionary.from_bytes(ext.extension_data).get(
            ComponentId.APP_COMPONENTS)
        assert advertised is not None and {r.PARTICIPANT_LIST, r.ROOM_METADATA} <= set(
            ComponentsList.from_bytes(advertised).component_ids)

        conv = await convs.create(alice, "club", [b], clock())
        plist, meta = _room(alice, conv)
        # 3.1 and 3.2: alice admin, bob listed by the commit that added his device
        assert alice.engine.participants(alice.store.load_group(conv["group_id"])) == {a: 4,
                                                                                        b: 2}
        assert meta.room_name.string == b""  # the hub reads it: names go in notices (T02)
        assert meta.room_uri.uri == mimi_room_uri("alpha.test", conv["group_id"]).encode()
        bconv = await arrive(bob, "club", clock)
        assert bob.engine.participants(bob.store.load_group(bconv["group_id"])) == {a: 4, b: 2}
        assert _room(bob, bconv) == (plist, meta)

        # bob (a member) adds carol (3.3); alice removes her (3.5)
        await convs.add_members(bob, bconv, [c], clock())
        cconv = await arrive(carol, "club", clock)
        assert carol.engine.participants(carol.store.load_group(cconv["group_id"])) == {
            a: 4, b: 2, c: 2}
        await alice.sync(clock())
        await convs.remove_member(alice, convs.find(alice, "club"), c, clock())
        await bob.sync(clock())
        assert bob.engine.participants(bob.store.load_group(bconv["group_id"])) == {a: 4, b: 2}

        # admins are roles: bob made admin, then he may remove (and alice leaves)
        await convs.set_admins(alice, convs.find(alice, "club"), [a, b], clock())
        await bob.sync(clock())
        assert bob.engine.participants(bob.store.load_group(bconv["group_id"])) == {a: 4, b: 4}
        await convs.leave(alice, convs.find(alice, "club"), clock())
        await bob.sync(clock())  # the notice and alice's proposals: bob commits them
        assert bob.engine.participants(bob.store.load_group(bconv["group_id"])) == {b: 4}
        assert convs.members(bob, convs.find(bob, "club")) == {b: [bob.identity.device_id]}
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()


async def test_T08_a_commit_whose_adds_and_list_disagree_is_refused(server, tmp_path) -> None:
    clock = Clock()
    alice, bob, dave = [await new_device(tmp_path / n, fresh_account(n), server.url, clock)
                        for n in ("alice", "bob", "dave")]
    try:
        conv = await convs.create(alice, "den", [bob.identity.account], clock())
        bconv = await arrive(bob, "den", clock)
        gid = conv["group_id"]
        suite = alice.engine.cipher_suite(alice.store.load_group(gid))
        claimed = await alice.api.claim_key_packages(dave.identity.account, suite)
        kp = decode(MLSMessage, claimed.key_packages[0].key_package).message
        assert isinstance(kp, KeyPackage)
        state = g.GroupState.from_bytes(alice.store.load_group(gid), LAX)
        plist = r.room_state(g.app_data(state))[0]
        # alice's lax client adds dave's device without listing him, or lists another
        for by_value in ([Add(kp)], [Add(kp), r.participant_change(
                plist, add=[(b"mimi://alpha.test/u/eve", r.ROLE_MEMBER)])]):
            res, pending = g.commit(state, now=clock() // 1000, by_value=by_value)
            commit = bytes(res.commit.to_bytes())
            after = g.merge_pending(pending).to_bytes()
            req = m.CommitRequest(epoch=state.context.epoch, commit=commit,
                                  posting_key=posting_public_key(alice.engine, after),
                                  added=[claimed.key_packages[0].device_id],
                                  welcome=bytes(res.welcome.to_bytes()))  # type: ignore[union-attr]
            with pytest.raises(ValidationError, match="not a client of a participant"):
                await alice.api.commit(gid, req)  # the hub refuses it
            with pytest.raises(ValidationError, match="not a client of a participant"):
                bob.engine.process(bob.store.load_group(bconv["group_id"]), commit, clock())
        # and the reverse: bob unlisted while his device stays
        res, _ = g.commit(state, now=clock() // 1000, by_value=[
            r.participant_change(plist, remove=[r.member_user(
                g.members(state)[1][1].credential)])])  # type: ignore[list-item]
        with pytest.raises(ValidationError, match="not a client of a participant"):
            bob.engine.process(bob.store.load_group(bconv["group_id"]),
                               bytes(res.commit.to_bytes()), clock())
    finally:
        for d in (alice, bob, dave):
            await d.disconnect()
