"""Which provider hosts a device of another domain: bindings keyed by account (issue 17).

A device id is a random name its provider picks, not derived from a key, so
two providers can name the same id, and a provider that has seen another's
device id can list it under an account of its own. A bare id therefore never
says where a device lives. A device is known here as the pair
``(account, device_id)`` its MLS credential names (``account/device_id``,
RFC 9420 5.3), and it lives at the domain of that account: a provider can
speak for the devices of its own accounts only, whatever ids it picks.

- ``fed_bindings`` holds the pairs the owner's provider confirmed
  (:func:`bind_confirmed`): a KeyPackage claim whose KeyPackages name
  ``account/device_id``, or the account's device directory. Nothing else
  adds a row; a peer's word about another provider's account never does.
- ``group_members.domain`` is where each member of a group lives (NULL: a
  device of ours). The hub takes it from the member's credential when a
  commit adds it (:func:`place_added`), a follower from its hub's roster; it
  is what fan-out, peer checks, reports and erasure read.

``fed_admitted`` records which of our devices entered which group through a
Welcome that passed consent (T14): a follower files nothing else of a group
for a device that was never admitted to it (``accord.federation.follower``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from accord.errors import Conflict, NotFound
from accord.storage.engine import Tx, placeholders
from accord.wire.accounts import domain_of

BINDING_MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1750,
        """
ALTER TABLE fed_remote_devices ADD COLUMN confirmed {BIGINT} NOT NULL DEFAULT 0;
ALTER TABLE fed_remote_devices ADD COLUMN account TEXT;
CREATE TABLE fed_admitted (
    group_id {BLOB} NOT NULL,
    device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, device_id)
);
INSERT INTO fed_admitted (group_id, device_id)
    SELECT gm.group_id, gm.device_id FROM group_members gm
    JOIN devices d ON d.device_id = gm.device_id;
""",
    ),
    (
        1751,
        # Issue 17: bindings keyed by (account, device id), and each group member's
        # provider kept with the member. Existing members keep the provider their id
        # was bound to; only confirmed bindings carry over (an unconfirmed one was a
        # peer's own word, which now binds nothing).
        """
CREATE TABLE fed_bindings (
    account TEXT NOT NULL,
    device_id TEXT NOT NULL,
    PRIMARY KEY (account, device_id)
);
CREATE INDEX fed_bindings_by_device ON fed_bindings(device_id);
INSERT INTO fed_bindings (account, device_id)
    SELECT account, device_id FROM fed_remote_devices
    WHERE confirmed = 1 AND account IS NOT NULL;
ALTER TABLE group_members ADD COLUMN domain TEXT;
UPDATE group_members SET domain = (
    SELECT r.domain FROM fed_remote_devices r WHERE r.device_id = group_members.device_id)
    WHERE device_id NOT IN (SELECT device_id FROM devices);
DROP TABLE fed_remote_devices;
""",
    ),
)


async def bind_confirmed(tx: Tx, pairs: Sequence[tuple[str, str]], local_domain: str) -> None:
    """Record ``(account, device_id)`` pairs on the word of the account's own provider."""
    if any(domain_of(account) == local_domain for account, _ in pairs):
        raise Conflict("a device of this provider's accounts is not bound from elsewhere")
    await tx.executemany(
        "INSERT INTO fed_bindings (account, device_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        sorted(set(pairs)))


async def confirmed(tx: Tx, pairs: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
    """Those of ``pairs`` that the account's own provider confirmed here."""
    out: set[tuple[str, str]] = set()
    for account, device_id in sorted(set(pairs)):
        row = await tx.fetchone(
            "SELECT 1 FROM fed_bindings WHERE account = ? AND device_id = ?", account, device_id)
        if row is not None:
            out.add((account, device_id))
    return out


async def ours(tx: Tx, device_ids: Collection[str]) -> dict[str, str]:
    """Those of ``device_ids`` that are devices of this provider -> their account."""
    ids = sorted(set(device_ids))
    out: dict[str, str] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        rows = await tx.fetchall(
            f"SELECT device_id, account FROM devices WHERE device_id IN ({placeholders(len(chunk))})",
            *chunk)
        out.update({r[0]: r[1] for r in rows})
    return out


async def _local_keys(tx: Tx, device_ids: Collection[str]) -> dict[str, tuple[str, bytes]]:
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    rows = await tx.fetchall(
        "SELECT device_id, account, signature_key FROM devices"
        f" WHERE device_id IN ({placeholders(len(ids))})", *ids)
    return {r[0]: (r[1], bytes(r[2])) for r in rows}


async def place_added(tx: Tx, added: Mapping[str, tuple[str, bytes]], local_domain: str,
                      speaker: str | None) -> dict[str, str | None]:
    """Where each added device (``device_id -> (account, key)`` of its leaf) lives, or
    NotFound: ours must be that account's device here, with that key; ``speaker``'s
    (the follower forwarding the commit) are its own word about its own accounts, and
    any other provider's must be a pair that provider confirmed (a claim, or its
    directory)."""
    local = await _local_keys(
        tx, [d for d, (a, _) in added.items() if domain_of(a) == local_domain])
    remote = {(a, d) for d, (a, _) in added.items()
              if domain_of(a) not in (local_domain, speaker)}
    known = await confirmed(tx, remote)
    where: dict[str, str | None] = {}
    for device_id, (account, key) in added.items():
        domain = domain_of(account)
        if domain == local_domain:
            if local.get(device_id) != (account, key):
                raise NotFound("an added device is not a device of its account here")
            where[device_id] = None
        elif domain == speaker or (account, device_id) in known:
            where[device_id] = domain
        else:
            raise NotFound("an added device does not exist (claim its KeyPackage first)")
    return where


async def admit(tx: Tx, group_id: bytes, device_ids: Collection[str]) -> None:
    await tx.executemany(
        "INSERT INTO fed_admitted (group_id, device_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(group_id, d) for d in sorted(device_ids)])


async def admitted(tx: Tx, group_id: bytes, device_ids: Collection[str]) -> set[str]:
    """Those of ``device_ids`` admitted to the group (a Welcome that passed consent)."""
    rows = await tx.fetchall("SELECT device_id FROM fed_admitted WHERE group_id = ?", group_id)
    return {r[0] for r in rows} & set(device_ids)
