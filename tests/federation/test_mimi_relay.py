"""Key material through a room's hub (issue 22, draft-ietf-mimi-protocol-06 5.2,
``accord.server.mimi_relay``): alpha.test hubs a room; gamma.test (a peer signing with
its real provider key) asks for key material of beta.test's bob.

- At the hub: it relays only for a room it hubs, for a requester who is a member user
  of that room hosted by the signer; a room hubbed elsewhere or no room is refused.
- At the target's provider: a request for another provider's user comes only from the
  hub of the room it names, never for the target provider's own users, and the
  requester's consent state (T14) applies, not the hub's.
(The relay that works end to end: tests.federation.test_mimi_example_flow, step 3.3.)
"""

from __future__ import annotations

import dataclasses
import secrets

import httpx

from accord.wire import mimi as w
from tests.federation.groups import room_of_two, user
from tests.federation.malicious_provider import MaliciousProvider
from tests.federation.providers import Provider
from tests.federation.test_mimi_transport import (
    MALLORY,
    SUITE,
    _error,
    _fetch,
    key_material_request,
)


def _in_room(req: w.KeyMaterialRequest, room: str) -> w.KeyMaterialRequest:
    """The request naming ``room``, signed again by a key of the requester's (the
    requester's signature covers the roomId, KeyMaterialRequestTBS)."""
    priv, pub = SUITE.generate_signature_key_pair()
    req = dataclasses.replace(req, room_id=w.IdentifierUri.of(room), requester_signature_key=pub)
    return dataclasses.replace(req, key_material_request_signature=SUITE.sign_with_label(
        priv, req.SIGN_LABEL, req.tbs()))


def _status(r: httpx.Response) -> w.KeyMaterialUserCode:
    assert r.status_code == 200, r.text
    return w.KeyMaterialResponse.from_bytes(r.content).user_status


async def test_T08_mimi_key_material_relayed_only_by_the_hub_of_a_room_for_its_members(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    alpha = providers["alpha"]
    alice = await user(clients["alpha"], "alice.relay@alpha.test")
    bob = await user(clients["beta"], "bob.relay@beta.test")
    gid = secrets.token_bytes(16)
    await alice.create_group(gid)
    room = w.mimi_room_uri("alpha.test", gid)
    bob_uri = w.mimi_user_uri(bob.account)
    asked = key_material_request(MALLORY, bob_uri)
    # no room: alpha relays nothing, and bob is not alpha's
    _error(await _fetch(evil, alpha, asked), 404, "not_found", "no account")
    # a room hubbed elsewhere (the follower names gamma's own)
    elsewhere = _in_room(asked, w.mimi_room_uri("gamma.test", gid))
    _error(await _fetch(evil, alpha, elsewhere), 401, "auth_error", "not the hub")
    # a room alpha hubs, but mallory is no member of it
    _error(await _fetch(evil, alpha, _in_room(asked, room)), 401, "auth_error",
           "not a member user")
    # a member user of the room, but not gamma's to speak for
    as_alice = _in_room(key_material_request(w.mimi_user_uri(alice.account), bob_uri), room)
    _error(await _fetch(evil, alpha, as_alice), 422, "validation_error",
           "requester is not an account of the requesting")


async def test_T08_T14_mimi_relayed_key_material_only_from_the_rooms_hub_for_the_requester(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    beta = providers["beta"]
    bob = await user(clients["beta"], "bob.relay2@beta.test")
    eve = await user(clients["beta"], "eve.relay2@beta.test")
    bob_uri = w.mimi_user_uri(bob.account)
    alice_uri = "mimi://alpha.test/u/alice.relay2"
    for_alice = key_material_request(alice_uri, bob_uri)
    # gamma relays for alpha's user: only as the hub of the room it names
    _error(await _fetch(evil, beta, for_alice), 422, "validation_error",
           "requester is not an account of the requesting")
    in_alphas = _in_room(for_alice, w.mimi_room_uri("alpha.test", b"room"))
    _error(await _fetch(evil, beta, in_alphas), 422, "validation_error", "not the hub")
    gammas = w.mimi_room_uri("gamma.test", b"room")
    # never for beta's own users
    as_eve = _in_room(key_material_request(w.mimi_user_uri(eve.account), bob_uri), gammas)
    _error(await _fetch(evil, beta, as_eve), 422, "validation_error", "own users")
    # the hub of the room it names vouches for the requester (5.2)
    relayed = _in_room(for_alice, gammas)
    assert _status(await _fetch(evil, beta, relayed)) == w.KeyMaterialUserCode.SUCCESS
    # T14: bob's blocks are the requester's, not the relaying hub's
    await bob.call("POST", "/v1/blocks", {"target": "alpha.test"}, expect=200)
    relayed = _in_room(key_material_request(alice_uri, bob_uri), gammas)
    assert _status(await _fetch(evil, beta, relayed)) == w.KeyMaterialUserCode.USER_UNKNOWN
    await bob.call("DELETE", "/v1/blocks/alpha.test", expect=204)


async def test_T08_mimi_the_hub_relays_only_a_request_the_requester_signed(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """The hub checks the requester's SignWithLabel(.., "KeyMaterialRequestTBS", ..)
    before it relays (the target's one check, ``mimi_relay.verified_suites``): a member
    user's request whose signature does not verify goes nowhere (401)."""
    alpha = providers["alpha"]
    _, gus, gid = await room_of_two(clients["alpha"], "alice.sig@alpha.test",
                                    clients["gamma"], "gus.sig@gamma.test")
    bob = await user(clients["beta"], "bob.sig@beta.test")
    room = w.mimi_room_uri("alpha.test", gid)
    signed = _in_room(key_material_request(w.mimi_user_uri(gus.account),
                                           w.mimi_user_uri(bob.account)), room)
    sig = signed.key_material_request_signature
    forged = dataclasses.replace(signed, key_material_request_signature=bytes(
        [sig[0] ^ 1]) + sig[1:])
    _error(await _fetch(evil, alpha, forged), 401, "auth_error", "signature does not verify")
    # the very request, signed: relayed to beta.test and answered
    assert _status(await _fetch(evil, alpha, signed)) == w.KeyMaterialUserCode.SUCCESS
