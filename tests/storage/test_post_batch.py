"""Group commit of posts (accord.storage.post_batch, issue 23), on both engines.

Posts handed over together are admitted in one transaction, in the order they came;
each is answered with its own outcome, and a post the rule refuses or the database
trips over does not take the others of its batch down with it.
"""

from __future__ import annotations

import asyncio

import pytest
from tests.storage.test_store import make_group, msg, post

from accord.errors import AuthError, Conflict, EpochConflict, RateLimited
from accord.storage import SqlStore


def _refuse(posting_key: bytes) -> None:
    raise AuthError("bad posting signature")


async def test_concurrent_posts_are_one_transaction_in_their_order(store: SqlStore) -> None:
    await make_group(store)
    before = store.posts.batches
    results = await asyncio.gather(*(post(store, msg(f"m{i}", epoch=1), b"n%d" % i, 500)
                                     for i in range(20)))
    assert all(sorted(r) == ["a1", "a2", "b1"] for r in results)
    assert store.posts.batches - before == 1
    items = await store.fetch_queue("b1", 1, 100)  # after the welcome
    assert [(i.seq, i.msg_id) for i in items] == [(i + 2, f"m{i}") for i in range(20)]
    # every member's queue holds the same order
    assert [i.msg_id for i in await store.fetch_queue("a1", 0, 100)] == [
        f"m{i}" for i in range(20)]


async def test_a_refused_post_is_refused_alone(store: SqlStore) -> None:
    """A replay (within the batch and of an earlier post), a bad signature and a closed
    epoch are each refused with their typed error; the good posts around them are kept,
    and a refused post burns no nonce."""
    await make_group(store)
    await post(store, msg("old", epoch=1), b"n-old", 500)
    outcome = await asyncio.gather(
        post(store, msg("g1", epoch=1), b"n1", 500),
        post(store, msg("dup", epoch=1), b"n1", 500),
        post(store, msg("replay", epoch=1), b"n-old", 500),
        post(store, msg("forged", epoch=1), b"n2", 500, _refuse),
        post(store, msg("late", epoch=7), b"n3", 500),
        post(store, msg("g2", epoch=1), b"n4", 500),
        return_exceptions=True)
    assert [type(o).__name__ for o in outcome] == [
        "list", "Conflict", "Conflict", "AuthError", "EpochConflict", "list"]
    assert isinstance(outcome[1], Conflict) and isinstance(outcome[4], EpochConflict)
    assert [i.msg_id for i in await store.fetch_queue("b1", 1, 100)] == ["old", "g1", "g2"]
    # the forged and the late post burnt no nonce
    assert await post(store, msg("g3", epoch=1), b"n2", 500)
    assert await post(store, msg("g4", epoch=1), b"n3", 500)


async def test_a_post_the_database_refuses_fails_alone(store: SqlStore) -> None:
    """A post that breaks a constraint (here a message id already stored) fails the
    batch's transaction; the batch is written again post by post, so only it fails."""
    await make_group(store)
    await post(store, msg("taken", epoch=1), b"n0", 500)
    outcome = await asyncio.gather(
        post(store, msg("a", epoch=1), b"n1", 500),
        post(store, msg("taken", epoch=1), b"n2", 500),
        post(store, msg("b", epoch=1), b"n3", 500),
        return_exceptions=True)
    assert isinstance(outcome[0], list) and isinstance(outcome[2], list)
    assert isinstance(outcome[1], Exception) and not isinstance(outcome[1], list)
    assert [i.msg_id for i in await store.fetch_queue("b1", 1, 100)] == ["taken", "a", "b"]


async def test_pending_posts_are_bounded(store: SqlStore) -> None:
    """Past ``max_pending`` a post is refused at once (429, Retry-After), not queued."""
    await make_group(store)
    store.posts.max_pending = 2
    outcome = await asyncio.gather(*(post(store, msg(f"m{i}", epoch=1), b"n%d" % i, 500)
                                     for i in range(3)), return_exceptions=True)
    assert [type(o).__name__ for o in outcome] == ["list", "list", "RateLimited"]
    assert isinstance(outcome[2], RateLimited) and outcome[2].retry_after_ms == 1000


async def test_a_closing_store_answers_pending_posts(store: SqlStore) -> None:
    """A post pending when the store closes gets a 503 error, not a hang."""
    await make_group(store)
    pending = asyncio.ensure_future(post(store, msg("m", epoch=1), b"n", 500))
    await asyncio.sleep(0)  # handed over, not yet written
    await store.posts.close()
    with pytest.raises(Exception) as exc:
        await pending
    assert type(exc.value).__name__ == "StoreUnavailable"
