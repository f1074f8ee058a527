"""A real provider process on loopback and a minimal device over its API.

For end-to-end tests and ``accord bench server``; it is not the client
(``accord.client`` is): a :class:`SimDevice` holds an Ed25519 key and speaks
the HTTP API with the wire types, nothing more.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.federation.loopback import free_port, spawn_healthy
from accord.wire import b64e, decode, encode, signing
from accord.wire import messages as m
from accord.wire.accounts import domain_of
from tests.engine import database_for
from tests.timing import wait_until_sync


@dataclass
class ServerProcess:
    """``accord server`` in a child process; ``stop()`` or ``kill()`` ends it."""

    data_dir: Path
    domain: str = "alpha.test"
    database: str | None = None
    rate_limit_scale: float = 1.0
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    bus: str | None = None
    tls: tuple[Path, Path] | None = None  # (certificate, key)
    extra_args: tuple[str, ...] = ()  # more ``accord server`` options
    # What the child runs with ``accord server``'s options: a benchmark may name a
    # script of bench/ that adds routes through the app factory's own argument.
    entry: tuple[str, ...] = ("-m", "accord", "server")

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def start(self, timeout_s: float = 30.0) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, *self.entry, "--data", str(self.data_dir),
               "--host", "127.0.0.1", "--port", str(self.port), "--domain", self.domain,
               "--rate-limit-scale", str(self.rate_limit_scale)]
        self.database = self.database or database_for(self.data_dir)
        if self.database:
            cmd += ["--database", self.database]
        if self.bus:
            cmd += ["--bus", self.bus]
        if self.tls:
            cmd += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        cmd += self.extra_args
        self.proc = spawn_healthy(cmd, self.log_path, self.url, timeout_s, self.domain)
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def nats_server() -> str | None:
    """The nats-server binary, for tests that need a NATS of their own."""
    path = shutil.which("nats-server") or "/usr/sbin/nats-server"
    return path if Path(path).exists() else None


class PrivateNats:
    """A nats-server of one test alone on a free loopback port: stopping or restarting it
    disturbs no other test on the machine (they share ACCORD_TEST_NATS)."""

    def __init__(self, store: Path) -> None:
        self.store, self.port = store, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> PrivateNats:
        binary = nats_server()
        assert binary is not None, "no nats-server"
        self.proc = subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until_sync(self._listening, timeout_s, "nats-server listening", poll_s=0.05)
        except AssertionError:
            self.stop()
            raise
        return self

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class SimDevice:
    """One device of ``account``: its signature key and its session on one provider."""

    def __init__(self, http: httpx.AsyncClient, account: str,
                 key: Ed25519PrivateKey | None = None) -> None:
        self.http = http
        self.account = account
        self.key = key or Ed25519PrivateKey.generate()
        self.public = self.key.public_key().public_bytes_raw()
        self.device_id = ""
        self.token = ""
        self.domain = domain_of(account)

    def __repr__(self) -> str:  # never the key or the token
        return f"SimDevice({self.account}, {self.device_id})"

    @property
    def identity(self) -> bytes:
        """The basic credential identity of this device's MLS leaves."""
        return f"{self.account}/{self.device_id}".encode()

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def call(self, method: str, path: str, body: Any = None, auth: bool = True,
                   expect: int | None = None) -> httpx.Response:
        payload = encode(body) if body is not None and not isinstance(body, dict) else body
        r = await self.http.request(method, path, json=payload,
                                    headers=self.auth if auth else None)
        if expect is not None and r.status_code != expect:
            raise AssertionError(f"{method} {path}: {r.status_code} {r.text}")
        return r

    async def register(self) -> SimDevice:
        sig = self.key.sign(signing.register_input(self.account, self.public))
        req = m.RegisterRequest(account=self.account, signature_key=self.public, signature=sig)
        r = await self.call("POST", "/v1/accounts", req, auth=False, expect=201)
        self.device_id = decode(m.RegisterResponse, r.json()).device_id
        return await self.login()

    async def login(self) -> SimDevice:
        r = await self.call("POST", "/v1/auth/challenge",
                            m.ChallengeRequest(device_id=self.device_id), auth=False, expect=200)
        nonce = decode(m.ChallengeResponse, r.json()).nonce
        sig = self.key.sign(signing.login_input(self.domain, self.device_id, nonce))
        r = await self.call("POST", "/v1/auth/login",
                            m.LoginRequest(device_id=self.device_id, nonce=nonce, signature=sig),
                            auth=False, expect=200)
        self.token = decode(m.LoginResponse, r.json()).token
        return self

    async def link(self, new: SimDevice) -> SimDevice:
        """Add ``new`` to this device's account, certified by this device."""
        cert = self.key.sign(signing.add_device_input(self.account, new.public))
        pop = new.key.sign(signing.possession_input(self.account, new.public))
        req = m.AddDeviceRequest(signature_key=new.public, certification=cert, possession=pop)
        r = await self.call("POST", "/v1/devices", req, expect=201)
        new.device_id = decode(m.AddDeviceResponse, r.json()).device_id
        return await new.login()

    async def fetch(self, after: int = 0, limit: int = 500) -> m.QueuePage:
        r = await self.call("GET", f"/v1/queue?after={after}&limit={limit}", expect=200)
        return decode(m.QueuePage, r.json())


def private_message(group_id: bytes, epoch: int, body: bytes) -> bytes:
    """An MLS PrivateMessage (application) whose encrypted part is ``body``.

    The hub reads only the header, so stand-in ciphertext is enough here.
    """
    from accord.mls.structs.messages import MLSMessage, PrivateMessage

    msg = PrivateMessage(group_id, epoch, 1, b"", secrets.token_bytes(32), body)
    return bytes(MLSMessage.wrap(msg).to_bytes())


def sealed_body(raw: bytes) -> bytes:
    """The encrypted part of a PrivateMessage made by :func:`private_message`."""
    from accord.mls.codec import decode
    from accord.mls.structs.messages import MLSMessage

    return bytes(decode(MLSMessage, raw).message.ciphertext)


def application_post(posting_key: Ed25519PrivateKey, group_id: bytes, epoch: int,
                     body: bytes) -> m.ApplicationPost:
    """A hidden-sender post of ``body`` (in a PrivateMessage) under a group's posting key."""
    ciphertext = private_message(group_id, epoch, body)
    nonce = secrets.token_bytes(16)
    sig = posting_key.sign(signing.post_input(group_id, epoch, nonce, ciphertext))
    return m.ApplicationPost(epoch=epoch, nonce=nonce, ciphertext=ciphertext, signature=sig)


def posting_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


def group_path(group_id: bytes, tail: str = "") -> str:
    return f"/v1/groups/{b64e(group_id)}{tail}"


# MLS (RFC 9420, suite 0x0001) for the simulated devices: real KeyPackages and
# commits, so the hub's checks see what a real client sends.


def mls_key_package(device: SimDevice, now_s: int | None = None) -> bytes:
    from accord.mls import group as g
    from accord.mls.structs import Credential
    from accord.mls.structs.messages import MLSMessage
    from accord.mls.suites import get_suite

    kpp = g.key_package(get_suite(1), Credential.basic(device.identity),
                        device.key.private_bytes_raw(), now_s or int(time.time()))
    return bytes(MLSMessage.wrap(kpp.key_package).to_bytes())


def mls_create(device: SimDevice, group_id: bytes, now_s: int | None = None) -> Any:
    from accord.mls import group as g
    from accord.mls.structs import Credential
    from accord.mls.suites import get_suite

    return g.create_group(get_suite(1), group_id, Credential.basic(device.identity),
                          device.key.private_bytes_raw(), now_s or int(time.time()))


def mls_new_group(device: SimDevice, group_id: bytes, posting_key: bytes,
                  now_s: int | None = None) -> tuple[m.CreateGroupRequest, Any]:
    """A new MLS group of ``device`` and the request that has the hub keep it (with the
    GroupInfo of its epoch 0 and its ratchet tree)."""
    from accord.mls import group as g

    state = mls_create(device, group_id, now_s)
    info = bytes(g.group_info(state, with_external_pub=False).to_bytes())
    return m.CreateGroupRequest(group_id=group_id, posting_key=posting_key,
                                group_info=info), state


def mls_commit(state: Any, add: list[bytes] = (), remove: list[int] = (),  # type: ignore[assignment]
               update: bool = False) -> tuple[bytes, bytes | None, Any]:
    """A commit from ``state`` adding KeyPackages (MLSMessage bytes) and removing leaves."""
    from accord.mls import group as g
    from accord.mls.codec import decode
    from accord.mls.structs import Add, Remove
    from accord.mls.structs.messages import MLSMessage

    proposals: list[Any] = [Add(decode(MLSMessage, kp).message) for kp in add]
    proposals += [Remove(leaf) for leaf in remove]
    result, pending = g.commit(state, now=int(time.time()), by_value=proposals,
                               force_path=update)
    welcome = result.welcome.to_bytes() if result.welcome is not None else None
    return bytes(result.commit.to_bytes()), welcome, g.merge_pending(pending)


def mls_epoch_info(state: Any, posting_key: bytes) -> tuple[bytes, bytes]:
    """``(GroupInfo, ratchet tree)`` of the epoch ``state`` is in, as Accord's client sends
    them with a commit (client.mls_session.epoch_keys): the GroupInfo carries the posting
    key (accord.wire.posting_component) and no tree, the tree goes beside it, as a hub
    reached over MIMI needs them (draft-ietf-mimi-protocol-06 5.3)."""
    from accord.mls import group as g
    from accord.mls.codec import encode
    from accord.mls.structs.messages import MLSMessage
    from accord.mls.structs.tree_nodes import RatchetTree
    from accord.wire.posting_component import app_data_extension, posting_key_component

    extra = (app_data_extension([posting_key_component(posting_key)]),)
    info = encode(MLSMessage, g.group_info(state, with_tree=False, extra=extra))
    return info, encode(RatchetTree, state.tree.to_ratchet_tree())


class Group(NamedTuple):
    """Two registered devices in one MLS group the hub keeps: ``alice`` made it and
    added ``bob``; ``posting_key`` is the group's posting key at epoch 1."""

    alice: SimDevice
    bob: SimDevice
    group_id: bytes
    posting_key: Ed25519PrivateKey


async def group_of_two(http: httpx.AsyncClient) -> Group:
    """Register alice and bob on the provider behind ``http`` and put them in one group."""
    alice = await SimDevice(http, "alice@alpha.test").register()
    bob = await SimDevice(http, "bob@alpha.test").register()
    gid, pk0, pk1 = secrets.token_bytes(32), Ed25519PrivateKey.generate(), \
        Ed25519PrivateKey.generate()
    new_group, mls_state = mls_new_group(alice, gid, posting_public(pk0))
    await alice.call("POST", "/v1/groups", new_group, expect=201)
    commit, welcome, _ = mls_commit(mls_state, add=[mls_key_package(bob)])
    await alice.call("POST", group_path(gid, "/commits"), m.CommitRequest(
        epoch=0, commit=commit, posting_key=posting_public(pk1),
        added=[bob.device_id], welcome=welcome), expect=201)
    return Group(alice, bob, gid, pk1)


class DeliveryTally:
    """Counts each application item's copies as members' WebSockets receive it;
    an item is delivered when every member has it (the benchmarks' end point)."""

    def __init__(self, members: int) -> None:
        self.members = members
        self.started: dict[str, float] = {}
        self.copies: dict[str, int] = {}
        self.done: dict[str, float] = {}
        self.deliveries = 0
        self.expected = 0
        self.all_done = asyncio.Event()

    def received(self, key: str, at: float) -> None:
        self.deliveries += 1
        n = self.copies.get(key, 0) + 1
        self.copies[key] = n
        if n == self.members:
            self.done[key] = at
            if self.expected and len(self.done) >= self.expected:
                self.all_done.set()

    def latencies_ms(self) -> list[float]:
        return sorted((self.done[k] - s) * 1000 for k, s in self.started.items()
                      if k in self.done)


async def listen_for_deliveries(url: str, token: str, tally: DeliveryTally,
                                ready: asyncio.Event, stop: asyncio.Event,
                                key: Callable[[dict[str, Any]], str]) -> None:
    """One member's WebSocket: count application items by ``key(item)``, ack them."""
    async with websockets.connect(url, max_size=2**24) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        ready.set()
        while not stop.is_set():
            try:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
            except TimeoutError:
                continue
            now = time.perf_counter()
            items = frame.get("items", [])
            for item in items:
                if item["kind"] == "application":
                    tally.received(key(item), now)
            if items:
                await ws.send(json.dumps({"type": "ack", "up_to": items[-1]["seq"]}))
