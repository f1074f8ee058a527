"""Size buckets and padding (THREATS.md T11, issue 11).

Buckets: every power of two from 256 B to 64 KiB (256, 512, 1 KiB, ...,
64 KiB), then every multiple of 64 KiB (128 KiB, 192 KiB, ...) up to
``MAX_BUCKET``. A provider sees only which bucket a message or a blob falls
in: to within a factor of two for messages, to within 64 KiB for large
blobs.

Padding scheme (ISO/IEC 7816-4, as in RFC 9420's own zero padding plus an
end marker): ``data || 0x80 || 0x00 * k``, where the total is the smallest
bucket holding ``len(data) + 1``. Unpadding is strict so that one padded
string has exactly one meaning: the length must be a bucket, the last
non-zero octet must be 0x80, and the bucket must be the smallest that fits
(a longer padding than needed is refused, not tolerated).
"""

from __future__ import annotations

from accord.errors import DecodeError, ValidationError

__all__ = ["MAX_BUCKET", "MIN_BUCKET", "STEP", "bucket_for", "is_bucket", "pad", "unpad"]

MIN_BUCKET = 256
STEP = 64 * 1024
MAX_BUCKET = 1 << 33  # 8 GiB: above the largest attachment plus its AEAD tags

_MARKER = 0x80


def bucket_for(n: int) -> int:
    """The smallest bucket of at least ``n`` bytes."""
    if n < 0 or n > MAX_BUCKET:
        raise ValidationError(f"{n} bytes is outside the padding range", "PROTOCOL.md padding")
    if n <= MIN_BUCKET:
        return MIN_BUCKET
    if n <= STEP:
        return 1 << (n - 1).bit_length()
    return -(-n // STEP) * STEP


def is_bucket(n: int) -> bool:
    if n < MIN_BUCKET or n > MAX_BUCKET:
        return False
    if n <= STEP:
        return n & (n - 1) == 0
    return n % STEP == 0


def pad(data: bytes, limit: int = MAX_BUCKET) -> bytes:
    """``data`` padded to its bucket; ``limit`` caps the bucket (a ``ValidationError``)."""
    size = bucket_for(len(data) + 1)
    if size > limit:
        raise ValidationError(f"{len(data)} bytes do not fit in {limit} once padded")
    return data + bytes([_MARKER]) + bytes(size - len(data) - 1)


def unpad(padded: bytes, limit: int = MAX_BUCKET) -> bytes:
    """The data inside ``padded``; any other shape is a ``DecodeError``."""
    n = len(padded)
    if n > limit or not is_bucket(n):
        raise DecodeError(f"{n} bytes is not a padding bucket")
    end = len(padded.rstrip(b"\x00"))
    if end == 0 or padded[end - 1] != _MARKER:
        raise DecodeError("padding has no end marker")
    data_len = end - 1
    if bucket_for(data_len + 1) != n:
        raise DecodeError("padding is longer than the smallest bucket")
    return padded[:data_len]
