"""Onboarding from the app (issue 20): a profile that does not exist yet is created
and registered at a provider, or restored from a backup, from the first page.

Each step drives the client library as the CLI does: ``accord init`` (the passphrase
judged by ``accord.client.passphrase``; a very weak one only when the person insists),
``accord register`` (``Device.register``) and ``accord backup restore`` (download
with the recovery key, read, show what restoring does, then ``backup.restore``). A
restore makes this profile a new device of the account and REMOVES the backed-up
device, so it runs only with that device's id sent back from the plan the page showed.

The passphrase reaches this process once, in the request that creates the profile;
it is never stored or logged (only its Argon2id key opens the profile).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from accord.client import backup, linking
from accord.client import passphrase as strength
from accord.client.device import Device
from accord.client.store import KdfParams
from accord.errors import Conflict, ValidationError
from accord.web.bodies import json_object
from accord.web.live import Live

MAX_FIELD = 4096


async def _fields(request: Request, *names: str, optional: tuple[str, ...] = ()
                  ) -> dict[str, Any]:
    data = await json_object(request)
    for name in names:
        value = data.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_FIELD:
            raise ValidationError(f"{name} is required")
    for name in optional:
        if name in data and not isinstance(data[name], str | bool):
            raise ValidationError(f"{name} is not a string")
    return data


class SetupApi:
    """The onboarding views of one ``accord web`` process and its profile folder."""

    def __init__(self, live: Live, folder: Path, kdf: KdfParams | None = None) -> None:
        self.live = live
        self.folder = folder
        self.kdf = kdf

    def state(self) -> str:
        """``new`` (no profile), ``unregistered`` (a profile, no account) or ``ready``."""
        if self.live.ready:
            return "ready"
        return "new" if self.live._dev is None else "unregistered"

    def _not_ready(self) -> None:
        if self.live.ready:
            raise Conflict("this profile is set up already")

    async def status(self, request: Request) -> Response:
        return JSONResponse({"state": self.state()})

    async def judge(self, request: Request) -> Response:
        """Strength guidance while the person types (the CLI prints the same)."""
        self._not_ready()
        verdict = strength.judge((await _fields(request, "passphrase"))["passphrase"])
        return JSONResponse({"score": verdict.score, "acceptable": verdict.acceptable,
                             "hint": verdict.hint, "offline_guessing": verdict.offline_guessing})

    def _new_profile(self, data: dict[str, Any]) -> Device:
        """``accord init``: refused for a very weak passphrase unless ``weak_ok``."""
        words = data.get("passphrase")
        if not isinstance(words, str) or not words:
            raise ValidationError("choose a passphrase for this profile")
        if not strength.judge(words).acceptable and data.get("weak_ok") is not True:
            raise ValidationError("this passphrase is very weak; choose another, or say "
                                  "you keep it anyway", "passphrase strength")
        if self.folder.is_dir() and any(self.folder.iterdir()):
            raise Conflict("a profile exists in this folder already")
        return Device.init(self.folder, words, kdf=self.kdf)

    async def _with_profile(self, data: dict[str, Any], step: Any) -> Response:
        """Run ``step(dev)`` on the existing unregistered profile, or on a new one.
        A new profile whose step failed before it had an account is removed again, so
        the person can try other details; one that has an account is kept and served."""
        self._not_ready()
        if self.live._dev is not None:
            async with self.live.turn():
                out = await step(self.live.dev)
            self.live.start()
            return JSONResponse(out)
        dev = self._new_profile(data)
        try:
            out = await step(dev)
        except BaseException:
            if dev.registered:
                self.live.attach(dev)
            else:
                dev.close()
                _remove_profile(self.folder)
            raise
        self.live.attach(dev)
        return JSONResponse(out)

    async def create(self, request: Request) -> Response:
        """``accord init`` then ``accord register ACCOUNT --server URL``."""
        data = await _fields(request, "account", "server", optional=("passphrase", "weak_ok"))

        async def register(dev: Device) -> dict[str, Any]:
            ident = await dev.register(data["account"], data["server"].strip(),
                                       self.live.clock())
            return {"account": ident.account, "device": ident.device_id}

        return await self._with_profile(data, register)

    async def join(self, request: Request) -> Response:
        """``accord devices join CODE --server URL``: this profile answers the code an
        existing device of the account shows, and waits for that device to certify
        it (``join_finish``). The fingerprint is shown so the person can compare it."""
        data = await _fields(request, "code", "server", optional=("passphrase", "weak_ok"))

        async def answer(dev: Device) -> dict[str, Any]:
            account = await linking.join(dev, data["code"], data["server"].strip())
            return {"account": account,
                    "fingerprint": linking.key_fingerprint(dev.signature_public_key)}

        return await self._with_profile(data, answer)

    async def join_finish(self, request: Request) -> Response:
        """Once the existing device certified this one: the account is this profile's
        (``linked``), or still ``waiting``. The page polls, a bounded number of times."""
        self._not_ready()
        async with self.live.turn():
            ident = await self.live.dev.complete_link(self.live.clock())
            if ident is not None:
                await self.live.dev.sync(self.live.clock())
        if ident is None:
            return JSONResponse({"state": "waiting"})
        self.live.start()
        return JSONResponse({"state": "linked", "account": ident.account,
                             "device": ident.device_id})

    async def restore_plan(self, request: Request) -> Response:
        """What restoring this backup does, before anything changes."""
        self._not_ready()
        data = await _fields(request, "server", "recovery_key")
        doc = await self._backup(data)
        return JSONResponse({"account": doc["account"], "device": doc["device_id"],
                             "conversations": len(doc.get("conversations", []))})

    async def restore(self, request: Request) -> Response:
        """``accord backup restore --server URL``: only with the plan's device id back."""
        data = await _fields(request, "server", "recovery_key", "confirm",
                             optional=("passphrase", "weak_ok"))
        doc = await self._backup(data)
        if data["confirm"] != doc["device_id"]:
            raise ValidationError("restoring removes the backed-up device: confirm it by "
                                  "its id", "confirmation")

        async def restore(dev: Device) -> dict[str, Any]:
            added = await backup.restore(dev, doc, data["recovery_key"].strip(),
                                         self.live.clock(), reseal=True)
            return {"account": doc["account"], "messages": added}

        return await self._with_profile(data, restore)

    async def _backup(self, data: dict[str, Any]) -> dict[str, Any]:
        key = data["recovery_key"].strip()
        return backup.read(await backup.download(data["server"].strip(), key), key)


def _remove_profile(folder: Path) -> None:
    """Undo a ``Device.init`` whose registration or restore failed: the person may
    try again with other details (the store held no account yet)."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()
