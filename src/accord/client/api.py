"""The provider's HTTP + WebSocket API, seen from a device (async, httpx + websockets).

One method per endpoint of ``accord.server.routes``, each taking and
returning the wire types of :mod:`accord.wire.messages`. The server's JSON
error body becomes the matching :mod:`accord.errors` class, so callers
handle ``EpochConflict`` (a lost commit race) or ``AuthError`` (a session
to renew) without looking at HTTP statuses.

Sessions: :meth:`ProviderApi.login` signs the server's nonce with the
device key (a callable, so the key never leaves the device object) and
keeps the token; a request that gets 401 logs in once more and retries.
Application posts go out with no token at all (issue 11, T11), but to a group
whose posts name their sender (``GroupState.named_sender``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx

from accord.errors import (
    AccordError,
    AuthError,
    Conflict,
    DecodeError,
    EpochConflict,
    NotFound,
    RateLimited,
    ValidationError,
    error_class,
)
from accord.http_client import async_client, ws_connect
from accord.wire import b64e, decode, dumps, parse, signing
from accord.wire import messages as m
from accord.wire import rendezvous as rv
from accord.wire.binary import (
    QUEUE_MEDIA_TYPE,
    QUEUE_SUBPROTOCOL,
    decode_queue_page,
    post_headers,
)

if TYPE_CHECKING:
    from accord.wire import federation as fw

T = TypeVar("T")
Signer = Callable[[bytes], bytes]
TIMEOUT_S = 30.0
WS_OPEN_TIMEOUT_S = 10.0


class ServerError(AccordError):
    """The provider failed (5xx) or answered something that is not its API."""

    code = "server_error"


class DeviceRemoved(AuthError):
    """The provider refuses this device's own login: it is no longer on the account."""

    code = "device_removed"

    MESSAGE = ("this device was removed from its account (or the account was deleted): "
               "its history stays readable here, offline; link a new profile or restore a "
               "backup to use the account")


_BY_STATUS: dict[int, type[AccordError]] = {
    400: DecodeError, 401: AuthError, 403: AuthError, 404: NotFound, 409: Conflict,
    413: ValidationError, 422: ValidationError, 429: RateLimited,
}


def error_from_response(status: int, body: bytes, retry_after: str | None = None
                        ) -> AccordError:
    """The typed error a provider's error response stands for."""
    try:
        err = parse(m.ErrorBody, body)
    except AccordError:
        return ServerError(f"provider answered HTTP {status} without an error body")
    if err.current_epoch is not None:
        return EpochConflict(err.current_epoch, err.message)
    if status >= 500:
        return ServerError(f"provider error: {err.message}")
    cls = error_class(err.error) or _BY_STATUS.get(status, AccordError)
    if cls is RateLimited:
        return RateLimited(err.message, retry_after_ms=RateLimited.retry_after_ms_of(retry_after))
    return cls(err.message)


def group_path(group_id: bytes) -> str:
    return "/v1/groups/" + b64e(group_id)


class ProviderApi:
    """One device's connection to its provider. Use as ``async with``."""

    def __init__(self, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float = TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = async_client(base_url=self.base_url, timeout=timeout, transport=transport)
        self._timeout, self._transport = timeout, transport
        self._token: str | None = None
        self.expires_at = 0  # of the current session token (provider clock, ms)
        self._relogin: Callable[[], Any] | None = None

    async def __aenter__(self) -> ProviderApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    @property
    def transport(self) -> httpx.AsyncBaseTransport | None:
        """The HTTP transport given at creation (None: the network)."""
        return self._transport

    @property
    def token(self) -> str | None:
        return self._token

    # -- plumbing ------------------------------------------------------------

    async def _send(self, method: str, path: str, *, body: Any = None, raw: bytes | None = None,
                    auth: bool = False, params: dict[str, Any] | None = None,
                    fresh: bool = False, raw_headers: dict[str, str] | None = None,
                    accept: str | None = None) -> httpx.Response:
        for attempt in (1, 2):
            headers: dict[str, str] = {"accept": accept} if accept else {}
            content: bytes | None = None
            if body is not None:
                content = dumps(body)
                headers["content-type"] = "application/json"
            elif raw is not None:
                content = raw
                headers["content-type"] = "application/octet-stream"
                headers.update(raw_headers or {})
            if auth:
                if self._token is None:
                    await self._renew()
                headers["authorization"] = f"Bearer {self._token}"
            try:
                if fresh:
                    resp = await self._once(method, path, content, headers)
                else:
                    resp = await self._http.request(method, path, content=content,
                                                    headers=headers, params=params)
            except httpx.HTTPError as exc:
                raise ServerError(f"cannot reach the provider: {type(exc).__name__}") from None
            # An expired session is renewed once; a second 401 is a real refusal.
            if resp.status_code == 401 and auth and attempt == 1 and self._relogin is not None:
                self._token = None
                continue
            if resp.status_code >= 400:
                raise error_from_response(resp.status_code, resp.content,
                                          resp.headers.get("retry-after"))
            return resp
        raise AuthError("the provider refused the renewed session")

    async def _once(self, method: str, path: str, content: bytes | None,
                    headers: dict[str, str]) -> httpx.Response:
        """One request on a connection of its own, closed after the answer.

        Hidden-sender posts (T11) never share a connection with a session, nor
        with each other: a kept-alive socket would tell the provider that two
        posts, or a post and a login, came from the same device (docs/PRIVACY.md).
        """
        async with async_client(base_url=self.base_url, timeout=self._timeout,
                                transport=self._transport) as http:
            return await http.request(method, path, content=content, headers=headers)

    def defer_login(self, domain: str, device_id: str, sign: Signer) -> None:
        """Log in on the first call that needs a session, not now (``accord send``
        posts before any authenticated request, issue 18)."""

        async def first() -> None:
            await self.login(domain, device_id, sign)

        self._relogin = first

    def resume(self, token: str, expires_at: int, relogin: Callable[[], Any]) -> None:
        """Use a session saved by an earlier command; a 401 for an expired or revoked
        token calls ``relogin`` (once per request)."""
        self._token, self.expires_at = token, expires_at
        self._relogin = relogin

    async def _renew(self) -> None:
        if self._relogin is None:
            raise AuthError("not logged in")
        await self._relogin()

    async def _json(self, cls: type[T], method: str, path: str, **kw: Any) -> T:
        resp = await self._send(method, path, **kw)
        return parse(cls, resp.content)

    # -- accounts, sessions, devices -------------------------------------------

    async def health(self) -> m.Health:
        return await self._json(m.Health, "GET", "/healthz")

    async def discovery(self) -> fw.WellKnown | None:
        """The provider's ``/.well-known/accord``: its domain and Ed25519 key (the
        franking agent of the rooms it hubs, MIMI 5.4.1). None when it publishes none
        (404): a plain MIMI provider (``--mimi-plain``, issue 22)."""
        from accord.wire import federation as fw  # only room creation needs it (lazy CLI)

        try:
            resp = await self._http.get("/.well-known/accord")
        except httpx.HTTPError as exc:
            raise ServerError(f"cannot reach the provider: {type(exc).__name__}") from None
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise error_from_response(resp.status_code, resp.content)
        return parse(fw.WellKnown, resp.content)

    async def register(self, account: str, signature_key: bytes,
                       sign: Signer) -> m.RegisterResponse:
        sig = sign(signing.register_input(account, signature_key))
        req = m.RegisterRequest(account=account, signature_key=signature_key, signature=sig)
        return await self._json(m.RegisterResponse, "POST", "/v1/accounts", body=req)

    async def login(self, domain: str, device_id: str, sign: Signer) -> m.LoginResponse:
        """Challenge-response login; later 401s repeat it automatically."""
        ch = await self._json(m.ChallengeResponse, "POST", "/v1/auth/challenge",
                              body=m.ChallengeRequest(device_id=device_id))
        sig = sign(signing.login_input(domain, device_id, ch.nonce))
        try:
            resp = await self._json(m.LoginResponse, "POST", "/v1/auth/login",
                                    body=m.LoginRequest(device_id=device_id, nonce=ch.nonce,
                                                        signature=sig))
        except AuthError:
            # The nonce is fresh and the key is the device's own: the provider no longer
            # has this device (removed, or its account deleted; issue 19).
            raise DeviceRemoved(DeviceRemoved.MESSAGE) from None
        self._token, self.expires_at = resp.token, resp.expires_at

        async def again() -> None:
            await self.login(domain, device_id, sign)

        self._relogin = again
        return resp

    async def list_devices(self, account: str) -> m.DeviceList:
        return await self._json(m.DeviceList, "GET",
                                f"/v1/accounts/{quote(account, safe='@')}/devices", auth=True)

    async def find_device(self, account: str, signature_key: bytes) -> str | None:
        """Our device id once an existing device certified our key; None until then."""
        try:
            found = await self._json(m.FoundDevice, "POST", "/v1/devices/find",
                                     body=m.FindDeviceRequest(account=account,
                                                              signature_key=signature_key))
        except NotFound:
            return None
        return found.device_id

    async def add_device(self, account: str, new_key: bytes, certify: Signer,
                         possession: bytes, *, succeeds: bytes | None = None
                         ) -> m.AddDeviceResponse:
        """Certify ``new_key`` with this device's key; ``possession`` is the new key's own.
        ``succeeds``: this device's public key, when ``new_key`` takes its place (a
        restore): the provider logs the succession, signed here (issue 19)."""
        succession = None if succeeds is None else certify(
            signing.succession_input(account, succeeds, new_key))
        req = m.AddDeviceRequest(signature_key=new_key,
                                 certification=certify(signing.add_device_input(account, new_key)),
                                 possession=possession, succession=succession)
        return await self._json(m.AddDeviceResponse, "POST", "/v1/devices", body=req, auth=True)

    async def remove_device(self, device_id: str) -> None:
        await self._send("DELETE", f"/v1/devices/{quote(device_id)}", auth=True)

    # -- key packages -----------------------------------------------------------

    async def upload_key_packages(self, key_packages: list[bytes],
                                  last_resort: bytes | None = None) -> m.KeyPackageCount:
        req = m.UploadKeyPackagesRequest(key_packages=key_packages, last_resort=last_resort)
        return await self._json(m.KeyPackageCount, "POST", "/v1/keypackages", body=req,
                                auth=True)

    async def key_package_count(self, cipher_suite: int = 1) -> m.KeyPackageCount:
        return await self._json(m.KeyPackageCount, "GET", "/v1/keypackages/count", auth=True,
                                params={"cipher_suite": cipher_suite})

    async def claim_key_packages(self, account: str, cipher_suite: int = 1,
                                 group_id: bytes | None = None) -> m.ClaimResponse:
        """``group_id``: the group the KeyPackages are for, if any (its hub relays the
        claim when the provider sends over MIMI)."""
        params: dict[str, Any] = {"cipher_suite": cipher_suite}
        if group_id is not None:
            params["group_id"] = b64e(group_id)
        return await self._json(m.ClaimResponse, "POST",
                                f"/v1/accounts/{quote(account, safe='@')}/keypackages/claim",
                                auth=True, params=params)

    # -- groups and delivery ------------------------------------------------------

    async def create_group(self, group_id: bytes, posting_key: bytes, group_info: bytes
                           ) -> m.GroupState:
        req = m.CreateGroupRequest(group_id=group_id, posting_key=posting_key,
                                   group_info=group_info)
        return await self._json(m.GroupState, "POST", "/v1/groups", body=req, auth=True)

    async def group(self, group_id: bytes) -> m.GroupState:
        return await self._json(m.GroupState, "GET", group_path(group_id), auth=True)

    async def commit(self, group_id: bytes, req: m.CommitRequest) -> m.CommitResponse:
        return await self._json(m.CommitResponse, "POST", group_path(group_id) + "/commits",
                                body=req, auth=True)

    async def propose(self, group_id: bytes, epoch: int, proposal: bytes) -> m.PostResponse:
        req = m.ProposalRequest(epoch=epoch, proposal=proposal)
        return await self._json(m.PostResponse, "POST", group_path(group_id) + "/proposals",
                                body=req, auth=True)

    async def post_application(self, group_id: bytes, epoch: int, nonce: bytes,
                               ciphertext: bytes, sign_post: Signer, *, named: bool = False
                               ) -> m.PostResponse:
        """Hidden-sender post: no session header, signed with the epoch's posting key.
        ``named``: with the session, for a group whose posts name their sender
        (``GroupState.named_sender``: a hub reached over MIMI, which names it)."""
        sig = sign_post(signing.post_input(group_id, epoch, nonce, ciphertext))
        req = m.ApplicationPost(epoch=epoch, nonce=nonce, ciphertext=ciphertext, signature=sig)
        # The MLS message as the body, the rest in headers (wire.binary, issue 23).
        return await self._json(m.PostResponse, "POST", group_path(group_id) + "/messages",
                                raw=ciphertext, raw_headers=post_headers(req), auth=named,
                                fresh=True)

    async def fetch(self, after: int, limit: int = 100) -> m.QueuePage:
        """A page of the queue, in the binary envelope (wire.binary, issue 23); a
        provider that answers JSON is still understood."""
        resp = await self._send("GET", "/v1/queue", auth=True, accept=QUEUE_MEDIA_TYPE,
                                params={"after": after, "limit": limit})
        media_type = resp.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type == QUEUE_MEDIA_TYPE:
            return decode_queue_page(resp.content)
        return parse(m.QueuePage, resp.content)

    async def ack(self, up_to: int) -> m.AckResponse:
        return await self._json(m.AckResponse, "POST", "/v1/queue/ack",
                                body=m.AckRequest(up_to=up_to), auth=True)

    # -- device-linking rendezvous (accord.client.linking) ---------------------------

    async def rendezvous_open(self, slot: bytes, offer: bytes, ttl_ms: int) -> rv.RendezvousCreated:
        req = rv.RendezvousCreate(slot=slot, offer=offer, ttl_ms=ttl_ms)
        return await self._json(rv.RendezvousCreated, "POST", "/v1/rendezvous", body=req,
                                auth=True)

    async def rendezvous_offer(self, slot: bytes) -> rv.RendezvousOffer:
        return await self._json(rv.RendezvousOffer, "GET", f"/v1/rendezvous/{b64e(slot)}")

    async def rendezvous_answer(self, slot: bytes, answer: bytes) -> None:
        await self._send("POST", f"/v1/rendezvous/{b64e(slot)}/answer",
                         body=rv.RendezvousAnswer(answer=answer))

    async def rendezvous_state(self, slot: bytes) -> rv.RendezvousState:
        return await self._json(rv.RendezvousState, "GET",
                                f"/v1/rendezvous/{b64e(slot)}/answer", auth=True)

    async def rendezvous_close(self, slot: bytes) -> None:
        await self._send("DELETE", f"/v1/rendezvous/{b64e(slot)}", auth=True)

    # -- blobs ----------------------------------------------------------------------

    async def upload_blob(self, data: bytes) -> m.BlobCreated:
        return await self._json(m.BlobCreated, "POST", "/v1/blobs", raw=data, auth=True)

    async def download_blob(self, blob_id: str) -> bytes:
        resp = await self._send("GET", f"/v1/blobs/{quote(blob_id)}")
        return resp.content

    # -- push -----------------------------------------------------------------------

    def ws_url(self) -> str:
        url = self.base_url
        return ("wss://" + url[8:] if url.startswith("https://") else "ws://" + url[7:]) + "/v1/ws"

    async def push(self, after: int, *, max_frames: int = 1_000_000,
                   idle_timeout: float | None = None) -> AsyncIterator[list[m.QueueItem]]:
        """Queue items as the provider pushes them, starting after ``after``.

        Bounded by ``max_frames`` and, when given, by ``idle_timeout`` seconds
        without a frame (then the iterator ends; callers reconnect or stop).
        """
        import websockets  # push only

        if self._token is None:
            await self._renew()
        # binary frames (wire.binary, issue 23) when the provider takes the subprotocol
        async with ws_connect(self.ws_url(), open_timeout=WS_OPEN_TIMEOUT_S,
                              max_size=4 * 1024 * 1024, subprotocols=[QUEUE_SUBPROTOCOL]) as ws:
            auth = m.WsAuth(type="auth", token=self._token or "", after=after)
            await ws.send(dumps(auth).decode())
            for _ in range(max_frames):
                try:
                    frame = await asyncio.wait_for(ws.recv(), idle_timeout)
                except TimeoutError:
                    return
                except websockets.ConnectionClosed as exc:
                    if exc.rcvd is not None and exc.rcvd.code == 4401:
                        self._token = None
                        raise AuthError("the provider refused the push session") from None
                    return
                yield _push_items(frame, ws.subprotocol == QUEUE_SUBPROTOCOL)


def _push_items(frame: str | bytes, binary: bool) -> list[m.QueueItem]:
    """The items of a push frame: a binary queue page under the subprotocol, else JSON."""
    if isinstance(frame, bytes):
        if not binary:
            raise DecodeError("a binary push frame without the accord.queue.v1 subprotocol")
        return decode_queue_page(frame).items
    return decode(m.WsItems, json.loads(frame)).items
