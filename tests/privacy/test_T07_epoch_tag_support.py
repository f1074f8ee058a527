"""T07 in rooms with MIMI clients: Accord's epoch tag (Safe AAD component 0xAC02,
``accord.wire.safe_aad``) is Accord's own, so an Accord room requires only MIMI's
``frank_aad`` of its members, and members compare epoch tags where every member's
leaf supports the tag: a MIMI client's untagged message is then no fork evidence,
while a missing tag in a room of Accord members still alerts (fail closed)."""

from __future__ import annotations

import os

import pytest

from accord.client import mls_room
from accord.client.mls_rfc import RfcEngine
from accord.errors import ValidationError
from accord.mls import group as g
from accord.mls.codec import encode
from accord.mls.leaf_node import check_components, required_components, supports_safe_aad
from accord.mls.structs import Credential
from accord.mls.structs.app_data import ComponentId
from accord.mls.structs.messages import MLSMessage
from accord.mls.suites import get_suite
from accord.privacy.fork_chain import ForkMonitor
from accord.wire.safe_aad import EPOCH_TAG, FRANK_AAD
from tests.mls.test_required_components import dictionary

NOW_MS = 1_700_000_000_000
TAG, OTHER = b"\x01" * 8, b"\x02" * 8


def _mimi_client_kp(account: str) -> bytes:
    """A KeyPackage of a MIMI client that is not Accord: it supports the room's
    components and ``frank_aad``, not Accord's epoch tag."""
    cs = get_suite(1)
    priv, _ = cs.generate_signature_key_pair()
    leaf = dictionary((ComponentId.APP_COMPONENTS, *mls_room.COMPONENTS), (FRANK_AAD,))
    kpp = g.key_package(cs, Credential.basic(f"{account}/mimi1".encode()), priv,
                        NOW_MS // 1000, capabilities=mls_room.capabilities(1),
                        leaf_extensions=(leaf,))
    return encode(MLSMessage, MLSMessage.wrap(kpp.key_package))


def test_T07_an_accord_room_requires_only_frank_aad_so_a_mimi_client_may_join() -> None:
    exts = mls_room.group_extensions(b"alice@a.test/d1", "mimi://a.test/r/x")
    components, safe_aad = required_components(exts)
    assert safe_aad == (FRANK_AAD,)
    leaf = MLSMessage.from_bytes(_mimi_client_kp("carol@a.test")).message.leaf_node
    check_components(leaf, components, safe_aad, "the MIMI client's leaf")  # no error
    assert not supports_safe_aad(leaf, EPOCH_TAG) and supports_safe_aad(leaf, FRANK_AAD)
    with pytest.raises(ValidationError):  # had the room required Accord's tag
        check_components(leaf, components, (FRANK_AAD, EPOCH_TAG), "the MIMI client's leaf")


def test_T07_members_expect_the_epoch_tag_only_while_every_leaf_supports_it() -> None:
    engine = RfcEngine()
    priv, pub = engine.signature_keypair()
    state = engine.create_group(os.urandom(16), b"alice@a.test/d1", priv, pub, NOW_MS,
                                room="mimi://a.test/r/x")
    assert engine.all_support_safe_aad(state, EPOCH_TAG)  # Accord's leaves all tag
    out = engine.commit(state, add=[_mimi_client_kp("carol@a.test")], remove=[],
                        update=False, now=NOW_MS)
    assert not engine.all_support_safe_aad(out.state, EPOCH_TAG)
    assert engine.all_support_safe_aad(out.state, FRANK_AAD)


def test_T07_an_untagged_message_alerts_only_where_the_tag_is_expected() -> None:
    mon = ForkMonitor()
    mon.application(3, None, 3, TAG)  # every member tags: a missing tag is evidence
    assert [a.kind for a in mon.take_alerts()] == ["epoch_tag_missing"]
    mon.application(3, None, 3, TAG, tag_expected=False)  # a MIMI client's message
    assert mon.take_alerts() == []
    mon.application(3, OTHER, 3, TAG, tag_expected=False)  # a tagged one is still compared
    assert [a.kind for a in mon.take_alerts()] == ["epoch_tag_mismatch"]
    mon.application(5, None, 3, TAG, tag_expected=False)  # and every message's epoch
    assert [a.kind for a in mon.take_alerts()] == ["withheld_commit"]
