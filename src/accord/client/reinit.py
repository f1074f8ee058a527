"""Moving a conversation to another cipher suite with ReInit (RFC 9420 11.2, T10).

1. The mover claims a KeyPackage in the new suite for every other device of
   the group (every one must offer it: nothing is committed otherwise).
2. It commits a ReInit proposal alone (12.1.5, 12.2) naming a fresh group id
   and the suite; once the hub accepts, the old group sends nothing more
   (12.4.2).
3. It creates the new group (hub: its own provider) whose first commit adds
   those KeyPackages with the reinit resumption PSK of the old group, and
   sends the Welcome. The conversation (its id, history, name and admins)
   continues in the new group.

Members who process the ReInit commit wait for that Welcome, and join with
the old group's state, so the engine checks the link (the reinit PSK, the
suite and group id the ReInit named, every old member present). The device
also requires the new group to have exactly the old group's members (no
one added on the way, T05). A ReInit to a suite this device ranks below the
current one (a downgrade) is refused and shown as a security event: the old
group then stays frozen (a member can always stop a conversation, by
leaving or by this). If the mover stops between steps 2 and 3, any member
may finish it (11.2): ``upgrade`` on a conversation with a ReInit pending
creates the group the ReInit names. What every member does with a merged
ReInit and its Welcome is ``reinit_state``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.client import conversations as convs
from accord.client import fork_check, rooms
from accord.client.mls_session import PQ_SUITE, epoch_keys
from accord.client.reinit_state import acceptable, move
from accord.errors import Conflict, ValidationError
from accord.wire import messages as m

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

async def upgrade(dev: DeviceCore, conv: dict[str, Any], now: int, suite: int = PQ_SUITE
                  ) -> dict[str, Any]:
    """Move ``conv`` to ``suite`` (default X-Wing), or finish the ReInit another member
    committed (any member may, RFC 9420 11.2); the conversation afterwards."""
    state = dev.store.load_group(conv["group_id"])
    current = dev.engine.cipher_suite(state)
    target = dev.engine.reinit_target(state)
    have: dict[bytes, tuple[str, bytes]] = {}
    if target is None:
        convs.require_admin(dev, conv)  # starting a move is the room's decision
        if current == suite:
            raise Conflict(f"the conversation already uses suite {suite:#06x}")
        if not acceptable(current, suite):
            raise ValidationError(f"suite {suite:#06x} would be a downgrade",
                                  "Accord: cipher suite (T10)")
        have = await _claim_everyone(dev, state, suite, now)  # before anything is committed
        await convs.commit(dev, conv, now, reinit=(dev.random_bytes(16), suite))
        conv = dev.store.conversation(conv["conv_id"])
        state = dev.store.load_group(conv["group_id"])
        target = dev.engine.reinit_target(state)
        if target is None:
            raise Conflict("the conversation changed; try again")
    if not acceptable(current, target[1]):  # another member's ReInit, a downgrade
        raise ValidationError(f"suite {target[1]:#06x} would be a downgrade",
                              "Accord: cipher suite (T10)")
    # The roster may have changed while we committed: claim for whoever is new.
    adds = await _claim_everyone(dev, state, target[1], now,
                                 have if target[1] == suite else {})
    await _create(dev, conv, list(adds.values()), now)
    return dev.store.conversation(conv["conv_id"])


async def _claim_everyone(dev: DeviceCore, state: bytes, suite: int, now: int,
                          have: dict[bytes, tuple[str, bytes]] | None = None
                          ) -> dict[bytes, tuple[str, bytes]]:
    """One KeyPackage in ``suite`` for every device of the group but ours (identity ->
    (device id, KeyPackage)), reusing those in ``have`` of devices still in it."""
    me = dev.identity.mls_identity
    wanted = {mb.identity for mb in dev.engine.members(state)} - {me}
    if not convs.fits_pq(suite, len(wanted) + 1):
        raise ValidationError(f"too many devices for suite {suite:#06x}",
                              "Accord: cipher suite (T10)")
    out = {i: v for i, v in (have or {}).items() if i in wanted}
    missing = wanted - set(out)
    for account in sorted({convs.split_identity(i)[0] for i in missing}):
        got, _ = await convs.claim(dev, account, {me}, now, suite)
        for device, kp in got:
            if convs.identity_of(account, device) in missing:
                out[convs.identity_of(account, device)] = (device, kp)
    missing -= set(out)
    if missing:
        names = ", ".join(sorted(i.decode() for i in missing))
        raise ValidationError(f"not every device offers suite {suite:#06x}: {names}",
                              "Accord: cipher suite (T10)")
    return out


async def _create(dev: DeviceCore, conv: dict[str, Any], adds: list[tuple[str, bytes]],
                  now: int) -> None:
    """Step 3: the new group, its first commit and Welcome; the conversation moves."""
    old = dev.store.load_group(conv["group_id"])
    target = dev.engine.reinit_target(old)
    assert target is not None
    out = dev.engine.reinit_group(old, [kp for _, kp in adds], now)
    assert out.created_info is not None
    posting, info, tree = epoch_keys(dev.engine, out.state)
    # Nobody posts in the new group's epoch 0 (its first commit is already made),
    # so the hub is given epoch 1's posting key from the start.
    try:
        created = await dev.api.create_group(target[0], posting, out.created_info)
    except Conflict:
        raise Conflict("another member is creating the new group; sync to join it") from None
    rooms.remember_hub(dev, target[0], created.hub)  # the room URI of MIMI IDs
    await dev.api.commit(target[0], m.CommitRequest(
        epoch=0, commit=out.commit, posting_key=posting, added=[d for d, _ in adds],
        removed=[], welcome=out.welcome, group_info=info, ratchet_tree=tree))
    with dev.store.transaction():
        move(dev, conv, out.state, dev.identity.account, now)
        # the hub never sends us our own first commit: its link starts our chain (T07)
        fork_check.on_own_commit(dev, dev.store.conversation(conv["conv_id"]), 0, out.commit,
                                 now)


