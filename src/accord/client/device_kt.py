"""Key transparency for a :class:`~accord.client.device_core.DeviceCore` (issue 7): the hooks it calls.

- :func:`verify_claimed`: before KeyPackages claimed for ``account`` are
  added to a group, each device key must be in ``account``'s log (T06).
  A failure refuses the whole add and raises an alert.
- Keys of a user whose provider offers no key transparency (a plain MIMI peer: our
  provider answers :class:`~accord.errors.NoTransparency`) are taken as *not
  transparency-checked* (``kt:unlogged``, :func:`take_unlogged`), never as checked:
  each conversation with such a member says so once (a ``security`` event,
  :func:`note_unlogged`) and ``safety.unlogged_members`` shows it. Never for our own
  provider, nor for a provider whose log this device has used before (its key pinned,
  ``kt:key:DOMAIN``): there "no transparency" is a downgrade, an alert
  (``transparency_withdrawn``) and a refusal (docs/PROTOCOL.md, T06).
- :func:`after_sync`: after each sync, (1) the leaves of every group we are
  in whose key was not checked yet (joined by Welcome, added by commits)
  are checked against their owners' logs; (2) if due, our own account's
  entry is checked for devices we did not approve (T05); (3) if due, the
  heads of the providers of our contacts are gossiped (T06, T07).

Which of our account's devices are approved (``kt:own_keys``): this
device's key; at this device's first check, the keys already in the log
(a device trusts the devices that were there before it; each of those
checks from its own start); devices this device linked (by the device
id the provider returned when it certified the key, pinned on first
check); keys the person approves (``accord verify --approve KEYPRINT``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from accord.client import alerts, keycheck, safety
from accord.client.keycheck import KeyChecker, KeyNotInLog, KtHttp, SplitView
from accord.client.mls_session import Member, split_identity
from accord.errors import AccordError, CryptoError, NotFound, NoTransparency
from accord.wire import b64d, b64e
from accord.wire.accounts import domain_of

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

GOSSIP_EVERY_MS = 3_600_000
UNLOGGED_EVENT = "keys not transparency-checked: the provider offers no key transparency"
MAX_NOTED = 10_000
MAX_CHECKS_PER_SYNC = 200  # member keys checked per sync; the rest waits for the next


def peers(dev: DeviceCore) -> dict[str, str]:
    return dict(dev.store.get_json("kt:peers", {}))


def set_peer(dev: DeviceCore, domain: str, url: str) -> None:
    dev.store.put_json("kt:peers", {**peers(dev), domain: url.rstrip("/")})


@asynccontextmanager
async def checker(dev: DeviceCore, transport: Any = None) -> AsyncIterator[KeyChecker]:
    ident = dev.identity
    http = KtHttp(ident.server, ident.domain, peers(dev),
                  transport if transport is not None else dev.transport)
    try:
        yield KeyChecker(dev.store, http)
    finally:
        await http.close()


def _security_event(dev: DeviceCore, account: str, now: int, what: str) -> None:
    for conv in dev.store.conversations():
        state = dev.store.load_group(conv["group_id"])
        if any(split_identity(mb.identity)[0] == account for mb in dev.engine.members(state)):
            dev.store.add_event(conv["conv_id"], now, "security",
                                {"account": account, "what": what})


class TransparencyWithdrawn(CryptoError):
    """A provider whose log this device used (or our own) now offers none (T06)."""


def had_transparency(dev: DeviceCore, domain: str) -> bool:
    """Whether ``domain`` must offer a log: one whose head key this device pinned (at
    its first verified head), and our own provider unless the first self-monitoring
    found it publishes no Accord document at all (:func:`own_unlogged`)."""
    if dev.store.get_json("kt:key:" + domain) is not None:
        return True
    return domain == dev.identity.domain and not own_unlogged(dev)


def _own_without_log(dev: DeviceCore, now: int) -> None:
    """Our provider answered that it offers no key transparency: a downgrade (alert,
    raise) once this device pinned its head key, else its state from now on."""
    domain = dev.identity.domain
    if dev.store.get_json("kt:key:" + domain) is not None:
        alerts.raise_alert(dev.store, "transparency_withdrawn", now, provider=domain)
        raise TransparencyWithdrawn(f"your provider {domain} offered key transparency "
                                    "before and now offers none", "T05")
    dev.store.put_json("kt:own_unlogged", True)
    dev.store.put_json("kt:monitored_at", now)


def own_unlogged(dev: DeviceCore) -> bool:
    """Our own provider offers no key transparency (a plain MIMI provider): no
    self-monitoring (T05) is possible, and the faces say so."""
    return bool(dev.store.get_json("kt:own_unlogged", False))


def unlogged(dev: DeviceCore) -> set[str]:
    """``account|key`` taken as not transparency-checked (no log offered)."""
    return set(dev.store.get_json("kt:unlogged", []))


def take_unlogged(dev: DeviceCore, account: str, keys: list[bytes], now: int) -> None:
    """After :class:`NoTransparency` for ``account``: keep its keys as not
    transparency-checked, or, for a provider that must offer a log
    (:func:`had_transparency`), alert and raise :class:`TransparencyWithdrawn`."""
    domain = domain_of(account)
    if had_transparency(dev, domain):
        alerts.raise_alert(dev.store, "transparency_withdrawn", now, provider=domain,
                           account=account)
        raise TransparencyWithdrawn(f"provider {domain} offered key transparency before and "
                                    "now offers none", "T06")
    dev.store.put_json("kt:unlogged", sorted(unlogged(dev)
                                             | {f"{account}|{b64e(k)}" for k in keys}))


def _member_keys(dev: DeviceCore) -> Iterator[tuple[dict[str, Any], Member, str, str]]:
    """``(conversation, member, account, "account|key")`` of every member leaf of every
    active conversation: the one walk for what is checked, unchecked or unlogged."""
    for conv in dev.store.conversations():
        if not conv["meta"].get("active", True):
            continue
        for mb in dev.engine.members(dev.store.load_group(conv["group_id"])):
            account = split_identity(mb.identity)[0]
            yield conv, mb, account, f"{account}|{b64e(mb.signature_key)}"


def note_unlogged(dev: DeviceCore, now: int) -> None:
    """One ``security`` event per conversation and key taken as not transparency-checked."""
    keys = unlogged(dev)
    if not keys:
        return
    noted = set(dev.store.get_json("kt:unlogged_noted", []))
    new = set()
    for conv, _, account, tag in _member_keys(dev):
        if tag in keys and f"{conv['conv_id']}|{tag}" not in noted | new:
            new.add(f"{conv['conv_id']}|{tag}")
            dev.store.add_event(conv["conv_id"], now, "security",
                                {"account": account, "what": UNLOGGED_EVENT})
    if new:
        dev.store.put_json("kt:unlogged_noted", sorted(noted | new)[-MAX_NOTED:])


async def verify_claimed(dev: DeviceCore, account: str, keys: list[bytes], now: int) -> None:
    """Raise :class:`KeyNotInLog` unless every key is in ``account``'s log (alerted);
    a provider offering no log: :func:`take_unlogged`."""
    try:
        async with checker(dev) as kc:
            await kc.verify_members([(account, k) for k in keys], now)
    except NoTransparency:
        take_unlogged(dev, account, keys, now)
        return
    _mark_checked(dev, [(account, k) for k in keys])


async def refresh_entry(dev: DeviceCore, kc: KeyChecker, account: str, now: int) -> None:
    """``account``'s proven keys and successions refreshed (a verified contact's key
    change, a safety number); nothing to refresh where its provider offers no log."""
    try:
        await kc.current_entry(account, now)
    except NoTransparency:
        if had_transparency(dev, domain_of(account)):
            take_unlogged(dev, account, [], now)  # raises: a downgrade


def _checked(dev: DeviceCore) -> set[str]:
    return set(dev.store.get_json("kt:checked", []))


def _mark_checked(dev: DeviceCore, pairs: list[tuple[str, bytes]]) -> None:
    done = _checked(dev) | {f"{a}|{b64e(k)}" for a, k in pairs}
    dev.store.put_json("kt:checked", sorted(done))


def unchecked_members(dev: DeviceCore) -> list[tuple[str, bytes]]:
    """``(account, key)`` of group leaves whose key was never checked against a log."""
    done = _checked(dev) | unlogged(dev)
    me = dev.identity.mls_identity
    out: dict[str, tuple[str, bytes]] = {}
    for _, mb, account, tag in _member_keys(dev):
        if mb.identity != me and tag not in done:
            out[tag] = (account, mb.signature_key)
    return [out[t] for t in sorted(out)]


def unproven(dev: DeviceCore) -> set[str]:
    """``account|key`` of group leaves whose key was not in the owner's log when checked."""
    return set(dev.store.get_json("kt:bad", []))


async def check_members(dev: DeviceCore, kc: KeyChecker, now: int) -> int:
    """Check unchecked leaves (Welcome joins, added devices); failures are remembered.

    A leaf that fails is an alert and a ``security`` event, and sending to its
    conversations waits for the person's confirmation (``safety.check_before_send``).
    """
    pairs = unchecked_members(dev)[:MAX_CHECKS_PER_SYNC]
    for account in sorted({a for a, _ in pairs}):
        mine = [(a, k) for a, k in pairs if a == account]
        try:
            entry = await kc.current_entry(account, now)
        except NoTransparency:
            try:
                take_unlogged(dev, account, [k for _, k in mine], now)
                continue
            except TransparencyWithdrawn:
                entry = None  # a downgrade: every key of it unproven
        bad = [k for _, k in mine
               if entry is None or entry.deleted or k not in entry.device_keys]
        for key in bad:
            alerts.raise_alert(dev.store, "key_not_in_log", now, account=account,
                               key=alerts.fingerprint(key))
        if bad:
            dev.store.put_json("kt:bad", sorted(unproven(dev)
                                                | {f"{account}|{b64e(k)}" for k in bad}))
            _security_event(dev, account, now, "a member key is not in its transparency log")
        # Checked (and alerted once) either way: an alert is not repeated at every sync.
        _mark_checked(dev, mine)
    return len(pairs)


async def _approve_linked(dev: DeviceCore, kc: KeyChecker) -> None:
    linked = set(dev.store.get_json("linked", []))
    pinned: dict[str, str] = dev.store.get_json("kt:linked_keys", {})
    if not linked - set(pinned):
        return
    for d in (await dev.api.list_devices(dev.identity.account)).devices:
        if d.device_id in linked and d.device_id not in pinned:
            pinned[d.device_id] = b64e(d.signature_key)
    dev.store.put_json("kt:linked_keys", pinned)
    kc.approve_own_keys(b64d(k) for k in pinned.values())


async def monitor(dev: DeviceCore, kc: KeyChecker, now: int) -> tuple[bytes, ...]:
    """Self-monitoring (T05): keys of our account in the log that no device of ours approved."""
    ident = dev.identity
    if dev.store.get_json("kt:own_keys") is None:
        entry = await kc.current_entry(ident.account, now)
        kc.approve_own_keys([dev.signature_public_key, *(entry.device_keys if entry else ())])
    await _approve_linked(dev, kc)
    return await kc.monitor_self(ident.account, dev.signature_public_key, now)


def approve(dev: DeviceCore, keyprint: str) -> int:
    """Approve our account's log keys whose fingerprint starts with ``keyprint``; how many."""
    seen = [b64d(k) for k in dev.store.get_json("kt:keys:" + dev.identity.account, [])]
    match = [k for k in seen if alerts.fingerprint(k).startswith(keyprint.lower())]
    if not keyprint or not match:
        raise NotFound("no key of your account in the log has that fingerprint")
    known = set(dev.store.get_json("kt:own_keys", []))
    dev.store.put_json("kt:own_keys", sorted(known | {b64e(k) for k in match}))
    return len(match)


def contact_domains(dev: DeviceCore) -> list[str]:
    own = dev.identity.domain
    domains = {domain_of(c["identity"]) for c in dev.store.contacts()
               if "@" in c.get("identity", "")}
    return sorted(domains - {own})


async def gossip(dev: DeviceCore, kc: KeyChecker, now: int) -> int:
    """Gossip each contact provider's head; how many split views were found."""
    found = 0
    for domain in contact_domains(dev)[:100]:
        try:
            if await kc.gossip(domain, now) is not None:
                found += 1
        except NoTransparency:
            if had_transparency(dev, domain):  # a downgrade: alerted, go on with the rest
                alerts.raise_alert(dev.store, "transparency_withdrawn", now, provider=domain)
    dev.store.put_json("kt:gossiped_at", now)
    return found


async def after_sync(dev: DeviceCore, now: int, *, force: bool = False) -> None:
    """The periodic duties; an unreachable log is an alert, never a crash of the sync."""
    safety.changed_contacts(dev, None, now)  # verified contacts whose keys changed (local)
    note_unlogged(dev, now)  # local too
    last = dev.store.get_json("kt:gossiped_at")
    gossip_due = force or last is None or not 0 <= now - int(last) < GOSSIP_EVERY_MS
    monitor_due = force or keycheck.monitor_due(dev.store, now)
    if not (gossip_due or monitor_due or unchecked_members(dev)):
        return  # nothing to ask a log: no connection at all
    async with checker(dev) as kc:
        try:
            if monitor_due:  # first: it finds whether our own provider has a log
                try:
                    await monitor(dev, kc, now)
                except NoTransparency:  # our provider publishes none (--mimi-plain)
                    _own_without_log(dev, now)
            await check_members(dev, kc, now)
            note_unlogged(dev, now)
            if gossip_due:
                await gossip(dev, kc, now)
            safety.changed_contacts(dev, None, now)
        except (KeyNotInLog, SplitView, TransparencyWithdrawn):
            pass  # already alerted
        except AccordError as exc:
            alerts.raise_alert(dev.store, "log_unavailable", now,
                               provider=dev.identity.domain, error=type(exc).__name__)
