"""What the hub reads in MLS messages: public parts only (DESIGN.md layers).

KeyPackages must be valid and name the uploading device; a commit in a
PublicMessage must be for this group and epoch, come from the committing
device's leaf, and its Add/Remove proposals must match the roster change
the request declares; the Welcome must go to exactly the added KeyPackages.
A commit in a PrivateMessage is opaque: only its header is checked, and the
declared roster change is trusted as the committer's word (it is still
attributable to the committer's session).

Credentials are basic (RFC 9420 5.3) with the identity ``account/device_id``.
"""

from __future__ import annotations

from dataclasses import dataclass

from accord.errors import AccordError, DecodeError, ValidationError
from accord.mls.codec import decode
from accord.mls.credentials import BasicCredentials
from accord.mls.key_package import key_package_ref, validate_key_package
from accord.mls.structs import Add, Commit, KeyPackage, Remove
from accord.mls.structs.messages import MLSMessage, PrivateMessage, PublicMessage
from accord.mls.structs.welcome import Welcome
from accord.storage import CommitChange, DeviceRecord, GroupRecord
from accord.storage.interface import LeafPlan

COMMIT = 3  # ContentType.commit (RFC 9420 6)
MEMBER = 1  # SenderType.member


def _mls(raw: bytes, what: str) -> MLSMessage:
    try:
        msg = decode(MLSMessage, raw)
    except DecodeError as exc:
        raise DecodeError(f"{what} is not an MLSMessage: {exc}") from exc
    assert isinstance(msg, MLSMessage)
    return msg


def identity_device(identity: bytes | None) -> str:
    """The device id named by a basic credential ``account/device_id``."""
    try:
        account, device_id = (identity or b"").decode().rsplit("/", 1)
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("credential identity is not account/device", "RFC 9420 5.3") from None
    if "@" not in account or not device_id:
        raise ValidationError("credential identity is not account/device", "RFC 9420 5.3")
    return device_id


def check_key_package(raw: bytes, device: DeviceRecord, now_ms: int) -> tuple[bytes, int]:
    """Validate an uploaded KeyPackage of ``device``; its KeyPackageRef (5.2) and
    cipher suite."""
    msg = _mls(raw, "a KeyPackage")
    kp = msg.message
    if not isinstance(kp, KeyPackage):
        raise ValidationError("not a KeyPackage", "RFC 9420 6")
    want = f"{device.account}/{device.device_id}".encode()
    if kp.leaf_node.credential.identity != want:
        raise ValidationError("the KeyPackage's credential does not name this device")
    if kp.leaf_node.signature_key != device.signature_key:
        raise ValidationError("the KeyPackage's signature key is not this device's key")
    try:
        validate_key_package(kp, now=now_ms // 1000, credential_validator=BasicCredentials())
        return key_package_ref(kp), int(kp.cipher_suite)
    except AccordError:
        raise
    except (KeyError, ValueError) as exc:  # e.g. a cipher suite we do not know
        raise ValidationError(f"unusable KeyPackage: {type(exc).__name__}", "RFC 9420 10.1") from exc


@dataclass(frozen=True, slots=True)
class CommitView:
    sender_leaf: int
    added: tuple[str, ...]  # device ids of the Add proposals, in order
    added_refs: tuple[bytes, ...]
    removed_leaves: tuple[int, ...]
    by_reference: int


def view_commit(raw: bytes, group_id: bytes, epoch: int) -> CommitView | None:
    """Read a commit's public facts; None for an (opaque) PrivateMessage."""
    msg = _mls(raw, "a commit").message
    if isinstance(msg, PrivateMessage):
        if msg.group_id != group_id or msg.epoch != epoch or msg.content_type != COMMIT:
            raise ValidationError("the commit's header does not match the request", "RFC 9420 6")
        return None
    if not isinstance(msg, PublicMessage):
        raise ValidationError("a commit travels in a PublicMessage or PrivateMessage")
    fc = msg.content
    if fc.group_id != group_id or fc.epoch != epoch:
        raise ValidationError("the commit is for another group or epoch", "RFC 9420 6.3")
    if not isinstance(fc.content, Commit):
        raise ValidationError("not a commit", "RFC 9420 6")
    if fc.sender.sender_type != MEMBER or fc.sender.index is None:
        raise ValidationError("only member commits are ordered by this hub", "RFC 9420 12.4")
    added, refs, removed, by_ref = [], [], [], 0
    for proposal in fc.content.proposals:
        if isinstance(proposal, bytes):
            by_ref += 1
        elif isinstance(proposal, Add):
            added.append(identity_device(proposal.key_package.leaf_node.credential.identity))
            refs.append(key_package_ref(proposal.key_package))
        elif isinstance(proposal, Remove):
            removed.append(proposal.removed)
    return CommitView(fc.sender.index, tuple(added), tuple(refs), tuple(removed), by_ref)


def check_welcome(raw: bytes, view: CommitView | None) -> None:
    msg = _mls(raw, "a Welcome").message
    if not isinstance(msg, Welcome):
        raise ValidationError("not a Welcome", "RFC 9420 12.4.3.1")
    recipients = {s.new_member for s in msg.secrets}
    if view is not None and view.by_reference == 0 and recipients != set(view.added_refs):
        raise ValidationError("the Welcome is not for exactly the added KeyPackages",
                              "RFC 9420 12.4.3.1")


def leaf_plan(view: CommitView | None, change: CommitChange) -> LeafPlan:
    """A check run on the locked group: sender leaf, removals, and new leaf indices."""

    def plan(group: GroupRecord) -> dict[str, int | None]:
        leaf_of = dict(zip(group.members, group.leaves, strict=False))
        known = all(leaf is not None for leaf in leaf_of.values())
        if view is not None:
            _check_view(view, change, leaf_of, known)
        if not known:
            return {}
        # RFC 9420 12.1.1 / 7.7: removals blank their leaves first, then each
        # Add takes the leftmost blank leaf, or extends the tree.
        occupied = {leaf for d, leaf in leaf_of.items() if d not in change.removed}
        placed: dict[str, int | None] = {}
        for device in change.added:
            index = 0
            while index in occupied:
                index += 1
            occupied.add(index)
            placed[device] = index
        return placed

    return plan


def _check_view(view: CommitView, change: CommitChange,
                leaf_of: dict[str, int | None], known: bool) -> None:
    if known and leaf_of.get(change.sender) != view.sender_leaf:
        raise ValidationError("the commit is not signed from the committer's leaf",
                              "RFC 9420 12.4")
    if view.by_reference:
        # Proposals by reference are not visible here: check what is.
        if not set(view.added) <= set(change.added):
            raise ValidationError("an Add in the commit is not declared in 'added'")
        return
    if list(view.added) != list(change.added):
        raise ValidationError("'added' must list the commit's Add proposals, in order",
                              "RFC 9420 12.1.1")
    if known:
        at = {leaf: d for d, leaf in leaf_of.items()}
        removed = [at.get(leaf) for leaf in view.removed_leaves]
        if None in removed or sorted(removed) != sorted(change.removed):  # type: ignore[type-var]
            raise ValidationError("'removed' must be the devices the Remove proposals name",
                                  "RFC 9420 12.1.3")


APPLICATION = 1  # ContentType.application


def check_application(raw: bytes, group_id: bytes, epoch: int) -> None:
    """A hidden-sender post must be an MLS PrivateMessage of this group and epoch (6.3).

    Only the plaintext header is read; the hub cannot and does not decrypt.
    """
    msg = _mls(raw, "an application message").message
    if not isinstance(msg, PrivateMessage):
        raise ValidationError("an application message travels in a PrivateMessage",
                              "RFC 9420 6.2")
    if msg.content_type != APPLICATION:
        raise ValidationError("only application content is posted without a session")
    if msg.group_id != group_id or msg.epoch != epoch:
        raise ValidationError("the message is for another group or epoch", "RFC 9420 6.3")


PROPOSAL = 2  # ContentType.proposal


def check_proposal(raw: bytes, group: GroupRecord, sender: str, epoch: int) -> None:
    """A posted proposal: an MLS proposal for this group and epoch, from the sender's leaf."""
    msg = _mls(raw, "a proposal").message
    if isinstance(msg, PrivateMessage):
        if msg.group_id != group.group_id or msg.epoch != epoch or msg.content_type != PROPOSAL:
            raise ValidationError("the proposal's header does not match the request",
                                  "RFC 9420 6")
        return
    if not isinstance(msg, PublicMessage):
        raise ValidationError("a proposal travels in a PublicMessage or PrivateMessage")
    fc = msg.content
    if fc.group_id != group.group_id or fc.epoch != epoch:
        raise ValidationError("the proposal is for another group or epoch", "RFC 9420 6.3")
    if fc.content_type != PROPOSAL:
        raise ValidationError("not a proposal", "RFC 9420 6")
    leaf = group.leaf_of(sender)
    if fc.sender.sender_type != MEMBER or (leaf is not None and fc.sender.index != leaf):
        raise ValidationError("the proposal is not signed from the sender's leaf",
                              "RFC 9420 12.1")
