"""The storage engine every provider of a test run uses: the one switch.

``ACCORD_TEST_ENGINE=postgresql`` (``make test-pg``) puts every provider a test
starts on its own throwaway PostgreSQL database on the server named by
``ACCORD_TEST_PG``; the default, ``sqlite``, keeps each provider's database in
its data folder. Every fixture and helper that starts a provider asks
:func:`database_for` (through :func:`start_server`, :func:`federation` or
``tests.harness.ServerProcess``), so this module is the only reader of the switch.

A provider's database is keyed by its data folder, as its SQLite file would be:
a provider restarted on the same folder finds its data again. The databases are
dropped when the test process exits.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import sqlite3
import subprocess
import tempfile
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from accord.cli.provider_inspect import DB_NAME, find_needles
from accord.client import local_server
from accord.federation import loopback
from tests.pg import create_database, drop_database, pg_admin_url

ENGINES = ("sqlite", "postgresql")
T = TypeVar("T")


def engine() -> str:
    """The engine named by ``ACCORD_TEST_ENGINE`` (default ``sqlite``)."""
    name = os.environ.get("ACCORD_TEST_ENGINE", "sqlite") or "sqlite"
    if name not in ENGINES:
        raise RuntimeError(f"ACCORD_TEST_ENGINE={name!r}: expected one of {', '.join(ENGINES)}")
    return name


def engine_params() -> list[Any]:
    """The engines a fixture that runs on both should run on: both by default, only
    PostgreSQL when the whole run is on PostgreSQL (SQLite has its own run)."""
    import pytest  # not at the top: the benchmarks import this module through tests.harness

    pg = pytest.param("postgresql", marks=pytest.mark.pg)
    return [pg] if engine() == "postgresql" else ["sqlite", pg]


_databases: dict[Path, str] = {}  # data folder -> database URL
_names: list[str] = []  # to drop at exit


def database_for(data_dir: Path) -> str | None:
    """The ``--database`` for a provider with its data in ``data_dir``: None on SQLite,
    else the URL of a throwaway PostgreSQL database of this folder alone."""
    if engine() == "sqlite":
        return None
    key = Path(data_dir).resolve()
    if key not in _databases:
        admin = pg_admin_url()
        if admin is None:
            raise RuntimeError("ACCORD_TEST_ENGINE=postgresql needs ACCORD_TEST_PG")
        if not _names:
            atexit.register(_drop_all, admin)
        _databases[key], name = _run(create_database(admin, "accord_eng"))
        _names.append(name)
    return _databases[key]


def _drop_all(admin: str) -> None:
    for name in _names:
        _run(drop_database(admin, name))


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to the end from synchronous code, also when the caller is itself
    inside an event loop (an async test starting a provider): in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


def start_server(data_dir: Path, domain: str, **kw: Any) -> local_server.LocalServer:
    """:func:`accord.client.local_server.start_server` on the engine of this run."""
    kw.setdefault("database", database_for(data_dir))
    return local_server.start_server(data_dir, domain, **kw)


def federation(root: Path, domains: list[str], scale: float = 50.0,
               tls: dict[str, tuple[Path, Path, Path]] | None = None,
               mimi: bool = True) -> list[loopback.Provider]:
    """:func:`accord.federation.loopback.federation` on the engine of this run."""
    provs = loopback.federation(root, domains, scale=scale, tls=tls, mimi=mimi)
    for p in provs:
        p.database = database_for(p.data_dir)
    return provs


@contextlib.contextmanager
def running(root: Path, domains: list[str], **kw: Any) -> Iterator[dict[str, loopback.Provider]]:
    """The providers of :func:`federation`, started, by their first label (``alpha``);
    stopped afterwards, whatever happened."""
    provs = federation(root, domains, **kw)
    try:
        for p in provs:
            p.start()
        yield {p.domain.split(".")[0]: p for p in provs}
    finally:
        for p in provs:
            p.stop()


def _database_of(data_dir: Path, database: str | None) -> str | None:
    return database or _databases.get(Path(data_dir).resolve())


def provider_rows(data_dir: Path, sql: str, *args: Any,
                  database: str | None = None) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (``?`` placeholders) read from outside a provider, on whichever
    engine holds its data: its SQLite file (read-only) or its PostgreSQL database."""
    url = _database_of(data_dir, database)
    if url is None:
        db = sqlite3.connect(f"file:{Path(data_dir) / DB_NAME}?mode=ro", uri=True)
        try:
            return [tuple(r) for r in db.execute(sql, args)]
        finally:
            db.close()
    pieces = sql.split("?")
    numbered = pieces[0] + "".join(f"${i}{p}" for i, p in enumerate(pieces[1:], 1))

    async def fetch() -> list[tuple[Any, ...]]:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await conn.fetch(numbered, *args)]
        finally:
            await conn.close()

    return _run(fetch())


def stored_needles(data_dir: Path, needles: list[bytes],
                   database: str | None = None) -> list[tuple[str, int]]:
    """:func:`accord.cli.provider_inspect.find_needles` over everything a provider stores:
    its data folder and, on PostgreSQL, a dump of its database (hits there are named
    ``postgresql``)."""
    hits = find_needles(data_dir, needles)
    url = _database_of(data_dir, database)
    if url is not None:
        with tempfile.TemporaryDirectory() as dump:
            subprocess.run(["pg_dump", "--data-only", "--file", str(Path(dump) / "postgresql"),
                            url], check=True)
            hits += find_needles(Path(dump), needles)
    return hits


def provider_tables(data_dir: Path, database: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a provider, read from outside on either engine."""
    url = _database_of(data_dir, database)
    listing = ("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
               if url is None else
               "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    names = [r[0] for r in provider_rows(data_dir, listing, database=url)]
    return {n: provider_rows(data_dir, f'SELECT * FROM "{n}"', database=url) for n in names}


def admin_store(data_dir: Path, database: str | None = None) -> list[str]:
    """The options of ``accord admin`` naming a provider's store on either engine."""
    url = _database_of(data_dir, database)
    return ["--data", str(data_dir), *(["--database", url] if url else [])]
