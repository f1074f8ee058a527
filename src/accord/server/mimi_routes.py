"""The MIMI transport (draft-ietf-mimi-protocol-06), beside Accord's own federation API.

- ``GET /.well-known/mimi-protocol-directory`` (5.1): the endpoints below, as
  the draft's URL templates, and Accord's extensions (``accord-*`` keys).
- ``POST /mimi/v1/keyMaterial/{targetUser}`` (5.2): the claim path of
  ``accord.server.keypackages`` (its limits and its consent rule, one
  ``admit_claim`` for every claimer) answering in the draft's structures; for a
  user of another provider, the hub's relay for a room it hubs
  (:mod:`accord.server.mimi_relay`, which also says whom a relayed request is for).
- ``POST /mimi/v1/update/{roomId}`` (5.3), ``POST /mimi/v1/submitMessage/{roomId}``
  (5.4), ``POST /mimi/v1/groupInfo/{roomId}`` (5.6): :mod:`accord.server.mimi_hub`.
- ``POST /mimi/v1/notify/{roomId}`` (5.5): :mod:`accord.server.mimi_follower`.
- ``POST /mimi/v1/requestConsent/{targetUser}``, ``updateConsent/{requesterUser}``
  (5.7): :mod:`accord.server.mimi_consent`.
- ``POST /mimi/v1/identifierQuery/{domain}`` (5.8): exact handle lookups.
- ``POST /mimi/v1/reportAbuse/{roomId}`` (5.9): each message to the hub's report check.
- ``GET /mimi/v1/proxyDownload/{downloadUrl}`` (5.10.2): an encrypted asset of this
  provider or of a peer it knows, by capability (the peer blob route).

Bodies are the TLS-presentation structures of :mod:`accord.wire.mimi`. Every
request is signed by the calling provider exactly as Accord's peer routes are
(RFC 9421, :func:`accord.server.federation_routes.authenticated`), and a peer speaks
only for what it hosts: the requesting user is one of the signer's, the
target one of ours. Errors are the server's one mapping (typed JSON, 4xx).
Only the endpoints listed in :data:`MIMI_SPECS` are in the directory.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from accord.errors import AccordError, AuthError, NoConsent, NotFound, ValidationError
from accord.federation.follower import DEVICES, POSTS
from accord.federation.peer_client import mimi_source
from accord.federation.service import Federation, ours, requester_of
from accord.mls.codec import WireStruct
from accord.mls.structs import KeyPackage, MLSMessage, RequiredCapabilities
from accord.server import (
    accounts,
    blobs,
    keypackages,
    mimi_consent,
    mimi_first_contact,
    mimi_follower,
    mimi_hub,
    mimi_relay,
    reports,
)
from accord.server.errors import error_response
from accord.server.federation_routes import authenticated
from accord.wire import decode, encode, mimi_accord
from accord.wire import mimi as w
from accord.wire.accounts import domain_of
from accord.wire.privacy import FedReport

log = logging.getLogger("accord.mimi.http")
DIRECTORY_PATH = "/.well-known/mimi-protocol-directory"
PREFIX = w.PREFIX
Handler = Callable[..., Awaitable[Any]]  # (fed, peer, request, target, now[, headers])


@dataclass(frozen=True)
class MimiSpec:
    key: str  # the directory key (5.1)
    request: type[WireStruct] | type[w.FanoutBatch] | None  # None: a GET with no body
    handler: Handler
    status: int = 200
    # Accord's extension headers the handler reads (signed: ``covered_headers``)
    headers: tuple[str, ...] = ()

    @property
    def method(self) -> str:
        return "POST" if self.request is not None else "GET"

    @property
    def path(self) -> str:
        return f"{PREFIX}/{self.key}/{{target:path}}"

    def template(self, base: str) -> str:
        return f"{base}{PREFIX}/{self.key}/{{{w.ENDPOINTS[self.key][1]}}}"


# ------------------------------------------------------------------ 5.2 key material

async def _devices(fed: Federation, account: str) -> list[Any]:
    """The devices of one of our accounts; none for an account we do not have."""
    try:
        return (await accounts.list_devices(fed.provider, account)).devices
    except NotFound:
        return []


def _compatible(kp: KeyPackage, required: RequiredCapabilities) -> bool:
    caps = kp.leaf_node.capabilities
    return (set(required.extension_types) <= set(caps.extensions)
            and set(required.proposal_types) <= set(caps.proposals)
            and set(required.credential_types) <= set(caps.credentials))


async def key_material(fed: Federation, peer: str, req: w.KeyMaterialRequest, target: str,
                       now: int) -> w.KeyMaterialResponse:
    if req.target_user.text() != target:
        raise ValidationError("the body's targetUser is not the path's", "MIMI 5.2")
    account = w.account_of_user_uri(target)
    requesting = w.account_of_user_uri(req.requesting_user.text())
    if domain_of(account) != fed.domain:  # a follower's, for a room we hub (5.2)
        return await mimi_relay.relay(fed, peer, req, account, requesting, now)
    ours(fed, account)
    requester = mimi_relay.requester(fed, peer, req, requesting)
    suites = mimi_relay.verified_suites(req)
    if not suites:
        return w.KeyMaterialResponse(w.MLS10, w.KeyMaterialUserCode.NO_COMPATIBLE_MATERIAL,
                                     req.target_user)
    fed.limiter.check("sender", requester, now)
    # An unknown user and one that blocked the requester look alike (no probing, T14);
    # with --require-consent both look like a stranger's noConsent, which 5.2 allows
    # as the catch-all, and the requester may ask for consent (5.7).
    hidden = (w.KeyMaterialUserCode.NO_CONSENT if fed.provider.config.require_consent
              else w.KeyMaterialUserCode.USER_UNKNOWN)
    devices = await _devices(fed, account)
    if not devices:
        return w.KeyMaterialResponse(w.MLS10, hidden, req.target_user)
    claimer = keypackages.Claimer(requester, peer)
    claimed: dict[str, KeyPackage] = {}
    for suite in suites:
        try:
            resp = await keypackages.claim_local(fed.provider, account, claimer, now, suite)
        except NoConsent:  # --require-consent, a stranger: the requester may ask (5.7)
            return w.KeyMaterialResponse(w.MLS10, w.KeyMaterialUserCode.NO_CONSENT,
                                         req.target_user)
        except NotFound:  # blocked
            return w.KeyMaterialResponse(w.MLS10, hidden, req.target_user)
        for c in resp.key_packages:
            msg = MLSMessage.from_bytes(c.key_package)  # stored as checked at upload
            assert isinstance(msg.message, KeyPackage)
            claimed[c.device_id] = msg.message
        if claimed:
            break
    return _key_material_response(fed.domain, req, devices, claimed)


def _key_material_response(domain: str, req: w.KeyMaterialRequest, devices: list[Any],
                           claimed: dict[str, KeyPackage]) -> w.KeyMaterialResponse:
    clients = []
    for d in devices:
        uri = w.IdentifierUri.of(w.mimi_client_uri(domain, d.device_id))
        kp = claimed.get(d.device_id)
        if kp is None:
            clients.append(w.ClientKeyMaterial(w.KeyMaterialClientCode.KEY_MATERIAL_EXHAUSTED, uri))
        elif _compatible(kp, req.required_capabilities):
            clients.append(w.ClientKeyMaterial(w.KeyMaterialClientCode.SUCCESS, uri, kp))
        else:  # capabilities omitted, as 5.2 allows (privacy)
            clients.append(w.ClientKeyMaterial(w.KeyMaterialClientCode.NOTHING_COMPATIBLE, uri,
                                               client_capabilities=w.MaybeCapabilities(None)))
    ok = sum(c.client_status == w.KeyMaterialClientCode.SUCCESS for c in clients)
    status = (w.KeyMaterialUserCode.SUCCESS if ok == len(clients)
              else w.KeyMaterialUserCode.PARTIAL_SUCCESS if ok
              else w.KeyMaterialUserCode.NO_COMPATIBLE_MATERIAL)
    return w.KeyMaterialResponse(w.MLS10, status, req.target_user, tuple(clients))


# ------------------------------------------------------------------ 5.8 identifier query

def _handle_account(value: bytes) -> str | None:
    try:
        text = value.decode()
    except UnicodeDecodeError:
        return None
    if text.startswith("mimi://"):
        try:
            return w.account_of_user_uri(text)
        except AccordError:
            return None
    return text if text.count("@") == 1 else None


async def identifier_query(fed: Federation, peer: str, req: w.IdentifierRequest, target: str,
                           now: int) -> w.IdentifierResponse:
    if target != fed.domain:  # a provider answers for its own domain only (no relay)
        raise NotFound(f"this provider answers identifier queries for {fed.domain} only")
    code = w.IdentifierQueryCode
    if not req.query_elements:
        return w.IdentifierResponse(code.AMBIGUOUS)
    # Accord decides: only an exact handle (user@domain or its mimi:// user URI) is searchable.
    if any(q.search_type != w.SearchIdentifierType.HANDLE for q in req.query_elements):
        return w.IdentifierResponse(code.UNSUPPORTED_FIELD)
    found = {_handle_account(q.search_value) for q in req.query_elements}
    account = found.pop() if len(found) == 1 else None
    if account is None or domain_of(account) != fed.domain:
        return w.IdentifierResponse(code.NOT_FOUND)
    # An account that blocked the peer's domain looks like no account (T14).
    blocked = (await fed.provider.store.fed_consent([account], peer)).get(account) == "blocked"
    if blocked or not await _devices(fed, account):
        return w.IdentifierResponse(code.NOT_FOUND)
    return w.IdentifierResponse(code.SUCCESS, (w.IdentifierUri.of(w.mimi_user_uri(account)),))


# ------------------------------------------------------------------ 5.9 report abuse

MAX_REPORTED = 16


async def report_abuse(fed: Federation, peer: str, req: w.AbuseReport, target: str, now: int
                       ) -> None:
    """Each reported message goes to the hub's one report check (``reports.accept_forwarded``:
    this provider hubs the room, the peer hosts a member, the frank verifies: the
    franking_tag recomputed from the content, the server frank over the context with
    the content's sender URI and ``accepted_timestamp``, the hub's signature).
    A message that does not verify is not filed; the answer is 201 all the same,
    as 5.9 says it only acknowledges the report. Each filed message keeps the report's
    ``reasonCode`` and ``note`` (UTF-8, else 422; its length: the report check's).
    """
    hub, group_id = w.room_of_uri(target)
    if hub != fed.domain:
        raise NotFound("this provider is not the hub of this room")
    if req.reporting_user.uri:  # optional; when named, one of the peer's own users
        requester_of(peer, w.account_of_user_uri(req.reporting_user.text()))
    alleged = (w.account_of_user_uri(req.alleged_abuser_uri.text())
               if req.alleged_abuser_uri.uri else None)  # empty: no claim
    if not 1 <= len(req.messages) <= MAX_REPORTED:
        raise ValidationError(f"a report carries 1 to {MAX_REPORTED} messages", "MIMI 5.9")
    try:
        note = req.note.decode("utf-8")  # 5.9: "a UTF8 human-readable string"
    except UnicodeDecodeError:
        raise ValidationError("a report's note is UTF-8", "MIMI 5.9") from None
    for message in req.messages:
        forwarded = FedReport(group_id=group_id, created_at=message.accepted_timestamp,
                              content=message.message_content,
                              frank=message.frank.to_bytes(), alleged_sender=alleged,
                              reason_code=req.reason_code, note=note)
        # the limits of Accord's own FedReport (sizes, time range), by its one declaration
        await reports.accept_forwarded(fed, peer, decode(FedReport, encode(forwarded)), now)


# ------------------------------------------------------------------ 5.10.2 proxy download

_ASSET_PATH = re.compile(r"/v1/blobs/(" + blobs.CAP_RE + ")")


async def proxy_download(fed: Federation, peer: str, req: None, target: str, now: int
                         ) -> bytes:
    """An encrypted asset of a provider this one knows, fetched for a peer (5.10.2).

    Accord decides the asset URL: ``https://DOMAIN/v1/blobs/CAPABILITY``. DOMAIN must
    be this provider or a peer it resolves (never an open proxy: a peer's blob is
    fetched over the signed peer route, by capability only).
    """
    url = urlsplit(target)
    found = _ASSET_PATH.fullmatch(url.path)
    if (url.scheme != "https" or found is None or url.port is not None or url.username
            or not url.hostname):
        raise NotFound("not an asset URL of a known provider (MIMI 5.10.2)")
    domain = url.hostname
    # A peer's blob goes through its resolved peer route (an unknown domain is 404).
    blob_id = found[1] if domain == fed.domain else f"{found[1]}.{domain}"
    return await blobs.download(fed.provider, blob_id)


# ------------------------------------------------------------------ the HTTP surface

MIMI_SPECS: tuple[MimiSpec, ...] = (
    MimiSpec("keyMaterial", w.KeyMaterialRequest, key_material),
    MimiSpec("update", w.UpdateRequest, mimi_hub.update_room),
    MimiSpec("submitMessage", w.SubmitMessageRequest, mimi_hub.submit_message),
    MimiSpec("notify", w.FanoutBatch, mimi_follower.notify, 201, (mimi_accord.CHAIN_HEADER,)),
    MimiSpec("groupInfo", w.GroupInfoRequest, mimi_hub.group_info),
    MimiSpec("requestConsent", w.ConsentEntry, mimi_consent.request_consent, 201),
    MimiSpec("updateConsent", w.ConsentEntry, mimi_consent.update_consent, 201),
    MimiSpec("identifierQuery", w.IdentifierRequest, identifier_query),
    MimiSpec("reportAbuse", w.AbuseReport, report_abuse, 201),
    MimiSpec("proxyDownload", None, proxy_download),
)

# Accord's extensions (docs/PROTOCOL.md, "Accord extensions to MIMI"): each key names
# the endpoint that carries it; a peer that does not know a key ignores it.
EXTENSIONS: dict[str, str] = {
    "accord-keyTransparency": "/v1/transparency/head",
    "accord-hiddenSenders": POSTS,
    "accord-cover": POSTS,
    "accord-forkDetection": f"{PREFIX}/notify/{{roomId}}",  # the chain header
    "accord-firstContact": mimi_first_contact.TEMPLATE,
    "accord-deviceList": DEVICES,
}


async def directory(request: Request) -> Response:
    base = str(request.base_url).rstrip("/")
    doc = {s.key: s.template(base) for s in MIMI_SPECS}
    config = request.app.state.provider.config
    if not config.mimi_plain:  # a plain MIMI peer lists none
        doc.update({k: base + path for k, path in EXTENSIONS.items()
                    if k not in config.mimi_withhold})
    return JSONResponse(doc, headers={"Cache-Control": "max-age=3600"})


def mimi_endpoint(spec: MimiSpec) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        started = time.perf_counter()
        try:
            fed, peer, body, now = await authenticated(request)
            source = request.headers.get("from")
            if source is not None and source.lower() != mimi_source(peer):
                raise AuthError("the From header names another provider than the "
                                "request's signer", "MIMI 4.1")
            if spec.request is None and body:
                raise ValidationError("this request has no body", "MIMI 5.10.2")
            req = spec.request.from_bytes(body) if spec.request is not None else None
            extra = {"headers": {h: request.headers[h] for h in spec.headers
                                 if h in request.headers}} if spec.headers else {}
            result = await spec.handler(fed, peer, req, request.path_params["target"], now,
                                        **extra)
            response = (
                Response(result, media_type="application/octet-stream")
                if isinstance(result, bytes)
                else Response(status_code=spec.status) if result is None
                else Response(result.to_bytes(), status_code=spec.status,
                              media_type=w.MEDIA_TYPE))
        except AccordError as exc:
            response = error_response(exc)
        log.info("%s %s -> %d (%.1f ms)", spec.method, spec.path, response.status_code,
                 (time.perf_counter() - started) * 1000)
        return response

    return handle


def mimi_routes() -> list[Route]:
    return [
        Route(DIRECTORY_PATH, directory, methods=["GET"]),
        Route(mimi_first_contact.PATH, mimi_first_contact.carried, methods=["POST"]),
        *(Route(s.path, mimi_endpoint(s), methods=[s.method]) for s in MIMI_SPECS),
    ]
