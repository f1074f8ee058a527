"""The key transparency log as a state machine (issue 24, hypothesis).

Any sequence of publishes and deletions, with heads taken between them:
- every identity's lookup proof verifies against the current head and gives
  exactly the key set (or tombstone) a model dictionary holds, with versions
  counting up and each entry pointing back at its predecessor;
- an identity never published proves absent;
- every earlier head is proven consistent with the current one, and a
  consistency proof never verifies against a root that is not the log's;
- every entry keeps its inclusion proof at every later head.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from accord.errors import CryptoError, NotFound, ValidationError
from accord.transparency import heads
from accord.transparency.directory import KeyDirectory, verify_entry, verify_lookup
from accord.transparency.proofs import verify_consistency

NAMES = [f"user{i}@a.test" for i in range(5)]
KEYS = [bytes([i]) * 32 for i in range(1, 7)]
SIGNER = Ed25519PrivateKey.generate()


class LogMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.log = KeyDirectory("a.test", b"i" * 32)
        self.model: dict[str, tuple[tuple[bytes, ...], bool, int]] = {}  # keys, deleted, version
        self.now = 1
        self.heads: list[heads.TreeHead] = []

    def _tick(self) -> int:
        self.now += 1
        return self.now

    @rule(name=st.sampled_from(NAMES), keys=st.sets(st.sampled_from(KEYS), max_size=3))
    def publish(self, name: str, keys: set[bytes]) -> None:
        self.log.publish(name, keys, self._tick())
        version = self.model.get(name, ((), False, 0))[2] + 1
        self.model[name] = (tuple(sorted(keys)), False, version)

    @rule(name=st.sampled_from(NAMES))
    def delete(self, name: str) -> None:
        if name not in self.model:
            with pytest.raises(NotFound):
                self.log.delete(name, self._tick())
            return
        self.log.delete(name, self._tick())
        self.model[name] = ((), True, self.model[name][2] + 1)

    @rule()
    def take_head(self) -> None:
        sth = self.log.signed_head(SIGNER, self._tick())
        self.heads.append(heads.verify_signed_head(sth, SIGNER.public_key(), "a.test"))

    @invariant()
    def lookups_match_the_model(self) -> None:
        head = self.log.head(self.now)
        for name in NAMES:
            entry = verify_lookup(head, name, self.log.lookup(name))
            if name not in self.model:
                assert entry is None
                continue
            keys, deleted, version = self.model[name]
            assert entry is not None
            assert (entry.device_keys, entry.deleted, entry.version) == (keys, deleted, version)
            if version > 1:
                assert entry.previous is not None
                older = verify_entry(head, self.log.entry_proof(entry.previous))
                assert older.version == version - 1 and older.index == entry.index

    @precondition(lambda self: self.heads)
    @invariant()
    def earlier_heads_are_consistent(self) -> None:
        now = self.log.head(self.now)
        for old in self.heads:
            proof = self.log.consistency_proof(old.size)
            verify_consistency(old.size, now.size, old.root, now.root, proof)
            if old.size and old.size < now.size:
                with pytest.raises((CryptoError, ValidationError)):
                    verify_consistency(old.size, now.size, bytes(32), now.root, proof)
            for position in range(old.size):
                verify_entry(now, self.log.entry_proof(position))


TestLogMachine = LogMachine.TestCase
TestLogMachine.settings = settings(max_examples=30, stateful_step_count=20, deadline=None)
