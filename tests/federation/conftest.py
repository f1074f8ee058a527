"""Three providers (alpha.test, beta.test, gamma.test), each its own process, per module.

The modules that use ``providers`` run twice: on SQLite, and with every
provider on its own PostgreSQL database (skipped without ACCORD_TEST_PG,
a failure under CI=true); only the second under ``make test-pg`` (tests/engine.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from accord.federation.loopback import federation
from tests.engine import engine_params
from tests.federation.capture import DRAFT_POSTS
from tests.federation.providers import Provider
from tests.pg import create_database, drop_database, pg_admin_url, pg_required


def _pg_admin() -> str:
    admin = pg_admin_url()
    if admin is None:
        if pg_required():
            pytest.fail("CI=true but ACCORD_TEST_PG is unset: PostgreSQL is required")
        pytest.skip("ACCORD_TEST_PG is unset")
    return admin


@pytest.fixture(scope="module", params=engine_params())
def providers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[dict[str, Provider]]:
    """The three providers with their defaults: room traffic over MIMI, Accord's
    extensions used as each directory lists them (issue 22)."""
    yield from running(request, tmp_path_factory, mimi=True)


@pytest.fixture(scope="module", params=engine_params())
def accord_providers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[dict[str, Provider]]:
    """The three providers on Accord's earlier transport (``--accord-transport``): only for
    the tests of Accord's own /federation/v1 routes."""
    yield from running(request, tmp_path_factory, mimi=False)


@pytest.fixture(scope="module", params=engine_params())
def mimi_providers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[dict[str, Provider]]:
    """The three providers, each sending room traffic to its peers over MIMI only
    (``--mimi-transport``, issue 22), none listing ``accord-hiddenSenders``: posts to a
    room hubbed elsewhere cross as the draft's submitMessage, naming their sender."""
    yield from running(request, tmp_path_factory, mimi=True, withhold=DRAFT_POSTS)


def running(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            mimi: bool | Collection[str], require_consent: Collection[str] = (),
            withhold: Sequence[str] = ()) -> Iterator[dict[str, Provider]]:
    """alpha, beta and gamma.test, running for the module; ``mimi``: all of them, or the
    domains named, send room traffic over the MIMI transport (the rest: --accord-transport);
    ``require_consent``: the domains whose users need consent (--require-consent);
    ``withhold``: the Accord extensions no provider lists in its MIMI directory."""
    root: Path = tmp_path_factory.mktemp("federation")
    provs = federation(root, ["alpha.test", "beta.test", "gamma.test"])
    for p in provs:
        p.mimi = mimi if isinstance(mimi, bool) else p.domain in mimi
        p.require_consent = p.domain in require_consent
        p.withhold = tuple(withhold)
    with ExitStack() as cleanup:
        if request.param == "postgresql":
            admin = _pg_admin()
            for p in provs:
                p.database, name = asyncio.run(create_database(admin, "accord_fed"))
                cleanup.callback(lambda n=name: asyncio.run(drop_database(admin, n)))
        for p in provs:
            cleanup.callback(p.stop)
        for p in provs:
            p.start()
        yield {p.domain.split(".")[0]: p for p in provs}


@pytest.fixture
async def clients(providers: dict[str, Provider]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    out = {name: httpx.AsyncClient(base_url=p.url, timeout=20.0)
           for name, p in providers.items()}
    try:
        yield out
    finally:
        for c in out.values():
            await c.aclose()


@pytest.fixture
async def accord_clients(accord_providers: dict[str, Provider]
                         ) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    out = {name: httpx.AsyncClient(base_url=p.url, timeout=20.0)
           for name, p in accord_providers.items()}
    try:
        yield out
    finally:
        for c in out.values():
            await c.aclose()


@pytest.fixture
def evil(providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient]):  # type: ignore[no-untyped-def]
    """gamma.test as a malicious peer: any federation request, signed with its real key."""
    from tests.federation.malicious_provider import MaliciousProvider

    return MaliciousProvider(providers["gamma"], clients["alpha"])
