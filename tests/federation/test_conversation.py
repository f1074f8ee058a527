"""A conversation across three providers through its hub, with real MLS (suite 0x0001).

alice@alpha.test creates the group (alpha is its hub), adds bob@beta.test;
bob (a follower's user) adds carol@gamma.test through his own provider;
everyone reads everyone's application messages, which cross providers with
no sender (T11); first contact shows up as a message request (T14).
"""

from __future__ import annotations

import secrets

import httpx

from accord.wire import b64e, decode
from accord.wire import federation as fw
from tests.federation.providers import MlsDevice, Provider


async def _user(http: httpx.AsyncClient, account: str) -> MlsDevice:
    d = MlsDevice(http, account)
    await d.register()
    await d.upload_key_packages()
    return d


async def _one_welcome(dev: MlsDevice) -> None:
    items = await dev.wait_items(1)
    welcomes = [i for i in items if i.kind == "welcome"]
    assert len(welcomes) == 1, items
    dev.join(welcomes[0].body)
    await dev.call("POST", "/v1/queue/ack", {"up_to": items[-1].seq}, expect=200)


async def _read_all(dev: MlsDevice, n: int) -> list[bytes | None]:
    items = await dev.wait_items(n)
    out = [dev.read(i.body) for i in items]
    await dev.call("POST", "/v1/queue/ack", {"up_to": items[-1].seq}, expect=200)
    return out


async def test_three_providers_one_conversation_through_the_hub(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    alice = await _user(clients["alpha"], "alice@alpha.test")
    bob = await _user(clients["beta"], "bob@beta.test")
    carol = await _user(clients["gamma"], "carol@gamma.test")
    gid = secrets.token_bytes(16)
    await alice.create_group(gid)

    # alice claims bob's KeyPackage through alpha, which asks beta (signed).
    claimed = await alice.claim("bob@beta.test")
    assert [c.device_id for c in claimed] == [bob.device_id]
    await alice.commit_add(claimed)
    await _one_welcome(bob)
    assert bob.epoch() == alice.epoch() == 1

    # First contact from another provider: a message request for bob (T14).
    r = await bob.call("GET", "/v1/requests", expect=200)
    reqs = decode(fw.MessageRequestList, r.json()).requests
    assert [(q.group_id, q.from_account) for q in reqs] == [(gid, "alice@alpha.test")]
    await bob.call("POST", f"/v1/requests/{b64e(gid)}/accept", expect=204)
    r = await bob.call("GET", "/v1/requests", expect=200)
    assert decode(fw.MessageRequestList, r.json()).requests == []

    # bob, a follower's user, adds carol: beta forwards the commit to the hub.
    claimed = await bob.claim("carol@gamma.test")
    await bob.commit_add(claimed)
    await _one_welcome(carol)
    assert await _read_all(alice, 1) == [None]  # bob's commit, ordered by the hub
    assert alice.epoch() == bob.epoch() == carol.epoch() == 2

    # Application messages from each provider reach the other two.
    await alice.post(b"hello from alpha")
    await bob.post(b"hello from beta")
    await carol.post(b"hello from gamma")
    for dev, own in ((alice, b"alpha"), (bob, b"beta"), (carol, b"gamma")):
        items = await dev.wait_items(3)
        assert all(i.kind == "application" and i.sender is None for i in items)  # T11
        texts = []
        for i in items:
            try:
                texts.append(dev.read(i.body))
            except Exception:  # noqa: BLE001 - MLS refuses to open our own messages
                texts.append(b"own")
        assert sorted(t for t in texts if t != b"own") == sorted(
            b"hello from " + x for x in (b"alpha", b"beta", b"gamma") if x != own
        )


async def test_a_blob_of_another_provider_is_fetched_through_ones_own(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    bob = await _user(clients["beta"], "bob.blob@beta.test")
    data = secrets.token_bytes(5000)
    r = await clients["beta"].post("/v1/blobs", content=data,
                                   headers={**bob.auth, "Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    blob_id = r.json()["blob_id"]
    assert blob_id.endswith(".beta.test")
    # alice's device asks alpha, which fetches from beta (signed); no session needed.
    got = await clients["alpha"].get(f"/v1/blobs/{blob_id}")
    assert got.status_code == 200 and got.content == data
    assert (await clients["beta"].get(f"/v1/blobs/{blob_id}")).content == data
    cap = blob_id.split(".", 1)[0]
    for wrong in (f"{cap[:-2]}AA.beta.test", f"{cap}.nowhere.test", f"{cap}.gamma.test"):
        assert (await clients["alpha"].get(f"/v1/blobs/{wrong}")).status_code == 404, wrong


async def test_a_followers_proposal_and_a_lost_commit_race_cross_to_and_from_the_hub(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    import time

    from accord.mls import group as g
    from accord.wire import messages as m
    from tests.federation.groups import alice_and_bob
    from tests.harness import group_path, mls_epoch_info

    alice, bob, gid = await alice_and_bob(clients["alpha"], clients["beta"], "prop")
    msg, bob.state = g.propose_update(bob.state)
    await bob.call("POST", group_path(gid, "/proposals"),
                   m.ProposalRequest(epoch=1, proposal=bytes(msg.to_bytes())), expect=201)
    items = await alice.wait_items(1)
    assert [(i.kind, i.sender) for i in items] == [("proposal", bob.device_id)]
    # alice wins epoch 1 at the hub; bob's commit for epoch 1, sent through beta, loses
    # and the hub's 409 with the current epoch reaches bob unchanged.
    await alice.call("POST", "/v1/queue/ack", {"up_to": items[-1].seq}, expect=200)
    result, pending = g.commit(alice.state, now=int(time.time()), force_path=True)
    info, tree = mls_epoch_info(g.merge_pending(pending), b"A" * 32)
    await alice.call("POST", group_path(gid, "/commits"), m.CommitRequest(
        epoch=1, commit=bytes(result.commit.to_bytes()), posting_key=b"A" * 32,
        group_info=info, ratchet_tree=tree), expect=201)
    result, pending = g.commit(bob.state, now=int(time.time()), force_path=True)
    info, tree = mls_epoch_info(g.merge_pending(pending), b"B" * 32)
    r = await bob.call("POST", group_path(gid, "/commits"), m.CommitRequest(
        epoch=1, commit=bytes(result.commit.to_bytes()), posting_key=b"B" * 32,
        group_info=info, ratchet_tree=tree))
    assert r.status_code == 409 and r.json()["current_epoch"] == 2, r.text
