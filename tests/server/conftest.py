from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from tests.engine import engine_params
from tests.harness import ServerProcess, SimDevice
from tests.pg import create_database, drop_database, pg_admin_url, pg_required
from tests.timing import FakeClock


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


ENGINES = engine_params()


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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=ENGINES)
async def provider(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock):
    """A Provider over a real store (both engines), driven by service calls and a fake clock.

    Federation is attached as in a running provider (``accord.server.app``).
    """
    from accord.federation import provider_key
    from accord.federation.service import start as start_federation
    from accord.server.state import Provider, ServerConfig
    from accord.storage import SqlStore
    from accord.storage.engine import PostgresEngine, SqliteEngine

    config = ServerConfig(domain="alpha.test", data_dir=tmp_path)
    if request.param == "sqlite":
        store = await SqlStore(SqliteEngine(tmp_path / "p.sqlite3"), tmp_path / "blobs").open()
        p = Provider(config, store, clock=clock)
        fed = start_federation(p, await provider_key.signing_key(tmp_path, store.secrets),
                               {})
        yield p
        await fed.close()
        await store.close()
        return
    url, name = await create_database(pg_url_or_skip())
    try:
        store = await SqlStore(PostgresEngine(url)).open()
        p = Provider(config, store, clock=clock)
        fed = start_federation(p, await provider_key.signing_key(tmp_path, store.secrets),
                               {})
        yield p
        await fed.close()
        await store.close()
    finally:
        await drop_database(pg_admin_url() or "", name)


@pytest.fixture(params=ENGINES)
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, str | None]]:
    """A data folder and (under PostgreSQL) a database that outlive server restarts."""
    if request.param == "sqlite":
        yield tmp_path, None
        return
    with PgDatabase(pg_url_or_skip()) as url:
        yield tmp_path, url
