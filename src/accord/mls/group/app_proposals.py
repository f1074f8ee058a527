"""The proposals of draft-ietf-mls-extensions in the group engine: AppDataUpdate
(4.7) on the GroupContext's ``app_data_dictionary`` (4.6), and SelfRemove (5.3).

``accord.mls.group.proposals`` calls these where RFC 9420 12.1-12.3 check and
apply proposals, so the committer, every receiver and the delivery service's public
state run the same rules. Violations raise ``ValidationError`` naming the draft
section (or RFC 9420 12.2 for the support of non-default proposal types).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from accord.errors import ValidationError
from accord.mls.codec import decode
from accord.mls.components import Component, ComponentUpdate
from accord.mls.leaf_node import (
    GroupRules,
    check_capabilities,
    check_components,
    required_components,
)
from accord.mls.ratchet_tree import Tree
from accord.mls.structs import (
    AppDataUpdate,
    Credential,
    Extension,
    GroupContext,
    Proposal,
    RequiredCapabilities,
    SelfRemove,
    Sender,
    find_extension,
)
from accord.mls.structs.app_data import AppDataDictionary, AppDataUpdateOperation
from accord.mls.structs.enums import (
    ExtensionType,
    ProposalType,
    WireFormat,
)

__all__ = [
    "R_APP_DATA",
    "R_SELF_REMOVE",
    "app_data",
    "apply_app_data",
    "check_app_list",
    "check_app_proposal",
    "check_by_value",
    "check_context_app_data",
    "check_received_self_remove",
]

R_APP_DATA = "draft-ietf-mls-extensions 4.7"
R_SELF_REMOVE = "draft-ietf-mls-extensions 5.3"
R_SUPPORT = "RFC 9420 12.2"

Entry = tuple[Proposal, Sender]


def app_data(context: GroupContext) -> AppDataDictionary | None:
    """The GroupContext's ``app_data_dictionary`` (None: the extension is absent)."""
    ext = find_extension(context.extensions, ExtensionType.APP_DATA_DICTIONARY)
    if ext is None:
        return None
    found: AppDataDictionary = decode(AppDataDictionary, ext.extension_data)
    return found


def check_app_proposal(
    components: Mapping[int, Component], p: AppDataUpdate, context: GroupContext,
    update: ComponentUpdate,
) -> None:
    """An AppDataUpdate on its own (the part of 12.1 the draft adds): its component is
    known, a remove finds state, and an update is one the component accepts alone on
    the current data (``update``: the proposal's data and proposer), so a proposal its
    component refuses (e.g. beyond the proposer's role) is refused on receipt and
    never held by members, where it would spoil every commit of all cached proposals."""
    component = _component(components, p.component_id)
    dictionary = app_data(context) or AppDataDictionary()
    current = dictionary.get(p.component_id)
    if p.update is None:
        _existing(current, p.component_id)
    else:
        component.apply(current, [update], dictionary)


def _component(components: Mapping[int, Component], component_id: int) -> Component:
    component = components.get(component_id)
    if component is None:
        raise ValidationError(
            f"AppDataUpdate for component {component_id}, unknown to the application",
            R_APP_DATA)
    return component


def _existing(current: bytes | None, component_id: int) -> None:
    """4.7: a remove of a component's state needs state to remove."""
    if current is None:
        raise ValidationError(
            f"AppDataUpdate removes component {component_id}, which has no state", R_APP_DATA)


def check_received_self_remove(
    p: Proposal, sender: Sender, wire_format: int, ref: bytes,
    earlier: Sequence[tuple[bytes, Proposal, Sender]],
) -> None:
    """5.3 for a received SelfRemove: in a PublicMessage (external joiners must be able
    to read it), and at most one per client and epoch."""
    if not isinstance(p, SelfRemove):
        return
    if wire_format != WireFormat.PUBLIC_MESSAGE:
        raise ValidationError("a SelfRemove must be sent in a PublicMessage", R_SELF_REMOVE)
    for other_ref, other, other_sender in earlier:
        if isinstance(other, SelfRemove) and other_sender == sender and other_ref != ref:
            raise ValidationError("a second SelfRemove from one member in an epoch",
                                  R_SELF_REMOVE)


def check_by_value(p: Proposal) -> None:
    """5.3: "SelfRemove proposals are only allowed in a Commit by reference". (Who may
    send one is 12.1.8's table: a member only, ``proposals.EXTERNAL_SENDER_TYPES``.)"""
    if isinstance(p, SelfRemove):
        raise ValidationError("a SelfRemove is committed by reference only", R_SELF_REMOVE)


def check_app_list(tree: Tree, entries: Sequence[Entry], removed: set[int]) -> None:
    """The list rules of 4.7 for AppDataUpdate, and 12.2's rule that a non-default
    proposal type is supported by every member that will process the commit (not
    those it adds or removes, ``removed``)."""
    ops: dict[int, list[int]] = {}
    for p, _ in entries:
        if isinstance(p, AppDataUpdate):
            ops.setdefault(p.component_id, []).append(p.op)
    for component_id, kinds in ops.items():
        # 4.7: per component, a single remove, or one or more updates.
        if AppDataUpdateOperation.REMOVE in kinds and len(kinds) > 1:
            raise ValidationError(
                f"component {component_id}: a remove together with other AppDataUpdates",
                R_APP_DATA)
    needed = {t for p, _ in entries if (t := _type_of(p)) is not None}
    if not needed:
        return
    for leaf_index, leaf in tree.leaves():
        if leaf_index in removed:
            continue
        missing = needed - set(leaf.capabilities.proposals)
        if missing:
            raise ValidationError(
                f"leaf {leaf_index} does not support proposal type(s) {sorted(missing)}",
                R_SUPPORT)


def _type_of(p: Proposal) -> int | None:
    if isinstance(p, AppDataUpdate):
        return ProposalType.APP_DATA_UPDATE
    if isinstance(p, SelfRemove):
        return ProposalType.SELF_REMOVE
    return None


def check_context_app_data(context: GroupContext, extensions: tuple[Extension, ...]) -> None:
    """4.7: when the group requires AppDataUpdate, a GroupContextExtensions proposal
    leaves the ``app_data_dictionary`` extension as it was (present and the same, or
    absent)."""
    req = find_extension(context.extensions, ExtensionType.REQUIRED_CAPABILITIES)
    if req is None:
        return
    required: RequiredCapabilities = decode(RequiredCapabilities, req.extension_data)
    if ProposalType.APP_DATA_UPDATE not in required.proposal_types:
        return
    old = find_extension(context.extensions, ExtensionType.APP_DATA_DICTIONARY)
    new = find_extension(extensions, ExtensionType.APP_DATA_DICTIONARY)
    if old != new:
        raise ValidationError("a GroupContextExtensions changes app_data_dictionary, which "
                              "the group updates by AppDataUpdate only", R_APP_DATA)


def apply_app_data(
    extensions: tuple[Extension, ...], context: GroupContext, new_tree: Tree,
    entries: Sequence[Entry], components: Mapping[int, Component],
    credential_of: Callable[[Sender], Credential | None],
) -> tuple[Extension, ...]:
    """The GroupContext extensions after the commit's AppDataUpdates (4.7), applied
    after every other proposal to ``extensions`` (the context's, or those of the
    commit's GroupContextExtensions). ``credential_of`` gives a proposer's
    credential, ``new_tree`` the members that must support a newly added dictionary."""
    by_component: dict[int, list[tuple[AppDataUpdate, Sender]]] = {}
    for p, sender in entries:
        if isinstance(p, AppDataUpdate):
            by_component.setdefault(p.component_id, []).append((p, sender))
    if not by_component:
        return extensions
    ext = find_extension(extensions, ExtensionType.APP_DATA_DICTIONARY)
    dictionary = AppDataDictionary() if ext is None else decode(AppDataDictionary,
                                                                 ext.extension_data)
    before = dictionary
    for component_id, updates in sorted(by_component.items()):
        current = dictionary.get(component_id)
        if updates[0][0].op == AppDataUpdateOperation.REMOVE:
            _existing(current, component_id)
            dictionary = dictionary.with_data(component_id, None)
            continue
        component = _component(components, component_id)
        batch = [ComponentUpdate(p.update or b"", s, credential_of(s)) for p, s in updates]
        dictionary = dictionary.with_data(component_id, component.apply(current, batch, before))
    value = Extension(ExtensionType.APP_DATA_DICTIONARY, dictionary.to_bytes())
    _check_new_requirements(extensions, (value,), new_tree)
    if ext is None:
        # 4.7: a new dictionary goes at the end; every member must support it (12.1.7).
        rules = GroupRules(cipher_suite=context.cipher_suite,
                           context_extensions=(ExtensionType.APP_DATA_DICTIONARY,))
        for leaf_index, leaf in new_tree.leaves():
            check_capabilities(leaf, rules, f"leaf {leaf_index}")
        return (*extensions, value)
    return tuple(value if e is ext else e for e in extensions)



def _check_new_requirements(old: tuple[Extension, ...], new: tuple[Extension, ...],
                            new_tree: Tree) -> None:
    """draft-ietf-mls-extensions 5: a commit whose AppDataUpdates change the required
    components (or Safe AAD components) holds every member of the new epoch to them."""
    required = required_components(new)
    if required == required_components(old):
        return
    for leaf_index, leaf in new_tree.leaves():
        check_components(leaf, *required, f"leaf {leaf_index}")
