"""Encrypted attachments: upload once, fetch by an unguessable capability id.

The provider only sees ciphertext (the client encrypts with a fresh key,
T02). The capability id is 256 random bits; only its SHA-256 is stored, so
the database alone does not let anyone download a blob.
"""

from __future__ import annotations

import hashlib
import secrets

from accord.errors import DecodeError, NotFound, ValidationError
from accord.federation import follower
from accord.server.state import Provider
from accord.storage import DeviceRecord
from accord.wire import b64d, b64e
from accord.wire import messages as m

CAP_RE = r"[A-Za-z0-9_-]{43}"
# A blob id names its provider after the capability (``CAP.alpha.test``), so a
# recipient's own provider can fetch a blob of another provider (federation).
BLOB_ID_RE = CAP_RE + r"(?:\.[a-z0-9][a-z0-9.-]{0,252})?"
CAP_CHARS = 43


async def upload(p: Provider, by: DeviceRecord, data: bytes, now: int) -> m.BlobCreated:
    # The device's byte budget ("blob_bytes") was charged while the body was read
    # (``routes.read_body``), before it could fill memory.
    if not data:
        raise ValidationError("an empty blob")
    cap = secrets.token_bytes(32)
    sha = hashlib.sha256(data).digest()
    await p.store.put_blob(hashlib.sha256(cap).digest(), sha, data, now)
    return m.BlobCreated(blob_id=f"{b64e(cap)}.{p.config.domain}", sha256=sha, size=len(data))


async def download(p: Provider, blob_id: str) -> bytes:
    blob_id, _, domain = blob_id[:CAP_CHARS], blob_id[CAP_CHARS:CAP_CHARS + 1], \
        blob_id[CAP_CHARS + 1:]
    if domain and domain != p.config.domain:
        return await follower.fetch_blob(p.federation, domain, blob_id, p.clock())
    try:
        cap = b64d(blob_id)
    except DecodeError as exc:
        raise NotFound("no such blob") from exc
    if len(cap) != 32:
        raise NotFound("no such blob")
    return await p.store.get_blob(hashlib.sha256(cap).digest())
