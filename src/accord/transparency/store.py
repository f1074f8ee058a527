"""Where the log keeps its hashes and entries: two small protocols.

The Merkle log (``merkle.MerkleLog``) stores the hash of every *complete*
subtree, addressed by ``(level, index)``: level 0 holds the leaf hashes, and
node ``(l, i)`` covers leaves ``[i * 2^l, (i + 1) * 2^l)`` (RFC 9162 2.1.1
trees are built from such perfect subtrees, largest first). A complete
subtree never changes once written, so a store is append-only and needs no
updates or deletes; the server persists both protocols through its storage
layer, writing one append's entry and nodes in one transaction (a node
store ahead of or behind the entry store is a corrupt log). The in-memory versions here back tests, benchmarks and clients.
"""

from __future__ import annotations

from typing import Protocol

from accord.errors import Conflict, NotFound

__all__ = ["EntryStore", "MemoryEntryStore", "MemoryNodeStore", "NodeStore"]


class NodeStore(Protocol):
    def get_node(self, level: int, index: int) -> bytes:
        """The hash at ``(level, index)``; ``NotFound`` if it was never put."""
        ...

    def put_node(self, level: int, index: int, value: bytes) -> None: ...


class EntryStore(Protocol):
    def entry_count(self) -> int: ...

    def get_entry(self, position: int) -> bytes:
        """The encoded entry at ``position``; ``NotFound`` past the end."""
        ...

    def append_entry(self, position: int, data: bytes) -> None:
        """Store the entry at ``position``, which is always the current count."""
        ...


class MemoryNodeStore:
    """One Python list per level: O(1) reads and appends."""

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = []

    def get_node(self, level: int, index: int) -> bytes:
        try:
            if index < 0:
                raise IndexError
            return self._levels[level][index]
        except IndexError:
            raise NotFound(f"no tree node at level {level}, index {index}") from None

    def put_node(self, level: int, index: int, value: bytes) -> None:
        while len(self._levels) <= level:
            self._levels.append([])
        row = self._levels[level]
        if index == len(row):
            row.append(value)
        elif index < len(row):
            # Complete subtrees never change: a rewrite must be the same hash.
            if row[index] != value:
                raise Conflict(f"tree node ({level}, {index}) rewritten with another hash")
        else:
            raise Conflict(f"tree node ({level}, {index}) written out of order")


class MemoryEntryStore:
    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: list[bytes] = []

    def entry_count(self) -> int:
        return len(self._entries)

    def get_entry(self, position: int) -> bytes:
        if not 0 <= position < len(self._entries):
            raise NotFound(f"no log entry at position {position}")
        return self._entries[position]

    def append_entry(self, position: int, data: bytes) -> None:
        if position != len(self._entries):
            raise Conflict(f"entry {position} appended out of order")
        self._entries.append(data)
