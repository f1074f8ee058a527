"""Accord's MLSClient servicer: the 34 RPCs of the interop proto on ``accord.mls.group``.

Each RPC decodes its request, calls the group engine and stores the resulting
state under an opaque handle (state_store.py). ``AccordMLSClient`` is composed
of one mixin per RPC family, all on ``rpc_base.ServicerBase`` (handle store,
one-RPC-at-a-time lock, peer quirks):

- rpc_groups.py: CreateGroup, CreateKeyPackage, JoinGroup, ExternalJoin,
  GroupInfo, StateAuth, Export, Protect, Unprotect, StorePSK;
- rpc_proposals.py: Add/Update/Remove, external and resumption PSK,
  GroupContextExtensions proposals;
- rpc_commits.py: Commit, HandleCommit, HandlePendingCommit;
- rpc_reinit_branch.py: ReInit (proposal, commits, Welcomes) and branches;
- rpc_external.py: NewMemberAddProposal and external signers;
- here: Name, SupportedCiphersuites, Free.

Request fields are decoded and checked in decoding.py. Errors are mapped to a
gRPC status in one place (rpc_errors.py): DecodeError/ValidationError/CryptoError
-> INVALID_ARGUMENT, NotFound -> NOT_FOUND, Conflict -> FAILED_PRECONDITION;
anything unexpected -> INTERNAL with its type, and the server keeps serving.
Secrets are never put into a status message. Peer quirks (quirks.py) are off
unless the server is started with them; with none on, every RPC is RFC 9420.
"""

from __future__ import annotations

from typing import Any

from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.quirks import PEER_QUIRKS
from accord.interop.rpc_commits import CommitRPCs
from accord.interop.rpc_errors import guard
from accord.interop.rpc_external import ExternalRPCs
from accord.interop.rpc_groups import GroupRPCs
from accord.interop.rpc_proposals import ProposalRPCs
from accord.interop.rpc_reinit_branch import ReInitBranchRPCs
from accord.mls.suites import SUITES

__all__ = ["AccordMLSClient", "NAME", "PEER_QUIRKS"]

NAME = "accord"


class AccordMLSClient(GroupRPCs, ProposalRPCs, ReInitBranchRPCs, CommitRPCs, ExternalRPCs):
    """All 34 MLSClient RPCs; ``AccordMLSClient(quirks=frozenset({...}))`` switches
    on peer quirks by name (quirks.PEER_QUIRKS), ValueError on an unknown one."""

    @guard
    def Name(self, req: Any) -> pb.NameResponse:
        return pb.NameResponse(name=NAME)

    @guard
    def SupportedCiphersuites(self, req: Any) -> pb.SupportedCiphersuitesResponse:
        return pb.SupportedCiphersuitesResponse(ciphersuites=sorted(SUITES))

    @guard
    def Free(self, req: pb.FreeRequest) -> pb.FreeResponse:
        self.store.free(req.state_id)
        return pb.FreeResponse()
