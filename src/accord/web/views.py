"""The JSON API of the local web app: each view drives ``accord.client`` under the
device lock and returns plain data; the page renders it with ``textContent`` only.

Peer-controlled strings (names, texts, file names, accounts) go out as JSON
strings and are never turned into markup here or in the page (issue 20, T16).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, unquote

import segno
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from accord.client import (
    alerts,
    consent,
    device_kt,
    invites,
    message_requests,
    messaging,
    overview,
    safety,
)
from accord.client import conversations as convs
from accord.client import search as archive
from accord.client.history import describe_event, timeline_page
from accord.errors import AccordError, Conflict, NotFound, ValidationError
from accord.web.bodies import json_object
from accord.web.live import Live
from accord.web.settings_views import notify_setting

MAX_UPLOAD = 64 * 1024 * 1024
PAGE = 200
# Shown inline only when the decrypted bytes start like one of these (never SVG).
RASTER = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg",
          b"GIF87a": "image/gif", b"GIF89a": "image/gif"}
STATUS = {"validation_error": 422, "decode_error": 400, "not_found": 404, "conflict": 409,
          "group_moved": 409, "auth_error": 403, "crypto_error": 422, "rate_limited": 429,
          "device_removed": 410, "not_set_up": 409}

View = Callable[[Request], Awaitable[Response]]


def error_response(exc: AccordError) -> JSONResponse:
    body: dict[str, Any] = {"code": getattr(exc, "code", "error"), "message": str(exc)}
    if isinstance(exc, safety.KeyChangeUnconfirmed):
        body.update(code="key_change", accounts=sorted(exc.accounts))
        return JSONResponse(body, 409)
    if isinstance(exc, ForkUnconfirmed):
        body.update(code="fork_alert", alerts=exc.ids)
        return JSONResponse(body, 409)
    return JSONResponse(body, STATUS.get(body["code"], 502))


class ForkUnconfirmed(Conflict):
    """The conversation's hub may show its members different histories (T07): nothing
    is sent in it until the person has seen the alert and chosen to go on."""

    def __init__(self, ids: list[int]) -> None:
        super().__init__("this conversation has an unconfirmed fork alert; read it first")
        self.ids = ids


def alert_view(a: dict[str, Any]) -> dict[str, Any]:
    """An alert for the page: its text (peer and provider names in it are plain text
    for ``textContent``) and the conversation it concerns, if any."""
    group = a["detail"].get("group") if a["kind"] == "split_view" else None
    return {"id": a["id"], "kind": a["kind"], "evidence": a["detail"].get("evidence"),
            "conv": group, "text": alerts.describe(a)}


def fork_alerts(dev: Any, conv: dict[str, Any]) -> list[dict[str, Any]]:
    """The unseen fork alerts of ``conv`` (fork_check files them by conversation id)."""
    return [alert_view(a) for a in alerts.pending(dev.store)
            if a["kind"] == "split_view" and a["detail"].get("group") == conv["conv_id"]]


def raster_type(data: bytes) -> str | None:
    return next((t for magic, t in RASTER.items() if data.startswith(magic)), None)


class Api:
    """Views bound to one :class:`Live` device."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.confirmed: dict[str, set[str]] = {}  # conv id -> accounts the person confirmed

    @property
    def dev(self) -> Any:
        return self.live.dev

    def _conv(self, request: Request) -> dict[str, Any]:
        conv = invites.find(self.dev, request.path_params["conv"]) or \
            self.dev.store.conversation(request.path_params["conv"])
        if consent.is_pending(conv):
            raise NotFound("that conversation is a message request; accept it first")
        return conv

    async def _body(self, request: Request) -> dict[str, Any]:
        return await json_object(request)

    def _text(self, data: dict[str, Any], key: str, *, empty: bool = False) -> str:
        value = data.get(key, "")
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise ValidationError(f"{key} must be a non-empty string")
        return value

    def _msg(self, conv: dict[str, Any], data: dict[str, Any], key: str) -> bytes | None:
        value = data.get(key)
        if value is None:
            return None
        try:
            mid = bytes.fromhex(str(value))
        except ValueError:
            raise ValidationError(f"{key} is not a message id") from None
        if self.dev.store.message(mid).conv_id != conv["conv_id"]:
            raise NotFound("no such message in this conversation")
        return mid

    def _ok(self, conv: dict[str, Any]) -> set[str]:
        return self.confirmed.get(conv["conv_id"], set())

    def _sendable(self, request: Request) -> dict[str, Any]:
        """The conversation to post in: refused while a fork alert of it is unseen."""
        conv = self._conv(request)
        forks = fork_alerts(self.dev, conv)
        if forks:
            raise ForkUnconfirmed([a["id"] for a in forks])
        return conv

    # -- reading ---------------------------------------------------------------------

    async def state(self, request: Request) -> Response:
        dev = self.dev
        # our consent requests (MIMI 5.7): listed anew while one waits, at most once a minute
        with contextlib.suppress(AccordError):  # offline: what was listed last
            await message_requests.follow_consent(dev, self.live.clock())
        summaries = [message_requests.summary(dev, c) for c in message_requests.pending(dev)]
        requests = [{"id": s["conv_id"], "from": s["from"], "previews": s["previews"][-5:],
                     "waiting": s["waiting"]} for s in summaries]
        return JSONResponse({"me": dev.identity.account, "online": self.live.online,
                             "alerts": [alert_view(a) for a in alerts.pending(dev.store)],
                             "notify": notify_setting(dev),
                             "conversations": [c for c in overview.summaries(dev)
                                               if not c["request"]],
                             "requests": requests,
                             "sent": [{"target": r["target"], "room": r["room"], "at": r["at"]}
                                      for r in message_requests.consent_kept(dev)
                                      if r["state"] == "pending"]})

    async def conversation(self, request: Request) -> Response:
        conv = self._conv(request)
        now = self.live.clock()
        before = request.query_params.get("before")
        page = timeline_page(self.dev, conv, PAGE, int(before) if before else None)
        items = page["items"]
        for i in items:
            if i["type"] == "event":
                i["description"] = describe_event(i)
        active = conv["meta"].get("active", True)
        # a conversation we are out of (or restored from a backup, until a member's
        # device adds this device) has no group: no member keys to check
        blocked = sorted(set(safety.changed_contacts(self.dev, conv, now))
                         | set(safety.unproven_members(self.dev, conv))) if active else []
        return JSONResponse({
            "id": conv["conv_id"], "name": conv["name"], "kind": conv["kind"],
            "active": active, "items": items, "more": page["more"],
            "first_seq": page["first_seq"], "fork": fork_alerts(self.dev, conv),
            "key_change": [a for a in blocked if a not in self._ok(conv)],
            # T06: members whose provider offers no key transparency (a plain MIMI peer)
            "not_transparency_checked": safety.unlogged_members(self.dev, conv) if active
            else []})

    async def members(self, request: Request) -> Response:
        conv = self._conv(request)
        admins = conv["meta"].get("admins", [])
        verified = {c["identity"] for c in self.dev.store.contacts()
                    if c.get("verified_fingerprint") is not None}
        unlogged = set(safety.unlogged_members(self.dev, conv))
        rows = [{"account": a, "devices": d, "admin": a in admins, "verified": a in verified,
                 "me": a == self.dev.identity.account, "transparency_checked": a not in unlogged}
                for a, d in convs.members(self.dev, conv).items()]
        return JSONResponse({"members": rows})

    async def _safety(self, account: str) -> str:
        async with device_kt.checker(self.dev) as kc:  # prove both key sets first (issue 7)
            now = self.live.clock()
            await kc.current_entry(self.dev.identity.account, now)
            await kc.current_entry(account, now)
        return safety.current(self.dev, account)[0]

    async def safety_number(self, request: Request) -> Response:
        account = request.path_params["account"]
        digits = await self._safety(account)
        return JSONResponse({"account": account, "digits": safety.grouped(digits)})

    async def safety_qr(self, request: Request) -> Response:
        digits = await self._safety(request.path_params["account"])
        out = io.BytesIO()
        segno.make(digits, error="m").save(out, kind="png", scale=4)
        return Response(out.getvalue(), media_type="image/png")

    async def attachment(self, request: Request) -> Response:
        conv = self._conv(request)
        mid = self._msg(conv, {"m": request.path_params["msg"]}, "m")
        assert mid is not None
        name, data = await messaging.fetch_attachment(self.dev, mid,
                                                      int(request.path_params["index"]))
        kind = raster_type(data)
        if kind is not None and request.query_params.get("inline") == "1":
            return Response(data, media_type=kind,
                            headers={"content-disposition": "inline"})
        return Response(data, media_type="application/octet-stream", headers={
            "content-disposition": "attachment; filename*=UTF-8''" + quote(name, safe="")})

    async def search(self, request: Request) -> Response:
        q = request.query_params
        pending = {c["conv_id"] for c in message_requests.pending(self.dev)}

        def ms(key: str) -> int | None:
            return int(q[key]) if q.get(key, "").isdigit() else None

        hits = archive.search(self.dev, q.get("q", ""), sender=q.get("sender") or None,
                              chat=q.get("conv") or None, since=ms("since"), until=ms("until"))
        # a request's previews stay in its own region until it is accepted (T14)
        return JSONResponse({"hits": [h for h in hits if h["chat_id"] not in pending]})

    # -- acting ----------------------------------------------------------------------

    async def manage(self, request: Request) -> Response:
        """Rename, add members, remove a member, set the admins, set the timer or leave."""
        conv = self._conv(request)
        data = await self._body(request)
        action, now = data.get("action"), self.live.clock()
        if action == "rename":
            await convs.rename(self.dev, conv, self._text(data, "name"), now)
        elif action == "add":
            accounts = [a.strip() for a in self._text(data, "members").split(",") if a.strip()]
            await convs.add_members(self.dev, conv, accounts, now, confirmed=self._ok(conv))
        elif action == "remove":
            await convs.remove_member(self.dev, conv, self._text(data, "account"), now)
        elif action == "timer":
            seconds = data.get("seconds")
            if not isinstance(seconds, int) or not 0 <= seconds <= 366 * 86400:
                raise ValidationError("seconds must be 0 to 366 days")
            await messaging.set_timer(self.dev, conv, seconds, now)
        elif action == "admins":
            admins = data.get("accounts")
            if not isinstance(admins, list) or not all(isinstance(a, str) for a in admins):
                raise ValidationError("accounts must be a list of strings")
            await convs.set_admins(self.dev, conv, admins, now)
        elif action == "leave":
            await convs.leave(self.dev, conv, now)
        else:
            raise ValidationError("unknown action")
        return JSONResponse({"done": action})

    async def create(self, request: Request) -> Response:
        data = await self._body(request)
        name = self._text(data, "name")
        members = [a.strip() for a in self._text(data, "members").split(",") if a.strip()]
        kind = "direct" if len(members) == 1 else "group"
        conv = await convs.create(self.dev, name, members, self.live.clock(), kind)
        return JSONResponse({"id": conv["conv_id"]})

    async def send(self, request: Request) -> Response:
        conv = self._sendable(request)
        data = await self._body(request)
        text = self._text(data, "text")
        edit = self._msg(conv, data, "edit")
        now = self.live.clock()
        if edit is not None:
            mid = await messaging.edit(self.dev, conv, edit, text, now, confirmed=self._ok(conv))
        else:
            mid = await messaging.send_text(self.dev, conv, text, now,
                                            self._msg(conv, data, "reply_to"),
                                            confirmed=self._ok(conv))
        return JSONResponse({"id": mid.hex()})

    async def react(self, request: Request) -> Response:
        conv = self._sendable(request)
        data = await self._body(request)
        target = self._msg(conv, data, "message")
        if target is None:
            raise ValidationError("message is required")
        mid = await messaging.react(self.dev, conv, target, self._text(data, "emoji"),
                                    self.live.clock(), bool(data.get("remove")),
                                    confirmed=self._ok(conv))
        return JSONResponse({"id": mid.hex()})

    async def delete(self, request: Request) -> Response:
        conv = self._sendable(request)
        target = self._msg(conv, await self._body(request), "message")
        if target is None:
            raise ValidationError("message is required")
        mid = await messaging.delete(self.dev, conv, target, self.live.clock(),
                                     confirmed=self._ok(conv))
        return JSONResponse({"id": mid.hex()})

    async def read(self, request: Request) -> Response:
        """The person looked at ``conv``: it is read here, and receipts go out."""
        conv = self._conv(request)
        overview.mark_seen(self.dev, conv)
        if fork_alerts(self.dev, conv):
            return JSONResponse({"receipts": 0})  # nothing goes out until it is seen
        try:
            n = await messaging.mark_read(self.dev, conv, self.live.clock())
        except safety.KeyChangeUnconfirmed:
            n = 0  # reading never confirms a key change; no receipt goes out
        return JSONResponse({"receipts": n})

    async def confirm_keys(self, request: Request) -> Response:
        """The person saw the key-change banner for these accounts and chose to go on."""
        conv = self._conv(request)
        accounts = (await self._body(request)).get("accounts")
        if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
            raise ValidationError("accounts must be a list of strings")
        self.confirmed.setdefault(conv["conv_id"], set()).update(accounts)
        return JSONResponse({"confirmed": sorted(self._ok(conv))})

    async def upload(self, request: Request) -> Response:
        conv = self._sendable(request)
        name = unquote(request.headers.get("x-file-name", ""))
        if not name:
            raise ValidationError("x-file-name is required")
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_UPLOAD:
                raise ValidationError("the file is larger than the web app takes")
        media = request.headers.get("content-type", "application/octet-stream")
        mid = await messaging.send_file(self.dev, conv, bytes(data), name, media,
                                        self.live.clock(), confirmed=self._ok(conv))
        return JSONResponse({"id": mid.hex()})

    async def alerts_seen(self, request: Request) -> Response:
        """The person read these alerts (a fork alert's banner: and chose to go on)."""
        ids = (await self._body(request)).get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise ValidationError("ids must be a list of alert numbers")
        return JSONResponse({"seen": alerts.mark_seen(self.dev.store, ids)})

    async def verify(self, request: Request) -> Response:
        account = request.path_params["account"]
        await self._safety(account)
        return JSONResponse({"digits": safety.grouped(safety.mark_verified(self.dev, account))})

    async def accept(self, request: Request) -> Response:
        conv = self._request(request)
        n = await message_requests.accept(self.dev, conv, self.live.clock())
        return JSONResponse({"id": conv["conv_id"], "applied": n})

    async def block(self, request: Request) -> Response:
        conv = self._request(request)
        return JSONResponse({"blocked": await message_requests.block(
            self.dev, conv, self.live.clock())})

    async def report(self, request: Request) -> Response:
        """Report (unread, as the provider recorded it) and block the request's sender."""
        conv = self._request(request)
        return JSONResponse({"blocked": await message_requests.report(
            self.dev, conv, self.live.clock())})

    async def cancel_consent(self, request: Request) -> Response:
        """Withdraw a pending consent request sent for the account (MIMI 5.7)."""
        data = await self._body(request)
        target = self._text(data, "target")
        room = self._text(data, "room", empty=True)
        await message_requests.cancel_consent(self.dev, target, room)
        return JSONResponse({"cancelled": target})

    def _request(self, request: Request) -> dict[str, Any]:
        conv = invites.find(self.dev, request.path_params["conv"]) or \
            self.dev.store.conversation(request.path_params["conv"])
        if not consent.is_pending(conv):
            raise NotFound("no pending message request with that id")
        return conv
