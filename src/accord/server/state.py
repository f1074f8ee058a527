"""The provider's configuration and the objects every service works with."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accord.bus import Bus, InProcessBus, NewsQueue, Notifier
from accord.ratelimit import Limit, RateLimiter
from accord.server.lifecycle import Lifecycle
from accord.storage import Store

DAY_MS = 86_400_000
LIMITED_ACCOUNT = Limit(0.2, 5)  # an account limited by its provider: one request per 5 s


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class ServerConfig:
    domain: str
    data_dir: Path
    database: str | None = None
    bus_url: str | None = None
    retention_ms: int = 30 * DAY_MS
    blob_retention_ms: int = 30 * DAY_MS
    session_ttl_ms: int = 3_600_000
    challenge_ttl_ms: int = 120_000
    max_json_body: int = 512 * 1024
    max_blob: int = 16 * 1024 * 1024
    max_queue_page: int = 500
    max_sockets_per_device: int = 4  # open WebSockets per device on one node
    # WebSockets one client address holds before they authenticate, on one node
    # (each waits up to ws.AUTH_TIMEOUT_S for its first frame; issue 17); scaled
    # by rate_limit_scale like the other per-address limits
    max_pending_sockets_per_address: int = 8
    push_send_timeout_s: float = 30.0  # a WebSocket that takes no frame this long is dropped
    header_timeout_s: float = 10.0  # a request head must arrive within this (slowloris)
    body_timeout_s: float = 120.0  # and its body within this (16 MiB at ~140 kB/s)
    rate_limit_scale: float = 1.0
    peers: tuple[tuple[str, str], ...] = ()  # federation: static (domain, base URL) map
    discover: bool = False  # federation: find unmapped peers at https://DOMAIN/.well-known
    # federation over mutual TLS (issue 22, accord.federation.peer_tls): our certificate
    # and key (also the server's), and the trust anchors of peers' certificates. With
    # peer_ca, every peer route requires a client certificate naming the signing domain.
    tls_cert: str | None = None
    tls_key: str | None = None
    peer_ca: str | None = None
    # PEM CRLs issued by the peer_ca anchors: a revoked peer certificate is refused,
    # inbound and outbound; re-read when the file changes (peer_tls.PeerRevocations)
    peer_crl: str | None = None
    # the 32-byte key that seals the provider's keys in PostgreSQL (federation.provider_key)
    key_file: str | None = None
    # issue 22: room traffic to peers goes over draft-ietf-mimi-protocol-06 (/mimi/v1/update,
    # submitMessage, notify), Accord's extensions used as the peer's directory lists them;
    # False (--accord-transport) sends it over Accord's earlier /federation/v1 routes to
    # Accord peers instead (plain MIMI peers still get MIMI). Both are served either way.
    mimi_transport: bool = True
    # issue 22: our users' key material goes to a peer's user only once they consented
    # (a contact); a stranger's provider is answered noConsent and asks (MIMI 5.7)
    require_consent: bool = False
    # issue 22: run as a plain MIMI peer: the directory lists no accord-* extension,
    # Accord's /federation/v1 is not served, peers are authenticated by mutual TLS
    # alone (no request signatures either way), and everything is sent over MIMI
    mimi_plain: bool = False
    # issue 22: Accord extensions this provider's MIMI directory does not list
    # (--mimi-withhold): peers sending over MIMI then use the draft's endpoint instead
    mimi_withhold: frozenset[str] = frozenset()
    metrics_bind: str | None = None  # host:port of the Prometheus listener (server.metrics)
    drain_timeout_s: float = 10.0  # on SIGTERM, in-flight requests get this long to finish
    limits: dict[str, Limit] = field(
        default_factory=lambda: {
            "address": Limit(200, 400),
            "device": Limit(100, 200),
            "register": Limit(1, 20),
            # Unauthenticated answers that concern one account or device, per
            # address (issue 17, T14: enumeration probes): login challenge and
            # login, finding a linked device, and key transparency lookups (which
            # must stay public for devices of other providers, see PRIVACY.md).
            "probe": Limit(2, 60),
            "kt_lookup": Limit(5, 200),
            "rendezvous": Limit(0.5, 20),  # linking-code slots, per address
            "group": Limit(500, 1000),
            "posting_key": Limit(200, 400),
            "blob_bytes": Limit(4 * 1024 * 1024, 64 * 1024 * 1024),
            # KeyPackage claims (issue 17, T14; accord.server.keypackages.admit_claim):
            "kp_claimer": Limit(0.1, 60),  # per claiming account (local, or a peer's user)
            "kp_peer": Limit(2, 300),  # per peer provider, whatever requesters it names
            "kp_pair": Limit(1 / 600, 3),  # one-time KeyPackages per claimer and target
            "kp_target": Limit(1 / 120, 10),  # one-time KeyPackages per target account
        }
    )

    def scaled_limits(self) -> dict[str, Limit]:
        s = self.rate_limit_scale
        return {k: Limit(v.per_second * s, v.burst * s) for k, v in self.limits.items()}


@dataclass
class Provider:
    """What a request handler needs: config, store, bus, rate limits, and the clock."""

    config: ServerConfig
    store: Store
    bus: Bus = field(default_factory=InProcessBus)
    notifier: Notifier = field(default_factory=Notifier)
    clock: Callable[[], int] = wall_clock_ms
    limiter: RateLimiter = field(init=False)
    # accord.federation.service.Federation: attached by the composition root
    # (accord.server.app) before the first request, so every service may use it.
    federation: Any = None
    transparency: Any = None  # accord.server.transparency.TransparencyLog (issue 7)
    franking_key: bytes | None = None  # the hub's, loaded once (accord.federation.franking)
    report_limiter: RateLimiter = field(init=False)  # for limited accounts (server.reports)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)  # readiness, open WebSockets
    news: NewsQueue = field(init=False)  # wake-ups, published off the request path

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.config.scaled_limits())
        self.report_limiter = RateLimiter({"limited": LIMITED_ACCOUNT})
        self.news = NewsQueue(self.bus, self.notifier.wake_all)

    async def announce(self, device_ids: list[str]) -> None:
        """Tell every node (this one included) that these queues have news: handed to
        the news queue, which publishes it off the request path (issue 23)."""
        self.news.put(device_ids)
