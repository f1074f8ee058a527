"""MIMI room state inside MLS (draft-ietf-mimi-protocol-06 7.2, 7.5, 7.6, 10): the
``participant_list`` and ``room_metadata`` components of the GroupContext's
``app_data_dictionary`` (draft-ietf-mls-extensions 4.6), changed by AppDataUpdate
proposals (4.7), and the room policy that authorizes each change.

Structures are declared as the draft writes them. The pure functions build a
change (:func:`participant_change`, :func:`metadata_change`) and apply one
(:func:`apply_participant_update`); :func:`components` gives the MLS group engine
the two components (``GroupConfig(components=...)``), which apply every update of a
commit and refuse the commit when a change is malformed or not allowed to its
proposer.

The roles and their permissions are draft-ietf-mimi-room-policy's, which is not in
Accord's reference set; Accord decides (docs/INTEROP.md, "MIMI room state"):

- role indices as in the draft's figure 9: 1 banned, 2 member, 3 moderator,
  4 admin (:data:`DEFAULT_POLICY`); a role the policy does not define is invalid;
  a member may add users (the draft's 3.3, where Bob adds Cathy, and Accord's
  rule that any member invites), a moderator also remove them, an admin also set
  roles and change the metadata;
- a proposer acts with the role it has when the commit starts, found by
  ``user_of`` (its credential to its user URI; None, e.g. for a provider's
  external-sender credential: no role, so no change is allowed);
- adding a user needs ``add_user``, and ``set_role`` as well unless the new user
  gets the policy's ``default_role``; removing another user needs ``remove_user``
  (anyone may remove themselves: leaving); changing a role needs ``set_role``;
  changing the metadata needs ``change_metadata``;
- the draft's rule that one commit touches a user at most once holds across all
  the participant_list updates of the commit; one room_metadata update per commit;
- a room's MLS members are clients of its participants (3.2: a user is added to
  the list in the commit that adds her clients; 3.5: removed from it in the commit
  that removes them): in a group with a participant_list, every member of every
  epoch names a listed user (:func:`check_members`, the group engine's members
  rule, for the hub and the clients alike). A listed user with no client is
  allowed (7.5: inactive participants).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence

from accord.errors import DecodeError, ValidationError
from accord.mls.codec import U32, WireStruct, wire
from accord.mls.components import Component, ComponentUpdate
from accord.mls.group.state import GroupConfig
from accord.mls.structs import AppDataUpdate, Credential
from accord.mls.structs.app_data import AppDataDictionary
from accord.wire.mimi_uri import mimi_user_uri

__all__ = [
    "ADD_USER",
    "CHANGE_METADATA",
    "DEFAULT_POLICY",
    "FRANKING_SIGNATURE_KEY",
    "FRANK_AAD",
    "PARTICIPANT_LIST",
    "REMOVE_USER",
    "ROLE_ADMIN",
    "ROLE_BANNED",
    "ROLE_MEMBER",
    "ROLE_MODERATOR",
    "ROOM_METADATA",
    "SET_ROLE",
    "ParticipantListData",
    "ParticipantListUpdate",
    "RichDescription",
    "RoomMetaData",
    "RoomPolicy",
    "UTF8String",
    "Uri",
    "UserRolePair",
    "UserindexRolePair",
    "apply_participant_update",
    "check_members",
    "components",
    "member_user",
    "metadata_change",
    "participant_change",
    "room_config",
    "room_state",
]

RULE = "draft-ietf-mimi-protocol-06 7.5"
RULE_META = "draft-ietf-mimi-protocol-06 7.6"
RULE_POLICY = "MIMI room policy (docs/INTEROP.md)"
RULE_MEMBERS = "draft-ietf-mimi-protocol-06 3.2, 3.5, 7.5"

# MLS component ids the draft registers (section 10).
FRANK_AAD = 0x0020
FRANKING_SIGNATURE_KEY = 0x0021
PARTICIPANT_LIST = 0x0022
ROOM_METADATA = 0x0023


@wire
class UserRolePair(WireStruct):
    user: bytes
    role_index: U32


@wire
class ParticipantListData(WireStruct):
    participants: tuple[UserRolePair, ...] = ()

    def __post_init__(self) -> None:
        users = [p.user for p in self.participants]
        if len(set(users)) != len(users):
            raise DecodeError(f"a user appears twice in the participant list ({RULE})")

    def index_of(self, user: bytes) -> int | None:
        for i, p in enumerate(self.participants):
            if p.user == user:
                return i
        return None

    def role_of(self, user: bytes) -> int | None:
        i = self.index_of(user)
        return None if i is None else self.participants[i].role_index


@wire
class UserindexRolePair(WireStruct):
    user_index: U32
    role_index: U32


@wire
class ParticipantListUpdate(WireStruct):
    changed_role_participants: tuple[UserindexRolePair, ...] = ()
    removed_indices: tuple[U32, ...] = ()
    added_participants: tuple[UserRolePair, ...] = ()


@wire
class Uri(WireStruct):
    uri: bytes = b""


@wire
class UTF8String(WireStruct):
    """7.6: "a sequence of valid UTF8 without nulls"."""

    string: bytes = b""

    def __post_init__(self) -> None:
        try:
            text = self.string.decode()
        except UnicodeDecodeError:
            raise DecodeError(f"a UTF8String is not UTF-8 ({RULE_META})") from None
        if "\x00" in text:
            raise DecodeError(f"a UTF8String holds a null ({RULE_META})")


@wire
class RichDescription(WireStruct):
    media_type: bytes  # empty: text/plain;charset=utf-8
    language_tag: bytes
    description_content: bytes


@wire
class RoomMetaData(WireStruct):
    room_uri: Uri = Uri()
    room_name: UTF8String = UTF8String()
    room_descriptions: tuple[RichDescription, ...] = ()
    room_avatar: Uri = Uri()
    room_subject: UTF8String = UTF8String()
    room_mood: UTF8String = UTF8String()


# --------------------------------------------------------------------------
# Changes


def apply_participant_update(
    current: ParticipantListData, update: ParticipantListUpdate
) -> ParticipantListData:
    """7.5: role changes by index, then removals by index, then additions at the end;
    indices name the list as it was. ``ValidationError`` if an index is out of range,
    a user is touched twice, or an added user is already listed."""
    n = len(current.participants)
    changed = [c.user_index for c in update.changed_role_participants]
    touched = changed + list(update.removed_indices)
    if any(i >= n for i in touched):
        raise ValidationError("a participant index is out of range", RULE)
    if len(set(touched)) != len(touched):
        raise ValidationError("a participant is changed twice in one update", RULE)
    roles = {c.user_index: c.role_index for c in update.changed_role_participants}
    removed = set(update.removed_indices)
    kept = [UserRolePair(p.user, roles.get(i, p.role_index))
            for i, p in enumerate(current.participants) if i not in removed]
    listed = {p.user for p in current.participants}
    for p in update.added_participants:
        if p.user in listed:
            raise ValidationError("an added user is already a participant", RULE)
        listed.add(p.user)
    return ParticipantListData(tuple(kept) + tuple(update.added_participants))


def participant_change(
    current: ParticipantListData, *, add: Sequence[tuple[bytes, int]] = (),
    remove: Collection[bytes] = (), set_role: Mapping[bytes, int] | None = None,
) -> AppDataUpdate:
    """The AppDataUpdate proposal that adds ``add`` (user, role) pairs, removes the
    users ``remove`` and gives the users of ``set_role`` new roles (7.5)."""
    def index(user: bytes) -> int:
        i = current.index_of(user)
        if i is None:
            raise ValidationError("not a participant of the room", RULE)
        return i

    update = ParticipantListUpdate(
        tuple(UserindexRolePair(index(u), r) for u, r in (set_role or {}).items()),
        tuple(sorted(index(u) for u in remove)),
        tuple(UserRolePair(u, r) for u, r in add),
    )
    apply_participant_update(current, update)  # refuse what the receivers would
    return AppDataUpdate.of(PARTICIPANT_LIST, update.to_bytes())


def metadata_change(metadata: RoomMetaData) -> AppDataUpdate:
    """7.6: the update is the whole new RoomMetaData."""
    return AppDataUpdate.of(ROOM_METADATA, metadata.to_bytes())


# --------------------------------------------------------------------------
# Room policy and the components

ROLE_BANNED = 1
ROLE_MEMBER = 2
ROLE_MODERATOR = 3
ROLE_ADMIN = 4
ADD_USER = "add_user"
REMOVE_USER = "remove_user"
SET_ROLE = "set_role"
CHANGE_METADATA = "change_metadata"


@dataclasses.dataclass(frozen=True, slots=True)
class RoomPolicy:
    """Roles (by index) and their permissions; ``default_role`` is the role any user
    with ``add_user`` may give a new participant."""

    roles: Mapping[int, frozenset[str]]
    default_role: int = ROLE_MEMBER

    def check_role(self, role: int) -> None:
        if role not in self.roles:
            raise ValidationError(f"role {role} is not defined by the room policy", RULE_POLICY)

    def require(self, role: int | None, permission: str) -> None:
        if role is None or permission not in self.roles.get(role, frozenset()):
            raise ValidationError(f"the proposer's role may not {permission.replace('_', ' ')}",
                                  RULE_POLICY)


DEFAULT_POLICY = RoomPolicy({
    ROLE_BANNED: frozenset(),
    ROLE_MEMBER: frozenset({ADD_USER}),  # 3.3: Bob, added by Alice, adds Cathy
    ROLE_MODERATOR: frozenset({ADD_USER, REMOVE_USER}),
    ROLE_ADMIN: frozenset({ADD_USER, REMOVE_USER, SET_ROLE, CHANGE_METADATA}),
})

UserOf = Callable[[Credential | None], bytes | None]


def _participants(data: bytes | None) -> ParticipantListData:
    return ParticipantListData() if data is None else ParticipantListData.from_bytes(data)


def _role(before: AppDataDictionary, user_of: UserOf, update: ComponentUpdate) -> int | None:
    """The proposer's role when the commit starts (None: not a participant)."""
    user = user_of(update.credential)
    return None if user is None else _participants(before.get(PARTICIPANT_LIST)).role_of(user)


@dataclasses.dataclass(frozen=True, slots=True)
class ParticipantList:
    """The participant_list component: applies the updates of a commit in order,
    each authorized by the proposer's role when the commit starts."""

    policy: RoomPolicy
    user_of: UserOf

    def apply(self, current: bytes | None, updates: Sequence[ComponentUpdate],
              before: AppDataDictionary) -> bytes:
        state = _participants(current)
        seen: set[bytes] = set()
        for u in updates:
            update = ParticipantListUpdate.from_bytes(u.data)
            users = self._authorize(state, update, self.user_of(u.credential),
                                    _role(before, self.user_of, u))
            if seen & users:
                raise ValidationError("one commit changes a participant twice", RULE)
            seen |= users
            state = apply_participant_update(state, update)
        return state.to_bytes()

    def _authorize(self, state: ParticipantListData, update: ParticipantListUpdate,
                   proposer: bytes | None, role: int | None) -> set[bytes]:
        """Check each change against the policy; the users it touches."""
        n = len(state.participants)
        users: set[bytes] = set()
        for c in update.changed_role_participants:
            self.policy.check_role(c.role_index)
            self.policy.require(role, SET_ROLE)
            if c.user_index < n:
                users.add(state.participants[c.user_index].user)
        for i in update.removed_indices:
            user = state.participants[i].user if i < n else None
            if user is None or user != proposer:
                self.policy.require(role, REMOVE_USER)
            if user is not None:
                users.add(user)
        for p in update.added_participants:
            self.policy.check_role(p.role_index)
            self.policy.require(role, ADD_USER)
            if p.role_index != self.policy.default_role:
                self.policy.require(role, SET_ROLE)
            users.add(p.user)
        return users


@dataclasses.dataclass(frozen=True, slots=True)
class RoomMetadata:
    """The room_metadata component: one update per commit, which replaces the data."""

    policy: RoomPolicy
    user_of: UserOf

    def apply(self, current: bytes | None, updates: Sequence[ComponentUpdate],
              before: AppDataDictionary) -> bytes:
        if len(updates) != 1:
            raise ValidationError("more than one room metadata update in a commit", RULE_META)
        self.policy.require(_role(before, self.user_of, updates[0]), CHANGE_METADATA)
        return RoomMetaData.from_bytes(updates[0].data).to_bytes()


def components(policy: RoomPolicy, user_of: UserOf) -> dict[int, Component]:
    """The MIMI room-state components for ``GroupConfig(components=...)``."""
    return {PARTICIPANT_LIST: ParticipantList(policy, user_of),
            ROOM_METADATA: RoomMetadata(policy, user_of)}


def room_state(dictionary: AppDataDictionary) -> tuple[ParticipantListData, RoomMetaData]:
    """The participant list and metadata a GroupContext's dictionary holds (empty when
    absent)."""
    meta = dictionary.get(ROOM_METADATA)
    return (_participants(dictionary.get(PARTICIPANT_LIST)),
            RoomMetaData() if meta is None else RoomMetaData.from_bytes(meta))


def member_user(credential: Credential | None) -> bytes | None:
    """The MIMI user URI a member's basic credential ``account/device_id`` acts for in
    the room state (``mimi://DOMAIN/u/USER``); None for any other credential."""
    if credential is None or credential.identity is None:
        return None
    try:
        account, device = credential.identity.decode().rsplit("/", 1)
    except (UnicodeDecodeError, ValueError):
        return None
    if "@" not in account or not device:
        return None
    return mimi_user_uri(account).encode()


def check_members(dictionary: AppDataDictionary, members: Sequence[Credential],
                  user_of: UserOf = member_user) -> None:
    """A room's members are clients of its participants: with a participant_list,
    every member (its credential) names a listed user, so a commit adding a client
    of an unlisted user, or unlisting a user whose clients stay, is invalid."""
    data = dictionary.get(PARTICIPANT_LIST)
    if data is None:
        return
    listed = {p.user for p in _participants(data).participants}
    for credential in members:
        if user_of(credential) not in listed:
            raise ValidationError("a member is not a client of a participant of the room",
                                  RULE_MEMBERS)


def room_config(policy: RoomPolicy = DEFAULT_POLICY, user_of: UserOf = member_user
                ) -> GroupConfig:
    """A ``GroupConfig`` that holds a group to the MIMI room state: the two components
    and :func:`check_members` (other settings: ``dataclasses.replace``)."""
    def members_rule(dictionary: AppDataDictionary, members: Sequence[Credential]) -> None:
        check_members(dictionary, members, user_of)

    return GroupConfig(components=components(policy, user_of), members_rule=members_rule)
