"""THREATS.md T08: every endpoint refuses what the caller's account may not do."""

from __future__ import annotations

import secrets

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.harness import (
    SimDevice,
    application_post,
    group_path,
    mls_key_package,
    mls_new_group,
    posting_public,
    sealed_body,
)

from accord.server.routes import SPECS
from accord.wire import b64e, encode, signing
from accord.wire import messages as m

# Every route and the test below that attacks it ("public" routes are open by design).
COVERAGE = {
    ("GET", "/healthz"): "public",
    ("POST", "/v1/accounts"): "test_T08_register_cannot_take_an_existing_account",
    ("GET", "/v1/accounts/{account}/devices"): "test_T08_anonymous_calls_are_refused",
    ("POST", "/v1/devices/find"): "test_T14_find_device_answers_only_a_known_key",
    ("POST", "/v1/accounts/{account}/keypackages/claim"): "test_T08_anonymous_calls_are_refused",
    ("POST", "/v1/auth/challenge"): "test_T08_login_as_another_device_is_refused",
    ("POST", "/v1/auth/login"): "test_T08_login_as_another_device_is_refused",
    ("POST", "/v1/devices"): "test_T08_device_add_needs_the_accounts_certification",
    ("DELETE", "/v1/devices/{device_id}"): "test_T08_cannot_remove_another_accounts_device",
    ("POST", "/v1/keypackages"): "test_T08_key_packages_are_per_own_device",
    ("GET", "/v1/keypackages/count"): "test_T08_key_packages_are_per_own_device",
    ("POST", "/v1/groups"): "test_T08_non_member_cannot_touch_a_group",
    ("GET", "/v1/groups/{group_id}"): "test_T08_non_member_cannot_touch_a_group",
    ("POST", "/v1/groups/{group_id}/commits"): "test_T08_non_member_cannot_touch_a_group",
    ("POST", "/v1/groups/{group_id}/proposals"): "test_T08_non_member_cannot_touch_a_group",
    ("POST", "/v1/groups/{group_id}/messages"): "test_T08_non_member_cannot_touch_a_group",
    ("GET", "/v1/queue"): "test_T08_a_device_reads_and_acks_only_its_own_queue",
    ("POST", "/v1/queue/ack"): "test_T08_a_device_reads_and_acks_only_its_own_queue",
    ("POST", "/v1/blobs"): "test_T08_anonymous_calls_are_refused",
    ("GET", "/v1/blobs/{blob_id}"): "test_T08_blobs_need_their_capability",
}


def test_T08_every_endpoint_has_an_authorization_test() -> None:
    assert {(s.method, s.path) for s in SPECS} == set(COVERAGE)
    for name in set(COVERAGE.values()) - {"public"}:
        assert callable(globals()[name]), name
    for spec in SPECS:
        if not spec.auth:
            # Unauthenticated routes are exactly these, each for a stated reason.
            assert spec.path in {
                "/healthz", "/v1/accounts",
                "/v1/auth/challenge", "/v1/auth/login",  # uniform for unknown devices
                "/v1/devices/find",  # needs a key of the account; uniform 404
                "/v1/groups/{group_id}/messages",  # hidden sender: posting-key signature
                "/v1/blobs/{blob_id}",  # capability id
            }, spec.path


async def two(http: httpx.AsyncClient, names) -> tuple[SimDevice, SimDevice]:
    return (await SimDevice(http, names("alice")).register(),
            await SimDevice(http, names("eve")).register())


async def test_T08_anonymous_calls_are_refused(http: httpx.AsyncClient, names) -> None:
    alice, _ = await two(http, names)
    for spec in SPECS:
        if spec.auth:
            path = spec.path.format(account=alice.account, device_id=alice.device_id,
                                    group_id=b64e(b"g"))
            r = await http.request(spec.method, path, json={})
            assert r.status_code == 401, (spec.path, r.status_code)
            assert r.json()["error"] == "auth_error"


async def test_T08_register_cannot_take_an_existing_account(http, names) -> None:
    alice, _ = await two(http, names)
    eve_key = Ed25519PrivateKey.generate()
    pub = eve_key.public_key().public_bytes_raw()
    sig = eve_key.sign(signing.register_input(alice.account, pub))
    req = m.RegisterRequest(account=alice.account, signature_key=pub, signature=sig)
    r = await http.post("/v1/accounts", json=encode(req))
    assert r.status_code == 409
    r = await alice.call("GET", f"/v1/accounts/{alice.account}/devices")
    assert [d["device_id"] for d in r.json()["devices"]] == [alice.device_id]


async def test_T08_login_as_another_device_is_refused(http, names) -> None:
    alice, eve = await two(http, names)
    r = await http.post("/v1/auth/challenge", json={"device_id": alice.device_id})
    nonce = r.json()["nonce"]
    from accord.wire import b64d

    sig = eve.key.sign(signing.login_input("alpha.test", alice.device_id, b64d(nonce)))
    r = await http.post("/v1/auth/login", json=encode(m.LoginRequest(
        device_id=alice.device_id, nonce=b64d(nonce), signature=sig)))
    assert r.status_code == 401
    # A nonce issued for eve's device cannot be spent on alice's.
    r = await http.post("/v1/auth/challenge", json={"device_id": eve.device_id})
    nonce = b64d(r.json()["nonce"])
    sig = eve.key.sign(signing.login_input("alpha.test", alice.device_id, nonce))
    r = await http.post("/v1/auth/login", json=encode(m.LoginRequest(
        device_id=alice.device_id, nonce=nonce, signature=sig)))
    assert r.status_code == 401


async def test_T08_device_add_needs_the_accounts_certification(http, names) -> None:
    alice, eve = await two(http, names)
    new = Ed25519PrivateKey.generate()
    pub = new.public_key().public_bytes_raw()
    # eve replays alice's certification of a key under her own session: refused.
    cert = alice.key.sign(signing.add_device_input(alice.account, pub))
    pop = new.sign(signing.possession_input(alice.account, pub))
    req = m.AddDeviceRequest(signature_key=pub, certification=cert, possession=pop)
    assert (await eve.call("POST", "/v1/devices", req)).status_code == 401
    # Without the new key's own signature, even alice cannot add it.
    bad = m.AddDeviceRequest(signature_key=pub, certification=cert, possession=b"\0" * 64)
    assert (await alice.call("POST", "/v1/devices", bad)).status_code == 401
    # A succession (issue 19) must be the certifying device's own signature too.
    forged = new.sign(signing.succession_input(alice.account, alice.key.public_key()
                                               .public_bytes_raw(), pub))
    bad = m.AddDeviceRequest(signature_key=pub, certification=cert, possession=pop,
                             succession=forged)
    assert (await alice.call("POST", "/v1/devices", bad)).status_code == 401
    r = await alice.call("GET", f"/v1/accounts/{alice.account}/devices")
    assert len(r.json()["devices"]) == 1


async def test_T08_cannot_remove_another_accounts_device(http, names) -> None:
    alice, eve = await two(http, names)
    r = await eve.call("DELETE", f"/v1/devices/{alice.device_id}")
    assert r.status_code == 404
    assert (await alice.call("GET", "/v1/keypackages/count")).status_code == 200


async def test_T08_key_packages_are_per_own_device(http, names) -> None:
    alice, eve = await two(http, names)
    await eve.call("POST", "/v1/keypackages",
                   m.UploadKeyPackagesRequest(key_packages=[mls_key_package(eve)]), expect=200)
    r = await alice.call("GET", "/v1/keypackages/count", expect=200)
    assert r.json() == {"count": 0, "last_resort": False, "last_resort_used": False,
                        "withheld": 0}
    r = await eve.call("POST", f"/v1/accounts/{alice.account}/keypackages/claim", expect=200)
    assert r.json()["key_packages"] == []


async def test_T08_non_member_cannot_touch_a_group(http, names) -> None:
    alice, eve = await two(http, names)
    gid, pk = secrets.token_bytes(16), Ed25519PrivateKey.generate()
    new_group, mls_state = mls_new_group(alice, gid, posting_public(pk))
    await alice.call("POST", "/v1/groups", new_group, expect=201)
    hijack = mls_new_group(eve, gid, b"e" * 32)[0]
    assert (await eve.call("POST", "/v1/groups", hijack)).status_code == 409
    assert (await eve.call("GET", group_path(gid))).status_code == 404
    commit = m.CommitRequest(epoch=0, commit=b"c", posting_key=b"e" * 32,
                             added=[eve.device_id], welcome=b"w")
    assert (await eve.call("POST", group_path(gid, "/commits"), commit)).status_code == 404
    prop = m.ProposalRequest(epoch=0, proposal=b"p")
    assert (await eve.call("POST", group_path(gid, "/proposals"), prop)).status_code == 404
    forged = application_post(Ed25519PrivateKey.generate(), gid, 0, b"spam")
    assert (await http.post(group_path(gid, "/messages"), json=encode(forged))).status_code == 401
    r = await alice.call("GET", group_path(gid), expect=200)
    assert r.json()["epoch"] == 0 and r.json()["members"] == [alice.device_id]
    assert (await eve.fetch()).items == []


async def test_T08_a_device_reads_and_acks_only_its_own_queue(http, names) -> None:
    alice, eve = await two(http, names)
    gid, pk = secrets.token_bytes(16), Ed25519PrivateKey.generate()
    new_group, mls_state = mls_new_group(alice, gid, posting_public(pk))
    await alice.call("POST", "/v1/groups", new_group, expect=201)
    post = application_post(pk, gid, 0, b"for alice")
    assert (await http.post(group_path(gid, "/messages"), json=encode(post))).status_code == 201
    assert (await eve.fetch()).items == []
    r = await eve.call("POST", "/v1/queue/ack", m.AckRequest(up_to=2**40), expect=200)
    assert r.json() == {"removed": 0}
    assert [sealed_body(i.body) for i in (await alice.fetch()).items] == [b"for alice"]


async def test_T08_blobs_need_their_capability(http, names) -> None:
    alice, _ = await two(http, names)
    r = await http.post("/v1/blobs", content=b"secret-ciphertext", headers=alice.auth)
    blob_id = r.json()["blob_id"]
    assert (await http.get(f"/v1/blobs/{blob_id}")).status_code == 200
    wrong = blob_id[:-2] + ("AA" if not blob_id.endswith("AA") else "BA")
    assert (await http.get(f"/v1/blobs/{wrong}")).status_code == 404


async def test_T08_push_reaches_only_the_queue_owner(server, http, names) -> None:
    """eve's WebSocket session never carries what is queued for alice."""
    import asyncio
    import json

    import websockets

    alice, eve = await two(http, names)
    gid, pk = secrets.token_bytes(16), Ed25519PrivateKey.generate()
    new_group, mls_state = mls_new_group(alice, gid, posting_public(pk))
    await alice.call("POST", "/v1/groups", new_group, expect=201)
    ws_url = server.url.replace("http://", "ws://") + "/v1/ws"
    async with websockets.connect(ws_url) as ws_eve, websockets.connect(ws_url) as ws_alice:
        await ws_eve.send(json.dumps({"type": "auth", "token": eve.token}))
        await ws_alice.send(json.dumps({"type": "auth", "token": alice.token}))
        post = application_post(pk, gid, 0, b"for alice only")
        assert (await http.post(group_path(gid, "/messages"), json=encode(post))).status_code == 201
        got = json.loads(await asyncio.wait_for(ws_alice.recv(), 10))
        assert [i["body"] for i in got["items"]] == [b64e(post.ciphertext)]
        try:
            frame = await asyncio.wait_for(ws_eve.recv(), 1.0)
            raise AssertionError(f"eve received a frame: {frame[:80]!r}")
        except TimeoutError:
            pass


async def test_T14_find_device_answers_only_a_known_key(http, names) -> None:
    alice, eve = await two(http, names)
    find = "/v1/devices/find"
    r = await http.post(find, json=encode(m.FindDeviceRequest(alice.account, alice.public)))
    assert r.status_code == 200 and r.json() == {"device_id": alice.device_id}
    # eve's key on alice's account, and any key on a missing account: the same 404.
    for account, key in ((alice.account, eve.public), (names("nobody"), alice.public)):
        r = await http.post(find, json=encode(m.FindDeviceRequest(account, key)))
        assert (r.status_code, r.json()["error"], r.json()["message"]) == (
            404, "not_found", "no such device")
