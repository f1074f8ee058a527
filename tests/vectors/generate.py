"""Generate passive-client test vectors with Accord's own engine.

The upstream passive-client files are not in the repository, so these
scenarios, in exactly the upstream format (test-vectors.md, "Passive Client
Scenarios"), exercise the runner in ``passive_client.py``:

- ``welcome``: joins with and without an inline tree, with an external PSK;
- ``handling-commit``: one epoch per kind of commit (adds by value and by
  reference, updates by reference, removes, external and resumption PSKs,
  GroupContextExtensions, empty commits, external joins, private handshakes);
- ``random``: a seeded random history of such epochs.

Run ``python -m tests.vectors.generate OUTDIR`` to write the three files.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from typing import Any

from accord.mls import group as g
from accord.mls.group.send import new_psk_id
from accord.mls.structs import Add, Credential, MLSMessage, PreSharedKey, Proposal, Remove
from accord.mls.suites import get_suite

__all__ = ["handling_commit", "random_history", "welcome_cases", "write_all"]

NOW = 1_750_000_000
PSK_ID, PSK = b"passive-psk", bytes(range(32))


class _Sim:
    """A group driven by one process, with a passive member that never sends."""

    def __init__(self, suite_id: int, encrypt_handshake: bool = False) -> None:
        self.suite_id = suite_id
        self.cfg = g.GroupConfig(encrypt_handshake=encrypt_handshake)
        self.serial = 0
        self.states: dict[str, g.GroupState] = {"m0": self._create()}
        self.sent: list[MLSMessage] = []
        self.epochs: list[dict[str, Any]] = []
        self.entry: dict[str, Any] = {}

    def _ident(self) -> tuple[Credential, bytes]:
        self.serial += 1
        priv, _ = get_suite(self.suite_id).generate_signature_key_pair()
        return Credential.basic(b"member-%d" % self.serial), priv

    def _create(self) -> g.GroupState:
        cred, priv = self._ident()
        state = g.create_group(get_suite(self.suite_id), os.urandom(16), cred, priv, NOW,
                               config=self.cfg)
        return g.add_external_psk(state, PSK_ID, PSK)

    def kp(self) -> g.KeyPackagePrivate:
        return g.key_package(get_suite(self.suite_id), *self._ident(), NOW)

    def active(self) -> list[str]:
        return [n for n in self.states if n != "passive"]

    def propose(self, name: str, fn: Any, *args: Any, **kw: Any) -> None:
        msg, self.states[name] = fn(self.states[name], *args, **kw)
        self.sent.append(msg)
        self._deliver(msg, name)

    def _deliver(self, msg: MLSMessage, sender: str | None) -> list[str]:
        removed = []
        for name in list(self.states):
            if name != sender:
                out, self.states[name] = g.process(self.states[name], msg, NOW)
                if out.removed_self:
                    removed.append(name)
        return removed

    def commit(self, name: str, *, record: bool = True, **kw: Any) -> g.CommitResult:
        res, st = g.commit(self.states[name], now=NOW, **kw)
        self.states[name] = g.merge_pending(st)
        for gone in self._deliver(res.commit, name):
            del self.states[gone]
        self._after(res.commit, record)
        return res

    def _after(self, commit: MLSMessage, record: bool) -> None:
        if record and "passive" in self.states:
            self.epochs.append({
                "proposals": [_hex(m) for m in self.sent],
                "commit": _hex(commit),
                "epoch_authenticator": g.epoch_authenticator(self.states["passive"]).hex(),
            })
        self.sent = []
        assert len({g.epoch_authenticator(s) for s in self.states.values()}) == 1

    def add(self, name: str, count: int, passive: bool = False, **kw: Any) -> g.CommitResult:
        kps = [self.kp() for _ in range(count)]
        passive_kp = self.kp() if passive else None
        adds: list[Proposal] = [Add(k.key_package) for k in kps]
        if passive_kp is not None:
            adds.insert(len(adds) // 2, Add(passive_kp.key_package))
        res = self.commit(name, record=not passive, by_value=adds + kw.pop("extra", []), **kw)
        tree = None if kw.get("inline_tree", True) else self.states[name].tree.to_bytes()
        for k in kps:
            self.serial += 1
            self.states[f"m{self.serial}"] = g.add_external_psk(
                g.join_from_welcome(res.welcome, k, NOW, config=self.cfg,  # type: ignore[arg-type]
                                    ratchet_tree=tree, external_psks={PSK_ID: PSK}), PSK_ID, PSK)
        if passive_kp is not None:
            self._join_passive(passive_kp, res, tree)
        return res

    def _join_passive(
        self, kp: g.KeyPackagePrivate, res: g.CommitResult, tree: bytes | None
    ) -> None:
        state = g.join_from_welcome(res.welcome, kp, NOW, ratchet_tree=tree,  # type: ignore[arg-type]
                                    external_psks={PSK_ID: PSK}, config=self.cfg)
        self.states["passive"] = state
        self.entry = {
            "cipher_suite": self.suite_id,
            "external_psks": [{"psk_id": PSK_ID.hex(), "psk": PSK.hex()}],
            "key_package": _hex(MLSMessage.wrap(kp.key_package)),
            "signature_priv": kp.signature_priv.hex(),
            "encryption_priv": kp.encryption_priv.hex(),
            "init_priv": kp.init_priv.hex(),
            "welcome": _hex(res.welcome),  # type: ignore[arg-type]
            "ratchet_tree": tree.hex() if tree is not None else None,
            "initial_epoch_authenticator": g.epoch_authenticator(state).hex(),
        }

    def external_join(self) -> None:
        info = g.group_info(self.states[self.active()[0]])
        cred, priv = self._ident()
        msg, state = g.join_external(info, cred, priv, NOW)
        self._deliver(msg, None)
        self.serial += 1
        self.states[f"m{self.serial}"] = g.add_external_psk(state, PSK_ID, PSK)
        self._after(msg, True)

    def vector(self) -> dict[str, Any]:
        return {**self.entry, "epochs": self.epochs}


def _hex(msg: MLSMessage) -> str:
    return msg.to_bytes().hex()


def welcome_cases(suite_id: int) -> list[dict[str, Any]]:
    """Passive joins: inline tree, external tree, and a Welcome naming a PSK."""
    out = []
    for inline, psk in ((True, False), (False, False), (True, True)):
        sim = _Sim(suite_id)
        sim.add("m0", 2)
        extra = []
        if psk:
            extra = [PreSharedKey(new_psk_id(sim.states["m0"], PSK_ID))]
        sim.add("m0", 2, passive=True, inline_tree=inline, extra=extra)
        out.append(sim.vector())
    return out


def _kinds(sim: _Sim, rng: random.Random, kind: str) -> None:
    """One epoch of the given kind, committed by a random active member."""
    active = sim.active()
    who = rng.choice(active)
    others = [n for n in active if n != who]
    if kind == "add":
        sim.add(who, rng.randint(1, 3))
    elif kind == "add_by_ref" and others:
        sim.propose(rng.choice(others), g.propose_add, sim.kp().key_package)
        sim.commit(who)
    elif kind == "update_by_ref" and others:
        sim.propose(rng.choice(others), g.propose_update)
        sim.commit(who, force_path=rng.random() < 0.5)
    elif kind == "remove" and len(others) > 1:
        victim = sim.states[rng.choice(others)].own_leaf
        sim.commit(who, by_value=[Remove(victim)])
    elif kind == "remove_by_ref" and len(others) > 1:
        victim = sim.states[rng.choice(others)].own_leaf
        sim.propose(rng.choice(others), g.propose_remove, victim)
        sim.commit(who)
    elif kind == "psk_external":
        sim.propose(who, g.propose_psk, PSK_ID)
        sim.commit(who)
    elif kind == "psk_resumption":
        # Only epochs every member lived through have a resumption PSK for all.
        common = set.intersection(*({e for e, _ in s.resumption_psks} for s in sim.states.values()))
        sim.propose(who, g.propose_psk, epoch=rng.choice(sorted(common)))
        sim.commit(who)
    elif kind == "gce":
        sim.propose(who, g.propose_group_context_extensions, ())
        sim.commit(who)
    elif kind == "external_join":
        sim.external_join()
    else:
        sim.commit(who, force_path=True)


KINDS = ("add", "add_by_ref", "update_by_ref", "remove", "remove_by_ref", "psk_external",
         "psk_resumption", "gce", "external_join", "empty")


def handling_commit(suite_id: int, encrypt_handshake: bool = False) -> dict[str, Any]:
    """Every kind of commit once, in order, after a passive Welcome join."""
    sim = _Sim(suite_id, encrypt_handshake)
    sim.add("m0", 3)
    sim.add("m0", 1, passive=True)
    rng = random.Random(suite_id)
    for kind in KINDS:
        _kinds(sim, rng, kind)
    return sim.vector()


def random_history(suite_id: int, seed: int, epochs: int = 20) -> dict[str, Any]:
    """A seeded random sequence of commits after a passive Welcome join."""
    rng = random.Random(seed)
    sim = _Sim(suite_id, encrypt_handshake=rng.random() < 0.5)
    sim.add("m0", rng.randint(1, 5))
    sim.add(rng.choice(sim.active()), rng.randint(0, 3), passive=True)
    for _ in range(epochs):
        _kinds(sim, rng, rng.choice(KINDS))
    return sim.vector()


def write_all(folder: Path, suites: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "passive-client-welcome.json": [v for s in suites for v in welcome_cases(s)],
        "passive-client-handling-commit.json": [
            handling_commit(s, enc) for s in suites for enc in (False, True)
        ],
        "passive-client-random.json": [random_history(s, 100 + s) for s in suites],
    }
    out = []
    for name, entries in files.items():
        path = folder / name
        path.write_text(json.dumps(entries, indent=1) + "\n")
        out.append(path)
    return out


if __name__ == "__main__":
    for p in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        print(p)
