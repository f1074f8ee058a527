"""Throwaway PostgreSQL databases for tests and benchmarks.

Each call creates a database with a unique name on the server named by
``ACCORD_TEST_PG`` and drops it afterwards, so runs never share state.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit


def pg_admin_url() -> str | None:
    return os.environ.get("ACCORD_TEST_PG") or None


def pg_required() -> bool:
    """Under CI a missing PostgreSQL is a failure, not a skip."""
    return os.environ.get("CI", "") == "true"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def create_database(admin_url: str, prefix: str = "accord_test") -> tuple[str, str]:
    """Create an empty database with a unique name; return (its URL, its name)."""
    import asyncpg

    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return _with_database(admin_url, name), name


async def drop_database(admin_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def temporary_database(admin_url: str, prefix: str = "accord_test") -> AsyncIterator[str]:
    """Yield the URL of a fresh, empty database; drop it on exit."""
    url, name = await create_database(admin_url, prefix)
    try:
        yield url
    finally:
        await drop_database(admin_url, name)
