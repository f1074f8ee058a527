"""HPKE across implementations: Accord's suites against ts-mls's (hpke_roundtrip.mjs).

Both directions: ts-mls seals to an Accord key and Accord opens; Accord seals to a
ts-mls key and ts-mls opens. X-Wing (0x0053, KEM 0x647A) is the post-quantum case;
suite 1 is the classical control.
"""

from __future__ import annotations

import os

import pytest

from accord.errors import CryptoError
from accord.mls.suites import get_suite
from tests.interop.test_hpke_roundtrip import hpke

INFO, AAD = b"accord x ts-mls", b"aad"


@pytest.mark.parametrize("suite_id", [1, 83, 84])
def test_tsmls_seals_accord_opens(suite_id: int) -> None:
    suite = get_suite(suite_id)
    priv, pub = suite.generate_hpke_key_pair()
    message = os.urandom(48)
    sealed = hpke("seal", str(suite_id), pub.hex(), message.hex(), "--info", INFO.hex(), "--aad", AAD.hex())
    kem_output, ct = bytes.fromhex(sealed["kem_output"]), bytes.fromhex(sealed["ciphertext"])
    if suite_id in (83, 84):
        assert len(pub) == 1216 and len(kem_output) == 1120
    assert suite.hpke_open(priv, kem_output, INFO, AAD, ct) == message
    with pytest.raises(CryptoError):
        suite.hpke_open(priv, kem_output, INFO, b"other aad", ct)


@pytest.mark.parametrize("suite_id", [1, 83, 84])
def test_accord_seals_tsmls_opens(suite_id: int) -> None:
    suite = get_suite(suite_id)
    keys = hpke("keygen", str(suite_id))
    message = os.urandom(48)
    kem_output, ct = suite.hpke_seal(bytes.fromhex(keys["public_key"]), INFO, AAD, message)
    opened = hpke("open", str(suite_id), keys["private_key"], kem_output.hex(), ct.hex(),
                  "--info", INFO.hex(), "--aad", AAD.hex())
    assert bytes.fromhex(opened["plaintext"]) == message
    # a flipped ciphertext bit does not open on ts-mls's side either
    bad = ct[:-1] + bytes([ct[-1] ^ 1])
    hpke("open", str(suite_id), keys["private_key"], kem_output.hex(), bad.hex(),
         "--info", INFO.hex(), "--aad", AAD.hex(), ok=False)


def test_x_wing_key_formats_match() -> None:
    """Accord's X-Wing private key is the 32-byte seed ts-mls uses: a ts-mls key pair
    gives the same public key in Accord."""
    keys = hpke("keygen", "83")
    priv = bytes.fromhex(keys["private_key"])
    assert get_suite(83).hpke_public_key(priv).hex() == keys["public_key"]
