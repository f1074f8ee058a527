"""Group commit of hidden-sender posts: many posts, one transaction (issue 23).

A post costs the same few statements whether it is alone or one of many: the
hub reads each group of a batch once with the group locked (its roster, the
posting keys of its open epochs, which of the batch's nonces it has seen),
decides every post of it by the one admission rule
(:func:`~accord.storage.fanout_sql.admit_application`), then writes the
accepted posts' nonces, franks, messages and queue rows in bulk.

:class:`PostWriter` is the one writer of posts on a node: a request hands its
post over and awaits its own outcome; the writer takes every post pending at
that moment (at most ``MAX_BATCH``) into one transaction, so a busy node pays
one transaction (on SQLite one COMMIT and fsync, on PostgreSQL about a dozen
round trips) per batch instead of per post. A post is answered only after the
COMMIT that holds it; a post refused by the rule (a replay, a bad signature, a
closed epoch) is refused alone and the others of its batch are kept; a batch
that fails as a whole for another reason is written again post by post, so
one post that trips the database cannot fail the others. The pending posts
are bounded: past ``max_pending`` a post is refused with a 429 and
``Retry-After`` (backpressure) rather than held in memory.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from accord.errors import AccordError, RateLimited, StoreUnavailable
from accord.storage import privacy_sql
from accord.storage.engine import Engine, Tx
from accord.storage.fanout_sql import (
    admit_application,
    enqueue_many,
    posting_keys,
    read_group,
    used_nonces,
)
from accord.storage.federation_sql import local_devices, refused_devices, to_outbox
from accord.storage.records import GroupRecord, ItemEncoder, NewMessage
from accord.tasks import cancel_and_wait

Outcome = list[str] | BaseException  # the devices notified, or why the post was refused


@dataclass(frozen=True, eq=False, slots=True)
class PendingPost:
    message: NewMessage
    nonce: bytes
    nonce_expires_at: int
    encode: ItemEncoder
    verify: Callable[[bytes], None]  # checks the post against its epoch's posting key
    frank: bytes | None = None


async def admit_posts(tx: Tx, posts: Sequence[PendingPost]) -> list[Outcome]:
    """Admit, file and fan out ``posts`` in the caller's transaction; one outcome each,
    in order. A post the rule refuses gets its typed error; the others are written."""
    outcome: list[Outcome | None] = [None] * len(posts)
    by_group: dict[bytes, list[int]] = {}
    for i, post in enumerate(posts):
        assert post.message.group_id is not None
        by_group.setdefault(post.message.group_id, []).append(i)
    accepted: list[tuple[int, GroupRecord, set[str]]] = []
    for group_id in sorted(by_group):  # groups locked in one order: no deadlock
        mine = by_group[group_id]
        try:
            group = await read_group(tx, group_id, lock=True)
            keys = await posting_keys(tx, group)
            seen = await used_nonces(tx, group_id, sorted({posts[i].nonce for i in mine}))
            refused = await refused_devices(tx, group_id)
        except AccordError as exc:
            for i in mine:
                outcome[i] = exc
            continue
        for i in mine:
            post = posts[i]
            try:
                admit_application(group, keys, post.message, post.nonce in seen, post.verify)
            except AccordError as exc:
                outcome[i] = exc
                continue
            seen.add(post.nonce)  # a second post of the batch with it is a replay
            accepted.append((i, group, refused))
    if accepted:
        await _write(tx, posts, accepted, outcome)
    return [o if o is not None else [] for o in outcome]


async def _write(tx: Tx, posts: Sequence[PendingPost],
                 accepted: list[tuple[int, GroupRecord, set[str]]],
                 outcome: list[Outcome | None]) -> None:
    rows = [posts[i] for i, _, _ in accepted]
    await tx.executemany(
        "INSERT INTO post_nonces (group_id, nonce, expires_at) VALUES (?, ?, ?)",
        [(p.message.group_id, p.nonce, p.nonce_expires_at) for p in rows])
    # T13: the hub's tag, kept as long as the nonce, filed with the post it tags
    await privacy_sql.file_tags(tx, [(p.message.msg_id, p.frank, p.nonce_expires_at)
                                     for p in rows if p.frank is not None])
    wheres = {id(group): group.where() for _, group, _ in accepted}
    notified = await enqueue_many(tx, [
        (posts[i].message, local_devices(group.members, wheres[id(group)], refused))
        for i, group, refused in accepted])
    for (i, group, _), ids in zip(accepted, notified, strict=True):
        post = posts[i]
        await to_outbox(tx, post.message, group.members, wheres[id(group)], None, None,
                         post.encode, None)
        outcome[i] = ids


class PostWriter:
    """The node's one writer of posts (see the module's text)."""

    MAX_BATCH = 64

    def __init__(self, engine: Engine, max_pending: int = 4096) -> None:
        self._engine = engine
        self.max_pending = max_pending
        self._pending: deque[tuple[PendingPost, asyncio.Future[list[str]]]] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # transactions written (the node's metrics, the tests)
        self.writing = 0  # posts in the transaction being written now

    @property
    def depth(self) -> int:
        return len(self._pending)

    async def submit(self, post: PendingPost) -> list[str]:
        """Admit one post; returns once it is durable, with the devices to notify."""
        if len(self._pending) >= self.max_pending:
            raise RateLimited("the provider has too many posts pending; retry shortly", 1000)
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run(self._wake))
        future: asyncio.Future[list[str]] = loop.create_future()
        self._pending.append((post, future))
        assert self._wake is not None
        self._wake.set()
        return await future

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        self._fail([f for _, f in self._pending], _closing())
        self._pending.clear()

    async def _run(self, wake: asyncio.Event) -> None:
        while True:
            await wake.wait()
            wake.clear()
            while self._pending:
                batch = []
                while self._pending and len(batch) < self.MAX_BATCH:
                    item = self._pending.popleft()
                    if not item[1].done():  # a request that went away: its post is not kept
                        batch.append(item)
                if batch:
                    self.writing = len(batch)
                    try:
                        await self._write(batch)
                    finally:
                        self.writing = 0

    async def _write(self, batch: list[tuple[PendingPost, asyncio.Future[list[str]]]]) -> None:
        futures = [f for _, f in batch]
        try:
            async with self._engine.transaction() as tx:
                outcome = await admit_posts(tx, [p for p, _ in batch])
        except StoreUnavailable as exc:
            self._fail(futures, exc)
            return
        except asyncio.CancelledError:
            self._fail(futures, _closing())
            raise
        except Exception as exc:
            if len(batch) > 1:
                for item in batch:  # one post that trips the database fails alone
                    await self._write([item])
            else:
                self._fail(futures, exc)
            return
        self.batches += 1
        for future, result in zip(futures, outcome, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    @staticmethod
    def _fail(futures: list[asyncio.Future[list[str]]], exc: BaseException) -> None:
        for future in futures:
            if not future.done():
                future.set_exception(exc)


def _closing() -> StoreUnavailable:
    return StoreUnavailable("the provider is stopping; retry later")
