"""After every step: do the members of each epoch agree?

Members are grouped by the epoch their state is in (the step whose commit, join,
branch or reinit put them there). Every member touched by the step is asked for its
StateAuth (the epoch authenticator) and an Export; within each touched epoch all
members must answer the same. A member the step did not touch received no RPC, so
its last answers still hold and are reused. Removed members keep their old epoch
and are compared only with whoever shares it.
"""

from __future__ import annotations

from accord.interop.divergence import StepFailed, find_divergence
from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.run_state import Run

EXPORT_LABEL = "accord interop agreement"
EXPORT_CONTEXT = b"accord"
EXPORT_LENGTH = 32


class Agreement:
    def __init__(self) -> None:
        self._known: dict[str, tuple[int, bytes, bytes]] = {}  # actor -> (state id, auth, export)

    def _ask(self, run: Run, actor: str) -> tuple[int, bytes, bytes]:
        sid = run.state_id[actor]
        auth = run.call(actor, "StateAuth", pb.StateAuthRequest(state_id=sid)).state_auth_secret
        req = pb.ExportRequest(state_id=sid, label=EXPORT_LABEL, context=EXPORT_CONTEXT, key_length=EXPORT_LENGTH)
        exported = run.call(actor, "Export", req).exported_secret
        self._known[actor] = (sid, auth, exported)
        return self._known[actor]

    def check(self, run: Run) -> None:
        order = run.script.actors()
        touched = [a for a in order if a in run.touched and a in run.state_id]
        run.touched.clear()
        for actor in touched:
            self._ask(run, actor)
        for tag in dict.fromkeys(run.epoch[a] for a in touched):
            members = [a for a in order if a in run.state_id and run.epoch.get(a) == tag]
            auths: list[tuple[str, bytes]] = []
            exports: list[tuple[str, bytes]] = []
            for m in members:
                known = self._known.get(m)
                if known is None or known[0] != run.state_id[m]:
                    known = self._ask(run, m)
                auths.append((run.who(m), known[1]))
                exports.append((run.who(m), known[2]))
            for what, values in (("StateAuth", auths), ("Export", exports)):
                div = find_divergence(what, values)
                if div is not None:
                    raise StepFailed("members of one epoch disagree", div)
