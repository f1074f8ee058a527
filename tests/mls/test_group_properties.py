"""Random group histories (hypothesis): adds, removes, updates, external joins,
application messages and save/restore across up to 20 members.

After every step all current members agree on the epoch authenticator and
read every application message; members removed earlier cannot read any
message sent after their removal; a state restored from ``to_bytes`` goes on
exactly as the original would.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.errors import AccordError
from accord.mls import group as g
from accord.mls.structs import Remove
from tests.mls.group_sim import NOW, Group, identity

MAX_MEMBERS = 20

OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "update", "update_ref", "external", "message",
                         "restore"]),
        st.integers(0, 1000),
        st.integers(0, 1000),
    ),
    min_size=1,
    max_size=12,
)


class History:
    def __init__(self) -> None:
        self.grp = Group()
        self.serial = 0
        self.gone: dict[str, g.GroupState] = {}

    def name(self) -> str:
        self.serial += 1
        return f"m{self.serial}"

    def pick(self, k: int) -> str:
        names = sorted(self.grp.states)
        return names[k % len(names)]

    def step(self, op: str, a: int, b: int) -> None:
        grp = self.grp
        n = len(grp.states)
        if op == "add" and n < MAX_MEMBERS:
            grp.add(self.pick(a), [self.name() for _ in range(min(1 + b % 3, MAX_MEMBERS - n))])
        elif op == "remove" and n > 1:
            committer, victim = self.pick(a), self.pick(b)
            if committer != victim:
                self.gone[victim] = grp.states[victim]
                grp.commit(committer, by_value=[Remove(grp.leaf(victim))])
        elif op == "update":
            grp.commit(self.pick(a), force_path=True)
        elif op == "update_ref" and n > 1:
            proposer, committer = self.pick(a), self.pick(b)
            if proposer != committer:
                msg, grp.states[proposer] = g.propose_update(grp.states[proposer])
                grp.deliver(msg, proposer)
                grp.commit(committer)
        elif op == "external" and n < MAX_MEMBERS:
            info = g.group_info(grp.states[self.pick(a)])
            cred, priv = identity(1, self.name())
            msg, joiner = g.join_external(info, cred, priv, NOW)
            grp.deliver(msg, None)
            grp.states[f"m{self.serial}"] = joiner
        elif op == "message":
            self.message(self.pick(a), b)
        elif op == "restore":
            name = self.pick(a)
            grp.states[name] = g.GroupState.from_bytes(grp.states[name].to_bytes())

    def message(self, sender: str, b: int) -> None:
        data = b"message %d" % b
        msg, self.grp.states[sender] = g.protect(self.grp.states[sender], data)
        for name, state in self.grp.states.items():
            if name != sender:
                out, self.grp.states[name] = g.process(state, msg, NOW)
                assert out.application_data == data
        for old in self.gone.values():
            try:
                out, _ = g.process(old, msg, NOW)
            except AccordError:
                continue
            raise AssertionError("a removed member read a later message")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, MAX_MEMBERS - 1), OPS)
def test_random_histories_keep_members_in_agreement(
    start: int, ops: list[tuple[str, int, int]]
) -> None:
    h = History()
    if start:  # a group of 1 to 20 members to begin with
        h.grp.add("alice", [h.name() for _ in range(start)])
    for op, a, b in ops:
        h.step(op, a, b)
        h.grp.check_agree()
        h.message(h.pick(a + b), a)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_restored_state_continues_identically(ops: list[tuple[str, int, int]]) -> None:
    h = History()
    for op, a, b in ops:
        h.step(op, a, b)
    grp = h.grp
    name = h.pick(0)
    restored = g.GroupState.from_bytes(grp.states[name].to_bytes())
    assert restored.to_bytes() == grp.states[name].to_bytes()
    # the original and the restored copy process the same commit identically
    others = [n for n in grp.states if n != name]
    if not others:
        return
    res, st2 = g.commit(grp.states[others[0]], now=NOW, force_path=True)
    _, a = g.process(grp.states[name], res.commit, NOW)
    _, b = g.process(restored, res.commit, NOW)
    assert a.to_bytes() == b.to_bytes()
    assert g.epoch_authenticator(a) == g.epoch_authenticator(g.merge_pending(st2))
