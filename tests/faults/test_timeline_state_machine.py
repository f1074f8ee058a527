"""The device's inbox and timeline as a state machine (issue 24, hypothesis).

Messages arriving in two conversations (from others and from this account's own
devices), the network redelivering some, deletions, the user reading a
conversation, and the profile closed and opened again, in any order, on the
encrypted profile (``client.store``), against a model:

- a message is stored once however often it arrives (``add_message`` says whether
  it was new), and each conversation keeps the order of arrival;
- positions (``seq``) increase along a conversation;
- the unread count (``store.activity`` after the conversation's read mark, as
  ``client.overview`` shows it) is the number of others' messages, not deleted,
  that arrived after the user last looked (``overview.mark_seen``);
- all of it survives closing and reopening the profile.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from accord.client.overview import mark_seen
from accord.client.store import KdfParams, ProfileStore, StoredMessage

CHEAP = KdfParams(time_cost=1, memory_kib=8 * 1024, parallelism=1)
ME = "me@alpha.test"
SENDERS = (ME, "bob@alpha.test", "carol@beta.test")
CONVS = ("c1", "c2")
PASSPHRASE = "state machine"


class TimelineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="timeline-sm-"))
        self.store = ProfileStore.create(self.folder, PASSPHRASE, CHEAP)
        for i, conv in enumerate(CONVS):
            self.store.add_conversation(conv, bytes([i + 1]) * 16, conv, "group", 1, {})
        self.order: dict[str, list[bytes]] = {c: [] for c in CONVS}
        self.sender: dict[bytes, str] = {}
        self.deleted: set[bytes] = set()
        self.read_upto: dict[str, int] = dict.fromkeys(CONVS, 0)  # messages seen, per conv
        self.serial = 0

    def teardown(self) -> None:
        self.store.lock()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _message(self, msg_id: bytes, conv: str, sender: str) -> StoredMessage:
        return StoredMessage(msg_id, conv, sender, "d1", 1000, 1000, "text",
                             f"text {msg_id.hex()}", None, False, False, None, {})

    @rule(conv=st.sampled_from(CONVS), sender=st.sampled_from(SENDERS))
    def arrives(self, conv: str, sender: str) -> None:
        self.serial += 1
        msg_id = self.serial.to_bytes(16, "big")
        assert self.store.add_message(self._message(msg_id, conv, sender)) is True
        self.order[conv].append(msg_id)
        self.sender[msg_id] = sender

    @precondition(lambda self: self.serial > 0)
    @rule(data=st.data())
    def arrives_again(self, data: st.DataObject) -> None:
        msg_id = data.draw(st.sampled_from(sorted(self.sender)))
        conv = next(c for c in CONVS if msg_id in self.order[c])
        again = self._message(msg_id, conv, self.sender[msg_id])
        assert self.store.add_message(again) is False  # the network redelivered it

    @precondition(lambda self: self.serial > 0)
    @rule(data=st.data())
    def deleted_by_its_sender(self, data: st.DataObject) -> None:
        msg_id = data.draw(st.sampled_from(sorted(self.sender)))
        self.store.delete_message(msg_id)
        self.deleted.add(msg_id)

    @rule(conv=st.sampled_from(CONVS))
    def user_reads(self, conv: str) -> None:
        dev = SimpleNamespace(store=self.store, identity=SimpleNamespace(account=ME))
        mark_seen(dev, self.store.conversation(conv))  # type: ignore[arg-type]
        self.read_upto[conv] = len(self.order[conv])

    @rule()
    def reopened(self) -> None:
        self.store.lock()
        self.store = ProfileStore.open(self.folder, PASSPHRASE)

    @invariant()
    def stored_once_in_order_with_the_right_unread_count(self) -> None:
        for conv in CONVS:
            stored = self.store.messages(conv)
            assert [m.msg_id for m in stored] == self.order[conv]
            assert [m.deleted for m in stored] == [i in self.deleted for i in self.order[conv]]
            seqs = self.store.seqs(conv)
            positions = [seqs[i] for i in self.order[conv]]
            assert positions == sorted(set(positions))
            read_seq = int(self.store.conversation(conv)["meta"].get("read_seq", 0))
            unread, _, _ = self.store.activity(conv, ME, read_seq)
            unseen = self.order[conv][self.read_upto[conv]:]
            assert unread == sum(1 for i in unseen
                                 if self.sender[i] != ME and i not in self.deleted)


TestTimelineMachine = TimelineMachine.TestCase
TestTimelineMachine.settings = settings(max_examples=30, stateful_step_count=30, deadline=None,
                                        suppress_health_check=[HealthCheck.too_slow])
