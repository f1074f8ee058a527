"""crypto-basics.json: RefHash, ExpandWithLabel, DeriveSecret, DeriveTreeSecret,
SignWithLabel and EncryptWithLabel for one cipher suite (test-vectors.md "Crypto Basics")."""

from __future__ import annotations

from typing import Any

from accord.errors import CryptoError
from accord.mls.suites import get_suite
from accord.mls.vectors import VectorMismatch, expect, h


def check(entry: dict[str, Any]) -> None:
    cs = get_suite(entry["cipher_suite"])

    v = entry["ref_hash"]
    expect("ref_hash.out", cs.ref_hash(v["label"], h(v["value"])), v["out"])

    v = entry["expand_with_label"]
    got = cs.expand_with_label(h(v["secret"]), v["label"], h(v["context"]), v["length"])
    expect("expand_with_label.out", got, v["out"])

    v = entry["derive_secret"]
    expect("derive_secret.out", cs.derive_secret(h(v["secret"]), v["label"]), v["out"])

    v = entry["derive_tree_secret"]
    got = cs.derive_tree_secret(h(v["secret"]), v["label"], v["generation"], v["length"])
    expect("derive_tree_secret.out", got, v["out"])

    v = entry["sign_with_label"]
    priv, pub, content = h(v["priv"]), h(v["pub"]), h(v["content"])
    expect("sign_with_label.pub", cs.signature_public_key(priv), pub)
    try:
        cs.verify_with_label(pub, v["label"], content, h(v["signature"]))
    except CryptoError as exc:
        raise VectorMismatch(f"sign_with_label.signature: {exc}") from None
    fresh = cs.sign_with_label(priv, v["label"], content)
    try:
        cs.verify_with_label(pub, v["label"], content, fresh)
    except CryptoError as exc:
        raise VectorMismatch(f"sign_with_label: a fresh signature fails: {exc}") from None

    v = entry["encrypt_with_label"]
    priv, pub, context = h(v["priv"]), h(v["pub"]), h(v["context"])
    expect("encrypt_with_label.pub", cs.hpke_public_key(priv), pub)
    try:
        pt = cs.decrypt_with_label(
            priv, v["label"], context, h(v["kem_output"]), h(v["ciphertext"])
        )
    except CryptoError as exc:
        raise VectorMismatch(f"encrypt_with_label.ciphertext: {exc}") from None
    expect("encrypt_with_label.plaintext", pt, v["plaintext"])
    kem_output, ct = cs.encrypt_with_label(pub, v["label"], context, h(v["plaintext"]))
    try:
        pt = cs.decrypt_with_label(priv, v["label"], context, kem_output, ct)
    except CryptoError as exc:
        raise VectorMismatch(f"encrypt_with_label: a fresh round trip fails: {exc}") from None
    expect("encrypt_with_label (fresh round trip)", pt, v["plaintext"])
