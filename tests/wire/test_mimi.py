"""The MIMI protocol structures (draft-ietf-mimi-protocol-06 section 5): round trips
of real MLS content through each, and hostile input refused with DecodeError."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from accord.errors import DecodeError
from accord.mls.group import (
    GroupState,
    commit,
    create_group,
    group_info,
    key_package,
    propose_update,
    protect,
)
from accord.mls.structs import (
    Capabilities,
    Credential,
    ExternalSender,
    MLSMessage,
    RequiredCapabilities,
)
from accord.mls.structs.app_data import AppDataDictionary, ComponentData
from accord.mls.structs.proposals import Add
from accord.mls.structs.tree_nodes import HPKECiphertext
from accord.mls.suites import get_suite
from accord.wire import mimi as w

NOW = 1_700_000_000
SUITE = get_suite(1)


def _member(name: bytes) -> tuple[Any, bytes]:
    priv, _ = SUITE.generate_signature_key_pair()
    return key_package(SUITE, Credential.basic(name), priv, NOW), priv


@pytest.fixture(scope="module")
def mls() -> dict[str, Any]:
    priv, _ = SUITE.generate_signature_key_pair()
    alice: GroupState = create_group(SUITE, b"mimi://a.example/g/clubhouse",
                                     Credential.basic(b"alice"), priv, NOW)
    bob, _ = _member(b"bob")
    proposal, _ = propose_update(alice)
    result, _ = commit(alice, by_value=[Add(bob.key_package)], now=NOW,
                            inline_tree=False, with_group_info=True)
    app, _ = protect(alice, b"hello")
    return {"kp": bob.key_package, "commit": result.commit, "welcome": result.welcome,
            "group_info": group_info(alice).message, "proposal": proposal, "app": app}


def uri(text: str) -> w.IdentifierUri:
    return w.IdentifierUri.of(text)


def _round_trip(value: Any) -> bytes:
    data = value.to_bytes()
    assert type(value).from_bytes(data) == value
    return data


def _examples(mls: dict[str, Any]) -> list[Any]:
    frank = w.Frank(b"\x07" * 32, 1, b"sig")
    tree = w.RatchetTreeOption(1, (None,))
    dictionary = AppDataDictionary((ComponentData(1, b"a"), ComponentData(9, b"b")))
    return [
        w.KeyMaterialRequest(
            1, uri("mimi://a.example/u/alice"), uri("mimi://b.example/u/bob"),
            uri("mimi://a.example/r/clubhouse"), (1, 3), RequiredCapabilities((2,), (8,), (1,)),
            b"k" * 32, Credential.basic(b"alice"), b"s" * 64),
        w.KeyMaterialResponse(1, 1, uri("mimi://b.example/u/bob"), (
            w.ClientKeyMaterial(0, uri("mimi://b.example/d/1"), key_package=mls["kp"]),
            w.ClientKeyMaterial(1, uri("mimi://b.example/d/2")),
            w.ClientKeyMaterial(2, uri("mimi://b.example/d/3"),
                                client_capabilities=w.MaybeCapabilities(None)),
            w.ClientKeyMaterial(2, uri("mimi://b.example/d/4"), client_capabilities=(
                w.MaybeCapabilities(Capabilities((1,), (1,), (), (), (1,))))),
        )),
        w.KeyMaterialResponse(1, 5, uri("mimi://b.example/u/bob")),
        w.UpdateRequest(w.HandshakeBundle(
            mls["commit"], w.MaybeWelcome(mls["welcome"].message),
            w.GroupInfoOption(1, mls["group_info"]), tree)),
        w.UpdateRequest(w.HandshakeBundle(mls["proposal"], more_proposals=(mls["proposal"],))),
        w.UpdateRoomResponse(0, b"", accepted_timestamp=NOW * 1000),
        w.UpdateRoomResponse(1, b"epoch", current_epoch=7),
        w.UpdateRoomResponse(2, b"policy"),
        w.UpdateRoomResponse(3, b"", invalid_proposals=(b"r" * 32,)),
        w.SubmitMessageRequest(1, mls["app"], uri("mimi://a.example/u/alice")),
        w.SubmitMessageResponse(1, 0, NOW, w.MaybeFrank(frank)),
        w.SubmitMessageResponse(1, 2, current_epoch=3),
        w.FanoutMessage(NOW, mls["app"], frank=w.MaybeFrank(None)),
        w.FanoutMessage(NOW, mls["welcome"], ratchet_tree_option=tree),
        w.FanoutMessage(NOW, mls["commit"], more_proposals=()),
        w.FanoutMessage(NOW, mls["proposal"], more_proposals=(mls["proposal"],)),
        w.GroupInfoRequest(1, 1, b"k" * 32, Credential.basic(b"cathy"), b"h" * 32, None, b"s"),
        w.GroupInfoRequest(1, 1, b"k" * 32, Credential.basic(b"cathy"), b"h" * 32, b"c", b"s"),
        w.GroupInfoResponse(1, b"r", 1, 1, ExternalSender(b"k", Credential.basic(b"hub")),
                            HPKECiphertext(b"e", b"c"), b"s"),
        w.GroupInfoResponse(1, b"r", 3),
        w.GroupInfoRatchetTreeTBE(mls["group_info"], tree,
                                  (w.PendingProposal(mls["proposal"], NOW),)),
        w.ConsentEntry(2, uri("a"), uri("b"), uri("r"), (mls["kp"],), dictionary),
        w.ConsentEntry(0, uri("a"), uri("b")),
        w.ConsentScope(uri("a"), uri("b"), None),
        w.IdentifierRequest((w.QueryElement(7, b"given_name", b"Al"),
                             w.QueryElement(1, None, b"bob@b.example"))),
        w.IdentifierResponse(0, (uri("mimi://b.example/u/bob"),), (
            w.UserProfile(uri("mimi://b.example/u/bob"), (w.ProfileField(8, b"FN", b"Bob"),)),)),
        w.AbuseReport(uri("a"), uri("b"), 0, b"spam",
                      (w.AbusiveMessage(b"content", frank, NOW),)),
    ]


def test_every_structure_round_trips(mls: dict[str, Any]) -> None:
    kinds = set()
    for value in _examples(mls):
        _round_trip(value)
        kinds.add(type(value))
    assert len(kinds) == 15  # every request and response of section 5


def test_signed_structures_sign_their_prefix(mls: dict[str, Any]) -> None:
    req = _examples(mls)[0]
    priv, pub = SUITE.generate_signature_key_pair()
    req = dataclasses.replace(req, requester_signature_key=pub,
                              key_material_request_signature=b"")
    signed = dataclasses.replace(req, key_material_request_signature=SUITE.sign_with_label(
        priv, w.KeyMaterialRequest.SIGN_LABEL, req.tbs()))
    again = w.KeyMaterialRequest.from_bytes(signed.to_bytes())
    SUITE.verify_with_label(pub, w.KeyMaterialRequest.SIGN_LABEL, again.tbs(),
                            again.key_material_request_signature)
    assert signed.to_bytes().startswith(again.tbs())


def test_code_points_are_the_drafts() -> None:
    # 5.2 KeyMaterialRequest starts with Protocol mls10(1), then the requester's URI.
    req = w.KeyMaterialRequest(1, uri("x"), uri("y"), uri(""), (1,),
                               RequiredCapabilities((), (), ()), b"", Credential.basic(b""), b"")
    assert req.to_bytes()[:3] == b"\x01\x01x"
    assert w.UpdateRoomResponse(2, b"").to_bytes() == b"\x02\x00"
    assert w.ConsentScope(uri("a"), uri("b")).to_bytes() == b"\x01a\x01b\x00"
    assert w.GroupInfoResponse(1, b"", 2).to_bytes() == b"\x01\x00\x02"
    assert w.KeyMaterialUserCode.USER_DELETED == 7
    assert w.SearchIdentifierType.VCARD_FIELD == 8


@pytest.mark.parametrize("data,cls", [
    (b"\x02\x01x", w.KeyMaterialRequest),  # protocol 2 is not mls10
    (b"\x01\x09\x00", w.KeyMaterialResponse),  # user code 9 unknown
    (b"\x01\x04\x00" + b"\x02" + b"\x01\x00", w.KeyMaterialResponse),  # clients on 4
    (b"\x04\x00", w.UpdateRoomResponse),  # response code 4 unknown
    (b"\x00\x00", w.UpdateRoomResponse),  # success without its timestamp
    (b"\x01\x00\x00", w.GroupInfoResponse),  # GroupInfoCode 0 is reserved
    (b"\x01\x00\x01", w.GroupInfoResponse),  # success without its body
    (b"\x01a\x01b\x02", w.ConsentScope),  # optional presence octet 2
    (b"\x01a\x01b\x00\x00", w.ConsentScope),  # a trailing byte
    (b"\x05a", w.ConsentScope),  # a length past the end
    (b"\x01\x02\x00", w.IdentifierRequest),  # no search value
    (b"\x00\x00\x00\x06" + b"\x00\x09\x00\x00\x01\x00", w.IdentifierResponse),  # unsorted
    (b"\x00\x00\x00" + b"\x06" + b"\x00\x01\x00" * 2, w.IdentifierResponse),  # duplicate id
    (b"\x00", w.SubmitMessageRequest),  # protocol 0 reserved
    (b"\xff" * 9, w.FanoutMessage),
    (b"", w.AbuseReport),
])
def test_hostile_input_is_a_decode_error(data: bytes, cls: Any) -> None:
    with pytest.raises(DecodeError):
        cls.from_bytes(data)


def test_a_bundle_or_fanout_of_the_wrong_message_kind_is_refused(mls: dict[str, Any]) -> None:
    # an application message in an update, a KeyPackage in a fanout
    bad_update = mls["app"].to_bytes()
    with pytest.raises(DecodeError, match="proposal or a commit"):
        w.UpdateRequest.from_bytes(bad_update)
    bad_fanout = NOW.to_bytes(8, "big") + MLSMessage.wrap(mls["kp"]).to_bytes()
    with pytest.raises(DecodeError, match="framed message or a Welcome"):
        w.FanoutMessage.from_bytes(bad_fanout)


def test_every_truncation_of_every_example_is_a_decode_error(mls: dict[str, Any]) -> None:
    for value in _examples(mls):
        data = value.to_bytes()
        for cut in range(len(data)):
            with pytest.raises(DecodeError):
                type(value).from_bytes(data[:cut])


def test_user_uris() -> None:
    assert w.mimi_user_uri("bob@b.example") == "mimi://b.example/u/bob"
    assert w.account_of_user_uri("mimi://b.example/u/bob") == "bob@b.example"
    for bad in ("mimi://b.example/d/bob", "https://b.example/u/bob", "mimi://b.example/u/",
                "mimi:///u/bob", "mimi://b.example/u/bob/x"):
        with pytest.raises(DecodeError):
            w.account_of_user_uri(bad)


def test_directory_entries_are_urls() -> None:
    good = {"keyMaterial": "https://a.example/mimi/v1/keyMaterial/{targetUser}"}
    assert w.parse_directory(good) == good
    for bad in ([], {"keyMaterial": 3}, {"keyMaterial": "javascript:alert(1)"},
                {"keyMaterial": "https://" + "a" * 3000}):
        with pytest.raises(DecodeError):
            w.parse_directory(bad)


def test_room_uris() -> None:
    uri = w.mimi_room_uri("a.example", b"\x00\xff group")
    assert uri.startswith("mimi://a.example/r/")
    assert w.room_of_uri(uri) == ("a.example", b"\x00\xff group")
    for bad in ("mimi://a.example/u/x", "mimi://a.example/r/", "mimi://a.example/r/a+b",
                "mimi:///r/AA", "https://a.example/r/AA", "mimi://a.example/r/AA/x"):
        with pytest.raises(DecodeError):
            w.room_of_uri(bad)


def test_a_notify_body_is_one_to_max_concatenated_fanout_messages(mls: dict[str, Any]) -> None:
    messages = (w.FanoutMessage(NOW, mls["app"], frank=w.MaybeFrank(None)),
                w.FanoutMessage(NOW, mls["commit"], more_proposals=()))
    batch = w.FanoutBatch(messages)
    raw = batch.to_bytes()
    assert raw == b"".join(m.to_bytes() for m in messages)
    assert w.FanoutBatch.from_bytes(raw) == batch
    for bad in (b"", raw[:-1], raw + b"\x00"):
        with pytest.raises(DecodeError):
            w.FanoutBatch.from_bytes(bad)
    one = messages[0].to_bytes()
    assert len(w.FanoutBatch.from_bytes(one * w.MAX_FANOUT).messages) == w.MAX_FANOUT
    with pytest.raises(DecodeError, match="at most"):
        w.FanoutBatch.from_bytes(one * (w.MAX_FANOUT + 1))
