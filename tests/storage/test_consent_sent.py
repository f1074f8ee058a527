"""The consent requests a provider sends (MIMI 5.7, ``accord.federation.consent_out``) over
the real store, time as an input: once per scope and window, each one charged to the
requester's limit of invitations, a revoke holding for the window, answers only for
requests sent, cancels only of pending ones (T14)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from accord.errors import ConsentRequested, NotFound, RateLimited
from accord.federation import consent_out
from accord.federation.consent_out import REQUEST_WINDOW_MS
from accord.ratelimit import Limit, RateLimiter
from accord.storage import DeviceRecord, SqlStore
from accord.wire import federation as fw
from accord.wire import mimi as w
from accord.wire import parse

ALICE, BOB, CAROL = "alice@alpha.test", "bob@beta.test", "carol@beta.test"
ROOM = w.mimi_room_uri("alpha.test", b"\x01" * 16)
T0 = 1_700_000_000_000


@dataclass
class Queue:
    """What the provider owes its peers: (domain, ConsentEntry), read from its outbound
    queue (every consent message goes there, in the transaction of its state)."""

    store: SqlStore
    woken: list[bool] = field(default_factory=list)

    @property
    async def sent(self) -> list[tuple[str, w.ConsentEntry]]:
        async with self.store.engine.transaction() as tx:
            rows = await tx.fetchall("SELECT peer, item FROM fed_outbox ORDER BY id")
        return [(r[0], w.ConsentEntry.from_bytes(parse(fw.FedConsent, bytes(r[1])).consent))
                for r in rows]


def fed_over(store: SqlStore, burst: float = 100) -> Any:  # a Federation, as consent_out uses it
    limiter = RateLimiter({"sender": Limit(burst / 1000, burst)})
    queue = Queue(store)
    return SimpleNamespace(provider=SimpleNamespace(store=store), limiter=limiter,
                           client=queue, wake_outbox=lambda: queue.woken.append(True))


async def _alice(store: SqlStore) -> None:
    await store.create_account(DeviceRecord("a1", ALICE, b"K" * 32, 0))


async def test_T14_a_consent_request_goes_once_per_scope_and_window(store: SqlStore) -> None:
    await _alice(store)
    fed = fed_over(store)
    for at in (T0, T0 + 1, T0 + REQUEST_WINDOW_MS - 1):  # a retrying device
        err = await consent_out.ask(fed, ALICE, BOB, ROOM, at)
        assert isinstance(err, ConsentRequested) and "requested" in str(err)
    [(domain, entry)] = await fed.client.sent
    assert (domain, entry.consent_operation) == ("beta.test", w.ConsentOperation.REQUEST)
    assert (entry.requester_uri.text(), entry.target_uri.text(), entry.room_id.text()) == (
        w.mimi_user_uri(ALICE), w.mimi_user_uri(BOB), ROOM)
    # another scope (no room) is another request; past the window, asked again
    await consent_out.ask(fed, ALICE, BOB, "", T0 + 2)
    await consent_out.ask(fed, ALICE, BOB, ROOM, T0 + REQUEST_WINDOW_MS)
    assert len(await fed.client.sent) == 3


async def test_T14_consent_requests_count_as_invitations(store: SqlStore) -> None:
    """Each new request takes from the requester's ``sender`` bucket; past it a 429 and
    nothing sent or recorded."""
    await _alice(store)
    fed = fed_over(store, burst=2)
    await consent_out.ask(fed, ALICE, BOB, ROOM, T0)
    await consent_out.ask(fed, ALICE, CAROL, ROOM, T0)
    with pytest.raises(RateLimited):
        await consent_out.ask(fed, ALICE, "dave@beta.test", ROOM, T0)
    assert len(await fed.client.sent) == 2
    assert [s.target for s in await store.consent_sent.list(ALICE)] == [BOB, CAROL]


async def test_T14_answers_change_only_requests_sent(store: SqlStore) -> None:
    await _alice(store)
    fed = fed_over(store)
    # nothing asked: a grant records nothing
    assert await consent_out.answered(fed, ALICE, BOB, None, True, T0) == []
    assert await store.consent_sent.list(ALICE) == []
    await consent_out.ask(fed, ALICE, BOB, ROOM, T0)
    # a grant for another room is no answer to this one
    assert await consent_out.answered(fed, ALICE, BOB, ROOM + "x", True, T0) == []
    # a revoke (every room): not asked again within the window, asked again after it
    assert await consent_out.answered(fed, ALICE, BOB, None, False, T0 + 5) == [ROOM]
    err = await consent_out.ask(fed, ALICE, BOB, ROOM, T0 + REQUEST_WINDOW_MS)
    assert "did not consent" in str(err) and len(await fed.client.sent) == 1
    await consent_out.ask(fed, ALICE, BOB, ROOM, T0 + 5 + REQUEST_WINDOW_MS)
    assert len(await fed.client.sent) == 2


async def test_T14_only_a_pending_request_is_cancelled(store: SqlStore) -> None:
    await _alice(store)
    fed = fed_over(store)
    with pytest.raises(NotFound):
        await consent_out.cancel(fed, ALICE, BOB, ROOM, T0)
    await consent_out.ask(fed, ALICE, BOB, ROOM, T0)
    await consent_out.answered(fed, ALICE, BOB, ROOM, True, T0 + 1)
    with pytest.raises(NotFound):  # granted: nothing to withdraw
        await consent_out.cancel(fed, ALICE, BOB, ROOM, T0 + 2)
    await consent_out.ask(fed, ALICE, CAROL, "", T0)
    await consent_out.cancel(fed, ALICE, CAROL, "", T0 + 3)
    assert (await fed.client.sent)[-1][1].consent_operation == w.ConsentOperation.CANCEL
    assert [s.target for s in await store.consent_sent.list(ALICE)] == [BOB]
