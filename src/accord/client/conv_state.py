"""A conversation's record on this device, and the room policy for changes others make.

The functions here change only the profile (no provider call, no MLS
operation): what a received commit, proposal or notice does to a
conversation (``roster_events``, ``check_removal_policy``, ``mark_left``,
``notice_changes_room``), and what being out of a group does
(``deactivate``). Both the modules that make changes (``conversations``)
and those that receive them (``messaging``, ``inbox``, ``consent``) use
them, so they sit below all of those.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.client.mls_session import split_identity
from accord.content import NoticeKind

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore


def conv_id_of(group_id: bytes) -> str:
    return group_id.hex()[:16]


def deactivate(dev: DeviceCore, conv: dict[str, Any], now: int, by: str) -> None:
    """We are out of the group: drop its keys, keep the history."""
    meta = dict(conv["meta"], active=False)
    dev.store.update_conversation(conv["conv_id"], meta=meta)
    dev.store.drop_group(conv["group_id"])
    kind = "left" if by == dev.identity.account else "removed"
    dev.store.add_event(conv["conv_id"], now, kind, {"by": by})


def mark_left(dev: DeviceCore, conv_id: str, account: str, now: int) -> None:
    """``account`` left (its notice or its own Remove proposals): the next member
    to sync commits the removal of its devices (``housekeeping``)."""
    meta = dev.store.conversation(conv_id)["meta"]
    if account in meta.get("left", []):
        return
    left = sorted({*meta.get("left", []), account})
    dev.store.update_conversation(conv_id, meta=dict(meta, left=left))
    dev.store.add_event(conv_id, now, "member_left", {"account": account})


def notice_changes_room(conv: dict[str, Any], kind: NoticeKind, subject: str) -> bool:
    """Whether a RENAMED / ADMINS_CHANGED notice would change ``conv``. The room policy
    (PROTOCOL.md): only an admin changes the room, but any member may add or remove
    devices of its own account, and the announcement that follows such an add only
    restates the room for the new device: a non-admin's notice that changes nothing
    is accepted (as a no-op), one that changes something is a security event."""
    if kind == NoticeKind.RENAMED:
        return bool(conv["name"] != subject)
    new = sorted(a for a in subject.split(",") if a)
    return bool(new != sorted(conv["meta"].get("admins", [])))


def check_removal_policy(dev: DeviceCore, conv: dict[str, Any], removed: tuple[bytes, ...],
                         by: str, now: int, added: frozenset[bytes] = frozenset()) -> None:
    """Room policy for removals (T08): an admin removes anyone; a member removes its own
    devices, a member who left, or a device of an account that gets another device in
    the same commit (a device replaced, ``device_replace``); else a security event."""
    conv = dev.store.conversation(conv["conv_id"])
    admins = conv["meta"].get("admins", [])
    left = set(conv["meta"].get("left", []))
    replaced = {split_identity(i)[0] for i in added}
    for ident in removed:
        account = split_identity(ident)[0]
        if (account == by or account in left or account in replaced or not admins
                or by in admins):
            continue
        dev.store.add_event(conv["conv_id"], now, "security",
                            {"what": f"{by} removed {account} without being an admin"})


def roster_events(dev: DeviceCore, conv: dict[str, Any], before: set[bytes], after: set[bytes],
                  by: str, now: int) -> None:
    """The events of a roster change from ``before`` to ``after`` (member identities)
    made by ``by``: members and devices added, removed or replaced (T05)."""
    accounts_before = {split_identity(i)[0] for i in before}
    accounts_after = {split_identity(i)[0] for i in after}
    gained = {split_identity(i)[0] for i in after - before}
    lost = {split_identity(i)[0] for i in before - after}
    for account in sorted(gained & lost):  # one device out, another in: a replacement
        dev.store.add_event(conv["conv_id"], now, "device_replaced", {
            "account": account, "by": by,
            "old": sorted(split_identity(i)[1] for i in before - after
                          if split_identity(i)[0] == account),
            "new": sorted(split_identity(i)[1] for i in after - before
                          if split_identity(i)[0] == account)})
    for ident in sorted(after - before):
        account, device = split_identity(ident)
        if account in lost:
            continue  # told as device_replaced
        kind = "device_added" if account in accounts_before else "member_added"
        dev.store.add_event(conv["conv_id"], now, kind,
                            {"account": account, "device": device, "by": by})
        dev.store.upsert_contact(account)
    for ident in sorted(before - after):
        account, device = split_identity(ident)
        if account in gained:
            continue
        kind = "device_removed" if account in accounts_after else "member_removed"
        dev.store.add_event(conv["conv_id"], now, kind,
                            {"account": account, "device": device, "by": by})
