"""MLSClient RPCs that make, join and use a group: create, join (Welcome or
external), GroupInfo, StateAuth, Export, Protect/Unprotect, StorePSK."""

from __future__ import annotations

from accord.errors import Conflict, ValidationError
from accord.interop import decoding as dec
from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.quirks import TSMLS_EXTERNAL_PUB
from accord.interop.rpc_base import ServicerBase, group_config, now
from accord.interop.rpc_errors import guard
from accord.interop.state_store import Member, Transaction
from accord.mls import group as g
from accord.mls.structs import MLSMessage
from accord.mls.suites import get_suite

__all__ = ["GroupRPCs", "MAX_EXPORT_LENGTH"]

MAX_EXPORT_LENGTH = 1024


class GroupRPCs(ServicerBase):
    @guard
    def CreateGroup(self, req: pb.CreateGroupRequest) -> pb.CreateGroupResponse:
        group_id = dec.nonempty(req.group_id, "group_id")
        cred, priv = dec.new_identity(req.cipher_suite, req.identity)
        state = g.create_group(get_suite(req.cipher_suite), group_id, cred, priv,
                               now(), config=group_config(req.encrypt_handshake))
        return pb.CreateGroupResponse(state_id=self.store.add(Member(state)))

    @guard
    def CreateKeyPackage(self, req: pb.CreateKeyPackageRequest) -> pb.CreateKeyPackageResponse:
        cred, priv = dec.new_identity(req.cipher_suite, req.identity)
        kp = g.key_package(get_suite(req.cipher_suite), cred, priv, now())
        tid = self.store.add(Transaction(kp))
        # The proto returns the private keys to the test harness by design.
        return pb.CreateKeyPackageResponse(
            transaction_id=tid, key_package=MLSMessage.wrap(kp.key_package).to_bytes(),
            init_priv=kp.init_priv, encryption_priv=kp.encryption_priv,
            signature_priv=kp.signature_priv)

    @guard
    def JoinGroup(self, req: pb.JoinGroupRequest) -> pb.JoinGroupResponse:
        tx = self.store.get(req.transaction_id, Transaction, "transaction")
        state = g.join_from_welcome(dec.welcome(req.welcome), tx.key_package, now(),
                                    ratchet_tree=dec.tree(req.ratchet_tree),
                                    external_psks=dict(tx.psks),
                                    config=group_config(req.encrypt_handshake))
        sid = self.store.add(Member(state))
        return pb.JoinGroupResponse(state_id=sid, epoch_authenticator=g.epoch_authenticator(state))

    @guard
    def ExternalJoin(self, req: pb.ExternalJoinRequest) -> pb.ExternalJoinResponse:
        info = dec.group_info(req.group_info)
        suite_id = info.group_context.cipher_suite
        cred, priv = dec.new_identity(suite_id, req.identity)
        remove_leaf = None
        if req.remove_prior:
            tree = dec.tree(req.ratchet_tree) or dec.tree_from_info(info)
            remove_leaf = dec.leaf_of(dec.tree_members(suite_id, tree), bytes(req.identity))
        psks = {bytes(p.psk_id): bytes(p.psk_secret) for p in req.psks}
        commit, state = g.join_external(info, cred, priv, now(),
                                        ratchet_tree=dec.tree(req.ratchet_tree),
                                        remove_leaf=remove_leaf, psks=psks or None,
                                        config=group_config(req.encrypt_handshake))
        sid = self.store.add(Member(state))
        return pb.ExternalJoinResponse(state_id=sid, commit=commit.to_bytes(),
                                       epoch_authenticator=g.epoch_authenticator(state))

    @guard
    def GroupInfo(self, req: pb.GroupInfoRequest) -> pb.GroupInfoResponse:
        state = self._member(req.state_id).state
        info = g.group_info(state, with_tree=not req.external_tree, with_external_pub=True,
                            bare_external_pub=TSMLS_EXTERNAL_PUB in self.quirks)
        tree = dec.tree_bytes(state) if req.external_tree else b""
        return pb.GroupInfoResponse(group_info=info.to_bytes(), ratchet_tree=tree)

    @guard
    def StateAuth(self, req: pb.StateAuthRequest) -> pb.StateAuthResponse:
        state = self._member(req.state_id).state
        return pb.StateAuthResponse(state_auth_secret=g.epoch_authenticator(state))

    @guard
    def Export(self, req: pb.ExportRequest) -> pb.ExportResponse:
        state = self._member(req.state_id).state
        if not 0 < req.key_length <= MAX_EXPORT_LENGTH:
            raise ValidationError(f"key_length must be 1..{MAX_EXPORT_LENGTH}", dec.REQUEST)
        secret = g.export_secret(state, req.label, bytes(req.context), req.key_length)
        return pb.ExportResponse(exported_secret=secret)

    @guard
    def Protect(self, req: pb.ProtectRequest) -> pb.ProtectResponse:
        m = self._member(req.state_id)
        msg, m.state = g.protect(m.state, bytes(req.plaintext), bytes(req.authenticated_data))
        return pb.ProtectResponse(ciphertext=msg.to_bytes())

    @guard
    def Unprotect(self, req: pb.UnprotectRequest) -> pb.UnprotectResponse:
        m = self._member(req.state_id)
        res, m.state = g.unprotect(m.state, dec.msg(req.ciphertext, "ciphertext"), now())
        return pb.UnprotectResponse(authenticated_data=res.authenticated_data,
                                    plaintext=res.application_data or b"")

    @guard
    def StorePSK(self, req: pb.StorePSKRequest) -> pb.StorePSKResponse:
        psk_id = dec.nonempty(req.psk_id, "psk_id")
        item = self.store.get_any(req.state_or_transaction_id)
        if isinstance(item, Member):
            item.state = g.add_external_psk(item.state, psk_id, bytes(req.psk_secret))
        elif isinstance(item, Transaction):
            item.psks[psk_id] = bytes(req.psk_secret)
        else:
            raise Conflict(f"id {req.state_or_transaction_id} cannot hold PSKs")
        return pb.StorePSKResponse()
