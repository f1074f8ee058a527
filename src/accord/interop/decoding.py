"""Request fields of the MLSClient RPCs as accord.mls values, checked on the way in.

Each decoder raises ValidationError (INVALID_ARGUMENT, rpc_errors.py) on an
empty, malformed or wrong-kind field; ``describe`` turns a ProposalDescription
(a by-value commit entry or an external proposal) into a Proposal. The tree
helpers find members by identity in a state or a serialized ratchet tree.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from accord.errors import ValidationError
from accord.interop.proto import mls_client_pb2 as pb
from accord.mls import group as g
from accord.mls.codec import decode, encode
from accord.mls.structs import (
    Add,
    Credential,
    Extension,
    GroupContextExtensions,
    GroupInfo,
    MLSMessage,
    PreSharedKey,
    PreSharedKeyID,
    Proposal,
    RatchetTree,
    ReInit,
    Remove,
)
from accord.mls.structs.enums import ExtensionType, ProtocolVersion, ResumptionPSKUsage
from accord.mls.suites import SUITES, get_suite

__all__ = [
    "describe", "extensions", "group_info", "key_package", "leaf_of", "msg", "new_identity",
    "nonempty", "suite", "tree", "tree_bytes", "tree_from_info", "tree_members", "welcome",
]

REQUEST = "interop request"  # the "where" of a ValidationError about a request field


def nonempty(data: bytes, what: str) -> bytes:
    """A required bytes field; ValidationError "empty WHAT" when it is missing."""
    if not data:
        raise ValidationError(f"empty {what}", REQUEST)
    return bytes(data)


def msg(data: bytes, what: str) -> MLSMessage:
    message: MLSMessage = decode(MLSMessage, nonempty(data, what))
    return message


def key_package(data: bytes) -> Any:
    kp = msg(data, "key_package").message
    if type(kp).__name__ != "KeyPackage":
        raise ValidationError("key_package is not an MLSMessage holding a KeyPackage", "RFC 9420 6")
    return kp


def welcome(data: bytes) -> MLSMessage:
    m = msg(data, "welcome")
    if type(m.message).__name__ != "Welcome":
        raise ValidationError("welcome is not an MLSMessage holding a Welcome", "RFC 9420 12.4.3.1")
    return m


def group_info(data: bytes) -> GroupInfo:
    m = msg(data, "group_info")
    if not isinstance(m.message, GroupInfo):
        raise ValidationError("group_info is not an MLSMessage holding a GroupInfo", "RFC 9420 12.4.3")
    return m.message


def tree(data: bytes) -> bytes | None:
    return bytes(data) if data else None


def extensions(exts: Sequence[pb.Extension]) -> tuple[Extension, ...]:
    out = []
    for e in exts:
        if e.extension_type > 0xFFFF:
            raise ValidationError(f"extension type {e.extension_type} exceeds uint16", "RFC 9420 13")
        out.append(Extension(e.extension_type, bytes(e.extension_data)))
    return tuple(out)


def suite(n: int) -> Any:
    if n not in SUITES:
        raise ValidationError(f"cipher suite {n} is not supported", "RFC 9420 17.1")
    return get_suite(n)


def new_identity(suite_id: int, identity: bytes) -> tuple[Credential, bytes]:
    """A basic credential for ``identity`` and a fresh signature private key."""
    identity = nonempty(identity, "identity")
    priv, _ = suite(suite_id).generate_signature_key_pair()
    return Credential.basic(identity), priv


def leaf_of(members: Sequence[tuple[int, Any]], identity: bytes) -> int:
    for index, leaf in members:
        if leaf.credential.identity == identity:
            return index
    raise ValidationError(f"no member with identity {identity!r}", REQUEST)


def tree_bytes(state: g.GroupState) -> bytes:
    return encode(RatchetTree, state.tree.to_ratchet_tree())


def tree_members(suite_id: int, data: bytes) -> list[tuple[int, Any]]:
    from accord.mls.ratchet_tree import Tree

    nodes = decode(RatchetTree, data)
    return list(Tree.from_ratchet_tree(get_suite(suite_id), nodes).leaves())


def tree_from_info(info: GroupInfo) -> bytes:
    for e in info.extensions:
        if e.extension_type == ExtensionType.RATCHET_TREE:
            return bytes(e.extension_data)
    raise ValidationError("no ratchet_tree given and none in the GroupInfo", "RFC 9420 12.4.3.3")


def describe(d: pb.ProposalDescription, context: Any,
             members: Sequence[tuple[int, Any]]) -> Proposal:
    """A ProposalDescription (by-value commit entry or external proposal) as a Proposal."""
    kind = bytes(d.proposal_type).decode("utf-8", "replace")
    nonce_len = get_suite(context.cipher_suite).kdf_len
    if kind == "add":
        return Add(key_package(d.key_package))
    if kind == "remove":
        return Remove(leaf_of(members, bytes(d.removed_id)))
    if kind == "externalPSK":
        psk_id = nonempty(d.psk_id, "psk_id")
        return PreSharedKey(PreSharedKeyID.external(psk_id, os.urandom(nonce_len)))
    if kind == "resumptionPSK":
        return PreSharedKey(PreSharedKeyID.resumption(
            ResumptionPSKUsage.APPLICATION, context.group_id, d.epoch_id, os.urandom(nonce_len)))
    if kind == "groupContextExtensions":
        return GroupContextExtensions(extensions(d.extensions))
    if kind == "reinit":
        suite(d.cipher_suite)
        group_id = nonempty(d.group_id, "group_id")
        return ReInit(group_id, ProtocolVersion.MLS10, d.cipher_suite,
                      extensions(d.extensions))
    raise ValidationError(f"unknown proposal type {kind!r}", REQUEST)
