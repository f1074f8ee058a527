"""Provider rows of the device-linking rendezvous (``accord.server.rendezvous``).

One row per open slot: the slot id (derived from the linking code, never the
code), the creating device, the sealed offer and answer (opaque ciphertext),
how many times the slot was used by the unauthenticated side, and when it
expires. Rows go with the device (ON DELETE CASCADE).
"""

from __future__ import annotations

from dataclasses import dataclass

from accord.storage.engine import Engine, Row

RENDEZVOUS_MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        300,
        """
CREATE TABLE rendezvous_slots (
    slot_id {BLOB} PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
    offer {BLOB} NOT NULL,
    answer {BLOB},
    uses {BIGINT} NOT NULL DEFAULT 0,
    expires_at {BIGINT} NOT NULL
);
CREATE INDEX rendezvous_by_device ON rendezvous_slots(device_id);
""",
    ),
)


@dataclass(frozen=True, slots=True)
class Slot:
    device_id: str
    offer: bytes
    answer: bytes | None
    uses: int
    expires_at: int


async def purge(engine: Engine, now: int) -> None:
    async with engine.transaction() as tx:
        await tx.execute("DELETE FROM rendezvous_slots WHERE expires_at <= ?", now)


async def open_count(engine: Engine, device_id: str, now: int) -> int:
    async with engine.transaction() as tx:
        row = await tx.fetchone(
            "SELECT COUNT(*) FROM rendezvous_slots WHERE device_id = ? AND expires_at > ?",
            device_id, now)
    return int(row[0]) if row else 0


async def create(engine: Engine, slot_id: bytes, device_id: str, offer: bytes,
                 expires_at: int) -> bool:
    """False when a slot with that id is already open."""
    async with engine.transaction() as tx:
        n = await tx.execute(
            "INSERT INTO rendezvous_slots (slot_id, device_id, offer, expires_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            slot_id, device_id, offer, expires_at)
    return n == 1


async def use(engine: Engine, slot_id: bytes, now: int, max_uses: int) -> Slot | None:
    """Count one use by the unauthenticated side; the slot, or None when absent,
    expired or used up (a used-up slot is deleted)."""
    async with engine.transaction() as tx:
        row = await tx.fetchone(
            "UPDATE rendezvous_slots SET uses = uses + 1 WHERE slot_id = ? AND expires_at > ?"
            " RETURNING device_id, offer, answer, uses, expires_at", slot_id, now)
        if row is None:
            return None
        if int(row[3]) > max_uses:
            await tx.execute("DELETE FROM rendezvous_slots WHERE slot_id = ?", slot_id)
            return None
    return _slot(row)


async def get(engine: Engine, slot_id: bytes, now: int) -> Slot | None:
    async with engine.transaction() as tx:
        row = await tx.fetchone(
            "SELECT device_id, offer, answer, uses, expires_at FROM rendezvous_slots"
            " WHERE slot_id = ? AND expires_at > ?", slot_id, now)
    return None if row is None else _slot(row)


async def set_answer(engine: Engine, slot_id: bytes, answer: bytes, now: int) -> bool:
    """False when the slot is gone or already answered (the first answer stands)."""
    async with engine.transaction() as tx:
        n = await tx.execute(
            "UPDATE rendezvous_slots SET answer = ? WHERE slot_id = ? AND answer IS NULL"
            " AND expires_at > ?", answer, slot_id, now)
    return n == 1


async def delete(engine: Engine, slot_id: bytes, device_id: str) -> bool:
    async with engine.transaction() as tx:
        n = await tx.execute(
            "DELETE FROM rendezvous_slots WHERE slot_id = ? AND device_id = ?",
            slot_id, device_id)
    return n == 1


def _slot(row: Row) -> Slot:
    return Slot(row[0], bytes(row[1]), None if row[2] is None else bytes(row[2]),
                int(row[3]), int(row[4]))
