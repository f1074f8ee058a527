"""GroupContext and KeyPackage (RFC 9420 8.1, 10)."""

from __future__ import annotations

from accord.mls.codec import U16, U64, WireStruct, wire
from accord.mls.structs.credential import Extension
from accord.mls.structs.tree_nodes import LeafNode


@wire
class GroupContext(WireStruct):
    version: U16
    cipher_suite: U16
    group_id: bytes
    epoch: U64
    tree_hash: bytes
    confirmed_transcript_hash: bytes
    extensions: tuple[Extension, ...]


@wire
class KeyPackage(WireStruct):
    version: U16
    cipher_suite: U16
    init_key: bytes
    leaf_node: LeafNode
    extensions: tuple[Extension, ...]
    signature: bytes

    def tbs(self) -> bytes:
        """KeyPackageTBS: every field but the signature (RFC 9420 10)."""
        return self.encode_before("signature")
