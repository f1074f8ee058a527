"""The provider store's federation half (issue 6): SQL for hubs, followers and peers.

Mixed into :class:`~accord.storage.sql_store.SqlStore`, so both engines run
it. What it keeps:

- ``fed_nonces``: RFC 9421 nonces seen per peer, until the signature's
  time window has passed (replay guard).
- ``fed_bindings``: devices of other providers' accounts, as their own
  provider confirmed them, keyed by ``(account, device_id)``; where each
  group member lives is kept with the member (``accord.storage.binding_sql``).
- ``fed_outbox`` and ``fed_peers``: what we owe each peer, in order, and
  each peer's backoff state. An outbox row is written in the same
  transaction as the local fan-out, so nothing accepted is ever lost.
- ``fed_blocks``, ``fed_contacts``, ``fed_requests``: a local account's
  blocks, accepted contacts of other providers, and pending message
  requests (T14).

Fan-out to other providers keeps the delivery service's privacy rule (T11):
an application message's outbox row names the recipients' devices, never
its sender.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Sequence

from accord.errors import AuthError, Conflict, NotFound, ValidationError
from accord.storage import binding_sql, privacy_sql
from accord.storage.consent_sql import CONSENT_REQUEST, ConsentSqlMixin, record_first_contact
from accord.storage.engine import Engine, Tx, placeholders
from accord.storage.fanout_sql import enqueue, read_group
from accord.storage.mimi_follow_sql import write_view
from accord.storage.records import (
    Delivered,
    Filing,
    GroupRecord,
    ItemEncoder,
    NewMessage,
    OutboxBatch,
    Roster,
    ViewWrite,
)


async def to_outbox(
    tx: Tx,
    message: NewMessage,
    recipients: Sequence[str],
    where: dict[str, str | None],
    roster: Roster | None,
    group_epoch: int | None,
    encode: ItemEncoder,
    link: tuple[int, bytes] | None,
    also: Collection[str] = (),
) -> None:
    """One outbox row per peer hosting a recipient (and per peer in ``also``, even
    with no recipient there: a commit keeps every follower's copy of the roster)."""
    by_peer: dict[str, list[str]] = {peer: [] for peer in also}
    for device_id in sorted(set(recipients)):
        peer = where.get(device_id)
        if peer is not None:
            by_peer.setdefault(peer, []).append(device_id)
    for peer, ids in sorted(by_peer.items()):
        await tx.execute(
            "INSERT INTO fed_outbox (peer, item, created_at) VALUES (?, ?, ?)",
            peer,
            encode(message, ids, roster, group_epoch, link),
            message.created_at,
        )


async def record_requests(
    tx: Tx, welcome: NewMessage, requests: Sequence[tuple[str, str]]
) -> None:
    # A Welcome's request replaces a consent request for the same group (MIMI 5.7), so
    # the account answers the inviter the Welcome names; any other request stays.
    await tx.executemany(
        "INSERT INTO fed_requests (account, group_id, from_account, msg_id, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, group_id) DO UPDATE SET"
        " from_account = excluded.from_account, msg_id = excluded.msg_id,"
        " created_at = excluded.created_at WHERE fed_requests.msg_id = ?",
        [(a, welcome.group_id, frm, welcome.msg_id, welcome.created_at, CONSENT_REQUEST)
         for a, frm in requests],
    )


def local_devices(ids: Collection[str], where: dict[str, str | None],
           refused: Collection[str] = ()) -> list[str]:
    return [d for d in ids if d in where and where[d] is None and d not in refused]


async def refused_devices(tx: Tx, group_id: bytes) -> set[str]:
    """Our devices whose owners blocked the group's inviter: they get nothing of it (T14)."""
    rows = await tx.fetchall("SELECT device_id FROM fed_refused WHERE group_id = ?", group_id)
    return {r[0] for r in rows}


async def refuse_devices(tx: Tx, group_id: bytes, device_ids: Collection[str]) -> None:
    await tx.executemany(
        "INSERT INTO fed_refused (group_id, device_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(group_id, d) for d in sorted(device_ids)],
    )


class FederationSqlMixin(ConsentSqlMixin):
    """Federation statements; ``SqlStore`` provides ``engine``, ``_group`` and ``enqueue``."""

    engine: Engine

    # replay guard ---------------------------------------------------------------

    async def fed_use_nonce(self, peer: str, nonce: str, expires_at: int) -> None:
        async with self.engine.transaction() as tx:
            n = await tx.execute(
                "INSERT INTO fed_nonces (peer, nonce, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                peer,
                nonce,
                expires_at,
            )
        if n == 0:
            raise AuthError("this request was already received (replayed signature nonce)")

    # devices of other providers -----------------------------------------------------

    async def fed_bind_confirmed(
        self, pairs: Sequence[tuple[str, str]], local_domain: str
    ) -> None:
        """``(account, device_id)`` pairs on the account's own provider's word."""
        async with self.engine.transaction() as tx:
            await binding_sql.bind_confirmed(tx, pairs, local_domain)

    async def fed_confirmed(self, pairs: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        async with self.engine.read() as tx:
            return await binding_sql.confirmed(tx, pairs)

    async def fed_ours(self, device_ids: Collection[str]) -> dict[str, str]:
        """Those of ``device_ids`` that are devices of this provider -> their account."""
        async with self.engine.read() as tx:
            return await binding_sql.ours(tx, device_ids)

    # the follower -------------------------------------------------------------------------

    async def fed_deliver(
        self, hub: str, d: Delivered, local_domain: str, requests: Sequence[tuple[str, str]],
        refuse: Collection[str] = (),
    ) -> list[str] | None:
        """File one item from ``hub``; None if it was filed before (at-least-once delivery).

        ``requests`` are (account, from_account) message requests to record
        for a Welcome, ``refuse`` the recipients whose owners blocked its
        sender: they get nothing of this group from now on (T14).
        """
        return (await self.fed_deliver_batch(hub, [(d, requests, refuse)], local_domain))[0]

    async def fed_deliver_batch(
        self, hub: str, batch: Sequence[Filing], local_domain: str,
        view: ViewWrite | None = None,
    ) -> list[list[str] | None]:
        """File a hub's batch in one transaction (all or nothing), in order; with
        ``view``, the follower's view of a MIMI room the batch moves (``mimi_follow_sql``)."""
        async with self.engine.transaction() as tx:
            out = [await _file(tx, hub, d, local_domain, requests, refuse)
                   for d, requests, refuse in batch]
            if view is not None:
                await write_view(tx, view)
            return out

    # the outbound queue ------------------------------------------------------------------------

    async def fed_outbox_due(self, now: int, per_peer: int, max_peers: int,
                             lease_ms: int = 60_000) -> list[OutboxBatch]:
        """The oldest items of each due peer, each peer leased to the caller.

        The lease (``next_attempt_at`` pushed ``lease_ms`` ahead) keeps several
        nodes on one database from sending a peer's items twice or out of
        order; sent/failed release it, and a node that died loses it on expiry.
        """
        async with self.engine.transaction() as tx:
            peers = await tx.fetchall(
                "SELECT o.peer, COALESCE(MAX(p.failures), 0) FROM fed_outbox o"
                " LEFT JOIN fed_peers p ON p.peer = o.peer"
                " WHERE p.next_attempt_at IS NULL OR p.next_attempt_at <= ?"
                " GROUP BY o.peer ORDER BY o.peer LIMIT ?",
                now,
                max_peers,
            )
            out = []
            for peer, failures in peers:
                taken = await tx.execute(
                    "INSERT INTO fed_peers (peer, failures, next_attempt_at) VALUES (?, 0, ?)"
                    " ON CONFLICT (peer) DO UPDATE SET next_attempt_at = excluded.next_attempt_at"
                    " WHERE fed_peers.next_attempt_at <= ?",
                    peer, now + lease_ms, now,
                )
                if taken == 0:
                    continue  # another node holds it
                rows = await tx.fetchall(
                    "SELECT id, item FROM fed_outbox WHERE peer = ? ORDER BY id LIMIT ?",
                    peer,
                    per_peer,
                )
                out.append(OutboxBatch(peer, int(failures), [(int(i), bytes(b)) for i, b in rows]))
        return out

    async def fed_outbox_sent(self, peer: str, ids: Sequence[int]) -> None:
        async with self.engine.transaction() as tx:
            await tx.execute(
                f"DELETE FROM fed_outbox WHERE peer = ? AND id IN ({placeholders(len(ids))})",
                peer,
                *ids,
            )
            await tx.execute("DELETE FROM fed_peers WHERE peer = ?", peer)

    async def fed_outbox_failed(self, peer: str, failures: int, next_attempt_at: int) -> None:
        async with self.engine.transaction() as tx:
            await tx.execute(
                "INSERT INTO fed_peers (peer, failures, next_attempt_at) VALUES (?, ?, ?)"
                " ON CONFLICT (peer) DO UPDATE SET failures = excluded.failures,"
                " next_attempt_at = excluded.next_attempt_at",
                peer,
                failures,
                next_attempt_at,
            )

    async def fed_outbox_size(self) -> dict[str, int]:
        async with self.engine.transaction() as tx:
            rows = await tx.fetchall("SELECT peer, COUNT(*) FROM fed_outbox GROUP BY peer")
        return {r[0]: int(r[1]) for r in rows}

    async def fed_purge(self, now: int, outbox_cutoff: int) -> dict[str, int]:
        async with self.engine.transaction() as tx:
            nonces = await tx.execute("DELETE FROM fed_nonces WHERE expires_at < ?", now)
            # Past retention, a message could not be fetched anyway.
            outbox = await tx.execute("DELETE FROM fed_outbox WHERE created_at < ?", outbox_cutoff)
            # A Welcome comes soon after its claim (MIMI 5.5): no ref is kept past retention.
            handed = await tx.execute("DELETE FROM kp_handed WHERE handed_at < ?", outbox_cutoff)
            relayed = await tx.execute("DELETE FROM kp_relayed WHERE relayed_at < ?",
                                       outbox_cutoff)
        return {"fed_nonces": nonces, "fed_outbox": outbox, "kp_handed": handed,
                "kp_relayed": relayed}


async def _file(tx: Tx, hub: str, d: Delivered, local_domain: str,
                requests: Sequence[tuple[str, str]], refuse: Collection[str]) -> list[str] | None:
    msg = d.message
    assert msg.group_id is not None
    seen = await tx.fetchone("SELECT group_id FROM messages WHERE msg_id = ?", msg.msg_id)
    if seen is not None:
        if bytes(seen[0] or b"") != msg.group_id:
            # issue 17: a peer cannot pass off another group's message id as a duplicate
            raise Conflict("this message id belongs to another group")
        return None
    leaving: set[str] = set()
    if msg.kind == "commit" and d.roster is not None:
        # The devices a commit removes get it too: that is how they learn they are out.
        with contextlib.suppress(NotFound):
            before = await read_group(tx, msg.group_id, lock=False)
            leaving = {r for r in d.recipients if before.has_local(r)}
    group = await _follow_group(tx, hub, msg.group_id, d, local_domain)
    here = await binding_sql.ours(tx, d.recipients)
    if any(r not in here or not (group.has_local(r) or r in leaving) for r in d.recipients):
        raise ValidationError("a recipient is not a member device hosted here")
    await record_requests(tx, msg, requests)
    # issue 11, 17: the hub's tag and chain link go on with the item, or not at all
    if d.frank is not None:
        await privacy_sql.file_tag(tx, msg.msg_id, d.frank, d.tag_expires_at)
    if d.link is not None:
        await privacy_sql.file_chain(tx, [msg.msg_id], msg.group_id, *d.link)
    if msg.kind == "welcome":
        await record_first_contact(tx, msg.group_id, msg.created_at, requests,
                                   {k: v for k, v in (d.first_contact or {}).items()
                                    if k in d.recipients and k not in refuse})
        await refuse_devices(tx, msg.group_id, refuse)
        await binding_sql.admit(tx, msg.group_id, [r for r in d.recipients if r not in refuse])
    if msg.kind == "commit" and msg.sender is not None:
        await _admit_joiner(tx, msg.group_id, msg.sender, group)
    # T14, issue 17: a device gets a group's items only once a Welcome that passed
    # consent admitted it, and never from a hub whose domain its owner blocked.
    refused = await refused_devices(tx, msg.group_id) | set(refuse)
    entered = await binding_sql.admitted(tx, msg.group_id, d.recipients)
    notified: list[str] = await enqueue(
        tx, msg, [r for r in d.recipients if r not in refused and r in entered])
    return notified


async def _admit_joiner(tx: Tx, group_id: bytes, sender: str, group: GroupRecord) -> None:
    """A device of ours that committed in a group it was not admitted to has joined by
    its own external commit (RFC 9420 12.4.3.2; MIMI 3.6, a new device), which the
    hub's roster shows. It is admitted as a Welcome would admit it when another device
    of its account already was: that user's consent holds for her own new device."""
    mine = await binding_sql.ours(tx, group.members)
    account = mine.get(sender)
    if account is None or not group.has_local(sender):
        return
    siblings = [d for d, a in mine.items() if a == account and d != sender]
    if await binding_sql.admitted(tx, group_id, siblings):
        await binding_sql.admit(tx, group_id, [sender])


async def _may_rehome(tx: Tx, group_id: bytes, was: str, d: Delivered, local_domain: str
                      ) -> bool:
    """Issue 17: group ids are chosen by their creator, so a peer may name one first.
    A group none of our devices ever entered (no Welcome admitted one) is only a
    peer's word: another hub's roster replaces it. Ours, or one entered, never moves."""
    if was == local_domain or d.roster is None:
        return False
    return await tx.fetchone("SELECT 1 FROM fed_admitted WHERE group_id = ?", group_id) is None


async def _follow_group(
    tx: Tx, hub: str, group_id: bytes, d: Delivered, local_domain: str
) -> GroupRecord:
    """The follower's copy of a hub's group: created or replaced from a commit's roster.

    The roster is the hub's word about its own group: where each member lives is
    kept for this group only (issue 17), and binds no device id anywhere else."""
    row = await tx.fetchone("SELECT hub FROM mls_groups WHERE group_id = ? {FOR_UPDATE}", group_id)
    if row is not None and row[0] != hub:
        if not await _may_rehome(tx, group_id, row[0], d, local_domain):
            raise AuthError("this provider is not the hub of that group")
        await tx.execute("UPDATE mls_groups SET hub = ? WHERE group_id = ?", hub, group_id)
        await tx.execute("DELETE FROM fed_refused WHERE group_id = ?", group_id)
    if d.roster is None:
        if row is None:
            raise NotFound("no such group here")
        return await read_group(tx, group_id, lock=False)
    epoch = d.group_epoch if d.group_epoch is not None else d.message.epoch or 0
    if row is None:
        await tx.execute(
            "INSERT INTO mls_groups (group_id, hub, epoch, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            group_id, hub, epoch, d.message.created_at, d.message.created_at,
        )
    else:
        await tx.execute(
            "UPDATE mls_groups SET epoch = ?, updated_at = ? WHERE group_id = ?",
            epoch, d.message.created_at, group_id,
        )
    if len({dev for dev, _ in d.roster}) != len(d.roster):
        raise ValidationError("a roster names a device twice")
    said_ours = [dev for dev, dom in d.roster if dom == local_domain]
    if len(await binding_sql.ours(tx, said_ours)) != len(set(said_ours)):
        raise NotFound("a device said to be ours is not registered here")
    await tx.execute("DELETE FROM group_members WHERE group_id = ?", group_id)
    await tx.executemany(
        "INSERT INTO group_members (group_id, device_id, domain) VALUES (?, ?, ?)",
        [(group_id, dev, None if dom == local_domain else dom) for dev, dom in d.roster],
    )
    members = sorted(d.roster)
    return GroupRecord(group_id, hub, epoch, tuple(dev for dev, _ in members),
                       (None,) * len(members),
                       tuple(None if dom == local_domain else dom for _, dom in members))
