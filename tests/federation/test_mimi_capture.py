"""Captured MIMI traffic decodes with the draft's structures (issue 22, the proof).

Three providers (a.example, b.example, c.example, ``--mimi-transport``) reach each
other only through recording proxies (``tests.federation.capture``). c.example, signing
with its real provider key, calls every MIMI endpoint its peers serve, as a provider
whose users are in a room a.example hubs; each request and answer that crossed a proxy
is then decoded by ``tests.federation.mimi_draft_decoder``, written from
draft-ietf-mimi-protocol-06 and RFC 9420 alone (not the encoder the server uses), and
must consume every byte. The decoder's own rules are checked first on bytes built by
hand from the drafts.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.mls import group as g
from accord.mls.codec import decode as mls_decode
from accord.mls.structs import Add
from accord.mls.structs.messages import MLSMessage
from accord.mls.suites import get_suite
from accord.privacy import server_frank
from accord.privacy.franking import message_aad
from accord.wire import messages as m
from accord.wire import mimi as w
from tests.federation import mimi_draft_decoder as draft
from tests.federation import mls_draft_decoder as rfc
from tests.federation.capture import (
    DRAFT_POSTS,
    Wire,
    captured_federation,
    draft_decode,
    endpoint_of,
)
from tests.federation.groups import join_from_queue, user
from tests.federation.malicious_provider import MaliciousProvider
from tests.federation.providers import Provider, signed_post
from tests.federation.test_mimi_room import (
    commit_bundle,
    consent,
    fanout,
    group_info_request,
    private,
    submit,
)
from tests.federation.test_mimi_transport import key_material_request
from tests.harness import group_path

A, B, C = "a.example", "b.example", "c.example"


# ------------------------------------------------------------------ the decoder's own rules

def test_varint_lengths_are_minimal_and_never_prefix_11() -> None:
    assert draft.Reader(b"\x25", "t").varint("x") == 37
    assert draft.Reader(bytes.fromhex("7bbd"), "t").varint("x") == 15293  # RFC 9420 2.1.2
    assert draft.Reader(bytes.fromhex("9d7f3e7d"), "t").varint("x") == 494878333
    for bad in (b"\x40\x25", b"\x80\x00\x3f\xff", b"\xc0", b"\x41"):
        with pytest.raises(draft.DraftError):
            draft.Reader(bad, "t").varint("x")


def test_every_byte_is_consumed_and_optionals_are_0_or_1() -> None:
    # SubmitMessageResponse: mls10, accepted, a timestamp, no frank
    ok = bytes([1, 0]) + (7).to_bytes(8, "big") + b"\x00"
    assert draft.decode_body("submitMessage", "response", ok) == {
        "protocol": 1, "statusCode": 0, "accepted_timestamp": 7, "frank": None}
    for bad in (ok + b"\x00", ok[:-1], ok[:-1] + b"\x02", bytes([2]) + ok[1:]):
        with pytest.raises(draft.DraftError):
            draft.decode_body("submitMessage", "response", bad)
    # the three endpoints the draft answers with no body
    for name in ("notify", "requestConsent", "reportAbuse"):
        assert draft.decode_body(name, "response", b"") is None
        with pytest.raises(draft.DraftError):
            draft.decode_body(name, "response", b"{}")


def test_a_user_code_that_lists_no_clients_lists_none() -> None:
    uri = b"mimi://b.example/u/bob"
    no_consent = bytes([1, 5, len(uri)]) + uri + b"\x00"  # noConsent, clients<V> empty
    assert draft.decode_body("keyMaterial", "response", no_consent)["userStatus"] == 5
    exhausted = bytes([1, len(b"mimi://b.example/d/x")]) + b"mimi://b.example/d/x"
    listed = bytes([1, 5, len(uri)]) + uri + bytes([len(exhausted)]) + exhausted
    with pytest.raises(draft.DraftError, match="must not list clients"):
        draft.decode_body("keyMaterial", "response", listed)
    partial = bytes([1, 1]) + listed[2:]  # partialSuccess may list them
    [client] = draft.decode_body("keyMaterial", "response", partial)["clients"]
    assert client == {"clientStatus": 1, "clientUri": "mimi://b.example/d/x"}


def test_a_ratchet_tree_ends_in_a_non_blank_node() -> None:
    """RFC 9420 12.4.3.3: no blank nodes after the last non-blank one."""
    parent = b"\x01\x02\x00\x00\x00"  # present, a ParentNode with empty fields
    assert draft.whole(b"\x00", "t", rfc.ratchet_tree) == []
    assert len(draft.whole(bytes([len(parent)]) + parent, "t", rfc.ratchet_tree)) == 1
    for bad in (b"\x01\x00", bytes([len(parent) + 1]) + parent + b"\x00"):
        with pytest.raises(draft.DraftError, match="blank nodes after"):
            draft.whole(bad, "t", rfc.ratchet_tree)


def test_the_directory_lists_urls_with_the_drafts_templates() -> None:
    good = b'{"update": "https://a.example/v1/update/{roomId}", "x-ext": "https://a.example/e"}'
    assert draft.directory(good)["update"].endswith("{roomId}")
    for bad in (b"[]", b"{}", b'{"update": "https://a.example/v1/update"}',
                b'{"notify": "/v1/notify/{roomId}"}', b'{"x": 1}'):
        with pytest.raises(draft.DraftError):
            draft.directory(bad)


# ------------------------------------------------------------------ live, captured

@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Provider], Wire]]:
    with captured_federation(tmp_path_factory.mktemp("capture"), [A, B, C],
                             withhold={d: DRAFT_POSTS for d in (A, B, C)}) as fed:
        yield fed


@dataclass(frozen=True)
class Via:
    """A provider as its peers reach it: through its recording proxy."""

    url: str


def room(key: str, hub: str, group_id: bytes) -> str:
    return f"/mimi/v1/{key}/" + quote(w.mimi_room_uri(hub, group_id), safe="")


def user_path(key: str, uri: str) -> str:
    return f"/mimi/v1/{key}/" + quote(uri, safe="")


async def test_every_mimi_exchange_a_peer_makes_decodes_with_the_draft(
    captured: tuple[dict[str, Provider], Wire], tmp_path: Path,
) -> None:
    provs, wire = captured
    via = {d: Via(wire.proxies[d].url) for d in provs}
    start = wire.mark()
    tag = secrets.token_hex(3)
    async with (httpx.AsyncClient(base_url=provs[A].url, timeout=20.0) as ha,
                httpx.AsyncClient(base_url=provs[B].url, timeout=20.0) as hb,
                httpx.AsyncClient(base_url=provs[C].url, timeout=20.0) as hc,
                httpx.AsyncClient(timeout=20.0) as out):
        c = MaliciousProvider(provs[C], out)  # c.example's own key, to its peers' proxies
        alice = await user(ha, f"alice{tag}@{A}")
        bob = await user(hb, f"bob{tag}@{B}")
        cathy = await user(hc, f"cathy{tag}@{C}")
        alice_uri, bob_uri = w.mimi_user_uri(alice.account), w.mimi_user_uri(bob.account)
        cathy_uri = w.mimi_user_uri(cathy.account)

        # 5.1: the directory (a public GET)
        r = await out.get(via[A].url + "/.well-known/mimi-protocol-directory")
        assert r.status_code == 200
        # 5.8: is bob at b.example?
        query = w.IdentifierRequest((w.QueryElement(1, None, bob.account.encode()),))
        r = await c.send(via[B], f"/mimi/v1/identifierQuery/{B}", query.to_bytes())
        assert r.status_code == 200, r.text
        # 5.7: cathy asks bob for consent; bob's provider hears of cathy's grant
        r = await c.send(via[B], user_path("requestConsent", bob_uri),
                         consent(w.ConsentOperation.REQUEST, cathy_uri, bob_uri))
        assert r.status_code == 201, r.text
        r = await c.send(via[B], user_path("updateConsent", bob_uri),
                         consent(w.ConsentOperation.GRANT, bob_uri, cathy_uri))
        assert r.status_code == 201, r.text

        # alice's room (a.example hubs it, its franking agent: 5.4.1) with cathy in it
        gid = secrets.token_bytes(16)
        hub_key = provs[A].key().public
        await alice.create_group(gid, server_frank.agent(A, hub_key).to_bytes())
        await alice.commit_add(await alice.claim(cathy.account))
        await join_from_queue(cathy)
        # 5.4: cathy says hello, with a franking tag: the hub franks and signs (5.4.1.2)
        hello, cathy.state = g.protect(cathy.state, b"hello",
                                       message_aad(bytes(8), secrets.token_bytes(32)))
        r = await c.send(via[A], room("submitMessage", A, gid), submit(hello, cathy_uri))
        assert r.status_code == 200, r.text
        # 5.4 again, sent by c.example itself: cathy posts with her session, her provider
        # names her to the hub (and itself in the From header, 4.1)
        msg, cathy.state = g.protect(cathy.state, b"sent by my provider")
        post = m.ApplicationPost(cathy.epoch(), secrets.token_bytes(16), bytes(msg.to_bytes()),
                                 bytes(64))
        await cathy.call("POST", group_path(gid, "/messages"), post, expect=201)
        # 5.2 then 5.3: cathy fetches bob's key material for the room and adds him
        km = key_material_request(cathy_uri, bob_uri)
        r = await c.send(via[B], user_path("keyMaterial", bob_uri), km.to_bytes())
        assert r.status_code == 200, r.text
        [client] = w.KeyMaterialResponse.from_bytes(r.content).clients
        assert client.key_package is not None
        [claimed] = await cathy.claim(bob.account)  # the hub checks b confirms the device
        body, merged, _ = commit_bundle(cathy, (Add(mls_decode(MLSMessage, claimed.key_package)
                                                    .message),))
        r = await c.send(via[A], room("update", A, gid), body)
        assert r.status_code == 200 and w.UpdateRoomResponse.from_bytes(r.content
                                                                       ).response_code == 0
        cathy.state = merged
        room_epoch = cathy.epoch()
        await join_from_queue(bob)  # 5.5: a.example fans the Welcome out to b.example
        # 5.6: the GroupInfo for a new device of cathy's
        raw, hpke_priv = group_info_request(f"{cathy.account}/second{tag}")
        r = await c.send(via[A], room("groupInfo", A, gid), raw)
        assert r.status_code == 200, r.text
        # 5.9: cathy reports alice's message (a frank the hub does not know: acknowledged)
        report = w.AbuseReport(w.IdentifierUri.of(cathy_uri), w.IdentifierUri.of(alice_uri),
                               0, b"", (w.AbusiveMessage(b"abuse", w.Frank(bytes(32), 0, b""),
                                                         1),))
        r = await c.send(via[A], room("reportAbuse", A, gid), report.to_bytes())
        assert r.status_code == 201, r.text

        # 5.5: cathy's own room (c.example hubs it) with bob; c fans a message out to b
        # (cathy's device now keeps this room's state)
        own = secrets.token_bytes(16)
        await cathy.create_group(own)
        await cathy.commit_add(await cathy.claim(bob.account))
        await join_from_queue(bob)
        r = await c.send(via[B], room("notify", C, own), fanout(private(cathy, b"hi bob")))
        assert r.status_code == 201, r.text

    seen: dict[str, int] = {}
    failed: list[str] = []
    opened: list[draft.D] = []
    for x in wire.since(start):
        if endpoint_of(x) in ("other", "accord-key"):
            continue  # Accord's own federation API, still used for the room set-up here
        try:
            name, _, _ = draft_decode(x)
            if name == "groupInfo":
                opened.append(group_info_tbe(x.response_body, hpke_priv))
        except draft.DraftError as exc:
            failed.append(str(exc))
            continue
        seen[name] = seen.get(name, 0) + 1
    assert not failed, "\n".join(failed)
    assert set(seen) == {"directory", *draft.BODIES}, seen
    assert seen["submitMessage"] == 2
    # 5.4.1.2: the hub's Frank of cathy's hello, signed under the room's suite with the
    # key of its franking agent, over the context the draft defines
    [answer] = [draft_decode(x)[2] for x in wire.since(start)
                if endpoint_of(x) == "submitMessage" and "from" not in x.request_headers]
    frank = answer["frank"]
    assert frank["franking_signature_ciphersuite"] == 1
    tbs = franking_integrity_tbs(frank["server_frank"], 1, cathy_uri, w.mimi_room_uri(A, gid),
                                 answer["accepted_timestamp"])
    Ed25519PublicKey.from_public_bytes(hub_key).verify(
        frank["franking_integrity_signature"], sign_content("FrankingIntegrityTBS", tbs))
    # 4.1: the request a provider sent itself names it in the From header
    [own] = [x for x in wire.since(start) if endpoint_of(x) == "submitMessage"
             and "from" in x.request_headers]
    assert own.request_headers["from"] == f"mimi@{C}" and own.sender == C
    # 5.6: what the hub encrypted to the new device decodes too: the GroupInfo of the
    # epoch cathy's commit opened, the whole tree (alice, cathy, bob), no pending proposal
    [tbe] = opened
    assert tbe["groupInfo"]["group_context"]["epoch"] == room_epoch
    assert len([n for n in tbe["ratchetTreeOption"]["ratchet_tree"]
                if n is not None and n["node_type"] == "leaf"]) == 3
    assert tbe["pending_proposals"] == []


def _v(data: bytes) -> bytes:
    """RFC 9420 2.1.2: ``opaque x<V>``, a minimal variable-length size then the bytes."""
    n = len(data)
    size = bytes([n]) if n < 64 else (0x4000 | n).to_bytes(2, "big") if n < 16384 \
        else (0x80000000 | n).to_bytes(4, "big")
    return size + data


def franking_integrity_tbs(server_frank_value: bytes, suite: int, sender: str, room_uri: str,
                           accepted: int) -> bytes:
    """draft-ietf-mimi-protocol-06 5.4.1.2: FrankingIntegrityTBS { server_frank[32];
    CipherSuite; ServerFrankingContext { IdentifierUri sender_uri; IdentifierUri
    room_uri; uint64 accepted_timestamp; } } (an IdentifierUri is ``opaque uri<V>``)."""
    assert len(server_frank_value) == 32
    return (server_frank_value + suite.to_bytes(2, "big") + _v(sender.encode())
            + _v(room_uri.encode()) + accepted.to_bytes(8, "big"))


def sign_content(label: str, content: bytes) -> bytes:
    """RFC 9420 5.1.2: what SignWithLabel signs, SignContent {"MLS 1.0 " + Label, Content}."""
    return _v(b"MLS 1.0 " + label.encode()) + _v(content)


def group_info_tbe(response: bytes, hpke_priv: bytes) -> draft.D:
    """5.6: ``EncryptWithLabel(groupInfoPublicKey, "GroupInfo and ratchet_tree
    encryption", room_id, GroupInfoRatchetTreeTBE)`` opened with the requester's key,
    decoded by the draft's structure."""
    resp = draft.whole(response, "GroupInfoResponse", draft.group_info_response)
    ct = resp["encrypted_groupinfo_and_tree"]
    plain = get_suite(resp["cipher_suite"]).decrypt_with_label(
        hpke_priv, "GroupInfo and ratchet_tree encryption", resp["room_id"],
        ct["kem_output"], ct["ciphertext"])
    return draft.whole(plain, "GroupInfoRatchetTreeTBE", draft.group_info_ratchet_tree_tbe)


async def test_T08_the_from_header_names_the_signer_or_nothing(
    captured: tuple[dict[str, Provider], Wire],
) -> None:
    """4.1: the source provider is named in the From header (``mimi@DOMAIN``); one that
    names another provider than the request's signer is refused."""
    provs, wire = captured
    query = w.IdentifierRequest((w.QueryElement(1, None, b"nobody@b.example"),)).to_bytes()
    async with httpx.AsyncClient(timeout=20.0) as out:
        for source, status in ((f"mimi@{A}", 401), (f"MIMI@{C}", 200), (None, 200)):
            req = signed_post(wire.proxies[B].url, f"/mimi/v1/identifierQuery/{B}", query, C,
                              provs[C].key().sign)
            if source is not None:
                req.headers["From"] = source
            r = await out.send(req)
            assert r.status_code == status, (source, r.text)
            if status == 401:
                assert "From header" in r.json()["message"]
