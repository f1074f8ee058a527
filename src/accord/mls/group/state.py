"""The group state: one immutable value per member and epoch (RFC 9420 8, 9, 12).

A ``GroupState`` holds what a member needs to send and receive in one epoch:
the GroupContext, the public ratchet tree, its own private keys along its
path, the epoch secrets, the secret tree, the transcript hashes, proposals
received in this epoch (kept by reference, 12.4), a pending commit of its
own, and a bounded history of earlier epochs (to read late application
messages, 15.3, and to answer resumption PSKs, 8.6).

Functions of ``accord.mls.group`` take a state and return a new one; a
state is never changed in place. The ratchet tree is a mutable ``Tree``
object that is shared between states, so nothing may write to
``state.tree``: code that needs a changed tree takes ``state.tree.copy()``.

``to_bytes`` / ``from_bytes`` give a versioned serialization of Accord's own
(not an RFC structure). It contains private keys and secrets: store it only
encrypted (the client's store is).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Protocol

from accord.errors import DecodeError
from accord.mls.codec import U8, U32, U64, wire
from accord.mls.components import Component, MembersRule
from accord.mls.credentials import BasicCredentials, CredentialValidator
from accord.mls.key_schedule import EpochSecrets
from accord.mls.padding import ACCORD_BUCKETS, PaddingPolicy
from accord.mls.ratchet_tree import Tree
from accord.mls.secret_tree import (
    DEFAULT_MAX_FORWARD_DISTANCE,
    DEFAULT_MAX_SKIPPED_KEYS,
    SecretTree,
)
from accord.mls.structs import GroupContext, LeafNode, Proposal, ReInit, Sender
from accord.mls.suites import CipherSuite, get_suite
from accord.mls.treekem import PathKeys

__all__ = [
    "CachedProposal",
    "GroupConfig",
    "GroupState",
    "GroupView",
    "PriorEpoch",
    "STATE_VERSION",
]

STATE_VERSION = 1


@dataclasses.dataclass(frozen=True, slots=True)
class GroupConfig:
    """Local policy of one member; none of it is sent on the wire."""

    # Handshake messages as PrivateMessage (hides proposals and commits from
    # the delivery service) or PublicMessage (lets it see them, 6).
    encrypt_handshake: bool = False
    # 12.4: a member that saw proposals MUST commit before sending application
    # data; a peer that does not may turn this off for interop testing.
    commit_before_send: bool = True
    # Epochs whose secret trees are kept to read late application messages (15.3).
    max_past_epochs: int = 1
    # resumption_psk values kept for PSK proposals and branching (8.6).
    max_resumption_psks: int = 8
    max_forward_distance: int = DEFAULT_MAX_FORWARD_DISTANCE
    max_skipped_keys: int = DEFAULT_MAX_SKIPPED_KEYS
    padding: PaddingPolicy = ACCORD_BUCKETS
    credential_validator: CredentialValidator = dataclasses.field(
        default_factory=BasicCredentials
    )
    # The application's components of the GroupContext's app_data_dictionary, by
    # component id (draft-ietf-mls-extensions 4.7): AppDataUpdates for any other
    # component are invalid. See ``accord.mls.components``.
    components: Mapping[int, Component] = dataclasses.field(default_factory=dict)
    # The application's rule binding the new epoch's app data to its members (None:
    # none), run on every commit made, received or checked on public state.
    members_rule: MembersRule | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class CachedProposal:
    """A proposal received (or sent) in this epoch, to be committed by reference."""

    ref: bytes
    proposal: Proposal
    sender: Sender
    # For our own Update proposal: the private key of the new leaf (12.1.2).
    leaf_priv: bytes | None = dataclasses.field(default=None, repr=False)
    # For our own proposals: the MLSMessage we sent, recognised when it comes
    # back (we cannot decrypt our own PrivateMessage: its key is used up).
    message: bytes | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass(frozen=True, slots=True)
class PriorEpoch:
    """What is kept of an earlier epoch to decrypt its late application messages.

    Not its tree: only the signature keys (None: blank) that the leaves it
    changed had in that epoch. Every other leaf was the same as in the next
    epoch, so a look-up walks toward the present (``GroupState.leaf_key_at``)
    and the state never holds or serializes a second tree.
    """

    context: GroupContext
    sender_data_secret: bytes = dataclasses.field(repr=False)
    secret_tree: SecretTree = dataclasses.field(repr=False)
    changed: Mapping[int, bytes | None] = dataclasses.field(default_factory=dict)


class GroupView(Protocol):
    """The public part of a group that validating proposals and commits reads: a
    member's ``GroupState``, or a delivery service's ``PublicGroup``
    (``accord.mls.group.public``), which holds no secret. Both run the same
    checks (RFC 9420 12.1-12.4.2) through this view."""

    @property
    def context(self) -> GroupContext: ...
    @property
    def tree(self) -> Tree: ...
    @property
    def interim_transcript_hash(self) -> bytes: ...
    @property
    def proposals(self) -> tuple[CachedProposal, ...]: ...
    @property
    def credential_types(self) -> frozenset[int] | None: ...
    @property
    def config(self) -> GroupConfig: ...
    @property
    def suite(self) -> CipherSuite: ...
    @property
    def group_id(self) -> bytes: ...


@dataclasses.dataclass(frozen=True, slots=True)
class GroupState:
    context: GroupContext
    tree: Tree
    own_leaf: int
    signature_priv: bytes = dataclasses.field(repr=False)
    # HPKE private keys of our leaf and the parents we know (7.4).
    node_privs: PathKeys = dataclasses.field(repr=False)
    secrets: EpochSecrets = dataclasses.field(repr=False)
    secret_tree: SecretTree = dataclasses.field(repr=False)
    interim_transcript_hash: bytes
    confirmation_tag: bytes
    proposals: tuple[CachedProposal, ...] = ()
    # A commit we sent and have not merged: (the message, the state it leads to).
    pending: PendingCommit | None = dataclasses.field(default=None, repr=False)
    prior: tuple[PriorEpoch, ...] = dataclasses.field(default=(), repr=False)
    # (epoch, resumption_psk) of this and earlier epochs, newest first (8.6).
    resumption_psks: tuple[tuple[int, bytes], ...] = dataclasses.field(default=(), repr=False)
    external_psks: Mapping[bytes, bytes] = dataclasses.field(default_factory=dict, repr=False)
    # Set once a commit with a ReInit is applied: the group may no longer be used (12.4.2).
    reinit: ReInit | None = None
    # Set once a commit removed us: only late messages of old epochs can be read (12.4.2).
    removed: bool = False
    # Credential types in use by the members (7.3), cached: finding them looks
    # at every leaf. None: not known yet (computed on first use).
    credential_types: frozenset[int] | None = dataclasses.field(default=None, compare=False)
    config: GroupConfig = dataclasses.field(default_factory=GroupConfig, repr=False)

    @property
    def suite(self) -> CipherSuite:
        return get_suite(self.context.cipher_suite)

    @property
    def epoch(self) -> int:
        return self.context.epoch

    @property
    def group_id(self) -> bytes:
        return self.context.group_id

    @property
    def own_leaf_node(self) -> LeafNode:
        node = self.tree.leaf(self.own_leaf)
        assert node is not None, "a member's own leaf is never blank"
        return node

    def leaf_key_at(self, epoch: int, leaf: int) -> bytes | None:
        """The signature key of ``leaf`` in a kept earlier ``epoch`` (None: blank)."""
        for prior in reversed(self.prior):  # oldest first
            if prior.context.epoch >= epoch and leaf in prior.changed:
                return prior.changed[leaf]
        node = self.tree.leaf(leaf)
        return None if node is None else node.signature_key

    def replace(self, **changes: object) -> GroupState:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def with_secret_tree(self, secret_tree: SecretTree) -> GroupState:
        """``replace(secret_tree=...)``, made for every message sent or read:
        a plain copy of the fields, without dataclasses.replace's generic
        keyword handling (GroupState has no __post_init__ to run)."""
        new = object.__new__(GroupState)
        for name in _FIELD_NAMES:
            object.__setattr__(new, name, getattr(self, name))
        object.__setattr__(new, "secret_tree", secret_tree)
        return new

    def to_bytes(self) -> bytes:
        return _to_wire(self).to_bytes()  # type: ignore[attr-defined, no-any-return]

    @classmethod
    def from_bytes(cls, data: bytes, config: GroupConfig | None = None) -> GroupState:
        """Restore a state; ``config`` supplies the local policy (not serialized)."""
        w: _StateWire = _StateWire.from_bytes(data)  # type: ignore[attr-defined]
        if w.version != STATE_VERSION:
            raise DecodeError(f"unknown group state version {w.version}")
        return _from_wire(w, config or GroupConfig())


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(GroupState))


@dataclasses.dataclass(frozen=True, slots=True)
class PendingCommit:
    """Our own commit, sent but not yet confirmed by the delivery service (14)."""

    message: bytes  # the encoded MLSMessage of the commit
    next_state: GroupState = dataclasses.field(repr=False)
    proposals: tuple[Proposal, ...] = ()  # what it commits, resolved


# --------------------------------------------------------------------------
# Serialized form (Accord's own)


@wire
class _NodePriv:
    node: U32
    priv: bytes

    def __repr__(self) -> str:
        return f"_NodePriv(node={self.node})"


@wire
class _CachedWire:
    ref: bytes
    proposal: Proposal
    sender: Sender
    leaf_priv: bytes | None
    message: bytes | None


@wire
class _LeafKey:
    leaf: U32
    signature_key: bytes | None


@wire
class _PriorWire:
    context: GroupContext
    sender_data_secret: bytes
    secret_tree: bytes
    changed: tuple[_LeafKey, ...]


@wire
class _PskWire:
    epoch: U64
    psk: bytes


@wire
class _ExtPskWire:
    psk_id: bytes
    psk: bytes


@wire
class _StateWire:
    version: U8
    context: GroupContext
    tree: bytes
    own_leaf: U32
    signature_priv: bytes
    node_privs: tuple[_NodePriv, ...]
    secrets: EpochSecrets
    secret_tree: bytes
    interim_transcript_hash: bytes
    confirmation_tag: bytes
    proposals: tuple[_CachedWire, ...]
    pending_message: bytes | None
    pending_state: bytes | None
    pending_proposals: tuple[Proposal, ...]
    prior: tuple[_PriorWire, ...]
    resumption_psks: tuple[_PskWire, ...]
    external_psks: tuple[_ExtPskWire, ...]
    reinit: ReInit | None
    removed: U8

    def __repr__(self) -> str:
        return "_StateWire(<secrets hidden>)"


def _to_wire(s: GroupState) -> _StateWire:
    pending = s.pending
    return _StateWire(
        STATE_VERSION,
        s.context,
        s.tree.to_bytes(),
        s.own_leaf,
        s.signature_priv,
        tuple(_NodePriv(x, p) for x, p in s.node_privs.items()),
        s.secrets,
        s.secret_tree.to_bytes(),
        s.interim_transcript_hash,
        s.confirmation_tag,
        tuple(
            _CachedWire(c.ref, c.proposal, c.sender, c.leaf_priv, c.message) for c in s.proposals
        ),
        pending.message if pending else None,
        pending.next_state.to_bytes() if pending else None,
        pending.proposals if pending else (),
        tuple(
            _PriorWire(p.context, p.sender_data_secret, p.secret_tree.to_bytes(),
                       tuple(_LeafKey(i, k) for i, k in sorted(p.changed.items())))
            for p in s.prior
        ),
        tuple(_PskWire(e, k) for e, k in s.resumption_psks),
        tuple(_ExtPskWire(i, k) for i, k in sorted(s.external_psks.items())),
        s.reinit,
        int(s.removed),
    )


def _from_wire(w: _StateWire, config: GroupConfig) -> GroupState:
    suite = get_suite(w.context.cipher_suite)
    pending = None
    if w.pending_message is not None and w.pending_state is not None:
        pending = PendingCommit(w.pending_message, GroupState.from_bytes(w.pending_state, config),
                                w.pending_proposals)
    return GroupState(
        context=w.context,
        tree=Tree.from_bytes(suite, w.tree),
        own_leaf=w.own_leaf,
        signature_priv=w.signature_priv,
        node_privs=PathKeys({n.node: n.priv for n in w.node_privs}),
        secrets=w.secrets,
        secret_tree=SecretTree.from_bytes(w.secret_tree),
        interim_transcript_hash=w.interim_transcript_hash,
        confirmation_tag=w.confirmation_tag,
        proposals=tuple(
            CachedProposal(c.ref, c.proposal, c.sender, c.leaf_priv, c.message) for c in w.proposals
        ),
        pending=pending,
        prior=tuple(
            PriorEpoch(
                p.context,
                p.sender_data_secret,
                SecretTree.from_bytes(p.secret_tree),
                {c.leaf: c.signature_key for c in p.changed},
            )
            for p in w.prior
        ),
        resumption_psks=tuple((p.epoch, p.psk) for p in w.resumption_psks),
        external_psks={p.psk_id: p.psk for p in w.external_psks},
        reinit=w.reinit,
        removed=bool(w.removed),
        config=config,
    )
