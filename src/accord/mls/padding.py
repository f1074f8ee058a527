"""Padding policies for PrivateMessageContent (RFC 9420 6.3.1, 15.1).

A policy is a function from the length of the unpadded PrivateMessageContent
(content, then FramedContentAuthData) to the number of zero bytes to append.
The sender chooses it freely; the receiver only checks that the padding is
all zeros, so any policy interoperates.

Accord's default, :data:`ACCORD_BUCKETS`, pads the PrivateMessageContent to
the smallest of these sizes that holds it:

====================  =========================================
plaintext length      padded to
====================  =========================================
up to 16 KiB          512, 1024, 2048, 4096, 8192 or 16384
above 16 KiB          the next multiple of 16 KiB (16384)
====================  =========================================

So a ciphertext shows only its bucket (plus the 16-byte AEAD tag), never the
length of a short message: "Wednesday" and a paragraph both become 512
bytes with an Ed25519 signature (64 bytes) inside. The smallest bucket is
512 because a MIMI content body is about 150 to 250 bytes before its text
(salt, URIs, a read receipt's fields) and the signature is 64 to 132 bytes
(Ed25519 to P-521): with 256, the shortest texts would have a bucket of
their own, apart from cover posts (empty read receipts) and from every text
a few words longer, which would single them out. Above 16 KiB,
linear steps bound the overhead at 16 KiB per message. This is the only
padding of application content: its body is MIMI content
(``accord.content.sealing``), which another MIMI client reads as it is, so
the size is hidden here, where every MLS client strips it; it also hides the
size of proposals and commits sent as PrivateMessages.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

__all__ = [
    "ACCORD_BUCKETS",
    "BucketPadding",
    "PaddingPolicy",
    "no_padding",
]

# unpadded PrivateMessageContent length -> number of zero bytes to append
PaddingPolicy = Callable[[int], int]


class BucketPadding:
    """Pad to the smallest bucket that holds the content, then to multiples of ``step``."""

    __slots__ = ("buckets", "step")

    def __init__(self, buckets: Sequence[int], step: int) -> None:
        if not buckets or list(buckets) != sorted(set(buckets)) or buckets[0] <= 0:
            raise ValueError("buckets must be positive and strictly increasing")
        if step <= 0:
            raise ValueError("step must be positive")
        self.buckets = tuple(buckets)
        self.step = step

    def __call__(self, length: int) -> int:
        i = bisect.bisect_left(self.buckets, length)
        if i < len(self.buckets):
            return self.buckets[i] - length
        # Past the largest bucket: round up to a multiple of step.
        return -length % self.step

    def __repr__(self) -> str:
        return f"BucketPadding(buckets={self.buckets}, step={self.step})"


ACCORD_BUCKETS = BucketPadding((512, 1024, 2048, 4096, 8192, 16384), 16384)


def no_padding(length: int) -> int:
    """No padding at all: for tests and for handshake messages a deployment does not hide."""
    return 0
