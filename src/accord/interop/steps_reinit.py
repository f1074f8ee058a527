"""The multi-party actions: reinit and the external-sender proposals."""

from __future__ import annotations

from accord.interop.config import Step
from accord.interop.divergence import StepFailed
from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.run_state import Run, extensions


def reinit(run: Run, step: Step) -> None:
    """Propose, commit and handle a ReInit, then move everyone to the new group.

    As upstream: everyone but the committer handles the commit, the welcomer makes
    the new group from everyone else's new key packages, and everyone but the
    welcomer joins it.
    """
    proposer = str(step.get("proposer", "") or "")
    committer = str(step.get("committer", ""))
    welcomer = str(step.get("welcomer", ""))
    members = [str(m) for m in step.get("members") or []]
    everyone = list(dict.fromkeys([*([proposer] if proposer else []), committer, welcomer, *members]))
    not_committer = [a for a in everyone if a != committer]
    not_welcomer = [a for a in everyone if a != welcomer]

    group_id = run.group_id(bool(step.get("changeGroupID", False)))
    if step.get("changeCipherSuite", False):
        run.change_suite()
    if proposer:
        req = pb.ReInitProposalRequest(
            state_id=run.sid(proposer), cipher_suite=run.suite, group_id=group_id,
            extensions=extensions(step.get("extensions")),
        )
        proposal = run.call(proposer, "ReInitProposal", req).proposal
    else:
        proposal = run.get(step.get("externalReinitProposal"), "proposal")

    commit = run.call(committer, "ReInitCommit", pb.CommitRequest(state_id=run.sid(committer), by_reference=[proposal])).commit
    resp = run.call(committer, "HandlePendingReInitCommit", pb.HandlePendingCommitRequest(state_id=run.sid(committer)))
    reinit_ids, key_packages = {committer: run.keep(committer, resp.reinit_id)}, {committer: resp.key_package}
    expected = (run.who(committer), resp.epoch_authenticator)
    for m in not_committer:
        hreq = pb.HandleCommitRequest(state_id=run.sid(m), proposal=[proposal], commit=commit)
        hresp = run.call(m, "HandleReInitCommit", hreq)
        run.same("epoch_authenticator", expected, (run.who(m), hresp.epoch_authenticator))
        reinit_ids[m], key_packages[m] = run.keep(m, hresp.reinit_id), hresp.key_package

    external_tree = step.flag("externalTree", "external_tree")
    wreq = pb.ReInitWelcomeRequest(
        reinit_id=reinit_ids[welcomer], key_package=[key_packages[m] for m in not_welcomer],
        force_path=step.flag("forcePath", "force_path"), external_tree=external_tree,
    )
    wresp = run.call(welcomer, "ReInitWelcome", wreq)
    tag = ("reinit", step.index)
    run.set_state(welcomer, wresp.state_id, tag)
    tree = wresp.ratchet_tree if external_tree else b""
    expected = (run.who(welcomer), wresp.epoch_authenticator)
    for m in not_welcomer:
        hreq2 = pb.HandleReInitWelcomeRequest(reinit_id=reinit_ids[m], welcome=wresp.welcome, ratchet_tree=tree)
        hresp2 = run.call(m, "HandleReInitWelcome", hreq2)
        run.same("epoch_authenticator", expected, (run.who(m), hresp2.epoch_authenticator))
        run.set_state(m, hresp2.state_id, tag)


def new_member_add_proposal(run: Run, step: Step) -> None:
    joiner = str(step.get("joiner", ""))
    gi = run.call(step.actor, "GroupInfo", pb.GroupInfoRequest(state_id=run.sid(step.actor)))
    resp = run.call(joiner, "NewMemberAddProposal", pb.NewMemberAddProposalRequest(group_info=gi.group_info, identity=joiner.encode()))
    run.txn[joiner] = run.keep(joiner, resp.transaction_id)
    run.msgs[step.index]["proposal"] = resp.proposal


def add_external_signer(run: Run, step: Step) -> None:
    signer = str(step.get("signer", ""))
    sresp = run.call(signer, "CreateExternalSigner", pb.CreateExternalSignerRequest(cipher_suite=run.suite, identity=signer.encode()))
    run.signer[signer] = run.keep(signer, sresp.signer_id)
    req = pb.AddExternalSignerRequest(state_id=run.sid(step.actor), external_sender=sresp.external_sender)
    run.msgs[step.index]["proposal"] = run.call(step.actor, "AddExternalSigner", req).proposal


def external_signer_proposal(run: Run, step: Step) -> None:
    member = str(step.get("member", ""))
    if step.actor not in run.signer:
        raise StepFailed(f"malformed step: {step.actor} is not an external signer")
    gi = run.call(member, "GroupInfo", pb.GroupInfoRequest(state_id=run.sid(member), external_tree=True))
    desc = run.proposal_description(step.get("description") or {})
    req = pb.ExternalSignerProposalRequest(
        signer_id=run.signer[step.actor], group_info=gi.group_info, ratchet_tree=gi.ratchet_tree, description=desc,
    )
    run.msgs[step.index]["proposal"] = run.call(step.actor, "ExternalSignerProposal", req).proposal
