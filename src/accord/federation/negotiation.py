"""Which transport a peer gets: its MIMI directory decides (issue 22).

A provider publishes its MIMI endpoints at ``/.well-known/mimi-protocol-directory``
(draft-ietf-mimi-protocol-06 5.1); Accord adds its extensions there under keys
that start with ``accord-`` (docs/PROTOCOL.md, "Accord extensions to MIMI"). The
one rule, :func:`mimi_only`: a peer whose directory lists none of them is a plain
MIMI peer, and gets every room interaction over MIMI, at the URLs its directory
names, with nothing of Accord's own API; a peer whose directory lists one, or that
has no directory at all, is an Accord peer and keeps Accord's routes, unless this
provider itself sends MIMI only (``--mimi-transport``, ``--mimi-plain``).

:class:`Directories` caches each peer's directory with an expiry, time as an input
(``now`` in ms), like :class:`accord.federation.discovery.Resolver`; the fetch is
an argument, so the cache is tested without a network. A directory that cannot be
fetched (unreachable, 5xx, malformed) is :class:`~accord.errors.PeerUnavailable`,
never "plain": a failed fetch must not take Accord's signature requirement away
from an Accord peer (``Federation.authenticate_unsigned``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import orjson

from accord.errors import DecodeError, PeerUnavailable
from accord.federation.discovery import bounded_put, peer_base, require_known, single_flight
from accord.wire import mimi as w

DIRECTORY_PATH = "/.well-known/mimi-protocol-directory"
EXTENSION_PREFIX = "accord-"
DEFAULT_TTL_MS = 3_600_000
# a failed fetch is remembered this long: a peer that is down costs one timeout per
# interval, not one per request (a group's state names its hub's transport, T11)
FAILURE_TTL_MS = 30_000
# (status, body) of GET url for domain; the body read with a bound
FetchDirectory = Callable[[str, str], Awaitable[tuple[int, bytes]]]
_TEMPLATE_PARAM = re.compile(r"\{[A-Za-z]+\}")


@dataclass(frozen=True, slots=True)
class Directory:
    """A peer's MIMI directory; ``found`` False: the peer serves none (Accord only)."""

    domain: str
    endpoints: Mapping[str, str]
    found: bool

    @property
    def accord(self) -> bool:
        """The peer lists one of Accord's extensions: an Accord peer."""
        return any(k.startswith(EXTENSION_PREFIX) for k in self.endpoints)

    @property
    def plain(self) -> bool:
        """A MIMI peer that offers none of Accord's extensions."""
        return self.found and not self.accord

    def url(self, key: str, target: str) -> str:
        """The URL of endpoint ``key`` for ``target``: the directory's template with its
        one parameter replaced by ``target``, percent-encoded whole (5.1)."""
        template = self.endpoints.get(key)
        if template is None:
            raise PeerUnavailable(f"provider {self.domain} lists no MIMI {key} endpoint")
        url, n = _TEMPLATE_PARAM.subn(lambda _m: quote(target, safe=""), template, count=2)
        if n != 1:
            raise PeerUnavailable(f"provider {self.domain}'s {key} URL is no template of "
                                  "one parameter (5.1)")
        return url


def directory_url(domain: str, static: Mapping[str, str]) -> str:
    return peer_base(domain, static) + DIRECTORY_PATH


def parse(domain: str, fetched_from: str, body: bytes) -> Directory:
    """A directory document fetched from ``fetched_from``. Every URL in it must be at
    the origin it was fetched from (scheme, host and port): a directory cannot send
    our requests, signed or over our client certificate, to a third party."""
    if len(body) > w.MAX_DIRECTORY:
        raise DecodeError("the MIMI directory is too large")
    try:
        endpoints = w.parse_directory(orjson.loads(body))
    except orjson.JSONDecodeError as exc:
        raise DecodeError("the MIMI directory is not JSON (5.1)") from exc
    origin = _origin(fetched_from)
    for key, url in endpoints.items():
        if _origin(url) != origin:
            raise DecodeError(f"directory entry {key!r} is not at the directory's own origin")
    return Directory(domain, endpoints, True)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        return parts.scheme, (parts.hostname or ""), parts.port
    except ValueError as exc:
        raise DecodeError("a malformed URL in the MIMI directory") from exc


class Directories:
    """Domain -> :class:`Directory`, cached until ``ttl_ms`` has passed."""

    def __init__(self, fetch: FetchDirectory, static: Mapping[str, str] | None = None,
                 ttl_ms: int = DEFAULT_TTL_MS, max_entries: int = 10_000,
                 dns: bool = False) -> None:
        self._fetch = fetch
        self.static = dict(static or {})
        self.ttl_ms = ttl_ms
        self.max_entries = max_entries
        self.dns = dns
        self._cache: dict[str, tuple[Directory, int]] = {}
        self._failed: dict[str, tuple[str, int]] = {}  # domain -> (reason, until)
        self._inflight: dict[str, asyncio.Future[tuple[int, bytes]]] = {}

    async def get(self, domain: str, now: int) -> Directory:
        hit = self._cache.get(domain)
        if hit is not None and now < hit[1]:
            return hit[0]
        failed = self._failed.get(domain)
        if failed is not None and now < failed[1]:
            raise PeerUnavailable(failed[0])
        self.known(domain)
        try:
            found = await self._get(domain)
        except PeerUnavailable as exc:
            bounded_put(self._failed, domain, (str(exc), now + FAILURE_TTL_MS),
                        self.max_entries)
            raise
        self._failed.pop(domain, None)
        bounded_put(self._cache, domain, (found, now + self.ttl_ms), self.max_entries)
        return found

    def known(self, domain: str) -> None:
        """NotFound for a domain that is no peer (``discovery.require_known``)."""
        require_known(domain, self.static, self.dns)

    async def _get(self, domain: str) -> Directory:
        url = directory_url(domain, self.static)
        status, body = await single_flight(self._inflight, domain,
                                           lambda: self._fetch(domain, url))
        if status == 404:
            return Directory(domain, {}, False)
        if status != 200:
            raise PeerUnavailable(f"provider {domain}'s MIMI directory: HTTP {status}")
        try:
            return parse(domain, url, body)
        except DecodeError as exc:
            raise PeerUnavailable(f"provider {domain} sent a malformed MIMI directory") from exc



async def mimi_only(directories: Directories, everywhere: bool, domain: str, now: int
                    ) -> bool:
    """The one rule: room traffic to ``domain`` goes over MIMI only when this provider
    sends MIMI (``everywhere``) or the peer is a plain MIMI peer. A domain that is no
    peer is NotFound either way (:meth:`Directories.known`)."""
    if everywhere:
        directories.known(domain)
        return True
    return (await directories.get(domain, now)).plain
