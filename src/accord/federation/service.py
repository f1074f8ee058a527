"""The federation part of a running provider: its key, peers, limits and outbound queue.

:class:`Federation` hangs off the provider (:class:`accord.federation.host.Host`,
the server's ``Provider``) as ``provider.federation``: the app factory attaches
it with :func:`start` (a running provider always has it). The server's
services pass it to the hub's acceptance path (:mod:`accord.federation.hub`)
or to the follower (:mod:`accord.federation.follower`: another provider's
KeyPackages, devices and blobs, and the group's hub); those modules take it,
it imports neither. Incoming peer requests are
authenticated here (:meth:`Federation.authenticate`): RFC 9421 signature
against the key the peer publishes, a ``created`` window, a single-use
nonce kept in the store, and rate limits per address before the signature
check and per peer after it (T14). A plain MIMI peer, which publishes no Accord key,
is authenticated by its TLS client certificate alone
(:meth:`Federation.authenticate_unsigned`). Which transport a peer gets is one
rule, :meth:`Federation.mimi_to` (:mod:`accord.federation.negotiation`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import httpx

from accord.errors import AuthError, NotFound, PeerUnavailable, ValidationError
from accord.federation import http_signatures as hs
from accord.federation.discovery import Resolver
from accord.federation.host import Host
from accord.federation.negotiation import Directories, mimi_only
from accord.federation.outbox_policy import Backoff
from accord.federation.peer_client import PeerClient, new_http_client
from accord.federation.peer_tls import PeerRevocations, client_context, outbound_check
from accord.federation.provider_key import ProviderKey
from accord.ratelimit import Limit, RateLimiter
from accord.wire.accounts import domain_of

SIGNATURE_WINDOW_S = 300
# httpx logs every request URL at INFO; our own log names route templates only.
logging.getLogger("httpx").setLevel(logging.WARNING)


def default_limits() -> dict[str, Limit]:
    return {
        "peer_address": Limit(500, 1000),  # before the signature is checked
        "peer": Limit(200, 400),  # per authenticated peer provider
        "sender": Limit(5, 20),  # per account: anyone's invitations; a peer's user's claims
    }


@dataclass
class FederationConfig:
    domain: str
    peers: Mapping[str, str] = field(default_factory=dict)
    window_s: int = SIGNATURE_WINDOW_S
    limits: dict[str, Limit] = field(default_factory=default_limits)
    backoff: Backoff = field(default_factory=Backoff)
    blocked_peers: frozenset[str] = frozenset()
    dns_discovery: bool = False


H = TypeVar("H", bound=Host)  # the server's Provider, for the server's handlers


class Federation(Generic[H]):
    def __init__(self, provider: H, key: ProviderKey, config: FederationConfig,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.provider = provider
        self.key = key
        self.config = config
        self.domain = config.domain
        pc = provider.config
        # --peer-crl (issue 22): revoked peer certificates, inbound and outbound
        self.revocations = (PeerRevocations(pc.peer_crl, pc.peer_ca, provider.clock())
                            if pc.peer_crl and pc.peer_ca else None)
        self.http = new_http_client(
            transport, client_context(pc.tls_cert, pc.tls_key, pc.peer_ca),
            outbound_check(self.revocations, provider.clock) if self.revocations else None)
        resolver = Resolver(self._fetch, config.peers, dns=config.dns_discovery)
        self.directories = Directories(self._fetch_directory, config.peers,
                                       dns=config.dns_discovery)
        # --mimi-plain: a plain MIMI peer (no accord-* extension, no Accord peer API, no
        # request signature: mutual TLS alone authenticates it, both ways)
        self.plain = pc.mimi_plain
        self.client = PeerClient(config.domain, key, resolver, self.http, self.directories,
                                 sign=not self.plain)
        self.limiter = RateLimiter(config.limits)
        self.outbox_news = asyncio.Event()

    async def _fetch(self, domain: str, url: str):  # type: ignore[no-untyped-def]
        """``/.well-known/accord`` of an Accord peer. A plain MIMI provider publishes none
        and reads none (issue 22): nothing of Accord's (device lists, blobs, reports,
        transparency) is asked of a plain peer, and a plain provider asks nobody."""
        if self.plain:
            raise NotFound("a plain MIMI provider (--mimi-plain) reads no Accord document")
        try:
            plain = (await self.directories.get(domain, self.provider.clock())).plain
        except (NotFound, PeerUnavailable):
            plain = False  # its Accord document decides (an Accord peer without MIMI)
        if plain:
            raise NotFound(f"{domain} is a plain MIMI provider: it has no Accord document")
        return await self.client.fetch_well_known(domain, url)

    async def _fetch_directory(self, domain: str, url: str) -> tuple[int, bytes]:
        return await self.client.fetch_directory(domain, url)

    @property
    def mimi_everywhere(self) -> bool:
        """This provider sends room traffic to every peer over MIMI (``--mimi-transport``,
        the default, or ``--mimi-plain``; not under ``--accord-transport``, issue 22)."""
        return self.provider.config.mimi_transport or self.plain

    async def mimi_to(self, domain: str, now: int) -> bool:
        """Room traffic to ``domain`` goes over draft-ietf-mimi-protocol-06 only: the one
        rule of :func:`accord.federation.negotiation.mimi_only` (issue 22)."""
        return await mimi_only(self.directories, self.mimi_everywhere, domain, now)

    async def accord_api_to(self, domain: str, now: int) -> bool:
        """``domain`` takes Accord's own peer API (what MIMI has no endpoint for:
        device lists, blobs, reports): neither side is a plain MIMI peer."""
        return not self.plain and not (await self.directories.get(domain, now)).plain

    @property
    def resolver(self) -> Resolver:
        return self.client.resolver

    def wake_outbox(self) -> None:
        self.outbox_news.set()

    async def close(self) -> None:
        await self.http.aclose()

    async def authenticate(self, method: str, authority: str, path: str,
                           headers: Mapping[str, str], body: bytes, address: str,
                           now: int) -> str:
        """The domain of the provider that signed this request, or a typed error."""
        self.limiter.check("peer_address", address, now)
        claim = hs.parse_signature(headers)
        digest = hs.check_digest(headers, body)
        covered = hs.covered_headers(claim, headers)
        hs.check_fresh(claim, now // 1000, self.config.window_s)
        if claim.keyid == self.domain or claim.keyid in self.config.blocked_peers:
            raise AuthError("requests from this provider are refused")
        peer = await self.resolver.resolve(claim.keyid, now)
        try:
            hs.verify_request(claim, peer.signing_key, method=method, authority=authority,
                              path=path, digest=digest, covered=covered)
        except AuthError:
            # The peer may have a new key: look again (rarely), then decide.
            fresh = await self.resolver.refresh(claim.keyid, now)
            if fresh is None or fresh.signing_key == peer.signing_key:
                raise
            hs.verify_request(claim, fresh.signing_key, method=method, authority=authority,
                              path=path, digest=digest, covered=covered)
        self.limiter.check("peer", claim.keyid, now)
        # Kept until the signature is too old to pass check_fresh anyway.
        expires = (claim.created + self.config.window_s + 1) * 1000
        await self.provider.store.fed_use_nonce(claim.keyid, claim.nonce, expires)
        return claim.keyid

    async def authenticate_unsigned(self, peer: str, address: str, now: int) -> str:
        """``peer`` for an unsigned MIMI request whose TLS client certificate the caller
        checked names ``peer`` (mutual TLS, MIMI 4.1), or a typed error.

        Only a plain MIMI peer may go without Accord's signature: a peer whose
        directory lists Accord's extensions, or serves none, or that published an
        Accord key within the resolver's hour, must sign (no downgrade); a directory
        that cannot be fetched refuses the request rather than count the peer as plain. A plain provider (``--mimi-plain``)
        takes every peer on its certificate alone, as MIMI does."""
        self.limiter.check("peer_address", address, now)
        if peer == self.domain or peer in self.config.blocked_peers:
            raise AuthError("requests from this provider are refused")
        if not self.plain:
            try:
                plain = (await self.directories.get(peer, now)).plain
            except (NotFound, PeerUnavailable) as exc:
                raise AuthError("an unsigned request from a provider whose MIMI directory "
                                "cannot be read") from exc
            # an Accord key it published within the hour binds it too, whatever its
            # directory says now (a directory turned plain does not drop the signature)
            if not plain or self.resolver.cached(peer, now) is not None:
                raise AuthError("this provider offers Accord's extensions: its requests "
                                "must be signed (RFC 9421)")
        self.limiter.check("peer", peer, now)
        return peer


def requester_of(peer: str, requester: str) -> str:
    """A peer claims only for its own accounts (issue 17): ``requester`` if it is one."""
    if domain_of(requester) != peer:
        raise ValidationError("the requester is not an account of the requesting provider")
    return requester


def ours(fed: Federation[H], account: str) -> None:
    """A peer asks a provider only about its own accounts (never to relay, issue 17)."""
    if domain_of(account) != fed.domain:
        raise NotFound(f"no account {account} here")


def start(provider: H, key: ProviderKey, peers: Mapping[str, str],
          transport: httpx.AsyncBaseTransport | None = None) -> Federation[H]:
    """Attach federation, signing with the provider key ``key``, to ``provider``."""
    scale = provider.config.rate_limit_scale
    limits = {k: Limit(v.per_second * scale, v.burst * scale)
              for k, v in default_limits().items()}
    config = FederationConfig(provider.config.domain, dict(peers), limits=limits,
                              dns_discovery=provider.config.discover)
    fed = Federation(provider, key, config, transport)
    provider.federation = fed
    return fed
