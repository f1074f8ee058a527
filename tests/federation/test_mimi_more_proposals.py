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


def propose(dev: MlsDevice) -> tuple[MLSMessage, bytes]:
    """A proposal of ``dev``'s (a resumption PSK of the epoch, which others can follow
    too) and its ProposalRef; kept in its state for its commit."""
    msg, dev.state = g.propose_psk(dev.state)
    return msg, dev.state.proposals[-1].ref


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


# ------------------------------------------------------------------ the hub's side

def test_mimi_fanout_carries_a_bundles_proposals_as_more_proposals() -> None:
    """5.5: "The moreProposals list in a FanoutMessage MUST be the same as the
    corresponding moreProposals list in the HandshakeBundle": a run of one bundle's
    proposals in the queue goes as one FanoutMessage; other items go alone."""
    from accord.federation import hub, mimi_fanout
    from accord.mls.suites import get_suite
    from accord.wire import federation as fw
    from tests.mls.group_sim import NOW, identity

    cred, priv = identity(1, "alice")
    state = g.create_group(get_suite(1), b"room", cred, priv, NOW)
    proposals = []
    for _ in range(5):
        msg, state = g.propose_psk(state)
        proposals.append(msg)
    res, _ = g.commit(state, now=NOW, proposals=[])
    a, b = hub.bundle_ids(2), hub.bundle_ids(2)

    def item(msg_id: str, msg: MLSMessage, kind: str = "proposal") -> fw.FedItem:
        return fw.FedItem(msg_id=msg_id, kind=kind, group_id=b"room", epoch=0,
                          body=msg.to_bytes(), created_at=NOW, recipients=[])

    items = [item(a[0], proposals[0]), item(a[1], proposals[1]),
             item(hub.new_msg_id(), proposals[2]), item(b[0], proposals[3]),
             item(hub.new_msg_id(), res.commit, "commit"), item(b[1], proposals[4])]
    sent = [(f.message, f.more_proposals) for f in mimi_fanout.fanout_messages(items)]
    assert sent == [(proposals[0], (proposals[1],)), (proposals[2], ()),
                    (proposals[3], ()), (res.commit, ()), (proposals[4], ())]
    assert hub.bundle_of(hub.new_msg_id()) is None and hub.bundle_of(a[1]) == a[0][:22]


async def test_mimi_hub_keeps_a_bundles_proposals_as_one_bundle(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """The hub takes an update's proposals each through its one acceptance, under ids
    of one bundle, in order, which its fan-out carries together (above)."""
    from accord.federation import hub
    from tests.federation.test_mimi_room import room_path, room_with_carol, update_answer

    alpha = providers["alpha"]
    alice, carol, gid, _ = await room_with_carol(clients)
    seen = len((await alice.fetch()).items)
    (p1, _), (p2, _) = propose(carol), propose(carol)
    body = w.UpdateRequest(w.HandshakeBundle(p1, more_proposals=(p2,))).to_bytes()
    assert update_answer(await evil.send(alpha, room_path("update", gid), body)
                         ).response_code == w.UpdateResponseCode.SUCCESS
    items = (await alice.fetch()).items[seen:]
    assert [i.body for i in items] == [p1.to_bytes(), p2.to_bytes()]
    bundles = {hub.bundle_of(i.msg_id) for i in items}
    assert len(bundles) == 1 and None not in bundles
