"""The key directory: the provider's log of device sets, and the client's checks.

``KeyDirectory`` is the provider side, sans-I/O: it appends entries to the
Merkle log (``merkle``), keeps the prefix map of current entries
(``prefix_map``), signs heads and answers lookups with proofs. Time comes in
as ``now`` (ms since the epoch); storage behind ``store.NodeStore`` and
``store.EntryStore``.

``verify_lookup`` is the client side. For a lookup of ``identity`` against
a head it has verified, it proves:

- the returned entry is in the log at its position (RFC 9162 inclusion);
- under the head's map root, the entry's index maps to that position and
  entry hash: it is the latest entry for that index in this head, and no
  newer one exists; for an absent index, that the index has no entry;
- the entry commits to ``identity`` (the opening checks), so a provider
  cannot pass another user's entry off as this one's;
- every client holding the same head gets the same answer for the index.

``proven_successions`` and ``vouched`` (issue 19) are for whoever trusted a
set of an identity's keys (a contact who compared safety numbers, the
account's own devices): a key that a trusted key certified as its successor
(a restore from backup) is trusted in its turn; any other new key is not.

It does not prove that the index is *the* index of ``identity``: with a
keyed hash (not a VRF) only the provider can compute it, so a dishonest
provider could keep a second index for one identity (a shadow entry with a
ghost device that it shows to some askers) and the owner, who cannot search
for indices, would not see it. The head's commitment to the index key makes
this checkable after the fact by anyone the key is disclosed to. A VRF
(RFC 9381) would close the gap; pyca/cryptography offers no VRF and Accord
does not hand-write curve arithmetic. See docs/PROTOCOL.md.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.bounded import BoundedBytes, BoundedTuple
from accord.errors import CryptoError, NotFound, ValidationError
from accord.mls.codec import U64, Fixed, decode, encode, wire
from accord.transparency import entries as E
from accord.transparency.heads import SignedTreeHead, TreeHead, sign_head
from accord.transparency.merkle import MerkleLog, leaf_hash
from accord.transparency.prefix_map import MapProof, PrefixMap, verify_map_proof
from accord.transparency.proofs import MAX_PROOF_HASHES, verify_inclusion
from accord.transparency.store import EntryStore, MemoryEntryStore, NodeStore
from accord.wire import signing

__all__ = [
    "EntryProof",
    "KeyDirectory",
    "LookupProof",
    "proven_successions",
    "replay_map_root",
    "require_device_key",
    "unknown_devices",
    "verify_entry",
    "verify_lookup",
    "vouched",
]

Hash32 = Annotated[bytes, Fixed(32)]


@wire
class EntryProof:
    position: U64
    entry: BoundedBytes(16 * 1024, 1)  # type: ignore[valid-type]
    path: BoundedTuple(Hash32, MAX_PROOF_HASHES)  # type: ignore[valid-type]


@wire
class LookupProof:
    index: Hash32
    opening: Hash32  # opens the entry's identity commitment
    map_proof: MapProof
    entry: EntryProof | None  # present exactly when the index has an entry


def replay_map_root(encoded_entries: Iterable[bytes]) -> bytes:
    """The map root after these entries, from the log alone (for auditors)."""
    m = PrefixMap()
    for position, data in enumerate(encoded_entries):
        entry = E.decode_entry(data)
        m.set(entry.index, encode(E.MapValue, E.MapValue(position, leaf_hash(data))))
    return m.root


class KeyDirectory:
    """One provider's key transparency log (issue 7), provider side."""

    def __init__(
        self,
        domain: str,
        index_key: bytes,
        nodes: NodeStore | None = None,
        entries: EntryStore | None = None,
    ) -> None:
        self.domain = domain
        self._index_key = bytes(index_key)
        self._key_commitment = E.index_key_commitment(self._index_key)
        self._entries: EntryStore = entries if entries is not None else MemoryEntryStore()
        count = self._entries.entry_count()
        self.log = MerkleLog(nodes, size=count)
        self.map = PrefixMap()
        # The map is derived state: rebuild it from the stored entries.
        for position in range(count):
            data = self._entries.get_entry(position)
            entry = E.decode_entry(data)
            self.map.set(entry.index, encode(E.MapValue, E.MapValue(position, leaf_hash(data))))

    def __repr__(self) -> str:  # never show the index key
        return f"KeyDirectory({self.domain!r}, size={self.log.size})"

    @property
    def size(self) -> int:
        return self.log.size

    def index_for(self, identity: str) -> bytes:
        return E.identity_index(self._index_key, identity)

    def current(self, identity: str) -> tuple[int, E.LogEntry] | None:
        return self._current(self.index_for(identity))

    def _current(self, index: bytes) -> tuple[int, E.LogEntry] | None:
        raw = self.map.get(index)
        if raw is None:
            return None
        value: Any = decode(E.MapValue, raw)
        return value.position, E.decode_entry(self._entries.get_entry(value.position))

    def publish(
        self, identity: str, device_keys: Iterable[bytes], now: int,
        succession: E.Succession | None = None,
    ) -> tuple[int, E.LogEntry]:
        """Record ``identity``'s new device set; returns (position, entry).

        ``succession``: the change is a device taking another's place, as its
        predecessor signed (checked by the caller; readers check it again).
        """
        return self._append(identity, tuple(sorted(set(device_keys))), False, now, succession)

    def delete(self, identity: str, now: int) -> tuple[int, E.LogEntry]:
        """Record the tombstone of a deleted account."""
        if self.current(identity) is None:
            raise NotFound("no such identity in the log")
        return self._append(identity, (), True, now, None)

    def _append(
        self, identity: str, keys: tuple[bytes, ...], deleted: bool, now: int,
        succession: E.Succession | None,
    ) -> tuple[int, E.LogEntry]:
        index = self.index_for(identity)
        commitment = E.identity_commitment(E.identity_opening(self._index_key, identity), identity)
        prior = self._current(index)
        version, previous = (1, None) if prior is None else (prior[1].version + 1, prior[0])
        carried = () if prior is None or deleted else prior[1].successions
        successions = (*carried, *([succession] if succession else []))[-E.MAX_SUCCESSIONS:]
        entry = E.LogEntry(index, commitment, version, previous, now, deleted, keys,
                           successions)
        data = E.encode_entry(entry)
        position = self.log.size
        self._entries.append_entry(position, data)
        h = leaf_hash(data)
        self.log.append_hash(h)
        self.map.set(index, encode(E.MapValue, E.MapValue(position, h)))
        return position, entry

    def head(self, now: int) -> TreeHead:
        return TreeHead(
            self.domain, self.log.size, self.log.root(), self.map.root, self._key_commitment, now
        )

    def signed_head(self, signing_key: Ed25519PrivateKey, now: int) -> SignedTreeHead:
        return sign_head(signing_key, self.head(now))

    def entry_proof(self, position: int, size: int | None = None) -> EntryProof:
        """An entry with its inclusion proof at ``size`` (history walks, audits)."""
        data = self._entries.get_entry(position)
        return EntryProof(position, data, self.log.inclusion_proof(position, size))

    def lookup(self, identity: str) -> LookupProof:
        """The current entry of ``identity`` (or its absence) at the current head."""
        index = self.index_for(identity)
        opening = E.identity_opening(self._index_key, identity)
        raw = self.map.get(index)
        proof = None
        if raw is not None:
            value: Any = decode(E.MapValue, raw)
            proof = self.entry_proof(value.position)
        return LookupProof(index, opening, self.map.prove(index), proof)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> tuple[bytes, ...]:
        return self.log.consistency_proof(old_size, new_size)


def verify_entry(head: TreeHead, proof: EntryProof) -> E.LogEntry:
    """The entry, once it is proven to be in the log at ``head``."""
    if proof.position >= head.size:
        raise CryptoError("entry position is past the tree head")
    verify_inclusion(proof.position, head.size, leaf_hash(proof.entry), proof.path, head.root)
    return E.decode_entry(proof.entry)


def verify_lookup(head: TreeHead, identity: str, proof: LookupProof) -> E.LogEntry | None:
    """The current entry for ``identity`` in ``head``, or None if it has none.

    ``head`` must come from ``verify_signed_head``. Raises ``CryptoError`` on
    any proof that does not hold (see the module docstring for what holds).
    """
    raw = verify_map_proof(head.map_root, proof.index, proof.map_proof)
    if raw is None:
        if proof.entry is not None:
            raise CryptoError("an entry for an index the map says is absent")
        return None
    value: Any = decode(E.MapValue, raw)
    if proof.entry is None or proof.entry.position != value.position:
        raise CryptoError("the entry is not the one the map points to")
    if not hmac.compare_digest(leaf_hash(proof.entry.entry), value.entry_hash):
        raise CryptoError("the entry's hash is not the one the map holds")
    entry = verify_entry(head, proof.entry)
    if entry.index != proof.index:
        raise CryptoError("the entry belongs to another index")
    if entry.identity_commitment != E.identity_commitment(proof.opening, identity):
        raise CryptoError("the entry does not commit to this identity")
    return entry


def unknown_devices(entry: E.LogEntry | None, known: Sequence[bytes]) -> tuple[bytes, ...]:
    """Keys in the log that the owner's devices do not know (T05 monitoring)."""
    if entry is None:
        return ()
    mine = set(known)
    return tuple(k for k in entry.device_keys if k not in mine)


def require_device_key(entry: E.LogEntry | None, key: bytes) -> None:
    """Raise unless ``key`` is a current device key of the entry (T06)."""
    if entry is None or entry.deleted or key not in entry.device_keys:
        raise ValidationError("the key is not in the identity's current device set", "T06")


def proven_successions(identity: str, entry: E.LogEntry | None) -> tuple[E.Succession, ...]:
    """The entry's successions whose predecessor's signature holds (issue 19).

    The provider publishes them but cannot make one: a succession that does not
    verify is dropped, so the key it names is as untrusted as any other new key.
    """
    if entry is None:
        return ()
    out = []
    for s in entry.successions:
        try:
            signing.verify(s.predecessor, s.signature,
                           signing.succession_input(identity, s.predecessor, s.successor))
        except CryptoError:
            continue
        out.append(s)
    return tuple(out)


def vouched(trusted: Iterable[bytes], proven: Iterable[tuple[bytes, bytes]]
            ) -> tuple[frozenset[bytes], frozenset[bytes]]:
    """``(keys, retired)``: the trusted keys and, transitively, their successors by the
    ``(predecessor, successor)`` pairs of ``proven_successions``; and which of those
    keys a successor replaced. Only forward: a key is never trusted because of its
    successor (anyone can sign a succession to a key they did not make).

    A key hands its place on once: a restore removes the old device, which can then
    no longer ask its provider for anything. A key with two successors (its stolen
    copy signed another) vouches for neither; each is then a key change."""
    keys: set[bytes] = set(trusted)
    retired: set[bytes] = set()
    heirs: dict[bytes, set[bytes]] = {}
    for old, new in proven:
        heirs.setdefault(old, set()).add(new)
    edges = [(old, next(iter(new))) for old, new in heirs.items() if len(new) == 1]
    grew = True
    while grew:
        grew = False
        for old, new in edges:
            if old in keys:
                retired.add(old)
                if new not in keys:
                    keys.add(new)
                    grew = True
    return frozenset(keys), frozenset(retired)
