"""Throwaway PostgreSQL databases for tests and benchmarks.

Each call creates a database with a unique name on the server named by
``ACCORD_TEST_PG`` and drops it afterwards, so runs never share state.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
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


def postgres_bin() -> Path | None:
    """The folder of this machine's PostgreSQL server programs (initdb, pg_ctl), if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


class PrivatePostgres:
    """A PostgreSQL server of one test alone, on a free loopback port, so the test may
    stop and restart the server itself without disturbing the machine's shared one
    (which every other test uses). As root the server runs as the ``postgres`` user
    (PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        from accord.federation.loopback import free_port

        # Not under pytest's tmp_path: its folders are the test user's alone (0700), and
        # the server's user must reach its own folder.
        self.root, self.port = Path(tempfile.mkdtemp(prefix="accord-pg-")), free_port()
        self.bin = postgres_bin()
        assert self.bin is not None, "no PostgreSQL server programs (initdb, pg_ctl)"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *cmd], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=60)

    def init(self) -> PrivatePostgres:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.root / "data"), "-A", "trust",
                  "-U", "postgres", "--no-sync")
        return self.start()

    def start(self) -> PrivatePostgres:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
                   " -c fsync=off -c full_page_writes=off")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-o", options,
                  "-l", str(self.root / "log"), "-w", "-t", "30", "start")
        return self

    def remove(self) -> None:
        """Stop the server and delete its files."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` is a crash: no checkpoint, every connection cut at once."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", mode,
                      "-w", "stop")
