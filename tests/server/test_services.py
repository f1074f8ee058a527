"""Service functions over a real store with a fake clock (both engines)."""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.harness import application_post, mls_new_group, posting_public, sealed_body

from accord.errors import AuthError, NotFound, RateLimited
from accord.ratelimit import Limit, RateLimiter
from accord.server import accounts, blobs, delivery
from accord.server.state import DAY_MS, Provider
from accord.storage import DeviceRecord
from accord.wire import messages as m
from accord.wire import signing


async def register(p: Provider, user: str) -> tuple[str, Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes_raw()
    account = f"{user}@alpha.test"
    req = m.RegisterRequest(account=account, signature_key=pub,
                            signature=key.sign(signing.register_input(account, pub)))
    device_id = (await accounts.register(p, req, p.clock())).device_id
    ch = await accounts.challenge(p, m.ChallengeRequest(device_id=device_id), p.clock())
    sig = key.sign(signing.login_input("alpha.test", device_id, ch.nonce))
    login = await accounts.login(p, m.LoginRequest(device_id=device_id, nonce=ch.nonce,
                                                   signature=sig), p.clock())
    return device_id, key, login.token


def creator(me: DeviceRecord, key: Ed25519PrivateKey) -> Any:
    """What ``mls_new_group`` needs of a device: its identity and signature key."""
    return SimpleNamespace(identity=f"{me.account}/{me.device_id}".encode(), key=key)


async def test_sessions_and_challenges_expire(provider: Provider, clock) -> None:
    device_id, key, token = await register(provider, "alice")
    assert (await accounts.authenticate(provider, token, clock())).device_id == device_id
    clock.advance(provider.config.session_ttl_ms + 1)
    with pytest.raises(AuthError):
        await accounts.authenticate(provider, token, clock())
    ch = await accounts.challenge(provider, m.ChallengeRequest(device_id=device_id), clock())
    clock.advance(provider.config.challenge_ttl_ms + 1)
    sig = key.sign(signing.login_input("alpha.test", device_id, ch.nonce))
    with pytest.raises(AuthError):
        await accounts.login(provider, m.LoginRequest(device_id=device_id, nonce=ch.nonce,
                                                      signature=sig), clock())


async def test_sessions_store_only_a_hash(provider: Provider) -> None:
    device_id, _, token = await register(provider, "alice")
    assert await provider.store.get_session(accounts.token_hash(token)) is not None
    with pytest.raises(NotFound):
        await provider.store.get_session(token.encode())


async def test_retention_drops_unacknowledged_items_after_30_days(provider: Provider,
                                                                  clock) -> None:
    device_id, key, token = await register(provider, "alice")
    me = await accounts.authenticate(provider, token, clock())
    gid, pk = secrets.token_bytes(16), Ed25519PrivateKey.generate()
    await delivery.create_group(provider, me, mls_new_group(
        creator(me, key), gid, posting_public(pk))[0], clock())
    await delivery.post_application(provider, gid, application_post(pk, gid, 0, b"old"), clock())
    blob = await blobs.upload(provider, me, b"attachment", clock())
    clock.advance(29 * DAY_MS)
    await delivery.post_application(provider, gid, application_post(pk, gid, 0, b"new"), clock())
    await delivery.purge(provider, clock())
    me = await accounts.authenticate(provider, (await register(provider, "bob"))[2], clock())
    alice = await provider.store.get_device(device_id)
    assert [sealed_body(i.body) for i in (await delivery.fetch(provider, alice, 0, 10)).items] == [
        b"old", b"new"]
    clock.advance(2 * DAY_MS)  # "old" is now 31 days old
    await delivery.purge(provider, clock())
    assert [sealed_body(i.body) for i in (await delivery.fetch(provider, alice, 0, 10)).items] == [
        b"new"]
    with pytest.raises(NotFound):
        await blobs.download(provider, blob.blob_id)


async def test_T11_application_rows_name_no_sender(provider: Provider, clock) -> None:
    _, key, token = await register(provider, "alice")
    me = await accounts.authenticate(provider, token, clock())
    gid, pk = secrets.token_bytes(16), Ed25519PrivateKey.generate()
    await delivery.create_group(provider, me, mls_new_group(
        creator(me, key), gid, posting_public(pk))[0], clock())
    await delivery.post_application(provider, gid, application_post(pk, gid, 0, b"ct"), clock())
    async with provider.store.engine.transaction() as tx:  # type: ignore[attr-defined]
        rows = await tx.fetchall("SELECT kind, sender, body FROM messages")
        nonces = await tx.fetchall("SELECT * FROM post_nonces")
    assert [(r[0], r[1]) for r in rows] == [("application", None)]
    # The nonce table links a nonce to a group and an expiry, to nobody.
    assert all(me.device_id not in str(row) for row in nonces)


async def test_posting_is_rate_limited_per_group_and_per_posting_key(provider: Provider,
                                                                     clock) -> None:
    _, key, token = await register(provider, "alice")
    me = await accounts.authenticate(provider, token, clock())
    gid, pk = secrets.token_bytes(16), Ed25519PrivateKey.generate()
    await delivery.create_group(provider, me, mls_new_group(
        creator(me, key), gid, posting_public(pk))[0], clock())
    provider.limiter = RateLimiter({"group": Limit(1000, 1000), "posting_key": Limit(1, 3)})
    for _ in range(3):
        await delivery.post_application(provider, gid, application_post(pk, gid, 0, b"x"),
                                        clock())
    with pytest.raises(RateLimited):
        await delivery.post_application(provider, gid, application_post(pk, gid, 0, b"x"),
                                        clock())
    clock.advance(1000)  # one token back
    await delivery.post_application(provider, gid, application_post(pk, gid, 0, b"x"), clock())
    provider.limiter = RateLimiter({"group": Limit(1, 1), "posting_key": Limit(1000, 1000)})
    await delivery.post_application(provider, gid, application_post(pk, gid, 0, b"y"), clock())
    with pytest.raises(RateLimited):
        await delivery.post_application(provider, gid, application_post(pk, gid, 0, b"y"),
                                        clock())


def test_rate_limiter_refills_with_time_and_stays_bounded() -> None:
    rl = RateLimiter({"device": Limit(10, 2)}, max_keys=3)
    rl.check("device", "a", 0)
    rl.check("device", "a", 0)
    with pytest.raises(RateLimited):
        rl.check("device", "a", 0)
    rl.check("device", "a", 100)  # 10/s: one token after 100 ms
    for key in "bcdef":
        rl.check("device", key, 0)
    assert len(rl._buckets["device"]) == 3
