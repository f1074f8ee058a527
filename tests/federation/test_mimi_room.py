"""The MIMI room endpoints between live providers (issue 22, draft-ietf-mimi-protocol-06
5.3 to 5.6): gamma.test, signing with its real provider key, hands alpha.test (the hub
of a room) what its user carol sends; alpha orders it through its one acceptance path
and fans it out. What a peer may not do there (speak for users it does not host, reach
another hub's room, desynchronise the hub) is what the T08 tests check.
"""

from __future__ import annotations

import dataclasses
import secrets
from urllib.parse import quote

import httpx

from accord.mls import group as g
from accord.mls.structs.messages import MLSMessage
from accord.wire import mimi as w
from tests.federation.groups import join_from_queue, user
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
    seen = len(await alice.wait_items(0))
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
    items = await alice.wait_items(0)
    assert [i.body for i in items if i.kind == "application"] == [once.to_bytes()]
