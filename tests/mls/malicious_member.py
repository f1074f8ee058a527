"""A malicious group member (issue 17): crafts handshake messages an honest
engine would never send, each validly signed with the member's own key.

- :func:`path_commit`: a commit whose UpdatePath leaf carries another
  credential and/or a new signature key (the leaf signed with that key, as
  RFC 9420 7.3 asks, the commit itself with the member's current key).
- :func:`update_proposal`: the same, as an Update proposal (12.1.2).

The honest engine is used for everything else, so the only thing wrong in
the output is what the test asks for.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any
from unittest import mock

from accord.mls import group as g
from accord.mls.leaf_node import sign_leaf_node
from accord.mls.structs import Credential, MLSMessage, Update
from accord.mls.structs.enums import LeafNodeSource

_commit_module = importlib.import_module("accord.mls.group.commit")


def _template(state: g.GroupState, credential: Credential | None,
              signature_key: bytes | None) -> Any:
    old = state.own_leaf_node
    return dataclasses.replace(
        old, credential=credential or old.credential,
        signature_key=signature_key if signature_key is not None else old.signature_key)


def path_commit(state: g.GroupState, now: int, *, credential: Credential | None = None,
                signature_key_pair: tuple[bytes, bytes] | None = None) -> MLSMessage:
    """A forced-path commit of ``state``'s member with a changed leaf."""
    priv, pub = signature_key_pair or (state.signature_priv, None)
    template = _template(state, credential, pub)
    honest = _commit_module.create_update_path

    def crafted(tree: Any, sender: int, _priv: bytes, ctx: Any, **kw: Any) -> Any:
        return honest(tree, sender, priv, ctx, **dict(kw, leaf=template))

    with mock.patch.object(_commit_module, "create_update_path", crafted):
        result, _ = g.commit(state, now=now, force_path=True)
    return result.commit


def update_proposal(state: g.GroupState, *, credential: Credential | None = None,
                    signature_key_pair: tuple[bytes, bytes] | None = None
                    ) -> tuple[MLSMessage, g.GroupState]:
    """An Update proposal of ``state``'s member with a changed leaf."""
    priv, pub = signature_key_pair or (state.signature_priv, None)
    enc_priv, enc_pub = state.suite.generate_hpke_key_pair()
    leaf = dataclasses.replace(
        _template(state, credential, pub), encryption_key=enc_pub,
        leaf_node_source=LeafNodeSource.UPDATE, lifetime=None, parent_hash=None)
    leaf = sign_leaf_node(state.suite, priv, leaf, state.group_id, state.own_leaf)
    return g.propose(state, Update(leaf), leaf_priv=enc_priv)
