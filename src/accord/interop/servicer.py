"""Accord's MLSClient servicer: the 34 RPCs of the interop proto on ``accord.mls.group``.

Each RPC decodes its request, calls the group engine and stores the resulting
state under an opaque handle (state_store.py). Errors are mapped to a gRPC
status in one place (``_guard``): DecodeError/ValidationError/CryptoError ->
INVALID_ARGUMENT, NotFound -> NOT_FOUND, Conflict -> FAILED_PRECONDITION;
anything unexpected -> INTERNAL with its type, and the server keeps serving.
Secrets are never put into a status message.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc  # type: ignore[import-untyped]

from accord.errors import AccordError, Conflict, NotFound, ValidationError
from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.proto import mls_client_pb2_grpc as pb_grpc
from accord.interop.state_store import Member, ReInitWait, Signer, Store, Transaction
from accord.mls import group as g
from accord.mls.codec import decode, encode
from accord.mls.group.proposals import rules_for
from accord.mls.structs import (
    Add,
    Credential,
    Extension,
    GroupContextExtensions,
    GroupInfo,
    MLSMessage,
    PreSharedKey,
    PreSharedKeyID,
    Proposal,
    RatchetTree,
    ReInit,
    Remove,
    Update,
)
from accord.mls.structs.credential import ExternalSender, ExternalSenders
from accord.mls.structs.enums import ExtensionType, ProtocolVersion, ResumptionPSKUsage
from accord.mls.suites import SUITES, get_suite

__all__ = ["AccordMLSClient", "NAME"]

NAME = "accord"
MAX_EXPORT_LENGTH = 1024
# Earlier epochs whose application keys are kept (RFC 9420 15.3): the
# application scripts deliver messages across epochs out of order.
PAST_EPOCHS = 4


def _now() -> int:
    return int(time.time())


def _config(encrypt: bool) -> g.GroupConfig:
    return g.GroupConfig(encrypt_handshake=encrypt, max_past_epochs=PAST_EPOCHS)


def _status(err: BaseException) -> tuple[grpc.StatusCode, str]:
    if isinstance(err, NotFound):
        return grpc.StatusCode.NOT_FOUND, str(err)
    if isinstance(err, Conflict):
        return grpc.StatusCode.FAILED_PRECONDITION, str(err)
    if isinstance(err, AccordError):
        return grpc.StatusCode.INVALID_ARGUMENT, f"{type(err).__name__}: {err}"
    if isinstance(err, (ValueError, KeyError, IndexError, TypeError, OverflowError)):
        return grpc.StatusCode.INVALID_ARGUMENT, f"{type(err).__name__}: {err}"
    return grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}"


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(self: AccordMLSClient, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            with self._lock:  # one RPC at a time: handles name mutable slots
                return fn(self, request)
        except Exception as err:  # noqa: BLE001 - every failure becomes a status
            code, message = _status(err)
            context.abort(code, message[:500])
    return wrapper


def _msg(data: bytes, what: str) -> MLSMessage:
    if not data:
        raise ValidationError(f"empty {what}", "interop request")
    msg: MLSMessage = decode(MLSMessage, bytes(data))
    return msg


def _key_package(data: bytes) -> Any:
    msg = _msg(data, "key_package")
    kp = msg.message
    if type(kp).__name__ != "KeyPackage":
        raise ValidationError("key_package is not an MLSMessage holding a KeyPackage", "RFC 9420 6")
    return kp


def _welcome(data: bytes) -> MLSMessage:
    msg = _msg(data, "welcome")
    if type(msg.message).__name__ != "Welcome":
        raise ValidationError("welcome is not an MLSMessage holding a Welcome", "RFC 9420 12.4.3.1")
    return msg


def _group_info(data: bytes) -> GroupInfo:
    msg = _msg(data, "group_info")
    if not isinstance(msg.message, GroupInfo):
        raise ValidationError("group_info is not an MLSMessage holding a GroupInfo", "RFC 9420 12.4.3")
    return msg.message


def _tree(data: bytes) -> bytes | None:
    return bytes(data) if data else None


def _extensions(exts: Sequence[pb.Extension]) -> tuple[Extension, ...]:
    out = []
    for e in exts:
        if e.extension_type > 0xFFFF:
            raise ValidationError(f"extension type {e.extension_type} exceeds uint16", "RFC 9420 13")
        out.append(Extension(e.extension_type, bytes(e.extension_data)))
    return tuple(out)


def _suite(n: int) -> Any:
    if n not in SUITES:
        raise ValidationError(f"cipher suite {n} is not supported", "RFC 9420 17.1")
    return get_suite(n)


def _new_identity(suite_id: int, identity: bytes) -> tuple[Credential, bytes]:
    if not identity:
        raise ValidationError("empty identity", "interop request")
    priv, _ = _suite(suite_id).generate_signature_key_pair()
    return Credential.basic(bytes(identity)), priv


def _leaf_of(members: Sequence[tuple[int, Any]], identity: bytes) -> int:
    for index, leaf in members:
        if leaf.credential.identity == identity:
            return index
    raise ValidationError(f"no member with identity {identity!r}", "interop request")


def _tree_bytes(state: g.GroupState) -> bytes:
    return encode(RatchetTree, state.tree.to_ratchet_tree())


def _tree_members(suite_id: int, tree: bytes) -> list[tuple[int, Any]]:
    from accord.mls.ratchet_tree import Tree

    nodes = decode(RatchetTree, tree)
    return list(Tree.from_ratchet_tree(get_suite(suite_id), nodes).leaves())


def _tree_from_info(info: GroupInfo) -> bytes:
    for e in info.extensions:
        if e.extension_type == ExtensionType.RATCHET_TREE:
            return bytes(e.extension_data)
    raise ValidationError("no ratchet_tree given and none in the GroupInfo", "RFC 9420 12.4.3.3")


class AccordMLSClient(pb_grpc.MLSClientServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.store = Store()
        self._lock = threading.RLock()

    # ------------------------------------------------------------ helpers

    def _member(self, state_id: int) -> Member:
        return self.store.get(state_id, Member, "state")

    def _describe(self, d: pb.ProposalDescription, context: Any,
                  members: Sequence[tuple[int, Any]]) -> Proposal:
        """A ProposalDescription (by-value commit entry or external proposal) as a Proposal."""
        kind = bytes(d.proposal_type).decode("utf-8", "replace")
        nonce_len = get_suite(context.cipher_suite).kdf_len
        if kind == "add":
            return Add(_key_package(d.key_package))
        if kind == "remove":
            return Remove(_leaf_of(members, bytes(d.removed_id)))
        if kind == "externalPSK":
            if not d.psk_id:
                raise ValidationError("empty psk_id", "interop request")
            return PreSharedKey(PreSharedKeyID.external(bytes(d.psk_id), os.urandom(nonce_len)))
        if kind == "resumptionPSK":
            return PreSharedKey(PreSharedKeyID.resumption(
                ResumptionPSKUsage.APPLICATION, context.group_id, d.epoch_id, os.urandom(nonce_len)))
        if kind == "groupContextExtensions":
            return GroupContextExtensions(_extensions(d.extensions))
        if kind == "reinit":
            _suite(d.cipher_suite)
            if not d.group_id:
                raise ValidationError("empty group_id", "interop request")
            return ReInit(bytes(d.group_id), ProtocolVersion.MLS10, d.cipher_suite,
                          _extensions(d.extensions))
        raise ValidationError(f"unknown proposal type {kind!r}", "interop request")

    def _commit(self, req: pb.CommitRequest, only_refs: bool = False) -> pb.CommitResponse:
        m = self._member(req.state_id)
        state = m.state
        if state.pending is not None:
            raise Conflict("a commit is already pending; call HandlePendingCommit first")
        refs: list[bytes] = []
        for raw in req.by_reference:
            res, state = g.process(state, bytes(raw), _now())
            if res.proposal_ref is None:
                raise ValidationError("a by_reference entry is not a proposal", "RFC 9420 12.4")
            # RFC 9420 12.2: a committer cannot commit its own Update.
            own_update = isinstance(res.proposal, Update) and res.sender.index == state.own_leaf
            if not own_update and res.proposal_ref not in refs:
                refs.append(res.proposal_ref)
        if only_refs and req.by_value:
            raise ValidationError("ReInitCommit commits its ReInit proposal by reference", "interop request")
        members = g.members(state)
        by_value = [self._describe(d, state.context, members) for d in req.by_value]
        out, pending = g.commit(state, now=_now(), proposals=refs, by_value=by_value,
                                force_path=req.force_path, inline_tree=not req.external_tree)
        m.state = pending
        tree = _tree_bytes(pending.pending.next_state) if req.external_tree and pending.pending else b""
        return pb.CommitResponse(commit=out.commit.to_bytes(),
                                 welcome=out.welcome.to_bytes() if out.welcome else b"",
                                 ratchet_tree=tree)

    def _handle_commit(self, req: pb.HandleCommitRequest) -> g.GroupState:
        m = self._member(req.state_id)
        state = m.state
        for raw in req.proposal:
            res, state = g.process(state, bytes(raw), _now())
            if res.proposal_ref is None:
                raise ValidationError("a proposal entry is not a proposal", "RFC 9420 12.4")
        res, state = g.process(state, _msg(req.commit, "commit"), _now())
        if res.content_type != 3:  # ContentType.COMMIT
            raise ValidationError("commit is not a Commit", "RFC 9420 12.4")
        m.state = state
        return state

    def _pending(self, state_id: int) -> g.GroupState:
        m = self._member(state_id)
        if m.state.pending is None:
            raise Conflict("no pending commit")
        m.state = g.merge_pending(m.state)
        return m.state

    def _start_reinit(self, state: g.GroupState) -> pb.HandleReInitCommitResponse:
        r = state.reinit
        if r is None:
            raise Conflict("the commit did not contain a ReInit proposal")
        identity = state.own_leaf_node.credential.identity or b""
        cred, priv = _new_identity(r.cipher_suite, identity)
        kp = g.key_package(get_suite(r.cipher_suite), cred, priv, _now())
        rid = self.store.add(ReInitWait(state, kp))
        return pb.HandleReInitCommitResponse(
            reinit_id=rid, key_package=MLSMessage.wrap(kp.key_package).to_bytes(),
            epoch_authenticator=g.epoch_authenticator(state))

    def _propose(self, state_id: int, make: Callable[[g.GroupState], Any]) -> pb.ProposalResponse:
        m = self._member(state_id)
        msg, m.state = make(m.state)
        return pb.ProposalResponse(proposal=msg.to_bytes())

    # ------------------------------------------------------------ RPCs

    @_guard
    def Name(self, req: Any) -> pb.NameResponse:
        return pb.NameResponse(name=NAME)

    @_guard
    def SupportedCiphersuites(self, req: Any) -> pb.SupportedCiphersuitesResponse:
        return pb.SupportedCiphersuitesResponse(ciphersuites=sorted(SUITES))

    @_guard
    def CreateGroup(self, req: pb.CreateGroupRequest) -> pb.CreateGroupResponse:
        if not req.group_id:
            raise ValidationError("empty group_id", "interop request")
        cred, priv = _new_identity(req.cipher_suite, req.identity)
        state = g.create_group(get_suite(req.cipher_suite), bytes(req.group_id), cred, priv,
                               _now(), config=_config(req.encrypt_handshake))
        return pb.CreateGroupResponse(state_id=self.store.add(Member(state)))

    @_guard
    def CreateKeyPackage(self, req: pb.CreateKeyPackageRequest) -> pb.CreateKeyPackageResponse:
        cred, priv = _new_identity(req.cipher_suite, req.identity)
        kp = g.key_package(get_suite(req.cipher_suite), cred, priv, _now())
        tid = self.store.add(Transaction(kp))
        # The proto returns the private keys to the test harness by design.
        return pb.CreateKeyPackageResponse(
            transaction_id=tid, key_package=MLSMessage.wrap(kp.key_package).to_bytes(),
            init_priv=kp.init_priv, encryption_priv=kp.encryption_priv,
            signature_priv=kp.signature_priv)

    @_guard
    def JoinGroup(self, req: pb.JoinGroupRequest) -> pb.JoinGroupResponse:
        tx = self.store.get(req.transaction_id, Transaction, "transaction")
        state = g.join_from_welcome(_welcome(req.welcome), tx.key_package, _now(),
                                    ratchet_tree=_tree(req.ratchet_tree),
                                    external_psks=dict(tx.psks),
                                    config=_config(req.encrypt_handshake))
        sid = self.store.add(Member(state))
        return pb.JoinGroupResponse(state_id=sid, epoch_authenticator=g.epoch_authenticator(state))

    @_guard
    def ExternalJoin(self, req: pb.ExternalJoinRequest) -> pb.ExternalJoinResponse:
        info = _group_info(req.group_info)
        suite_id = info.group_context.cipher_suite
        cred, priv = _new_identity(suite_id, req.identity)
        remove_leaf = None
        if req.remove_prior:
            tree = _tree(req.ratchet_tree) or _tree_from_info(info)
            remove_leaf = _leaf_of(_tree_members(suite_id, tree), bytes(req.identity))
        psks = {bytes(p.psk_id): bytes(p.psk_secret) for p in req.psks}
        commit, state = g.join_external(info, cred, priv, _now(),
                                        ratchet_tree=_tree(req.ratchet_tree),
                                        remove_leaf=remove_leaf, psks=psks or None,
                                        config=_config(req.encrypt_handshake))
        sid = self.store.add(Member(state))
        return pb.ExternalJoinResponse(state_id=sid, commit=commit.to_bytes(),
                                       epoch_authenticator=g.epoch_authenticator(state))

    @_guard
    def GroupInfo(self, req: pb.GroupInfoRequest) -> pb.GroupInfoResponse:
        state = self._member(req.state_id).state
        info = g.group_info(state, with_tree=not req.external_tree, with_external_pub=True)
        tree = _tree_bytes(state) if req.external_tree else b""
        return pb.GroupInfoResponse(group_info=info.to_bytes(), ratchet_tree=tree)

    @_guard
    def StateAuth(self, req: pb.StateAuthRequest) -> pb.StateAuthResponse:
        state = self._member(req.state_id).state
        return pb.StateAuthResponse(state_auth_secret=g.epoch_authenticator(state))

    @_guard
    def Export(self, req: pb.ExportRequest) -> pb.ExportResponse:
        state = self._member(req.state_id).state
        if not 0 < req.key_length <= MAX_EXPORT_LENGTH:
            raise ValidationError(f"key_length must be 1..{MAX_EXPORT_LENGTH}", "interop request")
        secret = g.export_secret(state, req.label, bytes(req.context), req.key_length)
        return pb.ExportResponse(exported_secret=secret)

    @_guard
    def Protect(self, req: pb.ProtectRequest) -> pb.ProtectResponse:
        m = self._member(req.state_id)
        msg, m.state = g.protect(m.state, bytes(req.plaintext), bytes(req.authenticated_data))
        return pb.ProtectResponse(ciphertext=msg.to_bytes())

    @_guard
    def Unprotect(self, req: pb.UnprotectRequest) -> pb.UnprotectResponse:
        m = self._member(req.state_id)
        res, m.state = g.unprotect(m.state, _msg(req.ciphertext, "ciphertext"), _now())
        return pb.UnprotectResponse(authenticated_data=res.authenticated_data,
                                    plaintext=res.application_data or b"")

    @_guard
    def StorePSK(self, req: pb.StorePSKRequest) -> pb.StorePSKResponse:
        if not req.psk_id:
            raise ValidationError("empty psk_id", "interop request")
        item = self.store.get_any(req.state_or_transaction_id)
        if isinstance(item, Member):
            item.state = g.add_external_psk(item.state, bytes(req.psk_id), bytes(req.psk_secret))
        elif isinstance(item, Transaction):
            item.psks[bytes(req.psk_id)] = bytes(req.psk_secret)
        else:
            raise Conflict(f"id {req.state_or_transaction_id} cannot hold PSKs")
        return pb.StorePSKResponse()

    @_guard
    def AddProposal(self, req: pb.AddProposalRequest) -> pb.ProposalResponse:
        kp = _key_package(req.key_package)

        def make(s: g.GroupState) -> Any:
            # RFC 9420 12.1.1: only a valid KeyPackage may be proposed; the
            # engine checks it when the Add is committed, the proposer checks here.
            g.validate_key_package(kp, now=_now(), credential_validator=s.config.credential_validator,
                                   rules=rules_for(s))
            return g.propose_add(s, kp)
        return self._propose(req.state_id, make)

    @_guard
    def UpdateProposal(self, req: pb.UpdateProposalRequest) -> pb.ProposalResponse:
        return self._propose(req.state_id, g.propose_update)

    @_guard
    def RemoveProposal(self, req: pb.RemoveProposalRequest) -> pb.ProposalResponse:
        def make(s: g.GroupState) -> Any:
            return g.propose_remove(s, _leaf_of(g.members(s), bytes(req.removed_id)))
        return self._propose(req.state_id, make)

    @_guard
    def ExternalPSKProposal(self, req: pb.ExternalPSKProposalRequest) -> pb.ProposalResponse:
        if not req.psk_id:
            raise ValidationError("empty psk_id", "interop request")
        return self._propose(req.state_id, lambda s: g.propose_psk(s, bytes(req.psk_id)))

    @_guard
    def ResumptionPSKProposal(self, req: pb.ResumptionPSKProposalRequest) -> pb.ProposalResponse:
        return self._propose(req.state_id, lambda s: g.propose_psk(s, epoch=req.epoch_id))

    @_guard
    def GroupContextExtensionsProposal(
        self, req: pb.GroupContextExtensionsProposalRequest
    ) -> pb.ProposalResponse:
        exts = _extensions(req.extensions)
        return self._propose(req.state_id, lambda s: g.propose_group_context_extensions(s, exts))

    @_guard
    def Commit(self, req: pb.CommitRequest) -> pb.CommitResponse:
        return self._commit(req)

    @_guard
    def HandleCommit(self, req: pb.HandleCommitRequest) -> pb.HandleCommitResponse:
        state = self._handle_commit(req)
        return pb.HandleCommitResponse(state_id=req.state_id,
                                       epoch_authenticator=g.epoch_authenticator(state))

    @_guard
    def HandlePendingCommit(self, req: pb.HandlePendingCommitRequest) -> pb.HandleCommitResponse:
        state = self._pending(req.state_id)
        return pb.HandleCommitResponse(state_id=req.state_id,
                                       epoch_authenticator=g.epoch_authenticator(state))

    @_guard
    def ReInitProposal(self, req: pb.ReInitProposalRequest) -> pb.ProposalResponse:
        _suite(req.cipher_suite)
        if not req.group_id:
            raise ValidationError("empty group_id", "interop request")
        exts = _extensions(req.extensions)
        return self._propose(req.state_id, lambda s: g.propose_reinit(
            s, bytes(req.group_id), req.cipher_suite, exts))

    @_guard
    def ReInitCommit(self, req: pb.CommitRequest) -> pb.CommitResponse:
        return self._commit(req, only_refs=True)

    @_guard
    def HandlePendingReInitCommit(
        self, req: pb.HandlePendingCommitRequest
    ) -> pb.HandleReInitCommitResponse:
        m = self._member(req.state_id)
        if m.state.pending is None:
            raise Conflict("no pending commit")
        if m.state.pending.next_state.reinit is None:
            raise Conflict("the pending commit contains no ReInit proposal")
        return self._start_reinit(self._pending(req.state_id))

    @_guard
    def HandleReInitCommit(self, req: pb.HandleCommitRequest) -> pb.HandleReInitCommitResponse:
        m = self._member(req.state_id)
        before = m.state
        state = self._handle_commit(req)
        if state.reinit is None:
            m.state = before
            raise Conflict("the commit did not contain a ReInit proposal")
        return self._start_reinit(state)

    @_guard
    def ReInitWelcome(self, req: pb.ReInitWelcomeRequest) -> pb.CreateSubgroupResponse:
        r = self.store.get(req.reinit_id, ReInitWait, "reinit")
        kps = [_key_package(k) for k in req.key_package]
        out, pending = g.reinit(r.old, kps, _now(), own=r.key_package,
                                inline_tree=not req.external_tree, force_path=req.force_path)
        state = g.merge_pending(pending)
        return self._subgroup(state, out, req.external_tree)

    def _subgroup(self, state: g.GroupState, out: Any, external_tree: bool) -> pb.CreateSubgroupResponse:
        sid = self.store.add(Member(state))
        return pb.CreateSubgroupResponse(
            state_id=sid, welcome=out.welcome.to_bytes() if out.welcome else b"",
            ratchet_tree=_tree_bytes(state) if external_tree else b"",
            epoch_authenticator=g.epoch_authenticator(state))

    @_guard
    def HandleReInitWelcome(self, req: pb.HandleReInitWelcomeRequest) -> pb.JoinGroupResponse:
        r = self.store.get(req.reinit_id, ReInitWait, "reinit")
        state = g.join_from_welcome(_welcome(req.welcome), r.key_package, _now(),
                                    ratchet_tree=_tree(req.ratchet_tree),
                                    external_psks=dict(r.old.external_psks),
                                    resumption_from=[r.old], config=r.old.config)
        sid = self.store.add(Member(state))
        return pb.JoinGroupResponse(state_id=sid, epoch_authenticator=g.epoch_authenticator(state))

    @_guard
    def CreateBranch(self, req: pb.CreateBranchRequest) -> pb.CreateSubgroupResponse:
        old = self._member(req.state_id).state
        if not req.group_id:
            raise ValidationError("empty group_id", "interop request")
        kps = [_key_package(k) for k in req.key_packages]
        out, pending = g.branch(old, bytes(req.group_id), kps, _now(),
                                extensions=_extensions(req.extensions),
                                inline_tree=not req.external_tree, force_path=req.force_path)
        return self._subgroup(g.merge_pending(pending), out, req.external_tree)

    @_guard
    def HandleBranch(self, req: pb.HandleBranchRequest) -> pb.HandleBranchResponse:
        old = self._member(req.state_id).state
        tx = self.store.get(req.transaction_id, Transaction, "transaction")
        state = g.join_from_welcome(_welcome(req.welcome), tx.key_package, _now(),
                                    ratchet_tree=_tree(req.ratchet_tree),
                                    external_psks={**old.external_psks, **tx.psks},
                                    resumption_from=[old], config=old.config)
        sid = self.store.add(Member(state))
        return pb.HandleBranchResponse(state_id=sid, epoch_authenticator=g.epoch_authenticator(state))

    @_guard
    def NewMemberAddProposal(
        self, req: pb.NewMemberAddProposalRequest
    ) -> pb.NewMemberAddProposalResponse:
        info = _group_info(req.group_info)
        suite_id = info.group_context.cipher_suite
        cred, priv = _new_identity(suite_id, req.identity)
        kp = g.key_package(get_suite(suite_id), cred, priv, _now())
        msg = g.new_member_add_proposal(info.group_context, kp)
        tid = self.store.add(Transaction(kp))
        return pb.NewMemberAddProposalResponse(
            transaction_id=tid, proposal=msg.to_bytes(), init_priv=kp.init_priv,
            encryption_priv=kp.encryption_priv, signature_priv=kp.signature_priv)

    @_guard
    def CreateExternalSigner(
        self, req: pb.CreateExternalSignerRequest
    ) -> pb.CreateExternalSignerResponse:
        suite = _suite(req.cipher_suite)
        cred, priv = _new_identity(req.cipher_suite, req.identity)
        sender = encode(ExternalSender, ExternalSender(suite.signature_public_key(priv), cred))
        sid = self.store.add(Signer(req.cipher_suite, priv, sender))
        return pb.CreateExternalSignerResponse(signer_id=sid, external_sender=sender)

    @_guard
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

    @_guard
    def ExternalSignerProposal(self, req: pb.ExternalSignerProposalRequest) -> pb.ProposalResponse:
        signer = self.store.get(req.signer_id, Signer, "signer")
        info = _group_info(req.group_info)
        suite_id = info.group_context.cipher_suite
        tree = _tree(req.ratchet_tree) or _tree_from_info(info)
        members = _tree_members(suite_id, tree)
        proposal = self._describe(req.description, info.group_context, members)
        msg = g.external_proposal(info.group_context, proposal, req.signer_index,
                                  signer.signature_priv)
        return pb.ProposalResponse(proposal=msg.to_bytes())

    @_guard
    def Free(self, req: pb.FreeRequest) -> pb.FreeResponse:
        self.store.free(req.state_id)
        return pb.FreeResponse()
