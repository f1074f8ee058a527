"""The proven successions of each account, kept in the profile (issue 19).

A restore from backup publishes, in the account's transparency log, the old
device key's signature naming the new key its successor
(``accord.transparency.Succession``). Every lookup (``keycheck``) keeps the
ones whose signature holds, under ``kt:succ:ACCOUNT``, so that one seen once
still counts when later entries no longer carry it. ``keycheck`` (own
devices) and ``safety`` (verified contacts) read them. Kept apart from
``keycheck`` so that the send path, which checks ``safety``, loads no
transparency client (nor, until a verified contact is checked, the
transparency core).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.client.alerts import KvStore
from accord.wire import b64d, b64e

if TYPE_CHECKING:
    from accord.transparency import LogEntry

MAX_KEPT = 64  # per account, the newest


def successions(store: KvStore, account: str) -> list[tuple[bytes, bytes]]:
    """``(predecessor, successor)`` keys of ``account`` proven so far."""
    return [(b64d(a), b64d(b)) for a, b in store.get_json("kt:succ:" + account, [])]


def keep(store: KvStore, account: str, entry: LogEntry | None) -> None:
    """Add ``entry``'s successions whose predecessor's signature holds."""
    from accord.transparency import proven_successions  # lookups only, never a send

    kept = [[b64e(a), b64e(b)] for a, b in successions(store, account)]
    for s in proven_successions(account, entry):
        pair = [b64e(s.predecessor), b64e(s.successor)]
        if pair not in kept:
            kept.append(pair)
    if kept:
        store.put_json("kt:succ:" + account, kept[-MAX_KEPT:])
