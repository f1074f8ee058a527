"""Log entries and the pseudonymous index of an identity.

An entry records one change to an identity's set of device signature keys,
with the successions that explain it (a device restored from backup: the old
key signs for the new one, ``Succession``), or the tombstone of a deleted account (issue 11, T18: the log is append-only,
so deletion leaves a tombstone by design; it carries no keys and no name).

The identity is never in the clear (issue 7: readers must not enumerate a
provider's users):

- ``index = HMAC-SHA256(index_key, "accord kt index v1" || identity)``: the
  map key. Without the provider's index key nobody can compute or invert it.
- ``opening = HMAC-SHA256(index_key, "accord kt opening v1" || identity)``,
  given only to whoever asks about ``identity``, and
  ``identity_commitment = SHA-256("accord kt identity v1" || opening ||
  identity)`` inside the entry: a reader who knows the identity can check
  that the entry is about it; a reader who does not learns nothing.
- Every signed head carries ``SHA-256("accord kt index key v1" ||
  index_key)``, so the provider is bound to one index key: if the key is
  ever disclosed (to an auditor, at rotation, in a dispute), every index and
  commitment in the log can be rechecked against it.

See ``directory`` and docs/PROTOCOL.md for what a lookup proves and does not.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

from accord.bounded import BoundedBytes, BoundedTuple, Flag
from accord.errors import DecodeError, ValidationError
from accord.mls.codec import U64, Fixed, decode, encode, wire

__all__ = [
    "ENTRY_VERSION",
    "MAX_DEVICES",
    "MAX_SUCCESSIONS",
    "LogEntry",
    "MapValue",
    "Succession",
    "decode_entry",
    "encode_entry",
    "identity_commitment",
    "identity_index",
    "identity_opening",
    "index_key_commitment",
]

ENTRY_VERSION = 2  # 2 added ``successions``; a version 1 entry reads as having none
MAX_DEVICES = 64
MAX_SUCCESSIONS = 8  # carried from entry to entry, the newest kept
MAX_KEY_BYTES = 133  # the largest MLS signature public key (P-521, RFC 9420 5.1.1)
MAX_SIGNATURE_BYTES = 132  # ECDSA P-521, DER at most; Ed25519 is 64

Hash32 = Annotated[bytes, Fixed(32)]


def _identity_bytes(identity: str) -> bytes:
    try:
        raw = identity.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("an identity is UTF-8 text") from None
    if not 3 <= len(raw) <= 320:
        raise ValidationError("an identity is 3..320 bytes (user@provider.domain)")
    return raw


def _check_index_key(index_key: bytes) -> None:
    if len(index_key) < 32:
        raise ValidationError("the index key is at least 32 bytes")


def identity_index(index_key: bytes, identity: str) -> bytes:
    _check_index_key(index_key)
    msg = b"accord kt index v1" + _identity_bytes(identity)
    return hmac.new(index_key, msg, hashlib.sha256).digest()


def identity_opening(index_key: bytes, identity: str) -> bytes:
    _check_index_key(index_key)
    msg = b"accord kt opening v1" + _identity_bytes(identity)
    return hmac.new(index_key, msg, hashlib.sha256).digest()


def identity_commitment(opening: bytes, identity: str) -> bytes:
    return hashlib.sha256(b"accord kt identity v1" + opening + _identity_bytes(identity)).digest()


def index_key_commitment(index_key: bytes) -> bytes:
    _check_index_key(index_key)
    return hashlib.sha256(b"accord kt index key v1" + index_key).digest()


@wire
class Succession:
    """``predecessor`` names ``successor`` the device that takes its place (issue 19).

    ``signature`` is the predecessor's, over ``accord.wire.signing.succession_input``:
    the provider publishes it but cannot make one, so a reader who trusted the
    predecessor checks it (``directory.proven_successions``) and may trust the
    successor; a key the provider swapped in has none.
    """

    predecessor: BoundedBytes(MAX_KEY_BYTES, 32)  # type: ignore[valid-type]
    successor: BoundedBytes(MAX_KEY_BYTES, 32)  # type: ignore[valid-type]
    signature: BoundedBytes(MAX_SIGNATURE_BYTES, 64)  # type: ignore[valid-type]


@wire
class LogEntry:
    index: Hash32
    identity_commitment: Hash32
    version: U64  # device set version: 1 for the first entry, +1 for each change
    previous: U64 | None  # log position of this index's previous entry
    timestamp: U64  # ms since the Unix epoch, the provider's clock (passed in)
    deleted: Flag  # a tombstone: the account is gone, no keys
    # The device signature public keys, sorted and distinct: a set, canonically.
    device_keys: BoundedTuple(BoundedBytes(MAX_KEY_BYTES, 32), MAX_DEVICES)  # type: ignore[valid-type]
    # This entry's succession, if any, after the ones of earlier entries (the newest
    # MAX_SUCCESSIONS): a reader who was away for several changes still finds them.
    successions: BoundedTuple(Succession, MAX_SUCCESSIONS) = ()  # type: ignore[valid-type]

    def __repr__(self) -> str:
        return f"LogEntry(version={self.version}, devices={len(self.device_keys)}, deleted={self.deleted})"


@wire
class MapValue:
    """What the prefix map holds for an index: where its latest entry is."""

    position: U64
    entry_hash: Hash32  # RFC 9162 leaf hash of the encoded entry


def _entry_rule(e: LogEntry) -> str | None:
    if e.version < 1:
        return "the first version is 1"
    if (e.version == 1) != (e.previous is None):
        return "exactly the first version has no previous entry"
    if e.deleted and e.device_keys:
        return "a tombstone has no keys"
    if list(e.device_keys) != sorted(set(e.device_keys)):
        return "device keys are sorted and distinct"
    if e.deleted and e.successions:
        return "a tombstone has no successions"
    return None


def encode_entry(entry: LogEntry) -> bytes:
    broken = _entry_rule(entry)
    if broken:
        raise ValidationError(broken, "PROTOCOL.md key transparency")
    return bytes([ENTRY_VERSION]) + encode(LogEntry, entry)


def decode_entry(data: bytes) -> LogEntry:
    if not data or data[0] not in (1, ENTRY_VERSION):
        raise DecodeError("not a log entry of a known version")
    # Version 1 is version 2 without the last field: an empty vector is one zero byte.
    body = bytes(data[1:]) + (b"\x00" if data[0] == 1 else b"")
    entry: Any = decode(LogEntry, body)
    broken = _entry_rule(entry)
    if broken:
        raise DecodeError(broken)
    assert isinstance(entry, LogEntry)
    return entry
