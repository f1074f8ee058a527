"""The federation HTTP surface, mounted by the server (the composition root).

- ``GET /.well-known/accord``: :class:`~accord.wire.federation.WellKnown`.
- ``POST /federation/v1/...``: requests from other providers, each signed
  (RFC 9421) and checked by :meth:`Federation.authenticate` before its
  body is decoded; errors use the server's one mapping. The handlers are
  federation's (the hub, the follower) and the server's services a peer may
  reach (KeyPackage claims, device lists, blobs, reports, deletions).

The log names the route template and the status, never a peer's body.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from accord.errors import AccordError, AuthError
from accord.federation import follower, hub
from accord.federation import http_signatures as hs
from accord.federation.discovery import WELL_KNOWN_PATH
from accord.federation.peer_tls import check_peer_certificate
from accord.federation.service import Federation, ours, requester_of
from accord.server import accounts, blobs, keypackages
from accord.server.errors import error_response
from accord.server.privacy_routes import peer_specs as privacy_peer_specs
from accord.server.reports import gate_peer
from accord.server.routes import read_body
from accord.server.state import Provider
from accord.server.transparency import well_known_head
from accord.wire import encode, parse
from accord.wire import federation as fw
from accord.wire import messages as m
from accord.wire.federation import DOMAIN_RE
from accord.wire.mimi import PREFIX as MIMI_PREFIX

log = logging.getLogger("accord.federation.http")
Handler = Callable[[Federation[Provider], str, Any, int], Awaitable[Any]]


@dataclass(frozen=True)
class PeerSpec:
    path: str
    request: type
    handler: Handler
    status: int = 200


def _fed(request: Request) -> Federation[Provider]:
    p: Provider = request.app.state.provider
    fed: Federation[Provider] = p.federation  # a running provider federates (server.app)
    return fed


async def well_known(request: Request) -> Response:
    fed = _fed(request)
    doc = fw.WellKnown(domain=fed.domain, api_base=str(request.base_url).rstrip("/"),
                       signing_key=fed.key.public, transparency_head=well_known_head(fed.provider))
    return JSONResponse(encode(doc), headers={"Cache-Control": "max-age=3600"})


async def authenticated(request: Request) -> tuple[Federation[Provider], str, bytes, int]:
    """The federation, the signing peer's domain, the body and now: every peer route's
    (Accord's and MIMI's) one way in. A typed error for an unsigned or refused peer.

    An unsigned MIMI request (and every request to a plain MIMI provider,
    ``--mimi-plain``) is taken on mutual TLS alone, from a plain MIMI peer only
    (``Federation.authenticate_unsigned``): the ``From`` header names the provider
    (MIMI 4.1) and the verified client certificate must name it too."""
    fed = _fed(request)
    now = fed.provider.clock()
    config = fed.provider.config
    body = await read_body(request, config.max_json_body + m.MAX_MESSAGE, config.body_timeout_s)
    address = request.client.host if request.client else "-"
    if fed.plain or _unsigned_mimi(request):
        if not config.peer_ca:
            raise AuthError("federation requests must carry Signature-Input and Signature "
                            "(RFC 9421), or come over mutual TLS")
        peer = _source_domain(request)
        check_peer_certificate(request.scope, peer, fed.revocations, now)
        peer = await fed.authenticate_unsigned(peer, address, now)
        if any(h in request.headers for h in hs.EXTENSION_HEADERS):
            # Accord's extension headers count only under the signature that covers them
            raise AuthError("Accord's extension headers travel signed (RFC 9421)")
    else:
        peer = await fed.authenticate(
            request.method, request.headers.get("host", ""), request.url.path,
            request.headers, body, address, now,
        )
        if config.peer_ca:  # issue 22: mutual TLS, the certificate names the signer
            check_peer_certificate(request.scope, peer, fed.revocations, now)
    await gate_peer(fed.provider, peer)  # issue 11: a refused peer provider
    return fed, peer, body, now


def _unsigned_mimi(request: Request) -> bool:
    return (request.url.path.startswith(MIMI_PREFIX + "/")
            and "signature" not in request.headers and "signature-input" not in request.headers)


def _source_domain(request: Request) -> str:
    """The provider a MIMI request's ``From`` header names (``mimi@DOMAIN``, MIMI 4.1)."""
    local, _, domain = request.headers.get("from", "").strip().lower().partition("@")
    if local != "mimi" or not re.fullmatch(DOMAIN_RE, domain):
        raise AuthError("an unsigned MIMI request names its provider in From "
                        "(mimi@DOMAIN, MIMI 4.1)")
    return domain


def peer_endpoint(spec: PeerSpec) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        started = time.perf_counter()
        try:
            fed, peer, body, now = await authenticated(request)
            result = await spec.handler(fed, peer, parse(spec.request, body), now)
            response: Response = (
                Response(result, media_type="application/octet-stream")
                if isinstance(result, bytes)
                else JSONResponse(encode(result), status_code=spec.status)
            )
        except AccordError as exc:
            response = error_response(exc)
        log.info("POST %s -> %d (%.1f ms)", spec.path, response.status_code,
                 (time.perf_counter() - started) * 1000)
        return response

    return handle


async def _claim(fed: Federation[Provider], peer: str, req: fw.FedClaimRequest, now: int
                 ) -> m.ClaimResponse:
    requester_of(peer, req.requester)
    ours(fed, req.account)
    fed.limiter.check("sender", req.requester, now)
    # Limited per signing provider as well as per named requester (issue 17, T14):
    # a peer that invents requester names resets nothing.
    return await keypackages.claim_local(fed.provider, req.account,
                                         keypackages.Claimer(req.requester, peer), now,
                                         req.cipher_suite)


async def _devices(fed: Federation[Provider], peer: str, req: fw.FedDevicesRequest, now: int
                   ) -> m.DeviceList:
    ours(fed, req.account)
    return await accounts.list_devices(fed.provider, req.account)


async def _blob(fed: Federation[Provider], peer: str, req: fw.FedBlobRequest, now: int
                ) -> bytes:
    return await blobs.download(fed.provider, req.blob_id)


PEER_SPECS: tuple[PeerSpec, ...] = (
    PeerSpec(follower.BLOBS, fw.FedBlobRequest, _blob),
    PeerSpec(follower.CLAIM, fw.FedClaimRequest, _claim),
    PeerSpec(follower.DEVICES, fw.FedDevicesRequest, _devices),
    PeerSpec(follower.COMMITS, fw.FedCommit, hub.fed_commit, 201),
    PeerSpec(follower.PROPOSALS, fw.FedProposal, hub.fed_proposal, 201),
    PeerSpec(follower.POSTS, fw.FedPost, hub.fed_post, 201),
    PeerSpec("/federation/v1/deliver", fw.FedDeliver, follower.deliver),
    *(PeerSpec(*s) for s in privacy_peer_specs()),  # issue 11: reports, deletions
)


def federation_routes() -> list[Route]:
    return [
        Route(WELL_KNOWN_PATH, well_known, methods=["GET"]),
        *(Route(s.path, peer_endpoint(s), methods=["POST"]) for s in PEER_SPECS),
    ]
