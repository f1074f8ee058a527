"""MLSClient RPCs for proposals from outside the group: NewMemberAddProposal and
external senders (create a signer, add it to the group, propose as it)."""

from __future__ import annotations

from typing import Any

from accord.interop import decoding as dec
from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.rpc_base import ServicerBase, now
from accord.interop.rpc_errors import guard
from accord.interop.state_store import Signer, Transaction
from accord.mls import group as g
from accord.mls.codec import decode, encode
from accord.mls.structs import Extension
from accord.mls.structs.credential import ExternalSender, ExternalSenders
from accord.mls.structs.enums import ExtensionType
from accord.mls.suites import get_suite

__all__ = ["ExternalRPCs"]


class ExternalRPCs(ServicerBase):
    @guard
    def NewMemberAddProposal(
        self, req: pb.NewMemberAddProposalRequest
    ) -> pb.NewMemberAddProposalResponse:
        info = dec.group_info(req.group_info)
        suite_id = info.group_context.cipher_suite
        cred, priv = dec.new_identity(suite_id, req.identity)
        kp = g.key_package(get_suite(suite_id), cred, priv, now())
        msg = g.new_member_add_proposal(info.group_context, kp)
        tid = self.store.add(Transaction(kp))
        return pb.NewMemberAddProposalResponse(
            transaction_id=tid, proposal=msg.to_bytes(), init_priv=kp.init_priv,
            encryption_priv=kp.encryption_priv, signature_priv=kp.signature_priv)

    @guard
    def CreateExternalSigner(
        self, req: pb.CreateExternalSignerRequest
    ) -> pb.CreateExternalSignerResponse:
        suite = dec.suite(req.cipher_suite)
        cred, priv = dec.new_identity(req.cipher_suite, req.identity)
        sender = encode(ExternalSender, ExternalSender(suite.signature_public_key(priv), cred))
        sid = self.store.add(Signer(req.cipher_suite, priv, sender))
        return pb.CreateExternalSignerResponse(signer_id=sid, external_sender=sender)

    @guard
    def AddExternalSigner(self, req: pb.AddExternalSignerRequest) -> pb.ProposalResponse:
        new: ExternalSender = decode(ExternalSender, bytes(req.external_sender))

        def make(s: g.GroupState) -> Any:
            # RFC 9420 12.1.8.1: a vector of ExternalSender; append the new one.
            exts = list(s.context.extensions)
            current: ExternalSenders = ()
            for e in exts:
                if e.extension_type == ExtensionType.EXTERNAL_SENDERS:
                    current = decode(ExternalSenders, e.extension_data)
            data = encode(ExternalSenders, (*current, new))
            exts = [e for e in exts if e.extension_type != ExtensionType.EXTERNAL_SENDERS]
            exts.append(Extension(ExtensionType.EXTERNAL_SENDERS, data))
            return g.propose_group_context_extensions(s, tuple(exts))
        return self._propose(req.state_id, make)

    @guard
    def ExternalSignerProposal(self, req: pb.ExternalSignerProposalRequest) -> pb.ProposalResponse:
        signer = self.store.get(req.signer_id, Signer, "signer")
        info = dec.group_info(req.group_info)
        suite_id = info.group_context.cipher_suite
        tree = dec.tree(req.ratchet_tree) or dec.tree_from_info(info)
        members = dec.tree_members(suite_id, tree)
        proposal = dec.describe(req.description, info.group_context, members)
        msg = g.external_proposal(info.group_context, proposal, req.signer_index,
                                  signer.signature_priv)
        return pb.ProposalResponse(proposal=msg.to_bytes())
