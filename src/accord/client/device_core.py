"""The device core: one profile, its keys, its provider session.

A :class:`DeviceCore` owns one profile folder (``accord.client.store``), one
MLS engine (``accord.client.mls_session``) and, when online, one provider
session (``accord.client.api``). Its signature private key exists only in
the encrypted profile. It is the bottom of the client: the feature modules
(``conversations``, ``messaging``, ``inbox``, ...) take a ``DeviceCore`` and
never import ``accord.client.device``, the facade that composes them.

The seams a unit test replaces: time is always an argument (``now``, ms
since the Unix epoch; nothing here reads a clock); the provider is made by
the ``provider`` factory (``ProviderApi`` by default; a fake in tests);
randomness comes from ``random_bytes``; catching up with the provider
(``catch_up``) is the facade's, through ``inbox``.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client import alerts
from accord.client.api import DeviceRemoved, ProviderApi
from accord.client.mls_session import (
    CLASSIC_SUITE,
    OFFERED_SUITES,
    MlsEngine,
    identity_of,
)
from accord.client.profile_lock import DEFAULT_WAIT_S, WriterLock
from accord.client.store import KdfParams, ProfileStore
from accord.content import first_contact as fc
from accord.errors import AccordError, AuthError, CryptoError, NotFound, ValidationError
from accord.private_files import private_folder
from accord.wire import messages as m
from accord.wire import signing
from accord.wire.accounts import domain_of

KP_LOW_WATER = 5
KP_BATCH = 10
LAST_RESORT_KEPT = 2  # the current last-resort private key and the one before
SESSION_KEY = "session"  # the provider session token, reused by the next command (issue 19)
SESSION_MARGIN_MS = 60_000  # a saved session with less left (or clock skew) is not reused
FIRST_CONTACT_KEY = "first_contact:key"  # issue 18: published in every KeyPackage

ProviderFactory = Callable[[str], ProviderApi]  # base URL -> provider session


@dataclass(frozen=True, slots=True)
class Identity:
    account: str
    device_id: str
    server: str

    @property
    def domain(self) -> str:
        return domain_of(self.account)

    @property
    def mls_identity(self) -> bytes:
        return identity_of(self.account, self.device_id)


@dataclass(frozen=True, slots=True)
class Settings:
    """How often a device commits an update of its own leaf (T09); whether it
    offers the post-quantum suite (T10, on by default)."""

    update_every_messages: int = 50
    update_every_ms: int = 7 * 86_400_000
    disappearing_default_s: int = 0
    post_quantum: int = 1
    # How often dead leaves are checked against the directory (``device_replace``).
    device_check_ms: int = 10 * 60_000
    # Whether texts received are reported delivered to their senders (``delivery``,
    # issue 22; draft-mahy-mimi-message-status 6: a local preference).
    delivery_reports: int = 1

    @property
    def suites(self) -> tuple[int, ...]:
        """The cipher suites this device offers KeyPackages in, most preferred first."""
        return OFFERED_SUITES if self.post_quantum else (CLASSIC_SUITE,)


class DeviceCore(abc.ABC):
    """One open profile. The process holds the profile's writer lock
    (``profile_lock``) from ``init``/``open`` to ``close``, so two processes never
    encrypt with the same MLS state (one sender generation used twice)."""

    def __init__(self, store: ProfileStore, engine: MlsEngine | None = None,
                 lock: WriterLock | None = None, *, provider: ProviderFactory = ProviderApi,
                 random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        self.store = store
        if engine is None:  # the RFC 9420 engine: loaded only when no other is given
            from accord.client.mls_rfc import default_engine

            engine = default_engine()
        self.engine = engine
        self._provider = provider
        self.random_bytes = random_bytes
        self._api: ProviderApi | None = None
        # Seconds to wait between an authenticated sync and the hidden-sender post
        # that follows it (the retry after an epoch conflict); None: no wait. The
        # CLI sets a random one (docs/PRIVACY.md, "Hidden senders", issue 18).
        self.post_jitter: Callable[[], float] | None = None
        self._lock = lock
        self._lock_wait = DEFAULT_WAIT_S
        self._writers: asyncio.Lock | None = None

    # -- profile ---------------------------------------------------------------

    @classmethod
    def init(cls, folder: Path, passphrase: str, *, engine: MlsEngine | None = None,
             kdf: KdfParams | None = None, lock_wait: float = DEFAULT_WAIT_S,
             on_wait: Callable[[str], None] | None = None,
             provider: ProviderFactory = ProviderApi) -> Self:
        """Create a profile with a fresh device signature key (suite 0x0001, Ed25519)."""
        lock = _locked(private_folder(folder), lock_wait, on_wait)
        try:
            dev = cls(ProfileStore.create(folder, passphrase, kdf), engine, lock,
                      provider=provider)
        except BaseException:
            lock.release()
            raise
        dev._lock_wait = lock_wait
        priv, pub = dev.engine.signature_keypair()
        with dev.store.transaction():
            dev.store.put("sig_priv", priv)
            dev.store.put("sig_pub", pub)
        return dev

    @classmethod
    def open(cls, folder: Path, passphrase: str, *, engine: MlsEngine | None = None,
             lock_wait: float = DEFAULT_WAIT_S,
             on_wait: Callable[[str], None] | None = None,
             provider: ProviderFactory = ProviderApi) -> Self:
        return cls._open_locked(folder, lambda store: store.unlock(passphrase), engine,
                                lock_wait, on_wait, provider)

    @classmethod
    def _open_locked(cls, folder: Path, unlock: Callable[[ProfileStore], None],
                     engine: MlsEngine | None, lock_wait: float,
                     on_wait: Callable[[str], None] | None,
                     provider: ProviderFactory) -> Self:
        store = ProfileStore.load(folder)  # NotFound before any lock file is made
        lock = _locked(folder, lock_wait, on_wait)
        try:
            unlock(store)  # migrations write: under the lock
        except BaseException:
            lock.release()
            raise
        dev = cls(store, engine, lock, provider=provider)
        dev._lock_wait = lock_wait
        return dev

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Hold the writer lock (taken again if suspended) and this process's turn
        for the duration: for work done while the lock is suspended (``listen``)."""
        if self._writers is None:
            self._writers = asyncio.Lock()
        async with self._writers:
            if self._lock is None or self._lock.held:
                yield
                return
            await self._lock.acquire_async(self._lock_wait)
            try:
                yield
            finally:
                self._lock.release()

    def suspend_lock(self) -> None:
        """Let other commands use the profile until the next ``writing()``."""
        if self._lock is not None:
            self._lock.release()

    @classmethod
    def open_with_key(cls, folder: Path, key: bytes, *, engine: MlsEngine | None = None,
                      lock_wait: float = DEFAULT_WAIT_S,
                      on_wait: Callable[[str], None] | None = None,
                      provider: ProviderFactory = ProviderApi) -> Self:
        """Open with the derived database key (from ``accord agent``), no Argon2id."""
        return cls._open_locked(folder, lambda store: store.unlock_key(key), engine,
                                lock_wait, on_wait, provider)

    @property
    def signature_public_key(self) -> bytes:
        pub = self.store.get("sig_pub")
        if pub is None:
            raise NotFound("this profile has no device key")
        return pub

    def sign(self, data: bytes) -> bytes:
        priv = self.store.get("sig_priv")
        if priv is None:
            raise NotFound("this profile has no device key")
        return Ed25519PrivateKey.from_private_bytes(priv).sign(data)

    @property
    def identity(self) -> Identity:
        raw = self.store.get_json("identity")
        if raw is None:
            raise AuthError("this device is not registered; run `accord register` first")
        return Identity(raw["account"], raw["device_id"], raw["server"])

    @property
    def registered(self) -> bool:
        return self.store.get_json("identity") is not None

    @property
    def settings(self) -> Settings:
        return Settings(**self.store.get_json("settings", {}))

    def set_settings(self, **changes: int) -> None:
        current = self.store.get_json("settings", {})
        current.update(changes)
        Settings(**current)  # unknown names fail here, before anything is saved
        self.store.put_json("settings", current)

    def close(self) -> None:
        self.store.lock()
        if self._lock is not None:
            self._lock.release()

    # -- provider session ------------------------------------------------------------

    @property
    def api(self) -> ProviderApi:
        if self._api is None:
            raise AuthError("not connected; call connect() first")
        return self._api

    def provider_session(self, url: str) -> ProviderApi:
        """A session of its own with the provider at ``url``, made like this device's
        (the ``provider`` factory): the backed-up device's at a restore (``backup``)."""
        return self._provider(url)

    @property
    def transport(self) -> Any:
        """The HTTP transport of this device's provider session, which its key
        transparency requests use too (``device_kt``); None: the network."""
        return self._api.transport if self._api is not None else None

    async def connect(self, server: str | None = None, *, lazy: bool = False,
                      now: int | None = None) -> ProviderApi:
        """Open the provider session (and log in when registered); ``lazy`` logs in
        only when a request first needs the session (hidden-sender posts need none).
        Given ``now``, a session an earlier command saved in the (encrypted) profile
        is used while it has ``SESSION_MARGIN_MS`` left: no login round trips."""
        if self._api is None:
            url = server or self.identity.server
            self._api = self._provider(url)
        if self.registered:
            ident = self.identity
            if self.store.get_json("device_removed"):
                # Known removed (a device id never comes back): nothing goes out, not
                # even a hidden-sender post that needs no login (issue 19).
                raise DeviceRemoved(DeviceRemoved.MESSAGE)
            saved = self._saved_session(now)
            if saved is not None:
                self._api.resume(saved["token"], saved["expires_at"], self._login)
            elif lazy:
                self._api.defer_login(ident.domain, ident.device_id, self.sign)
            else:
                await self._login()
        return self._api

    async def _login(self) -> None:
        ident = self.identity
        try:
            await self.api.login(ident.domain, ident.device_id, self.sign)
        except DeviceRemoved:
            self.store.put_json("device_removed", True)
            raise

    def _saved_session(self, now: int | None) -> dict[str, Any] | None:
        saved = self.store.get_json(SESSION_KEY)
        if now is None or saved is None:
            return None
        ident = self.identity
        if (saved.get("server"), saved.get("device_id")) != (self._api_url(), ident.device_id):
            return None
        if int(saved.get("expires_at", 0)) - SESSION_MARGIN_MS <= now:
            return None
        return dict(saved)

    def _api_url(self) -> str:
        return self._api.base_url if self._api is not None else ""

    async def disconnect(self) -> None:
        if self._api is not None:
            self._save_session()
            await self._api.close()
            self._api = None

    def _save_session(self) -> None:
        """Keep the session for the next command (the token lives only in the profile)."""
        api = self._api
        if api is None or api.token is None or not self.registered or self.store.locked:
            return
        saved = self.store.get_json(SESSION_KEY)
        if saved is not None and saved.get("token") == api.token:
            return
        self.store.put_json(SESSION_KEY, {"server": api.base_url,
                                          "device_id": self.identity.device_id,
                                          "token": api.token, "expires_at": api.expires_at})

    async def register(self, account: str, server: str, now: int) -> Identity:
        account = account.strip().lower()
        if "@" not in account:
            raise ValidationError("an account is user@domain")
        if self.registered:
            raise AccordError(f"this profile is already {self.identity.account}")
        api = await self.connect(server)
        resp = await api.register(account, self.signature_public_key, self.sign)
        self.store.put_json("identity", {"account": resp.account, "device_id": resp.device_id,
                                         "server": server})
        await self.connect()
        await self.top_up_key_packages(now)
        return self.identity

    # -- linking a new device (the new device's half; see ``linking``) -------------

    def link_request(self, account: str, server: str) -> str:
        """The code this (unregistered) device shows to an existing device of ``account``."""
        account = account.strip().lower()
        pub = self.signature_public_key
        possession = self.sign(signing.possession_input(account, pub))
        self.store.put_json("link_request", {"account": account, "server": server})
        return base64.urlsafe_b64encode(pub + possession).rstrip(b"=").decode()

    async def complete_link(self, now: int) -> Identity | None:
        """Once an existing device has certified us, become registered; None until then."""
        if self.registered:
            return self.identity
        req = self.store.get_json("link_request")
        if req is None:
            raise AuthError("no link request; run `accord devices request` first")
        api = await self.connect(req["server"])
        device_id = await api.find_device(req["account"], self.signature_public_key)
        if device_id is None:
            return None
        self.store.put_json("identity", {"account": req["account"],
                                         "device_id": device_id,
                                         "server": req["server"]})
        self.store.delete("link_request")
        await self.connect()
        await self.top_up_key_packages(now)
        return self.identity

    # -- key packages ----------------------------------------------------------------

    async def top_up_key_packages(self, now: int, *, low: int = KP_LOW_WATER,
                                  batch: int = KP_BATCH) -> int:
        """Upload fresh KeyPackages in each offered suite when fewer than ``low`` remain
        (RFC 9420 10: a KeyPackage is for one suite); the smallest count after.

        The status is also the provider's notice (issue 17, T14): a last-resort
        KeyPackage that was handed out is replaced by a new one (rotation), and
        claims the provider's limits answered with it raise an alert.
        """
        return min([await self._top_up(suite, now, low, batch)
                    for suite in self.settings.suites])

    async def _top_up(self, suite: int, now: int, low: int, batch: int) -> int:
        status = await self.api.key_package_count(suite)
        self._alert_withheld(status, suite, now)
        rotate = status.last_resort_used or not status.last_resort
        if status.count >= low and not rotate:
            return status.count
        ident = self.identity
        n = (batch if status.count < low else 0) + (1 if rotate else 0)
        exts = [(fc.REQUEST_KEY_EXTENSION, self.first_contact_key()[1])]  # issue 18
        bundles = [self.engine.key_package(ident.mls_identity, self._sig_priv(),
                                           self.signature_public_key, now, suite, exts)
                   for _ in range(n)]
        with self.store.transaction():
            for b in bundles:
                self.store.put("kp:" + b.ref.hex(), b.private)
            if rotate:
                self._keep_last_resort(suite, bundles[-1].ref)
        last = bundles.pop().public if rotate else None
        result = await self.api.upload_key_packages([b.public for b in bundles], last)
        return result.count

    def _alert_withheld(self, status: m.KeyPackageCount, suite: int, now: int) -> None:
        key = f"kp_withheld_seen:{suite}"
        seen = int(self.store.get_json(key, 0))
        if status.withheld > seen:
            alerts.raise_alert(self.store, "key_packages_withheld", now,
                               count=status.withheld)
        # A rotation starts the provider's count again from zero.
        self.store.put_json(key, 0 if status.last_resort_used else status.withheld)

    def _keep_last_resort(self, suite: int, ref: bytes) -> None:
        """A last-resort KeyPackage may be used by several Welcomes (RFC 9420 16.8): its
        private key stays until the one after next replaces it (Welcomes in flight)."""
        kept = self.store.get_json("kp_last_resort", {})
        refs = [*kept.get(str(suite), []), ref.hex()]
        for old in refs[:-LAST_RESORT_KEPT]:
            self.store.delete("kp:" + old)
        self.store.put_json("kp_last_resort", dict(kept, **{str(suite): refs[-LAST_RESORT_KEPT:]}))

    def is_last_resort(self, ref: bytes) -> bool:
        kept = self.store.get_json("kp_last_resort", {})
        return any(ref.hex() in refs for refs in kept.values())

    def key_package_privates(self, refs: list[bytes]) -> dict[bytes, bytes]:
        out = {}
        for ref in refs:
            priv = self.store.get("kp:" + ref.hex())
            if priv is not None:
                out[ref] = priv
        return out

    def _sig_priv(self) -> bytes:
        priv = self.store.get("sig_priv")
        if priv is None:
            raise NotFound("this profile has no device key")
        return priv

    def first_contact_key(self) -> tuple[bytes, bytes]:
        """This device's first-contact key pair ``(private, public)`` (issue 18), made on
        first use and published in every KeyPackage (``accord.client.first_contact``)."""
        kept = self.store.get_json(FIRST_CONTACT_KEY)
        if kept is None:
            priv, pub = fc.new_request_key()
            kept = {"priv": priv.hex(), "pub": pub.hex()}
            self.store.put_json(FIRST_CONTACT_KEY, kept)
        return bytes.fromhex(kept["priv"]), bytes.fromhex(kept["pub"])

    # -- sync --------------------------------------------------------------------------

    @property
    def cursor(self) -> int:
        return int(self.store.get_json("cursor", 0))

    @abc.abstractmethod
    async def catch_up(self, now: int) -> int:
        """Fetch and apply what the provider queued for this device, without the
        housekeeping duties; how many items were applied. A feature calls it when a
        commit lost the race for an epoch. The facade (``accord.client.device``)
        implements it with ``inbox``, which the core does not import."""


def _locked(folder: Path, wait_s: float, on_wait: Callable[[str], None] | None) -> WriterLock:
    lock = WriterLock(folder, on_wait=on_wait)
    lock.acquire(wait_s)
    return lock


def check_code_key(code: str) -> tuple[bytes, bytes]:
    """``(signature_key, possession)`` from a link code; CryptoError when malformed."""
    try:
        raw = base64.urlsafe_b64decode(code.strip() + "=" * (-len(code.strip()) % 4))
    except ValueError:
        raise CryptoError("not a link code") from None
    if len(raw) != 96:
        raise CryptoError("not a link code")
    return raw[:32], raw[32:]
