"""MLSClient RPCs where a member proposes: Add, Update, Remove, external and
resumption PSK, GroupContextExtensions (ReInit: rpc_reinit_branch.py)."""

from __future__ import annotations

from typing import Any

from accord.interop import decoding as dec
from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.rpc_base import ServicerBase, now
from accord.interop.rpc_errors import guard
from accord.mls import group as g
from accord.mls.group.proposals import rules_for

__all__ = ["ProposalRPCs"]


class ProposalRPCs(ServicerBase):
    @guard
    def AddProposal(self, req: pb.AddProposalRequest) -> pb.ProposalResponse:
        kp = dec.key_package(req.key_package)

        def make(s: g.GroupState) -> Any:
            # RFC 9420 12.1.1: only a valid KeyPackage may be proposed; the
            # engine checks it when the Add is committed, the proposer checks here.
            g.validate_key_package(kp, now=now(), credential_validator=s.config.credential_validator,
                                   rules=rules_for(s))
            return g.propose_add(s, kp)
        return self._propose(req.state_id, make)

    @guard
    def UpdateProposal(self, req: pb.UpdateProposalRequest) -> pb.ProposalResponse:
        return self._propose(req.state_id, g.propose_update)

    @guard
    def RemoveProposal(self, req: pb.RemoveProposalRequest) -> pb.ProposalResponse:
        def make(s: g.GroupState) -> Any:
            return g.propose_remove(s, dec.leaf_of(g.members(s), bytes(req.removed_id)))
        return self._propose(req.state_id, make)

    @guard
    def ExternalPSKProposal(self, req: pb.ExternalPSKProposalRequest) -> pb.ProposalResponse:
        psk_id = dec.nonempty(req.psk_id, "psk_id")
        return self._propose(req.state_id, lambda s: g.propose_psk(s, psk_id))

    @guard
    def ResumptionPSKProposal(self, req: pb.ResumptionPSKProposalRequest) -> pb.ProposalResponse:
        return self._propose(req.state_id, lambda s: g.propose_psk(s, epoch=req.epoch_id))

    @guard
    def GroupContextExtensionsProposal(
        self, req: pb.GroupContextExtensionsProposalRequest
    ) -> pb.ProposalResponse:
        exts = dec.extensions(req.extensions)
        return self._propose(req.state_id, lambda s: g.propose_group_context_extensions(s, exts))
