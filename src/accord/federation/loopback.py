"""Federated providers on loopback: ``accord server`` processes that know each other.

For the federation tests, ``accord bench federation`` and demos. Each provider
is its own process on 127.0.0.1 and a free port; all ports are chosen before
any starts, so each gets the others in its static peer map (``--peer``).
``start`` waits (bounded) for ``/healthz``; ``stop`` sends SIGTERM, then
SIGKILL after a grace period; ``kill`` is a crash (SIGKILL).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from accord import http_client
from accord.federation.provider_key import ProviderKey, signing_key_of

START_TIMEOUT_S = 30.0



def free_port() -> int:
    """A TCP port free on loopback now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn_healthy(cmd: list[str], log_path: Path, url: str, timeout_s: float,
                  name: str) -> subprocess.Popen[bytes]:
    """Start a provider process logging to ``log_path`` and wait until its
    ``/healthz`` answers 200 (liveness only: no client certificate, and a test
    certificate is self-signed). RuntimeError, with the process stopped, if it exits
    first or is not healthy within ``timeout_s``."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited early: {log_path.read_text()[-2000:]}")
        try:
            if http_client.get(url + "/healthz", timeout=1.0, verify=False).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    raise RuntimeError(f"{name} did not become healthy in time")

@dataclass
class Provider:
    domain: str
    data_dir: Path
    port: int = field(default_factory=free_port)
    peers: dict[str, str] = field(default_factory=dict)
    scale: float = 50.0
    database: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    # mutual TLS (issue 22): (certificate, key, trust anchors of peers), all PEM files
    tls: tuple[Path, Path, Path] | None = None
    mimi: bool = True  # room traffic over MIMI (the default); False: --accord-transport
    plain: bool = False  # --mimi-plain (with tls): a plain MIMI peer, mutual TLS alone
    crl: Path | None = None  # --peer-crl, with tls: CRLs of the peers' anchors
    require_consent: bool = False  # --require-consent (MIMI 5.7)
    withhold: tuple[str, ...] = ()  # --mimi-withhold: accord-* extensions not listed

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def start(self) -> Provider:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "accord", "server", "--data", str(self.data_dir),
               "--host", "127.0.0.1", "--port", str(self.port), "--domain", self.domain,
               "--rate-limit-scale", str(self.scale)]
        if self.database:
            cmd += ["--database", self.database]
        if self.tls:
            cert, key, ca = self.tls
            cmd += ["--tls-cert", str(cert), "--tls-key", str(key), "--peer-ca", str(ca)]
            if self.crl:
                cmd += ["--peer-crl", str(self.crl)]
        if not self.mimi:
            cmd += ["--accord-transport"]
        if self.require_consent:
            cmd += ["--require-consent"]
        if self.plain:
            cmd += ["--mimi-plain"]
        for ext in self.withhold:
            cmd += ["--mimi-withhold", ext]
        for domain, url in sorted(self.peers.items()):
            cmd += ["--peer", f"{domain}={url}"]
        self.proc = spawn_healthy(cmd, self.log_path, self.url, START_TIMEOUT_S, self.domain)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def key(self) -> ProviderKey:
        """The provider's signing key as its node loads it (tests sign as the provider)."""
        with ThreadPoolExecutor(1) as pool:  # the caller may be inside an event loop
            return pool.submit(asyncio.run, signing_key_of(self.data_dir, self.database)).result()


def federation(root: Path, domains: list[str], scale: float = 50.0,
               tls: Mapping[str, tuple[Path, Path, Path]] | None = None,
               mimi: bool = True) -> list[Provider]:
    """Providers that all know each other; not started. ``tls``: per domain, the files
    of mutual TLS (certificate, key, peers' trust anchors); ``mimi``: each sends room
    traffic over the MIMI transport (the default), else over Accord's earlier routes
    (``--accord-transport``)."""
    provs = [Provider(d, root / d, scale=scale, tls=(tls or {}).get(d), mimi=mimi)
             for d in domains]
    for p in provs:
        p.peers = {q.domain: q.url for q in provs if q is not p}
    return provs
