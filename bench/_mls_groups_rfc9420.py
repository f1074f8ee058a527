"""The scenarios of ``bench/mls_groups.py`` on PyPI ``rfc9420`` (a benchmark peer only).

Same KeyPackages (Accord's, decoded by rfc9420), same members, same
operations, through rfc9420's public session API where it has one:
``MLSGroupSession`` (create, add_member/remove_member + process_proposal,
commit, apply_commit, protect_application/unprotect_application,
serialize). Joining uses ``ProtocolMLSGroup.from_welcome`` (the package's
own low-level entry point) because the session's join does not take the
leaf's encryption private key, without which a member cannot decrypt a
later UpdatePath.

Differences the figures carry, as the API imposes them:
- rfc9420 commits only cached proposals: every Add or Remove is a signed
  proposal the committer creates and processes itself, then commits by
  reference. Those steps are inside the timed ``create`` and ``remove``.
- ``commit`` also merges the new epoch (its session API has no pending
  state); a member's state is restored from ``serialize()`` bytes (not
  timed) before each run so every run starts from the same epoch.
- Its join tries each EncryptedGroupSecrets in turn instead of matching the
  KeyPackageRef; the timed joiner is the first entry, which favours it.

Every operation runs under a deadline of CPU time (checked on SIGALRM; the exception
derives from BaseException so rfc9420's ``except Exception`` blocks cannot
swallow it).
"""

from __future__ import annotations

import contextlib
import gc
import math
import signal
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version as _dist_version
from typing import Any

GROUP_ID = b"bench-mls-groups"


class PeerTimeout(BaseException):
    pass


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Abandon the block after ``seconds`` of this process's CPU time: on a
    shared machine the wall clock would count the neighbours' work too. A
    wall-clock alarm every 0.5 s compares the CPU time used (ITIMER_PROF
    would be the direct way, but in this sandbox it stalls process_time)."""
    start = time.process_time()

    def check(signum: int, frame: object) -> None:
        if time.process_time() - start > seconds:
            raise PeerTimeout

    old = signal.signal(signal.SIGALRM, check)
    signal.setitimer(signal.ITIMER_REAL, 0.5, 0.5)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def version() -> str:
    return f"rfc9420 {_dist_version('rfc9420')}"


class Runner:
    """Times one rfc9420 operation at a time and records why one could not run."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.out: dict[str, Any] = {"unavailable": {}}

    def time(self, name: str, fn: Callable[..., Any], repeats: int = 1,
             before: Callable[[], Any] | None = None) -> Any:
        """Best of ``repeats``; ``before`` (not timed) resets state for each run.
        Returns the last result, or None (with the reason recorded) on failure."""
        wall = cpu = math.inf
        result = None
        # As for Accord: collect first, no cyclic collection during the runs.
        gc.collect()
        gc.disable()
        try:
            for _ in range(repeats):
                arg = before() if before else None
                with deadline(self.timeout):
                    t, c = time.perf_counter(), time.process_time()
                    result = fn() if before is None else fn(arg)
                    wall = min(wall, time.perf_counter() - t)
                    cpu = min(cpu, time.process_time() - c)
        except PeerTimeout:
            self.out["unavailable"][name] = f"timeout after {self.timeout:g} s (CPU)"
            return None
        except Exception as e:  # the peer's failure is a result to report
            self.out["unavailable"][name] = f"rejected: {type(e).__name__}: {str(e)[:160]}"
            return None
        finally:
            gc.enable()
        self.out[f"{name}_ms"] = round(wall * 1000, 3)
        self.out[f"{name}_cpu_ms"] = round(cpu * 1000, 3)
        return result

    def skip(self, names: tuple[str, ...], reason: str) -> None:
        for n in names:
            self.out["unavailable"].setdefault(n, reason)


def run(n: int, kps: list[Any], repeats: int, timeout: float, payload: bytes) -> dict[str, Any]:
    from rfc9420 import DefaultCryptoProvider, GroupConfig, MemoryStorageProvider, MLSGroup
    from rfc9420 import ProtocolMLSGroup as Inner
    from rfc9420.api.session import MLSGroupSession
    from rfc9420.messages.data_structures import Welcome
    from rfc9420.messages.key_packages import KeyPackage

    cfg = GroupConfig(crypto_provider=DefaultCryptoProvider(1),
                      storage_provider=MemoryStorageProvider())
    rkps = [KeyPackage.deserialize(k.key_package.to_bytes()) for k in kps[:n]]
    slow = 1 if n >= 1_000 else repeats
    r = Runner(timeout)
    sig = [k.signature_priv for k in kps]

    def create() -> tuple[Any, bytes]:
        s = MLSGroupSession.create_with_config(cfg, GROUP_ID, rkps[0])
        for k in rkps[1:]:
            s.process_proposal(s.add_member(k, sig[0]), 0)
        _, welcomes = s.commit(sig[0])
        return s, welcomes[0].serialize()

    made = r.time("create", create, slow)
    if made is None:
        r.skip(("join", "app_protect", "app_unprotect", "update_fresh_create",
                "update_fresh_process", "remove_fresh_create", "remove_fresh_process",
                "update_filled_create", "update_filled_process", "remove_filled_create",
                "remove_filled_process"), "no group (create failed)")
        return r.out
    _, welcome = made

    def join(i: int) -> Any:
        inner = Inner.from_welcome(Welcome.deserialize(welcome), kps[i].init_priv,
                                   cfg.crypto_provider, key_package=rkps[i],
                                   encryption_private_key=kps[i].encryption_priv)
        return MLSGroupSession(MLSGroup(cfg, inner))

    sender = r.time("join", lambda: join(1), slow)
    receiver_leaf = n - 2 if n > 3 else 2
    try:
        with deadline(timeout):
            receiver = join(receiver_leaf) if sender is not None else None
    except PeerTimeout:
        receiver = None
    if sender is None or receiver is None:
        r.skip(("app_protect", "app_unprotect", "update_fresh_create", "update_fresh_process",
                "remove_fresh_create", "remove_fresh_process", "update_filled_create",
                "update_filled_process", "remove_filled_create", "remove_filled_process"),
               "no members (join failed)")
        return r.out
    r.out["state_bytes"] = len(sender.serialize())
    _app(r, sender, receiver, sig[1], payload, max(repeats, 20))
    path_ok = _commits(r, cfg, sender, receiver, sig[1], n, slow, "fresh")
    if path_ok:
        r.skip(("update_filled_create", "update_filled_process", "remove_filled_create",
                "remove_filled_process"), "not run: filling the tree is not implemented for the peer")
    else:
        r.skip(("update_filled_create", "update_filled_process", "remove_filled_create",
                "remove_filled_process"),
               "not possible: rfc9420's members reject its UpdatePath commits (above), "
               "so no tree with filled paths can be built through its API")
    return r.out


def _app(r: Runner, sender: Any, receiver: Any, sig: bytes, payload: bytes, repeats: int) -> None:
    cts: list[bytes] = []
    r.time("app_protect", lambda: cts.append(sender.protect_application(payload, sig)), repeats)
    # Each ciphertext can be opened once (its key is then deleted): one per run.
    it = iter(cts)
    got = r.time("app_unprotect", lambda: receiver.unprotect_application(next(it)),
                 len(cts))
    if got is not None and got[1] != payload:
        r.out["unavailable"]["app_unprotect"] = "wrong plaintext"


def _commits(r: Runner, cfg: Any, sender: Any, receiver: Any, sig: bytes, n: int,
             repeats: int, shape: str) -> bool:
    """Update and remove commits by ``sender``, processed by ``receiver``; both
    restored from bytes before every run. True if the update was processed."""
    from rfc9420.api.session import MLSGroupSession

    s_bytes, r_bytes = sender.serialize(), receiver.serialize()
    leaf = sender.own_leaf_index

    def restore(data: bytes) -> Callable[[], Any]:
        return lambda: MLSGroupSession.deserialize_with_config(cfg, data)

    def update(s: Any) -> bytes:
        return s.commit(sig)[0]  # type: ignore[no-any-return]

    proposal: list[bytes] = []

    def remove(s: Any) -> bytes:
        proposal[:] = [s.remove_member(n - 1, sig)]
        s.process_proposal(proposal[0], leaf)
        return s.commit(sig)[0]  # type: ignore[no-any-return]

    def process(op: str, wire: bytes) -> Callable[[Any], None]:
        def run(rcv: Any) -> None:
            if op == "remove":  # the proposal the commit refers to, then the commit
                rcv.process_proposal(proposal[0], leaf)
            rcv.apply_commit(wire, leaf)
        return run

    ok = True
    for op, make in (("update", update), ("remove", remove)):
        wire = r.time(f"{op}_{shape}_create", make, repeats, restore(s_bytes))
        if wire is None:
            r.skip((f"{op}_{shape}_process",), "no commit to process")
            ok = False
            continue
        r.time(f"{op}_{shape}_process", process(op, wire), repeats, restore(r_bytes))
        if op == "update" and f"{op}_{shape}_process" in r.out["unavailable"]:
            ok = False
    return ok
