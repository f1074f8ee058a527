"""A follower that sends over MIMI only (issue 22, ``--mimi-transport``): beta.test hands
its members' commits and proposals for a room alpha.test hubs to alpha's
``/mimi/v1/update`` (draft-ietf-mimi-protocol-06 5.3) and claims KeyPackages over
``/mimi/v1/keyMaterial`` (5.2); alpha and gamma speak Accord's own routes. The epoch's
posting key (T11) reaches the hub inside the committer's signed GroupInfo
(``accord.wire.posting_component``), so hidden-sender posts keep working in epochs a
MIMI update opened; a provider that changes it breaks the GroupInfo's signature.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client import conversations as convs
from accord.client import messaging
from accord.client.mls_session import epoch_keys
from accord.errors import EpochConflict, ValidationError
from accord.mls import group as g
from accord.mls.structs.enums import ExtensionType
from accord.mls.structs.messages import MLSMessage
from accord.wire import messages as m
from accord.wire import mimi as w
from accord.wire.posting_component import POSTING_KEY, app_data_extension, posting_key_component
from tests.e2e.helpers import Clock
from tests.engine import engine_params
from tests.federation.conftest import running
from tests.federation.groups import (
    alice_and_bob,
    arrive,
    bodies,
    join_from_queue,
    people,
    until,
    user,
)
from tests.federation.malicious_provider import MaliciousProvider
from tests.federation.providers import MlsDevice, Provider
from tests.federation.test_mimi_room import group_info_request, room_path
from tests.harness import group_path

ROOM_ROUTES = ("/federation/v1/commits", "/federation/v1/proposals",
               "/federation/v1/keypackages/claim")


@pytest.fixture(scope="module", params=engine_params())
def providers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[dict[str, Provider]]:
    yield from running(request, tmp_path_factory, mimi={"beta.test"})


def requests_seen(p: Provider, route: str) -> int:
    """How many requests ``p`` logged on ``route`` (each peer route logs every answer)."""
    return sum(f"POST {route}" in line for line in p.log_path.read_text().splitlines())


def room_traffic(p: Provider) -> dict[str, int]:
    return {r: requests_seen(p, r) for r in (*ROOM_ROUTES, "/mimi/v1/update",
                                             "/mimi/v1/keyMaterial")}


async def test_mimi_follower_commits_proposes_and_claims_over_mimi(
    providers: dict[str, Provider], tmp_path: Path
) -> None:
    """bob (beta, MIMI only) is in alice's room (alpha hubs it): he adds carol of gamma
    (claim over keyMaterial, commit over update) and later leaves (his Remove proposal
    over update). alice, local at the hub, posts with no sender in the epoch bob's
    commit opened: the hub had its posting key from bob's GroupInfo. No commit,
    proposal or claim of beta's ever takes an Accord peer route."""
    alpha, gamma = providers["alpha"], providers["gamma"]
    before = {"alpha": room_traffic(alpha), "gamma": room_traffic(gamma)}
    clock = Clock()
    alice, bob, carol = await people(tmp_path, providers, clock, "alice@alpha", "bob@beta",
                                     "carol@gamma")
    try:
        conv = await convs.create(alice, "over mimi", [bob.identity.account], clock())
        bconv = await arrive(bob, "over mimi", clock)
        assert await convs.add_members(bob, bconv, [carol.identity.account], clock()) == 1
        await arrive(carol, "over mimi", clock)
        await until(alice, clock, lambda: carol.identity.account in convs.members(
            alice, alice.store.conversation(conv["conv_id"])))
        await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]),
                                  "posted with the key bob's GroupInfo carried", clock())
        for dev in (bob, carol):
            await bodies(dev, "over mimi", "posted with the key bob's GroupInfo carried", clock)
        await convs.leave(bob, convs.find(bob, "over mimi"), clock())
        await until(alice, clock, lambda: bob.identity.account not in convs.members(
            alice, alice.store.conversation(conv["conv_id"])), "bob's removal")
        await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]),
                                  "bob is gone", clock())
        await bodies(carol, "over mimi", "bob is gone", clock)
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()
    after = {"alpha": room_traffic(alpha), "gamma": room_traffic(gamma)}
    grew = {p: {r: after[p][r] - before[p][r] for r in after[p]} for p in after}
    # bob's commit and his proposal went to the hub over MIMI, his claim of carol too
    assert grew["alpha"]["/mimi/v1/update"] >= 2, grew
    assert grew["gamma"]["/mimi/v1/keyMaterial"] >= 1, grew
    for p in ("alpha", "gamma"):
        assert all(grew[p][r] == 0 for r in ROOM_ROUTES), grew


# ------------------------------------------------------------------ typed errors

async def test_mimi_follower_answers_the_device_as_accords_route_would(
    providers: dict[str, Provider], tmp_path: Path
) -> None:
    """Over MIMI the device gets the typed errors of Accord's route: a stale commit is an
    EpochConflict naming the hub's epoch (wrongEpoch), a commit for another room a
    ValidationError (notAllowed), and a commit without its GroupInfo, or with one
    that does not carry its posting key, or without the new epoch's ratchet tree, a 422
    before anything is sent."""
    clock = Clock()
    alice, bob = await people(tmp_path, providers, clock, "alice@alpha", "bob@beta")
    try:
        conv = await convs.create(alice, "errors", [bob.identity.account], clock())
        other = await convs.create(alice, "other", [bob.identity.account], clock())
        bconv = await arrive(bob, "errors", clock)
        await arrive(bob, "other", clock)
        gid = bconv["group_id"]
        stale = bob.store.load_group(gid)

        def commit_of(state: bytes, **change: Any) -> m.CommitRequest:
            out = bob.engine.commit(state, add=[], remove=[], update=True, now=clock())
            posting, info, tree = epoch_keys(bob.engine, out.state)
            return m.CommitRequest(epoch=bob.engine.epoch(state), commit=out.commit,
                                   posting_key=posting, group_info=info, ratchet_tree=tree,
                                   **change)

        # both rooms at the same epoch: bob's commit of one, sent for the other
        with pytest.raises(ValidationError, match="another group"):
            await bob.api.commit(other["group_id"], commit_of(stale))
        assert await convs.commit(bob, bconv, clock(), update=True)
        with pytest.raises(EpochConflict) as conflict:
            await bob.api.commit(gid, commit_of(stale))
        assert conflict.value.current_epoch == bob.engine.epoch(bob.store.load_group(gid))
        current = bob.store.load_group(gid)
        req = commit_of(current)
        with pytest.raises(ValidationError, match="needs the new epoch's GroupInfo"):
            await bob.api.commit(gid, dataclasses.replace(req, group_info=None))
        with pytest.raises(ValidationError, match="needs the new epoch's ratchet tree"):
            await bob.api.commit(gid, dataclasses.replace(req, ratchet_tree=None))
        with pytest.raises(ValidationError, match="carries the commit's posting key"):
            await bob.api.commit(gid, dataclasses.replace(req, posting_key=b"k" * 32))
        # none of these moved the room: bob's next honest commit is taken
        assert await convs.commit(bob, convs.find(bob, "errors"), clock(), update=True)
        assert conv["group_id"] == gid
    finally:
        for d in (alice, bob):
            await d.disconnect()


# ------------------------------------------------------------------ the hub's side

def with_posting_key(dev: MlsDevice, key: bytes | None = None
                     ) -> tuple[Any, Any, Any, bytes]:
    """A path update of ``dev``: its commit, the state it leads to, the new epoch's
    GroupInfo carrying ``key`` (default: the new epoch's real posting key), the key."""
    result, pending = g.commit(dev.state, now=int(time.time()), by_value=[], force_path=True)
    merged = g.merge_pending(pending)
    key = key or dev.next_posting_public(merged)
    info = g.group_info(merged, with_tree=False,
                        extra=(app_data_extension([posting_key_component(key)]),))
    return result, merged, info.message, key


def bundle(result: Any, merged: Any, info: Any) -> bytes:
    return w.UpdateRequest(w.HandshakeBundle(
        result.commit, w.MaybeWelcome(None), w.GroupInfoOption(1, info),
        w.RatchetTreeOption(1, tuple(merged.tree.nodes())))).to_bytes()


def swap_posting_key(info: Any, key: bytes) -> Any:
    """The same GroupInfo with another posting key, its signature left as it was."""
    exts = tuple(app_data_extension([(POSTING_KEY, key)])
                 if e.extension_type == ExtensionType.APP_DATA_DICTIONARY else e
                 for e in info.extensions)
    return dataclasses.replace(info, extensions=exts)


async def test_T11_a_posting_key_a_provider_changed_in_transit_is_refused(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    """beta, signing with its real key, hands alpha bob's commit with the posting key in
    its GroupInfo swapped for one beta holds: notAllowed (the GroupInfo's signature),
    the room stays where it was. bob's own bundle is taken, and the key it carries is
    the one alice's hidden-sender post is checked against; a replay is wrongEpoch and
    bob's commit sent to another room is notAllowed."""
    alpha = providers["alpha"]
    evil = MaliciousProvider(providers["beta"], clients["alpha"])
    tag = secrets.token_hex(3)
    alice = await user(clients["alpha"], f"alice{tag}@alpha.test")
    bob = await user(clients["beta"], f"bob{tag}@beta.test")
    gid, other = secrets.token_bytes(16), secrets.token_bytes(16)
    await alice.create_group(gid)
    await alice.commit_add(await alice.claim(bob.account))
    await join_from_queue(bob)
    path = room_path("update", gid)
    result, merged, info, _ = with_posting_key(bob)
    # bob's commit sent for another room (alice's, on another device) at the same epoch
    dave = await user(clients["alpha"], f"dave{tag}@alpha.test")
    await dave.create_group(other)
    await dave.commit_add(await dave.claim(bob.account))
    wrong = w.UpdateRoomResponse.from_bytes((await evil.send(
        alpha, room_path("update", other), bundle(result, merged, info))).content)
    assert wrong.response_code == w.UpdateResponseCode.NOT_ALLOWED, wrong
    assert b"another group" in wrong.error_description
    beta_key = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    r = await evil.send(alpha, path, bundle(result, merged, swap_posting_key(info, beta_key)))
    refused = w.UpdateRoomResponse.from_bytes(r.content)
    assert refused.response_code == w.UpdateResponseCode.NOT_ALLOWED, refused
    assert b"signature" in refused.error_description
    seen = len((await alice.fetch()).items)
    r = await evil.send(alpha, path, bundle(result, merged, info))
    assert w.UpdateRoomResponse.from_bytes(r.content).response_code == 0
    bob.state = merged
    alice.read((await alice.wait_items(seen + 1))[-1].body)
    assert alice.epoch() == bob.epoch() == 2
    await alice.post(b"checked against the key bob's GroupInfo carried")
    replay = w.UpdateRoomResponse.from_bytes((await evil.send(
        alpha, path, bundle(result, merged, info))).content)
    assert (replay.response_code, replay.current_epoch) == (w.UpdateResponseCode.WRONG_EPOCH, 2)


async def test_T11_a_local_commit_keeps_its_group_info_and_its_posting_key(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    """On the device path the hub checks that a GroupInfo's posting key is the request's
    (422 otherwise, and 422 for a malformed one or a GroupInfo embedding the tree, which
    MIMI carries beside it) and keeps the GroupInfo as the room's: a new device of a
    member gets it over groupInfo (5.6)."""
    alpha = providers["alpha"]
    evil = MaliciousProvider(providers["beta"], clients["alpha"])
    tag = secrets.token_hex(3)
    alice, bob, gid = await alice_and_bob(clients["alpha"], clients["beta"], tag)
    result, merged, info, key = with_posting_key(alice)

    def req(posting: bytes, group_info: Any) -> m.CommitRequest:
        return m.CommitRequest(epoch=alice.epoch(), commit=result.commit.to_bytes(),
                               posting_key=posting,
                               group_info=MLSMessage.wrap(group_info).to_bytes())

    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    r = await alice.call("POST", group_path(gid, "/commits"), req(other, info), expect=422)
    assert "posting key is not the commit's" in r.json()["message"]
    r = await alice.call("POST", group_path(gid, "/commits"),
                         req(key, swap_posting_key(info, key[:31])), expect=422)
    assert "not 32 octets" in r.json()["message"]
    with_tree = g.group_info(merged, extra=(app_data_extension([posting_key_component(key)]),))
    r = await alice.call("POST", group_path(gid, "/commits"), req(key, with_tree.message),
                         expect=422)
    assert "omits the ratchet tree" in r.json()["message"]
    await alice.call("POST", group_path(gid, "/commits"), req(key, info), expect=201)
    alice.state = merged
    raw, _ = group_info_request(f"{bob.account}/newdevice")
    answer = w.GroupInfoResponse.from_bytes(
        (await evil.send(alpha, room_path("groupInfo", gid), raw)).content)
    assert answer.status == w.GroupInfoCode.SUCCESS
