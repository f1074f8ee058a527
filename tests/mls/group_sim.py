"""A small harness for group-engine tests: identities, key packages, and a
'delivery service' that hands every handshake message to every member."""

from __future__ import annotations

from collections.abc import Iterable

from accord.mls import group as g
from accord.mls.structs import Credential, MLSMessage
from accord.mls.suites import get_suite

NOW = 1_750_000_000


def identity(suite_id: int, name: str) -> tuple[Credential, bytes]:
    priv, _ = get_suite(suite_id).generate_signature_key_pair()
    return Credential.basic(name.encode()), priv


def new_kp(suite_id: int, name: str) -> g.KeyPackagePrivate:
    cred, priv = identity(suite_id, name)
    return g.key_package(get_suite(suite_id), cred, priv, NOW)


class Group:
    """Every member's state, by name; the committer's commit is merged and
    every other member processes it."""

    def __init__(self, suite_id: int = 1, creator: str = "alice", **cfg: object) -> None:
        self.suite_id = suite_id
        self.config = g.GroupConfig(**cfg)  # type: ignore[arg-type]
        cred, priv = identity(suite_id, creator)
        self.states: dict[str, g.GroupState] = {
            creator: g.create_group(get_suite(suite_id), b"group-" + creator.encode(), cred, priv,
                                    NOW, config=self.config)
        }

    def leaf(self, name: str) -> int:
        return self.states[name].own_leaf

    def deliver(self, msg: MLSMessage, sender: str | None, to: Iterable[str] | None = None) -> None:
        for name in list(to if to is not None else self.states):
            if name == sender:
                continue
            _, self.states[name] = g.process(self.states[name], msg, NOW)

    def commit(self, committer: str, **kw: object) -> g.CommitResult:
        res, st = g.commit(self.states[committer], now=NOW, **kw)  # type: ignore[arg-type]
        self.states[committer] = g.merge_pending(st)
        others = [n for n in self.states if n != committer]
        removed = []
        for name in others:
            out, self.states[name] = g.process(self.states[name], res.commit, NOW)
            if out.removed_self:
                removed.append(name)
        for name in removed:
            del self.states[name]
        return res

    def add(self, committer: str, names: list[str], **kw: object) -> g.CommitResult:
        kps = {n: new_kp(self.suite_id, n) for n in names}
        from accord.mls.structs import Add

        res = self.commit(committer, by_value=[Add(k.key_package) for k in kps.values()], **kw)
        for n, kp in kps.items():
            self.states[n] = g.join_from_welcome(res.welcome, kp, NOW, config=self.config)  # type: ignore[arg-type]
        return res

    def authenticators(self) -> set[bytes]:
        return {g.epoch_authenticator(s) for s in self.states.values()}

    def check_agree(self) -> None:
        assert len(self.authenticators()) == 1
        assert len({s.epoch for s in self.states.values()}) == 1

    def send_all(self, sender: str, data: bytes) -> None:
        msg, self.states[sender] = g.protect(self.states[sender], data)
        for name in self.states:
            if name != sender:
                out, self.states[name] = g.process(self.states[name], msg, NOW)
                assert out.application_data == data
