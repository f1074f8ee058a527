"""A two-provider conversation set up through the API (alice@alpha hub, bob@beta follower)."""

from __future__ import annotations

import secrets

import httpx

from tests.federation.providers import MlsDevice


async def user(http: httpx.AsyncClient, account: str) -> MlsDevice:
    d = MlsDevice(http, account)
    await d.register()
    await d.upload_key_packages()
    return d


async def join_from_queue(dev: MlsDevice) -> None:
    items = await dev.wait_items(1)
    welcomes = [i for i in items if i.kind == "welcome"]
    assert len(welcomes) == 1, items
    dev.join(welcomes[0].body)
    await dev.call("POST", "/v1/queue/ack", {"up_to": items[-1].seq}, expect=200)


async def alice_and_bob(alpha: httpx.AsyncClient, beta: httpx.AsyncClient, tag: str
                        ) -> tuple[MlsDevice, MlsDevice, bytes]:
    alice = await user(alpha, f"alice{tag}@alpha.test")
    bob = await user(beta, f"bob{tag}@beta.test")
    gid = secrets.token_bytes(16)
    await alice.create_group(gid)
    await alice.commit_add(await alice.claim(bob.account))
    await join_from_queue(bob)
    return alice, bob, gid
