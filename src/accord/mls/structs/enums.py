"""Registry values of RFC 9420 (section 17) used on the wire."""

from __future__ import annotations

from enum import IntEnum


class ProtocolVersion(IntEnum):
    MLS10 = 1


class ContentType(IntEnum):
    APPLICATION = 1
    PROPOSAL = 2
    COMMIT = 3


class SenderType(IntEnum):
    MEMBER = 1
    EXTERNAL = 2
    NEW_MEMBER_PROPOSAL = 3
    NEW_MEMBER_COMMIT = 4


class WireFormat(IntEnum):
    PUBLIC_MESSAGE = 1
    PRIVATE_MESSAGE = 2
    WELCOME = 3
    GROUP_INFO = 4
    KEY_PACKAGE = 5


class ProposalType(IntEnum):
    ADD = 1
    UPDATE = 2
    REMOVE = 3
    PSK = 4
    REINIT = 5
    EXTERNAL_INIT = 6
    GROUP_CONTEXT_EXTENSIONS = 7
    # draft-ietf-mls-extensions, IANA considerations (suggested values).
    APP_DATA_UPDATE = 8
    SELF_REMOVE = 0x000A


class ExtensionType(IntEnum):
    APPLICATION_ID = 1
    RATCHET_TREE = 2
    REQUIRED_CAPABILITIES = 3
    EXTERNAL_PUB = 4
    EXTERNAL_SENDERS = 5
    # draft-ietf-mls-extensions, IANA considerations (suggested value).
    APP_DATA_DICTIONARY = 6


class CredentialType(IntEnum):
    BASIC = 1
    X509 = 2


class LeafNodeSource(IntEnum):
    KEY_PACKAGE = 1
    UPDATE = 2
    COMMIT = 3


class NodeType(IntEnum):
    LEAF = 1
    PARENT = 2


class PSKType(IntEnum):
    EXTERNAL = 1
    RESUMPTION = 2


class ResumptionPSKUsage(IntEnum):
    APPLICATION = 1
    REINIT = 2
    BRANCH = 3


# RFC 9420 13.5: GREASE values are 0x?A?A; a receiver must ignore them.
GREASE_VALUES = frozenset(0x0A0A + 0x1010 * i for i in range(15))


def is_grease(value: int) -> bool:
    return value in GREASE_VALUES


# Proposal types that every client supports by default (RFC 9420 7.2).
DEFAULT_PROPOSAL_TYPES = frozenset(range(1, 8))
# Extension types every client supports by default (RFC 9420 7.2).
DEFAULT_EXTENSION_TYPES = frozenset(range(1, 6))
