"""Messages of the device-linking rendezvous (``/v1/rendezvous``).

The existing device opens a slot named by a value derived from the short
linking code and leaves a sealed offer in it; the new device, which was told
the code, reads the offer and leaves a sealed answer (its signature key and
proof of possession). Offer and answer are AEAD ciphertexts under a key
derived from the code (``accord.client.linking``): the provider stores and
relays them and never sees what is inside.
"""

from __future__ import annotations

from dataclasses import dataclass

from accord.wire.codec import f

SLOT_LEN = 16
MAX_SEALED = 2048
MIN_TTL_MS = 1_000
MAX_TTL_MS = 600_000  # ten minutes


@dataclass(frozen=True, slots=True)
class RendezvousCreate:
    slot: bytes = f(min_len=SLOT_LEN, max_len=SLOT_LEN)
    offer: bytes = f(min_len=1, max_len=MAX_SEALED)
    ttl_ms: int = f(minimum=MIN_TTL_MS, maximum=MAX_TTL_MS)


@dataclass(frozen=True, slots=True)
class RendezvousCreated:
    expires_at: int


@dataclass(frozen=True, slots=True)
class RendezvousOffer:
    offer: bytes
    expires_at: int


@dataclass(frozen=True, slots=True)
class RendezvousAnswer:
    answer: bytes = f(min_len=1, max_len=MAX_SEALED)


@dataclass(frozen=True, slots=True)
class RendezvousState:
    """What the slot's creator polls: the answer once the new device left one."""

    expires_at: int
    answer: bytes | None = None
