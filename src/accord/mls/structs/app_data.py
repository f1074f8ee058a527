"""The AppDataDictionary of draft-ietf-mls-extensions section 4.6 (app_data_dictionary).

MIMI (draft-ietf-mimi-protocol-06) borrows its syntax for the extension points
of its messages (``consent_extensions``, ``id_request_extensions`` ...).
"""

from __future__ import annotations

from accord.errors import DecodeError
from accord.mls.codec import U16, WireStruct, wire


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
