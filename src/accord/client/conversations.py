"""Conversations as MLS groups: create, add, remove, leave, rename, admins, members.

Every device of every member is a leaf (DESIGN.md). Adding a member claims
one KeyPackage for each of its devices; each claimed KeyPackage must carry
the credential ``account/device_id`` the directory says it belongs to and
the signature key the provider lists for that device.

Room policy is application-level (issue 5): the admins are a list of
accounts, announced with a signed ``Notice(ADMINS_CHANGED)`` inside the
group. A member accepts the first announcement it sees (from the member who
added it) and afterwards only announcements by an admin. A removal committed
by a non-admin (other than removing one's own devices or a member who left)
is shown as a security event (THREATS.md T08).

Cipher suite (T10): a new conversation uses the first suite the creating
device offers (X-Wing first, ``mls_session.OFFERED_SUITES``) in which every
device of every member has a KeyPackage, else 0x0001. KeyPackages are
claimed per suite, one member at a time, stopping at the first member that
cannot do the suite (the KeyPackages claimed before that are spent unused).

Commits go to the hub; when another commit took the epoch first
(``EpochConflict``) the device catches up and tries again, a bounded number
of times.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from accord.client import (
    consent,
    device_lists,
    first_contact,
    fork_check,
    messaging,
    mls_session,
    reinit_state,
    rooms,
    safety,
)
from accord.client.conv_state import conv_id_of, deactivate, roster_events
from accord.client.mls_session import (
    CLASSIC_SUITE,
    describe_suite,
    epoch_keys,
    identity_of,
    posting_public_key,
    split_identity,
)
from accord.client.safety import KeyChangeUnconfirmed
from accord.content import Notice, NoticeKind
from accord.errors import (
    AccordError,
    Conflict,
    ConsentRequested,
    EpochConflict,
    NotFound,
    ValidationError,
)
from accord.privacy import server_frank
from accord.wire import messages as m
from accord.wire.mimi import mimi_room_uri
from accord.wire.mimi_room import ROLE_ADMIN, ROLE_MEMBER

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore

COMMIT_ATTEMPTS = 4


MIN_ID_PREFIX = 4
MAX_NAME = 200


def find(dev: DeviceCore, name_or_id: str) -> dict[str, Any]:
    """The conversation a person names: every command resolves names here."""
    return resolve(dev.store.conversations(), name_or_id)


def resolve(convs: list[dict[str, Any]], query: str) -> dict[str, Any]:
    """The one conversation of ``convs`` that ``query`` names: its full id, else its
    name (case-insensitive), else a unique prefix of its id (at least 4 characters).
    Several matches are refused with the candidates and their ids, never the oldest."""
    q = query.strip()
    exact = [c for c in convs if c["conv_id"] == q.lower()]
    named = [c for c in convs if c["name"].casefold() == q.casefold()] if q else []
    prefixed = ([c for c in convs if c["conv_id"].startswith(q.lower())]
                if len(q) >= MIN_ID_PREFIX else [])
    for hits in (exact, named, prefixed):
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            listed = "; ".join(f"{c['name']!r} (id {c['conv_id']})" for c in hits)
            raise ValidationError(f"{query!r} names several conversations: {listed}; "
                                  "give the id (or a longer prefix of it)",
                                  "ambiguous conversation name")
    raise NotFound(f"no conversation {query!r}; see `accord chat list`")


def check_name(dev: DeviceCore, name: str, *, renaming: str | None = None) -> str:
    """A new name for a conversation (``renaming``: its id): not empty, not another
    conversation's name (compared case-insensitively, as ``resolve`` reads names)."""
    name = name.strip()
    if not name:
        raise ValidationError("a conversation needs a name", "conversation name")
    if len(name) > MAX_NAME:
        raise ValidationError(f"a conversation name has at most {MAX_NAME} characters",
                              "conversation name")
    taken = [c for c in dev.store.conversations()
             if c["name"].casefold() == name.casefold() and c["conv_id"] != renaming]
    if taken:
        raise ValidationError(f"you already have a conversation named {name!r} "
                              f"(id {taken[0]['conv_id']}); choose another name",
                              "conversation name")
    return name


def members(dev: DeviceCore, conv: dict[str, Any]) -> dict[str, list[str]]:
    """Each member account with its devices, from the MLS state itself."""
    state = dev.store.load_group(conv["group_id"])
    out: dict[str, list[str]] = {}
    for mb in dev.engine.members(state):
        account, device = split_identity(mb.identity)
        out.setdefault(account, []).append(device)
    return {a: sorted(d) for a, d in sorted(out.items())}


async def create(dev: DeviceCore, name: str, accounts: list[str], now: int,
                 kind: str = "group", *, confirmed: bool | Collection[str] = False,
                 first_message: str = "") -> dict[str, Any]:
    """Create ``name`` with every device of ``accounts`` (and our other devices). Saved
    only when the hub took the group and its first commit: a failure leaves nothing.
    ``confirmed``: the person's answer to the key-change gate (``claim``).
    ``first_message``: sent once the group exists; an invitee for whom this is a
    message request sees its first line, sealed to its device, before accepting."""
    ident = dev.identity
    name = check_name(dev, name)
    wanted = _accounts([ident.account, *accounts])
    await _key_change_gate(dev, wanted, now, confirmed)
    suite, adds = await _claim_in_best_suite(dev, wanted, {ident.mls_identity}, now,
                                             confirmed)
    group_id, state = await new_group(dev, now, suite)
    conv_id = conv_id_of(group_id)
    meta = {"admins": [ident.account], "admins_known": True, "timer": 0,
            "sent_since_update": 0, "last_update": now, "active": True}
    with dev.store.transaction():
        dev.store.save_group(group_id, state, now)
        dev.store.add_conversation(conv_id, group_id, name, kind, now, meta)
        dev.store.add_event(conv_id, now, "created", {"by": ident.account, "name": name,
                                                      "cipher_suite": suite})
    conv = dev.store.conversation(conv_id)
    # Our other devices join too: every device of every member is a leaf.
    if adds:
        try:
            await commit(dev, conv, now, add=adds, preview=first_message)
        except BaseException:
            # Nobody joined: forget the group (the hub keeps an empty one nobody uses),
            # so the name stays free and `send NAME` never goes to a leftover.
            dev.store.drop_conversation(conv_id)
            dev.store.drop_group(group_id)
            raise
        await announce(dev, conv, now)
    if first_message:
        await messaging.send_text(dev, dev.store.conversation(conv_id), first_message, now,
                                  confirmed=confirmed)
    return dev.store.conversation(conv_id)


async def new_group(dev: DeviceCore, now: int, suite: int) -> tuple[bytes, bytes]:
    """``(group id, state)`` of a new group of this device alone, hubbed by our provider:
    a MIMI room (draft-ietf-mimi-protocol-06 3.1) whose participant list has our
    account as admin and whose metadata has its URI. Not its name: the hub reads the
    GroupContext (T02), so the name travels in the members' notices only."""
    group_id = dev.random_bytes(16)
    state = dev.engine.create_group(group_id, dev.identity.mls_identity, dev._sig_priv(),
                                    dev.signature_public_key, now, suite,
                                    room=mimi_room_uri(dev.identity.domain, group_id),
                                    franking_agent=await franking_agent(dev, suite))
    created = await dev.api.create_group(group_id, posting_public_key(dev.engine, state),
                                         dev.engine.group_info(state))
    rooms.remember_hub(dev, group_id, created.hub)  # the room URI of MIMI IDs (issue 22)
    return group_id, state


async def franking_agent(dev: DeviceCore, suite: int) -> bytes | None:
    """The FrankingAgentData of our provider, the hub of the rooms we create (MIMI 5.4.1):
    its Ed25519 key from its discovery document, for a suite that signs with Ed25519;
    None otherwise (the hub then franks without a signature), and for a provider that
    publishes no Accord document (a plain MIMI provider: its franks are unsigned)."""
    if not server_frank.signs_with_ed25519(suite):
        return None
    doc = await dev.api.discovery()
    if doc is None:
        return None
    if doc.domain != dev.identity.domain:
        raise ValidationError("our provider's discovery document names another domain")
    return server_frank.agent(doc.domain, doc.signing_key).to_bytes()


def _accounts(accounts: list[str]) -> list[str]:
    return list(dict.fromkeys(a.strip().lower() for a in accounts))


async def _key_change_gate(dev: DeviceCore, accounts: list[str], now: int,
                           confirmed: bool | Collection[str]) -> None:
    """The gate ``claim`` applies, for every account at once before the first claim:
    a refusal for the last account spends no KeyPackage of the first."""
    for account in accounts:
        if safety.is_verified(dev, account):
            listed = await device_lists.listed_keys(dev, account)
            if listed is not None:  # else ``claim`` gates on the claim's answer
                await _gate(dev, account, list(listed.values()), now, confirmed)


async def _gate(dev: DeviceCore, account: str, keys: list[bytes], now: int,
                confirmed: bool | Collection[str]) -> None:
    """``safety.check_before_add``, after a fresh look at ``account``'s log when the keys
    listed are not the verified ones as far as this device knows: a restore's
    succession (issue 19) may be newer than the last lookup."""
    if safety.is_verified(dev, account) and not safety.unchanged(dev, account, keys):
        from accord.client import device_kt

        async with device_kt.checker(dev) as kc:  # proven keys and successions
            await device_kt.refresh_entry(dev, kc, account, now)
    safety.check_before_add(dev, account, keys, confirmed=confirmed)


def suite_of(dev: DeviceCore, conv: dict[str, Any]) -> dict[str, object]:
    """Which cipher suite protects ``conv`` now (T10), read from its MLS state;
    nulls once we are out of the group (its keys are gone)."""
    if not conv["meta"].get("active", True):
        return {"cipher_suite": None, "suite_name": None, "post_quantum": None}
    return describe_suite(dev.engine.cipher_suite(dev.store.load_group(conv["group_id"])))


async def _claim_in_best_suite(dev: DeviceCore, accounts: list[str], skip: set[bytes], now: int,
                               confirmed: bool | Collection[str]
                               ) -> tuple[int, list[tuple[str, bytes]]]:
    """The most preferred suite every device of ``accounts`` (but ``skip``) offers,
    with one claimed KeyPackage per device; 0x0001 (whatever it yields) otherwise,
    and for groups of more than ``PQ_MAX_DEVICES`` devices."""
    for suite in dev.settings.suites:
        if suite == CLASSIC_SUITE:
            break
        adds: list[tuple[str, bytes]] = []
        for account in accounts:
            got, complete = await claim(dev, account, skip, now, suite,
                                        confirmed=confirmed)
            adds += got
            if not complete or not fits_pq(suite, len(skip) + len(adds)):
                break  # a device does not offer the suite, or too many: fall back
        else:
            return suite, adds
    adds = []
    for account in accounts:
        adds += (await claim(dev, account, skip, now, CLASSIC_SUITE,
                             confirmed=confirmed))[0]
    return CLASSIC_SUITE, adds


def fits_pq(suite: int, devices: int) -> bool:
    """Whether a group of ``devices`` devices may use ``suite`` (the X-Wing size bound)."""
    return suite == CLASSIC_SUITE or devices <= mls_session.PQ_MAX_DEVICES


async def claim(dev: DeviceCore, account: str, skip: set[bytes], now: int, suite: int, *,
                confirmed: bool | Collection[str] = False, group_id: bytes | None = None
                ) -> tuple[list[tuple[str, bytes]], bool]:
    """``(device_id, KeyPackage)`` of ``suite`` for every device of ``account`` not in
    ``skip``, and whether every such device had one. ``group_id``: the existing group
    they are for (a provider sending over MIMI claims them through its hub, 5.2).

    Every path that adds someone's devices claims here (create, add, ReInit, device
    replacement), so the key-change gate (``_gate``) runs before any
    KeyPackage is claimed, let alone committed: a claimed key must be a listed one."""
    listed = await device_lists.listed_keys(dev, account)
    if listed is not None:
        await _gate(dev, account, list(listed.values()), now, confirmed)
    try:
        claim = await dev.api.claim_key_packages(account, suite, group_id)
    except ConsentRequested:  # the provider asked that user (MIMI 5.7): follow the answer
        consent.consent_asked(dev)
        raise
    if listed is None:  # no device list: the claim's clients, gated (and checked) after it
        listed = device_lists.claimed_keys(dev, claim, now, suite)
        await _gate(dev, account, list(listed.values()), now, confirmed)
    out = []
    for c in claim.key_packages:
        identity, sig_key = dev.engine.key_package_identity(c.key_package, now, suite)
        if identity in skip:
            continue
        if split_identity(identity) != (account, c.device_id) or listed.get(c.device_id) != sig_key:
            raise ValidationError(f"a KeyPackage for {account} does not match its device",
                                  "Accord directory binding (T06)")
        out.append((c.device_id, c.key_package))
    from accord.client import device_kt  # key transparency: ~0.1 s of imports, only here

    await device_kt.verify_claimed(dev, account, [listed[d] for d, _ in out], now)  # T06
    wanted = {d for d in listed if identity_of(account, d) not in skip}
    return out, wanted <= {d for d, _ in out}


async def add_members(dev: DeviceCore, conv: dict[str, Any], accounts: list[str], now: int, *,
                      confirmed: bool | Collection[str] = False) -> int:
    """Add every device of each account (and any device of theirs not yet in); how many.
    ``confirmed``: the person's answer to the key-change gate (``claim``).

    KeyPackages are claimed in the conversation's suite; a new member none of
    whose devices offers it cannot be added (T10: no silent downgrade)."""
    state = dev.store.load_group(conv["group_id"])
    suite = dev.engine.cipher_suite(state)
    present = {mb.identity for mb in dev.engine.members(state)}
    in_group = {split_identity(i)[0] for i in present}
    adds: list[tuple[str, bytes]] = []
    await _key_change_gate(dev, _accounts(accounts), now, confirmed)
    for account in _accounts(accounts):
        got, _ = await claim(dev, account, present, now, suite, confirmed=confirmed,
                             group_id=conv["group_id"])
        if not got and account not in in_group and suite != CLASSIC_SUITE:
            raise ValidationError(f"no device of {account} offers this conversation's cipher"
                                  f" suite {suite:#06x}", "Accord: cipher suite (T10)")
        adds += got
    if not adds:
        return 0
    if not fits_pq(suite, len(present) + len(adds)):
        raise ValidationError(f"a conversation in suite {suite:#06x} has at most"
                              f" {mls_session.PQ_MAX_DEVICES} devices",
                              "Accord: cipher suite (T10)")
    await commit(dev, conv, now, add=adds)
    await announce(dev, conv, now)
    return len(adds)


async def announce(dev: DeviceCore, conv: dict[str, Any], now: int) -> None:
    """Tell members (new ones especially) the conversation's name and admins."""
    conv = dev.store.conversation(conv["conv_id"])
    await messaging.send_body(dev, conv, Notice(NoticeKind.RENAMED, conv["name"]), now)
    admins = ",".join(conv["meta"].get("admins", []))
    await messaging.send_body(dev, conv, Notice(NoticeKind.ADMINS_CHANGED, admins), now)


async def remove_member(dev: DeviceCore, conv: dict[str, Any], account: str, now: int) -> int:
    require_admin(dev, conv)
    state = dev.store.load_group(conv["group_id"])
    gone = [mb.identity for mb in dev.engine.members(state)
            if split_identity(mb.identity)[0] == account]
    if not gone:
        raise NotFound(f"{account} is not a member")
    # In a MIMI room the same commit takes the account off the participant list (3.5).
    await commit(dev, conv, now, remove=gone, unlist=[account])
    return len(gone)


async def remove_devices(dev: DeviceCore, conv: dict[str, Any], identities: list[bytes],
                         now: int) -> None:
    await commit(dev, conv, now, remove=identities)


async def leave(dev: DeviceCore, conv: dict[str, Any], now: int) -> None:
    """Leave: a notice for the history, then Remove proposals of our account's leaves
    (RFC 9420 12.1.3: a member may propose its own removal; in a MIMI room our own
    leaf's is a SelfRemove, with a proposal taking our account off the participant
    list, draft-ietf-mimi-protocol-06 3.5); another member commits them. We forget
    the group's keys now."""
    consent.require_accepted(conv)  # T14: a request is blocked, not left
    account = dev.identity.account
    # The key-change gate may hold the notice back; our Remove proposals still go.
    with contextlib.suppress(KeyChangeUnconfirmed):
        await messaging.send_body(dev, conv, Notice(NoticeKind.MEMBER_LEFT, account), now)
    for _ in range(COMMIT_ATTEMPTS):
        state = dev.store.load_group(conv["group_id"])
        mine = [mb.identity for mb in dev.engine.members(state)
                if split_identity(mb.identity)[0] == account]
        proposals, _ = dev.engine.propose_remove(state, mine)
        try:
            for proposal in proposals:
                await dev.api.propose(conv["group_id"], dev.engine.epoch(state), proposal)
            break
        except (EpochConflict, Conflict):
            await dev.catch_up(now)  # a commit came first: propose in the new epoch
            conv = dev.store.conversation(conv["conv_id"])
            if not conv["meta"].get("active", True):
                return
    # Without the proposals (the group kept changing) the notice still makes the
    # others commit our removal.
    deactivate(dev, conv, now, account)


async def rename(dev: DeviceCore, conv: dict[str, Any], name: str, now: int) -> None:
    require_admin(dev, conv)
    name = check_name(dev, name, renaming=conv["conv_id"])
    await messaging.send_body(dev, conv, Notice(NoticeKind.RENAMED, name), now)
    dev.store.update_conversation(conv["conv_id"], name=name)


async def set_admins(dev: DeviceCore, conv: dict[str, Any], admins: list[str], now: int) -> None:
    require_admin(dev, conv)
    admins = sorted(dict.fromkeys(a.strip().lower() for a in admins))
    if not admins:
        raise ValidationError("a conversation keeps at least one admin")
    # The notice first: it passes the key-change gate (T06) before anything is sent.
    await messaging.send_body(dev, conv, Notice(NoticeKind.ADMINS_CHANGED, ",".join(admins)), now)
    # In a MIMI room the participants' roles follow (the room policy's set_role).
    listed = dev.engine.participants(dev.store.load_group(conv["group_id"])) or {}
    roles = {a: role for a, old in listed.items()
             if (role := ROLE_ADMIN if a in admins else ROLE_MEMBER) != old}
    if roles:
        await commit(dev, conv, now, roles=roles)
    meta = dict(dev.store.conversation(conv["conv_id"])["meta"], admins=admins)
    dev.store.update_conversation(conv["conv_id"], meta=meta)


def require_admin(dev: DeviceCore, conv: dict[str, Any]) -> None:
    admins = conv["meta"].get("admins", [])
    if admins and dev.identity.account not in admins:
        raise ValidationError("only an admin of this conversation may do that", "room policy")


async def _declared_removals(dev: DeviceCore, conv: dict[str, Any], state: bytes,
                             rm: list[bytes]) -> list[str]:
    """The device ids a commit removing ``rm`` declares to the hub: a device of a
    deleted account has none any more, and its leaf goes as ``erased_leaf`` (T18)."""
    if not rm:
        return []
    erased = set((await dev.api.group(conv["group_id"])).erased)
    leaf = {mb.identity: mb.leaf_index for mb in dev.engine.members(state)}
    return [m.erased_leaf(leaf[i]) if leaf[i] in erased else split_identity(i)[1]
            for i in rm]


async def commit(dev: DeviceCore, conv: dict[str, Any], now: int, *,
                 add: list[tuple[str, bytes]] = (), remove: list[bytes] = (),  # type: ignore[assignment]
                 update: bool = False, reinit: tuple[bytes, int] | None = None,
                 preview: str = "", unlist: Sequence[str] = (),
                 roles: Mapping[str, int] | None = None) -> bool:
    """Commit a roster change, an update or a ReInit (``(new group id, suite)``,
    ``accord.client.reinit``) at the hub; False when nothing was left to do.
    In a MIMI room the engine lists the users of added devices and takes the accounts
    ``unlist`` off the participant list in the same commit, and sets ``roles``.
    Added devices of other accounts get a sealed first-contact request with
    ``preview`` (issue 18), which their provider hands on only with a message request."""
    consent.require_accepted(conv)  # T14: no commit for a pending request
    for _ in range(COMMIT_ATTEMPTS):
        state = dev.store.load_group(conv["group_id"])
        present = {mb.identity for mb in dev.engine.members(state)}
        rm = [i for i in remove if i in present]
        if not add and not rm and not update and reinit is None and not roles:
            return False
        if reinit is not None and dev.engine.reinit_target(state) is not None:
            return False  # a ReInit came first (we caught up): that one stands
        out = (dev.engine.commit_reinit(state, *reinit, now) if reinit is not None else
               dev.engine.commit(state, add=[kp for _, kp in add], remove=rm, update=update,
                                 now=now, unlist=unlist, roles=roles))
        sealed = [] if out.welcome is None or not add else first_contact.seal_for(
            dev, conv["group_id"], out.welcome, add, dev.engine.cipher_suite(state), preview,
            now)
        posting, info, tree = epoch_keys(dev.engine, out.state)
        req = m.CommitRequest(
            epoch=dev.engine.epoch(state), commit=out.commit, posting_key=posting,
            added=[d for d, _ in add], removed=await _declared_removals(dev, conv, state, rm),
            welcome=out.welcome, first_contact=sealed, group_info=info, ratchet_tree=tree)
        try:
            await dev.api.commit(conv["group_id"], req)
        except (EpochConflict, Conflict):
            await dev.catch_up(now)  # someone else committed first: catch up, try again
            conv = dev.store.conversation(conv["conv_id"])
            if not conv["meta"].get("active", True):
                return False
            continue
        with dev.store.transaction():
            dev.store.save_group(conv["group_id"], out.state, now)
            fork_check.on_own_commit(dev, conv, req.epoch, req.commit, now)  # T07
            if reinit is not None:
                reinit_state.started(dev, conv, out.state, dev.identity.account, now)
            else:
                _own_commit_events(dev, conv, state, out.state, now)
        return True
    raise AccordError("the group kept changing; try again")


def _own_commit_events(dev: DeviceCore, conv: dict[str, Any], before: bytes, after: bytes,
                       now: int) -> None:
    b = {mb.identity for mb in dev.engine.members(before)}
    a = {mb.identity for mb in dev.engine.members(after)}
    roster_events(dev, conv, b, a, dev.identity.account, now)
    if a == b:
        meta = dict(dev.store.conversation(conv["conv_id"])["meta"], sent_since_update=0,
                    last_update=now)
        dev.store.update_conversation(conv["conv_id"], meta=meta)
        dev.store.add_event(conv["conv_id"], now, "key_update", {"by": dev.identity.account})
