"""The MLS group engine (RFC 9420 8, 10-15), sans-I/O.

A group is an immutable ``GroupState`` value. Every operation takes a state
(and the time ``now`` in seconds where lifetimes matter) and returns its
outputs and the next state; on failure it raises an ``AccordError``
(``ValidationError`` naming the RFC rule, ``CryptoError``, ``DecodeError``)
and the state given is unchanged, so the caller simply keeps it.

Typical use::

    kp = key_package(suite, credential, sig_priv, now)          # publish kp.key_package
    alice = create_group(suite, b"group", credential, sig_priv, now)
    result, alice = commit(alice, by_value=[Add(kp.key_package)], now=now)
    alice = merge_pending(alice)                                 # once the DS accepted it
    bob = join_from_welcome(result.welcome, kp, now)
    msg, alice = protect(alice, b"hi")
    out, bob = process(bob, msg, now)                            # out.application_data

Proposals: ``propose_add/remove/update/psk/reinit/group_context_extensions``,
and ``propose_app_data_update`` / ``propose_self_remove`` of draft-ietf-mls-extensions
(the application registers its components in ``GroupConfig.components``)
(cached on the sender's state too, so its own commit can refer to them);
``commit(state, proposals=[refs] | None, by_value=[...], force_path=...,
inline_tree=..., now=...)``; ``process`` handles application messages,
proposals (cached for reference) and commits, including our own pending
commit coming back. External parties: ``join_external`` (``remove_leaf`` for a resync,
``psks`` to inject), ``external_proposal`` (a sender of the group's
external_senders extension), ``new_member_add_proposal``. Resumption:
``reinit`` and ``branch``, joined with ``join_from_welcome(...,
resumption_from=[old_state])``. Reading: ``group_info``, ``members``,
``epoch_authenticator``, ``export_secret``, ``app_data`` (the GroupContext's
app_data_dictionary); ``add_external_psk`` stores a PSK.

Local policy lives in ``GroupConfig`` (handshake encryption, kept epochs,
ratchet windows, padding, credential validation); it is not serialized, so
pass it again to ``GroupState.from_bytes``. Local choices are listed in
docs/PROTOCOL.md ("MLS groups").
"""

from __future__ import annotations

from accord.mls.group.api import (
    add_external_psk,
    app_data,
    epoch_authenticator,
    export_secret,
    group_info,
    members,
    unprotect,
)
from accord.mls.group.commit import CommitResult, commit, discard_pending, merge_pending
from accord.mls.group.create import create_group
from accord.mls.group.external import external_proposal, join_external, new_member_add_proposal
from accord.mls.group.keys import KeyPackagePrivate
from accord.mls.group.keys import create_key_package as key_package
from accord.mls.group.process import ProcessResult, process
from accord.mls.group.resumption import branch, reinit
from accord.mls.group.send import (
    propose,
    propose_add,
    propose_app_data_update,
    propose_group_context_extensions,
    propose_psk,
    propose_reinit,
    propose_remove,
    propose_self_remove,
    propose_update,
    protect,
)
from accord.mls.group.state import GroupConfig, GroupState
from accord.mls.group.welcome import join_from_welcome
from accord.mls.key_package import validate_key_package

__all__ = [
    "CommitResult",
    "GroupConfig",
    "GroupState",
    "KeyPackagePrivate",
    "ProcessResult",
    "add_external_psk",
    "app_data",
    "branch",
    "commit",
    "create_group",
    "discard_pending",
    "epoch_authenticator",
    "export_secret",
    "external_proposal",
    "group_info",
    "join_external",
    "join_from_welcome",
    "key_package",
    "members",
    "merge_pending",
    "new_member_add_proposal",
    "process",
    "propose",
    "propose_add",
    "propose_app_data_update",
    "propose_group_context_extensions",
    "propose_psk",
    "propose_reinit",
    "propose_remove",
    "propose_self_remove",
    "propose_update",
    "protect",
    "reinit",
    "unprotect",
    "validate_key_package",
]
