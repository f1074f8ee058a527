"""Accounts and devices: registration, challenge-response login, sessions, device changes.

No password exists anywhere: a device proves itself by signing a fresh server
nonce with its MLS signature key (Ed25519). Only a SHA-256 of each session
token is stored, so a copy of the database cannot be replayed as sessions.
"""

from __future__ import annotations

import hashlib
import secrets

from accord.errors import AuthError, CryptoError, NotFound, ValidationError
from accord.federation import follower
from accord.server import transparency
from accord.server.state import Provider
from accord.storage import DeviceRecord
from accord.transparency import Succession
from accord.wire import b64e, signing
from accord.wire import messages as m
from accord.wire.accounts import domain_of


def new_device_id() -> str:
    return b64e(secrets.token_bytes(16))  # 22 characters, DEVICE_ID_RE


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _local_account(p: Provider, account: str) -> str:
    if domain_of(account) != p.config.domain:
        raise ValidationError(f"this provider serves @{p.config.domain} accounts only")
    return account


async def register(p: Provider, req: m.RegisterRequest, now: int) -> m.RegisterResponse:
    account = _local_account(p, req.account)
    signing.verify(
        req.signature_key, req.signature, signing.register_input(account, req.signature_key)
    )
    device = DeviceRecord(new_device_id(), account, req.signature_key, now)
    await transparency.create_account(p, device, now)  # logged (issue 7)
    return m.RegisterResponse(account=account, device_id=device.device_id)


async def challenge(p: Provider, req: m.ChallengeRequest, now: int) -> m.ChallengeResponse:
    """A login nonce; an unknown device id gets one too, of the same shape, that no login
    will accept (issue 17, T14: a challenge says nothing about which devices exist)."""
    nonce = secrets.token_bytes(32)
    expires = now + p.config.challenge_ttl_ms
    await p.store.put_challenge(nonce, req.device_id, expires)
    return m.ChallengeResponse(nonce=nonce, expires_at=expires)


LOGIN_REFUSED = "unknown, used or expired challenge, or a bad signature"


async def login(p: Provider, req: m.LoginRequest, now: int) -> m.LoginResponse:
    # One answer for every refusal: an unknown device, a stale nonce and a bad
    # signature look alike to a prober (issue 17, T14).
    try:
        device_id, expires = await p.store.take_challenge(req.nonce)
        if device_id != req.device_id or now > expires:
            raise AuthError(LOGIN_REFUSED)
        device = await p.store.get_device(device_id)
        signing.verify(
            device.signature_key,
            req.signature,
            signing.login_input(p.config.domain, device_id, req.nonce),
        )
    except (NotFound, CryptoError) as exc:
        raise AuthError(LOGIN_REFUSED) from exc
    token = secrets.token_urlsafe(32)
    session_expires = now + p.config.session_ttl_ms
    await p.store.put_session(token_hash(token), device_id, session_expires)
    return m.LoginResponse(token=token, expires_at=session_expires)


async def authenticate(p: Provider, token: str, now: int) -> DeviceRecord:
    """The device behind a session token, or :class:`AuthError`."""
    if not token or len(token) > 128:
        raise AuthError("missing or malformed session token")
    try:
        device_id, expires = await p.store.get_session(token_hash(token))
        if now > expires:
            raise AuthError("session expired; log in again")
        return await p.store.get_device(device_id)
    except NotFound as exc:
        raise AuthError("unknown session; log in again") from exc


async def add_device(
    p: Provider, by: DeviceRecord, req: m.AddDeviceRequest, now: int
) -> m.AddDeviceResponse:
    """Add a device to ``by``'s account: ``by`` certifies the key, the key proves possession."""
    signing.verify(
        by.signature_key,
        req.certification,
        signing.add_device_input(by.account, req.signature_key),
    )
    signing.verify(
        req.signature_key,
        req.possession,
        signing.possession_input(by.account, req.signature_key),
    )
    succession = None
    if req.succession is not None:  # a restore: ``by`` hands its place to the new key
        signing.verify(by.signature_key, req.succession,
                       signing.succession_input(by.account, by.signature_key,
                                                req.signature_key))
        succession = Succession(by.signature_key, req.signature_key, req.succession)
    device = DeviceRecord(new_device_id(), by.account, req.signature_key, now)
    await transparency.add_device(p, device, now, succession)  # logged (issue 7)
    return m.AddDeviceResponse(device_id=device.device_id)


async def remove_device(p: Provider, by: DeviceRecord, device_id: str) -> None:
    try:
        target = await p.store.get_device(device_id)
    except NotFound:
        target = None
    # Another account's device looks exactly like a missing one (T08: no probing).
    if target is None or target.account != by.account:
        raise NotFound("no such device on your account")
    await transparency.remove_device(p, target, p.clock())  # logged (issue 7)


async def find_device(p: Provider, req: m.FindDeviceRequest) -> m.FoundDevice:
    """The device id of a key on an account, for the new device of a link (no session yet).

    It answers only someone who already knows a key of the account (public
    through key transparency); a missing account and a missing key are the
    same NotFound (issue 17, T14).
    """
    try:
        records = await p.store.list_devices(_local_account(p, req.account))
    except NotFound:
        records = []
    for d in records:
        if d.signature_key == req.signature_key:
            return m.FoundDevice(device_id=d.device_id)
    raise NotFound("no such device")


async def list_devices(p: Provider, account: str) -> m.DeviceList:
    if domain_of(account) != p.config.domain:  # a running provider federates
        return await follower.list_devices(p.federation, account, p.clock())
    records = await p.store.list_devices(_local_account(p, account))
    return m.DeviceList(
        account=account,
        devices=[m.DeviceInfo(d.device_id, d.signature_key, d.created_at) for d in records],
    )
