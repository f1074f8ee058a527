"""LeafNodes: signing, capabilities with GREASE, and validation (RFC 9420 7.2, 7.3, 13.5).

API::

    leaf_node_tbs(leaf, group_id, leaf_index) -> bytes
    sign_leaf_node(suite, signature_priv, leaf, group_id=b"", leaf_index=0) -> LeafNode
    verify_leaf_signature(suite, leaf, group_id, leaf_index) -> None
    make_capabilities(cipher_suite, *, extensions=(), proposals=(), credentials=(1,),
                      grease=True, rng=os.urandom) -> Capabilities
    GroupRules(cipher_suite, version, required, context_extensions, credential_types,
               supported_by_all, components, safe_aad)
    check_capabilities(leaf, rules, where) -> None        # a peer's leaf (7.3)
    required_components(extensions) -> (components, safe_aad)
    check_components(leaf, components, safe_aad, where) -> None
    check_own_capabilities(caps, cipher_suite, credential_type) -> None  # a leaf we make
    validate_leaf_node(suite, leaf, *, source, group_id, leaf_index, rules, now,
                       credential_validator, check_signature=True,
                       check_lifetime=True) -> None

``validate_leaf_node`` checks one leaf on its own (7.3 points 1-3, 5-7);
uniqueness of keys and the credential types of the other members are
properties of the whole tree and are checked by ``tree_validation`` or by the
group engine, which has the tree.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Collection

from accord.errors import CryptoError, ValidationError
from accord.mls.codec import decode, opaque
from accord.mls.credentials import CredentialValidator
from accord.mls.structs.app_data import AppDataDictionary, ComponentId, ComponentsList
from accord.mls.structs.credential import (
    Capabilities,
    Extensions,
    RequiredCapabilities,
    find_extension,
)
from accord.mls.structs.enums import (
    DEFAULT_EXTENSION_TYPES,
    DEFAULT_PROPOSAL_TYPES,
    GREASE_VALUES,
    ExtensionType,
    LeafNodeSource,
    ProtocolVersion,
)
from accord.mls.structs.tree_nodes import LeafNode
from accord.mls.suites import CipherSuite

__all__ = [
    "GroupRules",
    "check_capabilities",
    "check_components",
    "check_own_capabilities",
    "grease_values",
    "leaf_node_tbs",
    "make_capabilities",
    "required_components",
    "sign_leaf_node",
    "validate_leaf_node",
    "verify_leaf_signature",
]

RULE = "RFC 9420 7.3"
R_COMPONENTS = "draft-ietf-mls-extensions 5"
# Every client that supports app_data_dictionary understands these two (the draft's
# 4.6), so a leaf that lists the extension supports them whether or not it says so.
IMPLIED_COMPONENTS = frozenset({ComponentId.APP_COMPONENTS, ComponentId.SAFE_AAD})
_GREASE = sorted(GREASE_VALUES)
Rng = Callable[[int], bytes]


def leaf_node_tbs(
    leaf: LeafNode, group_id: bytes, leaf_index: int, encoded: bytes | None = None
) -> bytes:
    """LeafNodeTBS (7.2): the leaf without its signature, then, for leaves
    made in a group (update, commit), the group id and leaf index. With the
    leaf's ``encoded`` bytes at hand, the prefix is cut from them (the
    signature is the last field) instead of encoding again."""
    tbs: bytes
    if encoded is not None:
        tbs = encoded[: len(encoded) - len(opaque(leaf.signature))]
    else:
        tbs = leaf.encode_before("signature")
    if leaf.leaf_node_source in (LeafNodeSource.UPDATE, LeafNodeSource.COMMIT):
        tbs += opaque(group_id) + leaf_index.to_bytes(4, "big")
    return tbs


def sign_leaf_node(
    suite: CipherSuite,
    signature_priv: bytes,
    leaf: LeafNode,
    group_id: bytes = b"",
    leaf_index: int = 0,
) -> LeafNode:
    """``leaf`` with a fresh signature (its current ``signature`` is ignored)."""
    sig = suite.sign_with_label(
        signature_priv, "LeafNodeTBS", leaf_node_tbs(leaf, group_id, leaf_index)
    )
    return dataclasses.replace(leaf, signature=sig)


def verify_leaf_signature(
    suite: CipherSuite,
    leaf: LeafNode,
    group_id: bytes,
    leaf_index: int,
    encoded: bytes | None = None,
) -> None:
    """Raise ``ValidationError`` (7.3) if the leaf's signature does not verify."""
    tbs = leaf_node_tbs(leaf, group_id, leaf_index, encoded)
    try:
        suite.verify_with_label(leaf.signature_key, "LeafNodeTBS", tbs, leaf.signature)
    except CryptoError as e:
        raise ValidationError(
            f"signature of leaf {leaf_index} does not verify: {e}", RULE
        ) from None


def grease_values(count: int, rng: Rng = os.urandom) -> tuple[int, ...]:
    """``count`` distinct GREASE code points chosen at random (13.5)."""
    pool = list(_GREASE)
    out = []
    for b in rng(count):
        out.append(pool.pop(b % len(pool)))
    return tuple(out)


def make_capabilities(
    cipher_suite: int,
    *,
    extensions: Collection[int] = (),
    proposals: Collection[int] = (),
    credentials: Collection[int] = (1,),
    extra_cipher_suites: Collection[int] = (),
    grease: bool = True,
    rng: Rng = os.urandom,
) -> Capabilities:
    """Capabilities for a new LeafNode (7.2). Default extension and proposal
    types are implied and not listed; with ``grease`` one random GREASE value
    is added to each list that 13.5 names (never to versions)."""

    def g() -> tuple[int, ...]:
        return grease_values(1, rng) if grease else ()

    suites = (cipher_suite,) + tuple(s for s in extra_cipher_suites if s != cipher_suite)
    return Capabilities(
        versions=(ProtocolVersion.MLS10,),
        cipher_suites=suites + g(),
        extensions=tuple(extensions) + g(),
        proposals=tuple(proposals) + g(),
        credentials=tuple(credentials) + g(),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class GroupRules:
    """What a group asks of every leaf (7.3, 11.1, 12.1.7)."""

    cipher_suite: int
    version: int = ProtocolVersion.MLS10
    required: RequiredCapabilities | None = None
    # Types of the GroupContext extensions in use; every member must support them.
    context_extensions: tuple[int, ...] = ()
    # Credential types in use by the members; a new leaf must support them all.
    credential_types: frozenset[int] = frozenset()
    # Credential types every member supports (None: no constraint); a new
    # leaf's own credential type must be one of them (7.3).
    supported_by_all: frozenset[int] | None = None
    # draft-ietf-mls-extensions 5: the components (``app_components``) and Safe AAD
    # components (``safe_aad``) the GroupContext's app_data_dictionary requires.
    components: tuple[int, ...] = ()
    safe_aad: tuple[int, ...] = ()


def check_own_capabilities(caps: Capabilities, cipher_suite: int, credential_type: int) -> None:
    """What Accord asks of a leaf it makes itself, beyond 7.3: it lists the
    protocol version and the cipher suite it is used in, and its own
    credential type (7.2). Peers' leaves are not held to the first two
    (``check_capabilities``): 7.3 and 10.1 do not ask for them, and other
    implementations omit the group's suite (docs/INTEROP.md)."""
    if ProtocolVersion.MLS10 not in caps.versions:
        raise ValidationError("our own leaf must list protocol version mls10", "RFC 9420 7.2")
    if cipher_suite not in caps.cipher_suites:
        raise ValidationError(f"our own leaf must list cipher suite {cipher_suite}", "RFC 9420 7.2")
    if credential_type not in caps.credentials:
        raise ValidationError("our own leaf must list its credential type", "RFC 9420 7.2")


def check_capabilities(leaf: LeafNode, rules: GroupRules, where: str) -> None:
    """The capability rules of 7.3 for one leaf (GREASE values are ordinary
    unknown values here: they are ignored, never rejected).

    Only what 7.3 names is required: the required_capabilities, the
    GroupContext extensions (13.4), the credential types in use, the leaf's
    own credential type and extensions. The leaf need not list the group's
    cipher suite or protocol version: 10.1 matches a KeyPackage's
    ``cipher_suite`` and ``version`` fields against the group instead."""
    caps = leaf.capabilities
    exts = set(caps.extensions) | DEFAULT_EXTENSION_TYPES
    props = set(caps.proposals) | DEFAULT_PROPOSAL_TYPES
    creds = set(caps.credentials)
    req = rules.required
    if req is not None:
        _require(where, "extension", req.extension_types, exts)
        _require(where, "proposal", req.proposal_types, props)
        _require(where, "credential", req.credential_types, creds)
    _require(where, "group context extension", rules.context_extensions, exts)
    _require(where, "credential (in use by a member)", rules.credential_types, creds)
    check_components(leaf, rules.components, rules.safe_aad, where)
    own = leaf.credential.credential_type
    if own not in creds:
        raise ValidationError(f"{where} does not list its own credential type", RULE)
    if rules.supported_by_all is not None and own not in rules.supported_by_all:
        raise ValidationError(f"{where} has credential type {own} not every member supports", RULE)
    for ext in leaf.extensions:
        # 7.3: every extension of the leaf is listed in its own capabilities;
        # default types (application_id, 7.2) are implied and MUST NOT be listed.
        if ext.extension_type not in exts:
            raise ValidationError(
                f"{where} uses extension {ext.extension_type} it does not list", RULE
            )


def _lists(extensions: Extensions) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """The ``app_components`` and ``safe_aad`` lists of the app_data_dictionary among
    ``extensions`` (a list absent: empty); None without the extension."""
    ext = find_extension(extensions, ExtensionType.APP_DATA_DICTIONARY)
    if ext is None:
        return None
    dictionary: AppDataDictionary = decode(AppDataDictionary, ext.extension_data)
    out = []
    for component_id in (ComponentId.APP_COMPONENTS, ComponentId.SAFE_AAD):
        data = dictionary.get(component_id)
        ids: tuple[int, ...] = () if data is None else decode(ComponentsList,
                                                               data).component_ids
        out.append(ids)
    return out[0], out[1]


def required_components(extensions: Extensions) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """What GroupContext ``extensions`` require of every member (draft-ietf-mls-extensions
    5): the component ids of the dictionary's ``app_components`` (required components)
    and of its ``safe_aad`` (required Safe AAD components)."""
    return _lists(extensions) or ((), ())


def supports_safe_aad(leaf: LeafNode, component_id: int) -> bool:
    """Whether ``leaf`` lists ``component_id`` among the Safe AAD components it
    supports (its own dictionary's ``safe_aad``, draft-ietf-mls-extensions 5)."""
    own = _lists(leaf.extensions)
    return own is not None and component_id in own[1]


def check_components(leaf: LeafNode, components: Collection[int], safe_aad: Collection[int],
                     where: str) -> None:
    """draft-ietf-mls-extensions 5, as RFC 9420 7.3 holds a leaf to required_capabilities:
    the leaf supports every required component (its own dictionary's ``app_components``)
    and every required Safe AAD component (its ``safe_aad``); a leaf that lists the
    app_data_dictionary extension supports ``app_components`` and ``safe_aad`` (4.6)."""
    if not components and not safe_aad:
        return
    own = _lists(leaf.extensions) or ((), ())
    implied = (IMPLIED_COMPONENTS if ExtensionType.APP_DATA_DICTIONARY
               in leaf.capabilities.extensions else frozenset())
    missing = [c for c in components if c not in own[0] and c not in implied]
    if missing:
        raise ValidationError(f"{where} does not support required component(s) {missing}",
                              R_COMPONENTS)
    missing = [c for c in safe_aad if c not in own[1]]
    if missing:
        raise ValidationError(
            f"{where} does not support required Safe AAD component(s) {missing}", R_COMPONENTS)


def _require(where: str, what: str, needed: Collection[int], have: set[int]) -> None:
    missing = [t for t in needed if t not in have]
    if missing:
        raise ValidationError(f"{where} does not support {what} type(s) {missing}", RULE)


def _check_lifetime(leaf: LeafNode, now: int, where: str) -> None:
    lt = leaf.lifetime
    if lt is not None and not lt.not_before <= now <= lt.not_after:
        raise ValidationError(f"{where} is outside its lifetime", RULE)


def validate_leaf_node(
    suite: CipherSuite,
    leaf: LeafNode,
    *,
    source: int | None,
    group_id: bytes,
    leaf_index: int,
    rules: GroupRules,
    now: int | None,
    credential_validator: CredentialValidator,
    check_signature: bool = True,
    encoded: bytes | None = None,
    check_lifetime: bool = True,
) -> None:
    """Validate one LeafNode (7.3). ``source`` is the leaf_node_source the
    context demands (None: any, as in a received tree); ``now`` (seconds since
    the epoch) checks the lifetime when given and ``check_lifetime`` is set;
    ``encoded`` is the leaf's encoding if the caller has it. Raises
    ``ValidationError``."""
    where = f"leaf {leaf_index}"
    if source is not None and leaf.leaf_node_source != source:
        raise ValidationError(
            f"{where} has leaf_node_source {leaf.leaf_node_source}, not {source}", RULE
        )
    if leaf.leaf_node_source not in (1, 2, 3):
        raise ValidationError(f"{where} has an unknown leaf_node_source", RULE)
    credential_validator.validate(leaf.credential, leaf.signature_key, now)
    if check_signature:
        verify_leaf_signature(suite, leaf, group_id, leaf_index, encoded)
    check_capabilities(leaf, rules, where)
    if now is not None and check_lifetime:
        _check_lifetime(leaf, now, where)
