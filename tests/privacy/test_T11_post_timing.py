"""T11 timing: ``accord send`` posts before, and apart from, anything authenticated.

A hidden-sender post hides who sent it only if the provider cannot tie it to a
session by its connection or by what came just before it (issue 18). A
recording TCP relay in front of a live provider notes, per connection, when
each request head arrived and whether it carried a session. Over N sends
through the real CLI: the post arrives on a connection that carries nothing
else and never carried a session, and no authenticated request of that
command comes before it. The gaps the provider could use are measured and
checked against docs/PRIVACY.md ("Hidden senders": what timing remains).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from accord.cli.client_common import POST_JITTER_S
from accord.client import conversations as convs
from accord.client.device import Device
from accord.federation.loopback import Provider, federation, free_port
from tests.e2e.helpers import PASS, Clock, engine, new_device
from tests.federation.groups import acquainted, arrive

HEAD = re.compile(rb"(GET|POST|PUT|DELETE) (\S+) HTTP/1\.1\r\n(.*?)\r\n\r\n", re.S)
SENDS = 3


@dataclass
class Conn:
    opened: float
    chunks: list[tuple[int, float]] = field(default_factory=list)  # (end offset, time)
    data: bytearray = field(default_factory=bytearray)

    def requests(self) -> list[tuple[float, str, str, bool]]:
        """(arrival, method, path, carries a session) for every request head."""
        ends = [e for e, _ in self.chunks]
        out = []
        for mt in HEAD.finditer(bytes(self.data)):
            t = self.chunks[bisect.bisect_left(ends, mt.end())][1]
            auth = b"\nauthorization:" in b"\n" + mt.group(3).lower()
            out.append((t, mt.group(1).decode(), mt.group(2).decode(), auth))
        return out


class Relay:
    """TCP relay on 127.0.0.1 recording what a device sends, per connection, with times."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port, self.port = upstream_port, free_port()
        self.conns: list[Conn] = []

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Conn(time.monotonic())
        self.conns.append(conn)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        await asyncio.gather(self._pipe(reader, up_writer, conn), self._pipe(up_reader, writer))

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                    conn: Conn | None = None) -> None:
        try:
            while chunk := await src.read(65536):
                if conn is not None:
                    conn.data += chunk
                    conn.chunks.append((len(conn.data), time.monotonic()))
                dst.write(chunk)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, OSError):
                dst.close()


@pytest.fixture(scope="module")
def relayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, Relay]]:
    (alpha,) = federation(tmp_path_factory.mktemp("t11timing"), ["alpha.test"])
    relay = Relay(alpha.port)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(relay._relay, "127.0.0.1", relay.port))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        alpha.start()
        yield alpha, relay
    finally:
        alpha.stop()
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def _cli(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ACCORD_PROFILE=str(profile), ACCORD_PASSPHRASE=PASS)
    return subprocess.run([sys.executable, "-c", "from accord.cli.main import main; main()",
                           *args], env=env, capture_output=True, text=True, timeout=90,
                          stdin=subprocess.DEVNULL)


def _is_post(method: str, path: str) -> bool:
    return method == "POST" and path.endswith("/messages")


async def test_T11_send_posts_first_on_a_connection_without_session(
        relayed: tuple[Provider, Relay], tmp_path: Path) -> None:
    _, relay = relayed
    url, clock, tag = f"http://127.0.0.1:{relay.port}", Clock(), os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", url, clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@alpha.test", url, clock)
    try:
        # alice is no stranger to bob (T14): her invitation is no message request, and
        # bob's first send finds it unfetched
        await acquainted(bob, alice.identity.account, clock)
        await convs.create(alice, "timing", [bob.identity.account], clock())
    finally:
        await alice.disconnect()
        alice.close()
    await bob.disconnect()
    bob.close()
    gaps = []
    for i in range(SENDS):
        _, t_post, authed = _send(relay, tmp_path / "a", f"hidden {i}")
        assert all(t > t_post for t in authed), "an authenticated request came before the post"
        gaps.append(min(authed, default=None))
    assert gaps == [None] * SENDS  # `accord send` makes no authenticated request at all
    # bob has not fetched his invitation: the send syncs first (with a session), then
    # waits a random while and posts on a connection of its own.
    _, t_post, authed = _send(relay, tmp_path / "b", "from bob")
    assert authed and max(authed) < t_post
    assert t_post - max(authed) >= POST_JITTER_S[0]
    alice = Device.open(tmp_path / "a", PASS, engine=engine())
    try:
        await alice.connect()
        conv = await arrive(alice, "timing", clock)
        texts = [m.body for m in alice.store.messages(conv["conv_id"]) if m.kind == "text"]
        assert texts[-SENDS - 1:] == [*(f"hidden {i}" for i in range(SENDS)), "from bob"]
    finally:
        await alice.disconnect()
        alice.close()


def _send(relay: Relay, profile: Path, text: str) -> tuple[Conn, float, list[float]]:
    """Run ``accord send``; the post's connection, its arrival, the session requests' arrivals."""
    before, started = len(relay.conns), time.monotonic()
    done = _cli(profile, "send", "timing", text)
    assert done.returncode == 0, done.stderr
    # No wait: the relay records each chunk before it passes it on, so every request
    # the CLI had answered before it exited is recorded already.
    reqs = [(c, r) for c in relay.conns[before:] for r in c.requests() if r[0] >= started]
    posts = [(c, r) for c, r in reqs if _is_post(r[1], r[2])]
    assert posts, reqs
    for conn, (_, method, path, post_auth) in posts:
        assert not post_auth
        # its connection carried this post and nothing else, before or after
        assert [r[1:] for r in conn.requests()] == [(method, path, False)]
    # the text's post is the last; before it, the delivery reports the sync owed (issue 22)
    assert len(posts) <= 2, reqs
    conn, (t_post, _, _, _) = posts[-1]
    return conn, t_post, [r[0] for _, r in reqs if r[3]]
