"""Small read-only and bookkeeping operations on a group state."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from accord.errors import ValidationError
from accord.mls.group.app_proposals import app_data as _context_app_data
from accord.mls.group.epoch import make_group_info
from accord.mls.group.process import ProcessResult, process
from accord.mls.group.state import GroupState
from accord.mls.structs import Extension, LeafNode, MLSMessage
from accord.mls.structs.app_data import AppDataDictionary
from accord.mls.structs.enums import ContentType

__all__ = [
    "add_external_psk",
    "app_data",
    "epoch_authenticator",
    "export_secret",
    "group_info",
    "members",
    "unprotect",
]


def export_secret(state: GroupState, label: str, context: bytes, length: int) -> bytes:
    """MLS-Exporter(label, context, length) of the current epoch (8.5)."""
    return state.secrets.exporter(label, context, length)


def epoch_authenticator(state: GroupState) -> bytes:
    """The epoch authenticator (8.7): members compare it to detect forks."""
    return state.secrets.epoch_authenticator


def app_data(state: GroupState) -> AppDataDictionary:
    """The GroupContext's app_data_dictionary (draft-ietf-mls-extensions 4.6); empty
    when the group has none."""
    return _context_app_data(state.context) or AppDataDictionary()


def members(state: GroupState) -> list[tuple[int, LeafNode]]:
    """(leaf index, LeafNode) of every member."""
    return list(state.tree.leaves())


def group_info(
    state: GroupState, *, with_tree: bool = True, with_external_pub: bool = True,
    bare_external_pub: bool = False, extra: Sequence[Extension] = (),
) -> MLSMessage:
    """A signed GroupInfo of the current epoch (12.4.3), e.g. for external joins, with
    the ``extra`` extensions (``bare_external_pub``: see make_group_info; a peer quirk,
    not RFC 9420)."""
    return MLSMessage.wrap(
        make_group_info(state, with_tree=with_tree, with_external_pub=with_external_pub,
                        bare_external_pub=bare_external_pub, extra=extra)
    )


def unprotect(
    state: GroupState, message: MLSMessage | bytes, now: int = 0
) -> tuple[ProcessResult, GroupState]:
    """Decrypt an application message (6.3, 15); anything else is refused."""
    result, new = process(state, message, now)
    if result.content_type != ContentType.APPLICATION:
        raise ValidationError("not an application message", "RFC 9420 15")
    return result, new


def add_external_psk(state: GroupState, psk_id: bytes, psk: bytes) -> GroupState:
    """Store an external PSK so commits and Welcomes naming it can be processed (8.4)."""
    psks = dict(state.external_psks)
    psks[psk_id] = psk
    return dataclasses.replace(state, external_psks=psks)
