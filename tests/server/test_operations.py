"""What an operator relies on (issue 23): metrics on their own listener, readiness apart
from liveness, and a shutdown that drains instead of dropping."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import websockets
from tests.harness import (
    ServerProcess,
    SimDevice,
    application_post,
    group_of_two,
    group_path,
)
from tests.server.cluster import services_or_skip
from tests.server.relay import TcpRelay
from tests.timing import wait_until

from accord.federation.loopback import free_port
from accord.server.app import create_app
from accord.server.metrics import Metrics, refresh_backlog
from accord.server.state import ServerConfig
from accord.server.ws import PUSH_FRAME_BYTES
from accord.wire import b64e, encode


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in Prometheus's text format, or None when it is absent."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, rest = series.partition("{")
        got = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if metric == name and got == want:
            return float(value)
    return None


async def test_metrics_count_by_route_template_on_their_own_listener(tmp_path: Path) -> None:
    metrics_port = free_port()
    server = ServerProcess(tmp_path, rate_limit_scale=100, extra_args=(
        "--metrics-bind", f"127.0.0.1:{metrics_port}")).start()
    scrape = f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            before = (await http.get(scrape)).text
            posts = "/v1/groups/{group_id}/messages"
            assert sample(before, "accord_http_requests_total", route=posts, method="POST",
                          status="201") is None
            alice, bob, gid, pk1 = await group_of_two(http)
            sent = []
            for _ in range(3):
                post = application_post(pk1, gid, 1, b"CONTENT-" + secrets.token_bytes(8))
                r = await http.post(group_path(gid, "/messages"), json=encode(post))
                assert r.status_code == 201, r.text
                sent.append(post)
            probe = secrets.token_hex(16)
            assert (await http.get(f"/no/such/{probe}")).status_code == 404
            ws_url = server.url.replace("http://", "ws://") + "/v1/ws"
            async with websockets.connect(ws_url) as ws:
                await ws.send(json.dumps({"type": "auth", "token": bob.token}))
                await asyncio.wait_for(ws.recv(), 10)
                during = (await http.get(scrape)).text
            # The public port serves no metrics: the counts stay the operator's.
            public = await http.get("/metrics")
            assert public.status_code == 404 and "accord_http" not in public.text

            async def socket_gone() -> str | None:  # the node sees the close soon after
                text = (await http.get(scrape)).text
                return text if sample(text, "accord_websocket_connections") == 0 else None

            after = await wait_until(socket_gone, 5.0, "the node counting the socket closed")
    finally:
        server.stop()
    assert sample(after, "accord_http_requests_total", route=posts, method="POST",
                  status="201") == 3
    assert sample(after, "accord_http_request_seconds_count", route=posts, method="POST") == 3
    # The probe and the public /metrics: counted, under no path.
    assert sample(after, "accord_http_requests_total", route="unmatched", method="-",
                  status="404") == 2
    assert sample(during, "accord_websocket_connections") == 1
    # queue depths (issue 23): nothing waits once the posts are answered
    assert sample(during, "accord_posts_pending") == 0
    assert sample(during, "accord_news_pending") == 0
    assert sample(during, "accord_news_overflowed_total") == 0
    assert sample(after, "accord_websocket_connections") == 0
    assert sample(after, "accord_federation_outbox_items") == 0
    assert sample(after, "accord_database_errors_total") == 0
    named = [alice.device_id, bob.device_id, alice.account, bob.account, alice.token,
             bob.token, b64e(gid), probe, *(b64e(p.ciphertext) for p in sent), "CONTENT-",
             "127.0.0.1:"]
    for value in named:
        assert value not in after, "an id, token, address or content reached the metrics"


async def test_backlog_and_database_errors_are_counted() -> None:
    metrics = Metrics()

    class Store:
        sizes: dict[str, int] | None = {"beta.test": 3, "gamma.test": 2}
        posts = SimpleNamespace(depth=0)

        async def fed_outbox_size(self) -> dict[str, int]:
            if self.sizes is None:
                raise ConnectionRefusedError("down")
            return self.sizes

    store = Store()
    provider = SimpleNamespace(store=store, lifecycle=SimpleNamespace(sockets=set(),
                                                                      slow_consumers=0),
                               bus=SimpleNamespace(errors=2, connected=False, dropped=4),
                               news=SimpleNamespace(depth=0, overflowed=0),
                               limiter=SimpleNamespace(absorbed={"register": 20.0}))
    metrics.watch(provider)  # type: ignore[arg-type]
    await refresh_backlog(provider, metrics)  # type: ignore[arg-type]
    text = _text(metrics)
    assert sample(text, "accord_federation_outbox_items") == 5
    assert sample(text, "accord_federation_outbox_peers") == 2
    assert sample(text, "accord_bus_errors_total") == 2
    assert sample(text, "accord_bus_connected") == 0
    assert sample(text, "accord_bus_news_dropped_total") == 4
    assert 'accord_rate_limit_absorbed_tokens_total{limit="register"} 20.0' in text
    assert "beta.test" not in text  # a peer is never a label
    store.sizes = None
    await refresh_backlog(provider, metrics)  # type: ignore[arg-type]
    assert sample(_text(metrics), "accord_database_errors_total") == 1


def _text(metrics: Metrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()


async def test_a_node_whose_start_has_not_finished_is_not_ready(tmp_path: Path) -> None:
    app = create_app(ServerConfig(domain="alpha.test", data_dir=tmp_path))
    transport = httpx.ASGITransport(app=app)  # no lifespan: the node never finished starting
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as http:
        r = await http.get("/readyz")
    assert r.status_code == 503 and r.json() == {"status": "unavailable", "reason": "starting"}


async def _wait_ready(http: httpx.AsyncClient, status: int, reason: str | None = None,
                      timeout_s: float = 20.0) -> httpx.Response:
    async def answered() -> httpx.Response | None:
        r = await http.get("/readyz", timeout=5.0)
        ok = r.status_code == status and (reason is None or r.json().get("reason") == reason)
        return r if ok else None

    return await wait_until(answered, timeout_s, f"/readyz answering {status} {reason or ''}")


@pytest.mark.pg
@pytest.mark.nats
async def test_readiness_follows_the_database_and_the_bus_while_liveness_stays(
        tmp_path: Path) -> None:
    """A node cut from PostgreSQL, then from NATS, is alive but not ready; back, it is ready."""
    from tests.pg import create_database, drop_database

    admin, nats_url = services_or_skip()
    url, name = await create_database(admin)
    pg = TcpRelay(httpx.URL(url).host, httpx.URL(url).port or 5432)
    bus = TcpRelay(httpx.URL(nats_url).host, httpx.URL(nats_url).port or 4222)
    metrics_port = free_port()
    node = None
    try:
        relayed = str(httpx.URL(url).copy_with(port=pg.port))
        node = ServerProcess(tmp_path, database=relayed, bus=f"nats://127.0.0.1:{bus.port}",
                             extra_args=("--metrics-bind", f"127.0.0.1:{metrics_port}")).start()
        async with httpx.AsyncClient(base_url=node.url) as http:
            assert (await _wait_ready(http, 200)).json() == {"status": "ready"}
            alice = await SimDevice(http, "alice@alpha.test").register()
            pg.cut()
            down = await _wait_ready(http, 503, "database")
            assert down.json() == {"status": "unavailable", "reason": "database"}
            assert "postgres" not in down.text and str(pg.port) not in down.text
            assert (await http.get("/healthz")).status_code == 200  # alive all the same
            # A request meanwhile fails clearly (503, retry), never as an internal error.
            r = await http.get("/v1/queue", headers=alice.auth)
            assert r.status_code == 503 and r.json()["error"] == "unavailable", r.text
            assert r.headers["retry-after"] == "2"
            pg.restore()
            await _wait_ready(http, 200)
            assert (await http.get("/v1/queue", headers=alice.auth)).status_code == 200
            bus.cut()
            await _wait_ready(http, 503, "bus")
            assert (await http.get("/healthz")).status_code == 200
            bus.restore()
            await _wait_ready(http, 200, timeout_s=30.0)
            scraped = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        assert (sample(scraped, "accord_database_errors_total") or 0) >= 1
        assert (sample(scraped, "accord_bus_errors_total") or 0) >= 1
        assert sample(scraped, "accord_bus_connected") == 1
    finally:
        if node is not None:
            node.stop()
        pg.close()
        bus.close()
        await drop_database(admin, name)


async def test_sigterm_drains_requests_closes_websockets_with_1001_and_exits_0(
        tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, rate_limit_scale=100,
                           extra_args=("--drain-timeout", "20")).start()
    assert server.proc is not None
    release = asyncio.Event()
    blob = secrets.token_bytes(64 * 1024)

    head_out = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield blob[:1024]
        head_out.set()  # asked for more: the head and the first bytes are written
        await release.wait()  # the rest arrives only after SIGTERM
        yield blob[1024:]

    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as http:
            alice = await SimDevice(http, "alice@alpha.test").register()
            ws = await websockets.connect(server.url.replace("http://", "ws://") + "/v1/ws")
            await ws.send(json.dumps({"type": "auth", "token": alice.token}))
            headers = {**alice.auth, "content-length": str(len(blob))}
            upload = asyncio.create_task(http.post("/v1/blobs", content=slow_body(),
                                                   headers=headers))
            await asyncio.wait_for(head_out.wait(), 10)
            assert not upload.done()
            server.proc.send_signal(signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
            # The node takes no new connection while it drains.
            async with httpx.AsyncClient() as fresh:
                with pytest.raises(httpx.ConnectError):
                    await fresh.get(server.url + "/healthz")
            release.set()
            r = await asyncio.wait_for(upload, 20)
            assert r.status_code == 201, r.text  # the in-flight request was finished
        code = await asyncio.to_thread(server.proc.wait, 20)
        assert code == 0
    finally:
        server.stop()
    assert "closed 1 WebSockets with 1001" in server.log_path.read_text()


async def test_a_reader_that_stops_reading_is_dropped_and_resumes_from_its_cursor(
        tmp_path: Path) -> None:
    """Backpressure: a stalled WebSocket holds one page, then is closed; nothing is lost."""
    metrics_port = free_port()
    server = ServerProcess(tmp_path, rate_limit_scale=100, extra_args=(
        "--metrics-bind", f"127.0.0.1:{metrics_port}", "--push-send-timeout", "1")).start()
    scrape = f"http://127.0.0.1:{metrics_port}/metrics"
    ws_url = server.url.replace("http://", "ws://") + "/v1/ws"
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as http:
            alice, bob, gid, pk1 = await group_of_two(http)
            stalled = socket.socket()
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.connect(("127.0.0.1", server.port))
            # Reads nothing: one frame in the client's queue, then TCP's window closes.
            ws = await websockets.connect(ws_url, sock=stalled, max_queue=1, max_size=None)
            await ws.send(json.dumps({"type": "auth", "token": bob.token}))
            sent = []
            for _ in range(30):  # about 6 MB: more than the socket buffers hold
                post = application_post(pk1, gid, 1, secrets.token_bytes(200_000))
                r = await http.post(group_path(gid, "/messages"), json=encode(post))
                assert r.status_code == 201, r.text
                sent.append(r.json()["msg_id"])

            async def dropped() -> bool:  # the send timeout is 1 s
                text = (await http.get(scrape)).text
                return sample(text, "accord_websocket_slow_consumers_total") == 1 and \
                    sample(text, "accord_websocket_connections") == 0

            await wait_until(dropped, 10.0, "the stalled socket dropped as a slow consumer")
            ws.transport.abort()
            # The same device, reading now, gets every item from its cursor, in order,
            # in frames no larger than the bound.
            got: list[str] = []
            async with websockets.connect(ws_url, max_size=4 * 1024 * 1024) as again:
                await again.send(json.dumps({"type": "auth", "token": bob.token}))
                while len(got) < len(sent) + 1:  # the Welcome first
                    frame = await asyncio.wait_for(again.recv(), 15)
                    items = json.loads(frame)["items"]
                    assert len(frame) <= PUSH_FRAME_BYTES or len(items) == 1
                    got += [i["msg_id"] for i in items]
            assert got[1:] == sent
    finally:
        server.stop()
    assert "dropped a reader that took no frame in 1 s" in server.log_path.read_text()
