"""T14, same rules for everyone (issue 18): a block holds against a user of the
blocker's own provider, for KeyPackage claims and for invitations alike.

Before, every consent check was skipped when the sender's domain was the
provider's own: a blocked user of the same provider could still claim the
blocker's KeyPackages and invite it. One provider process (alpha.test) of
the live federation serves all the accounts here.
"""

from __future__ import annotations

import os
import secrets

import httpx

from accord.wire import decode
from accord.wire import federation as fw
from tests.federation.groups import user
from tests.federation.providers import Provider


async def test_T14_a_blocked_user_of_the_same_provider_cannot_claim(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    tag = os.urandom(3).hex()
    alice = await user(clients["alpha"], f"alice{tag}@alpha.test")
    mallory = await user(clients["alpha"], f"mallory{tag}@alpha.test")
    bob = await user(clients["alpha"], f"bob{tag}@alpha.test")
    await alice.call("POST", "/v1/blocks", {"target": mallory.account}, expect=200)
    r = await mallory.call("POST", f"/v1/accounts/{alice.account}/keypackages/claim",
                           expect=404)
    assert r.json()["error"] == "not_found"  # the same answer as for no account at all
    assert r.json()["message"] == f"no account {alice.account}"
    assert len(await bob.claim(alice.account)) == 1  # a control: bob is not blocked
    await alice.call("DELETE", f"/v1/blocks/{mallory.account}", expect=204)
    assert len(await mallory.claim(alice.account)) == 1


async def test_T14_a_blocked_user_of_the_same_provider_cannot_invite(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]
) -> None:
    """mallory claimed dave's KeyPackage before dave blocked her: the hub accepts her
    commit (the MLS group is hers), but dave's devices get nothing of it."""
    tag = os.urandom(3).hex()
    mallory = await user(clients["alpha"], f"mallory{tag}@alpha.test")
    dave = await user(clients["alpha"], f"dave{tag}@alpha.test")
    erin = await user(clients["alpha"], f"erin{tag}@alpha.test")  # a control: not blocking
    await mallory.create_group(secrets.token_bytes(16))
    claimed = await mallory.claim(dave.account)
    await dave.call("POST", "/v1/blocks", {"target": mallory.account}, expect=200)
    await mallory.commit_add(claimed)
    await mallory.commit_add(await mallory.claim(erin.account))
    assert [i.kind for i in await erin.wait_items(1)] == ["welcome"]
    assert (await dave.fetch()).items == []
    r = await dave.call("GET", "/v1/requests", expect=200)
    assert decode(fw.MessageRequestList, r.json()).requests == []
