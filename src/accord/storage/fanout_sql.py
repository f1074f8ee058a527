"""Roster checks, the admission of application posts, and the fan-out of one message
to device queues, inside a transaction.

Shared by :class:`~accord.storage.sql_store.SqlStore` and the federation mixin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from accord.errors import Conflict, EpochConflict, GroupMoved, NotFound, ValidationError
from accord.storage.engine import Tx, placeholders
from accord.storage.records import CommitChange, GroupRecord, NewMessage
from accord.wire.messages import ERASED, erased_leaf


def check_roster(group: GroupRecord, change: CommitChange) -> None:
    members = set(group.members)
    if change.sender not in members:
        raise ValidationError("the committer is not a member of this group", "RFC 9420 12.4")
    if any(d.startswith(ERASED) for d in change.added):
        raise ValidationError("a device id that names an erased leaf cannot be added",
                              "Accord hub: erased leaves (T18)")
    if members & set(change.added):
        raise ValidationError("an added device is already a member", "RFC 9420 12.1.1")
    erased = {erased_leaf(leaf) for leaf in group.erased}
    if not set(change.removed) <= members | erased:
        raise ValidationError("a removed device is not a member", "RFC 9420 12.1.3")
    if change.sender in change.removed:
        raise ValidationError("a committer cannot remove itself", "RFC 9420 12.2")
    if set(change.added) & set(change.removed):
        raise ValidationError("a device is both added and removed", "RFC 9420 12.2")
    if len(set(change.added)) != len(change.added) or len(set(change.removed)) != len(
        change.removed
    ):
        raise ValidationError("a device is listed twice in one commit", "RFC 9420 12.2")


async def require_open(tx: Tx, group: GroupRecord) -> None:
    """Raise ``GroupMoved`` once a ReInit commit ended ``group`` (RFC 9420 11.2, 12.4.2).

    Every commit files the posting key of the epoch it makes, but a ReInit commit
    files none and drops the others (``hub_sql._advance``): a group without a key
    for its current epoch is closed for posts and commits, and its members follow
    the conversation into the new group (issue 18: no post is taken into a group
    nobody reads any more)."""
    row = await tx.fetchone(
        "SELECT 1 FROM posting_keys WHERE group_id = ? AND epoch = ?",
        group.group_id, group.epoch)
    if row is None:
        raise GroupMoved("this group was reinitialized; sync to follow the conversation"
                         " into its new group")


async def admit_application(
    tx: Tx, group: GroupRecord, message: NewMessage, nonce: bytes, nonce_expires_at: int,
    verify: Callable[[bytes], None],
) -> None:
    """The one admission rule of an application post, in the caller's transaction:
    the current or previous epoch only (the previous for late messages, RFC 9420
    15.3, unless the commit that ended it added or removed members: ``hub_sql``
    drops its posting key then), signed under that epoch's posting key
    (``verify``), a nonce this group has not seen (a replayed post).

    A closed epoch is an ``EpochConflict``: the sender syncs and encrypts again in
    the current epoch, so an accepted post is readable by every member it is
    delivered to (issue 18: posts go out before the sender syncs, T11)."""
    await require_open(tx, group)
    if message.epoch not in (group.epoch, group.epoch - 1):
        raise EpochConflict(group.epoch)
    row = await tx.fetchone(
        "SELECT public_key FROM posting_keys WHERE group_id = ? AND epoch = ?",
        group.group_id, message.epoch)
    if row is None:  # the previous epoch, closed by a change of members
        raise EpochConflict(group.epoch)
    verify(bytes(row[0]))
    n = await tx.execute(
        "INSERT INTO post_nonces (group_id, nonce, expires_at) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        group.group_id,
        nonce,
        nonce_expires_at,
    )
    if n == 0:
        raise Conflict("this nonce was already used in this group (replay)")


async def enqueue(tx: Tx, message: NewMessage, device_ids: Sequence[str]) -> list[str]:
    """Store one message and put it on each device's queue, in the caller's transaction."""
    await tx.execute(
        "INSERT INTO messages (msg_id, kind, group_id, epoch, sender, body, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        message.msg_id,
        message.kind,
        message.group_id,
        message.epoch,
        message.sender,
        message.body,
        message.created_at,
    )
    ids = sorted(set(device_ids))
    if not ids:
        return []
    marks = placeholders(len(ids))
    # Lock the devices in one fixed order so concurrent fan-outs cannot deadlock;
    # the per-device counter then hands out gap-free, commit-ordered sequence numbers.
    await tx.fetchall(
        f"SELECT device_id FROM devices WHERE device_id IN ({marks}) ORDER BY device_id"
        " {FOR_UPDATE}",
        *ids,
    )
    rows = await tx.fetchall(
        f"UPDATE devices SET next_seq = next_seq + 1 WHERE device_id IN ({marks})"
        " RETURNING device_id, next_seq",
        *ids,
    )
    await tx.executemany(
        "INSERT INTO queue (device_id, seq, msg_id) VALUES (?, ?, ?)",
        [(r[0], int(r[1]), message.msg_id) for r in rows],
    )
    return [r[0] for r in rows]


async def read_group(tx: Tx, group_id: bytes, lock: bool) -> GroupRecord:
    """A group, its members, their leaves and where they live."""
    row = await tx.fetchone(
        "SELECT hub, epoch FROM mls_groups WHERE group_id = ?"
        + (" {FOR_UPDATE}" if lock else ""),
        group_id,
    )
    if row is None:
        raise NotFound("no such group")
    members = await tx.fetchall(
        "SELECT device_id, leaf_index, domain FROM group_members WHERE group_id = ?"
        " ORDER BY device_id",
        group_id,
    )
    erased = await tx.fetchall(
        "SELECT leaf_index FROM hub_erased_leaves WHERE group_id = ? ORDER BY leaf_index",
        group_id)
    return GroupRecord(
        group_id,
        row[0],
        int(row[1]),
        tuple(m[0] for m in members),
        tuple(None if m[1] is None else int(m[1]) for m in members),
        tuple(m[2] for m in members),
        tuple(int(e[0]) for e in erased),
    )
