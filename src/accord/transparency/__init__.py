"""Key transparency (issue 7), sans-I/O.

``merkle`` is the append-only RFC 9162 tree over a ``store.NodeStore``;
``proofs`` verifies its inclusion and consistency proofs; ``prefix_map``
proves which entry is current for an index; ``entries`` defines log entries
and pseudonymous indices; ``heads`` signs and checks tree heads and builds
split-view evidence; ``gossip`` countersigns peers' heads; ``directory`` ties them into the provider's
``KeyDirectory`` and the client's ``verify_lookup``. No clock, disk or
network: time is a ``now`` argument, storage a protocol.
"""

from accord.transparency.directory import (
    EntryProof,
    KeyDirectory,
    LookupProof,
    proven_successions,
    replay_map_root,
    require_device_key,
    unknown_devices,
    verify_entry,
    verify_lookup,
    vouched,
)
from accord.transparency.entries import (
    LogEntry,
    MapValue,
    Succession,
    decode_entry,
    encode_entry,
    identity_commitment,
    identity_index,
    identity_opening,
    index_key_commitment,
)
from accord.transparency.gossip import (
    Cosignature,
    cosign,
    decode_cosignature,
    signed_head_hash,
    verify_cosignature,
)
from accord.transparency.heads import (
    SignedTreeHead,
    SplitViewEvidence,
    TreeHead,
    check_split_view_evidence,
    decode_signed_head,
    detect_split_view,
    sign_head,
    verify_head_update,
    verify_signed_head,
)
from accord.transparency.merkle import EMPTY_ROOT, MerkleLog, leaf_hash, node_hash
from accord.transparency.prefix_map import MapProof, PrefixMap, verify_map_proof
from accord.transparency.proofs import root_from_inclusion, verify_consistency, verify_inclusion
from accord.transparency.store import EntryStore, MemoryEntryStore, MemoryNodeStore, NodeStore

__all__ = [
    "Cosignature",
    "decode_cosignature",
    "cosign",
    "signed_head_hash",
    "verify_cosignature",
    "EMPTY_ROOT",
    "EntryProof",
    "EntryStore",
    "KeyDirectory",
    "LogEntry",
    "LookupProof",
    "MapProof",
    "MapValue",
    "MemoryEntryStore",
    "MemoryNodeStore",
    "MerkleLog",
    "NodeStore",
    "PrefixMap",
    "SignedTreeHead",
    "SplitViewEvidence",
    "Succession",
    "TreeHead",
    "check_split_view_evidence",
    "decode_entry",
    "decode_signed_head",
    "detect_split_view",
    "encode_entry",
    "identity_commitment",
    "identity_index",
    "identity_opening",
    "index_key_commitment",
    "leaf_hash",
    "node_hash",
    "proven_successions",
    "replay_map_root",
    "require_device_key",
    "root_from_inclusion",
    "sign_head",
    "unknown_devices",
    "verify_consistency",
    "verify_entry",
    "verify_head_update",
    "verify_inclusion",
    "verify_lookup",
    "verify_map_proof",
    "verify_signed_head",
    "vouched",
]
