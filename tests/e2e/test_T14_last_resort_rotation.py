"""The owner's device reacts to KeyPackage claim pressure (issue 17, T14): a real provider
with the production limits, real devices.

Bob adds alice to more conversations than his per-target budget allows: the
provider answers the extra claims with alice's last-resort KeyPackage. Alice
joins every conversation (the last-resort private key is kept, RFC 9420
16.8), is alerted, and rotates the last-resort KeyPackage.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.client import alerts
from accord.client import conversations as convs
from accord.server.state import ServerConfig
from tests.e2e.helpers import Clock, new_device
from tests.federation.groups import arrive
from tests.harness import ServerProcess

PAIR = int(ServerConfig("x", Path()).limits["kp_pair"].burst)


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("strict"), rate_limit_scale=1.0).start()
    try:
        yield server
    finally:
        server.stop()


async def test_T14_owner_joins_through_last_resort_is_alerted_and_rotates_it(
    strict_server: ServerProcess, tmp_path: Path
) -> None:
    clock = Clock()
    tag = os.urandom(3).hex()
    alice = await new_device(tmp_path / "a", f"alice{tag}@alpha.test", strict_server.url, clock)
    bob = await new_device(tmp_path / "b", f"bob{tag}@alpha.test", strict_server.url, clock)
    try:
        extra = 2
        for i in range(PAIR + extra):
            conv = await convs.create(bob, f"c{i}", [alice.identity.account], clock())
        suite = bob.engine.cipher_suite(bob.store.load_group(conv["group_id"]))
        status = await alice.api.key_package_count(suite)
        assert (status.last_resort_used, status.withheld) == (True, extra)
        await arrive(alice, f"c{PAIR + extra - 1}", clock)  # bob is a stranger: accepted
        # Both Welcomes made with the same last-resort KeyPackage could be joined.
        names = sorted(c["name"] for c in alice.store.conversations())
        assert len(names) == PAIR + extra
        kinds = [a["kind"] for a in alerts.pending(alice.store)]
        assert kinds == ["key_packages_withheld"]
        assert alerts.pending(alice.store)[0]["detail"] == {"count": extra}
        # Rotated: a fresh, unused last-resort KeyPackage, nothing withheld.
        status = await alice.api.key_package_count(suite)
        assert (status.last_resort, status.last_resort_used, status.withheld) == (
            True, False, 0)
    finally:
        for d in (alice, bob):
            await d.disconnect()
