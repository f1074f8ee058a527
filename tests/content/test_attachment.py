"""Attachment blobs: round trips, bucket sizes (T11), and tampering (T03)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.content import (
    BlobDecryptor,
    BlobEncryptor,
    blob_layout,
    decrypt_attachment,
    decrypt_chunk,
    encrypt_attachment,
    encrypt_chunk,
    is_bucket,
    new_attachment_key,
)
from accord.content.attachment import CHUNK_BYTES, CHUNK_PLAINTEXT
from accord.errors import CryptoError, ValidationError

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
KEY = bytes(range(32))
# Sizes around every edge of the layout: one chunk, the 64 KiB bucket, two and three chunks.
EDGES = [
    0,
    1,
    239,
    240,
    65503,
    65504,
    65519,
    65520,
    65521,
    2 * CHUNK_PLAINTEXT - 1,
    2 * CHUNK_PLAINTEXT,
]


@pytest.mark.parametrize("size", EDGES)
def test_round_trip_at_layout_edges(size: int) -> None:
    data = os.urandom(size)
    blob = encrypt_attachment(KEY, data)
    assert decrypt_attachment(KEY, blob.ciphertext, blob.sha256, size) == data
    assert len(blob.ciphertext) == blob_layout(size).blob_size


@SETTINGS
@given(st.binary(max_size=200_000), st.lists(st.integers(1, 90_000), min_size=1, max_size=8))
def test_streaming_equals_one_shot(data: bytes, cuts: list[int]) -> None:
    enc = BlobEncryptor(KEY, len(data))
    out, pos, i = bytearray(), 0, 0
    while pos < len(data):
        step = cuts[i % len(cuts)]
        out += enc.update(data[pos : pos + step])
        pos, i = pos + step, i + 1
    out += enc.finish()
    assert bytes(out) == encrypt_attachment(KEY, data).ciphertext
    dec = BlobDecryptor(KEY, len(data), enc.sha256 or b"")
    plain, pos = bytearray(), 0
    while pos < len(out):
        step = cuts[i % len(cuts)]
        plain += dec.update(bytes(out[pos : pos + step]))
        pos, i = pos + step, i + 1
    plain += dec.finish()
    assert bytes(plain) == data


@SETTINGS
@given(st.integers(0, 1 << 32))
def test_T11_blob_sizes_are_always_bucket_sizes(size: int) -> None:
    layout = blob_layout(size)
    assert is_bucket(layout.blob_size)
    assert layout.padded_size >= size + 1
    # The smallest bucket that fits: one chunk less would not hold the data.
    if layout.chunks > 1:
        assert (layout.chunks - 1) * CHUNK_PLAINTEXT < size + 1


def _blob(size: int = 3 * CHUNK_PLAINTEXT + 100) -> tuple[bytes, bytes, bytes, int]:
    data = os.urandom(size)
    blob = encrypt_attachment(KEY, data)
    return data, blob.ciphertext, blob.sha256, size


@SETTINGS
@given(st.integers(0, 4 * CHUNK_BYTES - 1), st.integers(0, 7))
def test_T03_any_bit_flip_is_detected(pos: int, bit: int) -> None:
    _, blob, digest, size = _blob()
    tampered = bytearray(blob)
    tampered[pos] ^= 1 << bit
    with pytest.raises(CryptoError):
        decrypt_attachment(KEY, bytes(tampered), digest, size)
    # Even a decryptor that was given the tampered blob's own hash refuses it.
    with pytest.raises(CryptoError):
        dec = BlobDecryptor(KEY, size, digest)
        dec.update(bytes(tampered))
        dec.finish()


def test_T03_truncation_is_detected() -> None:
    _, blob, digest, size = _blob()
    for cut in (CHUNK_BYTES, 3 * CHUNK_BYTES, len(blob) - 1, 1):
        dec = BlobDecryptor(KEY, size, digest)
        with pytest.raises(CryptoError):
            dec.update(blob[:cut])
            dec.finish()
        with pytest.raises(CryptoError):
            decrypt_attachment(KEY, blob[:cut], digest, size)


def test_T03_truncated_stream_never_opens_as_final() -> None:
    # Without the declared size: the last chunk of a prefix was sealed non-final.
    _, blob, _, _ = _blob()
    second = blob[CHUNK_BYTES : 2 * CHUNK_BYTES]
    assert decrypt_chunk(KEY, 1, second, final=False)
    with pytest.raises(CryptoError):
        decrypt_chunk(KEY, 1, second, final=True)


def test_T03_reordering_and_extension_are_detected() -> None:
    _, blob, digest, size = _blob()
    chunks = [blob[i : i + CHUNK_BYTES] for i in range(0, len(blob), CHUNK_BYTES)]
    swapped = b"".join([chunks[1], chunks[0], *chunks[2:]])
    with pytest.raises(CryptoError):
        decrypt_attachment(KEY, swapped, digest, size)
    dec = BlobDecryptor(KEY, size, digest)
    dec.update(blob)
    with pytest.raises(CryptoError):
        dec.update(chunks[0])
    with pytest.raises(CryptoError):
        BlobDecryptor(KEY, size, digest).update(blob + b"\x00")
    with pytest.raises(CryptoError):
        decrypt_attachment(KEY, blob + chunks[0], digest, size)


def test_T03_wrong_key_hash_or_size_is_detected() -> None:
    _, blob, digest, size = _blob(5000)
    with pytest.raises(CryptoError):
        decrypt_attachment(os.urandom(32), blob, digest, size)
    with pytest.raises(CryptoError):
        decrypt_attachment(KEY, blob, bytes(32), size)
    with pytest.raises(CryptoError):  # a lying size: padding check fails
        decrypt_attachment(KEY, blob, digest, size - 1)


def test_chunk_helpers_and_key_checks() -> None:
    sealed = encrypt_chunk(KEY, 7, b"abc", final=True)
    assert decrypt_chunk(KEY, 7, sealed, final=True) == b"abc"
    with pytest.raises(CryptoError):
        decrypt_chunk(KEY, 8, sealed, final=True)
    with pytest.raises(ValidationError):
        encrypt_chunk(b"short", 0, b"", final=True)
    assert len(new_attachment_key(os.urandom)) == 32
    with pytest.raises(ValidationError):
        BlobEncryptor(KEY, 3).update(b"abcd")
    with pytest.raises(ValidationError):
        BlobEncryptor(KEY, 3).finish()
