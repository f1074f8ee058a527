"""Reporting a message to the provider (T13), and blocking its sender.

On receipt, the device checks the hub's Frank (MIMI 5.4.1.3, :func:`remember`)
and keeps what a report needs with the message, inside the encrypted profile:
the exact content bytes (the franking_tag is recomputed from them), the Frank,
its context (the sender URI the hub franked, empty for a hidden sender) and the
hub's time. ``report`` reveals exactly these, the group id and the sender's
account to this device's provider, which has the group's hub verify them
(docs/PRIVACY.md says who learns what).

A frank that does not verify (another suite, no franking_agent of the hub in a
room that has one, a signature over another sender, room, time or server frank)
does not stop the message: an altered frank says nothing of the sender, and a
provider on the way could drop the message as well. The message is shown, marked
``unfrankable`` with the reason, and cannot be reported with franking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.client import rooms
from accord.client.mls_session import Received, split_identity
from accord.content import decode_body
from accord.errors import AccordError, CryptoError, DecodeError, NotFound, ValidationError
from accord.privacy import server_frank
from accord.privacy.franking import split_aad
from accord.wire import federation as fw
from accord.wire import messages as m
from accord.wire import privacy as w
from accord.wire.mimi import room_of_uri
from accord.wire.mimi_frank import FrankingAgentData, decode_frank
from accord.wire.mimi_room import FRANKING_SIGNATURE_KEY

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore


def check_frank(dev: DeviceCore, group_id: bytes, item: m.QueueItem, r: Received) -> str:
    """The sender URI the hub's Frank of a received message covers (MIMI 5.4.1.3): the
    suite is the group's, the GroupContext's franking_agent names the hub, its
    signature verifies over the sender's user (or a hidden sender, ``""``), the
    room and the hub's time. ``CryptoError`` otherwise."""
    frank = decode_frank(item.frank)
    if frank is None:
        raise CryptoError("not a Frank")
    if split_aad(r.authenticated_data).franking_tag is None:
        raise CryptoError("a frank of a message that carries no franking tag")
    room = rooms.room_uri(dev, group_id)
    try:
        raw = dev.engine.group_component(r.state, FRANKING_SIGNATURE_KEY)
        agent = None if raw is None else FrankingAgentData.from_bytes(raw)
    except DecodeError as exc:
        raise CryptoError(f"the room's franking agent does not decode: {exc}") from None
    sender = rooms.sender_uri(split_identity(r.sender)[0])
    contexts = [server_frank.context(s, room, item.created_at) for s in (sender, None)]
    ctx = server_frank.verify_received(frank, dev.engine.cipher_suite(r.state), agent,
                                       room_of_uri(room)[0], contexts)
    return sender if ctx is None else ctx.sender_uri.text()


def remember(dev: DeviceCore, conv: dict[str, Any], item: m.QueueItem, r: Received) -> None:
    """Check and keep a received message's franking evidence (no-op for contents that
    are no message of their own: a reaction, receipt or edit)."""
    if item.frank is None or item.group_id is None or r.plaintext is None:
        return
    encoded = bytes(r.plaintext)  # the MIMI content, exactly as franked
    msg_id = decode_body(encoded).salt
    try:
        msg = dev.store.message(msg_id)
    except NotFound:
        return
    try:
        sender = check_frank(dev, conv["group_id"], item, r)
    except (CryptoError, ValidationError) as exc:
        dev.store.update_message_meta(msg_id, dict(msg.meta, unfrankable=str(exc)[:200]))
        return
    evidence = {"content": encoded.hex(), "frank": item.frank.hex(), "sender_uri": sender,
                "created_at": item.created_at, "group_id": item.group_id.hex()}
    dev.store.update_message_meta(msg_id, dict(msg.meta, franking=evidence))


async def report(dev: DeviceCore, conv: dict[str, Any], msg_id: bytes,
                 block: bool = False, reason_code: int = 0, note: str = ""
                 ) -> w.ReportResult:
    """Report a received message with the reporter's ``reason_code`` (MIMI 5.9's
    AbuseType, 0 to 255; 0: none given) and ``note`` (at most ``MAX_NOTE`` UTF-8
    octets). The answer's ``outcome``: ``verified`` by the hub, or ``acknowledged``
    by a hub reached over MIMI (5.9 tells no more); one that did not verify raises.
    The limits are the provider's (a ValidationError past them)."""
    msg = dev.store.message(msg_id)
    evidence = msg.meta.get("franking")
    if evidence is None:
        why = msg.meta.get("unfrankable")
        raise ValidationError("this message cannot be reported ("
                              + (f"its frank did not verify: {why})" if why
                                 else "no franking evidence kept)"))
    if msg.sender == dev.identity.account:
        raise ValidationError("this is your own message")
    req = w.ReportRequest(group_id=bytes.fromhex(evidence["group_id"]),
                          created_at=int(evidence["created_at"]),
                          content=bytes.fromhex(evidence["content"]),
                          frank=bytes.fromhex(evidence["frank"]), alleged_sender=msg.sender,
                          reason_code=reason_code, note=note)
    result = await dev.api._json(w.ReportResult, "POST", "/v1/reports", body=req, auth=True)
    if block:
        await dev.api._json(fw.BlockList, "POST", "/v1/blocks",
                            body=fw.BlockRequest(target=msg.sender), auth=True)
    if not result.verified and result.outcome != w.ACKNOWLEDGED:
        raise AccordError("the provider could not verify this report")
    dev.store.update_message_meta(msg_id, dict(msg.meta, reported=True))
    return result
