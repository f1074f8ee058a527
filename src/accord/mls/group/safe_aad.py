"""The Safe AAD rule of the group engine (draft-ietf-mls-extensions 4.9 and 6).

When the GroupContext's ``app_data_dictionary`` holds the ``safe_aad`` component
(even with an empty list), the whole ``authenticated_data`` of a message is a
``SafeAAD``: its items sorted by component id, one per id, and nothing after it.
The engine holds application messages to it both ways: ``protect`` refuses to send
one that is not (a ``ValidationError``: the caller's mistake), and ``process``
refuses one received (a ``ValidationError`` naming the rule; the state is left as
it was). What the items mean is the application's (Accord's are read by
``accord.privacy.franking``); the engine only checks the framing.

Handshake messages are not held to it: Accord's proposals and commits carry no
authenticated data of any component (docs/INTEROP.md, "Safe AAD").
"""

from __future__ import annotations

from accord.errors import DecodeError, ValidationError
from accord.mls.codec import decode
from accord.mls.structs import Extension, GroupContext
from accord.mls.structs.app_data import AppDataDictionary, ComponentId, SafeAAD
from accord.mls.structs.enums import ExtensionType

__all__ = ["check_safe_aad", "requires_safe_aad"]

RULE = "draft-ietf-mls-extensions 4.9"


def requires_safe_aad(extensions: tuple[Extension, ...]) -> bool:
    """Whether GroupContext ``extensions`` list the ``safe_aad`` component (6)."""
    for ext in extensions:
        if ext.extension_type == ExtensionType.APP_DATA_DICTIONARY:
            dictionary: AppDataDictionary = decode(AppDataDictionary, ext.extension_data)
            return dictionary.get(ComponentId.SAFE_AAD) is not None
    return False


def check_safe_aad(context: GroupContext, authenticated_data: bytes, where: str) -> None:
    """Raise ``ValidationError`` unless ``authenticated_data`` is a well-formed
    ``SafeAAD`` in a group whose ``context`` requires one (4.9)."""
    if not requires_safe_aad(tuple(context.extensions)):
        return
    try:
        SafeAAD.from_bytes(bytes(authenticated_data))
    except DecodeError as exc:
        raise ValidationError(f"{where}: the authenticated data is not a well-formed "
                              f"SafeAAD ({exc})", RULE) from None
