"""Application components (draft-ietf-mls-extensions 4): what an application registers
with the group engine to own the data of one component of the GroupContext's
``app_data_dictionary``.

The engine knows no component's format. For each component an AppDataUpdate
proposal names, it hands the component's current data and the updates of the commit
(in commit order, each with who proposed it), and the whole dictionary as the commit
found it (a component may consult another's state, e.g. a role), to the ``Component``
registered for that id in ``GroupConfig.components``; the component returns the new data or raises
``ValidationError`` (4.7: "an indication that it considers this update invalid"),
and the whole commit is then invalid. A component id with nothing registered is
"not known to the application": its proposals are invalid.

Beside its components, an application may bind the dictionary to the members
(``GroupConfig.members_rule``, a ``MembersRule``): after a commit's proposals are
applied, it sees the new dictionary and the credential of every member of the new
epoch (an external commit's joiner included) and raises ``ValidationError`` to
refuse the commit; e.g. MIMI's rule that every member is a client of a listed
participant (``accord.wire.mimi_room``).

A component (and a members rule) must be a pure function of its arguments: every member, and the
delivery service keeping the public state, runs it on the same input and must get
the same output, or their GroupContexts (and so their epoch secrets) diverge.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from accord.mls.structs import Credential, Sender
from accord.mls.structs.app_data import AppDataDictionary

__all__ = ["Component", "ComponentUpdate", "MembersRule"]


@dataclasses.dataclass(frozen=True, slots=True)
class ComponentUpdate:
    """One AppDataUpdate ``update`` for a component, and who proposed it."""

    data: bytes
    sender: Sender
    # The proposer's credential: a member's leaf credential, an external
    # sender's from the external_senders extension; None for the new member of
    # an external commit (its leaf is not in the tree when proposals apply).
    credential: Credential | None


class Component(Protocol):
    def apply(self, current: bytes | None, updates: Sequence[ComponentUpdate],
              before: AppDataDictionary) -> bytes:
        """The component's new data after ``updates`` (in commit order) on ``current``
        (None: no entry yet); ``before`` is the dictionary before the commit's
        AppDataUpdates. Raises ``ValidationError`` when the updates are invalid."""
        ...


class MembersRule(Protocol):
    def __call__(self, dictionary: AppDataDictionary, members: Sequence[Credential]) -> None:
        """Refuse (``ValidationError``) a new epoch whose ``members`` (their
        credentials) do not fit its app data ``dictionary``."""
        ...
