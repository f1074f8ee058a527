"""Carrying out the steps of one script for one role assignment and suite.

Each action does what the upstream runner's step of the same name does (same RPCs,
same order, same inputs), plus Accord's bookkeeping of who is in which epoch, so
that after every step the runner can check that the members agree
(``accord.interop.agreement``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

from accord.interop.config import Step
from accord.interop.divergence import StepFailed
from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.run_state import Run, extensions


def create_group(run: Run, step: Step) -> None:
    gid = str(uuid.uuid4()).encode()
    req = pb.CreateGroupRequest(group_id=gid, cipher_suite=run.suite, encrypt_handshake=run.encrypt, identity=step.actor.encode())
    run.set_state(step.actor, run.call(step.actor, "CreateGroup", req).state_id, ("create", step.index))
    run.msgs[step.index]["group_id"] = gid
    members = [str(m) for m in step.get("members") or []]
    if not members:
        return
    kps = {}
    for m in members:
        run.txn[m], kps[m] = run.key_package(m)
    adds = [pb.ProposalDescription(proposal_type=b"add", key_package=kps[m]) for m in members]
    welcome = run.call(step.actor, "Commit", pb.CommitRequest(state_id=run.sid(step.actor), by_value=adds)).welcome
    resp = run.call(step.actor, "HandlePendingCommit", pb.HandlePendingCommitRequest(state_id=run.sid(step.actor)))
    tag = ("commit", step.index)
    run.set_state(step.actor, resp.state_id, tag)
    for m in members:
        run.join(m, welcome, b"", (run.who(step.actor), resp.epoch_authenticator), tag)


def create_key_package(run: Run, step: Step) -> None:
    run.txn[step.actor], run.msgs[step.index]["key_package"] = run.key_package(step.actor)


def join_group(run: Run, step: Step) -> None:
    w = step.get("welcome")
    if step.actor not in run.txn:
        raise StepFailed(f"malformed step: no transaction for {step.actor}")
    req = pb.JoinGroupRequest(
        transaction_id=run.txn[step.actor], welcome=run.get(w, "welcome"), encrypt_handshake=run.encrypt,
        identity=step.actor.encode(), ratchet_tree=run.msgs[w].get("ratchet_tree", b""),
    )
    run.set_state(step.actor, run.call(step.actor, "JoinGroup", req).state_id, ("commit", w))


def external_join(run: Run, step: Step) -> None:
    joiner = str(step.get("joiner", ""))
    external_tree = step.flag("externalTree", "external_tree")
    gi = run.call(step.actor, "GroupInfo", pb.GroupInfoRequest(state_id=run.sid(step.actor), external_tree=external_tree))
    run.msgs[step.index].update(group_info=gi.group_info, ratchet_tree=gi.ratchet_tree)
    psks = [pb.PreSharedKey(psk_id=run.get(i, "psk_id"), psk_secret=run.get(i, "psk_secret")) for i in step.get("psks") or []]
    req = pb.ExternalJoinRequest(
        group_info=gi.group_info, ratchet_tree=gi.ratchet_tree, encrypt_handshake=run.encrypt,
        identity=joiner.encode(), remove_prior=bool(step.get("removePrior", False)), psks=psks,
    )
    resp = run.call(joiner, "ExternalJoin", req)
    tag = ("commit", step.index)
    run.set_state(joiner, resp.state_id, tag)
    run.msgs[step.index].update(commit=resp.commit, epoch_authenticator=resp.epoch_authenticator)
    for member in [*(str(m) for m in step.get("members") or []), step.actor]:
        run.handle_commit(member, resp.commit, [], (run.who(joiner), resp.epoch_authenticator), tag)


def install_external_psk(run: Run, step: Step) -> None:
    psk_id, secret = os.urandom(32), os.urandom(32)
    run.msgs[step.index].update(psk_id=psk_id, psk_secret=secret)
    for name in [str(c) for c in step.get("clients") or []]:
        target = run.state_id.get(name, run.txn.get(name, 0))
        if name in run.state_id:
            run.touched.add(name)
        run.call(name, "StorePSK", pb.StorePSKRequest(state_or_transaction_id=target, psk_id=psk_id, psk_secret=secret))


def group_info(run: Run, step: Step) -> None:
    req = pb.GroupInfoRequest(state_id=run.sid(step.actor), external_tree=step.flag("externalTree", "external_tree"))
    resp = run.call(step.actor, "GroupInfo", req)
    run.msgs[step.index].update(group_info=resp.group_info, ratchet_tree=resp.ratchet_tree)


def proposal(method: str, build: Callable[[Run, Step], Any]) -> Callable[[Run, Step], None]:
    def act(run: Run, step: Step) -> None:
        run.msgs[step.index]["proposal"] = run.call(step.actor, method, build(run, step)).proposal

    return act


def full_commit(run: Run, step: Step) -> None:
    req = run.commit_request(step)
    resp = run.call(step.actor, "Commit", req)
    run.msgs[step.index].update(commit=resp.commit, welcome=resp.welcome)
    if req.external_tree:
        run.msgs[step.index]["ratchet_tree"] = resp.ratchet_tree
    pending = run.call(step.actor, "HandlePendingCommit", pb.HandlePendingCommitRequest(state_id=run.sid(step.actor)))
    tag = ("commit", step.index)
    run.set_state(step.actor, pending.state_id, tag)
    run.msgs[step.index]["epoch_authenticator"] = pending.epoch_authenticator
    expected = (run.who(step.actor), pending.epoch_authenticator)
    for member in [str(m) for m in step.get("members") or []]:
        run.handle_commit(member, resp.commit, list(req.by_reference), expected, tag)
    tree = resp.ratchet_tree if req.external_tree else b""
    for joiner in [str(j) for j in step.get("joiners") or []]:
        run.join(joiner, resp.welcome, tree, expected, tag)


def commit(run: Run, step: Step) -> None:
    req = run.commit_request(step)
    resp = run.call(step.actor, "Commit", req)
    run.msgs[step.index].update(commit=resp.commit, welcome=resp.welcome)
    if req.external_tree:
        run.msgs[step.index]["ratchet_tree"] = resp.ratchet_tree
    run.pending[step.actor] = step.index


def handle_commit(run: Run, step: Step) -> None:
    c = step.get("commit")
    by_ref = [run.get(i, "proposal") for i in step.get("byReference") or []]
    run.handle_commit(step.actor, run.get(c, "commit"), by_ref, None, ("commit", c))


def handle_pending_commit(run: Run, step: Step) -> None:
    if step.actor not in run.pending:
        raise StepFailed(f"malformed step: {step.actor} has no pending commit")
    resp = run.call(step.actor, "HandlePendingCommit", pb.HandlePendingCommitRequest(state_id=run.sid(step.actor)))
    run.set_state(step.actor, resp.state_id, ("commit", run.pending.pop(step.actor)))


def protect(run: Run, step: Step) -> None:
    ad = str(step.get("authenticatedData", "")).encode()
    pt = str(step.get("plaintext", "")).encode()
    resp = run.call(step.actor, "Protect", pb.ProtectRequest(state_id=run.sid(step.actor), authenticated_data=ad, plaintext=pt))
    run.msgs[step.index].update(authenticated_data=ad, plaintext=pt, ciphertext=resp.ciphertext, sender=run.who(step.actor).encode())


def unprotect(run: Run, step: Step) -> None:
    c = step.get("ciphertext")
    req = pb.UnprotectRequest(state_id=run.sid(step.actor), ciphertext=run.get(c, "ciphertext"))
    resp = run.call(step.actor, "Unprotect", req)
    sender = run.get(c, "sender").decode()
    run.same("authenticated_data", (sender, run.get(c, "authenticated_data")), (run.who(step.actor), resp.authenticated_data))
    run.same("plaintext", (sender, run.get(c, "plaintext")), (run.who(step.actor), resp.plaintext))


def branch(run: Run, step: Step) -> None:
    members = [str(m) for m in step.get("members") or []]
    txns, kps = {}, []
    for m in members:
        txns[m], kp = run.key_package(m)
        kps.append(kp)
    external_tree = step.flag("external_tree", "externalTree")
    req = pb.CreateBranchRequest(
        state_id=run.sid(step.actor), group_id=str(uuid.uuid4()).encode(), extensions=extensions(step.get("extensions")),
        key_packages=kps, force_path=step.flag("force_path", "forcePath"), external_tree=external_tree,
    )
    resp = run.call(step.actor, "CreateBranch", req)
    tag = ("branch", step.index)
    run.set_state(step.actor, resp.state_id, tag)
    tree = resp.ratchet_tree if external_tree else b""
    for m in members:
        hreq = pb.HandleBranchRequest(state_id=run.sid(m), transaction_id=txns[m], welcome=resp.welcome, ratchet_tree=tree)
        hresp = run.call(m, "HandleBranch", hreq)
        run.same("epoch_authenticator", (run.who(step.actor), resp.epoch_authenticator), (run.who(m), hresp.epoch_authenticator))
        run.set_state(m, hresp.state_id, tag)
