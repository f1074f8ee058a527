"""draft-ietf-mls-extensions 5: the GroupContext's ``app_components`` (required components)
and ``safe_aad`` (required Safe AAD components) hold every member's leaf as RFC 9420
required_capabilities does: on Add, external join, Update, commit path, Welcome, and when
a GroupContextExtensions or AppDataUpdate changes the lists; members and the hub's
public state (``group.public``) run the same check (``leaf_node.check_components``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from accord.client import mls_room
from accord.errors import ValidationError
from accord.mls import group as g
from accord.mls.group import external, public
from accord.mls.group.send import new_leaf_node, propose
from accord.mls.leaf_node import check_components, make_capabilities, required_components
from accord.mls.structs import (
    Add,
    AppDataUpdate,
    Extension,
    GroupContextExtensions,
    RequiredCapabilities,
    Update,
    find_extension,
)
from accord.mls.structs.app_data import AppDataDictionary, ComponentId, ComponentsList
from accord.mls.structs.enums import ExtensionType, LeafNodeSource, ProposalType
from accord.mls.suites import get_suite
from tests.mls.group_sim import NOW, identity
from tests.mls.test_app_proposals import Log

LOG, OTHER, FRANK = 0x8001, 0x8002, 0x8003
RULE = "draft-ietf-mls-extensions 5"


class Lists:
    """A component whose data is a ComponentsList set whole by each update (for the
    dictionary's own ``app_components`` and ``safe_aad`` entries)."""

    def apply(self, current: bytes | None, updates: Sequence[object],
              before: AppDataDictionary) -> bytes:
        return updates[-1].data  # type: ignore[attr-defined, no-any-return]


CONFIG = g.GroupConfig(components={LOG: Log(LOG), ComponentId.APP_COMPONENTS: Lists(),
                                   ComponentId.SAFE_AAD: Lists()})


def dictionary(components: Sequence[int] = (), safe_aad: Sequence[int] | None = None,
               extra: dict[int, bytes] | None = None) -> Extension:
    d = AppDataDictionary().with_data(ComponentId.APP_COMPONENTS,
                                      ComponentsList(tuple(components)).to_bytes())
    if safe_aad is not None:
        d = d.with_data(ComponentId.SAFE_AAD, ComponentsList(tuple(safe_aad)).to_bytes())
    for k, v in (extra or {}).items():
        d = d.with_data(k, v)
    return Extension(ExtensionType.APP_DATA_DICTIONARY, d.to_bytes())


def group_exts(components: Sequence[int] = (LOG,), safe_aad: Sequence[int] | None = None,
               proposals: Sequence[int] = (ProposalType.APP_DATA_UPDATE,)) -> tuple[Extension, ...]:
    required = RequiredCapabilities((ExtensionType.APP_DATA_DICTIONARY,), tuple(proposals), ())
    return (Extension(ExtensionType.REQUIRED_CAPABILITIES, required.to_bytes()),
            dictionary(components, safe_aad))


def kp(name: str, components: Sequence[int] = (LOG,),
       safe_aad: Sequence[int] | None = None) -> g.KeyPackagePrivate:
    cred, priv = identity(1, name)
    caps = make_capabilities(1, extensions=(ExtensionType.APP_DATA_DICTIONARY,),
                             proposals=(ProposalType.APP_DATA_UPDATE,))
    return g.key_package(get_suite(1), cred, priv, NOW, capabilities=caps,
                         leaf_extensions=(dictionary(components, safe_aad),))


def create(exts: tuple[Extension, ...], creator: g.KeyPackagePrivate | None = None
           ) -> g.GroupState:
    first = creator or kp("alice", (LOG, OTHER), (FRANK,))
    return g.create_group(get_suite(1), b"room", first.key_package.leaf_node.credential,
                          first.signature_priv, NOW, key_package=first, config=CONFIG,
                          extensions=exts)


def two(exts: tuple[Extension, ...], bob: g.KeyPackagePrivate | None = None
        ) -> tuple[g.GroupState, g.GroupState]:
    alice = create(exts)
    bob = bob or kp("bob")
    res, alice = g.commit(alice, now=NOW, by_value=[Add(bob.key_package)])
    return g.merge_pending(alice), g.join_from_welcome(res.welcome, bob, NOW, config=CONFIG)  # type: ignore[arg-type]


def refused(exc: pytest.ExceptionInfo[ValidationError]) -> None:
    assert exc.value.rule == RULE, exc.value


def test_an_add_needs_every_required_component_and_safe_aad_component() -> None:
    alice = create(group_exts((LOG,), (FRANK,)))
    with pytest.raises(ValidationError) as exc:
        g.commit(alice, now=NOW, by_value=[Add(kp("bob", (), (FRANK,)).key_package)])
    refused(exc)
    with pytest.raises(ValidationError) as exc:
        g.commit(alice, now=NOW, by_value=[Add(kp("bob", (LOG,), ()).key_package)])
    refused(exc)
    # Components the group does not require are not asked for; those it does suffice.
    alice2, bob = two(group_exts((LOG,), (FRANK,)), kp("bob", (LOG,), (FRANK,)))
    assert g.epoch_authenticator(alice2) == g.epoch_authenticator(bob)


def test_app_components_and_safe_aad_themselves_are_implied_by_the_extension() -> None:
    # 4.6: a client supporting app_data_dictionary understands both; a leaf need not list them.
    two(group_exts((LOG, ComponentId.APP_COMPONENTS, ComponentId.SAFE_AAD)), kp("bob", (LOG,)))


def test_receivers_and_the_hub_refuse_an_add_the_committer_let_through(
        monkeypatch: pytest.MonkeyPatch) -> None:
    alice, bob = two(group_exts())
    hub = public.from_group_info(g.group_info(alice), NOW)[0]
    carol = kp("carol", ())
    with monkeypatch.context() as m:  # a committer that skips the check
        m.setattr("accord.mls.leaf_node.check_components", lambda *a: None)
        res, _ = g.commit(alice, now=NOW, by_value=[Add(carol.key_package)])
    with pytest.raises(ValidationError) as exc:
        g.process(bob, res.commit, NOW)
    refused(exc)
    with pytest.raises(ValidationError) as exc:
        public.apply_commit(hub, res.commit.to_bytes(), [], NOW)
    refused(exc)
    # A joiner's Welcome carries a tree with that leaf: the joiner refuses it too.
    with pytest.raises(ValidationError) as exc:
        g.join_from_welcome(res.welcome, carol, NOW, config=CONFIG)  # type: ignore[arg-type]
    assert "required component" in str(exc.value)


def test_an_update_or_a_commit_path_that_drops_a_required_component_is_refused() -> None:
    alice, bob = two(group_exts())
    leaf, priv = new_leaf_node(bob, LeafNodeSource.UPDATE, extensions=(dictionary(()),))
    msg, _ = propose(bob, Update(leaf), b"", leaf_priv=priv)
    with pytest.raises(ValidationError) as exc:
        g.process(alice, msg, NOW)
    refused(exc)
    template = dataclasses.replace(bob.own_leaf_node, extensions=(dictionary(()),))
    with pytest.raises(ValidationError) as exc:
        res, _ = g.commit(bob, now=NOW, force_path=True, leaf=template)
        g.process(alice, res.commit, NOW)
    refused(exc)


def test_an_external_joiner_must_support_the_required_components(
        monkeypatch: pytest.MonkeyPatch) -> None:
    alice = create(group_exts((LOG,), (FRANK,)))
    cred, priv = identity(1, "dave")
    # The engine's own joiner leaf advertises what the group requires.
    commit, dave = g.join_external(g.group_info(alice), cred, priv, NOW, config=CONFIG)
    g.process(alice, commit, NOW)
    monkeypatch.setattr(external, "group_leaf_extensions", lambda exts: (dictionary((LOG,)),))
    commit, _ = g.join_external(g.group_info(alice), cred, priv, NOW, config=CONFIG)
    with pytest.raises(ValidationError) as exc:
        g.process(alice, commit, NOW)
    refused(exc)


def test_a_group_context_extensions_requiring_what_a_member_lacks_is_refused() -> None:
    alice, bob = two(group_exts(proposals=()))
    for bad in (group_exts((LOG, OTHER), proposals=()), group_exts((LOG,), (FRANK,), proposals=())):
        msg, _ = g.propose_group_context_extensions(alice, bad)
        with pytest.raises(ValidationError) as exc:
            g.process(bob, msg, NOW)
        refused(exc)
        with pytest.raises(ValidationError) as exc:
            g.commit(alice, now=NOW, by_value=[GroupContextExtensions(bad)])
        refused(exc)
    res, alice = g.commit(alice, now=NOW, by_value=[GroupContextExtensions(
        group_exts((LOG,), (), proposals=()))])
    _, bob = g.process(bob, res.commit, NOW)
    assert bob.context == g.merge_pending(alice).context


def test_an_app_data_update_requiring_what_a_member_lacks_is_refused() -> None:
    alice, bob = two(group_exts())
    for component_id, ids in ((ComponentId.APP_COMPONENTS, (LOG, OTHER)),
                              (ComponentId.SAFE_AAD, (FRANK,))):
        update = AppDataUpdate.of(component_id, ComponentsList(ids).to_bytes())
        with pytest.raises(ValidationError) as exc:
            g.commit(alice, now=NOW, by_value=[update])
        refused(exc)
    # Requiring less is fine, and every member agrees.
    res, alice = g.commit(alice, now=NOW, by_value=[AppDataUpdate.of(
        ComponentId.APP_COMPONENTS, ComponentsList(()).to_bytes())])
    _, bob = g.process(bob, res.commit, NOW)
    assert required_components(g.merge_pending(alice).context.extensions) == ((), ())
    assert bob.context == g.merge_pending(alice).context


def test_accords_own_leaves_support_what_accords_rooms_require() -> None:
    cred, priv = identity(1, "alice@a.example/d1")
    exts = mls_room.group_extensions(cred.identity or b"", "mimi://a.example/r/room")
    components, safe_aad = required_components(exts)
    assert components  # a room requires its state's components
    leaf = g.key_package(get_suite(1), cred, priv, NOW, capabilities=mls_room.capabilities(1),
                         leaf_extensions=mls_room.leaf_extensions()).key_package.leaf_node
    check_components(leaf, components, safe_aad, "our leaf")
    # 4.6: a client supporting the dictionary advertises app_components itself
    ext = find_extension(leaf.extensions, ExtensionType.APP_DATA_DICTIONARY)
    assert ext is not None
    own = AppDataDictionary.from_bytes(ext.extension_data)
    listed = ComponentsList.from_bytes(own.get(ComponentId.APP_COMPONENTS) or b"")
    assert ComponentId.APP_COMPONENTS in listed.component_ids
