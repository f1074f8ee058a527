"""Application posts over MIMI (issue 22, draft-ietf-mimi-protocol-06 5.4): every provider
here sends room traffic over MIMI only (``--mimi-transport``). A device on beta.test posts
into a room hubbed on alpha.test with its session (MIMI names the sender); beta checks the
session's device is a member, names its account, and hands the hub a SubmitMessageRequest
on ``/mimi/v1/submitMessage``; the hub's answer becomes the device's. A room hubbed at the
device's own provider keeps the hidden sender (T11): its posts carry no session.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from accord.client import conversations as convs
from accord.client import messaging, report, rooms
from accord.client.api import ProviderApi
from accord.client.device import Device
from accord.errors import Conflict
from accord.mls import group as g
from accord.wire import messages as m
from accord.wire import mimi as w
from accord.wire import privacy as w_privacy
from tests.e2e.helpers import Clock, new_device
from tests.federation.groups import alice_and_bob, arrive, bodies, join_from_queue, user
from tests.federation.providers import MlsDevice, Provider
from tests.harness import SimDevice, application_post, group_path

SUBMIT_LINE = "POST /mimi/v1/submitMessage/"
FED_POSTS_LINE = "POST /federation/v1/posts"


@pytest.fixture(scope="module")
def providers(mimi_providers: dict[str, Provider]) -> Iterator[dict[str, Provider]]:
    """The federation's three providers, each sending room traffic over MIMI only."""
    yield mimi_providers




class Recorder(httpx.AsyncBaseTransport):
    """A device's HTTP transport that notes each post it sends: whether it showed a
    session, and the provider's answer."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.posts: list[tuple[bool, int, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await self.inner.handle_async_request(request)
        if request.method != "POST" or not request.url.path.endswith("/messages"):
            return resp
        body = await resp.aread()
        self.posts.append(("authorization" in request.headers, resp.status_code,
                           orjson.loads(body)))
        return httpx.Response(resp.status_code, headers=resp.headers, content=body)

    def api(self, url: str) -> ProviderApi:
        """A device's provider session over this transport."""
        return ProviderApi(url, transport=self)

    async def aclose(self) -> None:  # each request's client closes it; closed at the end
        pass


def log_count(p: Provider, line: str) -> int:
    return p.log_path.read_text(errors="replace").count(line)


async def test_T11_a_post_to_a_room_hubbed_elsewhere_goes_to_the_hub_over_mimi_submit(
    providers: dict[str, Provider], tmp_path: Path,
) -> None:
    """bob@beta's post reaches alpha (the hub) on /mimi/v1/submitMessage under his session,
    and alice reads it; alice's post in the room her own provider hubs carries no session
    (T11), nor does anything reach alpha on Accord's /federation/v1/posts."""
    clock, tag = Clock(), secrets.token_hex(3)
    recorders = {"alice": Recorder(), "bob": Recorder()}
    devs = []
    for name, domain in (("alice", "alpha"), ("bob", "beta")):
        devs.append(await new_device(
            tmp_path / name, f"{name}{tag}@{domain}.test", providers[domain].url, clock,
            provider=recorders[name].api))
    alice, bob = devs
    alpha = providers["alpha"]
    try:
        conv = await convs.create(alice, "over mimi", [bob.identity.account], clock())
        bconv = await arrive(bob, "over mimi", clock)
        gid = conv["group_id"]
        submitted, fed_posts = log_count(alpha, SUBMIT_LINE), log_count(alpha, FED_POSTS_LINE)

        await messaging.send_text(bob, bconv, "hello from beta", clock())
        assert "hello from beta" in await bodies(alice, "over mimi", "hello from beta", clock)
        assert rooms.named_sender(bob, gid) and not rooms.named_sender(alice, gid)
        showed, status, answer = recorders["bob"].posts[-1]
        assert (showed, status) == (True, 201)
        # the hub's accepted time and Frank (T13) come back as the device's answer
        assert answer["created_at"] > 0 and answer["frank"]
        assert log_count(alpha, SUBMIT_LINE + "{target:path} -> 200") >= 1
        assert log_count(alpha, SUBMIT_LINE) == submitted + 1
        assert log_count(alpha, FED_POSTS_LINE) == fed_posts == 0

        await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]),
                                  "hidden at home", clock())
        assert "hidden at home" in await bodies(bob, "over mimi", "hidden at home", clock)
        showed, status, answer = recorders["alice"].posts[-1]
        assert (showed, status, answer.get("created_at")) == (False, 201, None)
        # and bob's device reported alice's text delivered, over submitMessage too
        assert log_count(alpha, SUBMIT_LINE) == submitted + 2

        # T13, MIMI 5.4.1: both franks are the hub's, signed with the key the room's
        # franking_agent names; alice's (named over MIMI) covers bob's user URI, bob's
        # (a hidden sender at home) the empty one; each report verifies at the hub
        await franked_and_reported(alice, conv["conv_id"], "hello from beta",
                                   rooms.sender_uri(bob.identity.account))
        await franked_and_reported(bob, bconv["conv_id"], "hidden at home", "")
    finally:
        for dev in devs:
            await dev.disconnect()
        for rec in recorders.values():
            await rec.inner.aclose()


async def franked_and_reported(dev: Device, conv_id: str, text: str, sender_uri: str) -> None:
    """``text`` in ``conv_id`` on ``dev`` came with a signed Frank over ``sender_uri`` that
    the device checked, and reporting it verifies at the room's hub (alpha)."""
    (msg,) = [x for x in dev.store.messages(conv_id) if x.body == text]
    kept = msg.meta["franking"]
    frank = w.Frank.from_bytes(bytes.fromhex(kept["frank"]))
    assert kept["sender_uri"] == sender_uri
    assert frank.franking_signature_ciphersuite == dev.engine.cipher_suite(
        dev.store.load_group(bytes.fromhex(kept["group_id"])))
    assert len(frank.franking_integrity_signature) == 64
    result = await report.report(dev, dev.store.conversation(conv_id), msg.msg_id)
    assert result.hub == "alpha.test"
    # at the hub: verified; from beta, over MIMI's reportAbuse: acknowledged (5.9)
    assert (result.verified, result.outcome) == (
        (True, w_privacy.VERIFIED) if dev.identity.account.endswith("@alpha.test")
        else (False, w_privacy.ACKNOWLEDGED))


async def _room(clients: dict[str, httpx.AsyncClient]) -> tuple[MlsDevice, MlsDevice, bytes, str]:
    tag = secrets.token_hex(3)
    alice, bob, gid = await alice_and_bob(clients["alpha"], clients["beta"], tag)
    return alice, bob, gid, tag


async def _post(http: httpx.AsyncClient, gid: bytes, post: m.ApplicationPost,
                by: SimDevice | None, **extra: Any) -> httpx.Response:
    from accord.wire import encode

    headers = by.auth if by is not None else {}
    return await http.post(group_path(gid, "/messages"), json={**encode(post), **extra},
                           headers=headers)


def _refused(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"] == code, r.text


async def test_T08_T11_mimi_post_needs_the_session_of_a_member_device(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
) -> None:
    """No session: a typed 401 that says why; a session of bob's other device (his account
    is a member, the device is not) or of eve (not a member): nothing for the hub, which
    knows users only and would take bob's name; a request cannot name anyone itself."""
    alpha = providers["alpha"]
    alice, bob, gid, tag = await _room(clients)
    r = await bob.call("GET", group_path(gid), expect=200)
    assert r.json()["named_sender"] is True  # bob's provider says so
    r = await alice.call("GET", group_path(gid), expect=200)
    assert r.json()["named_sender"] is False  # the hub is alice's own provider
    bob2 = await bob.link(SimDevice(clients["beta"], bob.account))
    eve = await user(clients["beta"], f"eve{tag}@beta.test")
    before = log_count(alpha, SUBMIT_LINE)

    def post() -> m.ApplicationPost:
        return application_post(bob.posting_key(), gid, bob.epoch(), b"x")

    _refused(await _post(clients["beta"], gid, post(), None), 401, "sender_required")
    _refused(await _post(clients["beta"], gid, post(), bob2), 404, "not_found")
    _refused(await _post(clients["beta"], gid, post(), eve), 404, "not_found")
    # the request has no place for a sender's name: one it carries anyway is refused
    r = await _post(clients["beta"], gid, post(), bob, sending_uri=f"mimi://beta.test/u/eve{tag}")
    assert r.status_code in (400, 422), r.text
    assert log_count(alpha, SUBMIT_LINE) == before  # nothing of it reached the hub
    # bob's own device, with its session: taken
    seen = len((await alice.fetch()).items)
    msg, bob.state = g.protect(bob.state, b"mine")
    real = m.ApplicationPost(bob.epoch(), secrets.token_bytes(16), bytes(msg.to_bytes()),
                             bytes(64))
    r = await _post(clients["beta"], gid, real, bob)
    assert r.status_code == 201, r.text
    items = await alice.wait_items(seen + 1)
    assert [alice.read(i.body) for i in items if i.kind == "application"] == [b"mine"]


async def test_T04_T08_mimi_post_replay_and_epochs_end_to_end(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
) -> None:
    """The same MLS message again, under a new nonce, is a replay (the hub's nonce is the
    message's hash, 5.4): 409, and the hub fans out one. A message of an epoch the room has
    left is ``epochTooOld``: the device's EpochConflict names the current epoch; one of an
    epoch the room has not reached is ``notAllowed``: a 422."""
    alice, bob, gid, tag = await _room(clients)
    api = ProviderApi(providers["beta"].url)

    async def no_relogin() -> None:
        raise AssertionError("bob's session is fresh")

    api.resume(bob.token, 2**62, no_relogin)
    try:
        seen = len((await alice.fetch()).items)
        msg, bob.state = g.protect(bob.state, b"once")
        ciphertext, epoch = bytes(msg.to_bytes()), bob.epoch()
        sign = bob.posting_key().sign
        first = await api.post_application(gid, epoch, secrets.token_bytes(16), ciphertext,
                                           sign, named=True)
        assert first.created_at is not None and first.msg_id
        with pytest.raises(Conflict) as replay:
            await api.post_application(gid, epoch, secrets.token_bytes(16), ciphertext, sign,
                                       named=True)
        assert getattr(replay.value, "current_epoch", None) is None  # a replay, not an epoch
        items = [i for i in await alice.wait_items(seen + 1) if i.kind == "application"]
        assert [alice.read(i.body) for i in items] == [b"once"]

        stale, bob.state = g.protect(bob.state, b"too late")
        carol = await user(clients["alpha"], f"carol{tag}@alpha.test")
        await alice.commit_add(await alice.claim(carol.account))
        await join_from_queue(carol)
        r = await _post(clients["beta"], gid, m.ApplicationPost(
            epoch, secrets.token_bytes(16), bytes(stale.to_bytes()), bytes(64)), bob)
        assert r.status_code == 409 and r.json()["current_epoch"] == epoch + 1, r.text

        ahead = application_post(bob.posting_key(), gid, epoch + 5, b"x")
        _refused(await _post(clients["beta"], gid, ahead, bob), 422, "validation_error")
        # nothing but "once" reached alice: one application item in her queue
        assert [i.kind for i in (await alice.fetch()).items].count("application") == 1
    finally:
        await api.close()
