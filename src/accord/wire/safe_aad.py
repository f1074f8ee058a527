"""The Safe AAD components of an Accord application message (draft-ietf-mls-extensions
4.9; docs/PROTOCOL.md "Franking (T13)" and "accord-epochTag").

Every Accord group lists ``safe_aad`` in its GroupContext, so the whole
``authenticated_data`` of each of its messages is a ``SafeAAD``
(:class:`accord.mls.structs.app_data.SafeAAD`). Accord sends two items:

- ``frank_aad`` (0x0020, draft-ietf-mimi-protocol-06 5.4.1): the sender's
  ``franking_tag = HMAC-SHA256(salt, application_data)``, the salt being the
  MIMI content's and the application data its exact bytes;
- ``accord_epoch_tag`` (0xAC02, private use, Where: AD): the sender's epoch tag
  (8 octets), which the fork monitor compares with its own (T07).

:data:`ACCORD_SAFE_AAD` is the ``safe_aad`` ComponentsList every Accord leaf
supports; :data:`ROOM_SAFE_AAD` the one every Accord room requires of its members:
``frank_aad`` only, MIMI's own, so a MIMI client that knows nothing of Accord's
epoch tag can still join. Members compare epoch tags only in a room whose every
member supports ``accord_epoch_tag`` (``accord.client.fork_check``).
"""

from __future__ import annotations

from typing import Annotated

from accord.mls.codec import Fixed, WireStruct, wire
from accord.wire.mimi_room import FRANK_AAD

__all__ = ["ACCORD_SAFE_AAD", "EPOCH_TAG", "ROOM_SAFE_AAD", "EPOCH_TAG_LEN", "FRANK_AAD", "FRANKING_TAG_LEN",
           "FrankAAD"]

# In the private-use range of the MLS Component Types registry (0x8000-0xFFFF,
# draft-ietf-mls-extensions 7.5); Accord's, Where: AD.
EPOCH_TAG = 0xAC02
EPOCH_TAG_LEN = 8
FRANKING_TAG_LEN = 32
ACCORD_SAFE_AAD = (FRANK_AAD, EPOCH_TAG)
ROOM_SAFE_AAD = (FRANK_AAD,)


@wire
class FrankAAD(WireStruct):
    """draft-ietf-mimi-protocol-06 5.4.1: ``struct { uint8 franking_tag[32]; } FrankAAD``."""

    franking_tag: Annotated[bytes, Fixed(FRANKING_TAG_LEN)]
