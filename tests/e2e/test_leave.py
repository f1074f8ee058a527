"""Leaving a group is a proposal of the leaver's own removal (RFC 9420 12.1.3): in a
MIMI room a SelfRemove (draft-ietf-mls-extensions 5.3) with the proposal taking the
leaver off the participant list (draft-ietf-mimi-protocol-06 3.5), committed by
another member by reference; the notice stays for the history."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from accord.client import conversations as convs
from accord.client import messaging
from accord.errors import AccordError
from accord.federation.mls_check import view_commit
from tests.e2e.helpers import Clock, fresh_account, new_device
from tests.federation.groups import arrive


def _record(obj: Any, name: str, log: list[Any]) -> None:
    """Observe calls to ``obj.name`` (arguments and result) without changing them."""
    real = getattr(obj, name)

    def wrapper(*args: Any, **kw: Any) -> Any:
        out = real(*args, **kw)
        log.append((args, kw, out))
        return out

    async def awrapper(*args: Any, **kw: Any) -> Any:
        out = await real(*args, **kw)
        log.append((args, kw, out))
        return out

    setattr(obj, name, awrapper if inspect.iscoroutinefunction(real) else wrapper)


async def test_leave_is_a_self_remove_and_unlisting_and_the_leaver_cannot_decrypt_after(
        server, tmp_path) -> None:
    clock = Clock()
    alice, bob, carol = [await new_device(tmp_path / n, fresh_account(n), server.url, clock)
                         for n in ("alice", "bob", "carol")]
    try:
        conv = await convs.create(alice, "club", [bob.identity.account, carol.identity.account],
                                  clock())
        await arrive(bob, "club", clock)
        await arrive(carol, "club", clock)
        proposed: list[Any] = []
        posted: list[Any] = []
        _record(carol.engine, "propose_remove", proposed)
        _record(carol.api, "propose", posted)
        await convs.leave(carol, convs.find(carol, "club"), clock())
        # carol has one device: its SelfRemove, and her user's unlisting (3.5)
        assert len(posted) == 2
        assert carol.identity.account in alice.engine.participants(
            alice.store.load_group(conv["group_id"]))
        carol_state = proposed[-1][2][1]  # carol's state, her own proposal cached
        assert not convs.find(carol, "club")["meta"]["active"]

        commits: list[Any] = []
        _record(alice.api, "commit", commits)
        await alice.sync(clock())  # alice caches the proposal and commits it by reference
        assert len(commits) == 1
        req = commits[0][0][1]
        view = view_commit(req.commit, conv["group_id"], req.epoch)
        assert [type(p) for p in view.proposals] == [bytes, bytes]  # both, by reference
        assert req.removed == [carol.identity.device_id]
        assert alice.engine.participants(alice.store.load_group(conv["group_id"])) == {
            alice.identity.account: 4, bob.identity.account: 2}
        events = alice.store.events(conv["conv_id"])
        assert [e["kind"] for e in events].count("member_left") == 1  # notice + proposal: once

        posts: list[Any] = []
        _record(alice.api, "post_application", posts)
        await messaging.send_text(alice, convs.find(alice, "club"), "after carol left", clock())
        await arrive(bob, "club", clock)
        assert carol.identity.account not in convs.members(bob, convs.find(bob, "club"))
        bodies = [m.body for m in bob.store.messages(convs.find(bob, "club")["conv_id"])]
        assert bodies[-1] == "after carol left"

        # With everything she had, carol learns only that she was removed ...
        r = carol.engine.process(carol_state, req.commit, clock())
        assert carol.identity.mls_identity in r.removed
        # ... and cannot read what follows the commit.
        ciphertext = posts[0][0][3]
        with pytest.raises(AccordError):
            carol.engine.process(r.state, ciphertext, clock())
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()
