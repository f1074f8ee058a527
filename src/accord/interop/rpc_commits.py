"""MLSClient RPCs that commit and take in commits: Commit, HandleCommit,
HandlePendingCommit, and the steps the ReInit variants share with them."""

from __future__ import annotations

from accord.errors import Conflict, ValidationError
from accord.interop import decoding as dec
from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.rpc_base import ServicerBase, now
from accord.interop.rpc_errors import guard
from accord.mls import group as g
from accord.mls.structs import Update
from accord.mls.structs.enums import ContentType

__all__ = ["CommitRPCs"]


class CommitRPCs(ServicerBase):
    def _commit(self, req: pb.CommitRequest, only_refs: bool = False) -> pb.CommitResponse:
        m = self._member(req.state_id)
        state = m.state
        if state.pending is not None:
            raise Conflict("a commit is already pending; call HandlePendingCommit first")
        refs: list[bytes] = []
        for raw in req.by_reference:
            res, state = g.process(state, bytes(raw), now())
            if res.proposal_ref is None:
                raise ValidationError("a by_reference entry is not a proposal", "RFC 9420 12.4")
            # RFC 9420 12.2: a committer cannot commit its own Update.
            own_update = isinstance(res.proposal, Update) and res.sender.index == state.own_leaf
            if not own_update and res.proposal_ref not in refs:
                refs.append(res.proposal_ref)
        if only_refs and req.by_value:
            raise ValidationError("ReInitCommit commits its ReInit proposal by reference", dec.REQUEST)
        members = g.members(state)
        by_value = [dec.describe(d, state.context, members) for d in req.by_value]
        out, pending = g.commit(state, now=now(), proposals=refs, by_value=by_value,
                                force_path=req.force_path, inline_tree=not req.external_tree)
        m.state = pending
        tree = dec.tree_bytes(pending.pending.next_state) if req.external_tree and pending.pending else b""
        return pb.CommitResponse(commit=out.commit.to_bytes(),
                                 welcome=out.welcome.to_bytes() if out.welcome else b"",
                                 ratchet_tree=tree)

    def _handle_commit(self, req: pb.HandleCommitRequest) -> g.GroupState:
        m = self._member(req.state_id)
        state = m.state
        for raw in req.proposal:
            res, state = g.process(state, bytes(raw), now())
            if res.proposal_ref is None:
                raise ValidationError("a proposal entry is not a proposal", "RFC 9420 12.4")
        res, state = g.process(state, dec.msg(req.commit, "commit"), now())
        if res.content_type != ContentType.COMMIT:
            raise ValidationError("commit is not a Commit", "RFC 9420 12.4")
        m.state = state
        return state

    def _pending(self, state_id: int) -> g.GroupState:
        m = self._member(state_id)
        if m.state.pending is None:
            raise Conflict("no pending commit")
        m.state = g.merge_pending(m.state)
        return m.state

    @guard
    def Commit(self, req: pb.CommitRequest) -> pb.CommitResponse:
        return self._commit(req)

    @guard
    def HandleCommit(self, req: pb.HandleCommitRequest) -> pb.HandleCommitResponse:
        state = self._handle_commit(req)
        return pb.HandleCommitResponse(state_id=req.state_id,
                                       epoch_authenticator=g.epoch_authenticator(state))

    @guard
    def HandlePendingCommit(self, req: pb.HandlePendingCommitRequest) -> pb.HandleCommitResponse:
        state = self._pending(req.state_id)
        return pb.HandleCommitResponse(state_id=req.state_id,
                                       epoch_authenticator=g.epoch_authenticator(state))
