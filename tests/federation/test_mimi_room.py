"""The MIMI room endpoints between live providers (issue 22, draft-ietf-mimi-protocol-06
5.3 to 5.6): gamma.test, signing with its real provider key, hands alpha.test (the hub
of a room) what its user carol sends; alpha orders it through its one acceptance path
and fans it out. What a peer may not do there (speak for users it does not host, reach
another hub's room, desynchronise the hub) is what the T08 tests check.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.mls import group as g
from accord.mls.structs.messages import MLSMessage
from accord.mls.structs.welcome import GroupInfo
from accord.wire import mimi as w
from tests.federation.groups import alice_and_bob, join_from_queue, user
from tests.federation.malicious_provider import MaliciousProvider
from tests.federation.providers import MlsDevice, Provider


def _error(r: httpx.Response, status: int, code: str, words: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"] == code and words in r.json()["message"], r.text


def room_path(key: str, group_id: bytes, hub: str = "alpha.test") -> str:
    return f"/mimi/v1/{key}/" + quote(w.mimi_room_uri(hub, group_id), safe="")


async def room_with_carol(clients: dict[str, httpx.AsyncClient]
                          ) -> tuple[MlsDevice, MlsDevice, bytes, str]:
    """alice@alpha's room (alpha hubs it) with carol@gamma in it."""
    tag = secrets.token_hex(3)
    alice = await user(clients["alpha"], f"alice{tag}@alpha.test")
    carol = await user(clients["gamma"], f"carol{tag}@gamma.test")
    gid = secrets.token_bytes(16)
    await alice.create_group(gid)
    await alice.commit_add(await alice.claim(carol.account))
    await join_from_queue(carol)
    return alice, carol, gid, tag


def private(dev: MlsDevice, text: bytes) -> MLSMessage:
    msg, dev.state = g.protect(dev.state, text)
    return msg


def submit(msg: MLSMessage, sender: str) -> bytes:
    return w.SubmitMessageRequest(w.MLS10, msg, w.IdentifierUri.of(sender)).to_bytes()


async def test_T11_mimi_submit_is_ordered_and_fanned_out_without_its_sender(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    alpha = providers["alpha"]
    alice, carol, gid, _ = await room_with_carol(clients)
    seen = len((await alice.fetch()).items)
    r = await evil.send(alpha, room_path("submitMessage", gid),
                        submit(private(carol, b"hello over MIMI"), w.mimi_user_uri(carol.account)))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == w.MEDIA_TYPE
    resp = w.SubmitMessageResponse.from_bytes(r.content)
    assert resp.status_code == w.SubmitResponseCode.ACCEPTED
    assert resp.accepted_timestamp is not None and resp.frank is not None
    item = (await alice.wait_items(seen + 1))[-1]
    assert (item.kind, item.sender, item.created_at) == (
        "application", None, resp.accepted_timestamp)
    assert alice.read(item.body) == b"hello over MIMI"


async def test_T08_mimi_submit_only_for_a_member_user_the_peer_hosts(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    alpha = providers["alpha"]
    alice, carol, gid, tag = await room_with_carol(clients)
    carol_uri = w.mimi_user_uri(carol.account)
    path = room_path("submitMessage", gid)
    # gamma speaks for alpha's own member
    _error(await evil.send(alpha, path, submit(private(carol, b"x"), w.mimi_user_uri(
        alice.account))), 422, "validation_error", "requester is not an account of the")
    # a gamma user who is no member of the room
    _error(await evil.send(alpha, path, submit(private(carol, b"x"),
                                               f"mimi://gamma.test/u/mallory{tag}")),
           401, "auth_error", "no member device hosted by the requesting provider")
    # a room another provider hubs; a room alpha does not have
    _error(await evil.send(alpha, room_path("submitMessage", gid, "beta.test"),
                           submit(private(carol, b"x"), carol_uri)),
           404, "not_found", "not the hub of this room")
    _error(await evil.send(alpha, room_path("submitMessage", secrets.token_bytes(16)),
                           submit(private(carol, b"x"), carol_uri)), 404, "not_found", "")
    # a room where gamma hosts no member: alice's other room
    other = secrets.token_bytes(16)
    await alice.create_group(other)
    msg = private(carol, b"x")
    moved = MLSMessage(msg.version, dataclasses.replace(msg.message, group_id=other))
    _error(await evil.send(alpha, room_path("submitMessage", other), submit(moved, carol_uri)),
           401, "auth_error", "no member device hosted by the requesting provider")
    # the message names another group than the path's room
    _error(await evil.send(alpha, path, submit(moved, carol_uri)), 422, "validation_error",
           "another group or epoch")
    # not signed by a provider at all
    r = await clients["alpha"].post(path, content=submit(private(carol, b"x"), carol_uri))
    assert r.status_code == 401, r.text


async def test_T08_mimi_submit_cannot_desynchronise_the_hub(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """A replayed message, a stale epoch, an epoch the hub has not reached, a handshake
    message posing as an application message: none is fanned out."""
    alpha = providers["alpha"]
    alice, carol, gid, tag = await room_with_carol(clients)
    carol_uri = w.mimi_user_uri(carol.account)
    path = room_path("submitMessage", gid)
    once = private(carol, b"once")
    body = submit(once, carol_uri)
    assert (await evil.send(alpha, path, body)).status_code == 200
    _error(await evil.send(alpha, path, body), 409, "conflict", "replay")
    # an epoch ahead of the hub's: notAllowed
    msg = private(carol, b"ahead")
    ahead = MLSMessage(msg.version, dataclasses.replace(msg.message, epoch=msg.message.epoch + 5))
    r = await evil.send(alpha, path, submit(ahead, carol_uri))
    assert w.SubmitMessageResponse.from_bytes(r.content).status_code == (
        w.SubmitResponseCode.NOT_ALLOWED)
    # alice adds a member: carol's epoch is closed (a change of members), epochTooOld
    stale = private(carol, b"stale")
    dave = await user(clients["beta"], f"dave{tag}@beta.test")
    await alice.commit_add(await alice.claim(dave.account))
    r = await evil.send(alpha, path, submit(stale, carol_uri))
    resp = w.SubmitMessageResponse.from_bytes(r.content)
    assert (resp.status_code, resp.current_epoch) == (
        w.SubmitResponseCode.EPOCH_TOO_OLD, alice.epoch())
    # a KeyPackage is no application message
    kp = MLSMessage.from_bytes(carol.new_key_package())
    _error(await evil.send(alpha, path, submit(kp, carol_uri)), 422, "validation_error",
           "PrivateMessage")
    items = (await alice.fetch()).items
    assert [i.body for i in items if i.kind == "application"] == [once.to_bytes()]


# ------------------------------------------------------------------ 5.5 fanout (notify)

def fanout(*messages: MLSMessage, at: int = 1_700_000_000_000,
           frank: bytes | None = None) -> bytes:
    return w.FanoutBatch(tuple(
        w.FanoutMessage(at, msg, frank=w.MaybeFrank(None if frank is None else w.Frank(
            frank, 0, b"")) if msg.content_type == 1 else None,
            more_proposals=() if msg.content_type in (2, 3) else None)
        for msg in messages)).to_bytes()


async def gamma_room_with_bob(clients: dict[str, httpx.AsyncClient]
                              ) -> tuple[MlsDevice, MlsDevice, bytes]:
    """carol@gamma's room (gamma hubs it) with bob@beta in it: beta follows it."""
    tag = secrets.token_hex(3)
    carol = await user(clients["gamma"], f"carol{tag}@gamma.test")
    bob = await user(clients["beta"], f"bob{tag}@beta.test")
    gid = secrets.token_bytes(16)
    await carol.create_group(gid)
    await carol.commit_add(await carol.claim(bob.account))
    await join_from_queue(bob)
    return carol, bob, gid


async def test_T08_mimi_fanout_from_the_rooms_hub_reaches_its_members_once(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    beta = providers["beta"]
    carol, bob, gid = await gamma_room_with_bob(clients)
    seen = len((await bob.fetch()).items)
    tag = secrets.token_bytes(32)
    one, two = private(carol, b"first"), private(carol, b"second")
    body = fanout(one, two, frank=tag)
    r = await evil.send(beta, room_path("notify", gid, "gamma.test"), body)
    assert r.status_code == 201 and r.content == b"", r.text
    # the same bytes again (a hub's retry): 201, filed once (5.5)
    assert (await evil.send(beta, room_path("notify", gid, "gamma.test"), body)
            ).status_code == 201
    items = await bob.wait_items(seen + 2)
    assert [(i.kind, i.sender, i.frank) for i in items[seen:]] == [
        ("application", None, w.Frank(tag, 0, b"").to_bytes())] * 2
    assert [bob.read(i.body) for i in items[seen:]] == [b"first", b"second"]
    assert len((await bob.fetch()).items) == seen + 2


async def test_T08_mimi_fanout_only_from_the_hub_of_a_followed_room(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """gamma fans out into a room alpha hubs (in its own name or the room's), into a room
    beta does not follow, a message of another room, a handshake message: refused."""
    beta = providers["beta"]
    tag = secrets.token_hex(3)
    alice, bob, gid = await alice_and_bob(clients["alpha"], clients["beta"], tag)
    seen = len((await bob.fetch()).items)
    forged = private(alice, b"not from gamma")
    _error(await evil.send(beta, room_path("notify", gid, "alpha.test"), fanout(forged)),
           401, "auth_error", "only the room's hub fans out")
    _error(await evil.send(beta, room_path("notify", gid, "gamma.test"), fanout(forged)),
           401, "auth_error", "not the hub of that group")
    _error(await evil.send(beta, room_path("notify", secrets.token_bytes(16), "gamma.test"),
                           fanout(forged)), 404, "not_found", "")
    carol, _, own = await gamma_room_with_bob(clients)
    _error(await evil.send(beta, room_path("notify", own, "gamma.test"), fanout(forged)),
           422, "validation_error", "another group or epoch")
    _error(await evil.send(beta, room_path("notify", own, "gamma.test"), b""), 400,
           "decode_error", "")
    assert len((await bob.fetch()).items) == seen


async def test_T08_a_room_followed_over_accords_route_takes_no_mimi_fanout(
    accord_providers: dict[str, Provider], accord_clients: dict[str, httpx.AsyncClient],
) -> None:
    """Under --accord-transport beta follows gamma's room through Accord's own fan-out and
    keeps no MIMI view of it (a Welcome with the room's tree starts one:
    test_mimi_fanout.py): a MIMI commit fan-out for it is refused, even from its hub."""
    evil = MaliciousProvider(accord_providers["gamma"], accord_clients["alpha"])
    carol, bob, own = await gamma_room_with_bob(accord_clients)
    seen = len((await bob.fetch()).items)
    commit = g.commit(carol.state, now=int(time.time()), by_value=[])[0].commit
    _error(await evil.send(accord_providers["beta"], room_path("notify", own, "gamma.test"),
                           fanout(commit)), 404, "not_found", "follows no such room over MIMI")
    assert len((await bob.fetch()).items) == seen


# ------------------------------------------------------------------ 5.3 update room

def commit_bundle(dev: MlsDevice, proposals: tuple[Any, ...] = (),
                  info: Callable[[GroupInfo], GroupInfo] | None = None
                  ) -> tuple[bytes, Any, MLSMessage]:
    """A member's commit as a MIMI HandshakeBundle (Welcome, GroupInfo, the whole ratchet
    tree); the state it leads to; the commit. The tree is inline in the Welcome as well:
    Accord's devices join from the Welcome alone (docs/INTEROP.md)."""
    result, pending = g.commit(dev.state, now=int(time.time()), by_value=list(proposals),
                               force_path=True, inline_tree=True)
    merged = g.merge_pending(pending)
    # 5.3: "Both the Welcome and GroupInfo omit the ratchet_tree" (it rides beside them)
    group_info = g.group_info(merged, with_tree=False).message
    if info is not None:
        group_info = info(group_info)
    welcome = None if result.welcome is None else result.welcome.message  # 5.3: the struct
    bundle = w.HandshakeBundle(result.commit, w.MaybeWelcome(welcome),
                               w.GroupInfoOption(1, group_info),
                               w.RatchetTreeOption(1, merged.tree.to_ratchet_tree()))
    return w.UpdateRequest(bundle).to_bytes(), merged, result.commit


def update_answer(r: httpx.Response) -> w.UpdateRoomResponse:
    assert r.status_code == 200, r.text
    return w.UpdateRoomResponse.from_bytes(r.content)


async def test_mimi_update_orders_a_members_commit_and_its_welcome(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """carol (gamma) commits in alice's room (alpha hubs it) over MIMI: a path update,
    then the draft's "Bob adds Cathy" with dave of beta; everyone follows, and carol's
    next message (over MIMI) is read by all."""
    from accord.mls.codec import decode as mls_decode
    from accord.mls.structs import Add

    alpha = providers["alpha"]
    alice, carol, gid, tag = await room_with_carol(clients)
    path = room_path("update", gid)
    seen = len((await alice.fetch()).items)
    body, merged, commit = commit_bundle(carol)
    resp = update_answer(await evil.send(alpha, path, body))
    assert (resp.response_code, resp.error_description) == (w.UpdateResponseCode.SUCCESS, b"")
    carol.state = merged
    item = (await alice.wait_items(seen + 1))[-1]
    assert (item.kind, item.body) == ("commit", commit.to_bytes())
    alice.read(item.body)
    assert alice.epoch() == carol.epoch() == 2
    dave = await user(clients["beta"], f"dave{tag}@beta.test")
    [claimed] = await carol.claim(dave.account)
    add = Add(mls_decode(MLSMessage, claimed.key_package).message)
    body, merged, _ = commit_bundle(carol, (add,))
    assert update_answer(await evil.send(alpha, path, body)).response_code == 0
    carol.state = merged
    await join_from_queue(dave)
    alice.read((await alice.wait_items(seen + 2))[-1].body)
    r = await evil.send(alpha, room_path("submitMessage", gid),
                        submit(private(carol, b"welcome, dave"), w.mimi_user_uri(carol.account)))
    assert w.SubmitMessageResponse.from_bytes(r.content).status_code == 0
    assert alice.read((await alice.wait_items(seen + 3))[-1].body) == b"welcome, dave"
    dave_items = await dave.wait_items(1)
    assert dave.read(dave_items[-1].body) == b"welcome, dave"


async def test_T08_mimi_update_cannot_desynchronise_the_hub(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """A replayed or stale commit is wrongEpoch; a commit from alice's leaf (a member
    gamma does not host), from no member, with a GroupInfo that is not the new epoch's,
    or for another hub's room is refused, and the hub's epoch does not move."""
    alpha = providers["alpha"]
    alice, carol, gid, _ = await room_with_carol(clients)
    path = room_path("update", gid)
    body, merged, _ = commit_bundle(carol)
    stale_body, _, _ = commit_bundle(carol)  # a second commit of the same epoch
    assert update_answer(await evil.send(alpha, path, body)).response_code == 0
    carol.state = merged
    for again in (body, stale_body):
        resp = update_answer(await evil.send(alpha, path, again))
        assert (resp.response_code, resp.current_epoch) == (
            w.UpdateResponseCode.WRONG_EPOCH, 2)
    # alice's own leaf: gamma does not host it
    alice.read(((await alice.fetch()).items)[-1].body)
    _error(await evil.send(alpha, path, commit_bundle(alice)[0]), 401, "auth_error",
           "not a member device hosted by the requesting provider")
    # no member at that leaf
    forged = w.UpdateRequest.from_bytes(commit_bundle(carol)[0])
    msg = forged.bundle.proposal_or_commit.message
    content = dataclasses.replace(msg.content, sender=dataclasses.replace(
        msg.content.sender, index=9))
    nobody = dataclasses.replace(forged.bundle, proposal_or_commit=MLSMessage(
        1, dataclasses.replace(msg, content=content)))
    _error(await evil.send(alpha, path, w.UpdateRequest(nobody).to_bytes()), 401,
           "auth_error", "not a member of this room")
    # a GroupInfo of another epoch; one whose signature does not verify
    def other_epoch(i: GroupInfo) -> GroupInfo:
        return dataclasses.replace(i, group_context=dataclasses.replace(i.group_context,
                                                                        epoch=9))

    def unsigned(i: GroupInfo) -> GroupInfo:
        return dataclasses.replace(i, signature=bytes(64))

    for bad, words in ((other_epoch, "GroupContext is not the new epoch's"),
                       (unsigned, "signature does not verify")):
        resp = update_answer(await evil.send(alpha, path, commit_bundle(carol, info=bad)[0]))
        assert resp.response_code == w.UpdateResponseCode.NOT_ALLOWED
        assert words in resp.error_description.decode(), resp
    # a tampered commit: the MLS checks refuse it
    tampered = w.UpdateRequest.from_bytes(commit_bundle(carol)[0])
    msg = tampered.bundle.proposal_or_commit.message
    broken = dataclasses.replace(tampered.bundle, proposal_or_commit=MLSMessage(
        1, dataclasses.replace(msg, signature=bytes(len(msg.signature)))))
    resp = update_answer(await evil.send(alpha, path, w.UpdateRequest(broken).to_bytes()))
    assert resp.response_code == w.UpdateResponseCode.NOT_ALLOWED
    # another hub's room
    _error(await evil.send(alpha, room_path("update", gid, "beta.test"), body), 404,
           "not_found", "not the hub of this room")
    # after all that the hub is where carol is: her next commit is taken
    body, merged, _ = commit_bundle(carol)
    assert update_answer(await evil.send(alpha, path, body)).response_code == 0


async def test_T08_mimi_update_proposals_only_for_members_the_peer_hosts(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """carol's proposal over MIMI is ordered; a bundle that also carries alice's (a
    member gamma does not host) is refused whole; carol's commit then takes her
    proposal by reference, which the hub resolves from what it accepted."""
    alpha = providers["alpha"]
    alice, carol, gid, _ = await room_with_carol(clients)
    path = room_path("update", gid)
    seen = len((await alice.fetch()).items)
    mine, carol.state = g.propose_update(carol.state)
    ok = w.UpdateRequest(w.HandshakeBundle(mine, more_proposals=())).to_bytes()
    assert update_answer(await evil.send(alpha, path, ok)).response_code == 0
    item = (await alice.wait_items(seen + 1))[-1]
    assert (item.kind, item.body) == ("proposal", mine.to_bytes())
    alice.read(item.body)
    again, _ = g.propose_update(carol.state)
    theirs, _ = g.propose_update(alice.state)
    mixed = w.UpdateRequest(w.HandshakeBundle(again, more_proposals=(theirs,))).to_bytes()
    _error(await evil.send(alpha, path, mixed), 401, "auth_error",
           "not a member device hosted by the requesting provider")
    assert len((await alice.fetch()).items) == seen + 1  # neither was taken
    body, merged, _ = commit_bundle(carol)  # commits her cached proposal by reference
    assert update_answer(await evil.send(alpha, path, body)).response_code == 0
    alice.read((await alice.wait_items(seen + 2))[-1].body)
    assert alice.epoch() == merged.context.epoch



N_AT_ONCE = 8  # SelfRemoves of carol's sent at once


async def test_T08_of_self_removes_sent_at_once_the_hub_takes_one(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """carol asks to leave many times at once (SelfRemoves of one epoch, over MIMI): the
    hub reads each beside the epoch's accepted proposals in the proposal's own
    transaction, so it takes exactly one (draft-ietf-mls-extensions 5.3). (Checked
    before that transaction, PostgreSQL took them all.)"""
    from accord.mls.structs import SelfRemove

    alpha = providers["alpha"]
    alice, carol, gid, _ = await room_with_carol(clients)
    path = room_path("update", gid)
    seen = len((await alice.fetch()).items)
    asks = [g.propose(carol.state, SelfRemove(), bytes([n]))[0] for n in range(N_AT_ONCE)]
    bodies = [w.UpdateRequest(w.HandshakeBundle(p, more_proposals=())).to_bytes()
              for p in asks]
    answers = await asyncio.wait_for(
        asyncio.gather(*(evil.send(alpha, path, body) for body in bodies)), 30)
    codes = sorted(update_answer(r).response_code for r in answers)
    assert codes == [w.UpdateResponseCode.SUCCESS] + [
        w.UpdateResponseCode.INVALID_PROPOSAL] * (N_AT_ONCE - 1), answers
    refused = next(update_answer(r) for r in answers if update_answer(r).response_code)
    assert b"second SelfRemove" in refused.error_description
    items = (await alice.fetch()).items
    assert [i.kind for i in items[seen:]] == ["proposal"]


async def test_mimi_update_names_the_invalid_proposals(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """Proposals the MLS rules refuse are ``invalidProposal`` with their ProposalRefs, as
    the draft tells them from ``notAllowed`` (5.3): a bundle of carol's two SelfRemoves
    (a member's second in an epoch, draft-ietf-mls-extensions 5.3) is refused whole,
    naming the second; the first alone is taken, the second is named again; her commit
    referring to a proposal the hub never accepted names that reference. A proposal
    whose signature does not verify is no invalid proposal: ``notAllowed``."""
    from accord.federation.mls_check import proposal_ref
    from accord.mls.structs import SelfRemove

    alpha = providers["alpha"]
    alice, carol, gid, _ = await room_with_carol(clients)
    path = room_path("update", gid)
    invalid = w.UpdateResponseCode.INVALID_PROPOSAL
    first, state = g.propose_self_remove(carol.state)
    second, _ = g.propose(state, SelfRemove(), b"again")

    def bundle(*proposals: MLSMessage) -> bytes:
        return w.UpdateRequest(w.HandshakeBundle(proposals[0], more_proposals=proposals[1:])
                               ).to_bytes()

    def named(resp: w.UpdateRoomResponse) -> tuple[int, tuple[bytes, ...] | None]:
        return resp.response_code, resp.invalid_proposals

    seen = len((await alice.fetch()).items)
    resp = update_answer(await evil.send(alpha, path, bundle(first, second)))
    assert named(resp) == (invalid, (proposal_ref(second.to_bytes(), 1),))
    assert b"second SelfRemove" in resp.error_description  # and neither was taken:
    assert update_answer(await evil.send(alpha, path, bundle(first))).response_code == 0
    resp = update_answer(await evil.send(alpha, path, bundle(second)))
    assert named(resp) == (invalid, (proposal_ref(second.to_bytes(), 1),))
    unsent, carol.state = g.propose_remove(carol.state, 0)
    body, _, _ = commit_bundle(carol)  # refers to its cached Remove, which the hub never saw
    resp = update_answer(await evil.send(alpha, path, body))
    assert named(resp) == (invalid, (proposal_ref(unsent.to_bytes(), 1),))
    msg = second.message
    forged = MLSMessage(1, dataclasses.replace(msg, signature=bytes(len(msg.signature))))
    resp = update_answer(await evil.send(alpha, path, bundle(forged)))
    assert resp.response_code == w.UpdateResponseCode.NOT_ALLOWED
    assert b"signature does not verify" in resp.error_description
    assert [i.kind for i in (await alice.fetch()).items[seen:]] == ["proposal"]  # the first

# ------------------------------------------------------------------ 5.6 claim group info

def group_info_request(identity: str, *, suite: int = 1, joining_code: bytes | None = None
                       ) -> tuple[bytes, bytes]:
    """A signed GroupInfoRequest for a device named ``identity``; the HPKE private key."""
    from accord.mls.structs import Credential
    from accord.mls.suites import get_suite

    cs = get_suite(1)
    sig_priv, sig_pub = cs.generate_signature_key_pair()
    hpke_priv, hpke_pub = cs.generate_hpke_key_pair()
    req = w.GroupInfoRequest(w.MLS10, suite, sig_pub, Credential.basic(identity.encode()),
                             hpke_pub, joining_code, b"")
    req = dataclasses.replace(req, signature=cs.sign_with_label(sig_priv, req.SIGN_LABEL,
                                                                 req.tbs()))
    return req.to_bytes(), hpke_priv


async def test_T08_mimi_group_info_for_a_members_new_device_only(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """After carol's commit over MIMI the hub keeps its GroupInfo: gamma claims it for
    carol's new device, encrypted to that device and signed by alpha. A gamma user with
    no device in the room, alpha's user, a forged request, a joining code, another
    hub's room, or a GroupInfo an Accord commit made stale get nothing."""
    from accord.mls.suites import get_suite

    alpha = providers["alpha"]
    alice, carol, gid, tag = await room_with_carol(clients)
    path = room_path("groupInfo", gid)
    new_device = f"{carol.account}/newdevice{tag}"
    body, merged, _ = commit_bundle(carol)
    assert update_answer(await evil.send(alpha, room_path("update", gid), body)
                         ).response_code == 0
    carol.state = merged
    sent = w.UpdateRequest.from_bytes(body).bundle.group_info_option.group_info
    raw, hpke_priv = group_info_request(new_device)
    r = await evil.send(alpha, path, raw)
    assert r.status_code == 200, r.text
    resp = w.GroupInfoResponse.from_bytes(r.content)
    assert (resp.status, resp.room_id) == (w.GroupInfoCode.SUCCESS,
                                           w.mimi_room_uri("alpha.test", gid).encode())
    suite = get_suite(1)
    assert resp.hub_sender.signature_key == alpha.key().public
    suite.verify_with_label(resp.hub_sender.signature_key, resp.SIGN_LABEL, resp.tbs(),
                            resp.signature)
    ct = resp.encrypted_groupinfo_and_tree
    tbe = w.GroupInfoRatchetTreeTBE.from_bytes(suite.decrypt_with_label(
        hpke_priv, resp.ENCRYPT_LABEL, resp.room_id, ct.kem_output, ct.ciphertext))
    assert tbe.group_info == sent
    assert tbe.ratchet_tree_option.ratchet_tree == merged.tree.to_ratchet_tree()
    assert tbe.pending_proposals == ()

    async def status(raw: bytes, room: str = path) -> int:
        r = await evil.send(alpha, room, raw)
        assert r.status_code == 200, r.text
        return w.GroupInfoResponse.from_bytes(r.content).status

    refused = w.GroupInfoCode.NOT_AUTHORIZED
    assert await status(group_info_request(f"mallory{tag}@gamma.test/d1")[0]) == refused
    assert await status(group_info_request(new_device, joining_code=b"open")[0]) == refused
    assert await status(group_info_request(new_device)[0], room_path(
        "groupInfo", secrets.token_bytes(16))) == refused
    _error(await evil.send(alpha, path, group_info_request(f"{alice.account}/x")[0]), 422,
           "validation_error", "requester is not an account of the requesting provider")
    forged = w.GroupInfoRequest.from_bytes(group_info_request(new_device)[0])
    _error(await evil.send(alpha, path, dataclasses.replace(forged, signature=bytes(64))
                           .to_bytes()), 401, "auth_error", "signature does not verify")
    _error(await evil.send(alpha, room_path("groupInfo", gid, "beta.test"), raw), 404,
           "not_found", "not the hub of this room")
    # alice commits without a GroupInfo (as an earlier Accord client did): the kept one is
    # stale now
    alice.read(((await alice.fetch()).items)[-1].body)
    await alice.commit_proposals([], [], [], with_info=False)
    _error(await evil.send(alpha, path, group_info_request(new_device)[0]), 409, "conflict",
           "no GroupInfo of the room's current epoch")


async def claim_group_info(evil: MaliciousProvider, alpha: Provider, gid: bytes,
                           dev: MlsDevice) -> w.GroupInfoRatchetTreeTBE:
    """The room's GroupInfo, tree and pending proposals, claimed by gamma for ``dev``
    (its own credential and key, 5.6) and opened with the request's HPKE key."""
    from accord.mls.structs import Credential
    from accord.mls.suites import get_suite

    suite = get_suite(1)
    hpke_priv, hpke_pub = suite.generate_hpke_key_pair()
    req = w.GroupInfoRequest(w.MLS10, 1, dev.public, Credential.basic(dev.identity),
                             hpke_pub, None, b"")
    req = dataclasses.replace(req, signature=suite.sign_with_label(
        dev.key.private_bytes_raw(), req.SIGN_LABEL, req.tbs()))
    r = await evil.send(alpha, room_path("groupInfo", gid), req.to_bytes())
    resp = w.GroupInfoResponse.from_bytes(r.content)
    assert resp.status == w.GroupInfoCode.SUCCESS, resp
    ct = resp.encrypted_groupinfo_and_tree
    return w.GroupInfoRatchetTreeTBE.from_bytes(suite.decrypt_with_label(
        hpke_priv, resp.ENCRYPT_LABEL, resp.room_id, ct.kem_output, ct.ciphertext))


def external_commit(tbe: w.GroupInfoRatchetTreeTBE, identity: bytes, key: Any,
                    remove_leaf: int | None = None, psks: dict[bytes, bytes] | None = None
                    ) -> tuple[bytes, Any]:
    """An external commit of the device ``identity`` (signing with ``key``) from a
    claimed GroupInfo, as a MIMI update with the new epoch's GroupInfo and tree; the
    joiner's state."""
    from accord.mls.structs import Credential

    commit, state = g.join_external(
        tbe.group_info, Credential.basic(identity), key.private_bytes_raw(), int(time.time()),
        ratchet_tree=tbe.ratchet_tree_option.ratchet_tree, remove_leaf=remove_leaf, psks=psks,
        self_removes=tuple(p.proposal for p in tbe.pending_proposals))
    info = g.group_info(state, with_tree=False).message
    bundle = w.HandshakeBundle(commit, w.MaybeWelcome(None), w.GroupInfoOption(1, info),
                               w.RatchetTreeOption(1, state.tree.to_ratchet_tree()))
    return w.UpdateRequest(bundle).to_bytes(), state


async def test_mimi_update_takes_a_member_users_new_device_by_external_commit(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """The draft's "Cathy adds a new device" (3.6): carol's second device (gamma) claims
    the room's GroupInfo and joins by an external commit over MIMI. The hub orders it
    as any commit: alice and carol's first device process it and read the new device's
    message, and the new device gets the room's next messages."""
    alpha = providers["alpha"]
    alice, carol, gid, _ = await room_with_carol(clients)
    path = room_path("update", gid)
    body, carol.state, _ = commit_bundle(carol)  # the hub keeps its GroupInfo
    assert update_answer(await evil.send(alpha, path, body)).response_code == 0
    seen_alice, seen_carol = len((await alice.fetch()).items), len((await carol.fetch()).items)
    alice.read((await alice.fetch()).items[-1].body)
    carol2 = await carol.link(MlsDevice(clients["gamma"], carol.account))
    body, carol2.state = external_commit(await claim_group_info(evil, alpha, gid, carol2),
                                         carol2.identity, carol2.key)
    resp = update_answer(await evil.send(alpha, path, body))
    assert (resp.response_code, resp.error_description) == (w.UpdateResponseCode.SUCCESS, b"")
    commit = w.UpdateRequest.from_bytes(body).bundle.proposal_or_commit.to_bytes()
    for dev, seen in ((alice, seen_alice), (carol, seen_carol)):
        item = (await dev.wait_items(seen + 1))[-1]
        assert (item.kind, item.body) == ("commit", commit)
        dev.read(item.body)
        assert dev.epoch() == carol2.epoch() == 3
        assert dev.state.tree.leaf(2).credential.identity == carol2.identity
    r = await evil.send(alpha, room_path("submitMessage", gid),
                        submit(private(carol2, b"my new phone"), w.mimi_user_uri(carol.account)))
    assert w.SubmitMessageResponse.from_bytes(r.content).status_code == 0
    for dev, seen in ((alice, seen_alice), (carol, seen_carol)):
        assert dev.read((await dev.wait_items(seen + 2))[-1].body) == b"my new phone"
    # alice's Accord commit (a MIMI commit carries no posting key), then her post
    await alice.commit_proposals([], [], [])
    await alice.post(b"hello, new phone")
    items = await carol2.wait_items(3)  # its own message first (T11: no sender)
    assert [i.kind for i in items] == ["application", "commit", "application"]
    carol2.read(items[1].body)
    assert carol2.read(items[2].body) == b"hello, new phone"


async def test_T08_mimi_external_commit_only_for_a_new_device_of_a_member_user(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """From the GroupInfo carol's new device claimed, gamma cannot join the room for its
    user with no device in it, nor for alice (a user it does not host), nor let the new
    device remove alice's leaf or carol's other one, nor do more than join (a PSK);
    after one join, another from that GroupInfo is wrongEpoch, at the epoch after the
    join: none of the refused ones moved the hub."""
    alpha = providers["alpha"]
    alice, carol, gid, tag = await room_with_carol(clients)
    path = room_path("update", gid)
    body, carol.state, _ = commit_bundle(carol)
    assert update_answer(await evil.send(alpha, path, body)).response_code == 0
    carol2 = await carol.link(MlsDevice(clients["gamma"], carol.account))
    tbe = await claim_group_info(evil, alpha, gid, carol2)
    mallory = await user(clients["gamma"], f"mallory{tag}@gamma.test")
    _error(await evil.send(alpha, path, external_commit(tbe, mallory.identity, mallory.key)[0]),
           401, "auth_error", "no member device hosted by the requesting provider")
    _error(await evil.send(alpha, path, external_commit(
        tbe, f"{alice.account}/phone{tag}".encode(), carol2.key)[0]),
        401, "auth_error", "not hosted by the requesting provider")
    for leaf, words in ((0, b"a leaf of another client"),  # alice's
                        (1, b"a leaf of another client"),  # carol's first device
                        (None, b"an external commit only joins")):  # with a PSK
        psks = {b"psk": bytes(32)} if leaf is None else None
        resp = update_answer(await evil.send(alpha, path, external_commit(
            tbe, carol2.identity, carol2.key, remove_leaf=leaf, psks=psks)[0]))
        assert resp.response_code == w.UpdateResponseCode.NOT_ALLOWED
        assert words in resp.error_description, resp
    body, carol2.state = external_commit(tbe, carol2.identity, carol2.key)
    assert update_answer(await evil.send(alpha, path, body)).response_code == 0
    carol3 = await carol.link(MlsDevice(clients["gamma"], carol.account))
    resp = update_answer(await evil.send(alpha, path, external_commit(
        tbe, carol3.identity, carol3.key)[0]))
    assert (resp.response_code, resp.current_epoch) == (w.UpdateResponseCode.WRONG_EPOCH, 3)


async def test_T08_an_accord_device_of_a_member_user_joins_by_external_commit(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    """The same join through Accord's own device route, at the hub: alice's second
    device commits externally (from a GroupInfo alice's first device hands it: Accord
    has no client route for one) with its epoch's posting key; carol follows and reads
    its post. Alice's device cannot join as another device, and mallory, with no
    device in the room, learns nothing (T08)."""
    from accord.mls.structs import Credential
    from accord.wire import messages as m
    from tests.harness import group_path

    alice, carol, gid, tag = await room_with_carol(clients)
    info = g.group_info(alice.state)
    seen = len((await carol.fetch()).items)

    async def join(dev: MlsDevice, identity: bytes, expect: int) -> Any:
        commit, state = g.join_external(info, Credential.basic(identity),
                                        dev.key.private_bytes_raw(), int(time.time()))
        seed = g.export_secret(state, "accord posting key", b"", 32)
        posting = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
        req = m.CommitRequest(epoch=alice.epoch(), commit=bytes(commit.to_bytes()),
                              posting_key=posting)
        await dev.call("POST", group_path(gid, "/commits"), req, expect=expect)
        return state

    mallory = await user(clients["alpha"], f"mallory{tag}@alpha.test")
    await join(mallory, mallory.identity, 404)
    alice2 = await alice.link(MlsDevice(clients["alpha"], alice.account))
    await join(alice2, f"{alice.account}/{alice.device_id}".encode(), 401)
    alice2.state = await join(alice2, alice2.identity, 201)
    commit = (await carol.wait_items(seen + 1))[-1]
    assert commit.kind == "commit"
    carol.read(commit.body)
    assert carol.epoch() == alice2.epoch() == 2
    await alice2.post(b"from my laptop")
    assert carol.read((await carol.wait_items(seen + 2))[-1].body) == b"from my laptop"

# ------------------------------------------------------------------ 5.7 consent

Op = w.ConsentOperation


def consent(op: int, requester: str, target: str, room: str | None = None) -> bytes:
    return w.ConsentEntry(op, w.IdentifierUri.of(requester), w.IdentifierUri.of(target),
                          None if room is None else w.IdentifierUri.of(room),
                          () if op == Op.GRANT else None).to_bytes()


async def requests_of(dev: MlsDevice) -> dict[str, str]:
    r = await dev.call("GET", "/v1/requests", expect=200)
    return {x["group_id"]: x["from_account"] for x in r.json()["requests"]}


async def test_T14_mimi_consent_request_is_a_message_request_the_user_answers(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """gamma's carol asks beta's bob for consent for a room: bob sees a message request
    from her, which her cancel withdraws; a block keeps it out; a Welcome of that room
    from another inviter replaces it (bob answers whoever invites him), and a cancel
    does not withdraw a Welcome's request."""
    from accord.wire import b64e

    beta = providers["beta"]
    tag = secrets.token_hex(3)
    bob = await user(clients["beta"], f"bob{tag}@beta.test")
    carol = await user(clients["gamma"], f"carol{tag}@gamma.test")
    zed = await user(clients["gamma"], f"zed{tag}@gamma.test")
    bob_uri, carol_uri = w.mimi_user_uri(bob.account), w.mimi_user_uri(carol.account)
    gid = secrets.token_bytes(16)
    room = w.mimi_room_uri("gamma.test", gid)
    path = "/mimi/v1/requestConsent/" + quote(bob_uri, safe="")
    r = await evil.send(beta, path, consent(Op.REQUEST, carol_uri, bob_uri, room))
    assert r.status_code == 201 and r.content == b"", r.text
    assert await requests_of(bob) == {b64e(gid): carol.account}
    r = await evil.send(beta, path, consent(Op.CANCEL, carol_uri, bob_uri, room))
    assert r.status_code == 201 and await requests_of(bob) == {}
    # without a room nothing is recorded: the invitation will be the request
    assert (await evil.send(beta, path, consent(Op.REQUEST, carol_uri, bob_uri))
            ).status_code == 201
    assert await requests_of(bob) == {}
    # an unknown user of beta: 201 all the same
    nobody = w.mimi_user_uri(f"nobody{tag}@beta.test")
    assert (await evil.send(beta, "/mimi/v1/requestConsent/" + quote(nobody, safe=""),
                            consent(Op.REQUEST, carol_uri, nobody, room))).status_code == 201
    # bob blocked carol: her request is acknowledged and dropped
    await bob.call("POST", "/v1/blocks", {"target": carol.account}, expect=200)
    assert (await evil.send(beta, path, consent(Op.REQUEST, carol_uri, bob_uri, room))
            ).status_code == 201
    assert await requests_of(bob) == {}
    await bob.call("DELETE", f"/v1/blocks/{carol.account}", expect=204)
    # zed invites bob to that very room: bob answers zed, and carol cannot cancel it
    assert (await evil.send(beta, path, consent(Op.REQUEST, carol_uri, bob_uri, room))
            ).status_code == 201
    await zed.create_group(gid)
    await zed.commit_add(await zed.claim(bob.account))
    await join_from_queue(bob)
    assert await requests_of(bob) == {b64e(gid): zed.account}
    assert (await evil.send(beta, path, consent(Op.CANCEL, carol_uri, bob_uri, room))
            ).status_code == 201
    assert await requests_of(bob) == {b64e(gid): zed.account}
    # carol's own invitation after her request: her cancel leaves the Welcome's request
    other = secrets.token_bytes(16)
    mine = w.mimi_room_uri("gamma.test", other)
    assert (await evil.send(beta, path, consent(Op.REQUEST, carol_uri, bob_uri, mine))
            ).status_code == 201
    await carol.create_group(other)
    await carol.commit_add(await carol.claim(bob.account))
    await join_from_queue(bob)
    assert (await evil.send(beta, path, consent(Op.CANCEL, carol_uri, bob_uri, mine))
            ).status_code == 201
    assert await requests_of(bob) == {b64e(gid): zed.account, b64e(other): carol.account}


async def test_T08_T14_mimi_consent_only_for_own_users_and_no_bypass(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """A peer asks only as its own users, only about ours; a grant from its user is
    acknowledged and changes nothing: carol's invitation is still a message request."""
    beta = providers["beta"]
    tag = secrets.token_hex(3)
    bob = await user(clients["beta"], f"bob{tag}@beta.test")
    carol = await user(clients["gamma"], f"carol{tag}@gamma.test")
    alice = await user(clients["alpha"], f"alice{tag}@alpha.test")
    bob_uri, carol_uri = w.mimi_user_uri(bob.account), w.mimi_user_uri(carol.account)
    alice_uri = w.mimi_user_uri(alice.account)
    room = w.mimi_room_uri("gamma.test", secrets.token_bytes(16))
    req_path = "/mimi/v1/requestConsent/" + quote(bob_uri, safe="")
    upd_path = "/mimi/v1/updateConsent/" + quote(bob_uri, safe="")
    _error(await evil.send(beta, req_path, consent(Op.REQUEST, alice_uri, bob_uri, room)),
           422, "validation_error", "requester is not an account of the requesting")
    _error(await evil.send(beta, "/mimi/v1/requestConsent/" + quote(alice_uri, safe=""),
                           consent(Op.REQUEST, carol_uri, alice_uri, room)), 404,
           "not_found", "no account")
    _error(await evil.send(beta, req_path, consent(Op.REQUEST, carol_uri, alice_uri, room)),
           422, "validation_error", "targetUri is not the path's")
    _error(await evil.send(beta, req_path, consent(Op.GRANT, carol_uri, bob_uri, room)),
           422, "validation_error", "a request or a cancel")
    _error(await evil.send(beta, upd_path, consent(Op.GRANT, bob_uri, alice_uri)), 422,
           "validation_error", "requester is not an account of the requesting")
    _error(await evil.send(beta, upd_path, consent(Op.REQUEST, bob_uri, carol_uri)), 422,
           "validation_error", "a grant or a revoke")
    _error(await evil.send(beta, upd_path, consent(Op.GRANT, alice_uri, carol_uri)), 422,
           "validation_error", "requesterUri is not the path's")
    r = await evil.send(beta, upd_path, consent(Op.GRANT, bob_uri, carol_uri))
    assert r.status_code == 201 and r.content == b"", r.text
    gid = secrets.token_bytes(16)
    await carol.create_group(gid)
    await carol.commit_add(await carol.claim(bob.account))
    await join_from_queue(bob)
    from accord.wire import b64e

    assert (await requests_of(bob)).get(b64e(gid)) == carol.account  # still a stranger
    r = await clients["beta"].post(req_path, content=consent(Op.REQUEST, carol_uri, bob_uri))
    assert r.status_code == 401, r.text
