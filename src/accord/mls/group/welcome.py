"""Joining a group from a Welcome (RFC 9420 12.4.3.1), with the resumption
checks of reinitialization (11.2) and branching (11.3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from accord.errors import ValidationError
from accord.mls.group.epoch import fresh_state, resolve_psks
from accord.mls.group.keys import KeyPackagePrivate
from accord.mls.group.state import GroupConfig, GroupState
from accord.mls.group.welcome_crypto import (
    open_group_info,
    open_group_secrets,
    verify_group_info,
    welcome_secret_of,
)
from accord.mls.key_schedule import epoch_from_joiner
from accord.mls.ratchet_tree import Tree
from accord.mls.structs import (
    GroupContext,
    GroupInfo,
    GroupSecrets,
    MLSMessage,
    PreSharedKeyID,
    RatchetTree,
    Welcome,
    find_extension,
)
from accord.mls.structs.enums import ExtensionType, ProtocolVersion, PSKType, ResumptionPSKUsage
from accord.mls.suites import CipherSuite, get_suite
from accord.mls.transcript import verify_confirmation_tag
from accord.mls.tree_math import common_ancestor
from accord.mls.tree_validation import validate_tree
from accord.mls.treekem import PathKeys, derive_path_keys

__all__ = ["join_from_welcome", "joined_tree", "tree_for"]

RULE = "RFC 9420 12.4.3.1"


def join_from_welcome(
    welcome: MLSMessage | Welcome,
    key_package: KeyPackagePrivate,
    now: int | None,
    *,
    ratchet_tree: RatchetTree | bytes | None = None,
    external_psks: Mapping[bytes, bytes] | None = None,
    resumption_from: Sequence[GroupState] = (),
    config: GroupConfig | None = None,
) -> GroupState:
    """Our state in the group a Welcome invites us to.

    ``now`` (seconds) is the time credentials are validated at (lifetimes
    of the tree's leaves are not checked, see ``joined_tree``); None skips
    time checks (test vectors, which carry no time).

    ``ratchet_tree`` is needed when the GroupInfo carries no ratchet_tree
    extension; ``external_psks`` and ``resumption_from`` (the old group of a
    reinit or branch) supply the PSKs the Welcome names.
    """
    if isinstance(welcome, MLSMessage) and welcome.version != ProtocolVersion.MLS10:
        raise ValidationError("protocol version is not mls10", "RFC 9420 6")
    w = welcome.message if isinstance(welcome, MLSMessage) else welcome
    if not isinstance(w, Welcome):
        raise ValidationError("not a Welcome", RULE)
    kp = key_package.key_package
    suite = get_suite(w.cipher_suite)
    if kp.cipher_suite != w.cipher_suite:
        raise ValidationError("the Welcome's cipher suite is not the KeyPackage's", RULE)
    secrets = open_group_secrets(suite, w, key_package.ref, key_package.init_priv)
    special = _check_psk_kinds(secrets.psks)
    probe = probe_state(suite, external_psks, config)
    psk_secret = resolve_psks(probe, secrets.psks, resumption_from)
    info = open_group_info(suite, welcome_secret_of(suite, secrets.joiner_secret, psk_secret),
                           w.encrypted_group_info)
    ctx = info.group_context
    if ctx.cipher_suite != kp.cipher_suite:
        raise ValidationError("the GroupInfo's cipher suite is not the KeyPackage's", RULE)
    cfg = config or GroupConfig()
    tree = joined_tree(suite, info, ratchet_tree, now, cfg)
    me = tree.find_encryption_key(kp.leaf_node.encryption_key)
    if me is None or me & 1 or tree.node(me) != kp.leaf_node:
        raise ValidationError("our KeyPackage's leaf is not in the tree", RULE)
    keys = _join_keys(tree, me >> 1, info.signer, key_package.encryption_priv, secrets)
    epoch = epoch_from_joiner(suite, secrets.joiner_secret, psk_secret, ctx.to_bytes())
    verify_confirmation_tag(suite, epoch.confirmation_key, ctx.confirmed_transcript_hash,
                            info.confirmation_tag)
    if special is not None:
        _check_resumption(special, info, tree, resumption_from)
    return fresh_state(ctx, tree, me >> 1, key_package.signature_priv, keys, epoch,
                       info.confirmation_tag, cfg, external_psks)


def joined_tree(
    suite: CipherSuite, info: GroupInfo, given: RatchetTree | bytes | None, now: int | None,
    config: GroupConfig,
) -> Tree:
    """The tree of a group being joined (by Welcome or external commit),
    validated (12.4.3.1) and with the GroupInfo's signer in it.

    The leaves' lifetimes are not checked: 7.3 only RECOMMENDS it for a
    received tree, and a member who never updated since joining keeps a
    key_package leaf whose lifetime runs out, which would make the group
    unjoinable for every newcomer (docs/INTEROP.md). KeyPackages in Adds are
    still checked against ``now``; ``now`` still validates credentials."""
    tree = tree_for(suite, info, given)
    check_signer(suite, tree, info)
    validate_tree(tree, info.group_context, now=now, check_lifetimes=False,
                  credential_validator=config.credential_validator)
    return tree


def tree_for(suite: CipherSuite, info: GroupInfo, given: RatchetTree | bytes | None) -> Tree:
    """The ratchet tree: the one given, or the GroupInfo's extension (12.4.3.3)."""
    if given is None:
        ext = find_extension(info.extensions, ExtensionType.RATCHET_TREE)
        if ext is None:
            raise ValidationError("no ratchet tree given and none in the GroupInfo", "RFC 9420 12.4.3.3")
        given = ext.extension_data
    if isinstance(given, bytes):
        # from_bytes keeps each leaf's encoding, so the tree hash and the leaf
        # signature checks of the join cut it out instead of re-encoding it.
        return Tree.from_bytes(suite, given)
    return Tree.from_ratchet_tree(suite, given)


def check_signer(suite: CipherSuite, tree: Tree, info: GroupInfo) -> None:
    signer = tree.leaf(info.signer)
    if signer is None:
        raise ValidationError("the GroupInfo signer's leaf is blank", RULE)
    verify_group_info(suite, info, signer.signature_key)


def probe_state(
    suite: CipherSuite, external_psks: Mapping[bytes, bytes] | None, config: GroupConfig | None
) -> GroupState:
    """A stand-in state that only answers PSK look-ups for a joiner."""
    return GroupState(
        context=GroupContext(1, suite.id, b"", 0, b"", b"", ()), tree=None,  # type: ignore[arg-type]
        own_leaf=0, signature_priv=b"", node_privs=PathKeys(), secrets=None,  # type: ignore[arg-type]
        secret_tree=None, interim_transcript_hash=b"", confirmation_tag=b"",  # type: ignore[arg-type]
        external_psks=dict(external_psks or {}), config=config or GroupConfig(),
    )


def _check_psk_kinds(psks: Sequence[PreSharedKeyID]) -> PreSharedKeyID | None:
    """At most one resumption PSK of usage reinit or branch (12.4.3.1); return it."""
    special = [
        p for p in psks
        if p.psktype == PSKType.RESUMPTION
        and p.usage in (ResumptionPSKUsage.REINIT, ResumptionPSKUsage.BRANCH)
    ]
    if len(special) > 1:
        raise ValidationError("more than one reinit/branch PSK", RULE)
    return special[0] if special else None


def _join_keys(
    tree: Tree, me: int, signer: int, leaf_priv: bytes, secrets: GroupSecrets
) -> PathKeys:
    keys = PathKeys({2 * me: leaf_priv})
    if secrets.path_secret is None:
        return keys
    if signer == me:
        raise ValidationError("a path secret from ourselves", RULE)
    lca = common_ancestor(2 * me, 2 * signer)
    derived = derive_path_keys(tree, lca, secrets.path_secret.path_secret)
    return keys.replaced(dict(derived.items()))


def _check_resumption(
    psk: PreSharedKeyID, info: GroupInfo, tree: Tree, old_groups: Sequence[GroupState]
) -> None:
    """12.4.3.1: the new group of a reinit or branch starts at epoch 1 and matches the old."""
    ctx = info.group_context
    if ctx.epoch != 1:
        raise ValidationError("a resumed group's GroupInfo must be at epoch 1", RULE)
    old = next((s for s in old_groups if s.group_id == psk.psk_group_id), None)
    if old is None:
        raise ValidationError("the old group of a resumption PSK is unknown", RULE)
    if psk.usage == ResumptionPSKUsage.REINIT:
        r = old.reinit
        if r is None:
            raise ValidationError("the old group's last commit had no ReInit", "RFC 9420 11.2")
        if (r.group_id, r.version, r.cipher_suite, tuple(r.extensions)) != (
            ctx.group_id, ctx.version, ctx.cipher_suite, tuple(ctx.extensions)
        ):
            raise ValidationError("the new group does not match the ReInit", "RFC 9420 11.2")
        # 11.2: every member of the old group is in the new one.
        if not _credentials(old.tree) <= _credentials(tree):
            raise ValidationError("a member of the old group is missing", "RFC 9420 11.2")
    else:
        if (old.context.version, old.context.cipher_suite) != (ctx.version, ctx.cipher_suite):
            raise ValidationError("a branch keeps version and cipher suite", "RFC 9420 11.3")
        # 11.3: every leaf of the subgroup matches a member of the old group.
        if not _credentials(tree) <= _credentials(old.tree):
            raise ValidationError("a subgroup member is not in the old group", "RFC 9420 11.3")


def _credentials(tree: Tree) -> set[bytes]:
    # Accord's notion of "the same client" across groups: the same credential.
    return {leaf.credential.to_bytes() for _, leaf in tree.leaves()}
