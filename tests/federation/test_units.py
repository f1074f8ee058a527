"""Sans-I/O parts of federation: RFC 9421 signatures, backoff, discovery cache, provider key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from accord.errors import AuthError, DecodeError, NotFound, PeerUnavailable, ValidationError
from accord.federation import http_signatures as hs
from accord.federation.discovery import Resolver, parse_peer
from accord.federation.outbox_policy import Backoff
from accord.federation.provider_key import ProviderKey, key_path, load_or_create
from accord.wire.federation import WellKnown

NONCE = "n" * 24
REQ = {"method": "POST", "authority": "127.0.0.1:8402", "path": "/federation/v1/deliver"}


def _signed(key: ProviderKey, body: bytes = b"{}", keyid: str = "alpha.test",
            created: int = 1_700_000_000) -> dict[str, str]:
    h = hs.sign_request(key.sign, body=body, keyid=keyid, created=created, nonce=NONCE, **REQ)
    return {k.lower(): v for k, v in h.items()}


def _verify(headers: dict[str, str], public: bytes, body: bytes = b"{}", **over: str) -> None:
    claim = hs.parse_signature(headers)
    digest = hs.check_digest(headers, body)
    hs.verify_request(claim, public, digest=digest, **{**REQ, **over})


def test_signature_base_is_rfc9421_shaped() -> None:
    base = hs.signature_base("post", "Example.COM", "/p", "sha-256=:x:", "(...)")
    assert base.decode().splitlines() == [
        '"@method": POST', '"@authority": example.com', '"@path": /p',
        '"content-digest": sha-256=:x:', '"@signature-params": (...)',
    ]


def test_a_signed_request_verifies_and_every_change_breaks_it() -> None:
    key = ProviderKey.generate()
    headers = _signed(key)
    _verify(headers, key.public)
    assert hs.parse_signature(headers).keyid == "alpha.test"
    with pytest.raises(AuthError):
        _verify(headers, ProviderKey.generate().public)  # another provider's key
    with pytest.raises(AuthError):
        _verify(headers, key.public, path="/federation/v1/commits")
    with pytest.raises(AuthError):
        _verify(headers, key.public, authority="127.0.0.1:8403")
    with pytest.raises(AuthError):
        _verify(headers, key.public, method="PUT")
    with pytest.raises(AuthError):
        _verify(headers, key.public, body=b'{"x":1}')  # digest no longer matches
    forged = dict(headers, **{"signature-input": headers["signature-input"].replace(
        "alpha.test", "gamma.test")})
    with pytest.raises(AuthError):
        _verify(forged, key.public)  # keyid is covered by the signature


def test_only_the_one_accepted_form_parses() -> None:
    headers = _signed(ProviderKey.generate())
    with pytest.raises(AuthError):
        hs.parse_signature({})
    for name, bad in (("signature-input", headers["signature-input"].replace("sig1", "sig2")),
                      ("signature-input", headers["signature-input"] + ';expires=1'),
                      ("signature", "sig1=:AAAA:")):
        with pytest.raises(DecodeError):
            hs.parse_signature(dict(headers, **{name: bad}))
    with pytest.raises(AuthError):
        hs.check_digest({}, b"")


def test_created_window() -> None:
    claim = hs.parse_signature(_signed(ProviderKey.generate(), created=1000))
    hs.check_fresh(claim, 1000 + 300, 300)
    hs.check_fresh(claim, 1000 - 300, 300)
    for now in (1000 + 301, 1000 - 301):
        with pytest.raises(AuthError):
            hs.check_fresh(claim, now, 300)


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    b = Backoff(base_ms=500, factor=2.0, cap_ms=30_000, jitter=0.2)
    assert [b.delay_ms(n) for n in range(0, 9)] == [
        0, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]
    assert b.delay_ms(10_000) == 30_000
    assert b.delay_ms(3, spread=0.999) < 2000 * 1.2
    assert b.next_attempt(2, now=10_000) == 11_000
    # A peer down for ten minutes is tried again at most cap (+ jitter) after it is back.
    now, failures, attempts = 0, 0, []
    while now < 600_000:
        failures += 1
        now = b.next_attempt(failures, now)
        attempts.append(now)
    assert attempts[-1] - 600_000 <= 30_000 * 1.2
    assert len(attempts) < 30


async def test_resolver_caches_until_expiry_and_refuses_unknown_domains() -> None:
    calls: list[str] = []
    doc = WellKnown(domain="beta.test", api_base="http://127.0.0.1:1/", signing_key=b"k" * 32)

    async def fetch(domain: str, url: str) -> WellKnown:
        calls.append(url)
        return doc

    r = Resolver(fetch, {"beta.test": "http://127.0.0.1:1"}, ttl_ms=1000)
    peer = await r.resolve("beta.test", now=0)
    assert peer.api_base == "http://127.0.0.1:1" and peer.transparency_head is None
    await r.resolve("beta.test", now=999)
    assert calls == ["http://127.0.0.1:1/.well-known/accord"]
    await r.resolve("beta.test", now=1000)
    assert len(calls) == 2
    with pytest.raises(NotFound):
        await r.resolve("gamma.test", now=0)  # not mapped, DNS discovery off
    assert len(calls) == 2

    async def wrong(domain: str, url: str) -> WellKnown:
        return WellKnown(domain="evil.test", api_base="http://x", signing_key=b"k" * 32)

    with pytest.raises(ValidationError):
        await Resolver(wrong, {"beta.test": "http://127.0.0.1:1"}).resolve("beta.test", 0)


async def test_resolver_shares_one_fetch_between_concurrent_lookups_and_retries_failures(
) -> None:
    import asyncio

    calls = 0
    gate = asyncio.Event()

    async def slow(domain: str, url: str) -> WellKnown:
        nonlocal calls
        calls += 1
        await gate.wait()
        if calls == 1:
            raise PeerUnavailable("down")
        return WellKnown(domain="beta.test", api_base="http://127.0.0.1:1", signing_key=b"k" * 32)

    r = Resolver(slow, {"beta.test": "http://127.0.0.1:1"})
    waiting = [asyncio.ensure_future(r.resolve("beta.test", 0)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert calls == 1 and all(isinstance(x, PeerUnavailable) for x in results)
    assert (await r.resolve("beta.test", 1)).domain == "beta.test"  # tried again at once
    assert calls == 2


def test_peer_option_parsing() -> None:
    assert parse_peer("Beta.Test=http://127.0.0.1:8402/") == ("beta.test", "http://127.0.0.1:8402")
    for bad in ("beta.test", "beta.test=ftp://x", "=http://x", "b@d=http://x"):
        with pytest.raises(ValidationError):
            parse_peer(bad)


def test_provider_key_is_made_once_with_mode_0600_and_never_printed(tmp_path: Path) -> None:
    key = load_or_create(tmp_path)
    path = key_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create(tmp_path).public == key.public
    secret = path.read_bytes()
    assert secret.hex() not in repr(key) and str(secret) not in repr(key)
    os.chmod(path, 0o644)
    with pytest.raises(ValidationError):
        load_or_create(tmp_path)


async def test_resolver_refreshes_a_key_at_most_once_a_minute() -> None:
    keys = [b"1" * 32, b"2" * 32]

    async def fetch(domain: str, url: str) -> WellKnown:
        return WellKnown(domain="beta.test", api_base="http://127.0.0.1:1",
                         signing_key=keys[0])

    r = Resolver(fetch, {"beta.test": "http://127.0.0.1:1"})
    assert (await r.resolve("beta.test", 0)).signing_key == b"1" * 32
    keys[0] = b"3" * 32  # the peer rotated its key
    assert await r.refresh("beta.test", 59_999) is None
    assert (await r.resolve("beta.test", 59_999)).signing_key == b"1" * 32
    peer = await r.refresh("beta.test", 60_000)
    assert peer is not None and peer.signing_key == b"3" * 32
    assert await r.refresh("beta.test", 60_001) is None


async def test_federation_needs_https_outside_loopback() -> None:
    def fetcher(base: str):  # type: ignore[no-untyped-def]
        async def fetch(domain: str, url: str) -> WellKnown:
            return WellKnown(domain="beta.test", api_base=base, signing_key=b"k" * 32)

        return fetch

    for base, ok in (("http://127.0.0.1:8402", True), ("https://beta.example", True),
                     ("http://beta.example", False), ("ftp://127.0.0.1", False)):
        r = Resolver(fetcher(base), {"beta.test": "http://127.0.0.1:1"})
        if ok:
            await r.resolve("beta.test", 0)
        else:
            with pytest.raises(ValidationError):
                await r.resolve("beta.test", 0)
