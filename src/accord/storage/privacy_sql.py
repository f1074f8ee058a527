"""Provider SQL of issue 11: franks, reports, moderation, backups, fork chain.

Tables are created by migrations 200+ (:mod:`accord.storage.privacy_schema`).
Functions take the store's :class:`~accord.storage.engine.Engine`; every
change is one transaction. Account export and erasure are in
:mod:`accord.storage.account_sql`.
"""

from __future__ import annotations

from typing import Any

from accord.errors import NotFound
from accord.storage.engine import Engine, Tx, placeholders
from accord.wire.privacy import AdminReport

MAX_LIST = 1000


async def shared_secret(engine: Engine, name: str, candidate: bytes) -> bytes:
    """The provider secret ``name``: ``candidate`` if no node filed one before.

    Nodes starting together each offer theirs; the first insert to commit wins
    (a concurrent one waits on the primary key, then does nothing) and every
    node reads back the same value.
    """
    async with engine.transaction() as tx:
        await tx.execute("INSERT INTO provider_secrets (name, value) VALUES (?, ?)"
                         " ON CONFLICT DO NOTHING", name, candidate)
        row = await tx.fetchone("SELECT value FROM provider_secrets WHERE name = ?", name)
    assert row is not None
    return bytes(row[0])


async def replace_secret(engine: Engine, name: str, old: bytes, new: bytes) -> None:
    """Replace the secret ``name`` if it still holds ``old`` (another node may have
    replaced it first, with the same secret sealed again)."""
    async with engine.transaction() as tx:
        await tx.execute("UPDATE provider_secrets SET value = ? WHERE name = ? AND value = ?",
                         new, name, old)


async def get_secret(engine: Engine, name: str) -> bytes | None:
    async with engine.read() as tx:
        row = await tx.fetchone("SELECT value FROM provider_secrets WHERE name = ?", name)
    return None if row is None else bytes(row[0])


async def set_secret(engine: Engine, name: str, value: bytes) -> None:
    """Replace the secret ``name`` (whatever it held) by ``value``."""
    async with engine.transaction() as tx:
        await tx.execute("DELETE FROM provider_secrets WHERE name = ?", name)
        await tx.execute("INSERT INTO provider_secrets (name, value) VALUES (?, ?)", name, value)


async def legacy_secret(engine: Engine, name: str) -> bytes | None:
    """A secret an older single-node version kept in the database (now a key file)."""
    async with engine.read() as tx:
        row = await tx.fetchone("SELECT value FROM provider_secrets WHERE name = ?", name)
    return None if row is None else bytes(row[0])


async def forget_legacy_secret(engine: Engine, name: str) -> None:
    async with engine.transaction() as tx:
        await tx.execute("DELETE FROM provider_secrets WHERE name = ?", name)


# franks (T13; the table keeps its first name, franking_tags) ------------------------


async def file_tag(tx: Tx, msg_id: str, tag: bytes, expires_at: int) -> None:
    await tx.execute("INSERT INTO franking_tags (msg_id, tag, expires_at) VALUES (?, ?, ?)"
                     " ON CONFLICT DO NOTHING", msg_id, tag, expires_at)


async def file_tags(tx: Tx, tags: list[tuple[str, bytes, int]]) -> None:
    """Several (msg_id, tag, expires_at) in one statement batch (posts, ``post_batch``)."""
    if tags:
        await tx.executemany("INSERT INTO franking_tags (msg_id, tag, expires_at)"
                             " VALUES (?, ?, ?) ON CONFLICT DO NOTHING", tags)


async def tag_filed(engine: Engine, tag: bytes) -> bool:
    """Whether a hub handed this provider an item with this Frank (still kept)."""
    async with engine.read() as tx:
        row = await tx.fetchone("SELECT 1 FROM franking_tags WHERE tag = ?", tag)
    return row is not None


async def tags_for(engine: Engine, msg_ids: list[str]) -> dict[str, bytes]:
    if not msg_ids:
        return {}
    marks = placeholders(len(msg_ids))
    async with engine.read() as tx:
        rows = await tx.fetchall(
            f"SELECT msg_id, tag FROM franking_tags WHERE msg_id IN ({marks})", *msg_ids)
    return {r[0]: bytes(r[1]) for r in rows}


async def purge(engine: Engine, now: int) -> int:
    """Drop tags past their expiry and chain links of messages gone; a count."""
    async with engine.transaction() as tx:
        n = await tx.execute("DELETE FROM franking_tags WHERE expires_at < ?", now)
        # A chain link goes with its message, but each group's last link stays:
        # the next handshake message chains from it.
        n += await tx.execute(
            "DELETE FROM fork_chain WHERE msg_id NOT IN (SELECT msg_id FROM messages)"
            " AND seq < (SELECT MAX(c.seq) FROM fork_chain c"
            " WHERE c.group_id = fork_chain.group_id)")
    return n


# reports and moderation (T13) -----------------------------------------------------------


async def add_report(engine: Engine, group_id: bytes, reporter: str, alleged: str | None,
                     content: bytes, message_time: int, now: int, reason_code: int = 0,
                     note: str = "") -> int:
    async with engine.transaction() as tx:
        await tx.execute(
            "INSERT INTO abuse_reports (group_id, reporter, alleged_sender, content,"
            " message_time, created_at, status, reason_code, note)"
            " VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?)",
            group_id, reporter, alleged, content, message_time, now, reason_code, note)
        row = await tx.fetchone("SELECT MAX(id) FROM abuse_reports WHERE reporter = ?",
                                reporter)
    assert row is not None
    return int(row[0])


async def list_reports(engine: Engine, status: str | None = None) -> list[AdminReport]:
    """The reports for the operator, in the form the admin API sends them."""
    sql = ("SELECT id, group_id, reporter, alleged_sender, content, message_time, status,"
           " reason_code, note FROM abuse_reports")
    args: list[Any] = []
    if status is not None:
        sql += " WHERE status = ?"
        args.append(status)
    async with engine.read() as tx:
        rows = await tx.fetchall(sql + f" ORDER BY id LIMIT {MAX_LIST}", *args)
    return [AdminReport(id=int(r[0]), group_id=bytes(r[1]), reporter=r[2], alleged_sender=r[3],
                        content=bytes(r[4]), message_time=int(r[5]), status=r[6],
                        reason_code=int(r[7]), note=r[8])
            for r in rows]


async def close_report(engine: Engine, report_id: int, status: str) -> None:
    async with engine.transaction() as tx:
        if await tx.execute("UPDATE abuse_reports SET status = ? WHERE id = ?",
                            status, report_id) == 0:
            raise NotFound("no such report")


async def set_account_action(engine: Engine, account: str, action: str | None, reason: str,
                             now: int) -> None:
    """``action`` is "suspended", "limited" or None (lift)."""
    async with engine.transaction() as tx:
        if await tx.fetchone("SELECT 1 FROM accounts WHERE account = ?", account) is None:
            raise NotFound("no such local account")
        await tx.execute("DELETE FROM account_actions WHERE account = ?", account)
        if action is not None:
            await tx.execute("INSERT INTO account_actions (account, action, reason, created_at)"
                             " VALUES (?, ?, ?, ?)", account, action, reason, now)


async def account_action(engine: Engine, account: str) -> str | None:
    async with engine.read() as tx:
        row = await tx.fetchone("SELECT action FROM account_actions WHERE account = ?", account)
    return None if row is None else str(row[0])


async def set_peer_refused(engine: Engine, peer: str, refused: bool, reason: str,
                           now: int) -> None:
    async with engine.transaction() as tx:
        await tx.execute("DELETE FROM refused_peers WHERE peer = ?", peer)
        if refused:
            await tx.execute("INSERT INTO refused_peers (peer, reason, created_at)"
                             " VALUES (?, ?, ?)", peer, reason, now)


async def refused_peers(engine: Engine) -> set[str]:
    async with engine.read() as tx:
        rows = await tx.fetchall(f"SELECT peer FROM refused_peers LIMIT {MAX_LIST}")
    return {r[0] for r in rows}


# backups (T17) ----------------------------------------------------------------------------


async def put_backup(engine: Engine, account: str, data: bytes, now: int,
                     fetch_hash: bytes | None = None) -> None:
    async with engine.transaction() as tx:
        await tx.execute("DELETE FROM account_backups WHERE account = ?", account)
        await tx.execute("INSERT INTO account_backups (account, data, updated_at, fetch_hash)"
                         " VALUES (?, ?, ?, ?)", account, data, now, fetch_hash)


async def backup_by_capability(engine: Engine, fetch_hash: bytes) -> bytes:
    async with engine.read() as tx:
        row = await tx.fetchone("SELECT data FROM account_backups WHERE fetch_hash = ?",
                                fetch_hash)
    if row is None:
        raise NotFound("no such backup")
    return bytes(row[0])


async def get_backup(engine: Engine, account: str) -> bytes:
    async with engine.read() as tx:
        row = await tx.fetchone("SELECT data FROM account_backups WHERE account = ?", account)
    if row is None:
        raise NotFound("no backup stored for this account")
    return bytes(row[0])


# the hub's handshake hash chain (T07) -------------------------------------------------------
# One link per epoch: the hub accepts exactly one commit per epoch, so the
# link of epoch e is H(link of e-1, e, commit) whatever else races with it.


async def file_chain(tx: Tx, msg_ids: list[str], group_id: bytes, epoch: int,
                     chain: bytes) -> None:
    for msg_id in msg_ids:
        await tx.execute("INSERT INTO fork_chain (msg_id, group_id, seq, chain)"
                         " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                         msg_id, group_id, epoch, chain)


async def chains_for(engine: Engine, msg_ids: list[str]) -> dict[str, tuple[int, bytes]]:
    if not msg_ids:
        return {}
    marks = placeholders(len(msg_ids))
    async with engine.read() as tx:
        rows = await tx.fetchall(
            f"SELECT msg_id, seq, chain FROM fork_chain WHERE msg_id IN ({marks})", *msg_ids)
    return {r[0]: (int(r[1]), bytes(r[2])) for r in rows}
