"""Accord sends MIMI consent requests (issue 22, draft-ietf-mimi-protocol-06 5.2, 5.7, T14).

alpha.test, beta.test and gamma.test run with ``--mimi-transport``; beta.test also with
``--require-consent``: its users' key material goes to another provider's user only
once they consented. The round trip over the wire: alice@alpha claims bob@beta ->
beta answers ``noConsent`` -> alpha sends bob's provider a ``requestConsent`` and
answers alice's device 403 ``consent_requested`` -> bob accepts the message request ->
beta sends alpha an ``updateConsent`` grant -> alice's claim succeeds.

Defences, each tested here: beta hands a stranger nothing (``keypackages.claim_local``);
alpha asks once per scope and window however often the device retries
(``consent_out.ask``); a grant or revoke changes only a request alpha sent, from the
provider of the user asked (``consent_out.answered``, ``mimi_consent``); a cancel only
withdraws a pending request the caller's account sent.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from accord.client import conversations as convs
from accord.client import message_requests
from accord.errors import ConsentRequested
from accord.wire import b64e
from accord.wire import federation as fw
from accord.wire import mimi as w
from tests.e2e.helpers import Clock
from tests.engine import engine_params
from tests.federation.conftest import running
from tests.federation.groups import people, user
from tests.federation.malicious_provider import MaliciousProvider
from tests.federation.providers import MlsDevice, Provider
from tests.federation.test_mimi_forward import requests_seen
from tests.timing import wait_until

REQUEST = "/mimi/v1/requestConsent"
UPDATE = "/mimi/v1/updateConsent"


@pytest.fixture(scope="module", params=engine_params())
def providers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[dict[str, Provider]]:
    yield from running(request, tmp_path_factory, mimi=True, require_consent={"beta.test"})


async def _refused(dev: MlsDevice, account: str, group: bytes) -> str:
    r = await dev.call("POST", f"/v1/accounts/{account}/keypackages/claim"
                       f"?group_id={b64e(group)}", expect=403)
    assert r.json()["error"] == "consent_requested", r.text
    return str(r.json()["message"])


async def _sent(dev: MlsDevice) -> list[dict[str, object]]:
    return list((await dev.call("GET", "/v1/consent/sent", expect=200)).json()["requests"])


def _answer(op: int, requester: str, target: str, room: str | None = None) -> bytes:
    return w.ConsentEntry(op, w.IdentifierUri.of(w.mimi_user_uri(requester)),
                          w.IdentifierUri.of(w.mimi_user_uri(target)),
                          None if room is None else w.IdentifierUri.of(room),
                          () if op == w.ConsentOperation.GRANT else None).to_bytes()


async def _requests(dev: MlsDevice, n: int = 1) -> list[dict[str, str]]:
    """``dev``'s message requests, once there are ``n`` (consent messages go through
    the providers' outbound queues)."""
    async def listed() -> tuple[list[dict[str, str]]] | None:
        got = (await dev.call("GET", "/v1/requests", expect=200)).json()["requests"]
        return (got,) if len(got) == n else None
    return (await wait_until(listed, what=f"{n} message requests"))[0]


async def _state(dev: MlsDevice, state: str) -> list[dict[str, object]]:
    """``dev``'s sent consent requests, once the first is in ``state``."""
    async def answered() -> list[dict[str, object]] | None:
        got = await _sent(dev)
        return got if got and got[0]["state"] == state else None
    return await wait_until(answered, what=f"a sent request {state}")


async def _alice_asks(clients: dict[str, httpx.AsyncClient], tag: str
                      ) -> tuple[MlsDevice, MlsDevice, bytes]:
    alice = await user(clients["alpha"], f"alice{tag}@alpha.test")
    bob = await user(clients["beta"], f"bob{tag}@beta.test")
    gid = secrets.token_bytes(16)
    await alice.create_group(gid)
    assert "requested" in await _refused(alice, bob.account, gid)
    return alice, bob, gid


async def test_T14_mimi_consent_round_trip_between_two_accord_providers(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
) -> None:
    beta, alpha = providers["beta"], providers["alpha"]
    asked = requests_seen(beta, REQUEST)
    alice, bob, gid = await _alice_asks(clients, ".rt")
    room = w.mimi_room_uri("alpha.test", gid)
    await wait_until(lambda: requests_seen(beta, REQUEST) == asked + 1, what="requestConsent")
    [sent] = await _sent(alice)
    assert (sent["target"], sent["room"], sent["state"]) == (bob.account, room, "pending")
    # the device retries: no second request within the window
    assert "requested" in await _refused(alice, bob.account, gid)
    assert requests_seen(beta, REQUEST) == asked + 1
    # bob sees a message request of that room from alice, and accepts it
    [req] = await _requests(bob)
    assert (req["from_account"], req["msg_id"]) == (alice.account, "mimi-consent")
    granted = requests_seen(alpha, UPDATE)
    await bob.call("POST", f"/v1/requests/{req['group_id']}/accept", expect=204)
    await wait_until(lambda: requests_seen(alpha, UPDATE) == granted + 1, what="the grant")
    [sent] = await _state(alice, "granted")
    # a request answered is no longer pending: nothing to cancel
    await alice.call("POST", "/v1/consent/sent/cancel", {"target": bob.account, "room": room},
                     expect=404)
    claimed = await alice.claim(bob.account, group=gid)
    assert claimed and all(c.device_id for c in claimed)


async def test_T14_mimi_consent_for_a_claim_that_names_no_room(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
) -> None:
    """A claim for no group (a new conversation) asks for consent with no roomId; bob's
    provider lists it as a message request under alice's scope and his accept opens
    his key material to alice."""
    alice = await user(clients["alpha"], "alice.nr@alpha.test")
    bob = await user(clients["beta"], "bob.nr@beta.test")
    r = await alice.call("POST", f"/v1/accounts/{bob.account}/keypackages/claim", expect=403)
    assert r.json()["error"] == "consent_requested"
    assert [(s["room"], s["state"]) for s in await _sent(alice)] == [("", "pending")]
    [req] = await _requests(bob)
    assert req["from_account"] == alice.account
    await bob.call("POST", f"/v1/requests/{req['group_id']}/accept", expect=204)
    await _state(alice, "granted")
    assert await alice.claim(bob.account)


async def test_T14_mimi_a_block_revokes_a_grant_sent(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
) -> None:
    """bob granted alice's request, then blocks her: beta sends alpha an updateConsent
    revoke (5.7), alpha records it, and alice's claims are answered "did not consent"
    without asking bob again within the window. A block of someone never granted
    sends nothing."""
    alpha, beta = providers["alpha"], providers["beta"]
    alice, bob, gid = await _alice_asks(clients, ".bk")
    [req] = await _requests(bob)
    await bob.call("POST", f"/v1/requests/{req['group_id']}/accept", expect=204)
    await _state(alice, "granted")
    assert await alice.claim(bob.account, group=gid)
    updates = requests_seen(alpha, UPDATE)
    await bob.call("POST", "/v1/blocks", {"target": "nobody.bk@gamma.test"}, expect=200)
    await bob.call("POST", "/v1/blocks", {"target": alice.account}, expect=200)
    [sent] = await _state(alice, "revoked")
    assert (sent["target"], sent["room"]) == (bob.account, w.mimi_room_uri("alpha.test", gid))
    assert requests_seen(alpha, UPDATE) == updates + 1  # the revoke, once
    asked = requests_seen(beta, REQUEST)
    assert "did not consent" in await _refused(alice, bob.account, gid)
    assert requests_seen(beta, REQUEST) == asked


async def test_T14_mimi_key_material_needs_consent_and_hides_who_exists(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
) -> None:
    """beta (--require-consent) answers a stranger noConsent, an unknown user and one
    who blocked the requester alike (no probing); a same-provider claim is untouched."""
    alice = await user(clients["alpha"], "alice.nc@alpha.test")
    bob = await user(clients["beta"], "bob.nc@beta.test")
    gid = secrets.token_bytes(16)
    await alice.create_group(gid)
    await _refused(alice, bob.account, gid)
    await _refused(alice, "nobody.nc@beta.test", gid)
    carol = await user(clients["beta"], "carol.nc@beta.test")
    await carol.call("POST", "/v1/blocks", {"target": alice.account}, expect=200)
    await _refused(alice, carol.account, gid)
    dave = await user(clients["beta"], "dave.nc@beta.test")
    assert await dave.claim(bob.account)  # consent guards other providers' users only


async def test_T14_mimi_grants_change_only_requests_this_provider_sent(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    alpha = providers["alpha"]
    alice, bob, gid = await _alice_asks(clients, ".ug")
    alice_uri = w.mimi_user_uri(alice.account)
    path = f"{UPDATE}/{alice_uri}"
    # gamma grants for beta's bob: a peer speaks only for the users it hosts
    grant = w.ConsentOperation.GRANT
    r = await evil.send(alpha, path, _answer(grant, alice.account, bob.account))
    assert r.status_code == 422, r.text
    # gamma's own user grants what nobody asked it: acknowledged (5.7), nothing recorded
    r = await evil.send(alpha, path, _answer(grant, alice.account, "gus@gamma.test"))
    assert r.status_code == 201, r.text
    [sent] = await _sent(alice)
    assert (sent["target"], sent["state"]) == (bob.account, "pending")


async def test_T14_mimi_a_user_cancels_a_consent_request_it_sent(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
) -> None:
    alice, bob, gid = await _alice_asks(clients, ".cx")
    room = w.mimi_room_uri("alpha.test", gid)
    await _requests(bob)
    other = await user(clients["alpha"], "eve.cx@alpha.test")
    # only the account that sent it cancels it
    await other.call("POST", "/v1/consent/sent/cancel", {"target": bob.account, "room": room},
                     expect=404)
    await alice.call("POST", "/v1/consent/sent/cancel", {"target": bob.account, "room": room},
                     expect=204)
    assert await _sent(alice) == []
    await _requests(bob, 0)
    await alice.call("POST", "/v1/consent/sent/cancel", {"target": bob.account, "room": room},
                     expect=404)


async def test_T14_mimi_a_revoke_withdraws_and_is_not_asked_again(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
) -> None:
    """beta.test itself (its real key) answers for its own bob: a grant for another room
    than the one asked changes nothing; a revoke for every room withdraws the request,
    and alice's retries within the window send nothing more."""
    alpha, beta = providers["alpha"], providers["beta"]
    as_beta = MaliciousProvider(beta, clients["beta"])
    alice, bob, gid = await _alice_asks(clients, ".rv")
    path = f"{UPDATE}/{w.mimi_user_uri(alice.account)}"
    elsewhere = w.mimi_room_uri("alpha.test", secrets.token_bytes(16))
    r = await as_beta.send(alpha, path, _answer(w.ConsentOperation.GRANT, alice.account,
                                                bob.account, elsewhere))
    assert r.status_code == 201, r.text
    assert [s["state"] for s in await _sent(alice)] == ["pending"]
    r = await as_beta.send(alpha, path, _answer(w.ConsentOperation.REVOKE, alice.account,
                                                bob.account))
    assert r.status_code == 201, r.text
    assert [s["state"] for s in await _sent(alice)] == ["revoked"]
    asked = requests_seen(beta, REQUEST)
    assert "did not consent" in await _refused(alice, bob.account, gid)
    assert requests_seen(beta, REQUEST) == asked


async def test_T14_mimi_consent_on_accords_client(
    providers: dict[str, Provider], tmp_path: Path,
) -> None:
    """Accord's client: creating a conversation with a stranger of a --require-consent
    provider fails with ConsentRequested; the person sees the request
    (``message_requests.consent_sent``), and once it is granted the same create works.
    A pending request the person withdraws (``cancel_consent``) is gone on both sides."""
    clock = Clock()
    alice, bob, carol = await people(tmp_path, providers, clock, "alice@alpha", "bob@beta",
                                     "carol@beta")
    with pytest.raises(ConsentRequested):
        await convs.create(alice, "hi", [bob.identity.account], clock())
    [sent] = await message_requests.consent_sent(alice)
    assert (sent["target"], sent["room"], sent["state"]) == (bob.identity.account, "",
                                                              "pending")
    async def bobs() -> list[fw.MessageRequest]:
        return (await bob.api._json(fw.MessageRequestList, "GET", "/v1/requests",
                                    auth=True)).requests
    [req] = await wait_until(bobs, what="bob's message request")
    assert req.from_account == alice.identity.account
    # alice's device follows her waiting request (housekeeping), and sees the answer
    assert await message_requests.follow_consent(alice, clock()) == []
    assert alice.store.get_json("consent_sent")["waiting"]
    await bob.api._send("POST", f"/v1/requests/{b64e(req.group_id)}/accept", auth=True)
    later = clock() + message_requests.CONSENT_EVERY_MS
    async def granted() -> bool:
        return [s["state"] for s in await message_requests.consent_sent(alice)] == ["granted"]
    await wait_until(granted, what="the grant")
    [answered] = await message_requests.follow_consent(alice, later)
    assert (answered["target"], answered["state"]) == (bob.identity.account, "granted")
    assert not alice.store.get_json("consent_sent")["waiting"]
    assert [s["state"] for s in await message_requests.consent_sent(alice)] == ["granted"]
    await convs.create(alice, "hi", [bob.identity.account], clock())  # bob's key material
    with pytest.raises(ConsentRequested):
        await convs.create(alice, "hey", [carol.identity.account], clock())
    await message_requests.cancel_consent(alice, carol.identity.account)
    assert [s["target"] for s in await message_requests.consent_sent(alice)] == [
        bob.identity.account]
    async def carols_gone() -> bool:
        return not (await carol.api._json(fw.MessageRequestList, "GET", "/v1/requests",
                                          auth=True)).requests
    await wait_until(carols_gone, what="the cancel at carol's provider")
