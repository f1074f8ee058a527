"""How a provider is deployed: HTTPS, several nodes on one PostgreSQL with NATS, limits."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import secrets
import ssl
from pathlib import Path

import httpx
import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
from tests.harness import (
    ServerProcess,
    application_post,
    group_of_two,
    group_path,
)
from tests.server.cluster import services_or_skip

from accord.wire import encode
from accord.wire import messages as m


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = generate_private_key(SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(
            ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_https_and_per_address_limits(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server = ServerProcess(tmp_path / "data", tls=(cert, key), rate_limit_scale=1.0).start()
    try:
        assert server.url.startswith("https://")
        trust = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(base_url=server.url, verify=trust) as http:
            r = await http.get("/healthz")
            assert r.status_code == 200 and r.json()["domain"] == "alpha.test"
            assert "server" not in r.headers or "uvicorn" not in r.headers["server"].lower()
            # Registration is limited per address: a burst of attempts meets 429.
            limited = None
            for _ in range(100):  # bounded; the bucket holds 20 and refills 1 per second
                k = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
                body = {"account": f"u{secrets.token_hex(3)}@alpha.test",
                        "signature_key": encode(m.DeviceInfo("x", k, 0))["signature_key"],
                        "signature": "A" * 86}
                r = await http.post("/v1/accounts", json=body)
                if r.status_code == 429:
                    limited = r
                    break
                # Until the limit, each attempt is refused for its invalid signature.
                assert r.status_code == 401 and r.json()["error"] == "crypto_error", r.text
            assert limited is not None and limited.json()["error"] == "rate_limited"
    finally:
        server.stop()


@pytest.mark.pg
@pytest.mark.nats
async def test_two_nodes_share_postgresql_and_wake_each_other_over_nats(tmp_path: Path) -> None:
    """A post accepted by node A is pushed to a device whose WebSocket is on node B."""
    from tests.pg import create_database, drop_database

    admin, nats_url = services_or_skip()
    url, name = await create_database(admin)
    node_a = node_b = None
    try:
        node_a = ServerProcess(tmp_path / "a", database=url, bus=nats_url,
                               rate_limit_scale=50).start()
        node_b = ServerProcess(tmp_path / "b", database=url, bus=nats_url,
                               rate_limit_scale=50).start()
        async with httpx.AsyncClient(base_url=node_a.url) as http_a:
            _, bob, gid, pk1 = await group_of_two(http_a)
            ws_url = node_b.url.replace("http://", "ws://") + "/v1/ws"
            async with websockets.connect(ws_url) as ws:
                await ws.send(json.dumps({"type": "auth", "token": bob.token}))
                first = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert [i["kind"] for i in first["items"]] == ["welcome"]
                post = application_post(pk1, gid, 1, b"via node A")
                r = await http_a.post(group_path(gid, "/messages"), json=encode(post))
                assert r.status_code == 201
                pushed = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert [i["msg_id"] for i in pushed["items"]] == [r.json()["msg_id"]]
    finally:
        for node in (node_a, node_b):
            if node is not None:
                node.stop()
        await drop_database(admin, name)
