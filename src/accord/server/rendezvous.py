"""The device-linking rendezvous: a short-lived slot two devices meet in.

The existing device (authenticated) opens a slot named by a 16-byte value
derived from the linking code it shows, with a sealed offer; the new device
(not yet registered, so unauthenticated) reads the offer and leaves one
sealed answer; the existing device polls for it and closes the slot. Offer
and answer are AEAD ciphertexts under a key derived from the code
(``accord.client.linking``): the provider keeps only ciphertext, never the
code nor the new device's key in the clear.

Limits: a slot lives at most ten minutes (``now`` is an input), the
unauthenticated side may use a slot at most ``MAX_USES`` times (then it is
gone), the first answer stands, a device holds at most ``MAX_OPEN`` slots,
and the unauthenticated routes are rate-limited per address.
"""

from __future__ import annotations

from starlette.routing import Route

from accord.errors import Conflict, NotFound, RateLimited, ValidationError
from accord.server.routes import Call, Param, Spec, endpoint
from accord.server.state import Provider
from accord.storage import DeviceRecord
from accord.wire import b64d
from accord.wire import rendezvous as w

MAX_USES = 6  # offer reads plus answer posts by the side without a session
MAX_OPEN = 3
GONE = "no such linking code: mistyped, expired or already used"

SLOT = Param("slot", "path", {"type": "string", "pattern": "^[A-Za-z0-9_-]{22}$"},
             "base64url of the 16-byte slot id derived from the linking code")


def _slot_id(c: Call) -> bytes:
    raw = b64d(c.request.path_params["slot"])
    if len(raw) != w.SLOT_LEN:
        raise ValidationError(f"a slot id is {w.SLOT_LEN} bytes")
    return raw


async def create(p: Provider, me: DeviceRecord, req: w.RendezvousCreate,
                 now: int) -> w.RendezvousCreated:
    slots = p.store.rendezvous
    await slots.purge(now)
    if await slots.open_count(me.device_id, now) >= MAX_OPEN:
        raise RateLimited(f"at most {MAX_OPEN} linking codes open at once")
    expires_at = now + req.ttl_ms
    if not await slots.create(req.slot, me.device_id, req.offer, expires_at):
        raise Conflict("this slot is taken; make a new linking code")
    return w.RendezvousCreated(expires_at=expires_at)


async def read_offer(p: Provider, slot_id: bytes, now: int) -> w.RendezvousOffer:
    slot = await p.store.rendezvous.use(slot_id, now, MAX_USES)
    if slot is None:
        raise NotFound(GONE)
    return w.RendezvousOffer(offer=slot.offer, expires_at=slot.expires_at)


async def answer(p: Provider, slot_id: bytes, req: w.RendezvousAnswer, now: int) -> None:
    slots = p.store.rendezvous
    if await slots.use(slot_id, now, MAX_USES) is None:
        raise NotFound(GONE)
    if not await slots.set_answer(slot_id, req.answer, now):
        raise Conflict("this linking code was already answered")


async def state(p: Provider, me: DeviceRecord, slot_id: bytes, now: int) -> w.RendezvousState:
    slot = await p.store.rendezvous.get(slot_id, now)
    if slot is None or slot.device_id != me.device_id:
        raise NotFound(GONE)
    return w.RendezvousState(expires_at=slot.expires_at, answer=slot.answer)


async def close(p: Provider, me: DeviceRecord, slot_id: bytes) -> None:
    if not await p.store.rendezvous.delete(slot_id, me.device_id):
        raise NotFound(GONE)


SPECS: tuple[Spec, ...] = (
    Spec("POST", "/v1/rendezvous", "Open a linking slot with a sealed offer (existing device)",
         lambda c: create(c.provider, c.me, c.body, c.now), auth=True,
         request=w.RendezvousCreate, response=w.RendezvousCreated, status=201),
    Spec("GET", "/v1/rendezvous/{slot}", "Read a linking slot's sealed offer (new device)",
         lambda c: read_offer(c.provider, _slot_id(c), c.now),
         response=w.RendezvousOffer, params=(SLOT,), address_limit="rendezvous"),
    Spec("POST", "/v1/rendezvous/{slot}/answer", "Leave the sealed answer (new device)",
         lambda c: answer(c.provider, _slot_id(c), c.body, c.now),
         request=w.RendezvousAnswer, status=204, params=(SLOT,), address_limit="rendezvous"),
    Spec("GET", "/v1/rendezvous/{slot}/answer", "Poll a slot for its answer (its creator)",
         lambda c: state(c.provider, c.me, _slot_id(c), c.now), auth=True,
         response=w.RendezvousState, params=(SLOT,)),
    Spec("DELETE", "/v1/rendezvous/{slot}", "Close a linking slot (its creator)",
         lambda c: close(c.provider, c.me, _slot_id(c)), auth=True, status=204,
         params=(SLOT,)),
)


def rendezvous_routes() -> list[Route]:
    return [Route(s.path, endpoint(s), methods=[s.method]) for s in SPECS]
