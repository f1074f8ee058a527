"""Opaque handles for Accord's MLSClient server: states, transactions, reinits, signers.

Every handle is a fresh random non-zero uint32 (the proto's width) from the OS's
CSPRNG, so one client cannot guess another's handles; a handle is never reused
within a server's lifetime. The store holds Accord group states (immutable
values), replaced as RPCs advance them.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
from typing import Any, TypeVar

from accord.errors import NotFound, ValidationError
from accord.mls.group import GroupState, KeyPackagePrivate

__all__ = ["Member", "Transaction", "ReInitWait", "Signer", "Store"]

# Bounds a hostile client: at most this many live handles per server.
MAX_HANDLES = 100_000


@dataclasses.dataclass(slots=True)
class Member:
    """One member's state in one group (what a state_id names)."""

    state: GroupState


@dataclasses.dataclass(slots=True)
class Transaction:
    """A KeyPackage waiting for its Welcome, and the PSKs stored for that join."""

    key_package: KeyPackagePrivate = dataclasses.field(repr=False)
    psks: dict[bytes, bytes] = dataclasses.field(default_factory=dict, repr=False)


@dataclasses.dataclass(slots=True)
class ReInitWait:
    """A member after a ReInit commit: the suspended group and its new KeyPackage."""

    old: GroupState
    key_package: KeyPackagePrivate = dataclasses.field(repr=False)


@dataclasses.dataclass(slots=True)
class Signer:
    """An external sender (12.1.8.1): its signature key and credential."""

    suite: int
    signature_priv: bytes = dataclasses.field(repr=False)
    external_sender: bytes = b""


T = TypeVar("T")


class Store:
    def __init__(self) -> None:
        self._items: dict[int, Any] = {}
        self._lock = threading.Lock()

    def add(self, item: Any) -> int:
        with self._lock:
            if len(self._items) >= MAX_HANDLES:
                raise ValidationError("too many live handles; Free some", "server limit")
            while True:
                handle = secrets.randbits(32)
                if handle != 0 and handle not in self._items:
                    self._items[handle] = item
                    return handle

    def get(self, handle: int, kind: type[T], what: str) -> T:
        with self._lock:
            item = self._items.get(handle)
        if item is None:
            raise NotFound(f"unknown {what} id {handle}")
        if not isinstance(item, kind):
            raise NotFound(f"id {handle} is not a {what}")
        return item

    def get_any(self, handle: int) -> Any:
        with self._lock:
            item = self._items.get(handle)
        if item is None:
            raise NotFound(f"unknown state or transaction id {handle}")
        return item

    def free(self, handle: int) -> None:
        with self._lock:
            if self._items.pop(handle, None) is None:
                raise NotFound(f"unknown state id {handle}")
