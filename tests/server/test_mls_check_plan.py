"""The hub's commit plan (``commit_plan.leaf_plan``) on both kinds of group (T05, issue 17).

A group created with its GroupInfo has a public MLS state: the plan runs the
members' own checks on it and returns the next epoch's state. A group created
before the hub kept that state has none: the plan reads the roster change with
the hub's own resolution and returns no state. Both hold the declared roster
to the content. (The live attacks are in tests/federation/test_malicious_member.py.)
"""

from __future__ import annotations

import time

import pytest

from accord.errors import ValidationError
from accord.federation import commit_plan, mls_check
from accord.mls import group as g
from accord.mls.group import public
from accord.mls.structs import Add, Credential
from accord.mls.suites import get_suite
from accord.storage import CommitChange, GroupRecord

GID = b"g" * 16
ALICE = b"alice@alpha.test/a1"
BOB = b"bob@alpha.test/b1"


def _key() -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes_raw()


def _scene() -> tuple[bytes, bytes, bytes, bytes]:
    """(alice's GroupInfo of epoch 0, her commit adding bob, its Welcome, bob's key)."""
    now = int(time.time())
    alice = g.create_group(get_suite(1), GID, Credential.basic(ALICE), _key(), now)
    info = bytes(g.group_info(alice, with_external_pub=False).to_bytes())
    bob = g.key_package(get_suite(1), Credential.basic(BOB), _key(), now)
    result, _ = g.commit(alice, now=now, by_value=[Add(bob.key_package)])
    assert result.welcome is not None
    return (info, bytes(result.commit.to_bytes()), bytes(result.welcome.to_bytes()),
            bytes(bob.key_package.leaf_node.signature_key))


def _plan(commit: bytes, welcome: bytes, added: tuple[str, ...]):  # type: ignore[no-untyped-def]
    change = CommitChange(GID, 0, "a1", added, (), b"P" * 32)
    view = mls_check.view_commit(commit, GID, 0)
    return commit_plan.leaf_plan(view, change, mls_check.welcome_recipients(welcome), {}, ALICE,
                               commit, int(time.time() * 1000))


@pytest.mark.parametrize("kept", [True, False], ids=["public-state", "no-state"])
def test_T05_the_plan_reads_the_roster_change_with_or_without_public_state(kept: bool) -> None:
    info, commit, welcome, bob_key = _scene()
    state = public.from_group_info(info, int(time.time()))[0].to_bytes() if kept else None
    group = GroupRecord(GID, "alpha.test", 0, ("a1",), (0,))
    leaves, after = _plan(commit, welcome, ("b1",))(group, [], state)
    assert leaves == {"b1": (1, "bob@alpha.test", bob_key)}
    if kept:
        assert after is not None and public.PublicGroup.from_bytes(after).epoch == 1
    else:
        assert after is None
    with pytest.raises(ValidationError) as refused:  # the content adds b1, not x1
        _plan(commit, welcome, ("x1",))(group, [], state)
    assert refused.value.rule == "RFC 9420 12.1.1"
