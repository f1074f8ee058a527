"""Reinitialization (RFC 9420 11.2) and subgroup branching (11.3).

Both start a new group whose first commit adds the other members and injects
a resumption PSK of the old group (usage ``reinit`` or ``branch``, 8.6); the
joiners check the link in ``join_from_welcome(..., resumption_from=[old])``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from accord.errors import ValidationError
from accord.mls.group.commit import CommitResult, commit
from accord.mls.group.create import create_group
from accord.mls.group.keys import KeyPackagePrivate
from accord.mls.group.send import new_psk_id
from accord.mls.group.state import GroupState
from accord.mls.structs import Add, Credential, Extension, KeyPackage, PreSharedKey, Proposal
from accord.mls.structs.enums import ResumptionPSKUsage
from accord.mls.suites import get_suite

__all__ = ["branch", "reinit"]


def reinit(
    old: GroupState,
    key_packages: Sequence[KeyPackage],
    now: int,
    *,
    own: KeyPackagePrivate | None = None,
    credential: Credential | None = None,
    signature_priv: bytes | None = None,
    inline_tree: bool = True,
    force_path: bool = False,
) -> tuple[CommitResult, GroupState]:
    """Create the group a merged ReInit asks for (11.2) and add ``key_packages``.

    ``own`` (a KeyPackage in the new cipher suite) or ``credential`` and
    ``signature_priv`` give our leaf in the new group; by default our old
    credential and key are kept, which needs the same signature scheme.
    """
    r = old.reinit
    if r is None:
        raise ValidationError("the group's last commit had no ReInit", "RFC 9420 11.2")
    suite = get_suite(r.cipher_suite)
    cred = credential or old.own_leaf_node.credential
    sig = signature_priv or (own.signature_priv if own else old.signature_priv)
    new = create_group(suite, r.group_id, cred, sig, now, extensions=tuple(r.extensions),
                       key_package=own, config=old.config)
    return _first_commit(old, new, key_packages, ResumptionPSKUsage.REINIT, now, inline_tree,
                         force_path)


def branch(
    old: GroupState,
    group_id: bytes,
    key_packages: Sequence[KeyPackage],
    now: int,
    *,
    extensions: tuple[Extension, ...] = (),
    inline_tree: bool = True,
    force_path: bool = False,
) -> tuple[CommitResult, GroupState]:
    """A subgroup of ``old`` with the same version and cipher suite (11.3)."""
    new = create_group(old.suite, group_id, old.own_leaf_node.credential, old.signature_priv,
                       now, extensions=extensions, config=old.config)
    return _first_commit(old, new, key_packages, ResumptionPSKUsage.BRANCH, now, inline_tree,
                         force_path)


def _first_commit(
    old: GroupState, new: GroupState, key_packages: Sequence[KeyPackage], usage: int,
    now: int, inline_tree: bool, force_path: bool,
) -> tuple[CommitResult, GroupState]:
    psk = new_psk_id(new, epoch=old.epoch, group_id=old.group_id, usage=usage)
    proposals: list[Proposal] = [PreSharedKey(psk), *(Add(kp) for kp in key_packages)]
    new = dataclasses.replace(new, external_psks=old.external_psks)
    return commit(new, now=now, by_value=proposals, inline_tree=inline_tree,
                  force_path=force_path, resumption_from=(old,), _special_psk_usage=True)
