"""Finding a peer provider: ``/.well-known/accord``, a cache with expiry, a static map.

A domain's document names its API base, its Ed25519 provider signing key
and (once issue 7 lands) its key transparency head. :class:`Resolver` is
sans-I/O about time (``now`` in ms comes in) and takes the fetch function
as an argument, so its cache and expiry are tested without a network. In
tests and demos a static map (``--peer beta.test=http://127.0.0.1:8402``)
replaces DNS: the document is fetched from the mapped address. Without a
mapping, and only when DNS discovery is on (``accord server --discover``),
the document comes from ``https://DOMAIN/.well-known/accord``; otherwise an
unmapped domain is an unknown provider.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from accord.errors import NotFound, ValidationError
from accord.wire.federation import DOMAIN_RE, WellKnown

R = TypeVar("R")
V = TypeVar("V")

WELL_KNOWN_PATH = "/.well-known/accord"
DEFAULT_TTL_MS = 3_600_000
REFRESH_MIN_MS = 60_000  # a peer's key is fetched again at most once a minute
Fetch = Callable[[str, str], Awaitable[WellKnown]]  # (domain, url) -> document


def parse_peer(spec: str) -> tuple[str, str]:
    """``beta.test=http://127.0.0.1:8402`` -> (domain, base URL)."""
    domain, sep, url = spec.partition("=")
    domain = domain.strip().lower()
    url = url.strip().rstrip("/")
    if not sep or not re.fullmatch(DOMAIN_RE, domain) or not url.startswith(
        ("http://", "https://")
    ):
        raise ValidationError(f"--peer takes DOMAIN=http(s)://HOST:PORT, not {spec!r}")
    return domain, url


def peer_base(domain: str, static: Mapping[str, str]) -> str:
    """The base URL of a peer: its configured address (``--peer``), else its domain."""
    return static.get(domain, f"https://{domain}")


def require_known(domain: str, static: Mapping[str, str], dns: bool) -> None:
    """NotFound for a domain that is no peer: neither configured (``--peer``) nor to be
    discovered (DNS discovery off). The one rule for Accord's document and the MIMI
    directory alike: such a domain is unknown (404), while a known peer that cannot
    be reached is unavailable (503)."""
    if domain not in static and not dns:
        raise NotFound(f"unknown provider {domain}")


async def single_flight(inflight: dict[str, asyncio.Future[R]], domain: str,
                        fetch: Callable[[], Awaitable[R]]) -> R:
    """``fetch()`` for ``domain``, shared by every concurrent look-up of it (no stampede
    on a peer); a caller's cancellation does not cancel the others' fetch."""
    pending = inflight.get(domain)
    if pending is None:
        pending = asyncio.ensure_future(fetch())
        inflight[domain] = pending
        pending.add_done_callback(lambda _f: inflight.pop(domain, None))
    return await asyncio.shield(pending)


def bounded_put(table: dict[str, V], domain: str, value: V, max_entries: int) -> None:
    """``table[domain] = value``, dropping the oldest entry first when full."""
    if domain not in table and len(table) >= max_entries:
        table.pop(next(iter(table)))
    table[domain] = value


def well_known_url(domain: str, static: Mapping[str, str]) -> str:
    return peer_base(domain, static) + WELL_KNOWN_PATH


@dataclass(frozen=True, slots=True)
class Peer:
    domain: str
    api_base: str
    signing_key: bytes
    transparency_head: bytes | None


class Resolver:
    """Domain -> :class:`Peer`, cached until ``ttl_ms`` has passed."""

    def __init__(
        self, fetch: Fetch, static: Mapping[str, str] | None = None,
        ttl_ms: int = DEFAULT_TTL_MS, max_entries: int = 10_000, dns: bool = False,
    ) -> None:
        self.dns = dns
        self._fetch = fetch
        self.static = dict(static or {})
        self.ttl_ms = ttl_ms
        self.max_entries = max_entries
        self._cache: dict[str, tuple[Peer, int]] = {}
        self._inflight: dict[str, asyncio.Future[WellKnown]] = {}
        self._fetched: dict[str, int] = {}

    async def resolve(self, domain: str, now: int) -> Peer:
        hit = self._cache.get(domain)
        if hit is not None and now < hit[1]:
            return hit[0]
        require_known(domain, self.static, self.dns)
        doc = await single_flight(self._inflight, domain, lambda: self._fetch(
            domain, well_known_url(domain, self.static)))
        if doc.domain != domain:
            raise ValidationError(f"the document of {domain} names another domain")
        if not _transport_ok(doc.api_base):
            raise ValidationError(f"{domain}: federation needs HTTPS outside loopback")
        peer = Peer(domain, doc.api_base.rstrip("/"), doc.signing_key, doc.transparency_head)
        bounded_put(self._cache, domain, (peer, now + self.ttl_ms), self.max_entries)
        self._fetched[domain] = now
        return peer

    def cached(self, domain: str, now: int) -> Peer | None:
        """The document of ``domain`` fetched within ``ttl_ms``, without fetching."""
        hit = self._cache.get(domain)
        return hit[0] if hit is not None and now < hit[1] else None

    async def refresh(self, domain: str, now: int) -> Peer | None:
        """Fetch the document again (a peer's signature failed: its key may have
        changed), at most once per ``REFRESH_MIN_MS``; None when too soon."""
        if now - self._fetched.get(domain, now - REFRESH_MIN_MS) < REFRESH_MIN_MS:
            return None
        self._cache.pop(domain, None)
        return await self.resolve(domain, now)


def _transport_ok(api_base: str) -> bool:
    """HTTPS, or plain HTTP to a loopback address (tests and demos, DESIGN.md)."""
    url = urlsplit(api_base)
    if url.scheme == "https":
        return True
    return url.scheme == "http" and url.hostname in ("127.0.0.1", "localhost", "::1")
