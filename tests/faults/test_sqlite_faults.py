"""The provider's SQLite store under a full disk, a lock held by another process, and a
damaged file: a typed 503 (``store_unavailable``), never a 500 or a stalled node; no
acknowledged post lost, none half-applied; and service again once the fault ends."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from accord.errors import StoreUnavailable
from tests.faults.node import (
    assert_store_unavailable,
    group_of_two,
    post,
    received,
    running_node,
)
from tests.timing import wait_until

BIG = 20_000  # a body this large needs new pages; small ones fit in the free space


class DiskFullFor:
    """The writer connection, where a statement carrying a large value meets a really
    full database: SQLite itself answers SQLITE_FULL (``max_page_count`` pinned to the
    current size) and, as it does for a full disk, rolls back the whole transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.failures = 0

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def execute(self, sql: str, args: Any = ()) -> sqlite3.Cursor:
        if not any(isinstance(a, bytes) and len(a) > BIG for a in args):
            return self.conn.execute(sql, args)
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        self.conn.execute(f"PRAGMA max_page_count={pages}")
        try:
            return self.conn.execute(sql, args)
        except sqlite3.OperationalError:
            self.failures += 1
            raise
        finally:
            self.conn.execute("PRAGMA max_page_count=4294967294")

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        rows = list(rows)  # posts are written in bulk (group commit, storage.post_batch)
        if not any(isinstance(a, bytes) and len(a) > BIG for row in rows for a in row):
            return self.conn.executemany(sql, rows)
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        self.conn.execute(f"PRAGMA max_page_count={pages}")
        try:
            return self.conn.executemany(sql, rows)
        except sqlite3.OperationalError:
            self.failures += 1
            raise
        finally:
            self.conn.execute("PRAGMA max_page_count=4294967294")

    def close(self) -> None:
        self.conn.close()


async def test_full_disk_fails_the_whole_batch_and_acknowledges_only_what_is_kept(
        tmp_path: Path) -> None:
    """A post commits alone; the next two share one transaction (group commit of posts,
    accord.storage.post_batch), the first of them meets a full disk and SQLite rolls the
    shared transaction back. Each post is then 201 exactly when it is stored, the
    refused ones are a 503 with a code, and once space is back every post succeeds."""
    async with running_node(tmp_path) as node:
        group = await group_of_two(node.http)
        engine = node.store.engine
        real = engine._conn
        full = engine._conn = DiskFullFor(real)
        bodies = [b"before-" + b"a" * 100, b"big-" + b"b" * (BIG + 100), b"after-" + b"c" * 100]
        await engine._lock.acquire()  # the posts queue up behind a running transaction
        try:
            tasks = [asyncio.create_task(post(node.http, group, bodies[0]))]
            # the writer holds the first post, waiting for the lock
            await wait_until(lambda: node.store.posts.writing == 1, 5.0, "the first post taken")
            tasks += [asyncio.create_task(post(node.http, group, b)) for b in bodies[1:]]
            # the next two wait for the writer's next batch
            await wait_until(lambda: node.store.posts.depth == 2, 5.0, "two posts pending")
        finally:
            engine._lock.release()
        answers = await asyncio.gather(*tasks)
        assert full.failures == 1
        assert_store_unavailable(answers[1])
        for r in answers:
            assert r.status_code in (201, 503), r.text
            if r.status_code == 503:
                assert_store_unavailable(r)
        stored = await received(group.bob)
        acked = [b for b, r in zip(bodies, answers, strict=True) if r.status_code == 201]
        assert stored == acked, "a post was acknowledged but not kept, or kept but refused"
        assert answers[0].status_code == 201, "the first post committed alone"
        assert answers[2].status_code == 503, "the third post's work was rolled back with it"

        engine._conn = real  # space again
        again = [await post(node.http, group, b) for b in bodies]
        assert [r.status_code for r in again] == [201, 201, 201]
        assert await received(group.bob) == acked + bodies


async def test_a_write_lock_held_by_another_process_is_a_503_and_the_node_keeps_answering(
        tmp_path: Path) -> None:
    async with running_node(tmp_path) as node:
        group = await group_of_two(node.http)
        assert (await post(node.http, group, b"first")).status_code == 201
        engine = node.store.engine
        await engine._sync(lambda c: c.execute("PRAGMA busy_timeout=3000"))
        other = sqlite3.connect(engine.path, isolation_level=None, check_same_thread=False)
        # e.g. an operator's sqlite3 shell, a backup tool; taken off the loop, so that a
        # transaction of the node's own background tasks can finish first
        await asyncio.to_thread(other.execute, "BEGIN IMMEDIATE")
        writing = asyncio.create_task(post(node.http, group, b"while locked"))
        # the post now waits for the lock (up to busy_timeout), holding the node's own
        await wait_until(engine._lock.locked, 5.0, "the post waiting for the write lock")
        assert await received(group.bob) == [b"first"]  # reads go on meanwhile
        assert not writing.done(), "the event loop stalled while SQLite waited for the lock"
        assert_store_unavailable(await writing)
        other.execute("ROLLBACK")
        other.close()
        assert (await post(node.http, group, b"after")).status_code == 201
        assert await received(group.bob) == [b"first", b"after"]


def _overwrite_page(path: Path, page: int, garbage: bytes) -> None:
    size = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    with path.open("r+b") as f:
        f.seek((page - 1) * size)
        f.write(garbage)


async def test_a_damaged_table_page_is_a_503_never_wrong_data(tmp_path: Path) -> None:
    async with running_node(tmp_path) as node:
        group = await group_of_two(node.http)
        for i in range(3):
            assert (await post(node.http, group, f"kept-{i}".encode())).status_code == 201
    db = tmp_path / "provider.sqlite3"
    assert not (tmp_path / "provider.sqlite3-wal").exists() or \
        (tmp_path / "provider.sqlite3-wal").stat().st_size == 0
    conn = sqlite3.connect(db)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'queue'").fetchone()[0]
    conn.close()
    _overwrite_page(db, root, b"\x99" * 64)  # the b-tree page header is now nonsense
    async with running_node(tmp_path) as node:
        group.bob.http = node.http
        r = await node.http.get("/v1/queue?after=0&limit=500", headers=group.bob.auth)
        assert_store_unavailable(r)


async def test_a_damaged_file_header_stops_the_start_with_a_clear_error(
        tmp_path: Path) -> None:
    async with running_node(tmp_path) as node:
        await group_of_two(node.http)
    _overwrite_page(tmp_path / "provider.sqlite3", 1, b"not SQLite at all" * 8)
    with pytest.raises(StoreUnavailable, match="database is unavailable"):
        async with running_node(tmp_path):
            pass
