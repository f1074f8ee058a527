"""Sending: application messages (15) and proposals (12.1), framed per 6."""

from __future__ import annotations

import dataclasses
import os

from accord.errors import ValidationError
from accord.mls.components import ComponentUpdate
from accord.mls.framing import (
    private_message_from,
    protect_private,
    public_message_from,
    sign_content,
)
from accord.mls.group.app_proposals import check_app_proposal
from accord.mls.group.keys import KeyPackagePrivate
from accord.mls.group.safe_aad import check_safe_aad
from accord.mls.group.state import CachedProposal, GroupState
from accord.mls.leaf_node import sign_leaf_node
from accord.mls.structs import (
    AuthenticatedContent,
    Credential,
    Extension,
    FramedContent,
    KeyPackage,
    LeafNode,
    MLSMessage,
    PreSharedKeyID,
    Proposal,
    Sender,
)
from accord.mls.structs.app_data import AppDataUpdate, SelfRemove
from accord.mls.structs.enums import LeafNodeSource, ProtocolVersion, WireFormat
from accord.mls.structs.proposals import (
    Add,
    GroupContextExtensions,
    PreSharedKey,
    ReInit,
    Remove,
    Update,
)


def check_active(state: GroupState) -> None:
    if state.removed:
        raise ValidationError("we were removed from this group", "RFC 9420 12.4.2")
    if state.reinit is not None:
        # 12.4.2: after a ReInit commit the group must not be used to send.
        raise ValidationError("the group was reinitialized; use the new group", "RFC 9420 12.4.2")


def frame(state: GroupState, body: bytes | Proposal, authenticated_data: bytes) -> FramedContent:
    return FramedContent(
        state.group_id, state.epoch, Sender.member(state.own_leaf), authenticated_data, body
    )


def protect(
    state: GroupState, data: bytes, authenticated_data: bytes = b""
) -> tuple[MLSMessage, GroupState]:
    """Encrypt application data as a PrivateMessage (6.3, 15); in a group that
    requires Safe AAD, ``authenticated_data`` must be a ``SafeAAD``
    (draft-ietf-mls-extensions 4.9)."""
    check_active(state)
    check_safe_aad(state.context, authenticated_data, "an application message to send")
    if state.proposals and state.config.commit_before_send:
        # 12.4: members that saw proposals must commit before sending data.
        raise ValidationError("commit the pending proposals first", "RFC 9420 12.4")
    msg, tree = protect_private(
        state.suite, state.secret_tree, state.secrets.sender_data_secret,
        frame(state, data, authenticated_data), state.signature_priv, state.context,
        padding=state.config.padding,
    )
    return MLSMessage.wrap(msg), state.with_secret_tree(tree)


def send_handshake(
    state: GroupState, auth: AuthenticatedContent
) -> tuple[MLSMessage, GroupState]:
    """Protect a signed proposal or commit with the current epoch's keys (6.2, 6.3)."""
    s = state.suite
    if auth.wire_format == WireFormat.PRIVATE_MESSAGE:
        msg, tree = private_message_from(
            s, state.secret_tree, state.secrets.sender_data_secret, auth, state.config.padding
        )
        return MLSMessage.wrap(msg), dataclasses.replace(state, secret_tree=tree)
    pub = public_message_from(s, auth, state.context, state.secrets.membership_key)
    return MLSMessage.wrap(pub), state


def handshake_format(state: GroupState) -> int:
    if state.config.encrypt_handshake:
        return WireFormat.PRIVATE_MESSAGE
    return WireFormat.PUBLIC_MESSAGE


def propose(
    state: GroupState, proposal: Proposal, authenticated_data: bytes = b"",
    leaf_priv: bytes | None = None, wire_format: int | None = None,
) -> tuple[MLSMessage, GroupState]:
    """Send ``proposal`` and cache it, so our own commit can include it by reference.
    ``wire_format`` overrides the group's handshake format (``GroupConfig``)."""
    check_active(state)
    content = frame(state, proposal, authenticated_data)
    auth = sign_content(
        state.suite, wire_format or handshake_format(state), content, state.signature_priv,
        state.context,
    )
    ref = state.suite.proposal_ref(auth.to_bytes())
    msg, state = send_handshake(state, auth)
    cached = CachedProposal(ref, proposal, content.sender, leaf_priv, msg.to_bytes())
    return msg, dataclasses.replace(state, proposals=state.proposals + (cached,))


def propose_add(state: GroupState, key_package: KeyPackage, ad: bytes = b"") -> tuple[MLSMessage, GroupState]:
    return propose(state, Add(key_package), ad)


def propose_remove(state: GroupState, leaf: int, ad: bytes = b"") -> tuple[MLSMessage, GroupState]:
    return propose(state, Remove(leaf), ad)


def new_leaf_node(
    state: GroupState, source: int, credential: Credential | None = None,
    extensions: tuple[Extension, ...] | None = None,
) -> tuple[LeafNode, bytes]:
    """A fresh copy of our leaf with a new encryption key (7.2), and its private key."""
    suite = state.suite
    priv, pub = suite.generate_hpke_key_pair()
    old = state.own_leaf_node
    leaf = dataclasses.replace(
        old, encryption_key=pub, leaf_node_source=source, lifetime=None, parent_hash=None,
        credential=credential or old.credential,
        extensions=old.extensions if extensions is None else extensions,
    )
    return sign_leaf_node(suite, state.signature_priv, leaf, state.group_id, state.own_leaf), priv


def propose_update(
    state: GroupState, ad: bytes = b"", credential: Credential | None = None
) -> tuple[MLSMessage, GroupState]:
    leaf, priv = new_leaf_node(state, LeafNodeSource.UPDATE, credential)
    return propose(state, Update(leaf), ad, leaf_priv=priv)


def new_psk_id(state: GroupState, psk_id: bytes | None = None, epoch: int | None = None,
               group_id: bytes | None = None, usage: int = 1) -> PreSharedKeyID:
    """An external PSK id (when ``psk_id`` is given) or a resumption one, with a fresh nonce."""
    nonce = os.urandom(state.suite.kdf_len)
    if psk_id is not None:
        return PreSharedKeyID.external(psk_id, nonce)
    return PreSharedKeyID.resumption(
        usage, group_id if group_id is not None else state.group_id,
        state.epoch if epoch is None else epoch, nonce,
    )


def propose_psk(
    state: GroupState, psk_id: bytes | None = None, *, epoch: int | None = None,
    group_id: bytes | None = None, ad: bytes = b"",
) -> tuple[MLSMessage, GroupState]:
    """Propose an external PSK (``psk_id``) or a resumption PSK of ``epoch`` (12.1.4)."""
    return propose(state, PreSharedKey(new_psk_id(state, psk_id, epoch, group_id)), ad)


def propose_reinit(
    state: GroupState, group_id: bytes, cipher_suite: int,
    extensions: tuple[Extension, ...] = (), ad: bytes = b"",
) -> tuple[MLSMessage, GroupState]:
    return propose(state, ReInit(group_id, ProtocolVersion.MLS10, cipher_suite, extensions), ad)


def propose_app_data_update(
    state: GroupState, component_id: int, update: bytes | None, ad: bytes = b""
) -> tuple[MLSMessage, GroupState]:
    """An AppDataUpdate (draft-ietf-mls-extensions 4.7): ``update`` for the component,
    or None to remove its state. Checked as a receiver checks it first."""
    p = AppDataUpdate.removing(component_id) if update is None else AppDataUpdate.of(
        component_id, update)
    me = Sender.member(state.own_leaf)
    check_app_proposal(state.config.components, p, state.context,
                       ComponentUpdate(update or b"", me, state.own_leaf_node.credential))
    return propose(state, p, ad)


def propose_self_remove(state: GroupState, ad: bytes = b"") -> tuple[MLSMessage, GroupState]:
    """Ask to leave (draft-ietf-mls-extensions 5.3): a SelfRemove, always in a
    PublicMessage, at most one per epoch; another member commits it by reference."""
    if any(isinstance(c.proposal, SelfRemove) and c.sender.index == state.own_leaf
           for c in state.proposals):
        raise ValidationError("a SelfRemove was already sent in this epoch",
                              "draft-ietf-mls-extensions 5.3")
    return propose(state, SelfRemove(), ad, wire_format=WireFormat.PUBLIC_MESSAGE)


def propose_group_context_extensions(
    state: GroupState, extensions: tuple[Extension, ...], ad: bytes = b""
) -> tuple[MLSMessage, GroupState]:
    return propose(state, GroupContextExtensions(extensions), ad)


def key_package_add(kp: KeyPackage | KeyPackagePrivate) -> Add:
    return Add(kp.key_package if isinstance(kp, KeyPackagePrivate) else kp)
