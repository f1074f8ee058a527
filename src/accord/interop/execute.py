"""One run: a script, an assignment of clients to its actors, a suite, a handshake mode."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence

from accord.interop import steps as s
from accord.interop import steps_reinit as r
from accord.interop.agreement import Agreement
from accord.interop.client import Client, RpcFailure
from accord.interop.config import Script, Step
from accord.interop.divergence import RunResult, StepFailed
from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.run_state import Run, extensions

ACTIONS: Mapping[str, Callable[[Run, Step], None]] = {
    "createGroup": s.create_group,
    "createKeyPackage": s.create_key_package,
    "joinGroup": s.join_group,
    "externalJoin": s.external_join,
    "installExternalPSK": s.install_external_psk,
    "groupInfo": s.group_info,
    "addProposal": s.proposal(
        "AddProposal",
        lambda run, st: pb.AddProposalRequest(state_id=run.sid(st.actor), key_package=run.get(st.get("keyPackage"), "key_package")),
    ),
    "updateProposal": s.proposal("UpdateProposal", lambda run, st: pb.UpdateProposalRequest(state_id=run.sid(st.actor))),
    "removeProposal": s.proposal(
        "RemoveProposal",
        lambda run, st: pb.RemoveProposalRequest(state_id=run.sid(st.actor), removed_id=str(st.get("removed", "")).encode()),
    ),
    "externalPSKProposal": s.proposal(
        "ExternalPSKProposal",
        lambda run, st: pb.ExternalPSKProposalRequest(state_id=run.sid(st.actor), psk_id=run.get(st.get("pskID"), "psk_id")),
    ),
    "resumptionPSKProposal": s.proposal(
        "ResumptionPSKProposal",
        lambda run, st: pb.ResumptionPSKProposalRequest(state_id=run.sid(st.actor), epoch_id=int(st.get("epochID", 0))),
    ),
    "groupContextExtensionsProposal": s.proposal(
        "GroupContextExtensionsProposal",
        lambda run, st: pb.GroupContextExtensionsProposalRequest(state_id=run.sid(st.actor), extensions=extensions(st.get("extensions"))),
    ),
    "fullCommit": s.full_commit,
    "commit": s.commit,
    "handleCommit": s.handle_commit,
    "handlePendingCommit": s.handle_pending_commit,
    "protect": s.protect,
    "unprotect": s.unprotect,
    "reinit": r.reinit,
    "branch": s.branch,
    "newMemberAddProposal": r.new_member_add_proposal,
    "addExternalSigner": r.add_external_signer,
    "externalSignerProposal": r.external_signer_proposal,
}


def execute(
    script: Script,
    assignment: Sequence[int],
    clients: Sequence[Client],
    suite: int,
    encrypt: bool,
    time_budget: float,
) -> RunResult:
    actors = script.actors()
    by_actor = {a: clients[i] for a, i in zip(actors, assignment, strict=True)}
    run = Run(script, by_actor, suite, encrypt)
    agreement = Agreement()
    result = RunResult(
        config=script.config, script=script.name, suite=suite, handshake="private" if encrypt else "public",
        roles=tuple((a, by_actor[a].label) for a in actors), passed=False,
    )
    start = time.monotonic()
    step: Step | None = None
    try:
        for step in script.steps:
            if time.monotonic() - start > time_budget:
                raise StepFailed(f"run exceeded its time budget of {time_budget:g}s")
            action = ACTIONS.get(step.action)
            if action is None:
                raise StepFailed(f"unknown action: {step.action}")
            action(run, step)
            agreement.check(run)
        result.passed = True
    except (StepFailed, RpcFailure) as exc:
        result.error = str(exc)
        result.divergence = getattr(exc, "divergence", None)
    except (ValueError, TypeError, KeyError) as exc:  # a malformed step parameter
        result.error = f"malformed step: {type(exc).__name__}: {exc}"
    if not result.passed and step is not None:
        result.failed_step, result.action, result.step_json = step.index, step.action, step.describe()
    result.final_suite = run.suite
    result.seconds = time.monotonic() - start
    _free(run)
    return result


def _free(run: Run) -> None:
    """Best effort: let the servers drop every handle of this run.

    Free is optional upstream and names a state id; servers that keep other
    handles (transactions, reinit and signer ids) in the same table free those
    too, others answer an error, which is ignored here.
    """
    for actor, handle in run.handles:
        with contextlib.suppress(RpcFailure):
            run.clients[actor].call("Free", pb.FreeRequest(state_id=handle))
