"""Accord's HPKE (X-Wing, ML-KEM-768/1024, DHKEM(X448)) against the @hpke packages
that ts-mls 1.6.4 uses, both directions, including DeriveKeyPair and the exporter;
and ML-DSA-87 against @noble/post-quantum, which ts-mls signs with.

Needs node and tests/interop/tsmls/node_modules; skipped otherwise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from accord.mls.hpke import AEADS, KDFS, Hpke
from accord.mls.hpke_kem import KEMS
from accord.mls.signature_schemes import SIGNATURE_SCHEMES

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE.parent / "interop" / "tsmls"
SCRIPT = HERE / "hpke_tsmls_check.cjs"
KEM_IDS = (0x647A, 0x0041, 0x0042, 0x0021)

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "@hpke" / "core").is_dir(),
    reason="node or the ts-mls interop node_modules are not installed",
)


def _node(jobs: list[dict[str, object]]) -> list[dict[str, object]]:
    proc = subprocess.run(
        ["node", str(SCRIPT), str(NODE_DIR)],
        input=json.dumps(jobs).encode(),
        capture_output=True,
        timeout=120,
        check=True,
    )
    results: list[dict[str, object]] = json.loads(proc.stdout)
    return results


def test_mldsa87_matches_noble() -> None:
    scheme = SIGNATURE_SCHEMES["ML-DSA-87"]
    seed, message = os.urandom(32), os.urandom(100)
    ours = scheme.sign(seed, message)
    (result,) = _node(
        [{"kind": "mldsa", "seed": seed.hex(), "message": message.hex(), "signature": ours.hex()}]
    )
    assert result["public"] == scheme.public_key(seed).hex()  # same FIPS 204 KeyGen from the seed
    assert result["ours_verifies"] is True
    scheme.verify(scheme.public_key(seed), message, bytes.fromhex(str(result["signature"])))


def test_hpke_matches_hpke_js_both_ways() -> None:
    jobs: list[dict[str, object]] = []
    ours = {}
    for kem_id in KEM_IDS:
        hpke = Hpke(KEMS[kem_id], KDFS[3], AEADS[2])
        ikm_py, ikm_js = os.urandom(64), os.urandom(64)
        sk_py, pk_py = hpke.kem.derive_key_pair(ikm_py)
        _, pk_js = hpke.kem.derive_key_pair(ikm_js)
        info, aad, plaintext = os.urandom(20), os.urandom(10), os.urandom(50)
        enc, ct = hpke.seal(pk_js, info, aad, plaintext)
        jobs.append(
            {
                "kem_id": kem_id,
                "ikm_py": ikm_py.hex(),
                "ikm_js": ikm_js.hex(),
                "info": info.hex(),
                "aad": aad.hex(),
                "enc": enc.hex(),
                "ct": ct.hex(),
                "plaintext": plaintext.hex(),
                "exporter_context": b"MLS 1.0 external init secret".hex(),
            }
        )
        ours[kem_id] = (hpke, sk_py, pk_py, pk_js, info, aad, plaintext)
    for result in _node(jobs):
        hpke, sk_py, pk_py, pk_js, info, aad, plaintext = ours[int(str(result["kem_id"]))]
        # DeriveKeyPair agrees on both key pairs.
        assert result["pk_py"] == pk_py.hex()
        assert result["pk_js"] == pk_js.hex()
        # They open what we sealed.
        assert result["opened"] == plaintext.hex()
        # We open what they sealed, and derive the same exporter secret.
        enc, ct = bytes.fromhex(str(result["enc"])), bytes.fromhex(str(result["ct"]))
        assert hpke.open(sk_py, enc, info, aad, ct) == plaintext
        exported = hpke.receive_export(enc, sk_py, info, b"MLS 1.0 external init secret", 64)
        assert exported.hex() == result["exported"]
