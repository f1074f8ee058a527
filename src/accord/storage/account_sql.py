"""Export and erasure of everything the provider holds about one account (T18).

``export_account`` reads every table that can name the account, its devices
or their keys. ``erase_account`` deletes all of it in the caller's
transaction (so the transparency log's tombstone is appended atomically,
:meth:`accord.server.transparency.TransparencyLog.delete_account`).

Handshake messages that carry the account's MLS credential (commits it
sent, commits that added its devices: their KeyPackages are in the clear)
are erased too, with their queue entries: after deletion no row names the
account. Members that had not fetched them yet rejoin by external commit.
The account's devices leave their groups' rosters, but their MLS leaves stay
in the members' trees (and in the hub's public state of each group) until a
member's commit removes them: each is kept as (group, leaf index) only
(``hub_erased_leaves``), so that the hub accepts that commit and still checks
it (docs/PRIVACY.md, T18).
Attachment blobs are not linked to their uploader (T11) and expire with
blob retention.
"""

from __future__ import annotations

import json
from typing import Any

from accord.errors import AuthError, NotFound
from accord.storage.engine import Engine, Tx, placeholders
from accord.wire import b64e
from accord.wire.accounts import domain_of

# (table, column that names a device) for rows erased with the devices
DEVICE_TABLES = ("queue", "group_members", "key_packages", "last_resort_key_packages",
                 "sessions", "challenges", "fed_refused", "fed_admitted",
                 "fed_first_contact", "kp_handed")
# (table, column that names the account)
ACCOUNT_COLUMNS = (("fed_blocks", "account"), ("fed_blocks", "target"),
                   ("fed_contacts", "account"), ("fed_contacts", "contact"),
                   ("fed_requests", "account"), ("fed_requests", "from_account"),
                   ("account_actions", "account"), ("account_backups", "account"),
                   ("abuse_reports", "reporter"), ("abuse_reports", "alleged_sender"),
                   ("kp_handed", "requester"))
MAX_SCAN = 100_000



def _jsonable(v: Any) -> Any:
    return b64e(bytes(v)) if isinstance(v, bytes | bytearray | memoryview) else v


async def devices_of(tx: Tx, account: str) -> list[tuple[str, bytes]]:
    rows = await tx.fetchall("SELECT device_id, signature_key FROM devices WHERE account = ?",
                             account)
    return [(r[0], bytes(r[1])) for r in rows]


def names(account: str, devices: list[tuple[str, bytes]]) -> list[bytes]:
    """Byte strings that name the account: its name, device ids, keys, MLS identities."""
    out = [account.encode()]
    for device_id, key in devices:
        out += [device_id.encode(), key, f"{account}/{device_id}".encode()]
    return out


async def _naming_messages(tx: Tx, needles: list[bytes], device_ids: list[str]) -> list[str]:
    rows = await tx.fetchall(
        "SELECT msg_id, sender, body FROM messages WHERE kind <> 'application'"
        f" LIMIT {MAX_SCAN}")
    return [r[0] for r in rows
            if r[1] in device_ids or any(n in bytes(r[2]) for n in needles)]


async def _naming_outbox(tx: Tx, needles: list[bytes]) -> list[int]:
    rows = await tx.fetchall(f"SELECT id, item FROM fed_outbox LIMIT {MAX_SCAN}")
    hits = []
    for r in rows:
        item = bytes(r[1])
        decoded = [json.dumps(json.loads(item)).encode()] if item[:1] == b"{" else []
        forms = [item, *decoded]
        if any(n in f or b64e(n).encode() in f for n in needles for f in forms):
            hits.append(int(r[0]))
    return hits


async def export_account(engine: Engine, account: str) -> dict[str, Any]:
    """Every row about ``account``, as JSON-ready lists (bytes in base64url)."""
    async with engine.read() as tx:
        acc = await tx.fetchone("SELECT account, created_at FROM accounts WHERE account = ?",
                                account)
        if acc is None:
            raise NotFound("no such account")
        devices = await devices_of(tx, account)
        ids = [d for d, _ in devices]
        out: dict[str, Any] = {"accounts": [{"account": acc[0], "created_at": acc[1]}]}
        out["devices"] = _table(await tx.fetchall(
            "SELECT device_id, signature_key, created_at FROM devices WHERE account = ?",
            account), ("device_id", "signature_key", "created_at"))
        for table in DEVICE_TABLES:
            rows = await tx.fetchall(
                f"SELECT * FROM {table} WHERE device_id IN ({placeholders(len(ids))})", *ids
            ) if ids else []
            out[table] = [[_jsonable(v) for v in r] for r in rows]
        for table, column in ACCOUNT_COLUMNS:
            rows = await tx.fetchall(f"SELECT * FROM {table} WHERE {column} = ?", account)
            out[f"{table}.{column}"] = [[_jsonable(v) for v in r] for r in rows]
        sent = await _naming_messages(tx, names(account, devices), ids)
        rows = await tx.fetchall(
            "SELECT msg_id, kind, group_id, epoch, sender, created_at FROM messages"
            f" WHERE msg_id IN ({placeholders(len(sent))})", *sent) if sent else []
        out["messages (handshake, naming the account)"] = [[_jsonable(v) for v in r]
                                                          for r in rows]
    return out


async def groups_of(engine: Engine, device_ids: list[str]) -> list[bytes]:
    """The ids of the groups the devices are members of (whose peers to tell of a deletion)."""
    if not device_ids:
        return []
    async with engine.read() as tx:
        rows = await tx.fetchall("SELECT DISTINCT group_id FROM group_members WHERE device_id"
                                 f" IN ({placeholders(len(device_ids))})", *device_ids)
    return [bytes(r[0]) for r in rows]


async def erase_account_alone(engine: Engine, account: str) -> dict[str, int]:
    """:func:`erase_account` in a transaction of its own (no transparency log runs)."""
    async with engine.transaction() as tx:
        return await erase_account(tx, account)


def _table(rows: list[Any], cols: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{c: _jsonable(v) for c, v in zip(cols, r, strict=True)} for r in rows]


async def _mark_erased_leaves(tx: Tx, device_ids: list[str], peer: str | None = None) -> None:
    """Keep the leaf of each erased device, by group and index only, for the members to
    remove it (``wire.messages.erased_leaf``): without it the hub maps the leaf to no
    device and refuses the commit that removes it, and the group, with the hub's
    public state of it, keeps naming the account forever."""
    where = "domain IS NULL" if peer is None else "domain = ?"
    await tx.execute(
        "INSERT INTO hub_erased_leaves (group_id, leaf_index) SELECT group_id, leaf_index"
        f" FROM group_members WHERE {where} AND leaf_index IS NOT NULL AND device_id IN"
        f" ({placeholders(len(device_ids))}) ON CONFLICT DO NOTHING",
        *([] if peer is None else [peer]), *device_ids)


async def erase_account(tx: Tx, account: str) -> dict[str, int]:
    """Delete every row naming ``account`` (in ``tx``); counts per table."""
    devices = await devices_of(tx, account)
    ids = [d for d, _ in devices]
    needles = names(account, devices)
    counts: dict[str, int] = {}
    msgs = await _naming_messages(tx, needles, ids)
    if msgs:
        await tx.execute(f"DELETE FROM queue WHERE msg_id IN ({placeholders(len(msgs))})", *msgs)
        counts["messages"] = await tx.execute(
            f"DELETE FROM messages WHERE msg_id IN ({placeholders(len(msgs))})", *msgs)
    outbox = await _naming_outbox(tx, needles)
    if outbox:
        counts["fed_outbox"] = await tx.execute(
            f"DELETE FROM fed_outbox WHERE id IN ({placeholders(len(outbox))})", *outbox)
    if ids:
        await _mark_erased_leaves(tx, ids)
        for table in DEVICE_TABLES:
            counts[table] = await tx.execute(
                f"DELETE FROM {table} WHERE device_id IN ({placeholders(len(ids))})", *ids)
    for table, column in ACCOUNT_COLUMNS:
        n = await tx.execute(f"DELETE FROM {table} WHERE {column} = ?", account)
        counts[table] = counts.get(table, 0) + n
    counts["devices"] = await tx.execute("DELETE FROM devices WHERE account = ?", account)
    counts["accounts"] = await tx.execute("DELETE FROM accounts WHERE account = ?", account)
    return {k: v for k, v in counts.items() if v}


# A peer's deleted account: rows about it, not our users' own decisions about it. A
# block stays (the name can be registered again), and so does an abuse report (issue 17).
REMOTE_ACCOUNT_COLUMNS = (("fed_contacts", "contact"), ("fed_requests", "from_account"),
                          ("kp_handed", "requester"), ("kp_relayed", "account"))


async def _known_at(tx: Tx, device_ids: list[str]) -> dict[str, set[str]]:
    """Where each id is known here: the providers of group members and confirmed
    bindings that use it ("" for a device of ours)."""
    marks = placeholders(len(device_ids))
    known: dict[str, set[str]] = {d: set() for d in device_ids}
    rows = await tx.fetchall(f"SELECT device_id FROM devices WHERE device_id IN ({marks})",
                             *device_ids)
    rows += await tx.fetchall(
        f"SELECT device_id, domain FROM group_members WHERE device_id IN ({marks})", *device_ids)
    rows += await tx.fetchall(
        f"SELECT device_id, account FROM fed_bindings WHERE device_id IN ({marks})", *device_ids)
    for row in rows:
        where = row[1] if len(row) > 1 else ""
        known[row[0]].add("" if where is None else domain_of(where))
    return known


async def erase_remote_account(engine: Engine, account: str, peer: str,
                               device_ids: list[str]) -> int:
    """A peer's account is gone: forget its devices and the handshake messages naming
    their credentials here. Issue 17: device ids are not unique across providers, so
    rows are erased by the account, and by ``peer`` for group members; an id that is
    one of ours, or is known here only at other providers, is refused."""
    # ``account/`` is how a credential names the account (RFC 9420 5.3 basic identity);
    # the bare name could be a substring of another domain's account.
    needles = [f"{account}/".encode()]
    async with engine.transaction() as tx:
        known = await _known_at(tx, device_ids) if device_ids else {}
        if any(at and peer not in at for at in known.values()):
            raise AuthError("a provider can only delete devices it hosts")
        only_peers = [d for d, at in known.items() if at == {peer}]
        n = 0
        msgs = await _naming_messages(tx, needles, only_peers)
        if msgs:
            await tx.execute(f"DELETE FROM queue WHERE msg_id IN ({placeholders(len(msgs))})", *msgs)
            n += await tx.execute(f"DELETE FROM messages WHERE msg_id IN ({placeholders(len(msgs))})",
                                  *msgs)
        outbox = await _naming_outbox(tx, needles)
        if outbox:
            n += await tx.execute(f"DELETE FROM fed_outbox WHERE id IN ({placeholders(len(outbox))})",
                                  *outbox)
        if device_ids:
            await _mark_erased_leaves(tx, device_ids, peer)
            n += await tx.execute(
                "DELETE FROM group_members WHERE domain = ? AND device_id IN"
                f" ({placeholders(len(device_ids))})", peer, *device_ids)
        n += await tx.execute("DELETE FROM fed_bindings WHERE account = ?", account)
        for table, column in REMOTE_ACCOUNT_COLUMNS:
            n += await tx.execute(f"DELETE FROM {table} WHERE {column} = ?", account)
    return n
