"""Signed requests to other providers (the sending side of the federation API).

One ``httpx.AsyncClient`` per provider, from :mod:`accord.http_client`:
no ``User-Agent`` (T15: no software name or version). Every request is signed (RFC 9421, see
:mod:`accord.federation.http_signatures`) with a fresh nonce and the
caller's ``now`` (a plain MIMI provider, ``--mimi-plain``, signs nothing: mutual
TLS authenticates it). A MIMI request goes to the URL the peer's directory names
for a plain MIMI peer (it publishes no ``/.well-known/accord``), else to the peer's
API base as Accord's routes. A peer's JSON error comes back as the matching
:mod:`accord.errors` class; an unreachable peer, a 5xx, or a refusal of our
own signature becomes :class:`~accord.errors.PeerUnavailable`.
"""

from __future__ import annotations

import logging
import secrets
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx

from accord.errors import (
    DecodeError,
    EpochConflict,
    PeerUnavailable,
    RateLimited,
    ValidationError,
    error_class,
)
from accord.federation.discovery import Resolver
from accord.federation.http_signatures import sign_request
from accord.federation.negotiation import Directories
from accord.federation.peer_tls import NO_KEEPALIVE
from accord.federation.provider_key import ProviderKey
from accord.http_client import async_client
from accord.mls.codec import WireStruct
from accord.wire import decode, dumps, loads, mimi, parse
from accord.wire.federation import WellKnown

log = logging.getLogger("accord.federation.peer")
T = TypeVar("T")
W = TypeVar("W", bound=WireStruct)
TIMEOUT_S = 10.0
MAX_RESPONSE = 4 * 1024 * 1024
MAX_DIRECTORY_RESPONSE = 64 * 1024


def new_http_client(transport: httpx.AsyncBaseTransport | None = None,
                    verify: ssl.SSLContext | None = None,
                    tls_check: Callable[[httpx.Request], Awaitable[None]] | None = None
                    ) -> httpx.AsyncClient:
    """The one HTTP client of a provider's federation traffic (T15: no User-Agent).

    It asks for answers as they are (``identity``): a compressed answer could
    expand a thousandfold in one decoding step, before any limit applies.
    ``tls_check``: a request hook that checks each new connection's peer certificate
    (revocation, :func:`accord.federation.peer_tls.outbound_check`); connections are
    then not kept alive, so every request is checked.
    """
    extra: dict[str, Any] = {} if verify is None else {"verify": verify}
    if tls_check is not None:
        extra |= {"event_hooks": {"request": [tls_check]}, "limits": NO_KEEPALIVE}
    client = async_client(
        timeout=TIMEOUT_S,
        follow_redirects=False,
        transport=transport,
        **extra,
    )
    client.headers["Accept-Encoding"] = "identity"
    return client


class PeerClient:
    def __init__(self, domain: str, key: ProviderKey, resolver: Resolver,
                 http: httpx.AsyncClient, directories: Directories, sign: bool = True) -> None:
        self.domain = domain
        self.key = key
        self.resolver = resolver
        self.http = http
        self.directories = directories
        self.sign = sign  # False: a plain MIMI provider (mutual TLS alone, no Accord API)

    async def fetch_directory(self, domain: str, url: str) -> tuple[int, bytes]:
        """GET a peer's MIMI directory (5.1): its status and body (bounded)."""
        r = await read_bounded(self.http, domain, self.http.build_request("GET", url),
                               MAX_DIRECTORY_RESPONSE)
        return r.status_code, r.content

    async def _mimi_url(self, domain: str, key: str, target: str, now: int) -> httpx.URL:
        """Where endpoint ``key`` of ``domain`` is: its directory's URL for a plain MIMI
        peer, or when this provider is one (it knows no Accord document); else the
        Accord peer's API base, as its other routes."""
        if domain == self.domain:
            raise ValidationError("a provider does not federate with itself")
        directory = await self.directories.get(domain, now)
        if directory.plain or not self.sign:
            return httpx.URL(directory.url(key, target))
        peer = await self.resolver.resolve(domain, now)
        return httpx.URL(peer.api_base + mimi.endpoint_path(key, target))

    async def fetch_well_known(self, domain: str, url: str) -> WellKnown:
        r = await read_bounded(self.http, domain, self.http.build_request("GET", url), MAX_RESPONSE)
        if r.status_code != 200:
            raise PeerUnavailable(f"provider {domain} has no usable /.well-known/accord")
        try:
            return parse(WellKnown, r.content)
        except (DecodeError, ValidationError) as exc:
            raise PeerUnavailable(f"provider {domain} sent a malformed document") from exc

    async def post(self, domain: str, path: str | httpx.URL, msg: Any, response: type[T],
                   now: int) -> T:
        """POST a signed wire message to ``domain``'s federation API (a path), or to a URL
        its MIMI directory lists for an Accord extension; decode the answer."""
        return _answer(domain, await self._send(domain, path, msg, now), response)

    async def post_raw(self, domain: str, path: str, msg: Any, now: int, limit: int) -> bytes:
        """As :meth:`post`, for an answer of raw bytes (at most ``limit``)."""
        r = await self._send(domain, path, msg, now, max(limit, MAX_RESPONSE))
        if r.status_code == 200 and r.headers.get("content-type") == "application/octet-stream":
            if len(r.content) > limit:
                raise PeerUnavailable(f"provider {domain} sent an oversized answer")
            return r.content
        _answer(domain, r, dict)
        raise PeerUnavailable(f"provider {domain} sent an unexpected answer")

    async def post_mimi(self, domain: str, key: str, target: str, msg: WireStruct,
                        response: type[W], now: int, at: str | None = None) -> W:
        """POST a MIMI request (draft-ietf-mimi-protocol-06 5) to ``domain``'s endpoint
        ``key`` for ``target`` (a room or user URI), signed as every peer request;
        decode the answer as ``response``. A refusal is typed as on Accord's routes.
        ``at``: the URL of an Accord extension that carries the request instead."""
        url = httpx.URL(at) if at is not None else await self._mimi_url(domain, key, target,
                                                                          now)
        r = await self._send(domain, url, msg, now, body=msg.to_bytes(),
                             content_type=mimi.MEDIA_TYPE)
        if r.status_code != 200 or r.headers.get("content-type") != mimi.MEDIA_TYPE:
            _answer(domain, r, dict)
            raise PeerUnavailable(f"provider {domain} sent an unexpected answer")
        try:
            return response.from_bytes(r.content)
        except DecodeError as exc:
            raise PeerUnavailable(f"provider {domain} sent a malformed answer") from exc

    async def notify_mimi(self, domain: str, target: str, batch: mimi.FanoutBatch, now: int,
                          covered: Mapping[str, str] | None = None) -> None:
        """POST a hub's fan-out for the room ``target`` to a follower's notify endpoint
        (draft-ietf-mimi-protocol-06 5.5): accepted only on 201 (the answer has no body);
        a refusal is typed as on Accord's routes. ``covered``: Accord's extension headers
        (the chain links of accord-forkDetection), signed with the request."""
        await self.post_mimi_created(domain, "notify", target, batch.to_bytes(), now, covered)

    async def post_mimi_created(self, domain: str, key: str, target: str, body: bytes,
                                now: int, covered: Mapping[str, str] | None = None,
                                at: str | None = None) -> None:
        """POST a MIMI request whose answer is a 201 with no body (5.5 notify, 5.7
        requestConsent and updateConsent); a refusal is typed as on Accord's routes."""
        url = httpx.URL(at) if at is not None else await self._mimi_url(domain, key, target,
                                                                          now)
        r = await self._send(domain, url, None, now, body=body, content_type=mimi.MEDIA_TYPE,
                             covered=covered)
        if r.status_code != 201:
            if not 200 <= r.status_code < 300:  # a refusal, typed as on Accord's routes
                _answer(domain, r, dict)
            raise PeerUnavailable(f"provider {domain} sent an unexpected answer"
                                  f" (HTTP {r.status_code}, {key} answers 201)")

    async def _send(self, domain: str, where: str | httpx.URL, msg: Any, now: int,
                    limit: int = MAX_RESPONSE, body: bytes | None = None,
                    content_type: str = "application/json",
                    covered: Mapping[str, str] | None = None) -> httpx.Response:
        """POST to ``where``: a path of Accord's peer API, or a MIMI endpoint's URL;
        ``covered``: Accord's extension headers, sent and signed."""
        if domain == self.domain:
            raise ValidationError("a provider does not federate with itself")
        if isinstance(where, str):  # Accord's own peer API, never from a plain MIMI provider
            if not self.sign:
                raise ValidationError("a plain MIMI provider (--mimi-plain) does not use "
                                      "Accord's peer API")
            where = httpx.URL((await self.resolver.resolve(domain, now)).api_base + where)
        if body is None:
            body = dumps(msg)
        url = where
        headers = {} if not self.sign else sign_request(
            self.key.sign,
            method="POST",
            authority=url.netloc.decode("ascii"),
            path=url.path,
            body=body,
            keyid=self.domain,
            created=now // 1000,
            nonce=secrets.token_urlsafe(18),
            covered=covered,
        )
        headers.update(covered or {})
        headers["Content-Type"] = content_type
        if content_type == mimi.MEDIA_TYPE:
            headers["From"] = mimi_source(self.domain)
        request = self.http.build_request("POST", url, content=body, headers=headers)
        return await read_bounded(self.http, domain, request, limit)


def mimi_source(domain: str) -> str:
    """The ``From`` header naming the source provider of a MIMI request
    (draft-ietf-mimi-protocol-06 4.1): the fixed local-part ``mimi`` at its domain."""
    return f"mimi@{domain}"


async def read_bounded(http: httpx.AsyncClient, domain: str, request: httpx.Request,
                       limit: int) -> httpx.Response:
    """A peer's answer, read chunk by chunk and refused past ``limit`` bytes, so a huge
    answer never sits in memory whole. Compressed answers are refused unread (we ask
    for ``identity``; a gzip bomb expands in a single decoding step)."""
    chunks: list[bytes] = []
    # The peer's certificate must name its domain, whatever address reaches it
    # (a static map, --peer beta.test=https://127.0.0.1:8402): TLS checks that name.
    request.extensions["sni_hostname"] = domain
    try:
        r = await http.send(request, stream=True)
        try:
            if r.headers.get("content-encoding", "identity").lower() != "identity":
                raise PeerUnavailable(f"provider {domain} sent a compressed answer")
            size = 0
            # (an in-process transport may hand over an answer it has read already)
            stream = _already_read(r) if r.is_stream_consumed else r.aiter_raw()
            async for chunk in stream:
                size += len(chunk)
                if size > limit:
                    raise PeerUnavailable(f"provider {domain} sent an oversized answer")
                chunks.append(chunk)
        finally:
            await r.aclose()
    except httpx.HTTPError as exc:
        raise PeerUnavailable(f"provider {domain} could not be reached") from exc
    kept = [(k, v) for k, v in r.headers.multi_items()
            if k.lower() not in ("content-length", "transfer-encoding")]
    return httpx.Response(r.status_code, headers=kept, content=b"".join(chunks))


async def _already_read(r: httpx.Response) -> AsyncIterator[bytes]:
    yield r.content


def _answer(domain: str, r: httpx.Response, response: type[T]) -> T:
    if len(r.content) > MAX_RESPONSE:
        raise PeerUnavailable(f"provider {domain} sent an oversized answer")
    try:
        doc = loads(r.content) if r.content else {}
    except DecodeError as exc:
        raise PeerUnavailable(f"provider {domain} sent a malformed answer") from exc
    if 200 <= r.status_code < 300:
        try:
            return decode(response, doc)
        except (DecodeError, ValidationError) as exc:
            # A success we cannot read is the peer's failure, not a refusal of what we
            # sent: the outbound queue keeps the items and tries again (the peer counts
            # what it already has as duplicates), where a refusal would drop them.
            raise PeerUnavailable(f"provider {domain} sent a malformed answer") from exc
    if r.status_code >= 500 or r.status_code == 401 or not isinstance(doc, dict):
        # 401: the peer refused our own signature; that is ours to fix, not the user's.
        log.warning("peer %s answered %d", domain, r.status_code)
        raise PeerUnavailable(f"provider {domain} failed (HTTP {r.status_code})")
    code, text = doc.get("error"), str(doc.get("message", ""))[:300]
    epoch = doc.get("current_epoch")
    if code == "conflict" and isinstance(epoch, int):
        raise EpochConflict(epoch)
    # A peer's auth_error (a 403: it refuses what we asked for a device) reaches the
    # device as a refusal, never as an AuthError, which would say its own session failed.
    cls = (error_class(code) if code != "auth_error" else None) or ValidationError
    if cls is RateLimited:  # the peer's wait travels on to the device (issue 17)
        raise RateLimited(f"provider {domain}: {text}",
                          retry_after_ms=RateLimited.retry_after_ms_of(r.headers.get("retry-after")))
    raise cls(f"provider {domain}: {text}")


__all__ = ["PeerClient", "new_http_client", "read_bounded"]
