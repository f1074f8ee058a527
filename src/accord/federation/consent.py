"""Consent (T14): blocks, contacts and message requests, for every inviter.

When a user (of another provider, or of this one: the same rules, issue 18)
invites one of our accounts to a conversation (a Welcome for one of its
devices), the account's answer decides what happens:

- it blocked the sender or the sender's whole domain: the Welcome is not
  delivered to its devices;
- the sender is a contact (an earlier request was accepted): delivered;
- otherwise: delivered, and a *message request* (group, sender account,
  Welcome's msg_id) is recorded. The client lists requests
  (``GET /v1/requests``) and quarantines that conversation (plain-text
  preview only, no attachment fetched) until the user accepts
  (``POST /v1/requests/{group_id}/accept``), which makes the sender a contact.

A peer's MIMI consent request for a room (5.7, :func:`request_consent`) is a
message request before its Welcome; a peer's word that its own user granted
or revoked consent changes nothing here: only our account's own answer does.

Application messages have hidden senders (T11), so the provider cannot
filter them by user; the client drops what a blocked user sends in a group,
and the provider can refuse a whole peer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import TYPE_CHECKING

from accord.errors import ValidationError
from accord.wire import federation as fw

if TYPE_CHECKING:
    from accord.federation.service import Federation

async def screen(fed: Federation, device_ids: Collection[str], sender_account: str, now: int,
                 via: str | None = None) -> tuple[set[str], list[tuple[str, str]]]:
    """Which of our devices among ``device_ids`` get an invitation from ``sender_account``,
    and which (account, sender) message requests to record.

    ``via`` is the peer hub that relayed the Welcome (None: the commit came to us as
    hub). A relayed Welcome is screened even when it names one of our own accounts
    (the hub's word about the inviter cannot be checked here), and an account that
    blocked the hub's domain gets nothing through it (issue 17).
    """
    store = fed.provider.store
    accounts = await store.fed_ours(device_ids)
    # Same rules for everyone (issue 18): a block, the per-sender rate limit and
    # the message request hold for an inviter of our own provider exactly as for
    # one of another (a same-provider stranger is quarantined too). Adding one's
    # own devices (a new linked device joins every conversation) invites nobody.
    if any(accounts.get(d) != sender_account for d in device_ids):
        fed.limiter.check("sender", sender_account, now)
    others = {d: a for d, a in accounts.items() if a != sender_account}  # not our own devices
    states = await store.fed_consent(set(others.values()), sender_account)
    hub_blocked = await blocked_domain(fed, accounts.values(), via)
    allowed = {d for d, a in accounts.items()
               if states.get(a) != "blocked" and a not in hub_blocked}
    requests = sorted({(a, sender_account) for a, s in states.items()
                       if s == "stranger" and a not in hub_blocked})
    return allowed, requests


async def request_consent(fed: Federation, account: str, requester: str, group_id: bytes,
                          now: int, cancel: bool = False) -> None:
    """A user of another provider asks ``account`` for consent to invite it to a group
    (MIMI 5.7): for a stranger, a message request the account answers as any other;
    nothing for a contact (consent is there) or for a blocked requester (who learns
    nothing). A cancel withdraws only such a request, never one a Welcome backs."""
    store = fed.provider.store
    if cancel:
        await store.fed_consent_request(account, group_id, requester, now, cancel=True)
        return
    fed.limiter.check("sender", requester, now)  # as for an invitation (``screen``)
    if (await store.fed_consent([account], requester)).get(account) == "stranger":
        await store.fed_consent_request(account, group_id, requester, now)


def scope_id(requester: str) -> bytes:
    """The message-request key of a MIMI consent request that names no room (5.7), one per
    requester: what a ``--require-consent`` user accepts or blocks as any request."""
    return hashlib.sha256(b"accord mimi consent scope\0" + requester.encode()).digest()[:16]


async def blocked_domain(fed: Federation, accounts: Collection[str], domain: str | None
                         ) -> set[str]:
    """Those of our ``accounts`` that blocked the whole ``domain``."""
    if domain is None or not accounts:
        return set()
    states = await fed.provider.store.fed_consent(set(accounts), domain)
    return {a for a, s in states.items() if s == "blocked"}


async def screen_item(fed: Federation, hub: str, item: fw.FedItem, now: int
                      ) -> tuple[list[tuple[str, str]], list[str]]:
    """T14 for every item kind a hub delivers (issue 17): ``(requests, refused)``.

    A Welcome and a handshake message name their sender (else 422); a Welcome
    goes through :func:`screen`; any item is refused to an account that blocked
    the hub's domain. Items of a group a device never entered through a Welcome
    are dropped by the store (``binding_sql.admitted``).
    """
    if item.kind != "application" and item.sender_account is None:
        raise ValidationError("a hub's Welcome or handshake message must name its sender")
    if item.kind == "welcome":
        assert item.sender_account is not None
        allowed, requests = await screen(fed, item.recipients, item.sender_account, now, via=hub)
        return requests, [r for r in item.recipients if r not in allowed]
    accounts = await fed.provider.store.fed_ours(item.recipients)
    blocked = await blocked_domain(fed, accounts.values(), hub)
    return [], [d for d, a in accounts.items() if a in blocked]
