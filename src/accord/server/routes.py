"""The HTTP API: one declaration per endpoint, used for routing and for ``/openapi.json``.

Handlers are thin: read and decode, authenticate, call a service function,
encode. Errors become JSON through :mod:`accord.server.errors`. The request
log names the route template, never the concrete path (paths carry group
ids and blob capabilities), the caller's address, a token or a body.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from accord.errors import AccordError, AuthError, ValidationError
from accord.server import accounts, blobs, delivery, keypackages, reports
from accord.server.errors import PayloadTooLarge, RequestTimeout, error_response
from accord.server.state import Provider
from accord.storage import DeviceRecord
from accord.wire import b64d, encode, parse
from accord.wire import messages as m
from accord.wire.binary import (
    QUEUE_MEDIA_TYPE,
    accepts,
    encode_queue_page,
    is_mls,
    post_from_binary,
)

log = logging.getLogger("accord.server.http")
RAW = bytes  # marks an octet-stream request or response body


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # "path" or "query"
    schema: dict[str, Any]
    description: str = ""


@dataclass
class Call:
    provider: Provider
    request: Request
    device: DeviceRecord | None
    body: Any
    now: int

    @property
    def me(self) -> DeviceRecord:
        assert self.device is not None
        return self.device


@dataclass(frozen=True)
class Spec:
    method: str
    path: str
    summary: str
    handler: Callable[[Call], Awaitable[Any]]
    auth: bool = False
    # a session taken when the request shows one, else none (a post to a group whose
    # posts name their sender, ``delivery.named_sender``)
    auth_if_shown: bool = False
    request: type | None = None
    response: type | None = None
    status: int = 200
    params: tuple[Param, ...] = ()
    address_limit: str | None = None  # an extra per-address limit (e.g. registration)
    byte_budget: str | None = None  # a per-device limit charged per body byte, as it arrives
    # the request from a binary body and its headers, taken instead of JSON when the
    # body is an MLS message (``wire.binary``, issue 23)
    binary: Callable[[Mapping[str, str], bytes], Any] | None = None
    # (media type, encoder): the response in a binary envelope, sent instead of JSON
    # when the request's Accept lists that media type (``wire.binary``, issue 23)
    binary_response: tuple[str, Callable[[Any], bytes]] | None = None


GROUP_ID = Param("group_id", "path", {"type": "string", "pattern": "^[A-Za-z0-9_-]{2,86}$"},
                 "the MLS group id, base64url")
ACCOUNT = Param("account", "path", {"type": "string", "pattern": "^" + m.ACCOUNT_RE + "$"})
DEVICE = Param("device_id", "path", {"type": "string", "pattern": "^" + m.DEVICE_ID_RE + "$"})
BLOB = Param("blob_id", "path", {"type": "string", "pattern": "^" + blobs.BLOB_ID_RE + "$"})
AFTER = Param("after", "query", {"type": "integer", "minimum": 0, "maximum": 2**62})
LIMIT = Param("limit", "query", {"type": "integer", "minimum": 1,
                                  "maximum": m.MAX_PAGE_ITEMS})
SUITE = Param("cipher_suite", "query", {"type": "integer", "minimum": 1, "maximum": 65535},
              "the MLS cipher suite (RFC 9420 17.1), 1 when absent")
FOR_GROUP = Param("group_id", "query", {"type": "string", "pattern": "^[A-Za-z0-9_-]{2,86}$"},
                  "the group the KeyPackages are claimed to be added to, base64url: a"
                  " provider that sends over MIMI claims them through that group's hub"
                  " (draft-ietf-mimi-protocol-06 5.2)")


def group_id_of(call: Call) -> bytes:
    gid = b64d(call.request.path_params["group_id"])
    if not 1 <= len(gid) <= m.MAX_GROUP_ID:
        raise ValidationError(f"group id must be 1 to {m.MAX_GROUP_ID} bytes")
    return gid


def int_query(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    # isascii: str.isdigit() accepts digits like '¹' that int() refuses
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not lo <= int(raw) <= hi:
        raise ValidationError(f"query parameter {name} must be an integer from {lo} to {hi}")
    return int(raw)


async def read_body(request: Request, limit: int, timeout_s: float,
                    charge: Callable[[int], None] | None = None) -> bytes:
    """The body, refused as soon as it passes ``limit`` or what ``charge`` allows, or
    when it has not all arrived within ``timeout_s`` (408: a slow body holds a
    connection as a slow head would, see ``http_guard``).

    ``charge(n)`` takes ``n`` bytes from a budget (raising ``RateLimited``):
    the declared Content-Length before a byte is read, then each chunk beyond
    it as it arrives, so a device's concurrent uploads together never hold
    more memory than its budget.
    """
    declared = request.headers.get("content-length")
    charged = 0
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise PayloadTooLarge(f"request body over {limit} bytes")
        if charge is not None:
            charge(int(declared))
            charged = int(declared)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"request body over {limit} bytes")
                if charge is not None and size > charged:
                    charge(size - charged)
                    charged = size
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {timeout_s:g} s") from None
    return b"".join(chunks)


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("this endpoint needs 'Authorization: Bearer <session token>'")
    return token.strip()


def _check_query(spec: Spec, request: Request) -> None:
    allowed = {p.name for p in spec.params if p.where == "query"}
    keys = request.query_params.keys()
    unknown = set(keys) - allowed
    if unknown:
        raise ValidationError(f"unknown query parameter(s): {sorted(unknown)[:5]}")
    if len(request.query_params.multi_items()) != len(set(keys)):
        raise ValidationError("a query parameter is repeated")


def _render(spec: Spec, result: Any, accept: str | None) -> Response:
    if spec.response is None:
        return Response(status_code=204)
    if spec.response is RAW:
        return Response(result, status_code=spec.status, media_type="application/octet-stream")
    if spec.binary_response is None:
        return Response(orjson.dumps(encode(result)), status_code=spec.status,
                        media_type="application/json")
    media_type, encoder = spec.binary_response
    vary = {"vary": "accept"}
    if accepts(accept, media_type):
        return Response(encoder(result), status_code=spec.status, media_type=media_type,
                        headers=vary)
    return Response(orjson.dumps(encode(result)), status_code=spec.status,
                    media_type="application/json", headers=vary)


def endpoint(spec: Spec) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        p: Provider = request.app.state.provider
        now = p.clock()
        started = time.perf_counter()
        try:
            address = request.client.host if request.client else "-"
            p.limiter.check("address", address, now)
            if spec.address_limit:
                p.limiter.check(spec.address_limit, address, now)
            _check_query(spec, request)
            device = None
            if spec.auth or (spec.auth_if_shown and "authorization" in request.headers):
                device = await accounts.authenticate(p, bearer(request), now)
                p.limiter.check("device", device.device_id, now)
                await reports.gate_account(p, device, now)  # issue 11: suspended/limited
            body: Any = None
            if spec.request is RAW:
                body = await read_body(request, p.config.max_blob, p.config.body_timeout_s,
                                       _budget(spec, p, device, now))
            elif spec.binary is not None and is_mls(request.headers.get("content-type")):
                body = spec.binary(request.headers, await read_body(
                    request, p.config.max_json_body, p.config.body_timeout_s))
            elif spec.request is not None:
                body = parse(spec.request, await read_body(request, p.config.max_json_body,
                                                           p.config.body_timeout_s))
            response = _render(spec, await spec.handler(Call(p, request, device, body, now)),
                               request.headers.get("accept"))
        except AccordError as exc:
            response = error_response(exc)
        elapsed = (time.perf_counter() - started) * 1000
        log.info("%s %s -> %d (%.1f ms)", spec.method, spec.path, response.status_code, elapsed,
                 extra={"route": spec.path, "method": spec.method,
                        "status": response.status_code, "ms": round(elapsed, 1)})
        return response

    return handle


def _budget(spec: Spec, p: Provider, device: DeviceRecord | None, now: int
            ) -> Callable[[int], None] | None:
    if spec.byte_budget is None or device is None:
        return None
    kind, key = spec.byte_budget, device.device_id
    return lambda n: p.limiter.check(kind, key, now, cost=n)


async def _health(c: Call) -> m.Health:
    return m.Health(status="ok", domain=c.provider.config.domain)


async def _remove_device(c: Call) -> None:
    await accounts.remove_device(c.provider, c.me, c.request.path_params["device_id"])


async def _fetch(c: Call) -> m.QueuePage:
    after = int_query(c.request, "after", 0, 0, 2**62)
    limit = int_query(c.request, "limit", 100, 1, m.MAX_PAGE_ITEMS)
    return await delivery.fetch(c.provider, c.me, after, limit)


def _account(c: Call) -> str:
    return str(c.request.path_params["account"])


def _suite(c: Call) -> int:
    return int_query(c.request, "cipher_suite", 1, 1, 65535)


def _for_group(c: Call) -> bytes | None:
    raw = c.request.query_params.get("group_id")
    if raw is None:
        return None
    if not re.fullmatch(r"[A-Za-z0-9_-]{2,86}", raw):
        raise ValidationError("query parameter group_id must be a base64url group id")
    gid = b64d(raw)
    if not 1 <= len(gid) <= m.MAX_GROUP_ID:
        raise ValidationError(f"group id must be 1 to {m.MAX_GROUP_ID} bytes")
    return gid


SPECS: tuple[Spec, ...] = (
    Spec("GET", "/healthz", "Liveness and the provider's domain", _health, response=m.Health),
    Spec("POST", "/v1/accounts", "Register an account with its first device",
         lambda c: accounts.register(c.provider, c.body, c.now),
         request=m.RegisterRequest, response=m.RegisterResponse, status=201,
         address_limit="register"),
    # A session is needed (issue 17, T14): without one, 200 or 404 would tell
    # who has an account here.
    Spec("GET", "/v1/accounts/{account}/devices", "An account's devices and keys",
         lambda c: accounts.list_devices(c.provider, _account(c)),
         auth=True, response=m.DeviceList, params=(ACCOUNT,)),
    Spec("POST", "/v1/devices/find", "A newly linked device's id, by its key (no session)",
         lambda c: accounts.find_device(c.provider, c.body),
         request=m.FindDeviceRequest, response=m.FoundDevice, address_limit="probe"),
    Spec("POST", "/v1/accounts/{account}/keypackages/claim",
         "Claim one KeyPackage for each device of an account",
         lambda c: keypackages.claim(c.provider, _account(c), c.me, c.now, _suite(c),
                                     _for_group(c)),
         auth=True, response=m.ClaimResponse, params=(ACCOUNT, SUITE, FOR_GROUP)),
    Spec("POST", "/v1/auth/challenge", "Get a login nonce for a device",
         lambda c: accounts.challenge(c.provider, c.body, c.now),
         request=m.ChallengeRequest, response=m.ChallengeResponse, address_limit="probe"),
    Spec("POST", "/v1/auth/login", "Exchange a signed nonce for a session token",
         lambda c: accounts.login(c.provider, c.body, c.now),
         request=m.LoginRequest, response=m.LoginResponse, address_limit="probe"),
    Spec("POST", "/v1/devices", "Add a device certified by the calling device",
         lambda c: accounts.add_device(c.provider, c.me, c.body, c.now),
         auth=True, request=m.AddDeviceRequest, response=m.AddDeviceResponse, status=201),
    Spec("DELETE", "/v1/devices/{device_id}", "Remove a device of the caller's account",
         _remove_device, auth=True, status=204, params=(DEVICE,)),
    Spec("POST", "/v1/keypackages", "Upload a batch of KeyPackages (and a last-resort one)",
         lambda c: keypackages.upload(c.provider, c.me, c.body, c.now),
         auth=True, request=m.UploadKeyPackagesRequest, response=m.KeyPackageCount),
    Spec("GET", "/v1/keypackages/count", "How many KeyPackages the caller has left",
         lambda c: keypackages.count(c.provider, c.me, _suite(c)), auth=True,
         response=m.KeyPackageCount, params=(SUITE,)),
    Spec("POST", "/v1/groups", "Create a group with this provider as its hub",
         lambda c: delivery.create_group(c.provider, c.me, c.body, c.now),
         auth=True, request=m.CreateGroupRequest, response=m.GroupState, status=201),
    Spec("GET", "/v1/groups/{group_id}", "A group's epoch and roster (members only)",
         lambda c: delivery.get_group(c.provider, c.me, group_id_of(c)),
         auth=True, response=m.GroupState, params=(GROUP_ID,)),
    Spec("POST", "/v1/groups/{group_id}/commits", "Post the commit for the current epoch",
         lambda c: delivery.commit(c.provider, c.me, group_id_of(c), c.body, c.now),
         auth=True, request=m.CommitRequest, response=m.CommitResponse, status=201,
         params=(GROUP_ID,)),
    Spec("POST", "/v1/groups/{group_id}/proposals", "Post a proposal for the current epoch",
         lambda c: delivery.propose(c.provider, c.me, group_id_of(c), c.body, c.now),
         auth=True, request=m.ProposalRequest, response=m.PostResponse, status=201,
         params=(GROUP_ID,)),
    Spec("POST", "/v1/groups/{group_id}/messages",
         "Post an application message with a hidden sender (no session; with one only"
         " where the group's state says named_sender)",
         lambda c: delivery.post_application(c.provider, group_id_of(c), c.body, c.now,
                                              c.device),
         auth_if_shown=True, request=m.ApplicationPost, response=m.PostResponse, status=201,
         params=(GROUP_ID,), binary=post_from_binary),
    Spec("GET", "/v1/queue", "Fetch the caller's queue after a cursor", _fetch,
         auth=True, response=m.QueuePage, params=(AFTER, LIMIT),
         binary_response=(QUEUE_MEDIA_TYPE, encode_queue_page)),
    Spec("POST", "/v1/queue/ack", "Acknowledge (delete) the caller's items up to a sequence",
         lambda c: delivery.ack(c.provider, c.me, c.body),
         auth=True, request=m.AckRequest, response=m.AckResponse),
    Spec("POST", "/v1/blobs", "Upload an encrypted blob",
         lambda c: blobs.upload(c.provider, c.me, c.body, c.now),
         auth=True, request=RAW, response=m.BlobCreated, status=201, byte_budget="blob_bytes"),
    Spec("GET", "/v1/blobs/{blob_id}", "Download a blob by its capability id",
         lambda c: blobs.download(c.provider, c.request.path_params["blob_id"]),
         response=RAW, params=(BLOB,)),
)


def http_routes() -> list[Route]:
    return [Route(s.path, endpoint(s), methods=[s.method]) for s in SPECS]


__all__ = ["RAW", "SPECS", "Param", "Spec", "http_routes"]
