"""The settings panel's views: this account's devices (list, link with a code and its
QR code, remove), cover traffic and the default disappearing-message timer.

Linking follows ``accord devices link``: the code is shown once, the new device
answers through the provider's rendezvous slot, the person compares the key
fingerprint shown on both screens and only then certifies (``accord.client.linking``).
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import segno
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from accord.client import account_data, backup, cover, housekeeping, linking
from accord.errors import NotFound, ValidationError
from accord.privacy.backup_format import new_recovery_key
from accord.web.bodies import json_object
from accord.web.live import Live

LINK_TTL_MS = 10 * 60_000
# Browser notifications (opt-in): whether to show them, and whether they may carry
# the message text (off by default: a notification is visible on the lock screen).
NOTIFY_KEY = "web_notifications"
NOTIFY_DEFAULT = {"enabled": False, "text": False}


def notify_setting(dev: Any) -> dict[str, bool]:
    return {**NOTIFY_DEFAULT, **dev.store.get_json(NOTIFY_KEY, {})}


class SettingsApi:
    def __init__(self, live: Live) -> None:
        self.live = live
        self.slot: linking.LinkSlot | None = None
        self.new: linking.NewDevice | None = None

    @property
    def dev(self) -> Any:
        return self.live.dev

    async def settings(self, request: Request) -> Response:
        ident = self.dev.identity
        listed = await self.dev.api.list_devices(ident.account)
        return JSONResponse({
            "devices": [{"id": d.device_id, "this": d.device_id == ident.device_id,
                         "fingerprint": linking.key_fingerprint(d.signature_key)}
                        for d in listed.devices],
            "cover": cover.setting(self.dev)["enabled"],
            "timer": self.dev.settings.disappearing_default_s,
            "notify": notify_setting(self.dev)})

    async def save(self, request: Request) -> Response:
        data = await json_object(request)
        if isinstance(data.get("cover"), bool):
            cover.configure(self.dev, data["cover"])
        notify = data.get("notify")
        if notify is not None:
            if not isinstance(notify, dict) or not all(
                    isinstance(notify.get(k), bool) for k in NOTIFY_DEFAULT):
                raise ValidationError("notify is {enabled: bool, text: bool}")
            self.dev.store.put_json(NOTIFY_KEY, {k: notify[k] for k in NOTIFY_DEFAULT})
        timer = data.get("timer")
        if timer is not None:
            if not isinstance(timer, int) or not 0 <= timer <= 366 * 86400:
                raise ValidationError("timer must be 0 to 366 days in seconds")
            self.dev.set_settings(disappearing_default_s=timer)
        return await self.settings(request)

    async def remove_device(self, request: Request) -> Response:
        device_id = request.path_params["device"]
        if device_id == self.dev.identity.device_id:
            raise ValidationError("this is the device you are using")
        n = await housekeeping.remove_device(self.dev, device_id, self.live.clock())
        return JSONResponse({"conversations": n})

    async def link_open(self, request: Request) -> Response:
        if self.slot is not None:
            await linking.close_slot(self.dev, self.slot)
        self.slot = await linking.open_slot(self.dev, self.live.clock(), ttl_ms=LINK_TTL_MS)
        self.new = None
        return JSONResponse({"code": self.slot.code})

    async def link_state(self, request: Request) -> Response:
        """Poll the slot once: the new device's fingerprint once it answered."""
        if self.slot is None:
            raise NotFound("no device link in progress")
        if self.new is None:
            self.new = await linking.poll_answer(self.dev, self.slot)
        return JSONResponse({"code": self.slot.code,
                             "fingerprint": self.new.fingerprint if self.new else None})

    async def link_qr(self, request: Request) -> Response:
        if self.slot is None:
            raise NotFound("no device link in progress")
        out = io.BytesIO()
        segno.make(self.slot.code, error="m").save(out, kind="png", scale=4)
        return Response(out.getvalue(), media_type="image/png")

    async def link_certify(self, request: Request) -> Response:
        """The person compared the fingerprints and certifies the new device."""
        if self.slot is None or self.new is None:
            raise NotFound("no new device has answered the code yet")
        slot, new = self.slot, self.new
        try:
            device_id = await linking.certify(self.dev, slot, new)
        finally:
            await linking.close_slot(self.dev, slot)
            self.slot = self.new = None
        missing = await linking.add_to_conversations(self.dev, device_id, self.live.clock())
        return JSONResponse({"device": device_id, "missing": missing})

    async def backup_create(self, request: Request) -> Response:
        """A backup at the provider under a new recovery key, shown this once (T17)."""
        key = new_recovery_key(os.urandom)
        sealed = backup.create(self.dev, self.live.clock(), key)
        await backup.upload(self.dev, sealed, key)
        return JSONResponse({"recovery_key": key, "size": len(sealed)})

    async def backup_restore(self, request: Request) -> Response:
        """``accord backup restore`` into this registered profile: the account's own
        backup at its provider, history only (no device is replaced)."""
        key = (await json_object(request)).get("recovery_key")
        if not isinstance(key, str) or not key.strip():
            raise ValidationError("enter the recovery key")
        key = key.strip()
        doc = backup.read(await backup.download(self.dev.identity.server, key), key)
        if doc["account"] != self.dev.identity.account:
            raise ValidationError("this backup is of another account")
        added = await backup.restore(self.dev, doc, key, self.live.clock(), reseal=True)
        return JSONResponse({"messages": added})

    async def export(self, request: Request) -> Response:
        doc = await account_data.export(self.dev)
        return Response(json.dumps(doc, indent=2), media_type="application/octet-stream",
                        headers={"content-disposition":
                                 'attachment; filename="accord-account-export.json"'})

    async def delete_account(self, request: Request) -> Response:
        """Only with the account typed out again (the page asks for it)."""
        if (await json_object(request)).get("confirm") != self.dev.identity.account:
            raise ValidationError("type your account to confirm its deletion")
        result = await account_data.delete(self.dev)
        return JSONResponse({"erased": sum(e.rows for e in result.erased)})
