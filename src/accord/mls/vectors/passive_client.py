"""passive-client-{welcome,handling-commit,random}.json: follow a group as a
passive member (mls-implementations test-vectors, "Passive Client Scenarios").

The client joins from the Welcome (with the given ratchet tree and external
PSKs), must reach the initial epoch authenticator, then applies every
epoch's commit (after the proposals it refers to) and must reach each
epoch's authenticator. Lifetimes are not checked: the vectors carry no time.
"""

from __future__ import annotations

from typing import Any

from accord.errors import AccordError, DecodeError
from accord.mls import group as g
from accord.mls.codec import decode
from accord.mls.structs import KeyPackage, MLSMessage, Welcome
from accord.mls.suites import get_suite
from accord.mls.vectors import VectorMismatch, expect, h

FIELDS = (
    "cipher_suite", "external_psks", "key_package", "signature_priv", "encryption_priv",
    "init_priv", "welcome", "ratchet_tree", "initial_epoch_authenticator", "epochs",
)


def check(entry: dict[str, Any]) -> None:
    missing = [f for f in FIELDS if f not in entry]
    if missing:
        raise VectorMismatch(f"fields missing from the entry: {', '.join(missing)}")
    suite = get_suite(int(entry["cipher_suite"]))
    kp = _key_package(h(entry["key_package"]))
    welcome: MLSMessage = decode(MLSMessage, h(entry["welcome"]))
    if not isinstance(welcome.message, Welcome):
        raise VectorMismatch("welcome: not an MLSMessage holding a Welcome")
    private = g.KeyPackagePrivate(
        kp, h(entry["init_priv"]), h(entry["encryption_priv"]), h(entry["signature_priv"])
    )
    _check_keys(suite, private)
    psks = {h(p["psk_id"]): h(p["psk"]) for p in entry["external_psks"]}
    tree = h(entry["ratchet_tree"]) if entry["ratchet_tree"] else None
    state = g.join_from_welcome(welcome, private, None,
                                ratchet_tree=tree, external_psks=psks)
    expect("initial_epoch_authenticator", g.epoch_authenticator(state),
           entry["initial_epoch_authenticator"])
    for n, epoch in enumerate(entry["epochs"]):
        for i, proposal in enumerate(epoch["proposals"]):
            state = _apply(state, proposal, f"epochs[{n}].proposals[{i}]")
        state = _apply(state, epoch["commit"], f"epochs[{n}].commit")
        expect(f"epochs[{n}].epoch_authenticator", g.epoch_authenticator(state),
               epoch["epoch_authenticator"])


def _key_package(data: bytes) -> KeyPackage:
    """The upstream generators write an MLSMessage(KeyPackage) although the
    format comment says "serialized KeyPackage"; both are accepted."""
    try:
        msg: MLSMessage = decode(MLSMessage, data)
    except DecodeError:
        kp: KeyPackage = decode(KeyPackage, data)
        return kp
    if not isinstance(msg.message, KeyPackage):
        raise VectorMismatch("key_package: an MLSMessage that holds no KeyPackage")
    return msg.message


def _apply(state: g.GroupState, message: str, where: str) -> g.GroupState:
    try:
        _, state = g.process(state, h(message), None)
    except VectorMismatch:
        raise
    except AccordError as exc:
        raise VectorMismatch(f"{where}: {type(exc).__name__}: {exc}") from exc
    return state


def _check_keys(suite: Any, kp: g.KeyPackagePrivate) -> None:
    leaf = kp.key_package.leaf_node
    expect("signature_priv matches signature_key",
           suite.signature_public_key(kp.signature_priv), leaf.signature_key)
    expect("encryption_priv matches encryption_key",
           suite.hpke_public_key(kp.encryption_priv), leaf.encryption_key)
    expect("init_priv matches init_key",
           suite.hpke_public_key(kp.init_priv), kp.key_package.init_key)
