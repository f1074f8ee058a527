"""An in-memory provider for the client's unit tests: no process, no socket, no clock.

``FakeProvider`` answers the provider API (``accord.client.api.ProviderApi``) through
``httpx.MockTransport``, so the client's own request encoding and answer parsing run
as in production, and a test can make the provider lie (``fail`` / ``answer``).
It keeps what a provider keeps, in memory: accounts and device keys (checked like
the real one checks them: the register, login, certification and possession
signatures), KeyPackages, groups with their epoch, roster and posting key, each
device's queue, the hub's hash chain (T07), a key transparency log
(``accord.transparency.KeyDirectory``), backups and rendezvous slots.
Time is the test's: ``provider.now``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client.api import ProviderApi
from accord.client.device import Device
from accord.client.store import KdfParams
from accord.errors import AccordError, CryptoError
from accord.mls.codec import decode as mls_decode
from accord.mls.codec import encode as mls_encode
from accord.mls.structs.messages import MLSMessage
from accord.privacy.fork_chain import ZERO, chain_next
from accord.transparency import KeyDirectory, LookupProof, SignedTreeHead, Succession
from accord.wire import b64d, dumps, parse, signing
from accord.wire import federation as fw
from accord.wire import messages as m
from accord.wire import privacy as w
from accord.wire import rendezvous as rv
from accord.wire import transparency as wt
from accord.wire.accounts import domain_of
from accord.wire.binary import (
    QUEUE_MEDIA_TYPE,
    accepts,
    encode_queue_page,
    is_mls,
    post_from_binary,
)

CHEAP = KdfParams(time_cost=1, memory_kib=8 * 1024, parallelism=1)
NOW = 1_800_000_000_000
Handler = Callable[[httpx.Request], httpx.Response]


def error(status: int, code: str, message: str = "refused", **extra: Any) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(
        {"error": code, "message": message, **extra}).encode())


def ok(value: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=dumps(value),
                          headers={"content-type": "application/json"})


@dataclass
class Group:
    group_id: bytes
    epoch: int
    members: list[str]  # device ids
    posting_key: bytes
    link: bytes = ZERO


@dataclass
class DeviceRow:
    account: str
    device_id: str
    key: bytes
    created_at: int
    kps: dict[int, list[bytes]] = field(default_factory=dict)
    last_resort: dict[int, bytes] = field(default_factory=dict)
    last_resort_used: dict[int, bool] = field(default_factory=dict)
    queue: list[m.QueueItem] = field(default_factory=list)


class FakeProvider:
    def __init__(self, domain: str = "alpha.test") -> None:
        self.domain = domain
        self.url = f"http://{domain}"
        self.now = NOW
        self.devices: dict[str, DeviceRow] = {}
        self.tokens: dict[str, str] = {}
        self.nonces: set[bytes] = set()
        self.groups: dict[bytes, Group] = {}
        self.seq = 0
        # T14: account -> {group id: inviter}, the groups listed as message requests
        self.requests: dict[str, dict[bytes, str]] = {}
        self.first_contacts: dict[tuple[bytes, str], bytes] = {}  # (group, device) -> sealed
        self.blocks: dict[str, list[str]] = {}
        self.backups: dict[bytes, w.Backup] = {}  # fetch hash -> backup
        self.slots: dict[bytes, dict[str, Any]] = {}
        self.log_key = Ed25519PrivateKey.generate()
        self.log = KeyDirectory(domain, domain.encode() * 4)
        self.log_published: dict[str, int] = {}
        self.requests_seen: list[tuple[str, str]] = []
        self.exported: dict[str, Any] = {}
        # a test's override for one route: (method, path regex) -> handler
        self.overrides: list[tuple[str, re.Pattern[str], Handler]] = []

    # -- test controls ------------------------------------------------------------

    def answer(self, method: str, path: str, handler: Handler) -> None:
        """Answer ``method path`` (a regex) with ``handler`` from now on."""
        self.overrides.insert(0, (method, re.compile(path), handler))

    def fail(self, method: str, path: str, status: int, code: str, **extra: Any) -> None:
        self.answer(method, path, lambda _req: error(status, code, **extra))

    def clear(self) -> None:
        self.overrides.clear()

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def session(self, url: str) -> ProviderApi:
        """A provider session for ``url`` (the device's ``provider`` factory): this provider."""
        assert url.rstrip("/") == self.url, url
        return ProviderApi(url, transport=self.transport)

    async def device(self, folder: Path, account: str, *, pq: bool = False) -> Device:
        """A registered device of ``account`` on this provider, in a new profile
        (offering the classic suite only unless ``pq``: X-Wing is slow to test with)."""
        dev = Device.init(folder, "pw", kdf=CHEAP, provider=self.session)
        if not pq:
            dev.set_settings(post_quantum=0)
        await dev.register(account, self.url, self.now)
        return dev

    def row(self, dev: Device) -> DeviceRow:
        return self.devices[dev.identity.device_id]

    # -- the provider ---------------------------------------------------------------

    def handle(self, req: httpx.Request) -> httpx.Response:
        path = unquote(req.url.path)
        self.requests_seen.append((req.method, path))
        for method, pattern, handler in self.overrides:
            if method == req.method and pattern.fullmatch(path):
                return handler(req)
        for method, pattern, name in ROUTES:
            found = pattern.fullmatch(path)
            if method == req.method and found:
                try:
                    return getattr(self, name)(req, *found.groups())
                except AccordError as exc:
                    return error(400 if exc.code == "decode_error" else 422, exc.code, str(exc))
        return error(404, "not_found", f"no route {req.method} {path}")

    def _caller(self, req: httpx.Request) -> DeviceRow | None:
        auth = req.headers.get("authorization", "")
        device_id = self.tokens.get(auth.removeprefix("Bearer "))
        return None if device_id is None else self.devices.get(device_id)

    def _authed(self, req: httpx.Request) -> DeviceRow:
        row = self._caller(req)
        if row is None:
            raise _Refused
        return row

    def _publish(self, account: str, succession: Succession | None = None) -> None:
        keys = [d.key for d in self.devices.values() if d.account == account]
        self.log.publish(account, keys, self.now, succession)

    def _new_device(self, account: str, key: bytes) -> DeviceRow:
        device_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
        row = DeviceRow(account, device_id, key, self.now)
        self.devices[device_id] = row
        return row

    def enqueue(self, device_id: str, kind: str, body: bytes, *, group_id: bytes | None = None,
                epoch: int | None = None, sender: str | None = None,
                chain: tuple[int, bytes] | None = None) -> None:
        self.seq += 1
        self.devices[device_id].queue.append(m.QueueItem(
            seq=self.seq, msg_id=f"m{self.seq}", kind=kind, body=body, created_at=self.now,
            group_id=group_id, epoch=epoch, sender=sender,
            chain_seq=None if chain is None else chain[0],
            chain=None if chain is None else chain[1]))

    # accounts, sessions, devices
    def register(self, req: httpx.Request) -> httpx.Response:
        body = parse(m.RegisterRequest, req.content)
        if domain_of(body.account) != self.domain:
            return error(422, "validation_error", "not this provider's account")
        if any(d.account == body.account for d in self.devices.values()):
            return error(409, "conflict", "account taken")
        signing.verify(body.signature_key, body.signature,
                       signing.register_input(body.account, body.signature_key))
        row = self._new_device(body.account, body.signature_key)
        self._publish(body.account)
        return ok(m.RegisterResponse(body.account, row.device_id), 201)

    def challenge(self, req: httpx.Request) -> httpx.Response:
        nonce = secrets.token_bytes(32)
        self.nonces.add(nonce)
        return ok(m.ChallengeResponse(nonce, self.now + 60_000))

    def login(self, req: httpx.Request) -> httpx.Response:
        body = parse(m.LoginRequest, req.content)
        row = self.devices.get(body.device_id)
        if row is None or body.nonce not in self.nonces:
            return error(401, "auth_error", "unknown device or nonce")
        self.nonces.discard(body.nonce)
        try:
            signing.verify(row.key, body.signature,
                           signing.login_input(self.domain, row.device_id, body.nonce))
        except CryptoError:
            return error(401, "auth_error", "bad signature")
        token = secrets.token_urlsafe(16)
        self.tokens[token] = row.device_id
        return ok(m.LoginResponse(token, self.now + 3_600_000))

    def list_devices(self, req: httpx.Request, account: str) -> httpx.Response:
        self._authed(req)
        return ok(m.DeviceList(account, [m.DeviceInfo(d.device_id, d.key, d.created_at)
                                         for d in self.devices.values() if d.account == account]))

    def find_device(self, req: httpx.Request) -> httpx.Response:
        body = parse(m.FindDeviceRequest, req.content)
        for d in self.devices.values():
            if d.account == body.account and d.key == body.signature_key:
                return ok(m.FoundDevice(d.device_id))
        return error(404, "not_found", "no such device")

    def add_device(self, req: httpx.Request) -> httpx.Response:
        caller = self._authed(req)
        body = parse(m.AddDeviceRequest, req.content)
        signing.verify(caller.key, body.certification,
                       signing.add_device_input(caller.account, body.signature_key))
        signing.verify(body.signature_key, body.possession,
                       signing.possession_input(caller.account, body.signature_key))
        succession = None
        if body.succession is not None:
            signing.verify(caller.key, body.succession, signing.succession_input(
                caller.account, caller.key, body.signature_key))
            succession = Succession(caller.key, body.signature_key, body.succession)
        row = self._new_device(caller.account, body.signature_key)
        self._publish(caller.account, succession)
        return ok(m.AddDeviceResponse(row.device_id), 201)

    def remove_device(self, req: httpx.Request, device_id: str) -> httpx.Response:
        caller = self._authed(req)
        row = self.devices.get(device_id)
        if row is None or row.account != caller.account:
            return error(404, "not_found", "no such device")
        del self.devices[device_id]
        self.tokens = {t: d for t, d in self.tokens.items() if d != device_id}
        self._publish(caller.account)
        return httpx.Response(204)

    # key packages
    def kp_count(self, req: httpx.Request) -> httpx.Response:
        row = self._authed(req)
        suite = int(req.url.params.get("cipher_suite", "1"))
        return ok(m.KeyPackageCount(len(row.kps.get(suite, [])), suite in row.last_resort,
                                    row.last_resort_used.get(suite, False)))

    def kp_upload(self, req: httpx.Request) -> httpx.Response:
        row = self._authed(req)
        body = parse(m.UploadKeyPackagesRequest, req.content)
        suites = set()
        for kp in body.key_packages:
            suite = int(mls_decode(MLSMessage, kp).message.cipher_suite)
            row.kps.setdefault(suite, []).append(kp)
            suites.add(suite)
        if body.last_resort is not None:
            suite = int(mls_decode(MLSMessage, body.last_resort).message.cipher_suite)
            row.last_resort[suite] = body.last_resort
            row.last_resort_used[suite] = False
            suites.add(suite)
        suite = min(suites) if suites else 1
        return ok(m.KeyPackageCount(len(row.kps.get(suite, [])), suite in row.last_resort))

    def kp_claim(self, req: httpx.Request, account: str) -> httpx.Response:
        self._authed(req)
        suite = int(req.url.params.get("cipher_suite", "1"))
        out = []
        for d in self.devices.values():
            if d.account != account:
                continue
            if d.kps.get(suite):
                out.append(m.ClaimedKeyPackage(d.device_id, d.kps[suite].pop(0), False))
            elif suite in d.last_resort:
                d.last_resort_used[suite] = True
                out.append(m.ClaimedKeyPackage(d.device_id, d.last_resort[suite], True))
        return ok(m.ClaimResponse(account, out))

    # groups and delivery
    def create_group(self, req: httpx.Request) -> httpx.Response:
        caller = self._authed(req)
        body = parse(m.CreateGroupRequest, req.content)
        if body.group_id in self.groups:
            return error(409, "conflict", "group exists")
        self.groups[body.group_id] = Group(body.group_id, 0, [caller.device_id],
                                           body.posting_key)
        return ok(self._state(self.groups[body.group_id]), 201)

    def _state(self, g: Group) -> m.GroupState:
        return m.GroupState(g.group_id, self.domain, g.epoch, list(g.members))

    def _group(self, gid: str) -> Group:
        g = self.groups.get(b64d(gid))
        if g is None:
            raise _Missing
        return g

    def group(self, req: httpx.Request, gid: str) -> httpx.Response:
        self._authed(req)
        return ok(self._state(self._group(gid)))

    def commit(self, req: httpx.Request, gid: str) -> httpx.Response:
        caller = self._authed(req)
        g = self._group(gid)
        body = parse(m.CommitRequest, req.content)
        if caller.device_id not in g.members:
            return error(403, "auth_error", "not a member")
        if body.epoch != g.epoch:
            return error(409, "conflict", "epoch", current_epoch=g.epoch)
        g.link = chain_next(g.link if g.epoch else ZERO, g.epoch, body.commit)
        link = (g.epoch, g.link)
        sender = f"{caller.account}/{caller.device_id}"
        for d in g.members:
            if d != caller.device_id and d in self.devices:
                self.enqueue(d, "commit", body.commit, group_id=g.group_id, epoch=g.epoch,
                             sender=sender, chain=link)
        g.members = [d for d in g.members if d not in body.removed] + list(body.added)
        g.epoch += 1
        g.posting_key = body.posting_key
        for fc_ in body.first_contact:
            self.first_contacts[(g.group_id, fc_.device_id)] = fc_.sealed
        if body.welcome is not None:
            for d in body.added:
                if d in self.devices:
                    self.enqueue(d, "welcome", body.welcome, group_id=g.group_id,
                                 sender=sender, chain=link)
        return ok(m.CommitResponse(f"c{g.epoch}", g.epoch), 201)

    def propose(self, req: httpx.Request, gid: str) -> httpx.Response:
        caller = self._authed(req)
        g = self._group(gid)
        body = parse(m.ProposalRequest, req.content)
        if body.epoch != g.epoch:
            return error(409, "conflict", "epoch", current_epoch=g.epoch)
        for d in g.members:
            if d != caller.device_id:
                self.enqueue(d, "proposal", body.proposal, group_id=g.group_id, epoch=g.epoch,
                             sender=f"{caller.account}/{caller.device_id}")
        return ok(m.PostResponse("p"), 201)

    def post(self, req: httpx.Request, gid: str) -> httpx.Response:
        g = self._group(gid)
        body = (post_from_binary(req.headers, req.content)  # what the client sends
                if is_mls(req.headers.get("content-type")) else
                parse(m.ApplicationPost, req.content))
        if body.epoch != g.epoch:
            return error(409, "conflict", "epoch", current_epoch=g.epoch)
        signing.verify(g.posting_key, body.signature,
                       signing.post_input(g.group_id, body.epoch, body.nonce, body.ciphertext))
        for d in g.members:  # the hub cannot tell the sender: everyone gets it (T11)
            if d in self.devices:
                self.enqueue(d, "application", body.ciphertext, group_id=g.group_id,
                             epoch=g.epoch)
        return ok(m.PostResponse(f"a{self.seq}"), 201)

    def fetch(self, req: httpx.Request) -> httpx.Response:
        row = self._authed(req)
        after = int(req.url.params.get("after", "0"))
        limit = int(req.url.params.get("limit", "100"))
        items = [i for i in row.queue if i.seq > after][:limit]
        page = m.QueuePage(items, items[-1].seq if items else after)
        if accepts(req.headers.get("accept"), QUEUE_MEDIA_TYPE):  # what the client asks for
            return httpx.Response(200, content=encode_queue_page(page),
                                  headers={"content-type": QUEUE_MEDIA_TYPE})
        return ok(page)

    def ack(self, req: httpx.Request) -> httpx.Response:
        row = self._authed(req)
        up_to = parse(m.AckRequest, req.content).up_to
        before = len(row.queue)
        row.queue = [i for i in row.queue if i.seq > up_to]
        return ok(m.AckResponse(before - len(row.queue)))

    # requests and blocks (T14)
    def list_requests(self, req: httpx.Request) -> httpx.Response:
        row = self._authed(req)
        return ok(fw.MessageRequestList([
            fw.MessageRequest(gid, inviter, "r" + gid.hex()[:8], self.now,
                              self.first_contacts.get((gid, row.device_id)))
            for gid, inviter in self.requests.get(row.account, {}).items()]))

    def accept_request(self, req: httpx.Request, gid: str) -> httpx.Response:
        row = self._authed(req)
        if self.requests.get(row.account, {}).pop(b64d(gid), None) is None:
            return error(404, "not_found", "no such request")
        return httpx.Response(204)

    def get_blocks(self, req: httpx.Request) -> httpx.Response:
        row = self._authed(req)
        return ok(fw.BlockList(self.blocks.get(row.account, [])))

    # blobs
    def upload_blob(self, req: httpx.Request) -> httpx.Response:
        self._authed(req)
        blob_id = "b" + hashlib.sha256(req.content).hexdigest()[:20]
        self.exported.setdefault("blobs", {})[blob_id] = req.content
        return ok(m.BlobCreated(blob_id, hashlib.sha256(req.content).digest(), len(req.content)),
                  201)

    def download_blob(self, req: httpx.Request, blob_id: str) -> httpx.Response:
        data = self.exported.get("blobs", {}).get(blob_id)
        return error(404, "not_found") if data is None else httpx.Response(200, content=data)

    # account data, backups (T17, T18)
    def export(self, req: httpx.Request) -> httpx.Response:
        row = self._authed(req)
        devices = [d.device_id for d in self.devices.values() if d.account == row.account]
        return httpx.Response(200, json={"account": row.account, "devices": devices})

    def delete_account(self, req: httpx.Request) -> httpx.Response:
        row = self._authed(req)
        body = parse(w.DeleteAccountRequest, req.content)
        signing.verify(row.key, body.signature, w.delete_input(self.domain, body.account))
        gone = [d for d in self.devices.values() if d.account == body.account]
        for d in gone:
            del self.devices[d.device_id]
        self.log.delete(body.account, self.now)
        return ok(w.DeleteAccountResult([w.ErasedRows("devices", len(gone))], []))

    def put_backup(self, req: httpx.Request) -> httpx.Response:
        self._authed(req)
        body = parse(w.Backup, req.content)
        assert body.fetch_hash is not None
        self.backups[body.fetch_hash] = body
        return httpx.Response(204)

    def get_backup(self, req: httpx.Request, token: str) -> httpx.Response:
        found = self.backups.get(hashlib.sha256(b64d(token)).digest())
        return error(404, "not_found") if found is None else ok(w.Backup(found.data))

    # rendezvous (device linking)
    def rv_open(self, req: httpx.Request) -> httpx.Response:
        self._authed(req)
        body = parse(rv.RendezvousCreate, req.content)
        self.slots[body.slot] = {"offer": body.offer, "answer": None,
                                 "expires_at": self.now + body.ttl_ms}
        return ok(rv.RendezvousCreated(self.now + body.ttl_ms), 201)

    def _slot(self, slot: str) -> dict[str, Any]:
        found = self.slots.get(b64d(slot))
        if found is None or found["expires_at"] <= self.now:
            raise _Missing
        return found

    def rv_offer(self, req: httpx.Request, slot: str) -> httpx.Response:
        s = self._slot(slot)
        return ok(rv.RendezvousOffer(s["offer"], s["expires_at"]))

    def rv_answer(self, req: httpx.Request, slot: str) -> httpx.Response:
        s = self._slot(slot)
        if s["answer"] is not None:
            return error(409, "conflict", "answered")
        s["answer"] = parse(rv.RendezvousAnswer, req.content).answer
        return httpx.Response(204)

    def rv_state(self, req: httpx.Request, slot: str) -> httpx.Response:
        self._authed(req)
        s = self._slot(slot)
        return ok(rv.RendezvousState(s["expires_at"], s["answer"]))

    def rv_close(self, req: httpx.Request, slot: str) -> httpx.Response:
        self._authed(req)
        self.slots.pop(b64d(slot), None)
        return httpx.Response(204)

    # key transparency (issue 7)
    def well_known(self, req: httpx.Request) -> httpx.Response:
        return ok(fw.WellKnown(self.domain, self.url,
                               self.log_key.public_key().public_bytes_raw(), None))

    def _sth(self) -> bytes:
        return mls_encode(SignedTreeHead, self.log.signed_head(self.log_key, self.now))

    def kt_head(self, req: httpx.Request) -> httpx.Response:
        return ok(wt.KtHead(self._sth()))

    def kt_lookup(self, req: httpx.Request, account: str) -> httpx.Response:
        return ok(wt.KtLookup(account, self._sth(),
                              mls_encode(LookupProof, self.log.lookup(account))))

    def kt_consistency(self, req: httpx.Request) -> httpx.Response:
        old, new = int(req.url.params["old"]), int(req.url.params["new"])
        return ok(wt.KtConsistency(old, new, list(self.log.consistency_proof(old, new))))


class _Refused(AccordError):
    code = "auth_error"


class _Missing(AccordError):
    code = "not_found"


def _route_errors(handler: Callable[..., httpx.Response]) -> Callable[..., httpx.Response]:
    def run(self: FakeProvider, req: httpx.Request, *args: str) -> httpx.Response:
        try:
            return handler(self, req, *args)
        except _Refused:
            return error(401, "auth_error", "no session")
        except _Missing:
            return error(404, "not_found", "no such thing")
        except CryptoError as exc:
            return error(401, "crypto_error", str(exc))

    return run


ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(path), name) for method, path, name in (
        ("POST", r"/v1/accounts", "register"),
        ("POST", r"/v1/auth/challenge", "challenge"),
        ("POST", r"/v1/auth/login", "login"),
        ("GET", r"/v1/accounts/([^/]+)/devices", "list_devices"),
        ("POST", r"/v1/devices/find", "find_device"),
        ("POST", r"/v1/devices", "add_device"),
        ("DELETE", r"/v1/devices/([^/]+)", "remove_device"),
        ("GET", r"/v1/keypackages/count", "kp_count"),
        ("POST", r"/v1/keypackages", "kp_upload"),
        ("POST", r"/v1/accounts/([^/]+)/keypackages/claim", "kp_claim"),
        ("POST", r"/v1/groups", "create_group"),
        ("GET", r"/v1/groups/([^/]+)", "group"),
        ("POST", r"/v1/groups/([^/]+)/commits", "commit"),
        ("POST", r"/v1/groups/([^/]+)/proposals", "propose"),
        ("POST", r"/v1/groups/([^/]+)/messages", "post"),
        ("GET", r"/v1/queue", "fetch"),
        ("POST", r"/v1/queue/ack", "ack"),
        ("GET", r"/v1/requests", "list_requests"),
        ("POST", r"/v1/requests/([^/]+)/accept", "accept_request"),
        ("GET", r"/v1/blocks", "get_blocks"),
        ("POST", r"/v1/blobs", "upload_blob"),
        ("GET", r"/v1/blobs/([^/]+)", "download_blob"),
        ("GET", r"/v1/account/export", "export"),
        ("POST", r"/v1/account/delete", "delete_account"),
        ("PUT", r"/v1/account/backup", "put_backup"),
        ("GET", r"/v1/backups/([^/]+)", "get_backup"),
        ("POST", r"/v1/rendezvous", "rv_open"),
        ("GET", r"/v1/rendezvous/([^/]+)", "rv_offer"),
        ("POST", r"/v1/rendezvous/([^/]+)/answer", "rv_answer"),
        ("GET", r"/v1/rendezvous/([^/]+)/answer", "rv_state"),
        ("DELETE", r"/v1/rendezvous/([^/]+)", "rv_close"),
        ("GET", r"/.well-known/accord", "well_known"),
        ("GET", r"/v1/transparency/head", "kt_head"),
        ("GET", r"/v1/transparency/lookup/([^/]+)", "kt_lookup"),
        ("GET", r"/v1/transparency/consistency", "kt_consistency"),
    )
]
for _m, _p, _name in ROUTES:
    setattr(FakeProvider, _name, _route_errors(getattr(FakeProvider, _name)))


async def pair(tmp_path: Path, name: str = "hike"
               ) -> tuple[FakeProvider, Device, Device, dict[str, Any], dict[str, Any]]:
    """alice made ``name`` with bob, bob accepted her request: (provider, alice, bob,
    alice's conversation, bob's)."""
    from accord.client import conversations, message_requests

    p = FakeProvider()
    alice = await p.device(tmp_path / "alice", "alice@alpha.test")
    bob = await p.device(tmp_path / "bob", "bob@alpha.test")
    conv_a = await conversations.create(alice, name, ["bob@alpha.test"], p.now)
    await bob.sync(p.now)
    (conv_b,) = bob.store.conversations()
    await message_requests.accept(bob, conv_b, p.now)
    return p, alice, bob, conv_a, bob.store.conversation(conv_b["conv_id"])
