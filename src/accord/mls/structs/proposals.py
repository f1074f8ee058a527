"""Proposals, PSK identifiers and commits (RFC 9420 8.4, 12.1, 12.4), with the
AppDataUpdate and SelfRemove proposals of draft-ietf-mls-extensions (4.7, 5.3)."""

from __future__ import annotations

from typing import Annotated

from accord.mls.codec import U8, U16, U32, U64, OneOf, Uint, Variant, When, WireStruct, wire
from accord.mls.structs.app_data import AppDataUpdate, SelfRemove
from accord.mls.structs.credential import Extension
from accord.mls.structs.group_context import KeyPackage
from accord.mls.structs.tree_nodes import LeafNode, UpdatePath


@wire
class PreSharedKeyID(WireStruct):
    psktype: Annotated[int, Uint(1), OneOf(1, 2)]
    psk_id: Annotated[bytes | None, When("psktype", (1,), bytes)]
    usage: Annotated[int | None, When("psktype", (2,), Annotated[int, Uint(1), OneOf(1, 2, 3)])]
    psk_group_id: Annotated[bytes | None, When("psktype", (2,), bytes)]
    psk_epoch: Annotated[int | None, When("psktype", (2,), U64)]
    psk_nonce: bytes

    @classmethod
    def external(cls, psk_id: bytes, nonce: bytes) -> PreSharedKeyID:
        return cls(1, psk_id, None, None, None, nonce)

    @classmethod
    def resumption(cls, usage: int, group_id: bytes, epoch: int, nonce: bytes) -> PreSharedKeyID:
        return cls(2, None, usage, group_id, epoch, nonce)


@wire
class Add(WireStruct):
    key_package: KeyPackage


@wire
class Update(WireStruct):
    leaf_node: LeafNode


@wire
class Remove(WireStruct):
    removed: U32


@wire
class PreSharedKey(WireStruct):
    psk: PreSharedKeyID


@wire
class ReInit(WireStruct):
    group_id: bytes
    version: U16
    cipher_suite: U16
    extensions: tuple[Extension, ...]


@wire
class ExternalInit(WireStruct):
    kem_output: bytes


@wire
class GroupContextExtensions(WireStruct):
    extensions: tuple[Extension, ...]


PROPOSAL_CLASSES: dict[int, type] = {
    1: Add,
    2: Update,
    3: Remove,
    4: PreSharedKey,
    5: ReInit,
    6: ExternalInit,
    7: GroupContextExtensions,
    8: AppDataUpdate,  # draft-ietf-mls-extensions: app_data_update
    0x000A: SelfRemove,  # draft-ietf-mls-extensions: self_remove
}
PROPOSAL_TYPE: dict[type, int] = {cls: t for t, cls in PROPOSAL_CLASSES.items()}

Proposal = Annotated[
    Add | Update | Remove | PreSharedKey | ReInit | ExternalInit | GroupContextExtensions
    | AppDataUpdate | SelfRemove,
    Variant(U16, PROPOSAL_CLASSES),
]

# A ProposalOrRef is a Proposal value, or the ProposalRef bytes of one sent before.
ProposalOrRef = Annotated[
    Add | Update | Remove | PreSharedKey | ReInit | ExternalInit | GroupContextExtensions
    | AppDataUpdate | SelfRemove | bytes,
    Variant(U8, {1: Proposal, 2: bytes}),
]


@wire
class Commit(WireStruct):
    proposals: tuple[ProposalOrRef, ...]
    path: UpdatePath | None
