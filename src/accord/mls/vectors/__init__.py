"""Checks for the official MLS test vectors (mls-implementations, test-vectors.md).

Each vector kind has a module here with one function ``check(entry)`` that
verifies one parsed JSON entry and raises ``VectorMismatch`` naming the first
field that differs. Reading files is the caller's job (``accord vectors``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

from accord.errors import AccordError

# kind name (as the files are named upstream) -> module in this package
KINDS: dict[str, str] = {
    "tree-math": "tree_math",
    "crypto-basics": "crypto_basics",
    "secret-tree": "secret_tree",
    "message-protection": "message_protection",
    "key-schedule": "key_schedule",
    "psk_secret": "psk_secret",
    "transcript-hashes": "transcript_hashes",
    "welcome": "welcome",
    "tree-operations": "tree_operations",
    "tree-validation": "tree_validation",
    "treekem": "treekem",
    "messages": "messages",
    "deserialization": "deserialization",
    "passive-client-welcome": "passive_client",
    "passive-client-handling-commit": "passive_client",
    "passive-client-random": "passive_client",
}

ALIASES: dict[str, str] = {
    "psk-secret": "psk_secret",
    "psk_secret": "psk_secret",
    "transcript_hashes": "transcript-hashes",
    "tree_math": "tree-math",
    "passive-client": "passive-client-welcome",
}


class VectorMismatch(AccordError):
    """A computed value differs from the one the vector expects."""

    code = "vector_mismatch"


def kind_of(path: str) -> str:
    """The vector kind of a file, from its name (``tree-math.json`` -> ``tree-math``)."""
    stem = os.path.basename(path).rsplit(".", 1)[0]
    if stem in KINDS:
        return stem
    if stem in ALIASES:
        return ALIASES[stem]
    raise AccordError(f"cannot tell the vector kind of {path!r}; pass --kind")


def checker(kind: str) -> Callable[[dict[str, Any]], None]:
    kind = ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise AccordError(f"unknown vector kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    module = importlib.import_module(f"{__name__}.{KINDS[kind]}")
    fn: Callable[[dict[str, Any]], None] = module.check
    return fn


def h(value: str | None) -> bytes:
    """Hex field of a vector entry as bytes (``None`` stays ``b''``)."""
    return bytes.fromhex(value) if value else b""


def expect(name: str, got: Any, want: Any) -> None:
    """Raise ``VectorMismatch`` when ``got`` differs from ``want`` (hex string or value)."""
    if isinstance(want, str) and isinstance(got, (bytes, bytearray)):
        want = bytes.fromhex(want)
    if got != want:
        g = got.hex() if isinstance(got, (bytes, bytearray)) else got
        w = want.hex() if isinstance(want, (bytes, bytearray)) else want
        raise VectorMismatch(f"{name}: got {g}, want {w}")
