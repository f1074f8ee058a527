"""secret-tree.json: sender-data keys and the sender ratchets (RFC 9420 6.3.2, 9)."""

from __future__ import annotations

from typing import Any

from accord.mls.secret_tree import RatchetType, SecretTree, sender_data_key_nonce
from accord.mls.suites import get_suite
from accord.mls.vectors import expect, h


def check(entry: dict[str, Any]) -> None:
    suite = get_suite(int(entry["cipher_suite"]))
    sd = entry["sender_data"]
    key, nonce = sender_data_key_nonce(suite, h(sd["sender_data_secret"]), h(sd["ciphertext"]))
    expect("sender_data.key", key, sd["key"])
    expect("sender_data.nonce", nonce, sd["nonce"])

    leaves = entry["leaves"]
    tree = SecretTree.create(suite, h(entry["encryption_secret"]), len(leaves))
    for leaf, generations in enumerate(leaves):
        for g in generations:
            gen = int(g["generation"])
            for kind, name in (
                (RatchetType.HANDSHAKE, "handshake"),
                (RatchetType.APPLICATION, "application"),
            ):
                rk, tree = tree.key_for(leaf, kind, gen)
                expect(f"leaves[{leaf}][{gen}].{name}_key", rk.key, g[f"{name}_key"])
                expect(f"leaves[{leaf}][{gen}].{name}_nonce", rk.nonce, g[f"{name}_nonce"])
    # The state survives a round trip through its serialized form.
    expect("serialized tree", SecretTree.from_bytes(tree.to_bytes()), tree)
