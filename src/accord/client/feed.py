"""The live view (issue 19, ``accord listen`` and the web app): what changed in the
inbox since it was last looked at, as a list of typed items, and a follow loop
that reconnects with backoff.

What the user has seen is kept in the encrypted profile (``feed:seen``): for each
message a small fingerprint (text hash, deleted, reactions, readers) and the last
event id. ``news`` compares the store with it, so messages, edits, deletes,
reactions, read receipts and history events (members, devices, key updates,
security events) that arrived while nobody was listening are shown first, then
the live ones, by the same code.

Time is an input: ``follow`` takes the clock and the sleep function, so tests
drive the backoff without waiting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import websockets

from accord.client.api import DeviceRemoved, ServerError
from accord.client.history import describe_event, short_id
from accord.client.store import StoredMessage
from accord.errors import AuthError, NotFound, RateLimited

if TYPE_CHECKING:
    from accord.client.device import Device

SEEN_KEY = "feed:seen"
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
IDLE_S = 30.0  # reconnect a push session that was silent this long (keeps NATs honest)
Item = dict[str, Any]


def _fingerprint(m: StoredMessage) -> list[Any]:
    digest = hashlib.sha256(m.body.encode()).hexdigest()[:16]
    return [digest, m.deleted, m.meta.get("reactions", {}), m.meta.get("read_by", []),
            m.meta.get("delivered_to", [])]


def _all_messages(dev: Device) -> list[tuple[dict[str, Any], StoredMessage]]:
    return [(c, m) for c in dev.store.conversations()
            for m in dev.store.messages(c["conv_id"], 1_000_000)]


def load(dev: Device) -> dict[str, Any]:
    """What was seen; the first time, what ``snapshot`` says."""
    seen = dev.store.get_json(SEEN_KEY)
    if seen is None:
        seen = snapshot(dev)
        save(dev, seen)
    return dict(seen)


def snapshot(dev: Device) -> dict[str, Any]:
    """Everything now counts as seen except unread messages (``overview``'s read
    position): a first listen starts with what the user has not read yet."""
    last = dev.store.events_after(0)
    me = dev.identity.account
    msgs = {}
    for conv in dev.store.conversations():
        read_seq = int(conv["meta"].get("read_seq", 0))
        seqs = dev.store.seqs(conv["conv_id"])
        for m in dev.store.messages(conv["conv_id"], 1_000_000):
            if m.sender == me or seqs.get(m.msg_id, 0) <= read_seq:
                msgs[m.msg_id.hex()] = _fingerprint(m)
    return {"messages": msgs, "event": last[-1]["id"] if last else 0}


def save(dev: Device, seen: dict[str, Any]) -> None:
    dev.store.put_json(SEEN_KEY, seen)


def news(dev: Device, seen: dict[str, Any]) -> list[Item]:
    """Everything that changed since ``seen`` (which is updated), in order:
    per message its arrival or changes, then the history events."""
    out: list[Item] = []
    old_msgs: dict[str, list[Any]] = seen["messages"]
    for conv, m in _all_messages(dev):
        key = m.msg_id.hex()
        fp = _fingerprint(m)
        before = old_msgs.get(key)
        if before != fp:
            out += _message_changes(conv, m, before, fp)
            old_msgs[key] = fp
    names = {c["conv_id"]: c["name"] for c in dev.store.conversations()}
    for e in dev.store.events_after(int(seen["event"])):
        ev = {"kind": e["kind"], **e["detail"]}
        out.append({"type": "event", "chat": names.get(e["conv_id"], e["conv_id"]),
                    "chat_id": e["conv_id"], "at": e["at"], "kind": e["kind"],
                    "detail": e["detail"], "text": describe_event(ev)})
        seen["event"] = e["id"]
    return out


def _message_changes(conv: dict[str, Any], m: StoredMessage, before: list[Any] | None,
                     fp: list[Any]) -> list[Item]:
    base = {"chat": conv["name"], "chat_id": conv["conv_id"], "id": m.msg_id.hex(),
            "short_id": short_id(m.msg_id), "sender": m.sender, "at": m.sent_at}
    if before is None:
        if m.deleted:
            return []
        return [dict(base, type="message", text=m.body, reply_to=m.reply_to.hex()
                     if m.reply_to else None, edited=m.edited,
                     attachments=[a["file_name"] for a in m.meta.get("attachments", [])])]
    out: list[Item] = []
    if fp[1] and not before[1]:
        return [dict(base, type="delete")]
    if fp[0] != before[0] and not fp[1]:
        out.append(dict(base, type="edit", text=m.body))
    old_r, new_r = before[2], fp[2]
    for emoji in sorted(set(old_r) | set(new_r)):
        added = sorted(set(new_r.get(emoji, [])) - set(old_r.get(emoji, [])))
        removed = sorted(set(old_r.get(emoji, [])) - set(new_r.get(emoji, [])))
        if added:
            out.append(dict(base, type="reaction", emoji=emoji, by=added))
        if removed:
            out.append(dict(base, type="reaction_removed", emoji=emoji, by=removed))
    readers = sorted(set(fp[3]) - set(before[3]))
    if readers:
        out.append(dict(base, type="receipt", by=readers))
    return out


UNREACHABLE = (ServerError, OSError, TimeoutError, websockets.WebSocketException, RateLimited)


async def follow(dev: Device, now_fn: Callable[[], int], on_news: Callable[[list[Item]], None],
                 on_status: Callable[[str], None], *, deadline: float,
                 monotonic: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]], idle: float = IDLE_S) -> None:
    """Show news as items arrive until ``deadline`` (on ``monotonic``'s scale).
    When the provider is unreachable, retry after 1, 2, 4 ... 30 s and say so;
    raise ``DeviceRemoved`` when the provider refuses this device twice in a row
    (the second time after a fresh challenge-response login)."""
    seen = load(dev)

    def flush() -> None:
        items = news(dev, seen)
        save(dev, seen)
        if items:
            on_news(items)

    flush()  # what arrived since last seen (the catch-up sync ran before)
    delay, refused, down = BACKOFF_FIRST_S, 0, False

    def connected() -> None:
        nonlocal delay, refused, down
        refused = 0
        if down:
            down, delay = False, BACKOFF_FIRST_S
            on_status("reconnected")
        flush()

    while (left := deadline - monotonic()) > 0:
        try:
            await dev.listen(now_fn, idle_timeout=min(left, idle),
                             on_items=lambda _items: flush(), on_connected=connected)
        except DeviceRemoved:
            raise  # the provider refused the device's own fresh login: definitive
        except (AuthError, NotFound) as exc:
            refused += 1
            if refused >= 2:
                raise DeviceRemoved(str(exc)) from None
            continue  # the token may be stale (a restarted provider): log in again
        except UNREACHABLE as exc:
            down = True
            wait = min(delay, max(0.0, deadline - monotonic()))
            on_status(f"provider unreachable ({type(exc).__name__}); retrying in {wait:.0f} s")
            await sleep(wait)
            delay = min(delay * 2, BACKOFF_MAX_S)
        flush()
