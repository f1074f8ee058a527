"""Which provider hosts a device of another domain: bindings, and who may make them (issue 17).

A device id is a random 128-bit name, not derived from a key, so a binding
``device_id -> domain`` (``fed_remote_devices``) is only as good as the word
that made it. Two kinds of word, never a third party's:

- *confirmed*: the owner's provider answered for one of its own accounts
  (a KeyPackage claim whose KeyPackages name ``account/device_id``, or its
  device directory). :func:`bind_confirmed`.
- *unconfirmed*: a signing peer named a device as its own (a hub's roster,
  a follower's ``added``). :func:`bind_own_word`. It never replaces a binding,
  and a confirmed answer from another provider replaces it: a wrong binding
  cannot block claims for good.

A confirmed binding that another provider's confirmed answer contradicts is
*contested*: the caller asks the bound provider again (I/O, outside the
store) and calls :func:`rebind` only when it no longer lists the device.

``fed_admitted`` records which of our devices entered which group through a
Welcome that passed consent (T14): a follower files nothing else of a group
for a device that was never admitted to it (``accord.federation.follower``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from accord.errors import Conflict, NotFound
from accord.storage.engine import Tx

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
)

# (device_id, domain it is bound to, account the binding was confirmed for)
Contested = tuple[str, str, str | None]


async def _bindings(tx: Tx, device_ids: Collection[str]
                    ) -> dict[str, tuple[str | None, bool, str | None]]:
    """device -> (domain or None for ours, confirmed, account) for the known ones."""
    out: dict[str, tuple[str | None, bool, str | None]] = {}
    ids = sorted(set(device_ids))
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ", ".join("?" * len(chunk))
        rows = await tx.fetchall(f"SELECT device_id FROM devices WHERE device_id IN ({marks})",
                                 *chunk)
        out.update({r[0]: (None, True, None) for r in rows})
        rows = await tx.fetchall(
            "SELECT device_id, domain, confirmed, account FROM fed_remote_devices"
            f" WHERE device_id IN ({marks})", *chunk)
        for device_id, domain, confirmed, account in rows:
            out.setdefault(device_id, (domain, bool(confirmed), account))
    return out


async def _put(tx: Tx, device_id: str, domain: str, confirmed: bool, account: str | None
               ) -> None:
    await tx.execute("DELETE FROM fed_remote_devices WHERE device_id = ?", device_id)
    await tx.execute(
        "INSERT INTO fed_remote_devices (device_id, domain, confirmed, account)"
        " VALUES (?, ?, ?, ?)", device_id, domain, int(confirmed), account)


async def bind_confirmed(tx: Tx, devices: Sequence[tuple[str, str, str]], local_domain: str
                         ) -> list[Contested]:
    """Bind ``(device_id, domain, account)`` on the word of ``domain`` about its own
    ``account``; the devices confirmed elsewhere, left as they are (contested)."""
    known = await _bindings(tx, [d for d, _, _ in devices])
    contested: list[Contested] = []
    for device_id, domain, account in devices:
        if domain == local_domain or account.rsplit("@", 1)[-1] != domain:
            raise Conflict("a provider can only confirm devices of its own accounts")
        was = known.get(device_id)
        if was is not None and was[0] is None:
            raise Conflict("a device id of this provider cannot be bound to another")
        if was is not None and was[0] != domain and was[1]:
            contested.append((device_id, str(was[0]), was[2]))
            continue
        await _put(tx, device_id, domain, True, account)
        known[device_id] = (domain, True, account)
    return contested


async def rebind(tx: Tx, device_id: str, domain: str, account: str) -> None:
    """The bound provider no longer lists the device: the new owner's answer stands."""
    await _put(tx, device_id, domain, True, account)


async def bind_own_word(tx: Tx, devices: Sequence[tuple[str, str]], signer: str,
                        local_domain: str, *, third_party: str = "refuse") -> None:
    """``signer`` names where devices live. Only its own unbound devices get bound
    (unconfirmed); ours must be ours; a third party's must already be bound there
    (``third_party="refuse"``: Conflict) or are left alone (``"ignore"``)."""
    known = await _bindings(tx, [d for d, _ in devices])
    for device_id, domain in devices:
        was = known.get(device_id)
        if domain == local_domain:
            if was is None or was[0] is not None:
                raise NotFound("a device said to be ours is not registered here")
            continue
        if was is not None and was[0] == domain:
            continue
        if third_party == "ignore" and (domain != signer or was is not None):
            continue  # informational (a hub's roster): never a binding, never a refusal
        if was is not None:
            raise Conflict("a device id is already bound to another provider")
        if domain != signer:
            raise Conflict("a provider cannot bind a device of another provider")
        await _put(tx, device_id, domain, False, None)
        known[device_id] = (domain, False, None)


async def admit(tx: Tx, group_id: bytes, device_ids: Collection[str]) -> None:
    await tx.executemany(
        "INSERT INTO fed_admitted (group_id, device_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(group_id, d) for d in sorted(device_ids)])


async def admitted(tx: Tx, group_id: bytes, device_ids: Collection[str]) -> set[str]:
    """Those of ``device_ids`` admitted to the group (a Welcome that passed consent)."""
    rows = await tx.fetchall("SELECT device_id FROM fed_admitted WHERE group_id = ?", group_id)
    return {r[0] for r in rows} & set(device_ids)
