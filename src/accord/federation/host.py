"""What federation uses of the provider it runs in, declared here so that it
imports nothing above it (the layer map, docs/ARCHITECTURE.md).

The server's :class:`accord.server.state.Provider` is one; the app factory
(:func:`accord.server.app.create_app`, the composition root) hands it to
:func:`accord.federation.service.start`. Only what federation reads is named.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from accord.ratelimit import RateLimiter
from accord.storage import Store


class HostConfig(Protocol):
    @property
    def domain(self) -> str: ...
    @property
    def data_dir(self) -> Path: ...
    @property
    def key_file(self) -> str | None: ...  # seals the provider's keys in the database
    @property
    def retention_ms(self) -> int: ...  # how long a queued item is kept
    @property
    def max_blob(self) -> int: ...
    @property
    def rate_limit_scale(self) -> float: ...
    @property
    def discover(self) -> bool: ...  # find unmapped peers through DNS (federation.discovery)
    # mutual TLS to peers (federation.peer_tls): our certificate, key and the peers' anchors
    @property
    def tls_cert(self) -> str | None: ...
    @property
    def tls_key(self) -> str | None: ...
    @property
    def peer_ca(self) -> str | None: ...
    @property
    def peer_crl(self) -> str | None: ...  # PEM CRLs of the peers' anchors (revocation)
    @property
    def mimi_transport(self) -> bool: ...  # room traffic to peers over MIMI only (issue 22)
    @property
    def require_consent(self) -> bool: ...  # key material to peers' contacts only (MIMI 5.7)
    @property
    def mimi_plain(self) -> bool: ...  # a plain MIMI peer: no accord-* extension, mTLS only
    @property
    def mimi_withhold(self) -> frozenset[str]: ...  # accord-* keys not in the directory


class Host(Protocol):
    """The provider: its configuration, store, limits and wake-ups."""

    @property
    def config(self) -> HostConfig: ...

    store: Store
    limiter: RateLimiter  # per group and per posting key at the hub
    franking_key: bytes | None  # the hub's, loaded once (federation.franking.hub_key)
    federation: Any  # the Federation that start() attaches
    clock: Callable[[], int]  # now, in ms (peer_tls checks CRLs at this time)

    async def announce(self, device_ids: list[str]) -> None:
        """Tell every node that these devices' queues have news."""
        ...
