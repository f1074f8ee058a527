"""Security alerts of a device (issue 7): kept in the profile until the person has seen them.

A key that is not in its owner's transparency log (T06), a device of our
own account that none of our devices approved (T05), a provider that shows
two heads that cannot both be true (T06, T07), a verified contact whose
keys changed: each becomes one alert. The CLI prints unseen alerts before
anything else (``accord listen`` and every command), then marks them seen.

An alert holds what a person needs to act (kind, account, provider, a short
key fingerprint, the evidence kind) and never a private key, a token or
message content. Alerts also land in the history of the conversations they
concern, as ``security`` events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Protocol

MAX_ALERTS = 500  # older seen alerts are dropped beyond this
# Called with (store, alert) for every new alert: the CLI prints it at once.
Listener = Callable[[Any, dict[str, Any]], None]
_listeners: list[Listener] = []

KINDS = ("key_not_in_log", "unknown_device", "split_view", "head_inconsistent",
         "provider_key_changed", "contact_key_changed", "log_unavailable",
         "key_packages_withheld", "transparency_withdrawn")


class KvStore(Protocol):
    def get_json(self, key: str, default: Any = None) -> Any: ...

    def put_json(self, key: str, value: Any) -> None: ...


def fingerprint(key: bytes) -> str:
    """A short, printable name for a public key (never the key's secret half)."""
    return hashlib.sha256(key).hexdigest()[:16]


def raise_alert(store: KvStore, kind: str, now: int, **detail: Any) -> dict[str, Any]:
    """Record an alert (deduplicated on kind and detail while unseen); the alert."""
    alert, new = _record(store, kind, now, detail)
    if new:
        for listener in list(_listeners):
            listener(store, alert)
    return alert


def keep(store: KvStore, alert: dict[str, Any]) -> None:
    """Record again, unseen and without telling the listeners (they were told), an
    alert raised inside a transaction that was rolled back (``inbox``)."""
    _record(store, alert["kind"], alert["at"], alert["detail"])


def _record(store: KvStore, kind: str, now: int, detail: dict[str, Any]
            ) -> tuple[dict[str, Any], bool]:
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}")
    alerts: list[dict[str, Any]] = store.get_json("alerts", [])
    for a in alerts:
        if not a["seen"] and a["kind"] == kind and a["detail"] == detail:
            return a, False
    alert = {"id": (alerts[-1]["id"] + 1) if alerts else 1, "at": now, "kind": kind,
             "detail": detail, "seen": False}
    alerts.append(alert)
    if len(alerts) > MAX_ALERTS:
        seen = [a for a in alerts if a["seen"]]
        drop = {a["id"] for a in seen[: len(alerts) - MAX_ALERTS]}
        alerts = [a for a in alerts if a["id"] not in drop]
    store.put_json("alerts", alerts)
    return alert, True


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call ``listener`` for each new alert until the returned function is called."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def all_alerts(store: KvStore) -> list[dict[str, Any]]:
    return list(store.get_json("alerts", []))


def pending(store: KvStore) -> list[dict[str, Any]]:
    return [a for a in store.get_json("alerts", []) if not a["seen"]]


def mark_seen(store: KvStore, ids: list[int] | None = None) -> int:
    alerts: list[dict[str, Any]] = store.get_json("alerts", [])
    n = 0
    for a in alerts:
        if not a["seen"] and (ids is None or a["id"] in ids):
            a["seen"] = True
            n += 1
    store.put_json("alerts", alerts)
    return n


def describe(alert: dict[str, Any]) -> str:
    """One line for a person."""
    d = alert["detail"]
    who = d.get("account") or d.get("provider") or ""
    texts = {
        "key_not_in_log": "a key offered for {who} is NOT in its provider's transparency log "
                          "(possible key substitution); it was refused",
        "unknown_device": "a device you did not approve was added to your account {who} "
                          "(key {key}); if it is not yours, your provider added it",
        "split_view": "provider {who} showed different key directories to different "
                      "people ({evidence})",
        "group_fork": "the hub of conversation {group} may show its members different "
                      "histories: {what} ({evidence})",
        "head_inconsistent": "provider {who} rewrote its key transparency log ({evidence})",
        "provider_key_changed": "provider {who} signs its log with a new key",
        "contact_key_changed": "the keys of verified contact {who} changed; compare the "
                               "safety number again before sending",
        "log_unavailable": "the transparency log of {who} could not be checked",
        "transparency_withdrawn": "provider of {who} offered key transparency before and now "
                                  "says it offers none (a downgrade); its keys were not "
                                  "accepted",
        "key_packages_withheld": "someone claimed your KeyPackages unusually often "
                                 "({count} claims held back by your provider's limits); "
                                 "a new last-resort KeyPackage was published",
    }
    kind = alert["kind"]
    if kind == "split_view" and "group" in d:  # a group's fork evidence (T07, fork_check)
        kind = "group_fork"
    text = texts.get(kind, kind).format(
        who=who, key=d.get("key", "?"), evidence=d.get("evidence", "?"),
        count=d.get("count", "?"), group=d.get("group", "?"), what=d.get("what", "?"))
    return f"SECURITY ALERT #{alert['id']}: {text}"
