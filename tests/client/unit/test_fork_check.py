"""The device's side of fork detection (``fork_check``, T07): the hub's chain links of
commits and Welcomes, and the epoch tags of messages, kept per group in the profile."""

from __future__ import annotations

from pathlib import Path

from accord.client import alerts, fork_check
from accord.wire import messages as m

from .fakes import NOW, pair


def _commit(conv, epoch: int | None, chain: bytes | None, chain_seq: int | None,
            body: bytes = b"commit") -> m.QueueItem:
    return m.QueueItem(seq=99, msg_id="c", kind="commit", body=body, created_at=NOW,
                       group_id=conv["group_id"], epoch=epoch, chain_seq=chain_seq, chain=chain)


def _security(dev, conv) -> list[dict]:
    return [e["detail"] for e in dev.store.events(conv["conv_id"]) if e["kind"] == "security"]


def _split_views(dev) -> list[dict]:
    return [a["detail"] for a in alerts.all_alerts(dev.store)
            if a["kind"] == fork_check.ALERT_KIND]


async def test_T07_two_commits_for_one_epoch_raise_an_alert_and_an_event(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    g = p.groups[cb["group_id"]]
    epoch, link = g.epoch - 1, g.link  # the last commit bob followed
    fork_check.on_commit(bob, cb, _commit(cb, epoch, link, epoch), NOW)  # a redelivery
    assert _split_views(bob) == []
    fork_check.on_commit(bob, cb, _commit(cb, epoch, b"\x09" * 32, epoch), NOW)
    (alert,) = _split_views(bob)
    assert alert["evidence"] == "two_commits" and alert["epoch"] == epoch
    assert alert["group"] == cb["group_id"].hex()[:16]
    assert _security(bob, cb)[-1]["evidence"] == "two_commits"


async def test_T07_a_commit_without_its_link_fails_closed(tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    fork_check.on_commit(bob, cb, _commit(cb, 5, None, None), NOW)
    assert [a["evidence"] for a in _split_views(bob)] == ["chain_missing"]


async def test_T07_an_unreadable_message_is_evidence_of_nothing_and_alerts(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    item = m.QueueItem(seq=1, msg_id="a", kind="application", body=b"not MLS",
                       created_at=NOW, group_id=cb["group_id"], epoch=1)
    fork_check.on_application(bob, cb, item, NOW)
    assert [a["evidence"] for a in _split_views(bob)] == ["epoch_tag_missing"]


async def test_T07_keep_events_restores_the_history_of_a_rolled_back_item(
        tmp_path: Path) -> None:
    p, alice, bob, ca, cb = await pair(tmp_path)
    raised = [
        {"kind": fork_check.ALERT_KIND, "detail": {"group": cb["conv_id"], "evidence":
                                                   "withheld_commit", "epoch": 4, "what": "w"}},
        # the tag mismatch is recorded by messaging.receive itself
        {"kind": fork_check.ALERT_KIND, "detail": {"group": cb["conv_id"], "evidence":
                                                   "epoch_tag_mismatch", "epoch": 4, "what": "t"}},
        {"kind": "other", "detail": {}},
        {"kind": fork_check.ALERT_KIND, "detail": {"group": "0" * 16, "evidence": "two_commits",
                                                   "epoch": 1, "what": "x"}},  # no such chat
    ]
    fork_check.keep_events(bob, raised, NOW)
    assert _security(bob, cb) == [{"what": "w", "evidence": "withheld_commit", "epoch": 4}]
