"""A group's public state, as a delivery service keeps it (RFC 9420 16.6; the MIMI hub).

A ``PublicGroup`` is what a party without any of the group's secrets can know
and check: the GroupContext (group id, epoch, tree hash, confirmed transcript
hash, extensions), the public ratchet tree and the interim transcript hash.
It starts from a GroupInfo with its ratchet tree (:func:`from_group_info`,
checked as a joiner checks it) and moves by one commit at a time
(:func:`apply_commit`), with the very checks every member runs
(``process.check_commit``, ``check_path_leaf``, ``treekem.merge_update_path``,
``treekem.check_path_ciphertexts``, ``commit.next_context``): so a commit
the hub accepts is one every member's checks accept too, except for what
needs the epoch's secrets:

- the membership tag of a PublicMessage (the membership key, 6.2);
- the confirmation tag (the confirmation key, 6.1);
- whether each HPKE ciphertext of the UpdatePath decrypts to the path secret
  whose keys the path announces (7.6; their number is checked), and the PSKs
  a commit injects (8.4).

The hub takes the confirmation tag as sent for its interim transcript hash
(8.2): a wrong tag makes the members refuse the commit, which is the one
thing a member who deliberately miscomputes a MAC can still do
(docs/THREATS.md, T05).

``to_bytes`` / ``from_bytes``: Accord's own versioned encoding, public data only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from accord.errors import CryptoError, DecodeError, ValidationError
from accord.mls.codec import U8, decode, wire
from accord.mls.framing_public import verify_public_signature
from accord.mls.group.commit import next_context
from accord.mls.group.epoch import signature_key_lookup
from accord.mls.group.process import (
    check_commit,
    check_path_leaf,
    committer_leaf,
    received_proposal,
)
from accord.mls.group.state import CachedProposal, GroupConfig
from accord.mls.group.welcome import joined_tree
from accord.mls.ratchet_tree import Tree
from accord.mls.structs import (
    AuthenticatedContent,
    Commit,
    GroupContext,
    GroupInfo,
    KeyPackage,
    MLSMessage,
    Proposal,
    PublicMessage,
    Sender,
)
from accord.mls.structs.enums import ContentType, ProtocolVersion, WireFormat
from accord.mls.suites import CipherSuite, get_suite
from accord.mls.transcript import interim_transcript_hash
from accord.mls.treekem import check_path_ciphertexts, merge_update_path

__all__ = [
    "PublicCommit",
    "PublicGroup",
    "apply_commit",
    "check_proposal_message",
    "context_of",
    "from_group_info",
]

PUBLIC_VERSION = 1


@dataclasses.dataclass(frozen=True, slots=True)
class PublicGroup:
    """The public state of one group in one epoch (a ``GroupView``, no secrets)."""

    context: GroupContext
    tree: Tree
    interim_transcript_hash: bytes
    # The proposals a commit of this epoch may refer to (12.4): the delivery
    # service supplies those it accepted; never serialized.
    proposals: tuple[CachedProposal, ...] = ()
    credential_types: frozenset[int] | None = None
    config: GroupConfig = dataclasses.field(default_factory=GroupConfig)

    @property
    def suite(self) -> CipherSuite:
        return get_suite(self.context.cipher_suite)

    @property
    def group_id(self) -> bytes:
        return self.context.group_id

    @property
    def epoch(self) -> int:
        return self.context.epoch

    def to_bytes(self) -> bytes:
        w = _PublicWire(PUBLIC_VERSION, self.context, self.tree.to_bytes(),
                        self.interim_transcript_hash)
        return w.to_bytes()  # type: ignore[attr-defined, no-any-return]

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicGroup:
        w: _PublicWire = _PublicWire.from_bytes(data)  # type: ignore[attr-defined]
        if w.version != PUBLIC_VERSION:
            raise DecodeError(f"unknown public group state version {w.version}")
        return cls(w.context, Tree.from_bytes(get_suite(w.context.cipher_suite), w.tree),
                   w.interim_transcript_hash)


@wire
class _PublicWire:
    version: U8
    context: GroupContext
    tree: bytes
    interim_transcript_hash: bytes


def context_of(state: bytes) -> GroupContext:
    """The GroupContext of a stored public state, without reading its tree."""
    w: _PublicWire = _PublicWire.from_bytes(state)  # type: ignore[attr-defined]
    if w.version != PUBLIC_VERSION:
        raise DecodeError(f"unknown public group state version {w.version}")
    return w.context


def from_group_info(group_info: MLSMessage | bytes, now: int | None) -> tuple[PublicGroup, int]:
    """The public state a GroupInfo describes, and its signer's leaf: the ratchet tree
    from its extension, validated as a joiner validates it (12.4.3.1: tree hash,
    parent hashes, leaf signatures), the GroupInfo's signature by its signer's leaf,
    and the interim transcript hash from the confirmation tag (8.2)."""
    msg = decode(MLSMessage, group_info) if isinstance(group_info, bytes) else group_info
    info = msg.message
    if msg.version != ProtocolVersion.MLS10 or not isinstance(info, GroupInfo):
        raise ValidationError("not an mls10 GroupInfo", "RFC 9420 12.4.3")
    suite = get_suite(info.group_context.cipher_suite)
    tree = joined_tree(suite, info, None, now, GroupConfig())
    interim = interim_transcript_hash(suite, info.group_context.confirmed_transcript_hash,
                                      info.confirmation_tag)
    return PublicGroup(info.group_context, tree, interim), info.signer


def _public_auth(group: PublicGroup, raw: bytes, kind: int) -> AuthenticatedContent:
    """A PublicMessage of ``kind`` for this group and epoch, its signature verified with
    the sender's key and the group's GroupContext (6.1, 6.2; no membership tag)."""
    msg = decode(MLSMessage, raw)
    inner = msg.message
    if msg.version != ProtocolVersion.MLS10 or not isinstance(inner, PublicMessage):
        raise ValidationError("not an mls10 PublicMessage", "RFC 9420 6.2")
    if inner.content.content_type != kind:
        raise ValidationError("not the expected content type", "RFC 9420 6")
    try:
        return verify_public_signature(group.suite, inner, signature_key_lookup(group),
                                       group.context)
    except CryptoError:
        raise ValidationError("the signature does not verify with the sender's leaf key"
                              " and the group's context", "RFC 9420 6.1") from None


def check_proposal_message(group: PublicGroup, raw: bytes, now: int | None,
                           accepted: Sequence[bytes] = ()) -> CachedProposal:
    """A proposal in a PublicMessage: signed by its sender in this epoch and valid on
    its own (12.1), beside the ``accepted`` proposals of the epoch (one SelfRemove per
    member, draft-ietf-mls-extensions 5.3); with its ProposalRef."""
    if accepted:
        group = dataclasses.replace(group, proposals=tuple(_accepted(group, b)
                                                           for b in accepted))
    return received_proposal(group, _public_auth(group, raw, ContentType.PROPOSAL), now)


def _accepted(group: PublicGroup, raw: bytes) -> CachedProposal:
    """A proposal this delivery service accepted in the epoch (checked then)."""
    pm = decode(MLSMessage, raw).message
    assert isinstance(pm, PublicMessage)
    auth = AuthenticatedContent(WireFormat.PUBLIC_MESSAGE, pm.content, pm.signature, None)
    proposal: Proposal = pm.content.content  # type: ignore[assignment]
    return CachedProposal(group.suite.proposal_ref(auth.to_bytes()), proposal, pm.content.sender)


@dataclasses.dataclass(frozen=True, slots=True)
class PublicCommit:
    """What an accepted commit did, and the public state of the epoch it starts."""

    sender: Sender
    committer: int  # the committer's leaf in the new epoch
    proposals: tuple[Proposal, ...]  # resolved, in order
    added: tuple[tuple[int, KeyPackage], ...]  # (leaf, KeyPackage) of each Add
    removed: tuple[int, ...]
    next: PublicGroup


def apply_commit(group: PublicGroup, raw: bytes, accepted: Sequence[bytes],
                 now: int | None) -> PublicCommit:
    """Check a commit in a PublicMessage as every member would, without the secrets,
    and apply it: signature (6.1), proposals by value and by reference to
    ``accepted`` (12.1-12.3), the UpdatePath's leaf node and parent hashes (7.9,
    12.4.2), then the new tree hash and transcript hashes (8.2)."""
    auth = _public_auth(group, raw, ContentType.COMMIT)
    view = dataclasses.replace(group, proposals=tuple(_accepted(group, b) for b in accepted))
    # Epoch 0 has one member, who made the group: its first commit may be a
    # reinit's or branch's, with that PSK (nobody but the joiners checks it).
    checked = check_commit(view, auth, now, first=group.epoch == 0)
    applied = checked.applied
    commit: Commit = auth.content.content  # type: ignore[assignment]
    tree = applied.tree
    leaf = committer_leaf(auth, applied, checked.external)
    exts = tuple(applied.extensions)
    if commit.path is not None:
        check_path_leaf(view, commit.path.leaf_node, leaf, tree, exts, checked.external, now)
        fdp = merge_update_path(tree, leaf, commit.path, group.group_id)
        check_path_ciphertexts(tree, fdp, commit.path, [i for i, _ in applied.added])
    if auth.confirmation_tag is None:
        raise ValidationError("a commit carries a confirmation_tag", "RFC 9420 6.1")
    context = next_context(group, auth, tree, exts)
    interim = interim_transcript_hash(group.suite, context.confirmed_transcript_hash,
                                      auth.confirmation_tag)
    return PublicCommit(auth.content.sender, leaf, tuple(p for p, _ in checked.entries),
                        tuple(applied.added), tuple(applied.removed),
                        PublicGroup(context, tree, interim))
