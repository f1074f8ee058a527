"""Delivery reports, and each message's status per recipient (issue 22).

A device that receives a text (or file) of another account owes its sender a
delivery report: ``note`` keeps the message's id in a bounded list per
conversation, and after the sync (``housekeeping``) ``send_due`` sends one
MIMI message status report (``accord.content.mimi_status``, through
``messaging.send_body`` and its sealing like any application message) naming
every due message as ``delivered``, at most ``MAX_RECEIPT_IDS`` per report.
Read reports are ``messaging.mark_read``'s.

Bounds, so that reports never feed on each other: only a ``Text`` is ever
reported (a report, a reaction, an edit, a notice is not), each message at
most once per kind (the list is cleared when its report is sent; ``mark_read``
keeps ``receipt_sent``), and nothing for a pending message request (T14).

``status`` is what the sender sees: per account that reported, ``read`` or
``delivered`` (read implies delivered).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from accord.client import rooms
from accord.content import Content, ReadReceipt, Text
from accord.content.model import MAX_RECEIPT_IDS
from accord.errors import AccordError, NotFound

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

__all__ = ["MAX_DUE", "note", "send_due", "status"]

DUE_KEY = "delivery_due"  # profile JSON: {conv_id: [message id hex, ...]}
MAX_DUE = 1024  # per conversation; beyond it the oldest go unreported


def note(dev: DeviceCore, conv_id: str, content: Content, account: str) -> None:
    """``content`` from ``account`` was received here: owe a delivery report for it."""
    if account == dev.identity.account or not isinstance(content.body, Text):
        return  # our own, or no message a person reads (never a report for a report)
    if not dev.settings.delivery_reports:
        return
    due = dev.store.get_json(DUE_KEY, {})
    ids = [*due.get(conv_id, []), content.message_id.hex()]
    due[conv_id] = list(dict.fromkeys(ids))[-MAX_DUE:]
    dev.store.put_json(DUE_KEY, due)


Send = Callable[["DeviceCore", dict[str, Any], ReadReceipt, int], Awaitable[bytes]]


async def send_due(dev: DeviceCore, conv: dict[str, Any], now: int, send: Send) -> int:
    """Send the delivery reports owed in ``conv`` with ``send`` (``messaging.send_body``);
    how many messages they named. A report that cannot go now (offline, a key change
    to confirm) stays owed."""
    cid = conv["conv_id"]
    owed = dev.store.get_json(DUE_KEY, {}).get(cid, [])
    if not owed:
        return 0
    index = rooms.index(dev, conv)
    ids = [bytes.fromhex(h) for h in owed]
    known = [i for i in ids if index.mimi_id(i) is not None and _exists(dev, i)]
    sent = 0
    try:
        for start in range(0, len(known), MAX_RECEIPT_IDS):
            batch = tuple(known[start:start + MAX_RECEIPT_IDS])
            await send(dev, conv, ReadReceipt((), batch), now)
            sent += len(batch)
    except AccordError:
        pass  # kept: sent at a later sync
    done = {i.hex() for i in known[:sent]} | {i.hex() for i in ids if i not in known}
    due = dev.store.get_json(DUE_KEY, {})
    left = [h for h in due.get(cid, []) if h not in done]
    if left:
        due[cid] = left
    else:
        due.pop(cid, None)
    dev.store.put_json(DUE_KEY, due)
    return sent


def _exists(dev: DeviceCore, msg_id: bytes) -> bool:
    try:
        return not dev.store.message(msg_id).deleted
    except NotFound:
        return False  # expired or never kept


def status(meta: dict[str, Any]) -> dict[str, str]:
    """A message's status per account that reported on it: ``read`` or ``delivered``."""
    out = dict.fromkeys(meta.get("delivered_to", []), "delivered")
    out.update(dict.fromkeys(meta.get("read_by", []), "read"))
    return dict(sorted(out.items()))
