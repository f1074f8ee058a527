"""T08 for providers: every federation route, and every field a peer can name in it, has
an attack test (issue 17). A new peer route or a new field fails this test until it
is listed here with the test that attacks it, or with why it names nothing.

Values ``"module::test"`` name the test; ``"value: ..."`` says why a field is not an
identifier (the receiver acts on no account, device or group through it).
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from typing import Any

from accord.server.federation_routes import PEER_SPECS

MAL = "tests.federation.test_malicious_provider::"
ADV = "tests.federation.test_adversarial::"
T13 = "tests.privacy.test_T13_franking::test_T13_reports_verify_and_forgeries_fail"
HUBS = MAL + "test_T08_a_peer_names_only_groups_the_receiver_hubs"
SPEAKS = MAL + "test_T08_a_hub_peer_speaks_only_for_members_of_its_groups"
OWN = MAL + "test_T08_a_peer_asks_a_provider_only_about_its_own_accounts"
BIND = MAL + "test_T08_a_follower_cannot_bind_devices_it_does_not_host"
SENDER = ("tests.federation.test_T13_report_forwarding::"
          "test_T13_a_verified_report_reaches_the_senders_provider")
FIRST = "tests.federation.test_T14_sealed_first_contact::"
MIMI_ABUSE = "test_T13_a_report_to_a_hub_over_mimi_is_the_drafts_abuse_report"
MLS = "value: MLS content, checked by the hub's acceptance (accord.federation.mls_check)"

COVERAGE: dict[str, dict[str, str]] = {
    "/federation/v1/blobs": {"blob_id": MAL + "test_T08_blobs_are_fetched_by_capability_only"},
    "/federation/v1/keypackages/claim": {
        "account": OWN, "requester": OWN,
        "cipher_suite": "value: the suite of the KeyPackages asked for (RFC 9420 10)",
    },
    "/federation/v1/devices": {"account": OWN},
    "/federation/v1/commits": {
        "group_id": HUBS,
        "sender": ADV + "test_a_follower_cannot_commit_for_a_member_it_does_not_host",
        "sender_account": ADV + "test_a_follower_cannot_commit_for_a_member_it_does_not_host",
        "epoch": MLS, "commit": MLS, "posting_key": MLS, "welcome": MLS,
        # checked against the hub's state after the commit, its posting key the request's
        "group_info": "tests.federation.test_mimi_forward::"
                      "test_T11_a_local_commit_keeps_its_group_info_and_its_posting_key",
        "added[].device_id": BIND,
        "added[].domain": ADV + "test_a_follower_cannot_misplace_a_device_it_adds",
        "first_contact[].device_id": FIRST + "test_T14_a_sealed_request_is_only_for_an_added_device",
        "first_contact[].sealed": "value: ciphertext for the device, which checks it"
                                  " (accord.content.first_contact)",
        # the hub's one commit check (apply_commit) for local and forwarded commits
        "removed": "tests.server.test_e2e_flows::test_hub_checks_mls_commits_and_key_packages",
    },
    "/federation/v1/proposals": {
        "group_id": HUBS, "sender": SPEAKS, "sender_account": SPEAKS,
        "epoch": MLS, "proposal": MLS,
    },
    "/federation/v1/posts": {
        "group_id": ADV + "test_a_follower_cannot_commit_for_a_member_it_does_not_host",
        "epoch": MLS, "nonce": "value: single use per group (post-nonce replay check)",
        "ciphertext": MLS, "signature": "value: the group's posting key verifies it",
    },
    "/federation/v1/deliver": {
        "items[].msg_id": MAL + "test_T14_a_hub_cannot_pass_off_another_groups_message_id",
        "items[].group_id": HUBS,
        "items[].recipients": SPEAKS,
        "items[].sender": MAL + "test_T14_a_hub_cannot_deliver_an_unnamed_welcome",
        "items[].sender_account": MAL + (
            "test_T14_a_relayed_welcome_naming_a_local_account_is_still_screened"),
        "items[].roster[].device_id": MAL + (
            "test_T08_a_roster_cannot_bind_another_providers_device_for_good"),
        "items[].roster[].domain": MAL + (
            "test_T08_a_roster_cannot_bind_another_providers_device_for_good"),
        "items[].kind": MAL + "test_T14_items_of_a_group_never_entered_are_dropped",
        "items[].epoch": "value: the device's MLS state decides",
        "items[].body": "value: opaque MLS message for the device",
        "items[].created_at": "value: a time the device shows",
        "items[].group_epoch": "value: the follower's copy of the hub's epoch",
        "items[].frank": "value: the hub's Frank, checked by the device and when reported"
                         " (T13, MIMI 5.4.1)",
        "items[].ratchet_tree": "value: a Welcome's tree the hub keeps in its own outbox for"
                                " MIMI fan-out (federation.mimi_fanout); a follower taking"
                                " Accord's fan-out never reads it",
        "items[].chain_seq": "value: the hub's chain, checked by the device (T07)",
        "items[].chain": "value: the hub's chain, checked by the device (T07)",
        "items[].first_contact[].device_id": MAL + (
            "test_T14_a_hub_hands_sealed_requests_only_to_invited_strangers"),
        "items[].first_contact[].sealed": "value: ciphertext for the device, which checks it"
                                          " (accord.content.first_contact)",
    },
    "/federation/v1/reports": {
        "group_id": SPEAKS, "alleged_sender": SPEAKS + "; " + T13,
        "created_at": T13, "content": T13, "frank": T13,
        "reason_code": "value: a number for the operator (MIMI 5.9 AbuseType, 0 to 255: "
                       + T13.split("::")[1] + ")",
        "note": "value: the reporter's words for the operator, at most MAX_NOTE octets ("
                + T13.split("::")[1] + "), shown escaped (" + MIMI_ABUSE + ")",
    },
    "/federation/v1/reports/sender": {
        f: SENDER for f in ("group_id", "account", "frank", "content", "created_at")
    },
    "/federation/v1/account-deleted": {
        "account": MAL + "test_T08_a_peer_cannot_erase_another_providers_users",
        "device_ids": MAL + "test_T08_a_peer_cannot_erase_another_providers_users",
    },
}


MIMI = "tests.federation.test_mimi_transport::"
MIMI_OWN = MIMI + "test_T08_mimi_key_material_only_for_hosted_users_by_the_peers_own"
MIMI_ID = MIMI + "test_T08_mimi_identifier_query_answers_for_own_accounts_only"
MIMI_REPORT = MIMI + "test_T08_T13_mimi_abuse_reports_reach_the_hubs_report_check"
ROOM = "tests.federation.test_mimi_room::"
SUBMIT_OWN = ROOM + "test_T08_mimi_submit_only_for_a_member_user_the_peer_hosts"
SUBMIT_SYNC = ROOM + "test_T08_mimi_submit_cannot_desynchronise_the_hub"
UPDATE_SYNC = ROOM + "test_T08_mimi_update_cannot_desynchronise_the_hub"
UPDATE_OWN = ROOM + "test_T08_mimi_update_proposals_only_for_members_the_peer_hosts"
GROUP_INFO = ROOM + "test_T08_mimi_group_info_for_a_members_new_device_only"
CONSENT_OWN = ROOM + "test_T08_T14_mimi_consent_only_for_own_users_and_no_bypass"
CONSENT_REQ = ROOM + "test_T14_mimi_consent_request_is_a_message_request_the_user_answers"
FANOUT_HUB = ROOM + "test_T08_mimi_fanout_only_from_the_hub_of_a_followed_room"
# The MIMI endpoints (issue 22): "{target}" is the user, domain or room of the path.
MIMI_COVERAGE: dict[str, dict[str, str]] = {
    "/mimi/v1/keyMaterial/{target:path}": {
        "{target}": MIMI_OWN, "target_user.uri": MIMI_OWN, "requesting_user.uri": MIMI_OWN,
        "requester_signature_key": MIMI_OWN, "key_material_request_signature": MIMI_OWN,
        "protocol": "value: mls10, the one Protocol (a DecodeError otherwise)",
        "room_id.uri": "tests.federation.test_mimi_relay::"
                       "test_T08_mimi_key_material_relayed_only_by_the_hub_of_a_room_for_its_members",
        "acceptable_ciphersuites": MIMI + "test_key_material_for_every_client_of_a_hosted_user",
        "required_capabilities.extension_types": MIMI + (
            "test_key_material_for_every_client_of_a_hosted_user"),
        "required_capabilities.proposal_types": "value: filters KeyPackages as extension_types",
        "required_capabilities.credential_types": "value: filters KeyPackages as extension_types",
        "requester_credential.credential_type": "value: the requester's, not yet bound (INTEROP)",
        "requester_credential.identity": "value: the requester's, not yet bound (INTEROP)",
        "requester_credential.certificates": "value: the requester's, not yet bound (INTEROP)",
    },
    "/mimi/v1/update/{target:path}": {
        "{target}": UPDATE_SYNC, "bundle.proposal_or_commit.message": UPDATE_SYNC,
        "bundle.proposal_or_commit.version": MLS,
        "bundle.more_proposals": UPDATE_OWN,
        "bundle.group_info_option": UPDATE_SYNC,
        "bundle.welcome": ROOM + "test_mimi_update_orders_a_members_commit_and_its_welcome",
        "bundle.ratchet_tree_option": "value: not used, the hub serves its own checked tree"
                                      " (its public MLS state)",
    },
    "/mimi/v1/submitMessage/{target:path}": {
        "{target}": SUBMIT_OWN, "sending_uri.uri": SUBMIT_OWN,
        "app_message.message": SUBMIT_OWN + "; " + SUBMIT_SYNC,
        "app_message.version": MLS,
        "protocol": "value: mls10, the one Protocol (a DecodeError otherwise)",
    },
    "/mimi/v1/notify/{target:path}": {
        "{target}": FANOUT_HUB,
        "messages": FANOUT_HUB + "; " + ROOM + (
            "test_T08_mimi_fanout_from_the_rooms_hub_reaches_its_members_once"),
    },
    "/mimi/v1/groupInfo/{target:path}": {
        "{target}": GROUP_INFO, "requesting_credential.identity": GROUP_INFO,
        "requesting_signature_key": GROUP_INFO, "signature": GROUP_INFO,
        "joining_code": GROUP_INFO, "group_info_public_key": GROUP_INFO,
        "cipher_suite": "value: the suite of the answer's signature and encryption",
        "protocol": "value: mls10, the one Protocol (a DecodeError otherwise)",
        "requesting_credential.credential_type": "value: basic, read as account/device",
        "requesting_credential.certificates": "value: basic credentials carry none",
    },
    "/mimi/v1/requestConsent/{target:path}": {
        "{target}": CONSENT_OWN, "target_uri.uri": CONSENT_OWN,
        "requester_uri.uri": CONSENT_OWN, "consent_operation": CONSENT_OWN,
        "room_id": CONSENT_REQ,
        "client_key_packages": "value: only in a grant, which requestConsent refuses",
        "consent_extensions.component_data": "value: extensions, none understood yet",
    },
    "/mimi/v1/updateConsent/{target:path}": {
        "{target}": CONSENT_OWN, "target_uri.uri": CONSENT_OWN,
        "requester_uri.uri": CONSENT_OWN, "consent_operation": CONSENT_OWN,
        "room_id": "value: a room URI, checked (a grant or revoke changes no consent here)",
        "client_key_packages": "value: not used, a grant changes no consent here (" + (
            CONSENT_OWN.split("::")[1]) + ")",
        "consent_extensions.component_data": "value: extensions, none understood yet",
    },
    "/mimi/v1/identifierQuery/{target:path}": {
        "{target}": MIMI_ID, "query_elements": MIMI_ID,
        "id_request_extensions.component_data": "value: extensions, none understood yet",
    },
    "/mimi/v1/reportAbuse/{target:path}": {
        "{target}": MIMI_REPORT, "reporting_user.uri": MIMI_REPORT,
        "alleged_abuser_uri.uri": MIMI_REPORT + "; " + SENDER, "messages": MIMI_REPORT,
        "reason_code": "value: no AbuseType is defined yet (MIMI 5.9), kept as a number",
        "note": "value: the reporter's words for the operator: UTF-8, at most MAX_NOTE octets"
                " (" + MIMI_REPORT.split("::")[1] + "), shown escaped (" + MIMI_ABUSE + ")",
        "abuse_extensions.component_data": "value: extensions, none understood yet",
    },
    "/mimi/v1/proxyDownload/{target:path}": {
        "{target}": MIMI + "test_T08_mimi_proxy_download_fetches_known_providers_assets_only",
    },
}


def _fields(cls: type, prefix: str = "") -> set[str]:
    """Every field a peer fills in ``cls``, nested dataclasses as ``a[].b``/``a.b``."""
    out: set[str] = set()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        name = prefix + f.name
        inner: Any = hints[f.name]
        args = [a for a in typing.get_args(inner) if a is not type(None)]
        if typing.get_origin(inner) is list and args and dataclasses.is_dataclass(args[0]):
            out |= _fields(args[0], name + "[].")
        elif len(args) == 1 and typing.get_origin(args[0]) is list and dataclasses.is_dataclass(
                typing.get_args(args[0])[0]):
            out |= _fields(typing.get_args(args[0])[0], name + "[].")
        elif dataclasses.is_dataclass(inner):
            out |= _fields(inner, name + ".")
        else:
            out.add(name)
    return out


def test_T08_every_federation_route_and_field_has_an_attack_test() -> None:
    assert {s.path for s in PEER_SPECS} == set(COVERAGE)
    for spec in PEER_SPECS:
        assert _fields(spec.request) == set(COVERAGE[spec.path]), spec.path
        for field, why in COVERAGE[spec.path].items():
            if why.startswith("value: "):
                continue
            for ref in why.split("; "):
                if ref.startswith("value: "):
                    continue
                module, name = ref.split("::")
                assert callable(getattr(importlib.import_module(module), name)), (
                    spec.path, field, ref)


def test_T08_every_mimi_route_and_field_has_an_attack_test() -> None:
    from accord.server.mimi_routes import MIMI_SPECS

    assert {s.path for s in MIMI_SPECS} == set(MIMI_COVERAGE)
    for spec in MIMI_SPECS:
        fields = _fields(spec.request) if spec.request is not None else set()
        assert fields | {"{target}"} == set(MIMI_COVERAGE[spec.path]), spec.path
        for field, why in MIMI_COVERAGE[spec.path].items():
            for ref in why.split("; "):
                if not ref.startswith("value: "):
                    module, name = ref.split("::")
                    assert callable(getattr(importlib.import_module(module), name)), (field, ref)


# accord-firstContact (docs/PROTOCOL.md): the carrier of update (5.3) and notify (5.5)
FC = "tests.federation.test_T14_mimi_first_contact::"
FIRST_CONTACT_COVERAGE: dict[str, str] = {
    "{target}": "value: the wrapped request's room, checked by that endpoint's own handler"
                " (mimi_hub.update_room, mimi_follower.notify, their tests above)",
    "endpoint": FC + "test_T14_mimi_requests_go_with_a_commit_not_a_proposal",
    "mimi_body": "value: the draft's update or notify body, handled by that endpoint's very"
                 " handler (attack tests above)",
    "first_contact": FC + "test_T14_mimi_the_hub_takes_requests_only_for_devices_the_commit"
                          "_adds; " + FC + "test_T14_mimi_a_follower_files_requests_only_with"
                                           "_its_devices_welcome",
}


def test_T08_T14_the_first_contact_carrier_and_its_fields_have_attack_tests() -> None:
    from accord.server import mimi_first_contact
    from accord.server.mimi_routes import mimi_routes
    from accord.wire.mimi_accord import FirstContactCarrier

    assert mimi_first_contact.PATH in {getattr(r, "path", "") for r in mimi_routes()}
    assert _fields(FirstContactCarrier) | {"{target}"} == set(FIRST_CONTACT_COVERAGE)
    for field, why in FIRST_CONTACT_COVERAGE.items():
        for ref in why.split("; "):
            if not ref.startswith("value: "):
                module, name = ref.split("::")
                assert callable(getattr(importlib.import_module(module), name)), (field, ref)
