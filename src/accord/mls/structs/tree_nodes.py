"""Ratchet tree nodes and the inputs of tree and parent hashes (RFC 9420 7.1-7.9)."""

from __future__ import annotations

from typing import Annotated

from accord.mls.codec import U8, U32, U64, OneOf, Uint, Variant, When, WireStruct, wire
from accord.mls.structs.credential import Capabilities, Credential, Extension


@wire
class Lifetime(WireStruct):
    not_before: U64
    not_after: U64


@wire
class LeafNode(WireStruct):
    encryption_key: bytes
    signature_key: bytes
    credential: Credential
    capabilities: Capabilities
    leaf_node_source: Annotated[int, Uint(1), OneOf(1, 2, 3)]
    lifetime: Annotated[Lifetime | None, When("leaf_node_source", (1,), Lifetime)]
    parent_hash: Annotated[bytes | None, When("leaf_node_source", (3,), bytes)]
    extensions: tuple[Extension, ...]
    signature: bytes


@wire
class ParentNode(WireStruct):
    encryption_key: bytes
    parent_hash: bytes
    unmerged_leaves: tuple[U32, ...]


Node = Annotated[LeafNode | ParentNode, Variant(U8, {1: LeafNode, 2: ParentNode})]
# ``optional<Node> ratchet_tree<V>``: the ratchet_tree extension and vector format.
RatchetTree = tuple[Node | None, ...]


@wire
class HPKECiphertext(WireStruct):
    kem_output: bytes
    ciphertext: bytes


@wire
class UpdatePathNode(WireStruct):
    encryption_key: bytes
    encrypted_path_secret: tuple[HPKECiphertext, ...]


@wire
class UpdatePath(WireStruct):
    leaf_node: LeafNode
    nodes: tuple[UpdatePathNode, ...]


@wire
class LeafNodeHashInput(WireStruct):
    leaf_index: U32
    leaf_node: LeafNode | None


@wire
class ParentNodeHashInput(WireStruct):
    parent_node: ParentNode | None
    left_hash: bytes
    right_hash: bytes


TreeHashInput = Annotated[
    LeafNodeHashInput | ParentNodeHashInput,
    Variant(U8, {1: LeafNodeHashInput, 2: ParentNodeHashInput}),
]


@wire
class ParentHashInput(WireStruct):
    encryption_key: bytes
    parent_hash: bytes
    original_sibling_tree_hash: bytes
