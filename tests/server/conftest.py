from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from accord.server.harness import ServerProcess, SimDevice
from accord.storage.testing import create_database, drop_database, pg_admin_url, pg_required


def pg_url_or_skip() -> str:
    admin = pg_admin_url()
    if admin is None:
        if pg_required():
            pytest.fail("CI=true but ACCORD_TEST_PG is unset: PostgreSQL is required")
        pytest.skip("ACCORD_TEST_PG is unset")
    return admin


class PgDatabase:
    """A throwaway database held across a synchronous (module-scoped) fixture."""

    def __init__(self, admin: str) -> None:
        self.admin = admin
        self.name = ""

    def __enter__(self) -> str:
        url, self.name = asyncio.run(create_database(self.admin))
        return url

    def __exit__(self, *exc: object) -> None:
        asyncio.run(drop_database(self.admin, self.name))


def run_server(tmp: Path, engine: str, scale: float) -> Iterator[ServerProcess]:
    if engine == "sqlite":
        server = ServerProcess(tmp, rate_limit_scale=scale).start()
        try:
            yield server
        finally:
            server.stop()
        return
    with PgDatabase(pg_url_or_skip()) as url:
        server = ServerProcess(tmp, database=url, rate_limit_scale=scale).start()
        try:
            yield server
        finally:
            server.stop()


ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)]


@pytest.fixture(scope="module", params=ENGINES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    yield from run_server(tmp_path_factory.mktemp("provider"), request.param, 50.0)


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=15.0) as client:
        yield client


@pytest.fixture
def names() -> Names:
    return Names()


class Names:
    """Unique account names, so tests can share one server."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(3)

    def __call__(self, user: str) -> str:
        return f"{user}{self.tag}@alpha.test"


async def new_device(http: httpx.AsyncClient, account: str) -> SimDevice:
    return await SimDevice(http, account).register()
