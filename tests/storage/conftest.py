from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.engine import engine_params
from tests.pg import pg_admin_url, pg_required, temporary_database

from accord.storage import SqlStore
from accord.storage.engine import PostgresEngine, SqliteEngine


@pytest.fixture(params=engine_params())
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    """The same suite on both engines; PostgreSQL skips only outside CI without a server."""
    if request.param == "sqlite":
        s = await SqlStore(SqliteEngine(tmp_path / "p.sqlite3"), tmp_path / "blobs").open()
        yield s
        await s.close()
        return
    admin = pg_admin_url()
    if admin is None:
        if pg_required():
            pytest.fail("CI=true but ACCORD_TEST_PG is unset: PostgreSQL is required")
        pytest.skip("ACCORD_TEST_PG is unset")
    async with temporary_database(admin) as url:
        s = await SqlStore(PostgresEngine(url, max_size=20)).open()
        yield s
        await s.close()
