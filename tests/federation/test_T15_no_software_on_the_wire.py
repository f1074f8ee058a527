"""T15 on the wire: no software name or version leaves a device or a provider.

Two provider processes (alpha.test, beta.test) reach each other, and two
devices reach their providers, only through recording TCP relays on
127.0.0.1. After a cross-provider conversation (KeyPackage claims, a
Welcome, messages, a hidden-sender post, key transparency checks, a
WebSocket push session), every HTTP request and response head that crossed
a relay, in both directions, is searched: no User-Agent, no Server header,
and no library or runtime name anywhere in the bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord import http_client
from accord.client import conversations as convs
from accord.client import messaging
from accord.federation.loopback import Provider, federation, free_port
from tests.e2e.helpers import Clock, new_device
from tests.federation.groups import arrive

HEAD = re.compile(rb"(?:(?:GET|POST|PUT|DELETE|HEAD|PATCH) \S+ HTTP/1\.1|HTTP/1\.1 \d{3}[^\r\n]*)"
                  rb"\r\n.*?\r\n\r\n", re.S)
SOFTWARE = re.compile(rb"python|httpx|websockets|uvicorn|starlette|h11|hypercorn|aiohttp",
                      re.I)
# Anywhere in a stream (bodies are ciphertext, so only a name followed by a version).
SOFTWARE_VERSION = re.compile(rb"(?:python|httpx|websockets|uvicorn|starlette)[/ -]\d", re.I)


class Relay:
    """A TCP relay on 127.0.0.1 that records every byte, both ways, per connection."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.streams: list[bytearray] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve(self) -> asyncio.Server:
        return await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        sent, received = bytearray(), bytearray()
        self.streams += [sent, received]
        await asyncio.gather(self._pipe(reader, up_writer, sent),
                             self._pipe(up_reader, writer, received))

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                    record: bytearray) -> None:
        try:
            while chunk := await src.read(65536):
                record += chunk
                dst.write(chunk)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, OSError):
                dst.close()

    def heads(self) -> list[bytes]:
        return [h for s in self.streams for h in HEAD.findall(bytes(s))]


@pytest.fixture(scope="module")
def relayed(tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[dict[str, Provider], dict[str, Relay]]]:
    alpha, beta = federation(tmp_path_factory.mktemp("t15"), ["alpha.test", "beta.test"])
    relays = {"alpha": Relay(alpha.port), "beta": Relay(beta.port)}
    alpha.peers = {"beta.test": relays["beta"].url}  # provider-to-provider traffic too
    beta.peers = {"alpha.test": relays["alpha"].url}
    loop = asyncio.new_event_loop()
    servers = [loop.run_until_complete(r.serve()) for r in relays.values()]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        alpha.start()
        beta.start()
        yield {"alpha": alpha, "beta": beta}, relays
    finally:
        alpha.stop()
        beta.stop()
        for s in servers:
            loop.call_soon_threadsafe(s.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


async def test_T15_no_software_name_or_version_on_the_wire(
        relayed: tuple[dict[str, Provider], dict[str, Relay]], tmp_path: Path) -> None:
    _, relays = relayed
    clock = Clock()
    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", relays["alpha"].url,
                             clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@beta.test", relays["beta"].url, clock)
    try:
        conv = await convs.create(alice, "t15", [bob.identity.account], clock())
        await messaging.send_text(alice, conv, "hello", clock())
        await arrive(bob, "t15", clock)  # T14: a stranger's first contact, accepted
        await bob.listen(clock, idle_timeout=0.5)  # a WebSocket push session
        assert http_client.get(relays["alpha"].url + "/healthz").status_code == 200
    finally:
        for d in (alice, bob):
            await d.disconnect()

    heads = relays["alpha"].heads() + relays["beta"].heads()
    text = b"\n".join(heads)
    assert b"/federation/" in text and b"upgrade: websocket" in text.lower()  # all paths seen
    assert len(heads) > 20
    for head in heads:
        names = {line.split(b":", 1)[0].strip().lower() for line in head.split(b"\r\n")[1:]}
        assert not names & {b"user-agent", b"server", b"x-powered-by"}, head
        assert not SOFTWARE.search(head), head
    for relay in relays.values():
        for stream in relay.streams:
            assert not SOFTWARE_VERSION.search(bytes(stream))
