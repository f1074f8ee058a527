"""T12 evidence: cover posts and real posts cannot be told apart by the fields a
provider sees; cover traffic is off by default and its schedule is random."""

from __future__ import annotations

import json
import random

import httpx

from accord.client import cover, history_transfer, messaging
from accord.client.api import ProviderApi
from accord.client.local_server import start_server
from accord.privacy.cover import CoverSchedule
from accord.privacy.sizes import visible_shape
from accord.wire import b64d
from tests.e2e.helpers import Clock, new_device


class Recorder(httpx.AsyncBaseTransport):
    """Forwards to the real provider and keeps every hidden-sender post it carried."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.posts: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/messages"):
            await request.aread()
            self.posts.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _seen(req: httpx.Request) -> tuple[object, ...]:
    """Everything a provider sees of a post, except the values that are random per post."""
    body = json.loads(req.content)
    ct = b64d(body["ciphertext"])
    return (req.method, req.url.path, tuple(sorted(req.headers.items())), tuple(sorted(body)),
            body["epoch"], len(b64d(body["nonce"])), len(b64d(body["signature"])),
            len(ct), visible_shape(ct))


async def test_T12_cover_posts_look_like_real_posts(tmp_path) -> None:
    server = start_server(tmp_path / "provider", "alpha.test", log_path=tmp_path / "srv.log")
    clock = Clock()
    try:
        alice = await new_device(tmp_path / "a", "alice@alpha.test", server.url, clock)
        rec = Recorder()
        await alice.disconnect()
        alice._api = ProviderApi(server.url, transport=rec)
        await alice.connect()
        assert not cover.setting(alice)["enabled"]  # off by default
        sched = CoverSchedule(random.Random(1), mean_ms=10_000)
        assert not await cover.tick(alice, sched, clock())  # and a tick sends nothing
        conv = await history_transfer.ensure_self_conversation(alice, clock())
        await alice.sync(clock())
        real, covers = [], []
        for text in ("buy milk", "call the bank", "water the plants"):
            await messaging.send_text(alice, conv, text, clock())
            real.append(rec.posts[-1])
            await cover.send_cover(alice, clock())
            covers.append(rec.posts[-1])
        assert len(rec.posts) == 6
        assert all("authorization" not in r.headers for r in rec.posts)
        assert {_seen(r) for r in real} == {_seen(r) for r in covers}
        assert len({_seen(r) for r in real + covers}) == 1
        # `accord listen --cover`: the flag overrides the (off) setting
        ticks = iter(range(0, 10**9, 6_000))
        assert await cover.while_listening(alice, lambda: next(ticks), random.Random(3),
                                           None, 20_000) == 0
        cover.configure(alice, False, mean_s=5)
        before = len(rec.posts)
        sent = await cover.while_listening(alice, lambda: next(ticks), random.Random(3), True,
                                           60_000)
        assert sent >= 1 and len(rec.posts) == before + sent
        assert {_seen(r) for r in rec.posts[before:]} == {_seen(r) for r in real}
        # the history shows the real notes only
        assert [m.body for m in alice.store.messages(conv["conv_id"])] == [
            "buy milk", "call the bank", "water the plants"]
        await alice.disconnect()
    finally:
        server.stop()


def test_T12_schedule_is_random_bounded_and_has_the_configured_mean() -> None:
    sched = CoverSchedule(random.Random(7), mean_ms=60_000, min_ms=1_000, max_ms=600_000)
    now, sent, gaps, last = 0, 0, [], 0
    for _ in range(200_000):  # one step per simulated second, bounded
        now += 1000
        if sched.due(now):
            sent += 1
            gaps.append(now - last)
            last = now
    assert 2_800 <= sent <= 3_900  # about 200,000 s / 60 s
    assert all(1_000 <= g <= 601_000 for g in gaps)
    assert len(set(gaps)) > 100 and 50_000 <= sum(gaps) / len(gaps) <= 70_000  # not periodic
    other = CoverSchedule(random.Random(8), mean_ms=60_000)
    assert [other.delay() for _ in range(5)] != [
        CoverSchedule(random.Random(7), mean_ms=60_000).delay() for _ in range(5)]
