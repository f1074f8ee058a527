"""No acknowledged message is lost: SIGKILL a real server mid-burst, restart, count."""

from __future__ import annotations

import asyncio
import collections
import secrets
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.harness import (
    ServerProcess,
    SimDevice,
    application_post,
    group_path,
    mls_commit,
    mls_key_package,
    mls_new_group,
    posting_public,
    sealed_body,
)

from accord.wire import encode
from accord.wire import messages as m

BURST = 600  # bounded: at most this many posts
KILL_AFTER = 150  # acknowledged posts before the SIGKILL
CONCURRENCY = 8
TIME_LIMIT_S = 60.0


async def setup_group(http: httpx.AsyncClient) -> tuple[list[SimDevice], bytes, Ed25519PrivateKey]:
    alice = await SimDevice(http, "alice@alpha.test").register()
    bob = await SimDevice(http, "bob@alpha.test").register()
    bob2 = await bob.link(SimDevice(http, bob.account))
    gid, pk0, pk1 = secrets.token_bytes(32), Ed25519PrivateKey.generate(), \
        Ed25519PrivateKey.generate()
    new_group, mls_state = mls_new_group(alice, gid, posting_public(pk0))
    await alice.call("POST", "/v1/groups", new_group, expect=201)
    commit, welcome, _ = mls_commit(mls_state,
                                    add=[mls_key_package(bob), mls_key_package(bob2)])
    await alice.call("POST", group_path(gid, "/commits"), m.CommitRequest(
        epoch=0, commit=commit, posting_key=posting_public(pk1),
        added=[bob.device_id, bob2.device_id], welcome=welcome), expect=201)
    return [alice, bob, bob2], gid, pk1


async def burst(server: ServerProcess, gid: bytes, pk: Ed25519PrivateKey) -> dict[str, bytes]:
    """Post until BURST or the time limit; SIGKILL after KILL_AFTER acks. Returns acked posts."""
    acked: dict[str, bytes] = {}
    todo = iter(range(BURST))
    deadline = time.monotonic() + TIME_LIMIT_S
    killed = asyncio.Event()

    async def worker(http: httpx.AsyncClient) -> None:
        for i in todo:
            if killed.is_set() or time.monotonic() > deadline:
                return
            body = f"message-{i}-".encode() + secrets.token_bytes(200)
            post = application_post(pk, gid, 1, body)
            try:
                r = await http.post(group_path(gid, "/messages"), json=encode(post))
            except httpx.HTTPError:
                continue  # no answer: not acknowledged, may or may not be stored
            if r.status_code == 201:
                acked[r.json()["msg_id"]] = body
                if len(acked) >= KILL_AFTER and not killed.is_set():
                    killed.set()
                    await asyncio.to_thread(server.kill)

    async with httpx.AsyncClient(base_url=server.url, timeout=5.0) as http:
        await asyncio.gather(*(worker(http) for _ in range(CONCURRENCY)))
    assert killed.is_set(), "the burst ended before the kill"
    return acked


async def drain(device: SimDevice) -> list[tuple[str, bytes]]:
    seen: list[tuple[str, bytes]] = []
    after = 0
    for _ in range(100):  # bounded paging
        page = await device.fetch(after=after, limit=500)
        if not page.items:
            return seen
        seen += [(i.msg_id, sealed_body(i.body)) for i in page.items if i.kind == "application"]
        after = page.next_after
    raise AssertionError("queue did not drain")


async def test_sigkill_mid_burst_loses_no_acknowledged_message(
    store_location: tuple[Path, str | None],
) -> None:
    data_dir, database = store_location
    server = ServerProcess(data_dir, database=database, rate_limit_scale=1000).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as http:
            devices, gid, pk = await setup_group(http)
        acked = await burst(server, gid, pk)
        assert server.proc is not None and server.proc.returncode == -9
        server.start()  # same data folder, same database
        async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as http:
            for device in devices:
                device.http = http  # sessions are in the store: they survive too
                received = await drain(device)
                counts = collections.Counter(msg_id for msg_id, _ in received)
                bodies = dict(received)
                missing = [i for i in acked if i not in counts]
                assert not missing, f"{device}: {len(missing)} acknowledged messages lost"
                assert all(counts[i] == 1 for i in acked), "a message was delivered twice"
                assert all(bodies[i] == acked[i] for i in acked)
    finally:
        server.stop()
