"""SQLite's COMMIT runs on the event loop while the disk is fast and on the writer's
thread while it is slow (accord.storage.engine.SqliteEngine._commit, issue 23)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from accord.storage.engine import SqliteEngine


async def test_commit_moves_to_the_writer_thread_while_the_disk_is_slow(
        tmp_path: Path) -> None:
    engine = SqliteEngine(tmp_path / "c.sqlite3")
    await engine.open()
    hops: list[Any] = []
    real = engine._sync

    async def counted(fn: Any) -> Any:
        hops.append(fn)
        return await real(fn)

    engine._sync = counted  # type: ignore[method-assign]
    try:
        async with engine.transaction() as tx:
            await tx.execute("CREATE TABLE t (x INTEGER)")
        assert hops == []  # a fast disk: BEGIN and COMMIT on the loop, no hop
        engine._commit_s = 1.0  # as if the last commits had taken a second each
        async with engine.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (1)")
        assert len(hops) == 1  # the COMMIT went to the thread
        for i in range(60):  # the average follows what commits take now
            async with engine.transaction() as tx:
                await tx.execute("INSERT INTO t VALUES (?)", i)
        assert engine._commit_s < 0.1
        engine._commit_s = 0.0  # fast again
        before = len(hops)
        async with engine.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (99)")
        assert len(hops) == before
        async with engine.read() as tx:
            assert (await tx.fetchone("SELECT COUNT(*) FROM t")) == (62,)
    finally:
        await engine.close()
