"""Reporting a message to the provider (T13), and blocking its sender.

On receipt, the device keeps what a report needs with the message, inside
the encrypted profile: the exact content bytes (whose salt keys the sender's
franking tag, draft-ietf-mimi-protocol-06 5.4.1.1), the hub's franking tag and time. ``report`` reveals exactly these, the group
id and the sender's account to this device's provider, which has the group's
hub verify them (docs/PRIVACY.md says who learns what).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.content import decode_body
from accord.errors import AccordError, NotFound, ValidationError
from accord.wire import federation as fw
from accord.wire import messages as m
from accord.wire import privacy as w

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore


def remember(dev: DeviceCore, item: m.QueueItem, plaintext: bytes) -> None:
    """Keep a received message's franking evidence (no-op for non-text contents)."""
    if item.franking_tag is None or item.group_id is None:
        return
    encoded = bytes(plaintext)  # the MIMI content, exactly as franked
    msg_id = decode_body(encoded).salt
    try:
        msg = dev.store.message(msg_id)
    except NotFound:
        return  # a reaction, receipt or edit: nothing to report on its own
    evidence = {"content": encoded.hex(), "tag": item.franking_tag.hex(),
                "created_at": item.created_at, "group_id": item.group_id.hex()}
    dev.store.update_message_meta(msg_id, dict(msg.meta, franking=evidence))


async def report(dev: DeviceCore, conv: dict[str, Any], msg_id: bytes,
                 block: bool = False) -> w.ReportResult:
    msg = dev.store.message(msg_id)
    evidence = msg.meta.get("franking")
    if evidence is None:
        raise ValidationError("this message cannot be reported (no franking evidence kept)")
    if msg.sender == dev.identity.account:
        raise ValidationError("this is your own message")
    req = w.ReportRequest(group_id=bytes.fromhex(evidence["group_id"]),
                          created_at=int(evidence["created_at"]),
                          content=bytes.fromhex(evidence["content"]),
                          franking_tag=bytes.fromhex(evidence["tag"]), alleged_sender=msg.sender)
    result = await dev.api._json(w.ReportResult, "POST", "/v1/reports", body=req, auth=True)
    if block:
        await dev.api._json(fw.BlockList, "POST", "/v1/blocks",
                            body=fw.BlockRequest(target=msg.sender), auth=True)
    if not result.verified:
        raise AccordError("the provider could not verify this report")
    dev.store.update_message_meta(msg_id, dict(msg.meta, reported=True))
    return result
