"""T14 over MIMI (issue 18, issue 22, docs/PROTOCOL.md "accord-firstContact"): a commit's
sealed first-contact requests travel between providers that list
``accord-firstContact`` in their MIMI directories, in the extension's carrier (the
draft's update or notify body whole, the requests beside it), and are filed as
Accord's own routes file them; towards a provider that does not list it, the draft's
body goes alone and the invitation arrives without its preview.

alpha.test and beta.test (``--mimi-transport``) reach each other through
:class:`tests.federation.ext_proxy.ExtProxy`.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from accord.client import conversations as convs
from accord.client import message_requests
from accord.federation import mimi_out
from accord.mls import group as g
from accord.mls.codec import decode as mls_decode
from accord.mls.structs import Add
from accord.mls.structs.messages import MLSMessage
from accord.wire import decode
from accord.wire import federation as fw
from accord.wire import messages as m
from accord.wire import mimi as w
from accord.wire import mimi_accord as x
from tests.e2e.helpers import Clock
from tests.federation.ext_proxy import ExtProxy, ext_federation
from tests.federation.groups import alice_and_bob, people, until, user
from tests.federation.providers import signed_post
from tests.federation.test_mimi_example_flow import commit
from tests.federation.test_T14_sealed_first_contact import FIRST, _decided

ALPHA, BETA = "alpha.test", "beta.test"
Fed = tuple[dict[str, Any], dict[str, ExtProxy]]


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    with ext_federation(tmp_path_factory.mktemp("fc"), [ALPHA, BETA]) as (provs, proxies):
        proxies[BETA].signer = (ALPHA, provs[ALPHA].key())
        yield provs, proxies


@pytest.fixture(scope="module")
def without(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    """alpha and beta, each looking to the other like a peer without the extension."""
    with ext_federation(tmp_path_factory.mktemp("nofc"), [ALPHA, BETA]) as (provs, proxies):
        for p in proxies.values():
            p.hide = {x.FIRST_CONTACT}
        yield provs, proxies


@pytest.fixture
async def http(fed: Fed) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    out = {d: httpx.AsyncClient(base_url=p.url, timeout=20.0) for d, p in fed[0].items()}
    yield out
    for c in out.values():
        await c.aclose()
    fed[1][BETA].tamper_body = None


def carried(proxy: ExtProxy) -> list[str]:
    return [e.path for e in proxy.exchanges if f"/{x.FIRST_CONTACT}/" in e.path]


async def listed(dev: Any) -> list[tuple[bytes, bytes | None]]:
    r = await dev.call("GET", "/v1/requests", expect=200)
    return [(q.group_id, q.first_contact)
            for q in decode(fw.MessageRequestList, r.json()).requests]


async def add_with(dev: Any, claimed: list[m.ClaimedKeyPackage],
                   sealed: list[m.SealedFirstContact], expect: int | None = 201
                   ) -> httpx.Response:
    adds = [Add(mls_decode(MLSMessage, c.key_package).message) for c in claimed]
    return await commit(dev, adds, [c.device_id for c in claimed], [], sealed, expect)


async def strangers(tmp_path: Path, provs: dict[str, Any]) -> tuple[Any, Any, Clock]:
    clock = Clock()
    alice, bob = await people(tmp_path, {d.split(".")[0]: p for d, p in provs.items()}, clock,
                              "alice@alpha", "bob@beta")
    return alice, bob, clock


async def test_T14_mimi_a_strangers_preview_comes_with_the_hubs_notify(
    fed: Fed, tmp_path: Path
) -> None:
    """alice (alpha hubs her room) invites bob of beta with a first message: the notify of
    the Welcome goes in alpha's carrier with her sealed request, and bob's device shows
    its checked preview before he accepts."""
    alice, bob, clock = await strangers(tmp_path, fed[0])
    try:
        await convs.create(alice, "offer", [bob.identity.account], clock(),
                           first_message=FIRST)
        request = (await until(bob, clock, _decided(bob)))[0]["meta"]["request"]
        assert request["first_contact"]["state"] == "checked"
        assert request["first_contact"]["preview"] == FIRST
        assert carried(fed[1][BETA])
    finally:
        for d in (alice, bob):
            await d.disconnect()


async def test_T14_mimi_a_followers_commit_carries_its_requests_to_the_hub(
    fed: Fed, http: dict[str, httpx.AsyncClient]
) -> None:
    """bob (beta) adds erin of alpha to alice's room (alpha hubs it): his commit's sealed
    request goes with the update in beta's carrier, the hub holds it to the commit and
    files it for erin's device."""
    tag = secrets.token_hex(3)
    alice, bob, gid = await alice_and_bob(http[ALPHA], http[BETA], tag)
    erin = await user(http[ALPHA], f"erin{tag}@alpha.test")
    await add_with(bob, await bob.claim(erin.account),
                   [m.SealedFirstContact(erin.device_id, b"for erin")])
    assert await listed(erin) == [(gid, b"for erin")]
    assert carried(fed[1][ALPHA])


async def test_T14_mimi_the_hub_takes_requests_only_for_devices_the_commit_adds(
    fed: Fed, http: dict[str, httpx.AsyncClient]
) -> None:
    """A request for a device the commit does not add (alice's, a member) is refused
    with the commit (notAllowed: 422 to bob's device), as on Accord's route."""
    tag = secrets.token_hex(3)
    alice, bob, gid = await alice_and_bob(http[ALPHA], http[BETA], tag)
    erin = await user(http[ALPHA], f"erin{tag}@alpha.test")
    r = await add_with(bob, await bob.claim(erin.account), [
        m.SealedFirstContact(erin.device_id, b"for erin"),
        m.SealedFirstContact(alice.device_id, b"for alice")], expect=None)
    assert r.status_code == 422 and "first-contact" in r.text, r.text


async def test_T14_mimi_a_follower_files_requests_only_with_its_devices_welcome(
    fed: Fed, http: dict[str, httpx.AsyncClient]
) -> None:
    """alpha's carrier to beta holds, beside bob's request, one for ann of beta whom the
    Welcome is not for (the request re-signed with alpha's own key): beta files bob's
    with his Welcome and nothing for ann."""
    tag = secrets.token_hex(3)
    ann = await user(http[BETA], f"ann{tag}@beta.test")

    def more(body: bytes) -> bytes:
        carrier = x.FirstContactCarrier.from_bytes(body)
        return x.FirstContactCarrier(carrier.endpoint, carrier.mimi_body, (
            *carrier.first_contact,
            x.CarriedFirstContact(ann.device_id.encode(), b"for ann"))).to_bytes()

    fed[1][BETA].tamper_body = more
    alice = await user(http[ALPHA], f"alice{tag}@alpha.test")
    bob = await user(http[BETA], f"bob{tag}@beta.test")
    gid = secrets.token_bytes(16)
    await alice.create_group(gid)
    await add_with(alice, await alice.claim(bob.account),
                   [m.SealedFirstContact(bob.device_id, b"for bob")])
    for _ in range(50):
        if await listed(bob):
            break
        await bob.wait_items(1)
    assert await listed(bob) == [(gid, b"for bob")]
    assert await listed(ann) == []


async def test_T14_mimi_without_the_extension_the_invitation_comes_without_preview(
    without: Fed, tmp_path: Path
) -> None:
    """Neither provider lists accord-firstContact: the draft's notify goes alone, bob's
    invitation arrives as a message request with no sealed preview."""
    alice, bob, clock = await strangers(tmp_path, without[0])
    try:
        await convs.create(alice, "bare", [bob.identity.account], clock(),
                           first_message=FIRST)
        await until(bob, clock, lambda: message_requests.pending(bob))
        assert all(r["meta"]["request"].get("first_contact") is None
                   for r in message_requests.pending(bob))
        assert not carried(without[1][BETA]) and not carried(without[1][ALPHA])
    finally:
        for d in (alice, bob):
            await d.disconnect()


async def test_T14_mimi_requests_go_with_a_commit_not_a_proposal(
    fed: Fed, http: dict[str, httpx.AsyncClient]
) -> None:
    """A carrier whose update is a proposal with requests beside it (beta signs it): the
    hub answers notAllowed and takes nothing."""
    tag = secrets.token_hex(3)
    alice, bob, gid = await alice_and_bob(http[ALPHA], http[BETA], tag)
    proposal, _ = g.propose_remove(bob.state, 0)
    bundle = mimi_out.proposal_bundle(m.ProposalRequest(epoch=bob.epoch(),
                                                        proposal=proposal.to_bytes()))
    body = x.carry(x.UPDATE, w.UpdateRequest(bundle).to_bytes(),
                   [m.SealedFirstContact(alice.device_id, b"for alice")]).to_bytes()
    room = w.mimi_room_uri(ALPHA, gid)
    req = signed_post(fed[0][ALPHA].url, f"/mimi/v1/{x.FIRST_CONTACT}/{quote(room, safe='')}",
                      body, BETA, fed[0][BETA].key().sign)
    req.headers["Content-Type"] = w.MEDIA_TYPE
    r = await http[ALPHA].send(req)
    assert r.status_code == 200, r.text
    answer = w.UpdateRoomResponse.from_bytes(r.content)
    assert answer.response_code == w.UpdateResponseCode.NOT_ALLOWED
    assert b"first-contact" in answer.error_description
    assert (await alice.fetch()).items == []
