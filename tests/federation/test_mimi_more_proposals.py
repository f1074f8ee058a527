"""A follower takes the proposals a fan-out carries beside its message
(draft-ietf-mimi-protocol-06 5.5, issue 22): a proposal's ``moreProposals`` (the rest
of its update's bundle, 5.3) and a commit's ``externalProposals`` (proposals of the
epoch the commit opens) are each followed and filed as a proposal, so a later commit
naming them by reference is followed. gamma.test hubs dave's room over MIMI; its
notifies are written here by hand (``evil`` signs as gamma)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from accord.mls import group as g
from accord.mls.structs.messages import MLSMessage
from accord.wire import mimi as w
from tests.federation.malicious_provider import MaliciousProvider
from tests.federation.providers import MlsDevice, Provider
from tests.federation.test_mimi_fanout import gamma_room_with_bob, notify_path, settle


@pytest.fixture(scope="module")
def providers(mimi_providers: dict[str, Provider]) -> Iterator[dict[str, Provider]]:
    yield mimi_providers


def notify(*messages: w.FanoutMessage) -> bytes:
    return w.FanoutBatch(messages).to_bytes()


def propose(dave: MlsDevice) -> tuple[MLSMessage, bytes]:
    """A proposal of dave's (a resumption PSK of the epoch, which bob can follow too)
    and its ProposalRef; kept in dave's state for his commit."""
    msg, dave.state = g.propose_psk(dave.state)
    return msg, dave.state.proposals[-1].ref


def commit(dave: MlsDevice, refs: list[bytes]) -> MLSMessage:
    res, pending = g.commit(dave.state, now=int(time.time()), proposals=refs)
    dave.state = g.merge_pending(pending)
    return res.commit


async def test_mimi_follower_files_more_proposals_and_external_proposals(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    beta = providers["beta"]
    dave, bob, gid = await gamma_room_with_bob(clients)
    path, at = notify_path(gid, "gamma.test"), 1_700_000_000_000
    (p1, ref1), (p2, ref2) = propose(dave), propose(dave)
    r = await evil.send(beta, path, notify(w.FanoutMessage(at, p1, more_proposals=(p2,))))
    assert r.status_code == 201, r.text
    items = await settle(bob, ["proposal", "proposal"])
    assert [i.body for i in items] == [p1.to_bytes(), p2.to_bytes()]
    for i in items:
        bob.read(i.body)
    # A commit naming both (the second known only from moreProposals) is followed,
    # with a proposal of the new epoch stapled to it as externalProposals.
    c1 = commit(dave, [ref1, ref2])
    p3, ref3 = propose(dave)
    r = await evil.send(beta, path, notify(w.FanoutMessage(at, c1, more_proposals=(p3,))))
    assert r.status_code == 201, r.text
    items = await settle(bob, ["commit", "proposal"])
    assert [i.body for i in items] == [c1.to_bytes(), p3.to_bytes()]
    for i in items:
        bob.read(i.body)
    # ... and so is the commit naming that one.
    c2 = commit(dave, [ref3])
    r = await evil.send(beta, path, notify(w.FanoutMessage(at, c2, more_proposals=())))
    assert r.status_code == 201, r.text
    (item,) = await settle(bob, ["commit"])
    bob.read(item.body)
    assert g.epoch_authenticator(bob.state) == g.epoch_authenticator(dave.state)


async def test_T08_mimi_a_stapled_proposal_of_the_wrong_epoch_is_refused(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """externalProposals are of the epoch the commit opens: one of the old epoch is
    refused, and with it the notify (bob gets nothing)."""
    beta = providers["beta"]
    dave, bob, gid = await gamma_room_with_bob(clients)
    old, _ = propose(dave)
    c1 = commit(dave, [])
    r = await evil.send(beta, notify_path(gid, "gamma.test"),
                        notify(w.FanoutMessage(1_700_000_000_000, c1, more_proposals=(old,))))
    assert r.status_code == 422 and "the room is at" in r.json()["message"], r.text
    assert (await bob.fetch()).items == []
