"""Accounts and devices cannot be enumerated without a session (issue 17, T14, T08).

The real routes of a provider over httpx's ASGI transport, with a fake clock
and a chosen client address, so the per-address throttles are exercised
with time as an input.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from tests.server.test_services import register

from accord.federation import provider_key
from accord.server.routes import http_routes
from accord.server.state import Provider
from accord.server.transparency import open_log
from accord.server.transparency_routes import transparency_routes
from accord.wire import b64e, encode
from accord.wire import messages as m

PROBER = "203.0.113.7"


def _client(provider: Provider, address: str = PROBER) -> httpx.AsyncClient:
    app = Starlette(routes=[*http_routes(), *transparency_routes()])
    app.state.provider = provider
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://alpha.test")


@pytest.fixture
async def http(provider: Provider, tmp_path, clock) -> AsyncIterator[httpx.AsyncClient]:
    keys = await provider_key.load(tmp_path, provider.store.secrets)
    provider.transparency = await open_log("alpha.test", provider.store.engine, keys.signing,
                                           keys.index, clock())
    async with _client(provider) as client:
        yield client


def _unknown_device() -> str:
    return b64e(secrets.token_bytes(16))


async def test_T14_a_login_challenge_does_not_tell_which_devices_exist(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    device_id, _, _ = await register(provider, "alice")
    real = await http.post("/v1/auth/challenge", json={"device_id": device_id})
    fake = await http.post("/v1/auth/challenge", json={"device_id": _unknown_device()})
    assert (real.status_code, fake.status_code) == (200, 200)
    assert real.json().keys() == fake.json().keys()
    assert len(real.json()["nonce"]) == len(fake.json()["nonce"])
    assert real.json()["expires_at"] == fake.json()["expires_at"]
    # A login then fails alike: a bad signature on a real device, any on an unknown one.
    answers = []
    for device, ch in ((device_id, real), (_unknown_device(), fake)):
        req = {"device_id": device, "nonce": ch.json()["nonce"], "signature": b64e(b"s" * 64)}
        r = await http.post("/v1/auth/login", json=req)
        answers.append((r.status_code, r.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401 and answers[0][1]["error"] == "auth_error"


async def test_T08_a_device_list_needs_a_session_and_answers_all_accounts_alike(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    await register(provider, "alice")
    there = await http.get("/v1/accounts/alice@alpha.test/devices")
    missing = await http.get("/v1/accounts/nobody@alpha.test/devices")
    assert (there.status_code, there.json()) == (missing.status_code, missing.json())
    assert there.status_code == 401 and there.json()["error"] == "auth_error"


async def test_T14_unauthenticated_probes_are_throttled_per_address(
    provider: Provider, http: httpx.AsyncClient, clock
) -> None:
    burst = int(provider.config.limits["probe"].burst)
    statuses = [(await http.post("/v1/auth/challenge",
                                 json={"device_id": _unknown_device()})).status_code
                for _ in range(300)]  # 300 probes at one instant
    assert statuses == [200] * burst + [429] * (300 - burst)
    r = await http.post("/v1/devices/find", json=encode(m.FindDeviceRequest(
        "alice@alpha.test", b"k" * 32)))
    assert r.status_code == 429 and r.json()["error"] == "rate_limited"
    assert r.headers["retry-after"] == "1"
    # Another address is not affected; the prober gets two more after a second.
    async with _client(provider, "198.51.100.9") as other:
        assert (await other.post("/v1/auth/challenge",
                                 json={"device_id": _unknown_device()})).status_code == 200
    clock.advance(1000)
    again = [(await http.post("/v1/auth/challenge",
                              json={"device_id": _unknown_device()})).status_code
             for _ in range(3)]
    assert again == [200, 200, 429]


async def test_T14_transparency_lookups_are_throttled_per_address(
    provider: Provider, http: httpx.AsyncClient
) -> None:
    burst = int(provider.config.limits["kt_lookup"].burst)
    statuses = [(await http.get(f"/v1/transparency/lookup/u{i}@alpha.test")).status_code
                for i in range(burst + 50)]
    assert statuses == [200] * burst + [429] * 50
