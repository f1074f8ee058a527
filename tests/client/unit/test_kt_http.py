"""The device's transparency requests (``keycheck.KtHttp``) against a scripted
provider: an answer about another provider, account or witness, an oversized or
failed answer, an unreachable log: each a typed error, never taken as proof; and
self-monitoring (T05) on the in-memory provider's log."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client import alerts, keycheck
from accord.client.api import ServerError
from accord.client.keycheck import KeyChecker, KtHttp
from accord.errors import NotFound, ValidationError
from accord.wire import dumps
from accord.wire import transparency as wt
from accord.wire.federation import WellKnown

from .fakes import NOW, FakeProvider
from .kv import Kv

KEY = Ed25519PrivateKey.generate().public_key().public_bytes_raw()


def _http(handler) -> KtHttp:
    return KtHttp("http://alpha.test", "alpha.test", {"beta.test": "http://beta.test/"},
                  httpx.MockTransport(handler))


async def test_answers_about_someone_else_are_refused() -> None:
    def lying(req: httpx.Request) -> httpx.Response:
        path = req.url.path
        if path == "/.well-known/accord":
            return httpx.Response(200, content=dumps(WellKnown("evil.test", "http://e", KEY)))
        if path.startswith("/v1/transparency/lookup/"):
            return httpx.Response(200, content=dumps(wt.KtLookup("eve@alpha.test", b"h", b"p")))
        if path.endswith("/head"):
            return httpx.Response(200, content=dumps(wt.KtWitnessed(
                "beta.test", "gamma.test", b"h", b"c", KEY)))
        return httpx.Response(404)

    http = _http(lying)
    assert http.direct_base("beta.test") == "http://beta.test"
    assert http.direct_base("gamma.test") is None
    with pytest.raises(ValidationError, match="names another domain"):
        await http.well_known("beta.test")
    assert await http.well_known("gamma.test") is None  # not reachable directly
    assert await http.head("gamma.test") is None
    with pytest.raises(ValidationError, match="another account"):
        await http.lookup("ann@alpha.test")
    with pytest.raises(ValidationError, match="another provider or witness"):
        await http.witnessed("beta.test")
    await http.close()


async def test_oversized_failed_and_unreachable_answers_are_typed() -> None:
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(str(req.url))
        if "lookup" in req.url.path:
            return httpx.Response(200, content=b"x" * (keycheck.MAX_ANSWER + 1))
        if "consistency" in req.url.path:
            return httpx.Response(503, content=json.dumps(
                {"error": "unavailable", "message": "down"}).encode())
        raise httpx.ConnectError("refused", request=req)

    http = _http(handler)
    with pytest.raises(ValidationError, match="oversized"):
        await http.lookup("ann@alpha.test")
    with pytest.raises(ServerError):
        await http.consistency("beta.test", 1, 2)
    with pytest.raises(ServerError):  # not reachable directly: relayed by our provider
        await http.consistency("gamma.test", 1, 2)
    assert seen[-1] == "http://alpha.test/v1/transparency/peers/gamma.test/consistency?old=1&new=2"
    with pytest.raises(NotFound, match="could not be reached"):
        await http.head("alpha.test")
    await http.close()


async def test_T05_a_device_the_person_did_not_approve_is_an_alert(tmp_path: Path) -> None:
    p = FakeProvider()
    dev = await p.device(tmp_path / "a", "ann@alpha.test")
    kv = Kv()
    kc = KeyChecker(kv, KtHttp(p.url, p.domain, {}, p.transport))
    assert await kc.monitor_self("ann@alpha.test", dev.signature_public_key, NOW) == ()
    assert alerts.pending(kv) == [] and not kc.monitor_due(NOW + 1)
    # the provider adds a device nobody approved
    ghost = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    p._new_device("ann@alpha.test", ghost)
    p._publish("ann@alpha.test")
    assert await kc.monitor_self("ann@alpha.test", dev.signature_public_key, NOW) == (ghost,)
    (alert,) = alerts.pending(kv)
    assert (alert["kind"], alert["detail"]["key"]) == ("unknown_device",
                                                      alerts.fingerprint(ghost))
    # once approved, no more alerts for it
    kc.approve_own_keys([ghost])
    assert await kc.monitor_self("ann@alpha.test", dev.signature_public_key, NOW) == ()
    # our own key missing from our log is an alert too
    del p.devices[dev.identity.device_id]
    p._publish("ann@alpha.test")
    await kc.monitor_self("ann@alpha.test", dev.signature_public_key, NOW)
    assert [a["kind"] for a in alerts.pending(kv)][-1] == "key_not_in_log"
    await kc.http.close()
