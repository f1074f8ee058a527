"""The fuzz targets (issue 24): every decoder that takes bytes from outside.

A target is a function of one byte string. It feeds the bytes to one decoder
(or to the group engine, or to the provider's HTTP routes) and lets through
only the outcome that the project allows for bad input: a typed
``DecodeError``, ``ValidationError`` or ``CryptoError`` (for HTTP, any
answer below 500). Any other exception escapes and is a crash; atheris adds
hangs (``-timeout``) and memory growth (``-rss_limit_mb``).

Each target also names its seeds (the official MLS vectors, the tests' own
messages) and the modules whose lines its corpus is measured against
(docs/SECURITY-TESTING.md). Nothing here uses the network: the HTTP target
runs the provider in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.errors import CryptoError, DecodeError, ValidationError

ALLOWED = (DecodeError, ValidationError, CryptoError)
HERE = Path(__file__).parent
VECTORS = HERE.parent / "vectors" / "mls"
FIXTURES = HERE / "fixtures"


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], None]
    seeds: Callable[[], Iterator[bytes]]
    modules: tuple[str, ...]  # measured for coverage of the corpus


TARGETS: dict[str, Target] = {}


def target(name: str, modules: tuple[str, ...],
           seeds: Callable[[], Iterator[bytes]]) -> Callable[[Callable[[bytes], Any]], Callable]:
    def register(fn: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
        def run(data: bytes) -> None:
            with contextlib.suppress(ALLOWED):
                fn(data)
        TARGETS[name] = Target(name, run, seeds, modules)
        return fn
    return register


def _selected(data: bytes, choices: list[Any]) -> tuple[Any, bytes]:
    """The first byte picks one of ``choices``; the rest is the input."""
    if not data:
        raise DecodeError("empty input")
    return choices[data[0] % len(choices)], data[1:]


def _prefixed(choices: list[Any], choice: Any, body: bytes) -> bytes:
    return bytes([choices.index(choice)]) + body


# ---------------------------------------------------------------- MLS structures

def _mls_structs() -> list[Any]:
    from accord.mls import structs as s
    return [s.MLSMessage, s.KeyPackage, s.Welcome, s.GroupInfo, s.GroupSecrets, s.Commit,
            s.Add, s.Update, s.Remove, s.PreSharedKey, s.ReInit, s.ExternalInit,
            s.GroupContextExtensions, s.LeafNode, s.UpdatePath, s.PublicMessage,
            s.PrivateMessage, s.GroupContext, s.Credential, "ratchet_tree"]


_VECTOR_FIELDS = {
    "MLSMessage": ["mls_welcome", "mls_group_info", "mls_key_package", "public_message_application",
                   "public_message_proposal", "public_message_commit", "private_message"],
    "GroupSecrets": ["group_secrets"], "Commit": ["commit"], "Add": ["add_proposal"],
    "Update": ["update_proposal"], "Remove": ["remove_proposal"],
    "PreSharedKey": ["pre_shared_key_proposal"], "ReInit": ["re_init_proposal"],
    "ExternalInit": ["external_init_proposal"],
    "GroupContextExtensions": ["group_context_extensions_proposal"],
    "ratchet_tree": ["ratchet_tree"],
}


def _struct_name(choice: Any) -> str:
    return choice if isinstance(choice, str) else choice.__name__


def _mls_struct_seeds() -> Iterator[bytes]:
    choices = _mls_structs()
    vectors = json.loads((VECTORS / "messages.json").read_text())
    for choice in choices:
        for field in _VECTOR_FIELDS.get(_struct_name(choice), []):
            for case in vectors[:3]:
                yield _prefixed(choices, choice, bytes.fromhex(case[field]))
    for raw in _group_fixture()["messages"]:
        yield _prefixed(choices, choices[0], raw)


@target("mls_structs", ("accord.mls.codec", "accord.mls.structs"), _mls_struct_seeds)
def mls_structs(data: bytes) -> None:
    """Decode any MLS wire structure; what decodes must re-encode to the same value."""
    from accord.mls.codec import decode, encode
    from accord.mls.ratchet_tree import Tree
    from accord.mls.suites import get_suite
    choice, body = _selected(data, _mls_structs())
    if choice == "ratchet_tree":
        Tree.from_bytes(get_suite(1), body)
        return
    value = decode(choice, body)
    if decode(choice, encode(choice, value)) != value:
        raise AssertionError(f"{choice.__name__} does not survive a round trip")


# ---------------------------------------------------------------- the group engine

def _group_fixture() -> dict[str, Any]:
    return _fixture_file()


@functools.cache
def _fixture_file() -> dict[str, Any]:
    doc = json.loads((FIXTURES / "group.json").read_text())
    return {"state": bytes.fromhex(doc["state"]),
            "messages": [bytes.fromhex(m) for m in doc["messages"]],
            "now": doc["now"]}


@functools.cache
def _receiver() -> Any:
    from accord.mls.group import GroupState
    return GroupState.from_bytes(_fixture_file()["state"])


def _group_seeds() -> Iterator[bytes]:
    yield from _group_fixture()["messages"]


@target("group_process", ("accord.mls.group.process", "accord.mls.framing_public",
                          "accord.mls.framing_private", "accord.mls.group.proposals",
                          "accord.mls.tree_validation", "accord.mls.treekem"), _group_seeds)
def group_process(data: bytes) -> None:
    """Process any bytes as an incoming message against a real member's state."""
    from accord.mls import group as g
    state = _receiver()
    before = state.to_bytes()
    try:
        g.process(state, data, _fixture_file()["now"])
    finally:
        if state.to_bytes() != before:
            raise AssertionError("processing changed the member's state in place")


@functools.cache
def _invitee() -> tuple[Any, int]:
    from accord.mls.codec import decode
    from accord.mls.group import KeyPackagePrivate
    from accord.mls.structs import KeyPackage
    doc = json.loads((FIXTURES / "welcome.json").read_text())
    kp = KeyPackagePrivate(decode(KeyPackage, bytes.fromhex(doc["key_package"])),
                           bytes.fromhex(doc["init_priv"]), bytes.fromhex(doc["encryption_priv"]),
                           bytes.fromhex(doc["signature_priv"]))
    return kp, doc["now"]


def _welcome_seeds() -> Iterator[bytes]:
    yield bytes.fromhex(json.loads((FIXTURES / "welcome.json").read_text())["welcome"])


@target("welcome_join", ("accord.mls.group.welcome", "accord.mls.group.welcome_crypto",
                         "accord.mls.tree_validation"), _welcome_seeds)
def welcome_join(data: bytes) -> None:
    """Join from any bytes as a Welcome to a KeyPackage we hold: what a stranger's
    invitation reaches once its request is accepted (T14)."""
    from accord.mls import group as g
    from accord.mls.codec import decode
    from accord.mls.structs import MLSMessage
    kp, now = _invitee()
    g.join_from_welcome(decode(MLSMessage, data), kp, now)


# ---------------------------------------------------------------- MIMI protocol structures

def _mimi_structs() -> list[type]:
    from accord.mls.codec import WireStruct
    from accord.wire import mimi
    return sorted((v for v in vars(mimi).values() if isinstance(v, type)
                   and issubclass(v, WireStruct) and v is not WireStruct
                   and v.__module__ == mimi.__name__), key=lambda c: c.__name__)


def _mimi_wire_seeds() -> Iterator[bytes]:
    from accord.mls.codec import encode
    from accord.wire import mimi
    structs = _mimi_structs()
    sample = mimi.IdentifierUri.of(mimi.mimi_user_uri("alice@a.test"))
    yield bytes([structs.index(mimi.IdentifierUri)]) + encode(mimi.IdentifierUri, sample)
    for i in range(len(structs)):  # an empty body per structure
        yield bytes([i])


@target("mimi_wire", ("accord.wire.mimi",), _mimi_wire_seeds)
def mimi_wire(data: bytes) -> None:
    """Every MIMI protocol structure (draft-ietf-mimi-protocol-06 section 5) a peer
    provider sends; what decodes must re-encode to the same value."""
    from accord.mls.codec import decode, encode
    cls, body = _selected(data, _mimi_structs())
    value = decode(cls, body)
    if decode(cls, encode(cls, value)) != value:
        raise AssertionError(f"{cls.__name__} does not survive a round trip")


# ---------------------------------------------------------------- JSON wire formats

def _wire_classes() -> list[type]:
    import dataclasses

    from accord.wire import federation, messages, privacy, rendezvous, transparency
    classes: list[type] = []
    for module in (messages, federation, privacy, rendezvous, transparency):
        for value in vars(module).values():
            if (dataclasses.is_dataclass(value) and isinstance(value, type)
                    and value.__module__ == module.__name__):
                classes.append(value)
    return sorted(classes, key=lambda c: (c.__module__, c.__name__))


def _wire_seeds() -> Iterator[bytes]:
    seeds = json.loads((FIXTURES / "wire.json").read_text())
    classes = _wire_classes()
    by_name = {f"{c.__module__}.{c.__name__}": c for c in classes}
    for name, body in seeds.items():
        if name in by_name:
            yield _prefixed(classes, by_name[name], json.dumps(body).encode())


@target("wire_json", ("accord.wire.codec",), _wire_seeds)
def wire_json(data: bytes) -> None:
    """Every JSON message of the client-provider and provider-provider APIs."""
    from accord.wire.codec import dumps, parse
    cls, body = _selected(data, _wire_classes())
    once = dumps(parse(cls, body))
    if dumps(parse(cls, once)) != once:
        raise AssertionError(f"{cls.__name__} does not survive a round trip")


# ---------------------------------------------------------------- message content

_SENDER, _ROOM = "mimi://a.example/u/alice", "mimi://a.example/r/room"


def _content_seeds() -> Iterator[bytes]:
    import os

    from accord.content import make_content, model, seal
    from accord.content.mimi_map import MemoryIndex
    bodies = [model.Text("hello"), model.ReadReceipt(()), model.TimerSetting(60),
              model.Notice(model.NoticeKind.RENAMED, "team")]
    for body in bodies:
        yield seal(make_content(body, random_bytes=os.urandom, sent_at=1), MemoryIndex(),
                   _SENDER, _ROOM).plaintext


@target("content", ("accord.content.sealing", "accord.content.preview",
                    "accord.content.mimi_map", "accord.content.message"), _content_seeds)
def content(data: bytes) -> None:
    """The body of an application message (from any group member), as a device reads
    it: its quarantine preview, then opened with its own franking tag (so that the
    mapping to Accord's kinds runs, not only the franking check)."""
    from accord.content import decode_body, franking_tag, open_content, quarantine_preview
    from accord.content.mimi_map import MemoryIndex
    quarantine_preview(data)
    tag = franking_tag(decode_body(data).salt, data)
    open_content(data, tag, MemoryIndex(), sender_uri=_SENDER, room_uri=_ROOM,
                 received_at=1_750_000_000_000)


MIMI_EXAMPLES = HERE.parent / "vectors" / "mimi-content"


def _mimi_seeds() -> Iterator[bytes]:
    for path in sorted(MIMI_EXAMPLES.glob("*.cbor")):
        yield path.read_bytes()


@target("mimi_content", ("accord.content.cbor", "accord.content.mimi", "accord.content.mimi_map"),
        _mimi_seeds)
def mimi_content(data: bytes) -> None:
    """MIMI content (draft-ietf-mimi-content) from any client of any provider: strict
    CBOR, re-encoded byte for byte, its message ID, and its reading as Accord content."""
    from accord.content import mimi, mimi_map
    content = mimi.decode_content(data)
    if mimi.encode_content(content) != data:
        raise AssertionError("accepted MIMI content does not re-encode to the same bytes")
    mimi.message_id(data, "mimi://a.example/u/alice", "mimi://a.example/r/room")
    mimi_map.from_mimi(content, mimi_map.MemoryIndex(), 1_750_000_000_000)


@functools.cache
def _request_keys() -> tuple[bytes, bytes]:
    doc = json.loads((FIXTURES / "first_contact.json").read_text())
    return bytes.fromhex(doc["request_priv"]), bytes.fromhex(doc["request_pub"])


def _first_contact_seeds() -> Iterator[bytes]:
    from accord.content import first_contact as fc
    sealed = bytes.fromhex(json.loads((FIXTURES / "first_contact.json").read_text())["sealed"])
    yield b"\x00" + sealed
    signed = fc.open_request(sealed, _request_keys()[0])
    yield b"\x01" + encode_signed(signed)


def encode_signed(signed: Any) -> bytes:
    from accord.content import first_contact as fc
    from accord.mls.codec import encode
    return encode(fc.SignedFirstContact, signed)


@target("first_contact", ("accord.content.first_contact",), _first_contact_seeds)
def first_contact(data: bytes) -> None:
    """A stranger's sealed first-contact request (T14), read before any Accept: as it
    arrives (even first byte), or as the plaintext a stranger seals to our published
    key, which it controls whole (odd first byte)."""
    from accord.content import first_contact as fc
    from accord.mls.suites import get_suite
    if not data:
        raise DecodeError("empty")
    priv, pub = _request_keys()
    sealed = data[1:]
    if data[0] & 1:
        kem_output, ciphertext = get_suite(fc.SUITE).hpke_seal(pub, fc.HPKE_INFO, b"", data[1:])
        sealed = encode_sealed(kem_output, ciphertext)
    signed = fc.open_request(sealed, priv)
    fc.check(signed, recipient=b"bob@a.test/" + b"e" * 22, group_id=b"g" * 16,
             welcome=b"welcome", sender_account="mallory@b.test")


def encode_sealed(kem_output: bytes, ciphertext: bytes) -> bytes:
    from accord.content import first_contact as fc
    from accord.mls.codec import encode
    return encode(fc.SealedRequest, fc.SealedRequest(kem_output, ciphertext))


# ---------------------------------------------------------------- key transparency

def _kt_seeds() -> Iterator[bytes]:
    doc = json.loads((FIXTURES / "transparency.json").read_text())
    for kind, items in doc.items():
        for hexed in items:
            yield _prefixed(_KT_KINDS, kind, bytes.fromhex(hexed))


_KT_KINDS = ["entry", "signed_head", "lookup", "consistency"]


@target("transparency", ("accord.transparency.entries", "accord.transparency.heads",
                         "accord.transparency.proofs", "accord.transparency.prefix_map",
                         "accord.transparency.directory"), _kt_seeds)
def transparency(data: bytes) -> None:
    """Log entries, signed heads, lookup and consistency proofs, as a peer serves them."""
    from accord.transparency import entries, heads
    kind, body = _selected(data, _KT_KINDS)
    if kind == "entry":
        entries.decode_entry(body)
    elif kind == "signed_head":
        sth = heads.decode_signed_head(body)
        heads.verify_signed_head(sth, bytes(32), sth.head.domain)
    elif kind == "lookup":
        _verify_lookup(body)
    else:
        _verify_consistency(body)


def _verify_lookup(body: bytes) -> None:
    from accord.mls.codec import decode
    from accord.transparency import LookupProof, SignedTreeHead
    from accord.transparency.directory import verify_lookup
    from accord.wire.codec import parse
    from accord.wire.transparency import KtLookup
    answer = parse(KtLookup, body)
    sth = decode(SignedTreeHead, answer.head)
    verify_lookup(sth.head, answer.account, decode(LookupProof, answer.proof))


def _verify_consistency(body: bytes) -> None:
    from accord.transparency.proofs import verify_consistency
    if len(body) < 80:
        raise DecodeError("short")
    old, new = int.from_bytes(body[:8], "big"), int.from_bytes(body[8:16], "big")
    path = tuple(body[80 + 32 * i:112 + 32 * i] for i in range((len(body) - 80) // 32))
    verify_consistency(old, new, body[16:48], body[48:80], path)


# ---------------------------------------------------------------- backups and linking

_RECOVERY_KEY_FILE = "recovery.json"


def _backup_seeds() -> Iterator[bytes]:
    doc = json.loads((FIXTURES / _RECOVERY_KEY_FILE).read_text())
    yield bytes.fromhex(doc["backup"])


@target("backup", ("accord.privacy.backup_format", "accord.client.backup"), _backup_seeds)
def backup(data: bytes) -> None:
    """A backup file as the provider (or anyone holding the file) hands it back."""
    from accord.client.backup import read
    doc = json.loads((FIXTURES / _RECOVERY_KEY_FILE).read_text())
    read(data, doc["recovery_key"])


@functools.cache
def _link_keys() -> Any:
    from accord.client.linking import derive
    return derive(json.loads((FIXTURES / _RECOVERY_KEY_FILE).read_text())["link_code"])


def _link_seeds() -> Iterator[bytes]:
    doc = json.loads((FIXTURES / _RECOVERY_KEY_FILE).read_text())
    yield bytes.fromhex(doc["link_sealed"])
    yield b"7K3QX-9ZC2M"


@target("linking", ("accord.client.linking",), _link_seeds)
def linking(data: bytes) -> None:
    """A linking code as typed, and a rendezvous slot's sealed payload."""
    from accord.client.linking import normalize, unseal
    with contextlib.suppress(UnicodeDecodeError):
        normalize(data.decode("utf-8"))
    unseal(_link_keys(), b"offer", data)


# ---------------------------------------------------------------- the provider's HTTP API

class _InProcessProvider:
    """One provider on a temporary SQLite folder, served in-process with a session."""

    def __init__(self) -> None:
        import httpx

        from accord.server.app import create_app
        from accord.server.state import ServerConfig
        self.folder = tempfile.TemporaryDirectory(prefix="accord-fuzz-")
        config = ServerConfig(domain="fuzz.test", data_dir=Path(self.folder.name),
                              rate_limit_scale=1e9)
        self.app = create_app(config, clock=lambda: 1_750_000_000_000)
        self.loop = asyncio.new_event_loop()
        self.lifespan = self.app.router.lifespan_context(self.app)
        self.loop.run_until_complete(self.lifespan.__aenter__())
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=True)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://fuzz.test")
        self.auth = self.loop.run_until_complete(self._session())
        self.routes = sorted(
            (method, route.path) for route in self.app.routes
            for method in (getattr(route, "methods", None) or ()) if method in ("POST", "PUT")
        )

    async def _session(self) -> dict[str, str]:
        from tests.harness import SimDevice
        return (await SimDevice(self.http, "fuzzer@fuzz.test").register()).auth

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.run_until_complete(self.lifespan.__aexit__(None, None, None))
        self.loop.close()
        self.folder.cleanup()

    def call(self, method: str, path: str, body: bytes, auth: bool) -> int:
        headers = {"content-type": "application/json", **(self.auth if auth else {})}
        r = self.loop.run_until_complete(
            self.http.request(method, path.replace("{", "x").replace("}", ""), content=body,
                              headers=headers))
        return r.status_code


@functools.cache
def _provider() -> _InProcessProvider:
    return _InProcessProvider()


def close() -> None:
    """Stop the in-process provider, if a target started it (tests call this)."""
    if _provider.cache_info().currsize:
        _provider().close()
        _provider.cache_clear()


def _http_seeds() -> Iterator[bytes]:
    bodies = [json.dumps(b).encode() for b in json.loads((FIXTURES / "wire.json").read_text()).values()]
    for route in range(len(_provider().routes)):
        for body in bodies:
            yield bytes([route, 1]) + body


@target("provider_http", ("accord.server.routes", "accord.server.delivery",
                          "accord.server.federation_routes", "accord.server.privacy_routes"), _http_seeds)
def provider_http(data: bytes) -> None:
    """Any body to any POST/PUT route of the provider, with and without a session."""
    p = _provider()
    if len(data) < 2:
        raise DecodeError("short")
    method, path = p.routes[data[0] % len(p.routes)]
    status = p.call(method, path, data[2:], auth=bool(data[1] & 1))
    if status >= 500:
        raise AssertionError(f"{method} {path} answered {status}")


# ---------------------------------------------------------------- the interop gRPC server

class _Context:
    """The part of grpc.ServicerContext that the RPCs use."""

    def abort(self, code: Any, details: str) -> None:
        raise AssertionError(f"unexpected abort {code}: {details}")


@functools.cache
def _interop() -> tuple[Any, int, int, list[tuple[str, type]]]:
    from google.protobuf import message_factory

    from accord.interop.proto import mls_client_pb2 as pb
    from accord.interop.servicer import AccordMLSClient
    svc = AccordMLSClient()
    sid = svc.CreateGroup(pb.CreateGroupRequest(group_id=b"group", cipher_suite=1,
                                                identity=b"alice"), _Context()).state_id
    tid = svc.CreateKeyPackage(pb.CreateKeyPackageRequest(cipher_suite=1, identity=b"bob"),
                               _Context()).transaction_id
    service = pb.DESCRIPTOR.services_by_name["MLSClient"]
    rpcs = sorted((m.name, message_factory.GetMessageClass(m.input_type))
                  for m in service.methods if m.name != "Free")  # Free would end the fixture
    return svc, sid, tid, rpcs


def _interop_seeds() -> Iterator[bytes]:
    from accord.interop.proto import mls_client_pb2 as pb
    _, _, _, rpcs = _interop()
    names = [name for name, _ in rpcs]
    vectors = json.loads((VECTORS / "messages.json").read_text())[0]
    samples = {
        "CreateGroup": pb.CreateGroupRequest(group_id=b"g2", cipher_suite=1, identity=b"carol"),
        "JoinGroup": pb.JoinGroupRequest(welcome=bytes.fromhex(vectors["mls_welcome"])),
        "AddProposal": pb.AddProposalRequest(key_package=bytes.fromhex(vectors["mls_key_package"])),
        "HandleCommit": pb.HandleCommitRequest(commit=bytes.fromhex(vectors["public_message_commit"])),
        "Unprotect": pb.UnprotectRequest(ciphertext=bytes.fromhex(vectors["private_message"])),
        "Protect": pb.ProtectRequest(plaintext=b"hi"),
        "Commit": pb.CommitRequest(),
        "StateAuth": pb.StateAuthRequest(),
    }
    for name, request in samples.items():
        if name in names:
            yield bytes([names.index(name)]) + request.SerializeToString()


@target("interop_grpc", ("accord.interop.decoding", "accord.interop.rpc_groups",
                         "accord.interop.rpc_proposals", "accord.interop.rpc_commits"),
        _interop_seeds)
def interop_grpc(data: bytes) -> None:
    """Any request body to any RPC of ``accord interop serve``, in-process, on a live
    group and key package (an even state or transaction id names them). The RPC runs
    without its status mapping, so only the typed errors pass: a ValueError that the
    server would turn into INVALID_ARGUMENT is still a crash here."""
    from google.protobuf.message import DecodeError as ProtobufDecodeError

    from accord.errors import Conflict, NotFound
    svc, sid, tid, rpcs = _interop()
    (name, cls), body = _selected(data, rpcs)
    try:
        request = cls.FromString(body)
    except ProtobufDecodeError:
        return  # grpc's own framing refuses it before any RPC runs
    for field, live in (("state_id", sid), ("transaction_id", tid)):
        if field in cls.DESCRIPTOR.fields_by_name and getattr(request, field) % 2 == 0:
            setattr(request, field, live)
    with contextlib.suppress(NotFound, Conflict):
        getattr(type(svc), name).__wrapped__(svc, request)


# ---------------------------------------------------------------- the harness's own check

if os.environ.get("ACCORD_FUZZ_SELFTEST"):
    @target("selftest", ("tests.fuzz.targets",), lambda: iter([b"fine", b"boom"]))
    def selftest(data: bytes) -> None:
        """A decoder with a planted bug: the runner must report it as a crash."""
        if data.startswith(b"boom"):
            raise ValueError("planted")
        raise DecodeError("typed")
