"""The hub's ordering and roster as a state machine (issue 24, hypothesis).

Commits (current or stale epoch, adding and removing devices, some invalid), posts
(to the current, previous or an older epoch, some replaying a nonce) in any order,
through the store API on SQLite, against a model:

- one commit per epoch: a commit for an epoch already committed is an EpochConflict
  and changes nothing, nor does a refused commit (no half-applied state);
- the roster and the epoch are the model's;
- a post is admitted exactly when the model says (the current epoch, or the previous
  one unless the commit that ended it changed the members; a fresh nonce) and is
  queued for exactly the members at that moment;
- every device's queue is in acceptance order, without a duplicate, and its
  sequence numbers have no gap.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from accord.errors import Conflict, EpochConflict, NotFound, ValidationError
from accord.storage import CommitChange, SqlStore
from accord.storage.engine import SqliteEngine
from tests.storage.test_store import GID, accounts, apply, msg, post

DEVICES = ("a1", "a2", "b1", "c1")  # tests.storage.test_store.accounts


class HubMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.folder = Path(tempfile.mkdtemp(prefix="hub-sm-"))
        self.epoch = 0
        self.members = {"a1"}
        self.previous_open = False  # may epoch - 1 still be posted to
        self.accepted: list[tuple[str, frozenset[str] | None]] = []  # (msg id, post recipients)
        self.commits: dict[int, str] = {}
        self.nonces: list[bytes] = []
        self.serial = 0
        self.store = self._run(self._open())

    async def _open(self) -> SqlStore:
        store = await SqlStore(SqliteEngine(self.folder / "p.sqlite3"), self.folder).open()
        await accounts(store)
        await store.create_group(GID, "alpha.test", "a1", b"pk0", 10, b"state 0")
        return store

    def teardown(self) -> None:
        self._run(self.store.close())
        self.loop.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    def _id(self, kind: str) -> str:
        self.serial += 1
        return f"{kind}{self.serial}"

    @rule(stale=st.booleans(), add=st.sets(st.sampled_from(DEVICES)),
          remove=st.sets(st.sampled_from(DEVICES)), ghost=st.booleans())
    def commit(self, stale: bool, add: set[str], remove: set[str], ghost: bool) -> None:
        sender = min(self.members)
        added = sorted(add - self.members) + (["ghost"] if ghost else [])
        removed = sorted((remove & self.members) - {sender})
        epoch = self.epoch - 1 if stale and self.epoch > 0 else self.epoch
        change = CommitChange(GID, epoch, sender, tuple(added), tuple(removed),
                              f"pk{self.epoch + 1}".encode())
        msg_id = self._id("c")
        attempt = apply(self.store, change, msg(msg_id, "commit", epoch, sender))
        if epoch != self.epoch:
            with pytest.raises(EpochConflict):
                self._run(attempt)
            return
        if ghost:  # a device that does not exist: refused whole
            with pytest.raises((NotFound, ValidationError)):
                self._run(attempt)
            return
        self._run(attempt)
        self.commits[self.epoch] = msg_id
        self.accepted.append((msg_id, None))
        self.previous_open = not (added or removed)
        self.members = (self.members - set(removed)) | set(added)
        self.epoch += 1

    @rule(back=st.sampled_from([0, 0, 1, 2]), replay=st.booleans())
    def post(self, back: int, replay: bool) -> None:
        epoch = self.epoch - back
        if epoch < 0:
            return
        nonce = self.nonces[0] if replay and self.nonces else f"n{self.serial}".encode()
        msg_id = self._id("m")
        attempt = post(self.store, msg(msg_id, epoch=epoch), nonce, 10**12)
        admitted = back == 0 or (back == 1 and self.previous_open)
        if not admitted:
            with pytest.raises(EpochConflict):
                self._run(attempt)
            return
        if nonce in self.nonces:
            with pytest.raises(Conflict):
                self._run(attempt)
            return
        notified = self._run(attempt)
        assert sorted(notified) == sorted(self.members)
        self.nonces.append(nonce)
        self.accepted.append((msg_id, frozenset(self.members)))

    @invariant()
    def roster_epoch_order_and_queues(self) -> None:
        group = self._run(self.store.get_group(GID))
        assert group.epoch == self.epoch
        assert set(group.members) == self.members
        order = {m: i for i, (m, _) in enumerate(self.accepted)}
        for device in DEVICES:
            items = self._run(self.store.fetch_queue(device, 0, 1000))
            ids = [i.msg_id for i in items]
            seqs = [i.seq for i in items]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True, seqs
            assert len(set(ids)) == len(ids), "a message queued twice"
            assert [order[i] for i in ids] == sorted(order[i] for i in ids), "out of order"
            posts = [m for m, to in self.accepted if to is not None and device in to]
            assert [i for i in ids if i.startswith("m")] == posts

    @invariant()
    def one_commit_per_epoch(self) -> None:
        async def commits() -> list[tuple[int, str]]:
            async with self.store.engine.read() as tx:
                rows = await tx.fetchall("SELECT epoch, msg_id FROM messages"
                                         " WHERE kind = 'commit' ORDER BY epoch")
            return [(int(e), str(m)) for e, m in rows]

        assert self._run(commits()) == sorted(self.commits.items())


TestHubMachine = HubMachine.TestCase
TestHubMachine.settings = settings(max_examples=30, stateful_step_count=25, deadline=None,
                                   suppress_health_check=[HealthCheck.too_slow])
