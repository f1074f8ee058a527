"""MLSClient RPCs that move a group to a new one: ReInit (propose, commit, handle,
Welcome) and subgroup branches (RFC 9420 11.2, 11.3), resumption PSKs included."""

from __future__ import annotations

from typing import Any

from accord.errors import Conflict
from accord.interop import decoding as dec
from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.rpc_base import now
from accord.interop.rpc_commits import CommitRPCs
from accord.interop.rpc_errors import guard
from accord.interop.state_store import Member, ReInitWait, Transaction
from accord.mls import group as g
from accord.mls.structs import MLSMessage
from accord.mls.suites import get_suite

__all__ = ["ReInitBranchRPCs"]


class ReInitBranchRPCs(CommitRPCs):
    def _start_reinit(self, state: g.GroupState) -> pb.HandleReInitCommitResponse:
        """After a ReInit commit: a KeyPackage for the new group, kept under a reinit id."""
        r = state.reinit
        if r is None:
            raise Conflict("the commit did not contain a ReInit proposal")
        identity = state.own_leaf_node.credential.identity or b""
        cred, priv = dec.new_identity(r.cipher_suite, identity)
        kp = g.key_package(get_suite(r.cipher_suite), cred, priv, now())
        rid = self.store.add(ReInitWait(state, kp))
        return pb.HandleReInitCommitResponse(
            reinit_id=rid, key_package=MLSMessage.wrap(kp.key_package).to_bytes(),
            epoch_authenticator=g.epoch_authenticator(state))

    def _subgroup(self, state: g.GroupState, out: Any, external_tree: bool) -> pb.CreateSubgroupResponse:
        sid = self.store.add(Member(state))
        return pb.CreateSubgroupResponse(
            state_id=sid, welcome=out.welcome.to_bytes() if out.welcome else b"",
            ratchet_tree=dec.tree_bytes(state) if external_tree else b"",
            epoch_authenticator=g.epoch_authenticator(state))

    def _join_successor(self, welcome: bytes, tree: bytes, key_package: Any,
                        old: g.GroupState, psks: dict[bytes, bytes]) -> pb.JoinGroupResponse:
        """Join a ReInit's or branch's new group from its Welcome, resuming from ``old``."""
        state = g.join_from_welcome(dec.welcome(welcome), key_package, now(),
                                    ratchet_tree=dec.tree(tree), external_psks=psks,
                                    resumption_from=[old], config=old.config)
        sid = self.store.add(Member(state))
        return pb.JoinGroupResponse(state_id=sid, epoch_authenticator=g.epoch_authenticator(state))

    @guard
    def ReInitProposal(self, req: pb.ReInitProposalRequest) -> pb.ProposalResponse:
        dec.suite(req.cipher_suite)
        group_id = dec.nonempty(req.group_id, "group_id")
        exts = dec.extensions(req.extensions)
        return self._propose(req.state_id, lambda s: g.propose_reinit(
            s, group_id, req.cipher_suite, exts))

    @guard
    def ReInitCommit(self, req: pb.CommitRequest) -> pb.CommitResponse:
        return self._commit(req, only_refs=True)

    @guard
    def HandlePendingReInitCommit(
        self, req: pb.HandlePendingCommitRequest
    ) -> pb.HandleReInitCommitResponse:
        m = self._member(req.state_id)
        if m.state.pending is None:
            raise Conflict("no pending commit")
        if m.state.pending.next_state.reinit is None:
            raise Conflict("the pending commit contains no ReInit proposal")
        return self._start_reinit(self._pending(req.state_id))

    @guard
    def HandleReInitCommit(self, req: pb.HandleCommitRequest) -> pb.HandleReInitCommitResponse:
        m = self._member(req.state_id)
        before = m.state
        state = self._handle_commit(req)
        if state.reinit is None:
            m.state = before
            raise Conflict("the commit did not contain a ReInit proposal")
        return self._start_reinit(state)

    @guard
    def ReInitWelcome(self, req: pb.ReInitWelcomeRequest) -> pb.CreateSubgroupResponse:
        r = self.store.get(req.reinit_id, ReInitWait, "reinit")
        kps = [dec.key_package(k) for k in req.key_package]
        out, pending = g.reinit(r.old, kps, now(), own=r.key_package,
                                inline_tree=not req.external_tree, force_path=req.force_path)
        return self._subgroup(g.merge_pending(pending), out, req.external_tree)

    @guard
    def HandleReInitWelcome(self, req: pb.HandleReInitWelcomeRequest) -> pb.JoinGroupResponse:
        r = self.store.get(req.reinit_id, ReInitWait, "reinit")
        return self._join_successor(req.welcome, req.ratchet_tree, r.key_package, r.old,
                                    dict(r.old.external_psks))

    @guard
    def CreateBranch(self, req: pb.CreateBranchRequest) -> pb.CreateSubgroupResponse:
        old = self._member(req.state_id).state
        group_id = dec.nonempty(req.group_id, "group_id")
        kps = [dec.key_package(k) for k in req.key_packages]
        out, pending = g.branch(old, group_id, kps, now(),
                                extensions=dec.extensions(req.extensions),
                                inline_tree=not req.external_tree, force_path=req.force_path)
        return self._subgroup(g.merge_pending(pending), out, req.external_tree)

    @guard
    def HandleBranch(self, req: pb.HandleBranchRequest) -> pb.HandleBranchResponse:
        old = self._member(req.state_id).state
        tx = self.store.get(req.transaction_id, Transaction, "transaction")
        joined = self._join_successor(req.welcome, req.ratchet_tree, tx.key_package, old,
                                      {**old.external_psks, **tx.psks})
        return pb.HandleBranchResponse(state_id=joined.state_id,
                                       epoch_authenticator=joined.epoch_authenticator)
