"""Clocks hours apart, between providers and between a device and its provider.

What each party accepts, and the window it tolerates:

- a signed federation request: ``created`` within ``SIGNATURE_WINDOW_S`` (5 min) of
  the receiver's clock, either way; beyond it a typed 401 (auth_error), which the
  sender's outbound queue treats as its own failure (kept, retried: test_peer_faults);
  a replay inside the window is refused by its nonce, after it by its age;
- sessions and login challenges: issued and checked on the provider's clock only, so a
  device's clock does not matter; a device that thinks an expired session is still good
  gets a 401 and logs in again by itself;
- a KeyPackage: valid from an hour before its maker's clock (``mls.group.keys``), so a
  device up to an hour ahead is tolerated; further ahead, the upload is a 422 naming
  RFC 9420's lifetime rule, never a KeyPackage that nobody can use.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from accord.client.api import ProviderApi
from accord.errors import AuthError, ValidationError
from accord.federation import http_signatures as hs
from accord.federation.mls_check import check_key_package
from accord.federation.provider_key import ProviderKey
from accord.federation.service import SIGNATURE_WINDOW_S, Federation, FederationConfig
from accord.server.errors import status_of
from accord.server.state import Provider, ServerConfig
from accord.storage import DeviceRecord, open_store
from accord.wire import encode
from accord.wire import federation as fw
from tests.faults.node import running_node
from tests.harness import SimDevice, mls_key_package
from tests.timing import FakeClock

HOUR_S = 3600
NOW_MS = 1_800_000_000_000
BETA = "http://127.0.0.1:9"  # never contacted: the transport is a mock


@pytest.fixture
async def alpha(tmp_path: Path) -> AsyncIterator[tuple[Federation, ProviderKey]]:
    """alpha.test's federation, which knows beta.test's key from its well-known."""
    beta_key = ProviderKey.generate()

    def well_known(request: httpx.Request) -> httpx.Response:
        doc = fw.WellKnown(domain="beta.test", api_base=BETA, signing_key=beta_key.public)
        return httpx.Response(200, json=encode(doc))

    store = await open_store(tmp_path)
    provider = Provider(ServerConfig(domain="alpha.test", data_dir=tmp_path), store)
    fed = Federation(provider, ProviderKey.generate(),
                     FederationConfig("alpha.test", {"beta.test": BETA}),
                     httpx.MockTransport(well_known))
    try:
        yield fed, beta_key
    finally:
        await fed.close()
        await store.close()


def signed_by_beta(key: ProviderKey, created_s: int, nonce: str | None = None
                   ) -> tuple[dict[str, str], bytes]:
    body = b'{"items": []}'
    headers = hs.sign_request(key.sign, method="POST", authority="alpha.test",
                              path="/federation/v1/deliver", body=body, keyid="beta.test",
                              created=created_s, nonce=nonce or secrets.token_urlsafe(18))
    return {k.lower(): v for k, v in headers.items()}, body


async def receive(fed: Federation, headers: dict[str, str], body: bytes, now_ms: int) -> str:
    return await fed.authenticate("POST", "alpha.test", "/federation/v1/deliver", headers,
                                  body, "127.0.0.1", now_ms)


@pytest.mark.parametrize("skew_s", [-SIGNATURE_WINDOW_S, SIGNATURE_WINDOW_S])
async def test_a_peer_clock_within_the_window_is_tolerated(
        alpha: tuple[Federation, ProviderKey], skew_s: int) -> None:
    fed, beta_key = alpha
    headers, body = signed_by_beta(beta_key, NOW_MS // 1000 + skew_s)
    assert await receive(fed, headers, body, NOW_MS) == "beta.test"


@pytest.mark.parametrize("skew_s", [-3 * HOUR_S, -SIGNATURE_WINDOW_S - 1,
                                    SIGNATURE_WINDOW_S + 1, 3 * HOUR_S])
async def test_a_peer_clock_hours_off_is_a_typed_401(
        alpha: tuple[Federation, ProviderKey], skew_s: int) -> None:
    fed, beta_key = alpha
    headers, body = signed_by_beta(beta_key, NOW_MS // 1000 + skew_s)
    with pytest.raises(AuthError, match="time window") as caught:
        await receive(fed, headers, body, NOW_MS)
    assert status_of(caught.value) == 401


@pytest.mark.parametrize("skew_s", [-SIGNATURE_WINDOW_S + 1, 0, SIGNATURE_WINDOW_S - 1])
async def test_a_replay_is_refused_by_its_nonce_inside_the_window_and_by_its_age_after(
        alpha: tuple[Federation, ProviderKey], skew_s: int) -> None:
    fed, beta_key = alpha
    headers, body = signed_by_beta(beta_key, NOW_MS // 1000 + skew_s)
    assert await receive(fed, headers, body, NOW_MS) == "beta.test"
    # Every moment until the signature is too old: its nonce is still remembered.
    for later_s in (0, 1, skew_s + SIGNATURE_WINDOW_S):
        with pytest.raises(AuthError):
            await receive(fed, headers, body, NOW_MS + later_s * 1000)
    # The nonces are purged as soon as they expire; the signature's age refuses it then.
    purge_at = NOW_MS + (skew_s + SIGNATURE_WINDOW_S + 2) * 1000
    await fed.provider.store.fed_purge(purge_at, 0)
    with pytest.raises(AuthError, match="time window"):
        await receive(fed, headers, body, purge_at)


async def test_a_device_clock_behind_renews_a_session_the_provider_expired(
        tmp_path: Path) -> None:
    server_clock = FakeClock(NOW_MS)
    async with running_node(tmp_path, clock=server_clock) as node:
        device = await SimDevice(node.http, "alice@alpha.test").register()
        api = ProviderApi("http://node", transport=node.http._transport)
        async with api:
            login = await api.login("alpha.test", device.device_id, device.key.sign)
            token = login.token
            # The provider's clock passes the session's end; the device's, hours behind,
            # still believes in it, so it sends the old token.
            server_clock.advance(login.expires_at - NOW_MS + 1)
            api.resume(token, login.expires_at, lambda: api.login(
                "alpha.test", device.device_id, device.key.sign))
            page = await api.fetch(0, 10)
            assert page.items == [] and api._token != token  # a 401, a new login, the answer
            stale = await node.http.get("/v1/queue", headers={"Authorization": f"Bearer {token}"})
            assert stale.status_code == 401 and stale.json()["error"] == "auth_error"


def _device(sim: SimDevice) -> DeviceRecord:
    sim.device_id = "dev" + secrets.token_hex(8)
    return DeviceRecord(sim.device_id, sim.account, sim.public, NOW_MS)


@pytest.mark.parametrize("ahead_s", [0, HOUR_S - 60, -30 * 24 * HOUR_S])
def test_a_key_package_from_a_device_clock_up_to_an_hour_ahead_is_tolerated(
        ahead_s: int) -> None:
    sim = SimDevice(None, "alice@alpha.test")  # type: ignore[arg-type]
    device = _device(sim)
    raw = mls_key_package(sim, now_s=NOW_MS // 1000 + ahead_s)
    check_key_package(raw, device, NOW_MS)


@pytest.mark.parametrize("ahead_s", [HOUR_S + 60, 5 * HOUR_S])
def test_a_key_package_from_a_device_clock_hours_ahead_is_a_422_naming_the_rule(
        ahead_s: int) -> None:
    sim = SimDevice(None, "alice@alpha.test")  # type: ignore[arg-type]
    device = _device(sim)
    raw = mls_key_package(sim, now_s=NOW_MS // 1000 + ahead_s)
    with pytest.raises(ValidationError, match="lifetime") as caught:
        check_key_package(raw, device, NOW_MS)
    assert status_of(caught.value) == 422
