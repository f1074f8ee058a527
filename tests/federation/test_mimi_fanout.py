"""A hub's fan-out over MIMI between live providers (issue 22, draft-ietf-mimi-protocol-06
5.5): every provider runs with ``--mimi-transport``, so alpha.test, the hub of alice's
room, hands beta.test every message of the room as FanoutMessages on
``/mimi/v1/notify/{roomId}``, and beta works the room's members out from MLS alone
(the Welcome's ratchet tree, then each commit). What a peer cannot make beta file
(a room it does not hub, a Welcome for no KeyPackage of beta's, a device of beta's
never handed out, a stale epoch) is what the T08 tests check.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from accord.client import alerts, messaging
from accord.client import conversations as convs
from accord.mls import group as g
from accord.mls.codec import decode as mls_decode
from accord.mls.structs import Add
from accord.mls.structs.messages import MLSMessage
from accord.privacy.franking import message_aad
from accord.wire import messages as m
from accord.wire import mimi as w
from accord.wire import signing
from tests.e2e.helpers import Clock
from tests.federation.groups import (
    alice_and_bob,
    arrive,
    bodies,
    join_from_queue,
    people,
    room_of_two,
    until,
    user,
)
from tests.federation.malicious_provider import MaliciousProvider
from tests.federation.providers import MlsDevice, Provider
from tests.harness import group_path


@pytest.fixture(scope="module")
def providers(mimi_providers: dict[str, Provider]) -> Iterator[dict[str, Provider]]:
    yield mimi_providers


def _error(r: httpx.Response, status: int, code: str, words: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"] == code and words in r.json()["message"], r.text


def notify_path(group_id: bytes, hub: str) -> str:
    return w.endpoint_path("notify", w.mimi_room_uri(hub, group_id))


def fanout(*messages: MLSMessage, tree: w.RatchetTreeOption | None = None,
           at: int = 1_700_000_000_000) -> bytes:
    return w.FanoutBatch(tuple(
        w.FanoutMessage(at, msg, w.MaybeFrank(None) if msg.content_type == 1 else None,
                        tree if msg.wire_format == 3 else None,
                        () if msg.content_type in (2, 3) else None)
        for msg in messages)).to_bytes()


async def franked_post(dev: MlsDevice, text: bytes) -> None:
    """A post whose authenticated data carries a franking tag (frank_aad, T13), which the
    hub tags; sent with the epoch's posting key as every post."""
    aad = message_aad(secrets.token_bytes(8), secrets.token_bytes(32))
    msg, dev.state = g.protect(dev.state, text, aad)
    ciphertext = bytes(msg.to_bytes())
    gid, epoch, nonce = dev.state_group_id(), dev.epoch(), secrets.token_bytes(16)
    sig = dev.posting_key().sign(signing.post_input(gid, epoch, nonce, ciphertext))
    await dev.call("POST", group_path(gid, "/messages"), m.ApplicationPost(
        epoch=epoch, nonce=nonce, ciphertext=ciphertext, signature=sig), auth=False,
        expect=201)


async def settle(dev: MlsDevice, kinds: list[str]) -> list[m.QueueItem]:
    """The next items of ``dev``'s queue, of exactly these kinds; acknowledged."""
    items = await dev.wait_items(len(kinds))
    assert [i.kind for i in items] == kinds, items
    await dev.call("POST", "/v1/queue/ack", {"up_to": items[-1].seq}, expect=200)
    return items


def requests_logged(p: Provider, path: str) -> int:
    return sum(1 for line in p.log_path.read_text().splitlines() if f" {path}" in line)


async def members_at(dev: MlsDevice, gid: bytes) -> list[str]:
    r = await dev.call("GET", group_path(gid), expect=200)
    return sorted(r.json()["members"])


async def test_mimi_hub_fans_out_a_rooms_life_over_notify(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
) -> None:
    """alice's room (alpha hubs it): bob of beta is added (his Welcome carries the
    room's tree), gets franked posts, sees carol of beta added, a proposal to remove
    her and the commit that does; beta follows the roster from MLS alone and was
    handed all of it on /mimi/v1/notify, none on /federation/v1/deliver."""
    alpha, beta = providers["alpha"], providers["beta"]
    tag = secrets.token_hex(3)
    alice = await user(clients["alpha"], f"alice{tag}@alpha.test")
    bob = await user(clients["beta"], f"bob{tag}@beta.test")
    carol = await user(clients["beta"], f"carol{tag}@beta.test")
    gid = secrets.token_bytes(16)
    await alice.create_group(gid)
    await alice.commit_add(await alice.claim(bob.account))
    await join_from_queue(bob)
    assert await members_at(bob, gid) == sorted([alice.device_id, bob.device_id])

    await franked_post(alice, b"hello over MIMI")
    (mine,) = await settle(alice, ["application"])
    (got,) = await settle(bob, ["application"])
    assert bob.read(got.body) == b"hello over MIMI"
    assert got.sender is None and got.frank is not None
    assert got.frank == mine.frank  # the hub's Frank, handed on in the FanoutMessage

    await alice.commit_add(await alice.claim(carol.account))
    (commit,) = await settle(bob, ["commit"])
    assert (commit.sender, bob.read(commit.body)) == (alice.device_id, None)
    await join_from_queue(carol)
    assert await members_at(bob, gid) == sorted(
        [alice.device_id, bob.device_id, carol.device_id])

    # a proposal fanned out, then the commit that names it by reference
    msg, alice.state = g.propose_remove(alice.state, 2)  # alice 0, bob 1, carol 2
    await alice.call("POST", group_path(gid, "/proposals"), m.ProposalRequest(
        epoch=alice.epoch(), proposal=bytes(msg.to_bytes())), expect=201)
    (proposal,) = await settle(bob, ["proposal"])
    assert proposal.sender == alice.device_id
    bob.read(proposal.body)
    await alice.commit_proposals([], [], [carol.device_id])
    (commit,) = await settle(bob, ["commit"])
    bob.read(commit.body)
    assert await members_at(bob, gid) == sorted([alice.device_id, bob.device_id])
    carols = await carol.wait_items(2)
    assert [i.kind for i in carols[-2:]] == ["proposal", "commit"]  # she learns she is out

    await franked_post(alice, b"after carol left")
    (got,) = await settle(bob, ["application"])
    assert bob.read(got.body) == b"after carol left" and got.frank is not None
    assert requests_logged(beta, "/mimi/v1/notify/") >= 6
    assert requests_logged(beta, "/federation/v1/deliver") == 0
    assert requests_logged(alpha, "/federation/v1/deliver") == 0


async def test_client_devices_converse_in_a_room_fanned_out_over_mimi(
    providers: dict[str, Provider], tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """Real devices: alice's conversation (alpha hubs it) reaches bob through beta's
    notify, with the hub's fork-detection links (accord-forkDetection): bob's device
    reads it, adds carol's arrival to its members, answers, and raises no security
    alert."""
    clock = Clock()
    alice, bob, carol = await people(tmp_path, providers, clock, "alice@alpha", "bob@beta",
                                     "carol@beta")
    try:
        conv = await convs.create(alice, "over mimi", [bob.identity.account], clock())
        await messaging.send_text(alice, conv, "hello beta", clock())
        bconv = await arrive(bob, "over mimi", clock)
        msgs = await until(bob, clock, lambda: bob.store.messages(bconv["conv_id"]))
        assert [x.body for x in msgs] == ["hello beta"]
        assert msgs[0].sender == alice.identity.account
        await convs.add_members(alice, alice.store.conversation(conv["conv_id"]),
                                [carol.identity.account], clock())
        await until(bob, clock, lambda: carol.identity.account in convs.members(
            bob, convs.find(bob, "over mimi")))
        await arrive(carol, "over mimi", clock)
        await messaging.send_text(bob, convs.find(bob, "over mimi"), "hello alpha", clock())
        await bodies(alice, "over mimi", "hello alpha", clock)
        for dev in (bob, carol):
            assert alerts.all_alerts(dev.store) == [], alerts.all_alerts(dev.store)
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()


# ------------------------------------------------------------------ what beta refuses

async def gamma_room_with_bob(clients: dict[str, httpx.AsyncClient]
                              ) -> tuple[MlsDevice, MlsDevice, bytes]:
    """dave@gamma's room (gamma hubs it, over MIMI) with bob@beta in it; one more
    commit, so beta knows the room's epoch (a Welcome does not show it)."""
    tag = secrets.token_hex(3)
    dave, bob, gid = await room_of_two(clients["gamma"], f"dave{tag}@gamma.test",
                                       clients["beta"], f"bob{tag}@beta.test")
    await dave.commit_proposals([], [], [])
    (commit,) = await settle(bob, ["commit"])
    bob.read(commit.body)
    return dave, bob, gid


async def test_T08_mimi_notify_only_from_the_rooms_hub(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """gamma (a real MIMI hub of its own rooms) fans out a commit into alice's room,
    under alpha's name or its own: refused, and bob hears nothing."""
    beta = providers["beta"]
    tag = secrets.token_hex(3)
    alice, bob, gid = await alice_and_bob(clients["alpha"], clients["beta"], tag)
    await alice.commit_proposals([], [], [])
    (commit,) = await settle(bob, ["commit"])
    bob.read(commit.body)
    forged = g.commit(alice.state, now=int(time.time()), by_value=[])[0].commit
    _error(await evil.send(beta, notify_path(gid, "alpha.test"), fanout(forged)),
           401, "auth_error", "only the room's hub fans out")
    _error(await evil.send(beta, notify_path(gid, "gamma.test"), fanout(forged)),
           401, "auth_error", "not the hub of that group")
    assert (await bob.fetch()).items == []


async def test_T08_mimi_welcome_only_for_keypackages_beta_handed_out(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """A Welcome for KeyPackages beta never handed out (erin's own, uploaded but never
    claimed; a gamma user's): refused, whatever tree comes with it."""
    beta = providers["beta"]
    dave, bob, gid = await gamma_room_with_bob(clients)
    erin = await user(clients["beta"], f"erin{secrets.token_hex(3)}@beta.test")
    kp = mls_decode(MLSMessage, erin.new_key_package()).message
    result, pending = g.commit(dave.state, now=int(time.time()), by_value=[Add(kp)],
                               inline_tree=True)
    merged = g.merge_pending(pending)
    tree = w.RatchetTreeOption(1, tuple(merged.tree.nodes()))
    r = await evil.send(beta, notify_path(gid, "gamma.test"), fanout(result.welcome, tree=tree))
    _error(r, 422, "validation_error", "names no KeyPackage this provider handed out")
    # the commit that adds her by that KeyPackage is refused as well
    r = await evil.send(beta, notify_path(gid, "gamma.test"), fanout(result.commit))
    _error(r, 422, "validation_error", "never handed out")
    assert (await erin.fetch()).items == [] and (await bob.fetch()).items == []


async def test_T08_mimi_tree_naming_a_device_beta_does_not_host_is_refused(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """A Welcome into a room beta does not follow yet, for a KeyPackage of bob's that
    gamma did claim, whose tree also names a "device of beta's" that beta does not host:
    refused, and bob gets nothing."""
    beta = providers["beta"]
    tag = secrets.token_hex(3)
    dave = await user(clients["gamma"], f"dave{tag}@gamma.test")
    bob = await user(clients["beta"], f"bob{tag}@beta.test")
    ghost = MlsDevice(clients["beta"], f"ghost{tag}@beta.test")  # never registered
    ghost.device_id = secrets.token_urlsafe(16)
    gid = secrets.token_bytes(16)
    await dave.create_group(gid)
    claimed = await dave.claim(bob.account)
    adds = [Add(mls_decode(MLSMessage, c.key_package).message) for c in claimed]
    adds.append(Add(mls_decode(MLSMessage, ghost.new_key_package()).message))
    result, pending = g.commit(dave.state, now=int(time.time()), by_value=adds)
    tree = w.RatchetTreeOption(1, tuple(g.merge_pending(pending).tree.nodes()))
    r = await evil.send(beta, notify_path(gid, "gamma.test"), fanout(result.welcome, tree=tree))
    _error(r, 404, "not_found", "said to be ours is not registered here")
    assert (await bob.fetch()).items == []


async def test_T08_mimi_commit_of_another_epoch_is_refused_and_duplicates_filed_once(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """A commit of an epoch beta's room is not at: refused. The same notify twice (the
    hub's retry): 201 both times, filed once."""
    beta = providers["beta"]
    dave, bob, gid = await gamma_room_with_bob(clients)
    stale = dave.state
    await dave.commit_proposals([], [], [])
    (commit,) = await settle(bob, ["commit"])
    bob.read(commit.body)
    old = g.commit(stale, now=int(time.time()), by_value=[])[0].commit
    _error(await evil.send(beta, notify_path(gid, "gamma.test"), fanout(old)),
           422, "validation_error", "the room is at")
    ahead = g.commit(dave.state, now=int(time.time()), by_value=[])
    dave.state = g.merge_pending(ahead[1])
    body = fanout(ahead[0].commit)
    for _ in range(2):
        r = await evil.send(beta, notify_path(gid, "gamma.test"), body)
        assert r.status_code == 201 and r.content == b"", r.text
    (again,) = await settle(bob, ["commit"])
    assert again.body == bytes(ahead[0].commit.to_bytes())
    assert (await bob.fetch()).items == []
