"""Which node of a ratchet tree holds a public key (RFC 9420 7.3, 12.4.2).

A ``KeyIndex`` maps encryption keys to node indices and signature keys to
leaf indices. It is built on the first lookup and then kept up to date as
nodes change. A staged copy of a tree shares its parent's index until one of
them writes (copy on write), so ``Tree.copy()`` stays two list copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from accord.mls.structs.tree_nodes import LeafNode, ParentNode

__all__ = ["KeyIndex"]

AnyNode = LeafNode | ParentNode


class KeyIndex:
    """Lookups from a public key to where it sits in one tree."""

    __slots__ = ("_enc", "_sig", "_shared")

    def __init__(self) -> None:
        self._enc: dict[bytes, int] | None = None
        self._sig: dict[bytes, int] | None = None
        self._shared = False

    def fork(self) -> KeyIndex:
        """An index for a copy of the tree: both share the maps until one writes."""
        other = KeyIndex()
        other._enc, other._sig = self._enc, self._sig
        other._shared = self._shared = True
        return other

    def encryption_key(self, nodes: Sequence[AnyNode | None], key: bytes) -> int | None:
        """Node index of the node whose encryption key is ``key``."""
        if self._enc is None:
            self._enc = {n.encryption_key: x for x, n in enumerate(nodes) if n is not None}
        return self._enc.get(key)

    def signature_key(self, leaves: Iterable[tuple[int, LeafNode]], key: bytes) -> int | None:
        """Leaf index of the member whose signature key is ``key``."""
        if self._sig is None:
            self._sig = {n.signature_key: leaf for leaf, n in leaves}
        return self._sig.get(key)

    def replace(self, x: int, old: AnyNode | None, new: AnyNode | None) -> None:
        """Node ``x`` changes from ``old`` to ``new``."""
        if self._enc is None and self._sig is None:
            return
        if self._shared:
            self._enc = None if self._enc is None else dict(self._enc)
            self._sig = None if self._sig is None else dict(self._sig)
            self._shared = False
        enc, sig = self._enc, self._sig
        if old is not None:
            if enc is not None and enc.get(old.encryption_key) == x:
                del enc[old.encryption_key]
            if isinstance(old, LeafNode) and sig is not None and sig.get(old.signature_key) == x >> 1:
                del sig[old.signature_key]
        if new is not None:
            if enc is not None:
                enc[new.encryption_key] = x
            if isinstance(new, LeafNode) and sig is not None:
                sig[new.signature_key] = x >> 1
