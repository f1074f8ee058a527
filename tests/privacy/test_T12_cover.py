"""T12 evidence: cover posts go into the device's real conversations and cannot be told
apart from real posts by anything a provider sees (group id in the path included);
members drop them, a pending request does not hold them; cover traffic is off by
default and its schedule is random."""

from __future__ import annotations

import random

import httpx

from accord.client import conversations as convs
from accord.client import cover, history_transfer, message_requests, messaging
from accord.client.api import ProviderApi
from accord.client.device import Device
from accord.privacy.cover import CoverSchedule
from accord.privacy.sizes import visible_shape
from accord.wire.binary import NONCE, SIGNATURE, post_from_binary
from tests.e2e.helpers import Clock, new_device
from tests.engine import start_server
from tests.federation.groups import arrive


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
    """Everything a provider sees of a post (a binary one: MLS bytes as the body, the
    other fields in headers), except the values that are random per post."""
    post = post_from_binary(req.headers, req.content)
    headers = tuple(sorted((k, v) for k, v in req.headers.items() if k not in (NONCE, SIGNATURE)))
    return (req.method, req.url.path, headers, post.epoch, len(post.nonce),
            len(post.signature), len(post.ciphertext), visible_shape(post.ciphertext))


async def _recording(dev: Device, url: str) -> Recorder:
    rec = Recorder()
    await dev.disconnect()
    dev._api = ProviderApi(url, transport=rec)
    await dev.connect()
    return rec


def _group(req: httpx.Request) -> str:
    return req.url.path.split("/")[3]


async def test_T12_cover_posts_look_like_real_posts(tmp_path) -> None:
    """Cover goes into the device's real conversations, chosen at random: per group, a
    cover post and a real post are identical in all a provider sees; members drop it."""
    server = start_server(tmp_path / "provider", "alpha.test", log_path=tmp_path / "srv.log")
    clock = Clock()
    try:
        alice = await new_device(tmp_path / "a", "alice@alpha.test", server.url, clock)
        bob = await new_device(tmp_path / "b", "bob@alpha.test", server.url, clock)
        rec = await _recording(alice, server.url)
        assert not cover.setting(alice)["enabled"]  # off by default
        sched = CoverSchedule(random.Random(1), mean_ms=10_000)
        assert not await cover.tick(alice, sched, clock())  # and a tick sends nothing
        pair = await convs.create(alice, "pair", [bob.identity.account], clock())
        note = await history_transfer.ensure_self_conversation(alice, clock())
        await arrive(bob, "pair", clock)
        for request in message_requests.pending(bob):
            await message_requests.accept(bob, request, clock())
        start = len(rec.posts)
        real: dict[str, set[tuple[object, ...]]] = {}
        for conv in (pair, note):
            for text in ("buy milk", "call the bank"):
                await messaging.send_text(alice, alice.store.conversation(conv["conv_id"]),
                                          text, clock())
                real.setdefault(_group(rec.posts[-1]), set()).add(_seen(rec.posts[-1]))
        real_posts = len(rec.posts)
        rng = random.Random(5)
        for _ in range(12):
            await cover.send_cover(alice, clock(), rng)
        covers = rec.posts[real_posts:]
        assert len(covers) == 12 and len(rec.posts) - start == 16
        assert all("authorization" not in r.headers for r in rec.posts[start:])
        by_group: dict[str, set[tuple[object, ...]]] = {}
        for r in covers:
            by_group.setdefault(_group(r), set()).add(_seen(r))
        assert set(by_group) == set(real)  # both conversations got cover
        assert by_group == real  # per group: nothing a provider sees tells them apart
        # Members drop cover: bob's conversation shows alice's real messages only.
        bconv = await arrive(bob, "pair", clock)
        assert [m.body for m in bob.store.messages(bconv["conv_id"])] == [
            "buy milk", "call the bank"]
        assert [m.body for m in alice.store.messages(note["conv_id"])] == [
            "buy milk", "call the bank"]
        # `accord listen --cover`: the flag overrides the (off) setting
        ticks = iter(range(0, 10**9, 6_000))
        assert await cover.while_listening(alice, lambda: next(ticks), random.Random(3),
                                           None, 20_000) == 0
        cover.configure(alice, False, mean_s=5)
        before = len(rec.posts)
        sent = await cover.while_listening(alice, lambda: next(ticks), random.Random(3), True,
                                           60_000)
        assert sent >= 1 and len(rec.posts) == before + sent
        assert {_seen(r) for r in rec.posts[before:]} <= set().union(*real.values())
        for d in (alice, bob):
            await d.disconnect()
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
