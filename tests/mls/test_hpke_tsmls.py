"""Accord's HPKE (X-Wing, ML-KEM-768/1024, DHKEM(X448)) against the @hpke packages
that ts-mls 1.6.4 uses, both directions, including DeriveKeyPair and the exporter.

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

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE.parent / "interop" / "tsmls"
SCRIPT = HERE / "hpke_tsmls_check.cjs"
KEM_IDS = (0x647A, 0x0041, 0x0042, 0x0021)

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "@hpke" / "core").is_dir(),
    reason="node or the ts-mls interop node_modules are not installed",
)


def test_hpke_matches_hpke_js_both_ways() -> None:
    jobs, ours = [], {}
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
    proc = subprocess.run(
        ["node", str(SCRIPT), str(NODE_DIR)],
        input=json.dumps(jobs).encode(),
        capture_output=True,
        timeout=120,
        check=True,
    )
    for result in json.loads(proc.stdout):
        hpke, sk_py, pk_py, pk_js, info, aad, plaintext = ours[result["kem_id"]]
        # DeriveKeyPair agrees on both key pairs.
        assert bytes.fromhex(result["pk_py"]) == pk_py
        assert bytes.fromhex(result["pk_js"]) == pk_js
        # They open what we sealed.
        assert bytes.fromhex(result["opened"]) == plaintext
        # We open what they sealed, and derive the same exporter secret.
        enc, ct = bytes.fromhex(result["enc"]), bytes.fromhex(result["ct"])
        assert hpke.open(sk_py, enc, info, aad, ct) == plaintext
        exported = hpke.receive_export(enc, sk_py, info, b"MLS 1.0 external init secret", 64)
        assert exported.hex() == result["exported"]
