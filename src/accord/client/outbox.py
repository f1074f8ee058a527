"""The durable outbox (issue 19): nothing a person sends is lost to an outage.

Texts (files' references included), reactions, edits and deletions are kept in
the encrypted profile (``store.outbox``) before the first attempt, and shown
in the history at once, marked pending. Each attempt encrypts the kept
content anew in the group's current epoch, after the key-change gate
(``safety.check_before_send``, via ``posting.post_sealed``): an MLS
generation is never used twice (RFC 9420 9.1), and a retry after the group
changed is checked like a first send. The content keeps its message id, so a
retry whose earlier attempt reached the provider after all is dropped as a
duplicate by every recipient.

What happens to an attempt's failure:

- the provider unreachable, failing (5xx) or rate limiting, the group
  changing under us or moving to a new group (a ReInit) we have not joined
  yet: *pending*, retried with exponential backoff (``now`` is
  an input) by the next sync: any command, ``accord listen``, the web app;
- a key change the person did not accept for this message: *held*, until
  ``accord outbox retry --confirm-key-change`` (never accepted on its own);
- anything else (out of the group, a 4xx refusal): *failed*, final, shown.

Items of one conversation go in order: a later one waits while an earlier one
is pending. Notices, receipts and timers are not queued (they belong to the
action that sends them, which fails instead).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from accord.client import rooms, safety
from accord.client.api import ServerError
from accord.client.posting import (
    GroupKeptChanging,
    GroupMoving,
    count_sent,
    post_sealed,
    require_member,
)
from accord.client.store import OutboxItem
from accord.content import Delete, Edit, Reaction, Sealed, Text, decode_body
from accord.content.model import BodyKinds, Content
from accord.errors import AccordError, NotFound, RateLimited, ValidationError

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

QUEUED = (Text, Reaction, Edit, Delete)
FIRST_RETRY_MS = 5_000
MAX_RETRY_MS = 3_600_000
MAX_PER_FLUSH = 200  # bounded work per command; the rest waits for the next one


def queued(body: BodyKinds) -> bool:
    return isinstance(body, QUEUED)


def backoff_ms(attempts: int) -> int:
    """The wait after the ``attempts``-th failed attempt: 5 s, 10 s, 20 s... up to 1 h."""
    return int(min(FIRST_RETRY_MS * 2 ** max(attempts - 1, 0), MAX_RETRY_MS))


def transient(exc: AccordError) -> bool:
    """Whether a later attempt may succeed without anyone doing anything."""
    return isinstance(exc, ServerError | RateLimited | GroupKeptChanging | GroupMoving)


def named_accounts(dev: DeviceCore, conv: dict[str, Any], now: int,
                   confirmed: bool | Collection[str]) -> frozenset[str]:
    """The accounts a confirmation covers, asked of the gate now: a retry later
    accepts only these, never a key change made after the person answered.
    Raises ``KeyChangeUnconfirmed`` when the gate refuses (nothing is queued then)."""
    accepted: frozenset[str] = frozenset() if confirmed is True else frozenset(confirmed or ())
    for _ in range(3):  # keys missing from a log, then changed contacts
        try:
            safety.check_before_send(dev, conv, now, confirmed=accepted)
            return accepted
        except safety.KeyChangeUnconfirmed as exc:
            if confirmed is not True or exc.accounts <= accepted:
                raise
            accepted |= exc.accounts
    return accepted


def enqueue(dev: DeviceCore, conv_id: str, content: Content, sealed: Sealed, now: int,
            confirmed: frozenset[str]) -> OutboxItem:
    """Keep ``content`` of ``conv_id``, marking its message (shown by the caller in the
    same transaction, ``messaging.send_body``) pending."""
    item = OutboxItem(content.message_id, conv_id, type(content.body).__name__.lower(),
                      sealed.plaintext, now, 0, now, "pending", "", confirmed)
    with dev.store.transaction():
        dev.store.outbox_add(item)
        _mark(dev, item.msg_id, "pending")
    return item


async def flush(dev: DeviceCore, now: int, *, conv_id: str | None = None, force: bool = False,
                confirmed: Collection[str] = ()) -> dict[bytes, AccordError | None]:
    """Attempt the due items (every pending one when ``force``; held ones too when
    ``confirmed`` accepts their key change); each attempted item's outcome."""
    outcomes: dict[bytes, AccordError | None] = {}
    waiting: set[str] = set()  # conversations whose earlier item is still pending
    for item in dev.store.outbox(conv_id)[:MAX_PER_FLUSH]:
        if item.conv_id in waiting or item.state == "failed":
            continue
        if item.state == "held" and not confirmed:
            waiting.add(item.conv_id)
            continue
        if item.state == "pending" and item.next_at > now and not force:
            waiting.add(item.conv_id)
            continue
        outcome = await attempt(dev, replace(item, confirmed=item.confirmed | set(confirmed)),
                                now)
        outcomes[item.msg_id] = outcome
        if outcome is not None and (transient(outcome)
                                    or isinstance(outcome, safety.KeyChangeUnconfirmed)):
            waiting.add(item.conv_id)
    return outcomes


async def attempt(dev: DeviceCore, item: OutboxItem, now: int) -> AccordError | None:
    """One attempt at ``item``; None when the provider took it, else the failure
    (recorded on the item as pending, held or failed)."""
    try:
        conv = dev.store.conversation(item.conv_id)
        require_member(dev, conv)  # removed or left: final
        await post_sealed(dev, conv, item.plaintext, now, confirmed=item.confirmed)
    except AccordError as exc:
        _failed(dev, item, exc, now)
        return exc
    with dev.store.transaction():
        dev.store.outbox_remove(item.msg_id)
        _mark(dev, item.msg_id, None)
        count_sent(dev, item.conv_id)
    return None


def _failed(dev: DeviceCore, item: OutboxItem, exc: AccordError, now: int) -> None:
    attempts = item.attempts + 1
    if isinstance(exc, safety.KeyChangeUnconfirmed):
        state, next_at = "held", now
    elif transient(exc):
        wait = backoff_ms(attempts)
        if isinstance(exc, RateLimited) and exc.retry_after_ms:
            wait = max(wait, exc.retry_after_ms)  # the provider said when (RFC 9110 10.2.3)
        state, next_at = "pending", now + wait
    else:
        state, next_at = "failed", now
    with dev.store.transaction():
        dev.store.outbox_update(item.msg_id, attempts=attempts, next_at=next_at, state=state,
                                error=str(exc))
        _mark(dev, item.msg_id, state)


def _mark(dev: DeviceCore, msg_id: bytes, state: str | None) -> None:
    """The delivery state on our own message (texts and files) for the history views."""
    try:
        meta = dict(dev.store.message(msg_id).meta)
    except NotFound:
        return  # a reaction, edit or deletion: its state is the outbox item's
    meta.pop("outbox", None)
    if state is not None:
        meta["outbox"] = state
    dev.store.update_message_meta(msg_id, meta)


def view(dev: DeviceCore, item: OutboxItem) -> dict[str, Any]:
    """An outbox item for the CLI and ``--json`` (the content's text is not repeated)."""
    m = decode_body(item.plaintext)  # our own MIMI content, as kept
    ref = {"reaction": m.in_reply_to, "edit": m.replaces, "delete": m.replaces}.get(item.kind)
    index = rooms.StoreIndex(dev.store, item.conv_id, dev.identity.account)
    target = index.accord_id(ref) if ref is not None else None
    return {"id": item.msg_id.hex(), "chat_id": item.conv_id, "kind": item.kind,
            "state": item.state, "attempts": item.attempts, "created_at": item.created_at,
            "next_attempt_at": item.next_at if item.state == "pending" else None,
            "error": item.error, "target": target.hex() if target else None}


def drop(dev: DeviceCore, prefix: str) -> OutboxItem:
    """Give up on an undelivered item (by id prefix); its message stays, marked failed."""
    prefix = prefix.strip().lower()
    hits = [i for i in dev.store.outbox() if i.msg_id.hex().startswith(prefix)] if prefix else []
    if len(hits) != 1:
        raise (NotFound if not hits else ValidationError)(
            f"{prefix!r} names {len(hits)} outbox items; give a unique id prefix")
    with dev.store.transaction():
        dev.store.outbox_remove(hits[0].msg_id)
        _mark(dev, hits[0].msg_id, "failed")
    return hits[0]
