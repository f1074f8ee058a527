"""Linking a new device with a short code shown by an existing device (issue 5).

The EXISTING device makes a random 10-character code (Crockford base32,
50 bits) and shows it (and its QR code). Both devices stretch the code with
Argon2id (so the provider, which sees the slot id, cannot search the code
space in the minutes a slot lives) and derive with HKDF a 16-byte slot id
and a 32-byte key. Through the provider's rendezvous slot
(``accord.server.rendezvous``) they exchange two AEAD-sealed messages:

- offer (existing -> new): the account to join;
- answer (new -> existing): the new device's signature key and its proof of
  possession for that account.

The provider sees only the slot id and ciphertext. The existing device shows
the new key's fingerprint (the new device shows the same) for the user to
compare, then certifies the key with ``POST /v1/devices`` and adds the new
device to every conversation once it has published KeyPackages.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from accord.client import consent
from accord.client import conversations as convs
from accord.client.mls_session import identity_of
from accord.errors import CryptoError, NotFound, ValidationError
from accord.wire import b64d, b64e, signing

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LEN = 10
TTL_MS = 300_000
FORMAT = 1
_STRETCH_SALT = b"accord link code v1"
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


class LinkError(NotFound):
    """The code names no open slot, or what is in it does not open with the code."""


@dataclass(frozen=True, slots=True)
class CodeKeys:
    slot: bytes
    key: bytes


@dataclass(frozen=True, slots=True)
class NewDevice:
    signature_key: bytes
    possession: bytes

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.signature_key)


@dataclass(frozen=True, slots=True)
class LinkSlot:
    code: str
    keys: CodeKeys
    expires_at: int


def new_code(random_bytes: Any = os.urandom) -> str:
    raw = int.from_bytes(random_bytes(8), "big")
    chars = [ALPHABET[(raw >> (5 * i)) & 31] for i in range(CODE_LEN)]
    return "".join(chars[:5]) + "-" + "".join(chars[5:])


def normalize(code: str) -> str:
    s = code.strip().upper().replace("-", "").replace(" ", "").translate(_CONFUSABLE)
    if len(s) != CODE_LEN or any(c not in ALPHABET for c in s):
        raise ValidationError(f"a linking code is {CODE_LEN} letters and digits, like 7K3QX-9ZC2M")
    return s


def derive(code: str) -> CodeKeys:
    """Slot id and key from a code (Argon2id stretch, then HKDF-SHA256)."""
    stretched = hash_secret_raw(normalize(code).encode(), _STRETCH_SALT, time_cost=2,
                                memory_cost=19 * 1024, parallelism=1, hash_len=32,
                                type=Type.ID)

    def expand(info: bytes, n: int) -> bytes:
        return HKDF(hashes.SHA256(), n, None, info).derive(stretched)

    return CodeKeys(expand(b"accord link slot", 16), expand(b"accord link key", 32))


def key_fingerprint(signature_key: bytes) -> str:
    digest = hashlib.sha256(b"accord device key\x00" + signature_key).hexdigest()[:20]
    return " ".join(digest[i:i + 4] for i in range(0, 20, 4))


def seal(keys: CodeKeys, role: bytes, doc: dict[str, Any]) -> bytes:
    nonce = os.urandom(12)
    aad = b"accord link v1 " + role + keys.slot
    return nonce + ChaCha20Poly1305(keys.key).encrypt(nonce, json.dumps(doc).encode(), aad)


def unseal(keys: CodeKeys, role: bytes, sealed: bytes) -> dict[str, Any]:
    aad = b"accord link v1 " + role + keys.slot
    try:
        doc = json.loads(ChaCha20Poly1305(keys.key).decrypt(sealed[:12], sealed[12:], aad))
    except (InvalidTag, ValueError):
        raise CryptoError("the linking slot does not open with this code") from None
    if not isinstance(doc, dict) or doc.get("v") != FORMAT:
        raise CryptoError("unknown linking format")
    return doc


# -- the existing device ---------------------------------------------------------------

async def open_slot(dev: DeviceCore, now: int, ttl_ms: int = TTL_MS) -> LinkSlot:
    code = new_code(dev.random_bytes)
    keys = derive(code)
    offer = seal(keys, b"offer", {"v": FORMAT, "account": dev.identity.account})
    created = await dev.api.rendezvous_open(keys.slot, offer, ttl_ms)
    return LinkSlot(code, keys, created.expires_at)


async def poll_answer(dev: DeviceCore, slot: LinkSlot) -> NewDevice | None:
    """The new device's key once it answered (possession checked); None until then."""
    state = await dev.api.rendezvous_state(slot.keys.slot)
    if state.answer is None:
        return None
    doc = unseal(slot.keys, b"answer", state.answer)
    try:
        new = NewDevice(b64d(str(doc["key"])), b64d(str(doc["possession"])))
    except KeyError:
        raise CryptoError("the answer lacks a key") from None
    signing.verify(new.signature_key, new.possession,
                   signing.possession_input(dev.identity.account, new.signature_key))
    return new


async def certify(dev: DeviceCore, slot: LinkSlot, new: NewDevice, *,
                  send_history: bool = True) -> str:
    """Certify the new key with the provider, close the slot; the new device id."""
    ident = dev.identity
    resp = await dev.api.add_device(ident.account, new.signature_key, dev.sign, new.possession)
    dev.store.put_json("linked", sorted({*dev.store.get_json("linked", []), resp.device_id}))
    if send_history:
        pending = dev.store.get_json("history_pending", [])
        dev.store.put_json("history_pending", sorted({*pending, resp.device_id}))
    await close_slot(dev, slot)
    return resp.device_id


async def close_slot(dev: DeviceCore, slot: LinkSlot) -> None:
    with contextlib.suppress(NotFound):  # expired already: nothing left to remove
        await dev.api.rendezvous_close(slot.keys.slot)


async def add_to_conversations(dev: DeviceCore, device_id: str, now: int) -> int:
    """Add the linked device to every conversation now; how many still lack it
    (it has not published KeyPackages yet)."""
    me = identity_of(dev.identity.account, device_id)
    missing = 0
    for conv in dev.store.conversations():
        if not conv["meta"].get("active", True) or consent.is_pending(conv):
            continue  # T14: a pending request gets the device once accepted (housekeeping)
        present = {mb.identity for mb in dev.engine.members(dev.store.load_group(conv["group_id"]))}
        if me in present:
            continue
        if not await convs.add_members(dev, conv, [dev.identity.account], now):
            missing += 1
    return missing


# -- the new device ---------------------------------------------------------------------

async def join(dev: DeviceCore, code: str, server: str) -> str:
    """Answer an existing device's code; the account joined. The new device then
    waits for certification with ``DeviceCore.complete_link``."""
    if dev.registered:
        raise ValidationError("this profile already belongs to an account")
    keys = derive(code)
    api = await dev.connect(server)
    try:
        offer = await api.rendezvous_offer(keys.slot)
    except NotFound:
        raise LinkError("no such linking code: mistyped, expired or already used") from None
    account = str(unseal(keys, b"offer", offer.offer).get("account", ""))
    pub = dev.signature_public_key
    possession = dev.sign(signing.possession_input(account, pub))
    dev.store.put_json("link_request", {"account": account, "server": server})
    answer = seal(keys, b"answer", {"v": FORMAT, "key": b64e(pub), "possession": b64e(possession)})
    await api.rendezvous_answer(keys.slot, answer)
    return account
