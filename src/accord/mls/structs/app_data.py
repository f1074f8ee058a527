"""Application data of draft-ietf-mls-extensions: the AppDataDictionary (section 4.6,
the ``app_data_dictionary`` extension), the AppDataUpdate proposal (4.7), the Safe
AAD framing of ``authenticated_data`` (4.9) and the empty SelfRemove proposal (5.3),
each declared once.

MIMI (draft-ietf-mimi-protocol-06) borrows the dictionary's syntax for the
extension points of its messages (``consent_extensions``, ``id_request_extensions``
...) and keeps its room state in components of the GroupContext's dictionary.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated

from accord.errors import DecodeError
from accord.mls.codec import U16, OneOf, Uint, When, WireStruct, wire

__all__ = [
    "AppDataDictionary",
    "AppDataUpdate",
    "AppDataUpdateOperation",
    "ComponentData",
    "ComponentId",
    "ComponentsList",
    "SafeAAD",
    "SafeAADItem",
    "SelfRemove",
]


class ComponentId(IntEnum):
    """The MLS Component Types registry as draft-ietf-mls-extensions fills it (IANA)."""

    APP_COMPONENTS = 0x0001
    SAFE_AAD = 0x0002
    CONTENT_MEDIA_TYPES = 0x0003
    LAST_RESORT_KEY_PACKAGE = 0x0004
    APP_ACK = 0x0005


class AppDataUpdateOperation(IntEnum):
    UPDATE = 1
    REMOVE = 2


@wire
class ComponentData(WireStruct):
    component_id: U16
    data: bytes


@wire
class AppDataDictionary(WireStruct):
    component_data: tuple[ComponentData, ...] = ()

    def __post_init__(self) -> None:
        # draft-ietf-mls-extensions 4.6: sorted by component_id, at most one each.
        ids = [c.component_id for c in self.component_data]
        if any(a >= b for a, b in zip(ids, ids[1:], strict=False)):
            raise DecodeError("AppDataDictionary entries must be sorted by component_id, "
                              "one per id (draft-ietf-mls-extensions 4.6)")

    def get(self, component_id: int) -> bytes | None:
        """The data of ``component_id``, None when the dictionary has none."""
        for c in self.component_data:
            if c.component_id == component_id:
                return c.data
        return None

    def with_data(self, component_id: int, data: bytes | None) -> AppDataDictionary:
        """A copy with the entry of ``component_id`` set to ``data`` (None: removed),
        kept sorted (4.7)."""
        rest = [c for c in self.component_data if c.component_id != component_id]
        if data is not None:
            rest.append(ComponentData(component_id, data))
        return AppDataDictionary(tuple(sorted(rest, key=lambda c: c.component_id)))


@wire
class SafeAADItem(WireStruct):
    component_id: U16
    aad_item_data: bytes


@wire
class SafeAAD(WireStruct):
    """draft-ietf-mls-extensions 4.9: the whole ``authenticated_data`` of a message in a
    group whose GroupContext lists the ``safe_aad`` component; the items sorted by
    ``component_id`` (one each, as the dictionary's entries: an id twice would be
    ambiguous), none at all when no component has data to send."""

    aad_items: tuple[SafeAADItem, ...] = ()

    def __post_init__(self) -> None:
        ids = [i.component_id for i in self.aad_items]
        if any(a >= b for a, b in zip(ids, ids[1:], strict=False)):
            raise DecodeError("SafeAAD items must be sorted by component_id, one per id "
                              "(draft-ietf-mls-extensions 4.9)")

    def get(self, component_id: int) -> bytes | None:
        """The item data of ``component_id``, None when the message has none."""
        for i in self.aad_items:
            if i.component_id == component_id:
                return i.aad_item_data
        return None

    @classmethod
    def of(cls, items: dict[int, bytes]) -> SafeAAD:
        """The framing of ``items`` (component id -> data), sorted as 4.9 requires."""
        return cls(tuple(SafeAADItem(c, d) for c, d in sorted(items.items())))


@wire
class ComponentsList(WireStruct):
    """draft-ietf-mls-extensions 6 (negotiation): the data of ``app_components`` and
    ``safe_aad``; in a LeafNode the components its client supports, in the
    GroupContext those every member must support."""

    component_ids: tuple[U16, ...] = ()


@wire
class AppDataUpdate(WireStruct):
    """draft-ietf-mls-extensions 4.7: ``update`` carries the component's update,
    ``remove`` (op 2) drops its state; op 0 (invalid) does not decode."""

    component_id: U16
    op: Annotated[int, Uint(1), OneOf(1, 2)]
    update: Annotated[bytes | None, When("op", (1,), bytes)] = None

    @classmethod
    def of(cls, component_id: int, update: bytes) -> AppDataUpdate:
        return cls(component_id, AppDataUpdateOperation.UPDATE, update)

    @classmethod
    def removing(cls, component_id: int) -> AppDataUpdate:
        return cls(component_id, AppDataUpdateOperation.REMOVE, None)


@wire
class SelfRemove(WireStruct):
    """draft-ietf-mls-extensions 5.3: ``struct {} SelfRemove``; the leaf it removes is
    its sender's."""
