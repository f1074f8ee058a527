"""A decoder of MIMI traffic written from the drafts' text only (issue 22, the proof).

Independent of the encoder the server uses (``accord.wire.mimi``, ``accord.mls.codec``:
neither is imported here): each structure below is transcribed from
draft-ietf-mimi-protocol-06 sections 5.1 to 5.9; the RFC 9420 structures they embed
(MLSMessage, KeyPackage, GroupInfo, Welcome, ...) and the reading rules of the TLS
presentation language come from :mod:`tests.federation.mls_draft_decoder`, written
from RFC 9420 and draft-ietf-mls-extensions alone. Every decode must consume every
byte; anything else is a :class:`DraftError` naming the structure and field.

Where a draft leaves a type undefined, this file decides, and says so:

- ``string`` (5.3 ``errorDescription``, 5.8 ``fieldName``): ``opaque<V>`` holding UTF-8.
- ``RoomId`` (5.7): an ``IdentifierUri``.
- ``RatchetTreeOption`` (5.3, 5.5, 5.6) and ``PartialGroupInfo`` come from
  draft-mahy-mls-ratchet-tree-options, which is not among the reference texts: only the
  representation ``full(1)`` is read, as a uint8 then RFC 9420's ``ratchet_tree``
  (``optional<Node> ratchet_tree<V>``, 12.4.3.3); any other representation is refused.
- ``GroupInfoRequest.joiningCode`` is ``opaque<V>`` as the request's own struct says
  (its TBS says ``optional``); absent, both are the one byte 0.
- ``FanoutMessage`` selects on ``message.wire_format`` with content-type names: read as
  the framed message's content type (application, proposal, commit) and the Welcome's
  wire format. ``select (protocol)`` inside a struct that carries no protocol field
  (UpdateRequest, FanoutMessage) is the room's protocol: mls10.
- ``SubmitResponseCode`` names ``accepted(0)`` while its ``select`` says ``success``:
  the same value 0.
- ``optional Frank frank`` (5.4, 5.5) is ``optional<Frank>``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from tests.federation.mls_draft_decoder import (
    APPLICATION,
    COMMIT,
    MLS10,
    PRIVATE_MESSAGE,
    PROPOSAL,
    PUBLIC_MESSAGE,
    WELCOME,
    D,
    DraftError,
    Reader,
    app_data_dictionary,
    capabilities,
    content_type_of,
    credential,
    external_sender,
    group_info,
    handshake,
    hpke_ciphertext,
    key_package,
    mls_message,
    proposals,
    ratchet_tree,
    required_capabilities,
    u16s,
    welcome,
    whole,
)

# ------------------------------------------------------------------ draft-ietf-mimi-protocol-06

def protocol(r: Reader, field: str = "protocol") -> int:
    value = r.u8(field)
    if value != MLS10:
        raise r.fail(f"{field} {value}: only mls10(1) has a layout")
    return value


def identifier_uri(r: Reader, field: str = "uri") -> str:
    return r.text(field)


def ratchet_tree_option(r: Reader) -> D:
    rep = r.u8("RatchetTreeRepresentation")
    if rep != 1:
        raise r.fail(f"RatchetTreeRepresentation {rep}: only full(1) is read here")
    return {"representation": rep, "ratchet_tree": ratchet_tree(r)}


def frank(r: Reader) -> D:
    return {"server_frank": r.take(32, "server_frank"),
            "franking_signature_ciphersuite": r.u16("franking_signature_ciphersuite"),
            "franking_integrity_signature": r.opaque("franking_integrity_signature")}


def key_material_request(r: Reader) -> D:
    """5.2 KeyMaterialRequest."""
    return {"protocol": protocol(r), "requestingUser": identifier_uri(r, "requestingUser"),
            "targetUser": identifier_uri(r, "targetUser"), "roomId": identifier_uri(r, "roomId"),
            "acceptableCiphersuites": r.vector("acceptableCiphersuites", u16s),
            "requiredCapabilities": required_capabilities(r),
            "requesterSignatureKey": r.opaque("requesterSignatureKey"),
            "requesterCredential": credential(r),
            "key_material_request_signature": r.opaque("key_material_request_signature")}


USER_CODES_WITH_CLIENTS = (0, 1, 3)  # success, partialSuccess, noCompatibleMaterial


def client_key_material(r: Reader) -> D:
    status = r.u8("clientStatus")
    out: D = {"clientStatus": status, "clientUri": identifier_uri(r, "clientUri")}
    if status == 0:
        out["keyPackage"] = key_package(r)
    elif status == 2:
        out["clientCapabilities"] = r.optional("clientCapabilities", capabilities)
    elif status != 1:
        raise r.fail(f"KeyMaterialClientCode {status} is not defined")
    return out


def key_material_response(r: Reader) -> D:
    """5.2 KeyMaterialResponse: only success, partialSuccess and noCompatibleMaterial
    may list clients."""
    out: D = {"protocol": protocol(r), "userStatus": r.u8("userStatus"),
              "userUri": identifier_uri(r, "userUri")}
    if out["userStatus"] > 7:
        raise r.fail(f"KeyMaterialUserCode {out['userStatus']} is not defined")
    out["clients"] = r.vector("clients", client_key_material)
    if out["clients"] and out["userStatus"] not in USER_CODES_WITH_CLIENTS:
        raise r.fail(f"userStatus {out['userStatus']} must not list clients")
    return out


RATCHET_TREE = 2  # RFC 9420 17.3 extension type


def treeless_group_info(r: Reader, field: str) -> D:
    """A GroupInfo "without embedded ratchet_tree" (5.3, 5.6): the tree travels in the
    RatchetTreeOption beside it."""
    info = group_info(r)
    if any(e["extension_type"] == RATCHET_TREE for e in info["extensions"]):
        raise r.fail(f"{field}: the GroupInfo embeds a ratchet_tree, which the draft omits")
    return info


def group_info_option(r: Reader) -> D:
    rep = r.u8("GroupInfoRepresentation")
    if rep != 1:
        raise r.fail(f"GroupInfoRepresentation {rep}: only full(1) is read here")
    return {"representation": rep, "groupInfo": treeless_group_info(r, "groupInfo")}


def update_request(r: Reader) -> D:
    """5.3 UpdateRequest: a HandshakeBundle (the room's protocol is mls10)."""
    msg = handshake(r, "proposalOrCommit")
    out: D = {"proposalOrCommit": msg}
    if content_type_of(msg) == COMMIT:
        out["welcome"] = r.optional("welcome", welcome)
        out["groupInfoOption"] = group_info_option(r)
        out["ratchetTreeOption"] = ratchet_tree_option(r)
    else:
        out["moreProposals"] = proposals(r, "moreProposals")
    return out


def update_room_response(r: Reader) -> D:
    code = r.u8("responseCode")
    out: D = {"responseCode": code, "errorDescription": r.text("errorDescription")}
    if code == 0:
        out["accepted_timestamp"] = r.u64("accepted_timestamp")
    elif code == 1:
        out["currentEpoch"] = r.u64("currentEpoch")
    elif code == 3:
        out["invalidProposals"] = r.vector("invalidProposals", lambda s: s.opaque("ref"))
    elif code != 2:
        raise r.fail(f"UpdateResponseCode {code} is not defined")
    return out


def submit_message_request(r: Reader) -> D:
    """5.4: a PrivateMessage of application content and the sender's URI."""
    out: D = {"protocol": protocol(r), "appMessage": mls_message(r)}
    msg = out["appMessage"]
    if msg["wire_format"] != PRIVATE_MESSAGE or content_type_of(msg) != APPLICATION:
        raise r.fail("appMessage: not a PrivateMessage of application content")
    out["sendingUri"] = identifier_uri(r, "sendingUri")
    return out


def submit_message_response(r: Reader) -> D:
    out: D = {"protocol": protocol(r), "statusCode": r.u8("statusCode")}
    if out["statusCode"] == 0:
        out["accepted_timestamp"] = r.u64("accepted_timestamp")
        out["frank"] = r.optional("frank", frank)
    elif out["statusCode"] == 2:
        out["currentEpoch"] = r.u64("currentEpoch")
    elif out["statusCode"] != 1:
        raise r.fail(f"SubmitResponseCode {out['statusCode']} is not defined")
    return out


def fanout_message(r: Reader) -> D:
    """5.5 FanoutMessage (the room's protocol is mls10)."""
    out: D = {"timestamp": r.u64("timestamp"), "message": mls_message(r)}
    msg = out["message"]
    kind = content_type_of(msg)
    if msg["wire_format"] == WELCOME:
        out["ratchetTreeOption"] = ratchet_tree_option(r)
    elif kind == APPLICATION and msg["wire_format"] == PRIVATE_MESSAGE:
        out["frank"] = r.optional("frank", frank)
    elif kind == PROPOSAL and msg["wire_format"] == PUBLIC_MESSAGE:
        out["moreProposals"] = proposals(r, "moreProposals")
    elif kind == COMMIT and msg["wire_format"] == PUBLIC_MESSAGE:
        out["externalProposals"] = proposals(r, "externalProposals")
    else:
        raise r.fail("message: no FanoutMessage case for this wire format and content")
    return out


def fanout_batch(r: Reader) -> list[D]:
    """5.5: one or more concatenated FanoutMessages."""
    out = [fanout_message(r)]
    while r.pos < len(r.data):
        out.append(fanout_message(r))
    return out


def group_info_request(r: Reader) -> D:
    """5.6 GroupInfoRequest."""
    return {"protocol": protocol(r), "cipher_suite": r.u16("cipher_suite"),
            "requestingSignatureKey": r.opaque("requestingSignatureKey"),
            "requestingCredential": credential(r),
            "groupInfoPublicKey": r.opaque("groupInfoPublicKey"),
            "joiningCode": r.opaque("joiningCode"), "signature": r.opaque("signature")}


def group_info_response(r: Reader) -> D:
    out: D = {"version": protocol(r, "version"), "room_id": r.opaque("room_id"),
              "status": r.u8("status")}
    if out["status"] == 1:
        out.update(cipher_suite=r.u16("cipher_suite"), hub_sender=external_sender(r),
                   encrypted_groupinfo_and_tree=hpke_ciphertext(r),
                   signature=r.opaque("signature"))
    elif out["status"] not in (2, 3):
        raise r.fail(f"GroupInfoCode {out['status']} is not defined")
    return out


def pending_proposal(r: Reader) -> D:
    return {"proposal": mls_message(r), "hub_accepted_time": r.u64("hub_accepted_time")}


def group_info_ratchet_tree_tbe(r: Reader) -> D:
    """5.6: what the hub encrypts to the requester."""
    return {"groupInfo": treeless_group_info(r, "groupInfo"),
            "ratchetTreeOption": ratchet_tree_option(r),
            "pending_proposals": r.vector("pending_proposals", pending_proposal)}


def consent_entry(r: Reader) -> D:
    """5.7 ConsentEntry (a RoomId read as an IdentifierUri)."""
    op = r.u8("consentOperation")
    if op > 3:
        raise r.fail(f"ConsentOperation {op} is not defined")
    out: D = {"consentOperation": op, "requesterUri": identifier_uri(r, "requesterUri"),
              "targetUri": identifier_uri(r, "targetUri"),
              "roomId": r.optional("roomId", lambda s: identifier_uri(s, "roomId"))}
    if op == 2:
        out["clientKeyPackages"] = r.vector("clientKeyPackages", key_package)
    out["consent_extensions"] = app_data_dictionary(r)
    return out


def query_element(r: Reader) -> D:
    kind = r.u8("searchType")
    if not 1 <= kind <= 8:
        raise r.fail(f"SearchIdentifierType {kind} is not defined")
    out: D = {"searchType": kind}
    if kind == 7:
        out["claimName"] = r.opaque("claimName")
    elif kind == 8:
        out["propertyName"] = r.opaque("propertyName")
    out["searchValue"] = r.text("searchValue")
    return out


def identifier_request(r: Reader) -> D:
    """5.8 IdentifierRequest."""
    return {"query_elements": r.vector("query_elements", query_element),
            "id_request_extensions": app_data_dictionary(r)}


def profile_field(r: Reader) -> D:
    return {"fieldSource": r.u8("fieldSource"), "fieldName": r.text("fieldName"),
            "fieldValue": r.opaque("fieldValue")}


def identifier_response(r: Reader) -> D:
    code = r.u8("responseCode")
    if code > 4:
        raise r.fail(f"IdentifierQueryCode {code} is not defined")
    return {"responseCode": code,
            "uri": r.vector("uri", lambda s: identifier_uri(s)),
            "foundProfiles": r.vector("foundProfiles", lambda s: {
                "stableUri": identifier_uri(s, "stableUri"),
                "fields": s.vector("fields", profile_field)}),
            "id_response_extensions": app_data_dictionary(r)}


def abuse_report(r: Reader) -> D:
    """5.9 AbuseReport."""
    return {"reportingUser": identifier_uri(r, "reportingUser"),
            "allegedAbuserUri": identifier_uri(r, "allegedAbuserUri"),
            "reasonCode": r.u8("reasonCode"), "note": r.opaque("note"),
            "messages": r.vector("messages", lambda s: {
                "message_content": s.opaque("message_content"), "frank": frank(s),
                "accepted_timestamp": s.u64("accepted_timestamp")}),
            "abuse_extensions": app_data_dictionary(r)}


# ------------------------------------------------------------------ 5.1 directory

# each endpoint of the draft's directory and the template variable its URL carries
DIRECTORY = {
    "keyMaterial": "{targetUser}", "update": "{roomId}", "notify": "{roomId}",
    "submitMessage": "{roomId}", "groupInfo": "{roomId}",
    "requestConsent": "{targetUser}", "updateConsent": "{requesterUser}",
    "identifierQuery": "{domain}", "reportAbuse": "{roomId}",
    "proxyDownload": "{downloadUrl}",
}


def directory(body: bytes) -> dict[str, str]:
    """5.1: a JSON object of URLs. Each of the draft's endpoints that is listed is an
    absolute HTTP(S) URL ending in its template variable (``http`` only because the
    loopback tests run without TLS); other keys are extensions and must be URLs too."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise DraftError(f"directory: not JSON ({exc})") from None
    if not isinstance(doc, dict) or not doc:
        raise DraftError("directory: not a non-empty JSON object")
    for key, url in doc.items():
        if not isinstance(url, str):
            raise DraftError(f"directory.{key}: not a string")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise DraftError(f"directory.{key}: not an absolute HTTP(S) URL: {url!r}")
        if key in DIRECTORY and not url.endswith(DIRECTORY[key]):
            raise DraftError(f"directory.{key}: does not end in {DIRECTORY[key]}: {url!r}")
    return doc


# ------------------------------------------------------------------ one exchange

# endpoint -> (request body, response body); None: no body (the status alone answers)
BODIES: dict[str, tuple[Callable[[Reader], Any] | None, Callable[[Reader], Any] | None]] = {
    "keyMaterial": (key_material_request, key_material_response),
    "update": (update_request, update_room_response),
    "submitMessage": (submit_message_request, submit_message_response),
    "notify": (fanout_batch, None),
    "groupInfo": (group_info_request, group_info_response),
    "requestConsent": (consent_entry, None),
    "updateConsent": (consent_entry, None),
    "identifierQuery": (identifier_request, identifier_response),
    "reportAbuse": (abuse_report, None),
}
NO_BODY_STATUS = 201  # 5.5, 5.7, 5.9: "201 Accepted", no body


def decode_body(endpoint: str, which: str, body: bytes) -> Any:
    """The request (``which="request"``) or response body of ``endpoint`` as the draft's
    structure. A body where the draft has none must be empty."""
    read = BODIES[endpoint][0 if which == "request" else 1]
    if read is None:
        if body:
            raise DraftError(f"{endpoint} {which}: the draft has no body, got {len(body)} bytes")
        return None
    return whole(body, f"{endpoint} {which}", read)
