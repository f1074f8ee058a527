"""A ReInit seen from a member (RFC 9420 11.2, T10): waiting for its Welcome, moving.

``accord.client.reinit`` starts or finishes a move (claims, commits, creates
the new group); this module holds what any member does when a ReInit commit
is merged (``started``: wait, or refuse a downgrade), when a Welcome may be
the new group (``pending``, ``on_welcome``), and the move itself (``move``).
A conversation waiting for its new group has ``META`` in its meta, and
nothing is posted to the old group then (``posting``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.client.mls_session import OFFERED_SUITES, split_identity

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

META = "reinit"  # meta: hex id of the new group a merged ReInit asks for


def acceptable(current: int, target: int) -> bool:
    """A ReInit this device follows: to an offered suite ranked no lower than ours."""
    if target not in OFFERED_SUITES:
        return False
    return current not in OFFERED_SUITES or (
        OFFERED_SUITES.index(target) <= OFFERED_SUITES.index(current))


def started(dev: DeviceCore, conv: dict[str, Any], state: bytes, by: str, now: int) -> None:
    """A merged commit of ``conv``'s group carried a ReInit: wait for its Welcome,
    unless it is a downgrade (then the group stays frozen, shown as a security event)."""
    target = dev.engine.reinit_target(state)
    if target is None:
        return
    current = dev.engine.cipher_suite(state)
    conv = dev.store.conversation(conv["conv_id"])
    if not acceptable(current, target[1]):
        dev.store.add_event(conv["conv_id"], now, "security", {
            "what": f"{by} asked to move this conversation from suite {current:#06x} to"
                    f" {target[1]:#06x}, which this device refuses (a downgrade)"})
        return
    dev.store.update_conversation(conv["conv_id"], meta=dict(conv["meta"], **{META: target[0].hex()}))
    dev.store.add_event(conv["conv_id"], now, "reinit_started",
                        {"by": by, "cipher_suite": f"0x{target[1]:04x}"})


def pending(dev: DeviceCore) -> list[tuple[dict[str, Any], bytes]]:
    """Conversations waiting for the Welcome of their ReInit, with their old states."""
    return [(c, dev.store.load_group(c["group_id"])) for c in dev.store.conversations()
            if c["meta"].get(META) and c["meta"].get("active", True)]


def on_welcome(dev: DeviceCore, waiting: list[tuple[dict[str, Any], bytes]], state: bytes,
               now: int) -> bool:
    """If ``state`` (just joined) is the new group of a ReInit we wait for, move that
    conversation into it (or refuse it, as a security event, when its members are
    not the old group's); whether it was one."""
    group_id = dev.engine.group_id(state)
    for conv, old in waiting:
        if conv["meta"][META] != group_id.hex():
            continue
        before = {mb.identity for mb in dev.engine.members(old)}
        after = {mb.identity for mb in dev.engine.members(state)}
        if before != after:  # RFC 9420 11.2: the same members; nobody slipped in (T05)
            extra = ", ".join(sorted(i.decode() for i in after ^ before))
            dev.store.add_event(conv["conv_id"], now, "security", {
                "what": "the new group of this conversation's ReInit does not have its"
                        f" members ({extra}); it is refused and the conversation stays"})
            return True  # handled: not joined, neither as this conversation nor as another
        by = split_identity(dev.engine.members(state)[0].identity)[0]
        move(dev, conv, state, by, now)
        return True
    return False


def move(dev: DeviceCore, conv: dict[str, Any], state: bytes, by: str, now: int) -> None:
    """The conversation continues in the group of ``state``; the old group's keys go."""
    group_id = dev.engine.group_id(state)
    dev.store.save_group(group_id, state, now)
    dev.store.move_conversation(conv["conv_id"], group_id)
    dev.store.drop_group(conv["group_id"])
    meta = {k: v for k, v in conv["meta"].items() if k != META}
    dev.store.update_conversation(conv["conv_id"], meta=dict(
        meta, sent_since_update=0, last_update=now))
    suite = dev.engine.cipher_suite(state)
    dev.store.add_event(conv["conv_id"], now, "reinit",
                        {"by": by, "cipher_suite": f"0x{suite:04x}"})
