"""The epoch's Accord posting key (T11) as an application component of the signed
GroupInfo that goes with a commit (draft-ietf-mls-extensions 4.6; docs/PROTOCOL.md,
"accord-postingKey").

The committer signs the GroupInfo of the epoch its commit creates, and the hub
checks that GroupInfo against its own state after the commit
(``accord.federation.mls_check.check_group_info``), so the key a hub reads from it
is the committer's word, bound to that epoch: a provider in between cannot change
it. It cannot ride in the commit's own ``authenticated_data``: the key is exported
from the new epoch, whose secrets depend on the commit's content (RFC 9420 8).
"""

from __future__ import annotations

from accord.errors import DecodeError, ValidationError
from accord.mls.structs import GroupInfo
from accord.mls.structs.app_data import AppDataDictionary, ComponentData
from accord.mls.structs.credential import Extension
from accord.mls.structs.enums import ExtensionType

# In the private-use range of the MLS Component Types registry (0x8000-0xFFFF,
# draft-ietf-mls-extensions 7.5); Accord's, Where: GI.
POSTING_KEY = 0xAC01
KEY_LEN = 32
RULE = "docs/PROTOCOL.md accord-postingKey"


def posting_key_component(key: bytes) -> tuple[int, bytes]:
    """``(component id, data)``: the component a committer puts into the GroupInfo."""
    if len(key) != KEY_LEN:
        raise ValidationError("a posting key is 32 octets", RULE)
    return POSTING_KEY, key


def app_data_extension(components: list[tuple[int, bytes]]) -> Extension:
    """An ``app_data_dictionary`` extension holding ``components``."""
    dictionary = AppDataDictionary(tuple(ComponentData(c, d) for c, d in sorted(components)))
    return Extension(ExtensionType.APP_DATA_DICTIONARY, dictionary.to_bytes())


def posting_key_of(info: GroupInfo) -> bytes | None:
    """The posting key a GroupInfo carries, None if it carries none. A malformed
    dictionary or key is a ValidationError (422)."""
    found = [e for e in info.extensions
             if e.extension_type == ExtensionType.APP_DATA_DICTIONARY]
    if not found:
        return None
    if len(found) > 1:
        raise ValidationError("a GroupInfo has one app_data_dictionary", "RFC 9420 13.4")
    try:
        dictionary = AppDataDictionary.from_bytes(found[0].extension_data)
    except DecodeError as exc:
        raise ValidationError(f"the GroupInfo's app_data_dictionary does not decode: {exc}",
                              "draft-ietf-mls-extensions 4.6") from None
    key = dictionary.get(POSTING_KEY)
    if key is not None and len(key) != KEY_LEN:
        raise ValidationError("the GroupInfo's posting key is not 32 octets", RULE)
    return key
