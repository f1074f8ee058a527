"""Dead leaves out, replacement devices in (issue 19: device lifecycle).

A device can leave its account without a commit of its own: ``backup restore``
removes the backed-up device at the provider and certifies the restored one
(``accord.client.backup.relink``); a device removed from another device
whose conversations were not all reachable leaves leaves behind too. Its
leaves would stay in every group (encrypted to, never answering) and the
restored device would stay outside.

So, at most every ``Settings.device_check_ms`` (10 minutes), a device compares the leaves of each
active conversation with the directory: the devices of an account the
provider no longer lists are removed, and the devices it lists that are not
in the group are added, in ONE commit per conversation. Members see a
``device_replaced`` event (one device of the account out, another in), not
a removal; the new leaf's key is checked against the account's
transparency log like every claimed KeyPackage (T06,
``conversations.claim``), so the change is logged, not taken on trust.

Who commits: to keep members from racing with the same adds, one member
does it, deterministically: a device of the changed account itself when it
has another one in the group, else the member device with the smallest
MLS identity among the other accounts' current leaves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.client import conversations as convs
from accord.client.mls_session import split_identity
from accord.errors import NoDeviceList

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

MAX_ACCOUNTS = 100  # directory look-ups per refresh


def due(dev: DeviceCore, now: int) -> bool:
    last = dev.store.get_json("devices_refreshed_at")
    return last is None or not 0 <= now - int(last) < dev.settings.device_check_ms


async def refresh(dev: DeviceCore, now: int) -> int:
    """Replace the dead leaves this device is the one to commit for; how many commits."""
    dev.store.put_json("devices_refreshed_at", now)
    listed: dict[str, set[str]] = {}
    done = 0
    for conv in dev.store.conversations():
        if not conv["meta"].get("active", True) or conv["meta"].get("reinit"):
            continue
        stale = await _stale_leaves(dev, conv, listed)
        if stale:
            done += await _replace(dev, conv, stale, now)
    return done


async def _stale_leaves(dev: DeviceCore, conv: dict[str, Any],
                        listed: dict[str, set[str]]) -> list[bytes]:
    state = dev.store.load_group(conv["group_id"])
    stale = []
    for mb in dev.engine.members(state):
        account, device = split_identity(mb.identity)
        if account not in listed:
            if len(listed) >= MAX_ACCOUNTS:
                continue
            try:
                devices = (await dev.api.list_devices(account)).devices
            except NoDeviceList:  # its provider offers none (MIMI): no leaf is known stale
                devices = []
            listed[account] = {d.device_id for d in devices}
        # An account with no device left (deleted) is not a replacement: its member
        # leaves it (or an admin removes it); only dead devices of a live account go.
        if listed[account] and device not in listed[account]:
            stale.append(mb.identity)
    return stale


def committer(members: list[bytes], stale: list[bytes]) -> dict[str, bytes]:
    """For each account with a stale leaf, the leaf that commits its replacement."""
    alive = sorted(set(members) - set(stale))
    out = {}
    for account in sorted({split_identity(i)[0] for i in stale}):
        own = [i for i in alive if split_identity(i)[0] == account]
        others = [i for i in alive if split_identity(i)[0] != account]
        if own or others:
            out[account] = (own or others)[0]
    return out


async def _replace(dev: DeviceCore, conv: dict[str, Any], stale: list[bytes], now: int) -> int:
    state = dev.store.load_group(conv["group_id"])
    members = [mb.identity for mb in dev.engine.members(state)]
    me = dev.identity.mls_identity
    mine = [a for a, who in committer(members, stale).items() if who == me]
    if not mine:
        return 0
    present = set(members)
    suite = dev.engine.cipher_suite(state)
    adds: list[tuple[str, bytes]] = []
    for account in mine:
        adds += (await convs.claim(dev, account, present, now, suite,
                                   group_id=conv["group_id"]))[0]
    remove = [i for i in stale if split_identity(i)[0] in mine]
    return int(await convs.commit(dev, conv, now, add=adds, remove=remove))
