"""The device's side of fork detection (T07): one :class:`ForkMonitor` per group.

``accord.client.inbox`` calls these before applying each item: the hub's
chain link of every commit and Welcome is checked, and the epoch and epoch
tag in the clear authenticated data of every application message are
compared with our own state *before* decryption (a forked member could not
decrypt it anyway). Each finding becomes a security alert
(``accord.client.alerts``, kind ``split_view``, printed first by every CLI
command) and a ``security`` event in the conversation's history.

Missing evidence is a finding too (issue 17, fail closed): a commit or
Welcome without the hub's link, an application item that is not a
PrivateMessage or whose authenticated data is not Accord's layout. The one
exception is a group the device's provider follows over MIMI fan-out, which
carries no links (``rooms.hub_links``, issue 22): there the epoch tags of the
application messages are the only evidence checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.client import rooms
from accord.client.alerts import raise_alert
from accord.client.mls_session import epoch_tag
from accord.errors import DecodeError, NotFound
from accord.privacy.fork_chain import ForkMonitor
from accord.privacy.franking import split_aad
from accord.privacy.sizes import private_message
from accord.wire import messages as m
from accord.wire.safe_aad import EPOCH_TAG

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

ALERT_KIND = "split_view"


def _key(group_id: bytes) -> str:
    return "fork:" + group_id.hex()


def _load(dev: DeviceCore, group_id: bytes) -> ForkMonitor:
    return ForkMonitor.from_json(dev.store.get_json(_key(group_id)))


def _save(dev: DeviceCore, conv: dict[str, Any] | None, group_id: bytes, mon: ForkMonitor,
          now: int) -> None:
    for a in mon.take_alerts():
        raise_alert(dev.store, ALERT_KIND, now, group=group_id.hex()[:16], evidence=a.kind,
                    epoch=a.epoch, what=a.detail)
        # messaging.receive already records a tag mismatch of a message it decrypts
        if conv is not None and a.kind != "epoch_tag_mismatch":
            _event(dev, conv["conv_id"], a.kind, a.epoch, a.detail, now)
    dev.store.put_json(_key(group_id), mon.to_json())


def _event(dev: DeviceCore, conv_id: str, evidence: str, epoch: int | None, what: str,
           now: int) -> None:
    dev.store.add_event(conv_id, now, "security",
                        {"what": what, "evidence": evidence, "epoch": epoch})


def keep_events(dev: DeviceCore, raised: list[dict[str, Any]], now: int) -> None:
    """The history events of fork alerts raised by an item that then failed: the
    inbox rolled the item back, events included, and keeps its alerts; the
    evidence belongs in the conversation's history as well."""
    for a in raised:
        d = a["detail"]
        if a["kind"] != ALERT_KIND or "group" not in d or d["evidence"] == "epoch_tag_mismatch":
            continue
        try:
            conv = dev.store.conversation(d["group"])  # the conversation id (conv_id_of)
        except NotFound:
            continue
        _event(dev, conv["conv_id"], d["evidence"], d["epoch"], d["what"], now)


def _no_links_expected(dev: DeviceCore, group_id: bytes, item: m.QueueItem) -> bool:
    """A commit or Welcome without a link in a group whose provider follows it over MIMI
    fan-out, which carries none (``rooms.hub_links``, issue 22): nothing to check."""
    return item.chain is None and not rooms.hub_links(dev, group_id)


def on_welcome(dev: DeviceCore, state: bytes, item: m.QueueItem, now: int) -> None:
    """A Welcome we joined with (``state``: the group it took us into)."""
    group_id = dev.engine.group_id(state)
    if _no_links_expected(dev, group_id, item):
        return
    mon = _load(dev, group_id)
    mon.joined(item.chain_seq, item.chain, dev.engine.epoch(state))
    _save(dev, None, group_id, mon, now)


def on_commit(dev: DeviceCore, conv: dict[str, Any], item: m.QueueItem, now: int) -> None:
    group_id = conv["group_id"]
    if _no_links_expected(dev, group_id, item):
        return
    mon = _load(dev, group_id)
    mon.commit(item.epoch, item.chain, item.body, item.chain_seq)
    _save(dev, conv, group_id, mon, now)


def on_own_commit(dev: DeviceCore, conv: dict[str, Any], epoch: int, commit: bytes,
                  now: int) -> None:
    """Our commit for ``epoch`` was accepted: it is the next link of our chain."""
    mon = _load(dev, conv["group_id"])
    mon.own_commit(epoch, commit)
    _save(dev, conv, conv["group_id"], mon, now)


def on_application(dev: DeviceCore, conv: dict[str, Any], item: m.QueueItem, now: int) -> None:
    epoch: int | None = None
    tag: bytes | None = None
    try:
        pm = private_message(item.body)
        epoch = int(pm.epoch)
        tag = split_aad(bytes(pm.authenticated_data)).epoch_tag
    except DecodeError:
        pass  # no evidence: ForkMonitor.application alerts (fail closed)
    state = dev.store.load_group(conv["group_id"])
    mon = _load(dev, conv["group_id"])
    # A room with a member that does not know Accord's epoch tag (a MIMI client) gets
    # untagged messages by design; every Accord member tags each one.
    expected = dev.engine.all_support_safe_aad(state, EPOCH_TAG)
    mon.application(epoch, tag, dev.engine.epoch(state), epoch_tag(dev.engine, state),
                    tag_expected=expected)
    _save(dev, conv, conv["group_id"], mon, now)
