"""tests/interop/tsmls/hpke_roundtrip.mjs: ts-mls's HPKE, driven from Python.

Today it is checked against itself (keygen, seal, open); once Accord's X-Wing suite
exists the same script seals to an Accord public key and opens Accord's output.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.interop.tsmls_peer import PEER_DIR, require_node

SCRIPT = PEER_DIR / "hpke_roundtrip.mjs"


def hpke(*args: str, ok: bool = True) -> dict[str, str]:
    node = require_node()
    done = subprocess.run([node, str(SCRIPT), *args], cwd=PEER_DIR, capture_output=True, text=True, timeout=60)
    if not ok:
        assert done.returncode == 1 and done.stderr.strip(), done
        return {}
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(
    ("suite", "name", "pub_len", "priv_len"),
    [
        (1, "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519", 32, 32),
        (3, "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519", 32, 32),
        (83, "MLS_256_XWING_AES256GCM_SHA512_Ed25519", 1216, 32),
    ],
)
def test_seal_then_open(suite: int, name: str, pub_len: int, priv_len: int) -> None:
    keys = hpke("keygen", str(suite))
    assert keys["suite"] == name
    assert len(bytes.fromhex(keys["public_key"])) == pub_len
    assert len(bytes.fromhex(keys["private_key"])) == priv_len
    message = b"accord interop hpke".hex()
    sealed = hpke("seal", str(suite), keys["public_key"], message, "--info", "0102", "--aad", "aa")
    opened = hpke("open", str(suite), keys["private_key"], sealed["kem_output"], sealed["ciphertext"], "--info", "0102", "--aad", "aa")
    assert opened["plaintext"] == message
    # Each seal is fresh, and the wrong context does not open.
    again = hpke("seal", str(suite), keys["public_key"], message, "--info", "0102", "--aad", "aa")
    assert again["kem_output"] != sealed["kem_output"]
    hpke("open", str(suite), keys["private_key"], sealed["kem_output"], sealed["ciphertext"], "--info", "0102", "--aad", "ab", ok=False)
    other = hpke("keygen", str(suite))
    hpke("open", str(suite), other["private_key"], sealed["kem_output"], sealed["ciphertext"], "--info", "0102", "--aad", "aa", ok=False)


def test_x_wing_kem_output_size() -> None:
    keys = hpke("keygen", "83")
    sealed = hpke("seal", "83", keys["public_key"], "00")
    # X-Wing ciphertext: ML-KEM-768 ciphertext (1088) + X25519 share (32).
    assert len(bytes.fromhex(sealed["kem_output"])) == 1120


def test_bad_input_is_an_error_not_a_crash() -> None:
    hpke("seal", "1", "zz", "00", ok=False)
    hpke("seal", "9999", "00" * 32, "00", ok=False)
    hpke("frobnicate", "1", ok=False)
