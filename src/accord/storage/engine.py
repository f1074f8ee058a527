"""The SQL engines under the provider store: one dialect layer, two drivers.

Every statement in ``accord.storage`` is written once, with ``?`` placeholders
and a few ``{TOKEN}`` slots; a :class:`Dialect` turns it into what the driver
speaks. Nothing outside this package sees SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from accord.errors import StoreUnavailable
from accord.private_files import private_database

Row = tuple[Any, ...]
BUSY_TIMEOUT_MS = 5000  # how long a SQLite statement waits for another process's lock


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    tokens: tuple[tuple[str, str], ...]
    numbered_params: bool

    def render(self, sql: str) -> str:
        return _render(self, sql)


@lru_cache(maxsize=512)
def placeholders(n: int) -> str:
    """``?, ?, ...``: the ``n`` placeholders of an ``IN (...)`` list."""
    return ", ".join("?" * n)


def _render(dialect: Dialect, sql: str) -> str:
    for key, value in dialect.tokens:
        sql = sql.replace("{" + key + "}", value)
    if dialect.numbered_params:
        counter = iter(range(1, 10_000))
        sql = re.sub(r"\?", lambda _m: f"${next(counter)}", sql)
    return sql


SQLITE = Dialect(
    "sqlite",
    (
        ("BLOB", "BLOB"),
        ("BIGINT", "INTEGER"),
        ("AUTO_PK", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        ("FOR_UPDATE", ""),
        ("SKIP_LOCKED", ""),
    ),
    numbered_params=False,
)
POSTGRES = Dialect(
    "postgresql",
    (
        ("BLOB", "BYTEA"),
        ("BIGINT", "BIGINT"),
        ("AUTO_PK", "BIGSERIAL PRIMARY KEY"),
        ("FOR_UPDATE", "FOR UPDATE"),
        # SKIP LOCKED lets concurrent claims each take a different row instead of
        # all waiting for, and then missing, the same one.
        ("SKIP_LOCKED", "FOR UPDATE SKIP LOCKED"),
    ),
    numbered_params=True,
)


def unavailable_errors() -> tuple[type[BaseException], ...]:
    """What the drivers raise when the database cannot be reached or is going down
    (not a refused statement): a request that meets one may succeed later (503)."""
    import asyncpg

    return (OSError, TimeoutError, sqlite3.OperationalError, asyncpg.PostgresConnectionError,
            asyncpg.InterfaceError, asyncpg.exceptions.OperatorInterventionError,
            asyncpg.exceptions.InsufficientResourcesError,  # class 53: disk full, out of memory
            # An idle pooled connection whose backend was terminated: the server's
            # unsolicited FATAL meets the next statement's start (issue 23).
            asyncpg.InternalClientError)


def _is_unavailable(exc: BaseException) -> bool:
    """A failure of the database itself, not of the statement: the disk is full, the
    file is locked by another process or damaged, or the connection dropped."""
    # sqlite3.DatabaseError itself (not a subclass such as IntegrityError) is SQLite's
    # "database disk image is malformed" or "file is not a database".
    return isinstance(exc, unavailable_errors()) or type(exc) is sqlite3.DatabaseError


@contextlib.contextmanager
def unavailable_as_typed_error() -> Any:
    """Turn a failure of the database into :class:`StoreUnavailable` (a 503 with a code).

    The transaction it ends has rolled back, so the caller may retry. The driver's text
    is not repeated: it may name a file, a host or a user.
    """
    try:
        yield
    except Exception as exc:
        if not _is_unavailable(exc):
            raise
        raise StoreUnavailable(f"the provider's database is unavailable "
                               f"({type(exc).__name__}); retry later") from exc


class Tx(ABC):
    """One open transaction. Statements use ``?`` placeholders."""

    @abstractmethod
    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; return the number of rows it changed."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abstractmethod
    async def fetchall(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetchall(sql, *args)
        return rows[0] if rows else None


class Engine(ABC):
    dialect: Dialect

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def transaction(self) -> Any:
        """An async context manager yielding a :class:`Tx`; commits on clean exit."""

    def read(self) -> Any:
        """Like :meth:`transaction`, for statements that only read committed data."""
        return self.transaction()


class _SqliteTx(Tx):
    def __init__(self, engine: SqliteEngine, reader: bool = False) -> None:
        self._run = engine.run_read if reader else engine.run

    async def execute(self, sql: str, *args: Any) -> int:
        return int(await self._run(lambda c: c.execute(SQLITE.render(sql), args).rowcount))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._run(lambda c: c.executemany(SQLITE.render(sql), rows))

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        return list(await self._run(lambda c: c.execute(SQLITE.render(sql), args).fetchall()))


class SqliteEngine(Engine):
    """A writer connection and a reader connection, each on its own thread.

    WAL with ``synchronous=FULL`` makes every commit durable (the WAL is
    fsynced), so a transaction returns only once its work would survive a
    SIGKILL or a power loss. Writers are serialized by an asyncio lock; to
    pay one fsync for many of them, transactions that queue up while one
    runs join the same SQLite transaction, each inside its own SAVEPOINT (a
    failure rolls back only its own work), and all of them return once that
    shared COMMIT is on disk ("group commit"). Readers use the other
    connection and see committed data only.
    """

    dialect = SQLITE
    MAX_BATCH = 64
    INLINE_COMMIT_MAX_S = 0.005

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="accord-sqlite-w")
        self._read_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="accord-sqlite-r")
        self._lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        self._conn: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._queued = 0
        self._batch: asyncio.Future[None] | None = None
        self._batch_size = 0
        self._commit_s = 0.0  # recent COMMIT times, a moving average (see _commit)

    async def run(self, fn: Any) -> Any:
        # Statements run inline: they take microseconds, far less than a hop to
        # a worker thread. Only what may block goes to the writer's thread (see
        # _sync): opening and closing, BEGIN while another process holds the lock
        # (_begin), COMMIT's fsync while the disk is slow (_commit).
        conn = self._conn
        assert conn is not None, "engine not open"
        return fn(conn)

    async def run_read(self, fn: Any) -> Any:
        conn = self._reader
        assert conn is not None, "engine not open"
        return fn(conn)

    async def _sync(self, fn: Any) -> Any:
        conn = self._conn
        assert conn is not None, "engine not open"
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, conn)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return conn

    async def open(self) -> None:
        private_database(self.path)  # 0600 in a 0700 folder; SQLite gives -wal/-shm the same mode
        loop = asyncio.get_running_loop()
        with unavailable_as_typed_error():
            self._conn = await loop.run_in_executor(self._pool, self._connect)
            self._reader = await loop.run_in_executor(self._read_pool, self._connect)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        if self._reader is not None:
            reader, self._reader = self._reader, None
            await loop.run_in_executor(self._read_pool, reader.close)
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await loop.run_in_executor(self._pool, conn.close)
        self._pool.shutdown(wait=True)
        self._read_pool.shutdown(wait=True)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        with unavailable_as_typed_error():
            async with self._read_lock:
                # A read transaction gives the statements of one call one snapshot.
                await self.run_read(lambda c: c.execute("BEGIN"))
                try:
                    yield _SqliteTx(self, reader=True)
                finally:
                    await self.run_read(lambda c: c.execute("COMMIT"))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        with unavailable_as_typed_error():
            async with self._joined_transaction() as tx:
                yield tx

    @asynccontextmanager
    async def _joined_transaction(self) -> AsyncIterator[Tx]:
        self._queued += 1
        try:
            await self._lock.acquire()
        finally:
            self._queued -= 1
        joined: asyncio.Future[None] | None = None
        try:
            if self._batch is None:
                await self._begin()
                self._batch, self._batch_size = asyncio.get_running_loop().create_future(), 0
            batch = self._batch
            await self.run(lambda c: c.execute("SAVEPOINT tx"))
            try:
                yield _SqliteTx(self)
            except BaseException as exc:
                await self._roll_back_own_work(exc)
                raise
            await self.run(lambda c: c.execute("RELEASE tx"))
            self._batch_size += 1
            joined = batch
        finally:
            try:
                await self._end_batch_if_due()
            finally:
                self._lock.release()
        if joined is not None:
            await asyncio.shield(joined)  # returns once the shared COMMIT is durable

    async def _begin(self) -> None:
        """BEGIN IMMEDIATE on the loop when the write lock is free (it then takes
        microseconds, and a hop to the writer's thread costs milliseconds of the loop's
        time under load: issue 23's profile); only while another process holds the lock
        does it wait for it, up to busy_timeout, on the writer's thread."""
        conn = self._conn
        assert conn is not None, "engine not open"
        conn.execute("PRAGMA busy_timeout=0")
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
        finally:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        await self._sync(lambda c: c.execute("BEGIN IMMEDIATE"))

    async def _roll_back_own_work(self, exc: BaseException) -> None:
        """Undo one transaction of the batch; the others stay, unless SQLite undid them all.

        Under SQLITE_FULL, SQLITE_IOERR or SQLITE_NOMEM SQLite may roll back the whole
        transaction by itself: then the work of every transaction already in the batch
        is gone, so each of them fails (none is acknowledged), and the next one begins
        a new batch instead of running outside any transaction.
        """
        conn = self._conn
        if conn is not None and conn.in_transaction:
            await self.run(lambda c: (c.execute("ROLLBACK TO tx"), c.execute("RELEASE tx")))
            return
        batch, self._batch = self._batch, None
        if batch is not None and not batch.done():
            batch.set_exception(exc)
            batch.exception()  # retrieved here too: a batch of one has no other waiter

    async def _commit(self) -> None:
        """COMMIT, and its fsync, on the loop while the disk is fast, on the writer's
        thread while it is slow (issue 23).

        A hop to the thread costs the loop 0.5 to 5 ms under load (the profile in
        docs/PERFORMANCE.md), more than this disk's fsync (0.3 to 2 ms); but a disk
        that stalls must not stall every request with it. The time of recent commits
        (a moving average, measured on either side) decides: above
        ``INLINE_COMMIT_MAX_S`` commits go to the thread until the disk is fast again.
        """
        if self._commit_s < self.INLINE_COMMIT_MAX_S:
            spent = _timed_commit(self._conn)
        else:
            spent = await self._sync(_timed_commit)
        self._commit_s = 0.8 * self._commit_s + 0.2 * spent

    async def _end_batch_if_due(self) -> None:
        batch = self._batch
        if batch is None or (self._queued and self._batch_size < self.MAX_BATCH):
            return
        self._batch = None
        try:
            await self._commit()
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                await self.run(lambda c: c.execute("ROLLBACK"))
            if not batch.done():
                batch.set_exception(exc)
            raise
        if not batch.done():
            batch.set_result(None)


def _timed_commit(conn: sqlite3.Connection | None) -> float:
    assert conn is not None, "engine not open"
    start = time.perf_counter()
    conn.execute("COMMIT")
    return time.perf_counter() - start


class _PgTx(Tx):
    def __init__(self, conn: Any) -> None:
        self._c = conn

    async def execute(self, sql: str, *args: Any) -> int:
        status: str = await self._c.execute(POSTGRES.render(sql), *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._c.executemany(POSTGRES.render(sql), rows)

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        return [tuple(r) for r in await self._c.fetch(POSTGRES.render(sql), *args)]


class PostgresEngine(Engine):
    dialect = POSTGRES

    def __init__(self, dsn: str, min_size: int = 1, max_size: int = 10) -> None:
        self.dsn = dsn
        self._sizes = (min_size, max_size)
        self._pool: Any = None

    async def open(self) -> None:
        import asyncpg

        with unavailable_as_typed_error():
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=self._sizes[0], max_size=self._sizes[1]
            )

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        # A connection that dropped (the backend was terminated, the server restarted)
        # is closed, and the pool opens a fresh one for the next transaction.
        with unavailable_as_typed_error():
            async with _begun(self._pool) as conn:
                yield _PgTx(conn)


@asynccontextmanager
async def _begun(pool: Any) -> AsyncIterator[Any]:
    """A pooled connection inside a transaction, committed when the block ends well.

    A connection that died idle in the pool (its backend terminated, the server
    restarted) fails at BEGIN, before anything of the caller ran, so beginning again is
    safe: its siblings most likely died with it and are expired, and the transaction
    begins once more on a fresh connection (issue 23: without this the first request
    after an outage fails once per dead pooled connection).
    """
    for attempt in (1, 2):
        async with _acquired(pool) as conn:
            tx = conn.transaction()
            try:
                await tx.start()
            except unavailable_errors():
                if attempt == 2:
                    raise
                await pool.expire_connections()
                continue
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(Exception):  # a dead connection cannot roll back
                    await tx.rollback()
                raise
            await tx.commit()
            return


@asynccontextmanager
async def _acquired(pool: Any) -> AsyncIterator[Any]:
    """A connection of the pool. The server refusing to open one is an outage whatever
    its SQLSTATE (the database does not accept connections now, too many clients, it is
    starting or stopping): a 503, not a 500. A refused statement is not this."""
    import asyncpg

    try:
        conn = await pool.acquire()
    except asyncpg.PostgresError as exc:
        raise StoreUnavailable(f"the provider's database refused a connection "
                               f"({type(exc).__name__}); retry later") from exc
    try:
        yield conn
    finally:
        await pool.release(conn)
