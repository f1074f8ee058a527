"""PostgreSQL dropped in the middle of a transaction (the backend terminated by an
operator, a failover): the request fails with a typed 503, nothing of it is kept, and
the next request succeeds on a fresh connection."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from accord.storage import engine as engine_module
from accord.wire import encode
from tests.faults.node import (
    assert_store_unavailable,
    group_of_two,
    post,
    received,
    running_node,
)
from tests.harness import application_post, group_path
from tests.pg import create_database, drop_database, pg_admin_url, pg_required

pytestmark = pytest.mark.pg


@pytest.fixture
async def pg_url() -> Any:
    admin = pg_admin_url()
    if admin is None:
        if pg_required():
            pytest.fail("CI=true but ACCORD_TEST_PG is unset: PostgreSQL is required")
        pytest.skip("ACCORD_TEST_PG is unset")
    url, name = await create_database(admin)
    try:
        yield url
    finally:
        await drop_database(admin, name)


async def test_backend_terminated_mid_post_keeps_nothing_and_the_next_post_succeeds(
        tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = pg_admin_url() or ""
    terminated: list[int] = []
    executemany = engine_module._PgTx.executemany

    async def execute_then_drop(self: Any, sql: str, rows: Any) -> None:
        # Posts are written in bulk (group commit, accord.storage.post_batch).
        if not terminated and sql.lstrip().startswith("INSERT INTO messages"):
            # The post's nonce is written; its message and fan-out are next.
            pid = self._c.get_server_pid()
            killer = await asyncpg.connect(admin)
            try:
                await killer.execute("SELECT pg_terminate_backend($1)", pid)
            finally:
                await killer.close()
            terminated.append(pid)
        return await executemany(self, sql, rows)

    async with running_node(tmp_path, database=pg_url) as node:
        group = await group_of_two(node.http)
        assert (await post(node.http, group, b"before")).status_code == 201
        dropped = application_post(group.posting_key, group.group_id, 1, b"dropped")
        path = group_path(group.group_id, "/messages")
        monkeypatch.setattr(engine_module._PgTx, "executemany", execute_then_drop)
        r = await node.http.post(path, json=encode(dropped))
        monkeypatch.undo()
        assert terminated, "the fault was not injected"
        assert_store_unavailable(r)
        assert await received(group.bob) == [b"before"], "a half-applied post was kept"
        # Nothing of it was kept, its nonce included: the very same post is accepted now.
        assert (await node.http.post(path, json=encode(dropped))).status_code == 201
        assert (await post(node.http, group, b"after")).status_code == 201
        assert await received(group.bob) == [b"before", b"dropped", b"after"]


async def test_database_refusing_connections_gives_503_and_the_node_recovers(
        tmp_path: Path, pg_url: str) -> None:
    """Issue 23: the server refusing new connections (here: the database closed to them,
    its backends terminated; also a restart, too many clients) was a 500 with the
    driver's traceback, because only the statement path mapped driver errors."""
    name = pg_url.rsplit("/", 1)[-1]
    admin = await asyncpg.connect(pg_admin_url() or "")
    try:
        async with running_node(tmp_path, database=pg_url) as node:
            group = await group_of_two(node.http)
            # Several pooled connections, each of which dies idle in the outage.
            before = [b"before%d" % i for i in range(6)]
            sent = await asyncio.gather(*(post(node.http, group, b) for b in before))
            assert {r.status_code for r in sent} == {201}
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = $1", name)
            assert_store_unavailable(await post(node.http, group, b"refused"))
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            # The first request after the outage succeeds: dead pooled connections
            # are found at BEGIN and replaced, not each turned into a 503.
            assert (await post(node.http, group, b"after")).status_code == 201
            assert sorted(await received(group.bob)) == sorted([*before, b"after"])
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
