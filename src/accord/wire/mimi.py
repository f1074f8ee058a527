"""The request and response bodies of the MIMI protocol (draft-ietf-mimi-protocol-06,
section 5), each declared once in the TLS presentation language (``accord.mls.codec``).

Every ``select (protocol)`` of the draft has the one case ``mls10(1)``: the
``protocol`` field is restricted to it (another value is a ``DecodeError``,
since the layout after it would be unknown) and the mls10 fields follow
unconditionally. Where the draft leaves a type open Accord decides, as
docs/INTEROP.md ("MIMI transport") lists:

- ``RoomId`` is an ``IdentifierUri`` (5.7 uses it undefined);
- ``string`` (5.3, 5.8) is ``opaque<V>`` holding UTF-8;
- ``GroupInfoRequest.joiningCode`` is ``optional<opaque<V>>`` in the request as
  in its TBS (5.6 has it optional in one, plain in the other), so the signed
  bytes are the request's prefix;
- ``GroupInfoOption`` carries the ``full`` representation only and
  ``RatchetTreeOption`` (draft-mahy-mls-ratchet-tree-options, not in the
  reference set) only ``full`` (1): the whole tree; other representations
  are refused as undecodable;
- ``FanoutMessage`` selects on the message: a PrivateMessage or PublicMessage
  by its content type (application: ``optional<Frank>``; proposal or commit:
  ``MLSMessage<V>``), a Welcome (wire format 3) by ``RatchetTreeOption``.

A field that is an ``optional`` inside a ``select`` is carried by a one-field
struct (``MaybeFrank``, ``MaybeCapabilities``): its encoding is exactly the
``optional<T>`` of the draft.

The directory (5.1) is JSON: :data:`ENDPOINTS` names its keys and sections.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from accord.errors import DecodeError
from accord.mls.codec import U8, U16, U64, Fixed, OneOf, Uint, When, WireStruct, wire
from accord.mls.structs import (
    Capabilities,
    Credential,
    ExternalSender,
    GroupInfo,
    KeyPackage,
    MLSMessage,
    RequiredCapabilities,
    Welcome,
)
from accord.mls.structs.app_data import AppDataDictionary
from accord.mls.structs.tree_nodes import HPKECiphertext, RatchetTree
from accord.wire.mimi_uri import (  # the URIs of section 3, re-exported (used as w.*)
    account_of_user_uri as account_of_user_uri,
)
from accord.wire.mimi_uri import (
    client_of_uri as client_of_uri,
)
from accord.wire.mimi_uri import (
    group_of_uri as group_of_uri,
)
from accord.wire.mimi_uri import (
    mimi_client_uri as mimi_client_uri,
)
from accord.wire.mimi_uri import (
    mimi_group_uri as mimi_group_uri,
)
from accord.wire.mimi_uri import (
    mimi_provider_uri as mimi_provider_uri,
)
from accord.wire.mimi_uri import (
    mimi_room_uri as mimi_room_uri,
)
from accord.wire.mimi_uri import (
    mimi_user_uri as mimi_user_uri,
)
from accord.wire.mimi_uri import (
    room_of_uri as room_of_uri,
)

MLS10 = 1
Protocol = Annotated[int, Uint(1), OneOf(MLS10)]


@wire
class IdentifierUri(WireStruct):
    uri: bytes

    @classmethod
    def of(cls, text: str) -> IdentifierUri:
        return cls(text.encode())

    def text(self) -> str:
        try:
            return self.uri.decode()
        except UnicodeDecodeError:
            raise DecodeError("an IdentifierUri is not UTF-8") from None


RoomId = IdentifierUri


# -------------------------------------------------------------------- 5.2 key material

@wire
class KeyMaterialRequest(WireStruct):
    protocol: Protocol
    requesting_user: IdentifierUri
    target_user: IdentifierUri
    room_id: IdentifierUri
    acceptable_ciphersuites: tuple[U16, ...]
    required_capabilities: RequiredCapabilities
    requester_signature_key: bytes
    requester_credential: Credential
    # SignWithLabel(requester_signature_key, "KeyMaterialRequestTBS", tbs())
    key_material_request_signature: bytes

    SIGN_LABEL = "KeyMaterialRequestTBS"

    def tbs(self) -> bytes:
        """KeyMaterialRequestTBS: every field before the signature, as 5.2 lists them."""
        return self.encode_before("key_material_request_signature")


class KeyMaterialUserCode:
    SUCCESS, PARTIAL_SUCCESS, INCOMPATIBLE_PROTOCOL, NO_COMPATIBLE_MATERIAL = 0, 1, 2, 3
    USER_UNKNOWN, NO_CONSENT, NO_CONSENT_FOR_THIS_ROOM, USER_DELETED = 4, 5, 6, 7


class KeyMaterialClientCode:
    SUCCESS, KEY_MATERIAL_EXHAUSTED, NOTHING_COMPATIBLE = 0, 1, 2


@wire
class MaybeCapabilities(WireStruct):
    capabilities: Capabilities | None = None


@wire
class ClientKeyMaterial(WireStruct):
    client_status: Annotated[int, Uint(1), OneOf(0, 1, 2)]
    client_uri: IdentifierUri
    key_package: Annotated[KeyPackage | None, When("client_status", (0,), KeyPackage)] = None
    client_capabilities: Annotated[
        MaybeCapabilities | None, When("client_status", (2,), MaybeCapabilities)] = None


@wire
class KeyMaterialResponse(WireStruct):
    protocol: Protocol
    user_status: Annotated[int, Uint(1), OneOf(0, 1, 2, 3, 4, 5, 6, 7)]
    user_uri: IdentifierUri
    clients: tuple[ClientKeyMaterial, ...] = ()

    def __post_init__(self) -> None:
        # 5.2: only success, partialSuccess and noCompatibleMaterial list clients.
        if self.clients and self.user_status not in (0, 1, 3):
            raise DecodeError(f"user status {self.user_status} must not list clients "
                              "(draft-ietf-mimi-protocol-06 5.2)")


# -------------------------------------------------------------------- 5.3 update room

@wire
class RatchetTreeOption(WireStruct):
    representation: Annotated[int, Uint(1), OneOf(1)]
    ratchet_tree: RatchetTree


@wire
class GroupInfoOption(WireStruct):
    representation: Annotated[int, Uint(1), OneOf(1)]
    group_info: GroupInfo


@wire
class MaybeWelcome(WireStruct):
    # 5.3: ``optional<Welcome>``, RFC 9420's Welcome struct itself (as the GroupInfo
    # beside it), not an MLSMessage around it
    welcome: Welcome | None = None


@wire
class HandshakeBundle(WireStruct):
    proposal_or_commit: MLSMessage
    welcome: Annotated[MaybeWelcome | None, When("proposal_or_commit.content_type", (3,),
                                                 MaybeWelcome)] = None
    group_info_option: Annotated[GroupInfoOption | None, When(
        "proposal_or_commit.content_type", (3,), GroupInfoOption)] = None
    ratchet_tree_option: Annotated[RatchetTreeOption | None, When(
        "proposal_or_commit.content_type", (3,), RatchetTreeOption)] = None
    more_proposals: Annotated[tuple[MLSMessage, ...] | None, When(
        "proposal_or_commit.content_type", (2,), tuple[MLSMessage, ...])] = None

    def __post_init__(self) -> None:
        if self.proposal_or_commit.content_type not in (2, 3):
            raise DecodeError("an update carries a proposal or a commit "
                              "(draft-ietf-mimi-protocol-06 5.3)")


@wire
class UpdateRequest(WireStruct):
    bundle: HandshakeBundle


class UpdateResponseCode:
    SUCCESS, WRONG_EPOCH, NOT_ALLOWED, INVALID_PROPOSAL = 0, 1, 2, 3


@wire
class UpdateRoomResponse(WireStruct):
    response_code: Annotated[int, Uint(1), OneOf(0, 1, 2, 3)]
    error_description: bytes
    accepted_timestamp: Annotated[int | None, When("response_code", (0,), U64)] = None
    current_epoch: Annotated[int | None, When("response_code", (1,), U64)] = None
    invalid_proposals: Annotated[
        tuple[bytes, ...] | None, When("response_code", (3,), tuple[bytes, ...])] = None


# -------------------------------------------------------------------- 5.4 submit message

@wire
class SubmitMessageRequest(WireStruct):
    protocol: Protocol
    app_message: MLSMessage
    sending_uri: IdentifierUri


@wire
class Frank(WireStruct):
    server_frank: Annotated[bytes, Fixed(32)]
    franking_signature_ciphersuite: U16
    franking_integrity_signature: bytes


@wire
class MaybeFrank(WireStruct):
    frank: Frank | None = None


class SubmitResponseCode:
    ACCEPTED, NOT_ALLOWED, EPOCH_TOO_OLD = 0, 1, 2


@wire
class SubmitMessageResponse(WireStruct):
    protocol: Protocol
    status_code: Annotated[int, Uint(1), OneOf(0, 1, 2)]
    accepted_timestamp: Annotated[int | None, When("status_code", (0,), U64)] = None
    frank: Annotated[MaybeFrank | None, When("status_code", (0,), MaybeFrank)] = None
    current_epoch: Annotated[int | None, When("status_code", (2,), U64)] = None


# -------------------------------------------------------------------- 5.5 fanout

@wire
class FanoutMessage(WireStruct):
    timestamp: U64
    message: MLSMessage
    frank: Annotated[MaybeFrank | None, When("message.content_type", (1,), MaybeFrank)] = None
    ratchet_tree_option: Annotated[
        RatchetTreeOption | None, When("message.wire_format", (3,), RatchetTreeOption)] = None
    # moreProposals for a proposal, externalProposals for a commit
    more_proposals: Annotated[
        tuple[MLSMessage, ...] | None, When("message.content_type", (2, 3),
                                            tuple[MLSMessage, ...])] = None

    def __post_init__(self) -> None:
        if self.message.content_type == 0 and self.message.wire_format != 3:
            raise DecodeError("a fanout carries a framed message or a Welcome "
                              "(draft-ietf-mimi-protocol-06 5.5)")


@dataclass(frozen=True)
class FanoutBatch:
    """A notify body (5.5): "multiple concatenated FanoutMessage objects relevant to
    the same room", one at the least and :data:`MAX_FANOUT` at the most."""

    messages: tuple[FanoutMessage, ...]

    @classmethod
    def from_bytes(cls, data: bytes) -> FanoutBatch:
        out: list[FanoutMessage] = []
        pos = 0
        while pos < len(data):
            if len(out) == MAX_FANOUT:
                raise DecodeError(f"a notify carries at most {MAX_FANOUT} messages")
            message, pos = FanoutMessage.decode_from(data, pos)
            out.append(message)
        if not out:
            raise DecodeError("a notify carries a FanoutMessage (draft-ietf-mimi-protocol-06 5.5)")
        return cls(tuple(out))

    def to_bytes(self) -> bytes:
        return b"".join(m.to_bytes() for m in self.messages)


MAX_FANOUT = 64


# -------------------------------------------------------------------- 5.6 group info

@wire
class GroupInfoRequest(WireStruct):
    protocol: Protocol
    cipher_suite: U16
    requesting_signature_key: bytes
    requesting_credential: Credential
    group_info_public_key: bytes
    joining_code: bytes | None
    # SignWithLabel(requesting_signature_key, "GroupInfoRequestTBS", tbs())
    signature: bytes

    SIGN_LABEL = "GroupInfoRequestTBS"

    def tbs(self) -> bytes:
        return self.encode_before("signature")


class GroupInfoCode:
    SUCCESS, NOT_AUTHORIZED, NO_SUCH_ROOM = 1, 2, 3


@wire
class PendingProposal(WireStruct):
    proposal: MLSMessage
    hub_accepted_time: U64


@wire
class GroupInfoRatchetTreeTBE(WireStruct):
    group_info: GroupInfo
    ratchet_tree_option: RatchetTreeOption
    pending_proposals: tuple[PendingProposal, ...] = ()


@wire
class GroupInfoResponse(WireStruct):
    protocol: Protocol
    room_id: bytes
    status: Annotated[int, Uint(1), OneOf(1, 2, 3)]
    cipher_suite: Annotated[int | None, When("status", (1,), U16)] = None
    hub_sender: Annotated[ExternalSender | None, When("status", (1,), ExternalSender)] = None
    encrypted_groupinfo_and_tree: Annotated[
        HPKECiphertext | None, When("status", (1,), HPKECiphertext)] = None
    # SignWithLabel(hub_sender.signature_key, "GroupInfoResponseTBS", tbs())
    signature: Annotated[bytes | None, When("status", (1,), bytes)] = None

    SIGN_LABEL = "GroupInfoResponseTBS"
    ENCRYPT_LABEL = "GroupInfo and ratchet_tree encryption"

    def tbs(self) -> bytes:
        return self.encode_before("signature")


# -------------------------------------------------------------------- 5.7 consent

class ConsentOperation:
    CANCEL, REQUEST, GRANT, REVOKE = 0, 1, 2, 3


@wire
class ConsentEntry(WireStruct):
    consent_operation: Annotated[int, Uint(1), OneOf(0, 1, 2, 3)]
    requester_uri: IdentifierUri
    target_uri: IdentifierUri
    room_id: RoomId | None = None
    client_key_packages: Annotated[
        tuple[KeyPackage, ...] | None, When("consent_operation", (2,), tuple[KeyPackage, ...])
    ] = None
    consent_extensions: AppDataDictionary = AppDataDictionary()


@wire
class ConsentScope(WireStruct):
    requester_uri: IdentifierUri
    target_uri: IdentifierUri
    room_id: RoomId | None = None


# -------------------------------------------------------------------- 5.8 identifier query

class SearchIdentifierType:
    HANDLE, NICK, EMAIL, PHONE, PARTIAL_NAME, WHOLE_PROFILE = 1, 2, 3, 4, 5, 6
    OIDC_STD_CLAIM, VCARD_FIELD = 7, 8


@wire
class QueryElement(WireStruct):
    search_type: Annotated[int, Uint(1), OneOf(1, 2, 3, 4, 5, 6, 7, 8)]
    # claimName (oidcStdClaim) or propertyName (vcardField)
    field_name: Annotated[bytes | None, When("search_type", (7, 8), bytes)]
    search_value: bytes  # UTF-8


@wire
class IdentifierRequest(WireStruct):
    query_elements: tuple[QueryElement, ...]
    id_request_extensions: AppDataDictionary = AppDataDictionary()


class IdentifierQueryCode:
    SUCCESS, NOT_FOUND, AMBIGUOUS, FORBIDDEN, UNSUPPORTED_FIELD = 0, 1, 2, 3, 4


@wire
class ProfileField(WireStruct):
    field_source: Annotated[int, Uint(1), OneOf(7, 8)]
    field_name: bytes  # string
    field_value: bytes


@wire
class UserProfile(WireStruct):
    stable_uri: IdentifierUri
    fields: tuple[ProfileField, ...] = ()


@wire
class IdentifierResponse(WireStruct):
    response_code: Annotated[int, Uint(1), OneOf(0, 1, 2, 3, 4)]
    uri: tuple[IdentifierUri, ...] = ()
    found_profiles: tuple[UserProfile, ...] = ()
    id_response_extensions: AppDataDictionary = AppDataDictionary()


# -------------------------------------------------------------------- 5.9 report abuse

@wire
class AbusiveMessage(WireStruct):
    message_content: bytes
    frank: Frank
    accepted_timestamp: U64


@wire
class AbuseReport(WireStruct):
    reporting_user: IdentifierUri
    alleged_abuser_uri: IdentifierUri
    reason_code: U8  # AbuseType: the draft defines no value yet
    note: bytes  # UTF-8, may be empty
    messages: tuple[AbusiveMessage, ...] = ()
    abuse_extensions: AppDataDictionary = AppDataDictionary()


# -------------------------------------------------------------------- 5.1 directory

# The directory's keys (5.1), the draft section of each endpoint, and the path
# template's parameter.
ENDPOINTS: dict[str, tuple[str, str]] = {
    "keyMaterial": ("5.2", "targetUser"),
    "update": ("5.3", "roomId"),
    "submitMessage": ("5.4", "roomId"),
    "notify": ("5.5", "roomId"),
    "groupInfo": ("5.6", "roomId"),
    "requestConsent": ("5.7", "targetUser"),
    "updateConsent": ("5.7", "requesterUser"),
    "identifierQuery": ("5.8", "domain"),
    "reportAbuse": ("5.9", "roomId"),
    "proxyDownload": ("5.10.2", "downloadUrl"),
}
MEDIA_TYPE = "application/mimi-protocol"
PREFIX = "/mimi/v1"  # Accord's endpoint paths (its directory lists them, 5.1)
MAX_DIRECTORY = 16_384
MAX_URL = 2048


def endpoint_path(key: str, target: str) -> str:
    """The path of Accord's endpoint ``key`` for ``target`` (a room, user or domain),
    the target percent-encoded whole as its directory's URL template has it."""
    return f"{PREFIX}/{key}/{quote(target, safe='')}"


def parse_directory(doc: object) -> dict[str, str]:
    """The endpoint URLs of a directory document (5.1), each checked for its form.

    Keys the draft does not name are kept (extensions); every value must be an
    ``https://`` or ``http://`` URL no longer than :data:`MAX_URL`.
    """
    if not isinstance(doc, dict):
        raise DecodeError("the MIMI directory is a JSON object (draft-ietf-mimi-protocol-06 5.1)")
    out: dict[str, str] = {}
    for key, url in doc.items():
        if not isinstance(url, str) or len(url) > MAX_URL or not url.startswith(
                ("https://", "http://")):
            raise DecodeError(f"directory entry {key!r} is not an https URL (5.1)")
        out[str(key)] = url
    return out
