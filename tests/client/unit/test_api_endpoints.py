"""Every provider endpoint the client calls (``api.ProviderApi``) against the
in-memory provider, and what a hostile or broken provider's answers become:
typed errors, never a crash or a silently wrong value. Push frames come from a
scripted WebSocket (no socket)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.frames import Close

from accord.client import api as api_module
from accord.client.api import DeviceRemoved, ProviderApi, ServerError, group_path
from accord.errors import AuthError, DecodeError, EpochConflict, NotFound, ValidationError
from accord.wire import dumps
from accord.wire import messages as m
from accord.wire.binary import QUEUE_MEDIA_TYPE, QUEUE_SUBPROTOCOL, encode_queue_page

from .fakes import FakeProvider, error, ok


async def test_accounts_devices_and_sessions(tmp_path: Path) -> None:
    p = FakeProvider()
    dev = await p.device(tmp_path / "a", "ann@alpha.test")
    api = dev.api
    assert api.transport is not None and api.token is not None
    listed = await api.list_devices("ann@alpha.test")
    assert [d.device_id for d in listed.devices] == [dev.identity.device_id]
    assert await api.find_device("ann@alpha.test", dev.signature_public_key) == (
        dev.identity.device_id)
    assert await api.find_device("ann@alpha.test", b"\x01" * 32) is None
    new = Ed25519PrivateKey.generate()
    new_pub = new.public_key().public_bytes_raw()
    from accord.wire import signing

    added = await api.add_device("ann@alpha.test", new_pub, dev.sign,
                                 new.sign(signing.possession_input("ann@alpha.test", new_pub)),
                                 succeeds=dev.signature_public_key)
    assert added.device_id in p.devices
    _, entry = p.log.current("ann@alpha.test")
    assert entry.successions[-1].successor == new_pub  # signed by the old key, checked
    await api.remove_device(added.device_id)
    assert added.device_id not in p.devices
    with pytest.raises(NotFound):
        await api.remove_device(added.device_id)


async def test_a_refused_login_means_the_device_was_removed(tmp_path: Path) -> None:
    p = FakeProvider()
    dev = await p.device(tmp_path / "a", "ann@alpha.test")
    fresh = p.session(p.url)
    del p.devices[dev.identity.device_id]
    with pytest.raises(DeviceRemoved):
        await fresh.login("alpha.test", dev.identity.device_id, dev.sign)
    await fresh.close()


async def test_a_session_is_renewed_once_and_a_second_refusal_is_final(tmp_path: Path) -> None:
    p = FakeProvider()
    dev = await p.device(tmp_path / "a", "ann@alpha.test")
    api = dev.api
    def logins() -> int:
        return sum(1 for r in p.requests_seen if r == ("POST", "/v1/auth/login"))

    p.tokens.clear()  # the provider restarted: every token is stale
    before = logins()
    assert (await api.key_package_count(1)).count == len(p.row(dev).kps.get(1, []))
    assert logins() == before + 1 and api.token in p.tokens  # renewed by one new login
    p.fail("GET", r"/v1/keypackages/count", 401, "auth_error")
    before = logins()
    with pytest.raises(AuthError):
        await api.key_package_count(1)
    assert logins() == before + 1  # one new login for the request, not a loop of them
    bare = ProviderApi(p.url, transport=p.transport)
    with pytest.raises(AuthError, match="not logged in"):
        await bare.fetch(0)
    await bare.close()


async def test_hostile_and_broken_answers_become_typed_errors(tmp_path: Path) -> None:
    p = FakeProvider()
    dev = await p.device(tmp_path / "a", "ann@alpha.test")
    api = dev.api
    p.answer("GET", r"/v1/queue", lambda _r: httpx.Response(200, content=b"<html>"))
    with pytest.raises(DecodeError):
        await api.fetch(0)
    p.answer("GET", r"/v1/queue", lambda _r: httpx.Response(200, json={"items": "x"}))
    with pytest.raises(ValidationError, match="expected a list"):
        await api.fetch(0)
    p.answer("GET", r"/v1/queue", lambda _r: httpx.Response(502, content=b"bad gateway"))
    with pytest.raises(ServerError, match="without an error body"):
        await api.fetch(0)
    p.answer("GET", r"/v1/queue", lambda _r: error(409, "conflict", current_epoch=4))
    with pytest.raises(EpochConflict) as conflict:
        await api.fetch(0)
    assert conflict.value.current_epoch == 4

    def unreachable(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=req)

    p.answer("GET", r"/v1/queue", unreachable)
    with pytest.raises(ServerError, match="cannot reach the provider: ConnectError"):
        await api.fetch(0)
    p.clear()
    assert (await api.fetch(0)).items == []


async def test_groups_posts_queue_and_blobs(tmp_path: Path) -> None:
    p = FakeProvider()
    dev = await p.device(tmp_path / "a", "ann@alpha.test")
    api = dev.api
    posting = Ed25519PrivateKey.generate()
    gid = b"g" * 16
    state = await api.create_group(gid, posting.public_key().public_bytes_raw(), b"info")
    assert (state.group_id, state.epoch, state.members) == (gid, 0, [dev.identity.device_id])
    assert (await api.group(gid)).hub == "alpha.test"
    assert group_path(gid) == "/v1/groups/Z2dnZ2dnZ2dnZ2dnZ2dnZw"
    posted = await api.post_application(gid, 0, b"n" * 16, b"ciphertext", posting.sign)
    assert posted.msg_id
    with pytest.raises(EpochConflict):
        await api.post_application(gid, 3, b"n" * 16, b"ciphertext", posting.sign)
    page = await api.fetch(0, 10)
    assert [i.body for i in page.items] == [b"ciphertext"]
    assert (await api.ack(page.next_after)).removed == 1
    assert (await api.propose(gid, 0, b"proposal")).msg_id == "p"
    with pytest.raises(NotFound):
        await api.group(b"h" * 16)
    blob = await api.upload_blob(b"file bytes")
    assert (blob.size, blob.sha256) == (10, hashlib.sha256(b"file bytes").digest())
    assert await api.download_blob(blob.blob_id) == b"file bytes"
    p.answer("GET", r"/healthz", lambda _r: ok(m.Health("ok", "alpha.test")))
    assert (await api.health()).domain == "alpha.test"


async def test_the_queue_is_read_in_the_binary_envelope(tmp_path: Path) -> None:
    """The client asks for the binary queue page (wire.binary, issue 23), still reads a
    provider's JSON page, and a malformed envelope is a typed error."""
    p = FakeProvider()
    dev = await p.device(tmp_path / "a", "ann@alpha.test")
    for body in (b"one", b"\0\xff two"):
        p.enqueue(dev.identity.device_id, "application", body, group_id=b"g" * 16, epoch=2)
    seen: list[httpx.Response] = []

    def record(req: httpx.Request) -> httpx.Response:
        seen.append(p.fetch(req))
        return seen[-1]

    p.answer("GET", r"/v1/queue", record)
    page = await dev.api.fetch(0)
    assert seen[-1].headers["content-type"] == QUEUE_MEDIA_TYPE
    assert [(i.body, i.group_id, i.epoch) for i in page.items] == [
        (b"one", b"g" * 16, 2), (b"\0\xff two", b"g" * 16, 2)]
    json_page = m.QueuePage(page.items, page.next_after)
    p.answer("GET", r"/v1/queue", lambda _r: ok(json_page))  # a provider without it
    assert await dev.api.fetch(0) == page
    truncated = encode_queue_page(page)[:-1]
    p.answer("GET", r"/v1/queue", lambda _r: httpx.Response(
        200, content=truncated, headers={"content-type": QUEUE_MEDIA_TYPE}))
    with pytest.raises(DecodeError, match="truncated"):
        await dev.api.fetch(0)


async def test_rendezvous_endpoints(tmp_path: Path) -> None:
    p = FakeProvider()
    dev = await p.device(tmp_path / "a", "ann@alpha.test")
    api = dev.api
    slot = b"s" * 16
    created = await api.rendezvous_open(slot, b"offer", 60_000)
    assert created.expires_at == p.now + 60_000
    assert (await api.rendezvous_offer(slot)).offer == b"offer"
    assert (await api.rendezvous_state(slot)).answer is None
    await api.rendezvous_answer(slot, b"answer")
    assert (await api.rendezvous_state(slot)).answer == b"answer"
    await api.rendezvous_close(slot)
    with pytest.raises(NotFound):
        await api.rendezvous_offer(slot)


def test_the_push_url_follows_the_scheme() -> None:
    assert ProviderApi("https://a.test/").ws_url() == "wss://a.test/v1/ws"
    assert ProviderApi("http://127.0.0.1:8400").ws_url() == "ws://127.0.0.1:8400/v1/ws"


class _Ws:
    """A scripted push connection: frames, then an idle timeout or a close."""

    def __init__(self, frames: list[object], subprotocol: str | None = None) -> None:
        self.frames = frames
        self.subprotocol = subprotocol  # what the provider took of the offered ones
        self.sent: list[str] = []

    async def __aenter__(self) -> _Ws:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, data: str) -> None:
        self.sent.append(data)

    async def recv(self) -> str | bytes:
        if not self.frames:
            raise TimeoutError
        frame = self.frames.pop(0)
        if isinstance(frame, BaseException):
            raise frame
        return frame if isinstance(frame, bytes) else str(frame)


def _frame(*seqs: int) -> str:
    items = [m.QueueItem(seq=s, msg_id=f"m{s}", kind="application", body=b"x", created_at=1)
             for s in seqs]
    return dumps(m.WsItems(type="items", items=items)).decode()


async def test_push_authenticates_in_the_first_frame_and_yields_items(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _Ws([_frame(1, 2), _frame(3)])
    monkeypatch.setattr(api_module, "ws_connect", lambda url, **kw: ws)
    api = ProviderApi("http://a.test")
    api.resume("tok", 10**13, lambda: None)
    got = [[i.seq for i in batch] async for batch in api.push(7, idle_timeout=0.01)]
    assert got == [[1, 2], [3]]
    assert json.loads(ws.sent[0]) == {"type": "auth", "token": "tok", "after": 7}
    # bounded by max_frames
    monkeypatch.setattr(api_module, "ws_connect", lambda url, **kw: _Ws([_frame(1), _frame(2)]))
    assert len([b async for b in api.push(0, max_frames=1)]) == 1


def _binary_frame(*seqs: int) -> bytes:
    items = [m.QueueItem(seq=s, msg_id=f"m{s}", kind="application", body=b"\0x",
                         created_at=1) for s in seqs]
    return encode_queue_page(m.QueuePage(items=items, next_after=seqs[-1]))


async def test_push_frames_are_binary_under_the_subprotocol(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The client offers accord.queue.v1 (wire.binary, issue 23) and reads binary
    frames under it; JSON frames from a provider that did not take it still work."""
    offered: list[object] = []

    def connect(ws: _Ws) -> object:
        def connected(url: str, **kw: object) -> _Ws:
            offered.append(kw.get("subprotocols"))
            return ws
        return connected

    api = ProviderApi("http://a.test")
    api.resume("tok", 10**13, lambda: None)
    monkeypatch.setattr(api_module, "ws_connect", connect(
        _Ws([_binary_frame(1, 2), _binary_frame(3)], subprotocol=QUEUE_SUBPROTOCOL)))
    got = [[(i.seq, i.body) for i in b] async for b in api.push(0, idle_timeout=0.01)]
    assert got == [[(1, b"\0x"), (2, b"\0x")], [(3, b"\0x")]]
    assert offered == [[QUEUE_SUBPROTOCOL]]
    monkeypatch.setattr(api_module, "ws_connect", connect(_Ws([_frame(4)])))
    assert [[i.seq for i in b] async for b in api.push(0, idle_timeout=0.01)] == [[4]]
    # a binary frame the provider did not agree to, or a malformed one, is refused
    monkeypatch.setattr(api_module, "ws_connect", connect(_Ws([_binary_frame(5)])))
    with pytest.raises(DecodeError, match="subprotocol"):
        [b async for b in api.push(0)]
    monkeypatch.setattr(api_module, "ws_connect", connect(
        _Ws([_binary_frame(6) + b"\0"], subprotocol=QUEUE_SUBPROTOCOL)))
    with pytest.raises(DecodeError, match="trailing"):
        [b async for b in api.push(0)]


async def test_a_push_session_the_provider_refuses_drops_the_token(
        monkeypatch: pytest.MonkeyPatch) -> None:
    refused = websockets.ConnectionClosed(Close(4401, "auth"), None)
    monkeypatch.setattr(api_module, "ws_connect", lambda url, **kw: _Ws([refused]))
    api = ProviderApi("http://a.test")
    api.resume("tok", 10**13, lambda: None)
    with pytest.raises(AuthError, match="refused the push session"):
        [b async for b in api.push(0)]
    assert api.token is None
    closed = websockets.ConnectionClosed(Close(1001, "going away"), None)
    monkeypatch.setattr(api_module, "ws_connect", lambda url, **kw: _Ws([_frame(1), closed]))
    api.resume("tok", 10**13, lambda: None)
    assert [[i.seq for i in b] async for b in api.push(0)] == [[1]]  # ends; caller reconnects
    bad = _Ws(["{\"type\": \"items\", \"items\": 5}"])
    monkeypatch.setattr(api_module, "ws_connect", lambda url, **kw: bad)
    with pytest.raises(ValidationError, match="expected a list"):
        [b async for b in api.push(0)]
