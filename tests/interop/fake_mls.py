"""A toy in-process MLSClient servicer for testing the runner's reports.

It is not MLS: a group state is (group id, epoch, authenticator), commits and
welcomes are JSON carrying the next state, and every honest instance computes the
same values, so two of them always agree. Knobs make one instance lie on purpose
(a wrong StateAuth, Export or epoch_authenticator at a given epoch) so the tests can
check what the runner reports. RPCs it does not serve answer UNIMPLEMENTED (the
generated base class does that).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc

from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.proto import mls_client_pb2_grpc as pb_grpc


def h(*parts: bytes) -> bytes:
    return hashlib.sha256(b"|".join(parts)).digest()


@dataclass
class Group:
    group_id: str
    epoch: int
    auth: bytes
    pending: Group | None = None


@dataclass
class Knobs:
    lie_state_auth_at: int | None = None
    lie_export_at: int | None = None
    lie_epoch_authenticator_at: int | None = None


@dataclass
class FakeMLS(pb_grpc.MLSClientServicer):
    name: str = "fake"
    knobs: Knobs = field(default_factory=Knobs)
    states: dict[int, Group] = field(default_factory=dict)
    txns: dict[int, bytes] = field(default_factory=dict)
    reinits: dict[int, Group] = field(default_factory=dict)
    signers: set[int] = field(default_factory=set)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))

    def _state(self, sid: int, context: Any) -> Group:
        if sid not in self.states:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no state {sid}")
        return self.states[sid]

    def _ea(self, g: Group) -> bytes:
        if self.knobs.lie_epoch_authenticator_at == g.epoch:
            return h(b"lie", g.auth)
        return g.auth

    def Name(self, request: Any, context: Any) -> pb.NameResponse:
        return pb.NameResponse(name=self.name)

    def SupportedCiphersuites(self, request: Any, context: Any) -> pb.SupportedCiphersuitesResponse:
        return pb.SupportedCiphersuitesResponse(ciphersuites=[1, 2])

    def CreateGroup(self, request: Any, context: Any) -> pb.CreateGroupResponse:
        sid = next(self.ids)
        gid = request.group_id.decode()
        self.states[sid] = Group(gid, 0, h(b"create", request.group_id, str(request.cipher_suite).encode()))
        return pb.CreateGroupResponse(state_id=sid)

    def CreateKeyPackage(self, request: Any, context: Any) -> pb.CreateKeyPackageResponse:
        tid = next(self.ids)
        self.txns[tid] = request.identity
        return pb.CreateKeyPackageResponse(transaction_id=tid, key_package=b"kp:" + request.identity)

    def Commit(self, request: Any, context: Any) -> pb.CommitResponse:
        g = self._state(request.state_id, context)
        adds = [d.key_package for d in request.by_value if d.proposal_type == b"add"]
        nxt = Group(g.group_id, g.epoch + 1, h(g.auth, b"commit", *adds, *request.by_reference))
        g.pending = nxt
        body = json.dumps({"group": nxt.group_id, "epoch": nxt.epoch, "auth": nxt.auth.hex()}).encode()
        return pb.CommitResponse(commit=body, welcome=body)  # a welcome is harmless when nobody joins

    def HandlePendingCommit(self, request: Any, context: Any) -> pb.HandleCommitResponse:
        g = self._state(request.state_id, context)
        if g.pending is None:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "no pending commit")
        self.states[request.state_id] = g.pending
        return pb.HandleCommitResponse(state_id=request.state_id, epoch_authenticator=self._ea(g.pending))

    def _load(self, body: bytes, context: Any) -> Group:
        try:
            d = json.loads(body)
            return Group(d["group"], d["epoch"], bytes.fromhex(d["auth"]))
        except (ValueError, KeyError, TypeError):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "not a fake message")
            raise

    def HandleCommit(self, request: Any, context: Any) -> pb.HandleCommitResponse:
        self._state(request.state_id, context)
        g = self._load(request.commit, context)
        self.states[request.state_id] = g
        return pb.HandleCommitResponse(state_id=request.state_id, epoch_authenticator=self._ea(g))

    def JoinGroup(self, request: Any, context: Any) -> pb.JoinGroupResponse:
        if request.transaction_id not in self.txns:
            context.abort(grpc.StatusCode.NOT_FOUND, "no transaction")
        g = self._load(request.welcome, context)
        sid = next(self.ids)
        self.states[sid] = g
        return pb.JoinGroupResponse(state_id=sid, epoch_authenticator=self._ea(g))

    def StateAuth(self, request: Any, context: Any) -> pb.StateAuthResponse:
        g = self._state(request.state_id, context)
        lie = self.knobs.lie_state_auth_at == g.epoch
        return pb.StateAuthResponse(state_auth_secret=h(b"lie", g.auth) if lie else g.auth)

    def Export(self, request: Any, context: Any) -> pb.ExportResponse:
        g = self._state(request.state_id, context)
        value = h(g.auth, request.label.encode(), request.context)[: request.key_length]
        if self.knobs.lie_export_at == g.epoch:
            value = bytes([value[0] ^ 1]) + value[1:]
        return pb.ExportResponse(exported_secret=value)

    def Protect(self, request: Any, context: Any) -> pb.ProtectResponse:
        self._state(request.state_id, context)
        body = {"ad": request.authenticated_data.hex(), "pt": request.plaintext.hex()}
        return pb.ProtectResponse(ciphertext=json.dumps(body).encode())

    def Unprotect(self, request: Any, context: Any) -> pb.UnprotectResponse:
        self._state(request.state_id, context)
        d = json.loads(request.ciphertext)
        return pb.UnprotectResponse(authenticated_data=bytes.fromhex(d["ad"]), plaintext=bytes.fromhex(d["pt"]))

    # -- the rest of the service, so whole scenario files can run through the fakes

    def _group_json(self, g: Group) -> bytes:
        return json.dumps({"group": g.group_id, "epoch": g.epoch, "auth": g.auth.hex()}).encode()

    def _known(self, some_id: int, context: Any) -> None:
        if some_id not in self.states and some_id not in self.txns and some_id not in self.reinits:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no state or transaction {some_id}")

    def StorePSK(self, request: Any, context: Any) -> pb.StorePSKResponse:
        self._known(request.state_or_transaction_id, context)
        return pb.StorePSKResponse()

    def GroupInfo(self, request: Any, context: Any) -> pb.GroupInfoResponse:
        g = self._state(request.state_id, context)
        return pb.GroupInfoResponse(group_info=self._group_json(g), ratchet_tree=b"tree" if request.external_tree else b"")

    def ExternalJoin(self, request: Any, context: Any) -> pb.ExternalJoinResponse:
        g = self._load(request.group_info, context)
        nxt = Group(g.group_id, g.epoch + 1, h(g.auth, b"external", request.identity))
        sid = next(self.ids)
        self.states[sid] = nxt
        return pb.ExternalJoinResponse(state_id=sid, commit=self._group_json(nxt), epoch_authenticator=self._ea(nxt))

    def _proposal(self, request: Any, context: Any, kind: bytes) -> pb.ProposalResponse:
        self._state(request.state_id, context)
        return pb.ProposalResponse(proposal=kind + b":" + request.SerializeToString())

    def AddProposal(self, request: Any, context: Any) -> pb.ProposalResponse:
        return self._proposal(request, context, b"add")

    def UpdateProposal(self, request: Any, context: Any) -> pb.ProposalResponse:
        return self._proposal(request, context, b"update")

    def RemoveProposal(self, request: Any, context: Any) -> pb.ProposalResponse:
        return self._proposal(request, context, b"remove")

    def ExternalPSKProposal(self, request: Any, context: Any) -> pb.ProposalResponse:
        return self._proposal(request, context, b"psk")

    def ResumptionPSKProposal(self, request: Any, context: Any) -> pb.ProposalResponse:
        return self._proposal(request, context, b"resumption")

    def GroupContextExtensionsProposal(self, request: Any, context: Any) -> pb.ProposalResponse:
        return self._proposal(request, context, b"gce")

    def ReInitProposal(self, request: Any, context: Any) -> pb.ProposalResponse:
        return self._proposal(request, context, b"reinit")

    def ReInitCommit(self, request: Any, context: Any) -> pb.CommitResponse:
        return self.Commit(request, context)

    def _start_reinit(self, sid: int) -> pb.HandleReInitCommitResponse:
        g = self.states[sid]
        rid = next(self.ids)
        self.reinits[rid] = g
        return pb.HandleReInitCommitResponse(reinit_id=rid, key_package=b"kp:reinit", epoch_authenticator=self._ea(g))

    def HandlePendingReInitCommit(self, request: Any, context: Any) -> pb.HandleReInitCommitResponse:
        self.HandlePendingCommit(request, context)
        return self._start_reinit(request.state_id)

    def HandleReInitCommit(self, request: Any, context: Any) -> pb.HandleReInitCommitResponse:
        self.HandleCommit(request, context)
        return self._start_reinit(request.state_id)

    def _subgroup(self, old: Group, label: bytes, group_id: bytes) -> pb.CreateSubgroupResponse:
        g = Group(group_id.decode() or old.group_id, 1, h(old.auth, label, group_id))
        sid = next(self.ids)
        self.states[sid] = g
        return pb.CreateSubgroupResponse(state_id=sid, welcome=self._group_json(g), epoch_authenticator=self._ea(g))

    def ReInitWelcome(self, request: Any, context: Any) -> pb.CreateSubgroupResponse:
        if request.reinit_id not in self.reinits:
            context.abort(grpc.StatusCode.NOT_FOUND, "no reinit")
        return self._subgroup(self.reinits[request.reinit_id], b"reinit", b"")

    def HandleReInitWelcome(self, request: Any, context: Any) -> pb.JoinGroupResponse:
        if request.reinit_id not in self.reinits:
            context.abort(grpc.StatusCode.NOT_FOUND, "no reinit")
        g = self._load(request.welcome, context)
        sid = next(self.ids)
        self.states[sid] = g
        return pb.JoinGroupResponse(state_id=sid, epoch_authenticator=self._ea(g))

    def CreateBranch(self, request: Any, context: Any) -> pb.CreateSubgroupResponse:
        return self._subgroup(self._state(request.state_id, context), b"branch", request.group_id)

    def HandleBranch(self, request: Any, context: Any) -> pb.HandleBranchResponse:
        self._state(request.state_id, context)
        g = self._load(request.welcome, context)
        sid = next(self.ids)
        self.states[sid] = g
        return pb.HandleBranchResponse(state_id=sid, epoch_authenticator=self._ea(g))

    def NewMemberAddProposal(self, request: Any, context: Any) -> pb.NewMemberAddProposalResponse:
        self._load(request.group_info, context)
        tid = next(self.ids)
        self.txns[tid] = request.identity
        return pb.NewMemberAddProposalResponse(transaction_id=tid, proposal=b"self-add:" + request.identity)

    def CreateExternalSigner(self, request: Any, context: Any) -> pb.CreateExternalSignerResponse:
        sid = next(self.ids)
        self.signers.add(sid)
        return pb.CreateExternalSignerResponse(signer_id=sid, external_sender=b"sender:" + request.identity)

    def AddExternalSigner(self, request: Any, context: Any) -> pb.ProposalResponse:
        return self._proposal(request, context, b"add-signer")

    def ExternalSignerProposal(self, request: Any, context: Any) -> pb.ProposalResponse:
        if request.signer_id not in self.signers:
            context.abort(grpc.StatusCode.NOT_FOUND, "no signer")
        self._load(request.group_info, context)
        return pb.ProposalResponse(proposal=b"external:" + request.description.SerializeToString())

    def Free(self, request: Any, context: Any) -> pb.FreeResponse:
        self.states.pop(request.state_id, None)
        return pb.FreeResponse()


@contextmanager
def serve(*servicers: FakeMLS) -> Iterator[list[str]]:
    """Serve each fake on its own 127.0.0.1 port; yields the addresses."""
    servers, addresses = [], []
    try:
        for s in servicers:
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
            pb_grpc.add_MLSClientServicer_to_server(s, server)
            port = server.add_insecure_port("127.0.0.1:0")
            server.start()
            servers.append(server)
            addresses.append(f"127.0.0.1:{port}")
        yield addresses
    finally:
        for server in servers:
            server.stop(grace=None).wait(timeout=5)
