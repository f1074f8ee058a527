"""What a follower keeps to take a MIMI hub's fan-out (draft-ietf-mimi-protocol-06 5.5).

Mixed into :class:`~accord.storage.sql_store.SqlStore`. A MIMI ``FanoutMessage``
carries MLS only, none of Accord's rosters, so the follower keeps:

- ``kp_handed``: the KeyPackageRef of every KeyPackage of ours it handed out,
  with the device and the user who claimed it (5.5's note: "Correctly fanning
  out Welcome messages relies on the hub and target providers storing the
  KeyPackageRef of claimed KeyPackages"); a Welcome names its recipients by
  these refs, and its inviter is the claimer (the claim is where MIMI asks
  for consent, 5.2). Kept for the retention period (``fed_purge``).
- ``mimi_followed``: its view of each room it follows over MIMI (the epoch and
  the member at each leaf, ``accord.federation.mimi_roster``), versioned: a
  view is written in the transaction that files the messages it follows from
  (``FederationSqlMixin.fed_deliver_batch``), and only over the version it was
  computed from.

And what a hub keeps of the key material it relays (5.2: a claim for a room "MUST be
sent via the hub provider" of the room):

- ``kp_relayed``: the KeyPackageRef of each KeyPackage the hub relayed from a target's
  provider for one of its rooms, with the device, its user and that provider; the
  hub then takes an Add of that KeyPackage in that room as placed by its source (no
  device-list call, ``accord.federation.hub``). Kept for the retention period.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from accord.errors import Conflict
from accord.storage.engine import Engine, Tx, placeholders
from accord.storage.records import ViewWrite

MIMI_FOLLOW_MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        2250,
        """
CREATE TABLE kp_handed (
    kp_ref {BLOB} PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    requester TEXT NOT NULL,
    handed_at {BIGINT} NOT NULL
);
CREATE TABLE mimi_followed (
    group_id {BLOB} PRIMARY KEY,
    version {BIGINT} NOT NULL,
    view {BLOB} NOT NULL
);
""",
    ),
    (
        2270,
        """
CREATE TABLE kp_relayed (
    kp_ref {BLOB} PRIMARY KEY,
    group_id {BLOB} NOT NULL,
    device_id TEXT NOT NULL,
    account TEXT NOT NULL,
    source TEXT NOT NULL,
    relayed_at {BIGINT} NOT NULL
);
""",
    ),
)


async def write_view(tx: Tx, view: ViewWrite) -> None:
    """Store a room's view over exactly the version it was computed from (else Conflict:
    another request moved the room meanwhile; the hub sends again)."""
    if view.version is None:
        n = await tx.execute(
            "INSERT INTO mimi_followed (group_id, version, view) VALUES (?, 1, ?)"
            " ON CONFLICT DO NOTHING", view.group_id, view.view)
    else:
        n = await tx.execute(
            "UPDATE mimi_followed SET version = version + 1, view = ?"
            " WHERE group_id = ? AND version = ?", view.view, view.group_id, view.version)
    if n == 0:
        raise Conflict("the room's state changed meanwhile: send again")


class MimiFollowSqlMixin:
    engine: Engine

    async def kp_handed_out(self, refs: Sequence[tuple[bytes, str]], requester: str,
                            now: int) -> None:
        """Record ``(KeyPackageRef, device_id)`` pairs handed to ``requester`` (the
        latest claimer of a last-resort KeyPackage wins)."""
        async with self.engine.transaction() as tx:
            await tx.executemany(
                "INSERT INTO kp_handed (kp_ref, device_id, requester, handed_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (kp_ref) DO UPDATE SET"
                " requester = excluded.requester, handed_at = excluded.handed_at",
                [(ref, device, requester, now) for ref, device in refs])

    async def kp_handed(self, refs: Collection[bytes]) -> dict[bytes, tuple[str, str]]:
        """Those of ``refs`` we handed out -> (device_id, claimer)."""
        if not refs:
            return {}
        async with self.engine.read() as tx:
            rows = await tx.fetchall(
                "SELECT kp_ref, device_id, requester FROM kp_handed WHERE kp_ref IN"
                f" ({placeholders(len(refs))})", *refs)
        return {bytes(r[0]): (r[1], r[2]) for r in rows}

    async def kp_relayed_out(self, group_id: bytes, refs: Sequence[tuple[bytes, str, str]],
                             source: str, now: int) -> None:
        """Record ``(KeyPackageRef, device_id, account)`` triples the hub relayed from
        ``source`` for the room ``group_id`` (a later relay of the same ref wins)."""
        async with self.engine.transaction() as tx:
            await tx.executemany(
                "INSERT INTO kp_relayed (kp_ref, group_id, device_id, account, source,"
                " relayed_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kp_ref) DO UPDATE SET"
                " group_id = excluded.group_id, device_id = excluded.device_id,"
                " account = excluded.account, source = excluded.source,"
                " relayed_at = excluded.relayed_at",
                [(ref, group_id, device, account, source, now)
                 for ref, device, account in refs])

    async def kp_relayed(self, group_id: bytes, refs: Collection[bytes]
                         ) -> dict[bytes, tuple[str, str, str]]:
        """Those of ``refs`` the hub relayed for ``group_id`` -> (device_id, account,
        source)."""
        if not refs:
            return {}
        async with self.engine.read() as tx:
            rows = await tx.fetchall(
                "SELECT kp_ref, device_id, account, source FROM kp_relayed WHERE group_id = ?"
                f" AND kp_ref IN ({placeholders(len(refs))})", group_id, *refs)
        return {bytes(r[0]): (r[1], r[2], r[3]) for r in rows}

    async def mimi_view(self, group_id: bytes) -> tuple[int, bytes] | None:
        """(version, view) of a room this provider follows over MIMI."""
        async with self.engine.read() as tx:
            row = await tx.fetchone(
                "SELECT version, view FROM mimi_followed WHERE group_id = ?", group_id)
        return None if row is None else (int(row[0]), bytes(row[1]))

    async def fed_filed(self, msg_ids: Collection[str]) -> set[str]:
        """Those of ``msg_ids`` already filed here."""
        if not msg_ids:
            return set()
        async with self.engine.read() as tx:
            rows = await tx.fetchall(
                f"SELECT msg_id FROM messages WHERE msg_id IN ({placeholders(len(msg_ids))})",
                *msg_ids)
        return {r[0] for r in rows}

    async def fed_epoch_proposals(self, group_id: bytes, epoch: int) -> list[bytes]:
        """The proposals of a followed group's ``epoch`` filed here (a commit may name
        them by reference, RFC 9420 12.4)."""
        async with self.engine.read() as tx:
            rows = await tx.fetchall(
                "SELECT body FROM messages WHERE group_id = ? AND epoch = ? AND kind = ?"
                " ORDER BY created_at, msg_id", group_id, epoch, "proposal")
        return [bytes(r[0]) for r in rows]
