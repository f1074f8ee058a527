"""A follower's view of a MIMI room from MLS alone (accord.federation.mimi_roster), on real
MLS messages of suite 0x0001, without providers: the Welcome's tree, Adds placed by the
hub's rule after Removes, a Remove by reference, the epoch learnt and then held."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.errors import ValidationError
from accord.federation import mimi_roster
from accord.mls import group as g
from accord.mls.structs import Add, Credential
from accord.mls.suites import get_suite
from accord.wire import mimi as w

GID = b"roster-room"
NOW = int(time.time())


def add_of(identity: str) -> Add:
    kpp = g.key_package(get_suite(1), Credential.basic(identity.encode()),
                        Ed25519PrivateKey.generate().private_bytes_raw(), NOW)
    return Add(kpp.key_package)


def commit(state, *proposals):  # type: ignore[no-untyped-def]
    result, pending = g.commit(state, now=NOW, by_value=list(proposals))
    return bytes(result.commit.to_bytes()), g.merge_pending(pending)


def tree_of(state) -> w.RatchetTreeOption:  # type: ignore[no-untyped-def]
    return w.RatchetTreeOption(1, tuple(state.tree.nodes()))


def test_a_room_followed_from_its_tree_then_its_commits() -> None:
    alice = g.create_group(get_suite(1), GID, Credential.basic(b"alice@a.test/A1"),
                           Ed25519PrivateKey.generate().private_bytes_raw(), NOW)
    raw, alice = commit(alice, add_of("bob@b.test/B1"), add_of("carol@b.test/C1"))
    view = mimi_roster.from_tree(tree_of(alice), None)  # a Welcome: no epoch known
    assert view.leaves == {0: "alice@a.test/A1", 1: "bob@b.test/B1", 2: "carol@b.test/C1"}
    assert view.local("b.test") == ["B1", "C1"] and view.epoch is None

    # bob leaves by a Remove proposal, committed by reference; dave takes his leaf
    proposal, alice = g.propose_remove(alice, 1)
    old = alice
    p = mimi_roster.follow_proposal(view, bytes(proposal.to_bytes()), GID)
    assert (p.sender, p.account, p.view.epoch) == ("A1", "alice@a.test", 1)  # learnt
    result, pending = g.commit(alice, now=NOW, by_value=[add_of("dave@b.test/D1")])
    alice = g.merge_pending(pending)
    c = mimi_roster.follow_commit(p.view, bytes(result.commit.to_bytes()), GID,
                                  [bytes(proposal.to_bytes())])
    assert (c.sender, c.added, c.removed) == ("A1", ("D1",), ("B1",))
    assert c.view.leaves == {0: "alice@a.test/A1", 1: "dave@b.test/D1", 2: "carol@b.test/C1"}
    assert c.view == mimi_roster.from_tree(tree_of(alice), 2)  # the members' own tree
    assert mimi_roster.RoomView.from_bytes(c.view.to_bytes()) == c.view

    # a commit naming a proposal the follower was not handed, or of another epoch
    stale = commit(old)[0]
    with pytest.raises(ValidationError, match="a message of epoch 1, the room is at 2"):
        mimi_roster.follow_commit(c.view, stale, GID, [])
    proposal, alice = g.propose_remove(alice, 2)
    result, _ = g.commit(alice, now=NOW)
    with pytest.raises(ValidationError, match="not one accepted"):
        mimi_roster.follow_commit(c.view, bytes(result.commit.to_bytes()), GID, [])


def test_a_tree_naming_a_device_twice_and_a_commit_of_another_epoch_are_refused() -> None:
    alice = g.create_group(get_suite(1), GID, Credential.basic(b"alice@a.test/A1"),
                           Ed25519PrivateKey.generate().private_bytes_raw(), NOW)
    raw, alice = commit(alice, add_of("bob@b.test/B1"), add_of("bob@b.test/B1"))
    with pytest.raises(ValidationError, match="device at two leaves"):
        mimi_roster.from_tree(tree_of(alice), None)
    view = mimi_roster.RoomView(5, {0: "alice@a.test/A1"})
    other = g.create_group(get_suite(1), GID, Credential.basic(b"alice@a.test/A1"),
                           Ed25519PrivateKey.generate().private_bytes_raw(), NOW)
    raw, _ = commit(other, add_of("bob@b.test/B1"))  # epoch 0, not 5
    with pytest.raises(ValidationError, match="the room is at 5"):
        mimi_roster.follow_commit(view, raw, GID, [])
