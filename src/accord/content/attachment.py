"""Client-side encryption of attachment blobs (THREATS.md T02, T03, T11).

A blob is the attachment's plaintext, padded (``accord.content.padding``
scheme: ``data || 0x80 || 0x00*``), cut into chunks and sealed chunk by chunk
with AES-256-GCM under a key used for this one blob. Every ciphertext chunk
is exactly 64 KiB (65,520 bytes of plaintext plus the 16-byte tag) except
the last, and the padding is chosen so that the whole blob is exactly a
padding bucket: the blob store sees only bucket sizes.

Nonce of chunk ``i``: ``i`` as 11 big-endian octets, then 0x01 for the final
chunk and 0x00 otherwise (the STREAM construction of Hoang, Reyhanitabar,
Rogaway and Vizár). The key is fresh per blob, so counters never repeat
under one key. Reordered chunks fail (wrong counter), a truncated blob fails
(no chunk opens with the final flag where the stream ends), and extra chunks
after the final one are refused. The SHA-256 of the whole blob, carried in
the message (``Attachment.ciphertext_sha256``), is checked too, so the blob
fetched is the blob the sender meant.

Streaming: ``BlobDecryptor.update`` releases plaintext chunk by chunk; the
caller must treat it as provisional until ``finish`` returns.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from accord.content.model import MAX_ATTACHMENT_SIZE
from accord.content.padding import STEP, bucket_for
from accord.errors import CryptoError, ValidationError

__all__ = [
    "CHUNK_BYTES",
    "CHUNK_PLAINTEXT",
    "BlobDecryptor",
    "BlobEncryptor",
    "BlobLayout",
    "EncryptedBlob",
    "blob_layout",
    "decrypt_attachment",
    "decrypt_chunk",
    "encrypt_attachment",
    "encrypt_chunk",
    "new_attachment_key",
]

TAG = 16
CHUNK_BYTES = STEP
CHUNK_PLAINTEXT = CHUNK_BYTES - TAG
BLOB_AAD = b"accord blob v1"
_MARKER = b"\x80"


def new_attachment_key(random_bytes: Callable[[int], bytes]) -> bytes:
    key = random_bytes(32)
    if not isinstance(key, bytes) or len(key) != 32:
        raise ValidationError("the random source must return 32 bytes")
    return key


class BlobLayout:
    """Sizes of the blob for ``size`` bytes of plaintext."""

    __slots__ = ("blob_size", "chunks", "padded_size", "size")

    def __init__(self, size: int) -> None:
        if not 0 <= size <= MAX_ATTACHMENT_SIZE:
            raise ValidationError(f"attachment of {size} bytes is outside the limit")
        self.size = size
        if size + 1 <= CHUNK_PLAINTEXT:
            # One chunk: the smallest power-of-two bucket holding data, marker, tag.
            self.blob_size = bucket_for(size + 1 + TAG)
            self.chunks = 1
        else:
            # Only the final chunk can hold padding: see the minimality of k.
            self.chunks = -(-(size + 1) // CHUNK_PLAINTEXT)
            self.blob_size = self.chunks * CHUNK_BYTES
        self.padded_size = self.blob_size - TAG * self.chunks

    def chunk_cipher_len(self, index: int) -> int:
        if index < self.chunks - 1:
            return CHUNK_BYTES
        return self.blob_size - CHUNK_BYTES * (self.chunks - 1)


def blob_layout(size: int) -> BlobLayout:
    return BlobLayout(size)


def _nonce(index: int, final: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def _aead(key: bytes) -> AESGCM:
    if len(key) != 32:
        raise ValidationError("an attachment key is 32 bytes (AES-256-GCM)")
    return AESGCM(key)


def encrypt_chunk(key: bytes, index: int, plaintext: bytes, final: bool) -> bytes:
    return _aead(key).encrypt(_nonce(index, final), plaintext, BLOB_AAD)


def decrypt_chunk(key: bytes, index: int, ciphertext: bytes, final: bool) -> bytes:
    try:
        return _aead(key).decrypt(_nonce(index, final), ciphertext, BLOB_AAD)
    except InvalidTag:
        raise CryptoError(f"blob chunk {index} does not authenticate") from None


class EncryptedBlob:
    __slots__ = ("ciphertext", "sha256")

    def __init__(self, ciphertext: bytes, sha256: bytes) -> None:
        self.ciphertext = ciphertext
        self.sha256 = sha256

    def __repr__(self) -> str:
        return f"EncryptedBlob({len(self.ciphertext)} bytes)"


class BlobEncryptor:
    """Streams ``size`` bytes of plaintext in; ciphertext chunks come out."""

    def __init__(self, key: bytes, size: int) -> None:
        self._aead = _aead(key)
        self._layout = BlobLayout(size)
        self._buf = bytearray()
        self._index = 0
        self._fed = 0
        self._hash = hashlib.sha256()
        self.sha256: bytes | None = None

    def update(self, data: bytes) -> bytes:
        self._fed += len(data)
        if self._fed > self._layout.size:
            raise ValidationError("more plaintext than the declared size")
        self._buf += data
        out = bytearray()
        # The final chunk is sealed in finish(), so keep at least one byte back.
        while len(self._buf) > CHUNK_PLAINTEXT and self._index < self._layout.chunks - 1:
            out += self._seal(bytes(self._buf[:CHUNK_PLAINTEXT]), final=False)
            del self._buf[:CHUNK_PLAINTEXT]
        return bytes(out)

    def finish(self) -> bytes:
        if self._fed != self._layout.size or self.sha256 is not None:
            raise ValidationError("plaintext shorter than the declared size, or finished twice")
        out = bytearray()
        while self._index < self._layout.chunks - 1:
            out += self._seal(bytes(self._buf[:CHUNK_PLAINTEXT]), final=False)
            del self._buf[:CHUNK_PLAINTEXT]
        tail_len = self._layout.chunk_cipher_len(self._index) - TAG
        tail = bytes(self._buf) + _MARKER
        out += self._seal(tail + bytes(tail_len - len(tail)), final=True)
        self._buf.clear()
        self.sha256 = self._hash.digest()
        return bytes(out)

    def _seal(self, chunk: bytes, final: bool) -> bytes:
        sealed = self._aead.encrypt(_nonce(self._index, final), chunk, BLOB_AAD)
        self._index += 1
        self._hash.update(sealed)
        return sealed


class BlobDecryptor:
    """Streams blob bytes in; plaintext comes out once each chunk authenticates."""

    def __init__(self, key: bytes, size: int, sha256: bytes) -> None:
        self._aead = _aead(key)
        self._layout = BlobLayout(size)
        self._expected = sha256
        self._buf = bytearray()
        self._index = 0
        self._released = 0
        self._hash = hashlib.sha256()
        self._done = False

    def update(self, data: bytes) -> bytes:
        if self._done:
            raise CryptoError("bytes after the end of the blob")
        self._buf += data
        out = bytearray()
        while self._index < self._layout.chunks - 1 and len(self._buf) >= CHUNK_BYTES:
            out += self._open(bytes(self._buf[:CHUNK_BYTES]), final=False)
            del self._buf[:CHUNK_BYTES]
        if len(self._buf) > self._layout.chunk_cipher_len(self._index):
            raise CryptoError("the blob is longer than its declared size")
        self._released += len(out)
        return bytes(out)

    def finish(self) -> bytes:
        """The rest of the plaintext, after every check on the whole blob."""
        if self._done:
            raise CryptoError("blob already finished")
        last = self._layout.chunks - 1
        if self._index != last or len(self._buf) != self._layout.chunk_cipher_len(last):
            raise CryptoError("the blob is truncated")
        tail = self._open(bytes(self._buf), final=True)
        self._done = True
        if not hmac.compare_digest(self._hash.digest(), self._expected):
            raise CryptoError("the blob's SHA-256 does not match the message")
        keep = self._layout.size - self._released
        if tail[keep : keep + 1] != _MARKER or any(tail[keep + 1 :]):
            raise CryptoError("the blob's padding is malformed")
        return tail[:keep]

    def _open(self, chunk: bytes, final: bool) -> bytes:
        self._hash.update(chunk)
        try:
            plain = self._aead.decrypt(_nonce(self._index, final), chunk, BLOB_AAD)
        except InvalidTag:
            raise CryptoError(f"blob chunk {self._index} does not authenticate") from None
        self._index += 1
        return plain


def encrypt_attachment(key: bytes, data: bytes) -> EncryptedBlob:
    """Encrypt a whole attachment in memory (small files)."""
    enc = BlobEncryptor(key, len(data))
    blob = enc.update(data) + enc.finish()
    assert enc.sha256 is not None
    return EncryptedBlob(blob, enc.sha256)


def decrypt_attachment(key: bytes, blob: bytes, sha256: bytes, size: int) -> bytes:
    """Decrypt and check a whole blob; every failure is a ``CryptoError``."""
    if len(blob) != BlobLayout(size).blob_size:
        raise CryptoError("the blob does not have the size its message declares")
    dec = BlobDecryptor(key, size, sha256)
    return dec.update(blob) + dec.finish()
