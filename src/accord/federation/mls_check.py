"""What the hub reads in MLS messages: public parts only (DESIGN.md layers).

KeyPackages must be valid and name the uploading device. Handshake messages
come in PublicMessages only: a commit must be for this group and epoch, come
from the committing device's leaf, and its Add/Remove proposals (those by
reference resolved from the proposals the hub accepted in the epoch) must be
exactly the roster change the request declares; the Welcome must go to
exactly the added KeyPackages. An application message must be a
PrivateMessage of this group and epoch (the hub reads its header only).

Credentials are basic (RFC 9420 5.3) with the identity ``account/device_id``.

The hub runs the members' own checks on a group's public state with the MIMI
room-state components (``HUB_CONFIG``): AppDataUpdates of ``participant_list`` and
``room_metadata`` are applied and held to the room policy (``accord.wire.mimi_room``),
a member's user being ``mimi://DOMAIN/u/USER`` of its credential's account, and
every member must be a client of a listed participant (``mimi_room.check_members``); a
SelfRemove removes its sender's leaf like a Remove (draft-ietf-mls-extensions 5.3).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from accord.errors import AccordError, CryptoError, DecodeError, ValidationError
from accord.mls.codec import decode
from accord.mls.credentials import BasicCredentials, check_successor
from accord.mls.group import public
from accord.mls.key_package import key_package_ref, validate_key_package
from accord.mls.structs import Add, Commit, Credential, KeyPackage, ReInit, Remove, Update
from accord.mls.structs.credential import find_extension
from accord.mls.structs.enums import ContentType, ExtensionType, SenderType, WireFormat
from accord.mls.structs.messages import (
    AuthenticatedContent,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
)
from accord.mls.structs.welcome import GroupInfo, Welcome
from accord.mls.suites import get_suite
from accord.storage import DeviceRecord, GroupRecord
from accord.wire import mimi_room
from accord.wire.mimi import RatchetTreeOption
from accord.wire.posting_component import posting_key_of

# A suite per hash length, for RefHash (RFC 9420 5.2): SHA-256, SHA-384, SHA-512.
_REF_SUITES = {32: 0x0001, 48: 0x0007, 64: 0x0004}


# The MIMI user URI a member's credential acts for in the room state (None: no role).
room_user = mimi_room.member_user


HUB_CONFIG = mimi_room.room_config()


def hub_group(state: bytes) -> public.PublicGroup:
    """A group's public state as the hub checks against it (with ``HUB_CONFIG``)."""
    return replace(public.PublicGroup.from_bytes(state), config=HUB_CONFIG)


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


def key_package_ref_of(raw: bytes) -> bytes:
    """The KeyPackageRef (RFC 9420 5.2) of a KeyPackage in an MLSMessage."""
    kp = _mls(raw, "a KeyPackage").message
    if not isinstance(kp, KeyPackage):
        raise ValidationError("not a KeyPackage", "RFC 9420 6")
    return key_package_ref(kp)


@dataclass(frozen=True, slots=True)
class CommitView:
    """The public facts of a commit in a PublicMessage (the hub sees nothing else)."""

    sender_leaf: int | None  # None: an external commit (a new member's, RFC 9420 12.4.3.2)
    proposals: tuple[object, ...]  # by value (Add, Remove, ...) or a ProposalRef (bytes)
    path_credential: Credential | None  # the credential of the committer's new leaf


@dataclass(frozen=True, slots=True)
class CommitEffects:
    """What a commit does to the roster, its references resolved (RFC 9420 12.4)."""

    added: tuple[str, ...]  # device ids of the Add proposals, in order
    added_refs: tuple[bytes, ...]  # their KeyPackageRefs
    added_accounts: tuple[str, ...]  # the account each added credential names
    added_keys: tuple[bytes, ...]  # each added leaf's signature key
    removed_leaves: tuple[int, ...]


def _public(raw: bytes, what: str) -> PublicMessage:
    """Handshake messages reach the hub as PublicMessages (the MIMI hub model): the hub
    derives every roster change from content it can read. A PrivateMessage shows it
    only a header, and the roster would be the sender's word (the "ghost" attack)."""
    msg = _mls(raw, what).message
    if not isinstance(msg, PublicMessage):
        raise ValidationError(f"{what} must travel to the hub in a PublicMessage",
                              "Accord hub: handshake in PublicMessage (RFC 9420 6.2)")
    return msg


def view_commit(raw: bytes, group_id: bytes, epoch: int) -> CommitView:
    """Read a commit's public facts: for this group and epoch, from a member leaf or
    (an external commit, with its path) from a new member."""
    fc = _public(raw, "a commit").content
    if fc.group_id != group_id or fc.epoch != epoch:
        raise ValidationError("the commit is for another group or epoch", "RFC 9420 6.3")
    if not isinstance(fc.content, Commit):
        raise ValidationError("not a commit", "RFC 9420 6")
    path = fc.content.path
    external = fc.sender.sender_type == SenderType.NEW_MEMBER_COMMIT
    if external and path is None:
        raise ValidationError("an external commit must have a path", "RFC 9420 12.4.3.2")
    if not external and (fc.sender.sender_type != SenderType.MEMBER
                         or fc.sender.index is None):
        raise ValidationError("only member and external commits are ordered by this hub",
                              "RFC 9420 12.4")
    return CommitView(None if external else fc.sender.index, tuple(fc.content.proposals),
                      None if path is None else path.leaf_node.credential)


def is_external_commit(raw: bytes) -> bool:
    """Whether ``raw`` is a commit of a new member (RFC 9420 12.4.3.2) by its sender
    type alone, to pick the checks its origin must pass; ``view_commit`` reads it."""
    try:
        msg = decode(MLSMessage, raw).message
    except DecodeError:
        return False
    return isinstance(msg, PublicMessage) and (
        msg.content.sender.sender_type == SenderType.NEW_MEMBER_COMMIT)


def joiner(view: CommitView) -> tuple[str, str] | None:
    """``(account, device_id)`` an external commit's new leaf names; None for a member's."""
    if view.sender_leaf is not None:
        return None
    assert view.path_credential is not None  # view_commit: an external commit has a path
    identity = view.path_credential.identity
    return identity_device_account(identity), identity_device(identity)


def ends_group(view: CommitView) -> bool:
    """Whether the commit carries a ReInit (RFC 9420 11.2): the group is not used again
    once it is merged (12.4.2), so the hub closes it (issue 18). The hub takes a ReInit
    by value only (``check_proposal`` refuses it as a proposal), so a commit cannot
    name one by reference that this would miss."""
    return any(isinstance(p, ReInit) for p in view.proposals)


def invited_accounts(raw: bytes, group_id: bytes, epoch: int) -> set[str]:
    """The accounts a commit's by-value Adds invite (their credentials' accounts)."""
    view = view_commit(raw, group_id, epoch)
    return {identity_device_account(p.key_package.leaf_node.credential.identity)
            for p in view.proposals if isinstance(p, Add)}


def added_credentials(commit: bytes) -> dict[str, tuple[str, bytes]]:
    """Device id -> (account, leaf signature key), for each Add by value of a
    PublicMessage commit (the credential identity is ``account/device_id``)."""
    msg = _mls(commit, "a commit").message
    if not isinstance(msg, PublicMessage) or not isinstance(msg.content.content, Commit):
        return {}
    out: dict[str, tuple[str, bytes]] = {}
    for proposal in msg.content.content.proposals:
        if isinstance(proposal, Add):
            leaf = proposal.key_package.leaf_node
            identity = leaf.credential.identity or b""
            account = identity.decode(errors="replace").rsplit("/", 1)[0]
            out[identity_device(identity)] = (account, leaf.signature_key)
    return out


def added_key_package_refs(commit: bytes) -> dict[str, bytes]:
    """Device id -> the KeyPackageRef (RFC 9420 5.2) of its KeyPackage, for each Add by
    value of a PublicMessage commit."""
    msg = _mls(commit, "a commit").message
    if not isinstance(msg, PublicMessage) or not isinstance(msg.content.content, Commit):
        return {}
    return {identity_device(p.key_package.leaf_node.credential.identity):
            key_package_ref(p.key_package)
            for p in msg.content.content.proposals if isinstance(p, Add)}


def added_accounts(commit: bytes) -> dict[str, str]:
    """Device id -> the account its credential names, for each Add by value."""
    return {d: account for d, (account, _) in added_credentials(commit).items()}


def identity_device_account(identity: bytes | None) -> str:
    identity_device(identity)  # the wire syntax, or a ValidationError
    return (identity or b"").decode().rsplit("/", 1)[0]


def member_devices(state: bytes | public.PublicGroup, account: str) -> list[str]:
    """The member devices of ``account`` in a group's public MLS state (the hub's),
    by each leaf's credential (``account/device_id``)."""
    group = state if isinstance(state, public.PublicGroup) else public.PublicGroup.from_bytes(
        state)
    tree = group.tree
    out = []
    for _, leaf in tree.leaves():
        identity = leaf.credential.identity or b""
        if identity.decode(errors="replace").rsplit("/", 1)[0] == account:
            out.append(identity_device(identity))
    return out


def tree_option(state: bytes) -> bytes:
    """The whole ratchet tree of a group's public MLS state as a MIMI RatchetTreeOption
    (``full``), what a Welcome's fan-out and the hub's GroupInfo answer carry
    (draft-ietf-mimi-protocol-06 5.5, 5.6): as RFC 9420 12.4.3.3 sends a tree, with no
    blank node after the last non-blank one."""
    tree = public.PublicGroup.from_bytes(state).tree
    return RatchetTreeOption(1, tree.to_ratchet_tree()).to_bytes()


def added_leaves(occupied: Collection[int], count: int) -> list[int]:
    """Where ``count`` Adds go once the commit's removals have blanked their leaves
    (``occupied`` is what is left): each takes the leftmost blank leaf, or extends the
    tree (RFC 9420 12.1.1, 7.7)."""
    taken, out, index = set(occupied), [], 0
    for _ in range(count):
        while index in taken:
            index += 1
        taken.add(index)
        out.append(index)
    return out


def leaf_member(state: bytes, leaf: int) -> tuple[str, str] | None:
    """``(account, device_id)`` at ``leaf`` of a group's public MLS state; None if blank."""
    node = public.PublicGroup.from_bytes(state).tree.leaf(leaf)
    if node is None:
        return None
    return identity_device_account(node.credential.identity), identity_device(
        node.credential.identity)


class InvalidProposal(ValidationError):
    """Proposals the MLS rules refuse (RFC 9420 12.1, 12.4; draft-ietf-mls-extensions),
    as against a message the hub's policy or the sender's authority refuses: MIMI 5.3
    answers ``invalidProposal`` with their ProposalRefs (``refs``), not ``notAllowed``."""

    def __init__(self, cause: str, rule: str, refs: Sequence[bytes]) -> None:
        super().__init__(cause, rule)
        self.cause, self.refs = cause, tuple(refs)


# A proposal refused under these rules is not an invalid one (MIMI 5.3 notAllowed):
# its signature (it is not the sender's), its framing, the room policy.
NOT_INVALID_RULES = frozenset({"RFC 9420 6", "RFC 9420 6.1", "RFC 9420 6.2",
                               mimi_room.RULE_POLICY})


def proposal_ref(raw: bytes, suite_id: int) -> bytes:
    """The ProposalRef of a proposal in a PublicMessage (RFC 9420 5.2)."""
    msg = _mls(raw, "a proposal").message
    if not isinstance(msg, PublicMessage):
        raise ValidationError("a proposal travels to the hub in a PublicMessage", "RFC 9420 6.2")
    auth = AuthenticatedContent(WireFormat.PUBLIC_MESSAGE, msg.content, msg.signature, None)
    return get_suite(suite_id).proposal_ref(auth.to_bytes())


def group_info_body(raw: bytes) -> bytes:
    """The GroupInfo an MLSMessage holds (a CommitRequest's, as a new group's), as the
    MIMI update carries it: the GroupInfo alone (12.4.3)."""
    msg = _mls(raw, "a GroupInfo").message
    if not isinstance(msg, GroupInfo):
        raise ValidationError("not a GroupInfo", "RFC 9420 12.4.3")
    return msg.to_bytes()


def carried_posting_key(raw: bytes) -> bytes | None:
    """The posting key (T11) a commit's GroupInfo carries (``accord.wire.posting_component``),
    None if none; its signature is checked with the commit (``check_group_info``). The
    hub keeps the GroupInfo and serves it (MIMI 5.6), so it must omit the ratchet tree,
    which MIMI carries beside it (5.3, 5.6)."""
    try:
        info = decode(GroupInfo, raw)
    except DecodeError as exc:
        raise ValidationError(f"not a GroupInfo: {exc}", "RFC 9420 12.4.3") from None
    if find_extension(info.extensions, ExtensionType.RATCHET_TREE) is not None:
        raise ValidationError("a commit's GroupInfo omits the ratchet tree", "MIMI 5.3")
    return posting_key_of(info)


def _ref_hash(body: bytes, length: int) -> bytes:
    """The ProposalRef of an accepted proposal, with the hash the reference's length
    names (RFC 9420 5.2: RefHash with the suite's hash; 32, 48, 64 octets)."""
    suite = _REF_SUITES.get(length)
    if suite is None:
        raise ValidationError("a ProposalRef of no known hash length", "RFC 9420 5.2")
    return proposal_ref(body, suite)


def resolve(view: CommitView, accepted: Sequence[bytes]) -> list[object]:
    """The commit's proposals, each reference resolved from the proposals this hub
    accepted in the epoch; an unknown reference is refused (RFC 9420 12.4). Only for
    a group without public state: otherwise ``public.apply_commit`` resolves them."""
    return [proposal for proposal, _ in resolve_senders(view, accepted)]


def resolve_senders(view: CommitView, accepted: Sequence[bytes]
                    ) -> list[tuple[object, int | None]]:
    """:func:`resolve`, each proposal with its sender's leaf (the committer's for one by
    value; None for a proposal by reference from a non-member, e.g. an external sender)."""
    by_ref: dict[int, dict[bytes, bytes]] = {}  # ref length -> ref -> proposal
    for item in view.proposals:
        if isinstance(item, bytes) and len(item) not in by_ref:
            by_ref[len(item)] = {_ref_hash(b, len(item)): b for b in accepted}
    unknown = [i for i in view.proposals if isinstance(i, bytes) and i not in by_ref[len(i)]]
    if unknown:
        raise InvalidProposal("a proposal by reference is not one accepted in this epoch",
                              "RFC 9420 12.4", unknown)
    out: list[tuple[object, int | None]] = []
    for item in view.proposals:
        proposal, sender = item, view.sender_leaf
        if isinstance(item, bytes):
            found = by_ref[len(item)][item]
            msg = _mls(found, "a proposal").message
            assert isinstance(msg, PublicMessage)
            proposal = msg.content.content
            by = msg.content.sender
            sender = by.index if by.sender_type == SenderType.MEMBER else None
        out.append((proposal, sender))
    return out


def commit_effects(raw: bytes, view: CommitView, state: bytes | None,
                   accepted: Sequence[bytes], now_ms: int) -> CommitEffects:
    """What a commit does to the roster, as the hub's MLS checks resolve it against the
    group's public ``state`` (every leaf a Remove or SelfRemove empties); by its
    proposals alone for a group without one (``resolve``). A reference to no proposal
    accepted in the epoch is an :class:`InvalidProposal`. The commit's transaction
    checks it again (``commit_plan.leaf_plan``)."""
    resolved = resolve(view, accepted)
    if state is None:
        return effects_of(resolved)
    done = public.apply_commit(hub_group(state), raw, accepted, now_ms // 1000)
    return effects_of(done.proposals, done.removed)


def effects_of(proposals: Sequence[object], removed_leaves: Sequence[int] | None = None
               ) -> CommitEffects:
    """What a commit's resolved proposals do to the roster: its Adds and Removes.
    ``removed_leaves``, when the public state's checks applied the commit, are the
    leaves it removed (Removes and SelfRemoves); without them only Removes count, so
    a SelfRemove's leaver is never among the declared removals (refused)."""
    added, refs, accounts, keys, removed = [], [], [], [], []
    for proposal in proposals:
        if isinstance(proposal, Add):
            identity = proposal.key_package.leaf_node.credential.identity
            added.append(identity_device(identity))
            refs.append(key_package_ref(proposal.key_package))
            accounts.append((identity or b"").decode().rsplit("/", 1)[0])
            keys.append(bytes(proposal.key_package.leaf_node.signature_key))
        elif isinstance(proposal, Remove):
            removed.append(proposal.removed)
    return CommitEffects(tuple(added), tuple(refs), tuple(accounts), tuple(keys),
                         tuple(removed if removed_leaves is None else removed_leaves))


def welcome_recipients(raw: bytes) -> frozenset[bytes]:
    """The KeyPackageRefs a Welcome is sealed to (RFC 9420 12.4.3.1)."""
    msg = _mls(raw, "a Welcome").message
    if not isinstance(msg, Welcome):
        raise ValidationError("not a Welcome", "RFC 9420 12.4.3.1")
    return frozenset(s.new_member for s in msg.secrets)


def same_identity(new: Credential | None, sender_identity: bytes) -> None:
    """A member's new leaf (commit path, Update) keeps its credential identity: a
    member cannot rename itself, e.g. into another user (RFC 9420 5.3.1). The rule is
    the engine's (``check_successor``); the hub knows the sender by its basic identity."""
    if new is not None:
        check_successor(Credential.basic(sender_identity), new)


def initial_state(raw: bytes, group_id: bytes, device: DeviceRecord, now_ms: int) -> bytes:
    """The public MLS state of a new group (``accord.mls.group.public``), from the
    creator's GroupInfo of epoch 0 with its ratchet tree: validated as a joiner
    validates it (RFC 9420 12.4.3.1), for this group, signed by the creator's own
    leaf, the only one in the tree (11)."""
    try:
        group, signer = public.from_group_info(raw, now_ms // 1000)
    except CryptoError as exc:
        raise ValidationError(f"the GroupInfo does not verify: {exc}", "RFC 9420 12.4.3") from None
    if group.group_id != group_id or group.epoch != 0:
        raise ValidationError("the GroupInfo is not of this group's epoch 0", "RFC 9420 11")
    leaves = list(group.tree.leaves())
    want = f"{device.account}/{device.device_id}".encode()
    if [i for i, _ in leaves] != [signer] or leaves[0][1].credential.identity != want or (
            leaves[0][1].signature_key != device.signature_key):
        raise ValidationError("a new group's only member is its creator, who signs its"
                              " GroupInfo", "RFC 9420 11")
    return group.to_bytes()


def check_proposal_public(raw: bytes, state: bytes, now_ms: int,
                          accepted: Sequence[bytes] = ()) -> None:
    """A proposal against the group's public state: signed from its sender's leaf in
    this epoch, and valid (RFC 9420 12.1: an Add's KeyPackage, an Update's leaf; a
    SelfRemove the sender's only one among the epoch's ``accepted`` proposals): an
    :class:`InvalidProposal` if not, unless its signature or the room policy refuses it."""
    group = hub_group(state)
    try:
        public.check_proposal_message(group, raw, now_ms // 1000, accepted)
    except ValidationError as exc:
        if exc.rule in NOT_INVALID_RULES or isinstance(exc, InvalidProposal):
            raise
        cause = str(exc).removesuffix(f" ({exc.rule})")
        raise InvalidProposal(cause, exc.rule,
                              [proposal_ref(raw, group.context.cipher_suite)]) from None


def check_application(raw: bytes, group_id: bytes, epoch: int) -> None:
    """A hidden-sender post must be an MLS PrivateMessage of this group and epoch (6.3).

    Only the plaintext header is read; the hub cannot and does not decrypt.
    """
    msg = _mls(raw, "an application message").message
    if not isinstance(msg, PrivateMessage):
        raise ValidationError("an application message travels in a PrivateMessage",
                              "RFC 9420 6.2")
    if msg.content_type != ContentType.APPLICATION:
        raise ValidationError("only application content is posted without a session")
    if msg.group_id != group_id or msg.epoch != epoch:
        raise ValidationError("the message is for another group or epoch", "RFC 9420 6.3")



def check_proposal(raw: bytes, group: GroupRecord, sender: str, epoch: int,
                   sender_identity: bytes) -> None:
    """A posted proposal: a PublicMessage proposal of this group and epoch, signed from
    the sender's own leaf; a Remove must name an occupied leaf (RFC 9420 12.1.3), an
    Update keep the sender's identity (5.3.1); no ReInit (see ``ends_group``)."""
    fc = _public(raw, "a proposal").content
    if fc.group_id != group.group_id or fc.epoch != epoch:
        raise ValidationError("the proposal is for another group or epoch", "RFC 9420 6.3")
    if fc.content_type != ContentType.PROPOSAL:
        raise ValidationError("not a proposal", "RFC 9420 6")
    leaf = group.leaf_of(sender)
    if fc.sender.sender_type != SenderType.MEMBER or leaf is None or fc.sender.index != leaf:
        raise ValidationError("the proposal is not signed from the sender's leaf",
                              "RFC 9420 12.1")
    if isinstance(fc.content, Remove) and fc.content.removed not in {*group.leaves,
                                                                     *group.erased}:
        raise ValidationError("the Remove names no member", "RFC 9420 12.1.3")
    if isinstance(fc.content, Update):
        same_identity(fc.content.leaf_node.credential, sender_identity)
    if isinstance(fc.content, ReInit):
        raise ValidationError("a ReInit goes by value in its commit, for the hub to close the"
                              " group (issue 18)", "Accord hub: ReInit by value (RFC 9420 12.4.2)")
