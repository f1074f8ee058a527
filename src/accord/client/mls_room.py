"""MIMI room state in Accord's groups (draft-ietf-mimi-protocol-06 3.1-3.5, 7.5, 7.6),
for the client's MLS engine (``accord.client.mls_rfc``).

- Every leaf Accord makes advertises what the room state needs
  (draft-ietf-mls-extensions): the ``app_data_dictionary`` extension (6), the
  AppDataUpdate (8) and SelfRemove (10) proposals, and, in the leaf's own
  dictionary, ``app_components`` listing itself, ``participant_list`` and
  ``room_metadata``, and ``safe_aad`` listing ``frank_aad`` and
  ``accord_epoch_tag`` (``accord.wire.safe_aad``).
- A room is created (3.1) with a GroupContext that requires them
  (``required_capabilities``; ``app_components`` and ``safe_aad`` in its
  dictionary, so every application message's authenticated data is a SafeAAD from
  epoch 0, draft-ietf-mls-extensions 4.9; the room requires ``frank_aad`` only,
  ``ROOM_SAFE_AAD``, so a MIMI client without Accord's epoch tag may join) and holds the
  participant_list, the creator's user as admin, and the room_metadata with its URI:
  the room state exists from epoch 0. Not its name, nor anything else a person
  wrote: the hub reads the GroupContext (T02); names travel in members' notices.
- The room's hub, the creator's provider, is its franking agent (5.4.1): the
  GroupContext's ``franking_agent`` component holds the provider's Ed25519 key and
  a basic credential naming its domain, for a suite that signs with Ed25519.
- A commit changing whose clients are members changes the list with it
  (:func:`roster_changes`, 3.2 and 3.5): a user whose client is added is listed, a
  user removed is unlisted, by the committer or by the leaver's own proposal.

Groups without a participant_list (made before, or by a ReInit) keep Accord's own
room policy only; ``mimi_room.room_config`` binds those with one (``CONFIG``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from accord.mls.leaf_node import make_capabilities
from accord.mls.structs import (
    AppDataUpdate,
    Capabilities,
    Credential,
    Extension,
    RequiredCapabilities,
)
from accord.mls.structs.app_data import AppDataDictionary, ComponentId, ComponentsList
from accord.mls.structs.enums import ExtensionType, ProposalType
from accord.wire import mimi_room as r
from accord.wire.mimi import mimi_user_uri
from accord.wire.safe_aad import ACCORD_SAFE_AAD, ROOM_SAFE_AAD

__all__ = [
    "CONFIG",
    "account_user",
    "capabilities",
    "group_extensions",
    "leaf_extensions",
    "own_unlisting",
    "participants",
    "roster_changes",
    "user_of",
]

CONFIG = r.room_config()
COMPONENTS = (r.PARTICIPANT_LIST, r.ROOM_METADATA)
_EXTENSIONS = (ExtensionType.APP_DATA_DICTIONARY,)
_PROPOSALS = (ProposalType.APP_DATA_UPDATE, ProposalType.SELF_REMOVE)


def account_user(account: str) -> bytes:
    """The user URI of an account ``user@domain`` (``mimi://domain/u/user``)."""
    return mimi_user_uri(account).encode()


def user_of(identity: bytes) -> bytes | None:
    """The participant (user URI) a member identity ``account/device_id`` is a client of."""
    return r.member_user(Credential.basic(identity))


def capabilities(suite: int) -> Capabilities:
    return make_capabilities(suite, extensions=_EXTENSIONS, proposals=_PROPOSALS)


def _components() -> bytes:
    return ComponentsList(COMPONENTS).to_bytes()


def _safe_aad(ids: tuple[int, ...] = ACCORD_SAFE_AAD) -> bytes:
    return ComponentsList(ids).to_bytes()


def leaf_extensions() -> tuple[Extension, ...]:
    """A leaf's ``app_data_dictionary`` advertising the components it supports:
    ``app_components`` itself too (draft-ietf-mls-extensions 4.6: a client supporting
    the dictionary advertises it), and the room's; and the Safe AAD components."""
    supported = ComponentsList((ComponentId.APP_COMPONENTS, *COMPONENTS)).to_bytes()
    data = (AppDataDictionary().with_data(ComponentId.APP_COMPONENTS, supported)
            .with_data(ComponentId.SAFE_AAD, _safe_aad()))
    return (Extension(ExtensionType.APP_DATA_DICTIONARY, data.to_bytes()),)


def group_extensions(creator: bytes, room_uri: str, franking_agent: bytes | None = None
                     ) -> tuple[Extension, ...]:
    """The GroupContext extensions of a new room (3.1): what every member must support,
    the room state with the ``creator`` (identity) as admin and, given, the hub's
    ``franking_agent`` (an encoded FrankingAgentData, 5.4.1, component 0x0021)."""
    creator_user = user_of(creator)
    assert creator_user is not None  # our own identity has the wire syntax
    required = RequiredCapabilities(_EXTENSIONS, _PROPOSALS, ())
    plist = r.ParticipantListData((r.UserRolePair(creator_user, r.ROLE_ADMIN),))
    meta = r.RoomMetaData(room_uri=r.Uri(room_uri.encode()))
    data = (AppDataDictionary()
            .with_data(ComponentId.APP_COMPONENTS, _components())
            .with_data(ComponentId.SAFE_AAD, _safe_aad(ROOM_SAFE_AAD))
            .with_data(r.PARTICIPANT_LIST, plist.to_bytes())
            .with_data(r.ROOM_METADATA, meta.to_bytes())
            .with_data(r.FRANKING_SIGNATURE_KEY, franking_agent))
    return (Extension(ExtensionType.REQUIRED_CAPABILITIES, required.to_bytes()),
            Extension(ExtensionType.APP_DATA_DICTIONARY, data.to_bytes()))


def participants(dictionary: AppDataDictionary) -> r.ParticipantListData | None:
    """The room's participant list; None for a group without one."""
    if dictionary.get(r.PARTICIPANT_LIST) is None:
        return None
    return r.room_state(dictionary)[0]


def own_unlisting(plist: r.ParticipantListData, proposer: bytes,
                  update: AppDataUpdate) -> bytes | None:
    """The user a proposal removes from the list if it is its proposer's own removal
    and nothing else (a leaver's, 3.5); None otherwise."""
    if update.component_id != r.PARTICIPANT_LIST or update.update is None:
        return None
    change = r.ParticipantListUpdate.from_bytes(update.update)
    user = user_of(proposer)
    if (change.changed_role_participants or change.added_participants
            or len(change.removed_indices) != 1 or user is None):
        return None
    i = change.removed_indices[0]
    listed = plist.participants[i].user if i < len(plist.participants) else None
    return user if listed == user else None


def roster_changes(plist: r.ParticipantListData, *, added: Sequence[bytes],
                   unlist: Collection[bytes] = (),
                   unlisted: Collection[bytes] = (),
                   roles: Mapping[bytes, int] | None = None) -> list[AppDataUpdate]:
    """The participant_list update a commit carries (3.2, 3.5): each user of an
    ``added`` client not listed is added (the policy's default role); the users
    ``unlist`` are removed unless ``unlisted`` by a leaver's own proposal the commit
    refers to (the group's members rule, ``mimi_room.check_members``, refuses the
    commit if one keeps a client); ``roles`` are set. Empty when nothing changes."""
    listed = {p.user for p in plist.participants}
    new: list[tuple[bytes, int]] = []
    for identity in added:
        user = user_of(identity)
        if user is not None and user not in listed and user not in dict(new):
            new.append((user, r.DEFAULT_POLICY.default_role))
    gone = [u for u in dict.fromkeys(unlist) if u in listed and u not in unlisted]
    set_role = {u: role for u, role in (roles or {}).items()
                if u in listed and u not in gone and plist.role_of(u) != role}
    if not (new or gone or set_role):
        return []
    return [r.participant_change(plist, add=new, remove=gone, set_role=set_role)]
