"""HPKE base mode (accord.mls.hpke, accord.mls.hpke_kem) against published vectors,
pyhpke (X448 both directions) and pyca's own one-shot HPKE."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import CryptoError
from accord.mls.hpke import AEADS, KDFS, Hpke
from accord.mls.hpke_kem import KEMS

# RFC 9180 Appendix A: DeriveKeyPair(ikm) -> sk, per KEM (A.1.1, A.3.1, A.6.1).
DERIVE_VECTORS = [
    (  # A.1.1 DHKEM(X25519, HKDF-SHA256): ikmE -> skEm
        0x0020,
        "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234",
        "52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736",
    ),
    (  # A.1.1: ikmR -> skRm
        0x0020,
        "6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037",
        "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8",
    ),
    (  # A.3.1 DHKEM(P-256, HKDF-SHA256): ikmE -> skEm
        0x0010,
        "4270e54ffd08d79d5928020af4686d8f6b7d35dbe470265f1f5aa22816ce860e",
        "4995788ef4b9d6132b249ce59a77281493eb39af373d236a1fe415cb0c2d7beb",
    ),
    (  # A.3.1: ikmR -> skRm
        0x0010,
        "668b37171f1072f3cf12ea8a236a45df23fc13b82af3609ad1e354f6ef817550",
        "f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2",
    ),
    (  # A.6.1 DHKEM(P-521, HKDF-SHA512): ikmE -> skEm (bitmask 0x01)
        0x0012,
        "7f06ab8215105fc46aceeb2e3dc5028b44364f960426eb0d8e4026c2f8b5d7e7"
        "a986688f1591abf5ab753c357a5d6f0440414b4ed4ede71317772ac98d9239f70904",
        "014784c692da35df6ecde98ee43ac425dbdd0969c0c72b42f2e708ab9d535415"
        "a8569bdacfcc0a114c85b8e3f26acf4d68115f8c91a66178cdbd03b7bcc5291e374b",
    ),
]


@pytest.mark.parametrize(("kem_id", "ikm", "sk"), DERIVE_VECTORS)
def test_derive_key_pair_rfc9180(kem_id: int, ikm: str, sk: str) -> None:
    got_sk, got_pk = KEMS[kem_id].derive_key_pair(bytes.fromhex(ikm))
    assert got_sk.hex() == sk
    assert got_pk == KEMS[kem_id].public_key(got_sk)


def test_rfc9180_a11_base_setup_and_first_seal() -> None:
    """RFC 9180 A.1.1: enc, public key and sequence-0 ciphertext with the fixed ikmE."""
    kem = KEMS[0x0020]
    _, pk_r = kem.derive_key_pair(
        bytes.fromhex("6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037")
    )
    assert pk_r.hex() == "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d"
    hpke = Hpke(kem, KDFS[1], AEADS[1])
    info = bytes.fromhex("4f6465206f6e2061204772656369616e2055726e")
    ikm_e = bytes.fromhex("7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234")
    enc, ctx = hpke.setup_base_s(pk_r, info, ikm_e=ikm_e)
    assert enc.hex() == "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431"
    ct = ctx.seal(
        bytes.fromhex("436f756e742d30"),
        bytes.fromhex("4265617574792069732074727574682c20747275746820626561757479"),
    )
    assert ct.hex() == (
        "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a"
    )


def test_xwing_key_expansion_draft_vector() -> None:
    """draft-connolly-cfrg-xwing-kem test vector: seed -> public key (both halves)."""
    pk = KEMS[0x647A].public_key(
        bytes.fromhex("7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26")
    )
    assert len(pk) == 1216
    assert pk[:32].hex() == "e2236b35a8c24b39b10aa1323a96a919a2ced88400633a7b07131713fc14b2b5"
    assert pk[-32:].hex() == "859edb06eff389b27dce59844570216223593d4ba32d9abac8cd049040ef6534"


# --------------------------------------------------------------------------
# DHKEM(X448) against pyhpke, both directions (pyca has no X448 HPKE)

pyhpke = pytest.importorskip("pyhpke")


def _pyhpke_suite(aead_id: int) -> object:
    return pyhpke.CipherSuite.new(
        pyhpke.KEMId.DHKEM_X448_HKDF_SHA512, pyhpke.KDFId.HKDF_SHA512, pyhpke.AEADId(aead_id)
    )


@pytest.mark.parametrize("aead_id", [2, 3])
def test_x448_derive_key_pair_matches_pyhpke(aead_id: int) -> None:
    theirs = _pyhpke_suite(aead_id)
    for ikm in (b"", b"\x00" * 64, bytes(range(56)), b"accord"):
        kp = theirs.kem.derive_key_pair(ikm)  # type: ignore[attr-defined]
        sk, pk = KEMS[0x0021].derive_key_pair(ikm)
        assert sk == kp.private_key.to_private_bytes()
        assert pk == kp.public_key.to_public_bytes()


@pytest.mark.parametrize("aead_id", [2, 3])
def test_x448_we_seal_pyhpke_opens(aead_id: int) -> None:
    ours = Hpke(KEMS[0x0021], KDFS[3], AEADS[aead_id])
    theirs = _pyhpke_suite(aead_id)
    sk, pk = ours.kem.generate_key_pair()
    their_sk = theirs.kem.deserialize_private_key(sk)  # type: ignore[attr-defined]
    enc, ct = ours.seal(pk, b"info", b"aad", b"to pyhpke")
    ctx = theirs.create_recipient_context(enc, their_sk, info=b"info")  # type: ignore[attr-defined]
    assert ctx.open(ct, aad=b"aad") == b"to pyhpke"
    enc, exported = ours.send_export(pk, b"", b"MLS 1.0 external init secret", 64)
    ctx = theirs.create_recipient_context(enc, their_sk, info=b"")  # type: ignore[attr-defined]
    assert ctx.export(b"MLS 1.0 external init secret", 64) == exported


@pytest.mark.parametrize("aead_id", [2, 3])
def test_x448_pyhpke_seals_we_open(aead_id: int) -> None:
    ours = Hpke(KEMS[0x0021], KDFS[3], AEADS[aead_id])
    theirs = _pyhpke_suite(aead_id)
    sk, pk = ours.kem.generate_key_pair()
    their_pk = theirs.kem.deserialize_public_key(pk)  # type: ignore[attr-defined]
    enc, ctx = theirs.create_sender_context(their_pk, info=b"info")  # type: ignore[attr-defined]
    ct = ctx.seal(b"from pyhpke", aad=b"aad")
    assert ours.open(sk, enc, b"info", b"aad", ct) == b"from pyhpke"
    enc, ctx = theirs.create_sender_context(their_pk, info=b"")  # type: ignore[attr-defined]
    exported = ctx.export(b"exp", 64)
    assert ours.receive_export(enc, sk, b"", b"exp", 64) == exported


@pytest.mark.parametrize("kem_id", [0x0010, 0x0011, 0x0012, 0x0020])
def test_classical_kems_match_pyhpke(kem_id: int) -> None:
    kdf_id = {0x0010: 1, 0x0011: 2, 0x0012: 3, 0x0020: 1}[kem_id]
    ours = Hpke(KEMS[kem_id], KDFS[kdf_id], AEADS[1])
    theirs = pyhpke.CipherSuite.new(
        pyhpke.KEMId(kem_id), pyhpke.KDFId(kdf_id), pyhpke.AEADId.AES128_GCM
    )
    sk, pk = ours.kem.derive_key_pair(b"same ikm for both")
    kp = theirs.kem.derive_key_pair(b"same ikm for both")
    # pyhpke left-pads P-curve scalars to a fixed buffer; compare the Nsk tail.
    assert kp.private_key.to_private_bytes()[-len(sk) :] == sk
    enc, ct = ours.seal(pk, b"i", b"a", b"hello")
    ctx = theirs.create_recipient_context(enc, kp.private_key, info=b"i")
    assert ctx.open(ct, aad=b"a") == b"hello"


# --------------------------------------------------------------------------
# The composed key schedule against pyca's native one-shot (no aad)


@pytest.mark.parametrize("kem_id", [0x0010, 0x0011, 0x0012, 0x0020, 0x0041, 0x0042, 0x647A])
@pytest.mark.parametrize("aead_id", [1, 2, 3])
def test_composed_and_native_paths_agree(kem_id: int, aead_id: int) -> None:
    hpke = Hpke(KEMS[kem_id], KDFS[3], AEADS[aead_id])
    sk, pk = hpke.kem.generate_key_pair()
    enc, ctx = hpke.setup_base_s(pk, b"info")  # composed
    assert hpke.open(sk, enc, b"info", b"", ctx.seal(b"", b"one")) == b"one"  # native
    enc, ct = hpke.seal(pk, b"info", b"", b"two")  # native
    assert hpke.setup_base_r(enc, sk, b"info").open(b"", ct) == b"two"  # composed


def test_context_sequence_numbers() -> None:
    hpke = Hpke(KEMS[0x0021], KDFS[3], AEADS[2])
    sk, pk = hpke.kem.generate_key_pair()
    enc, sender = hpke.setup_base_s(pk, b"")
    receiver = hpke.setup_base_r(enc, sk, b"")
    cts = [sender.seal(b"", bytes([i])) for i in range(3)]
    assert len(set(cts)) == 3
    assert [receiver.open(b"", c) for c in cts] == [b"\x00", b"\x01", b"\x02"]
    assert repr(sender) == "<hpke.Context AES-256-GCM seq=3>"  # no key material


@pytest.mark.parametrize("kem_id", sorted(KEMS))
def test_tampering_raises_crypto_error(kem_id: int) -> None:
    hpke = Hpke(KEMS[kem_id], KDFS[3], AEADS[2])
    sk, pk = hpke.kem.generate_key_pair()
    for aad in (b"", b"aad"):
        enc, ct = hpke.seal(pk, b"info", aad, b"secret")
        with pytest.raises(CryptoError):
            hpke.open(sk, enc, b"info", aad, ct[:-1] + bytes([ct[-1] ^ 1]))
        with pytest.raises(CryptoError):
            hpke.open(sk, enc, b"other info", aad, ct)
        with pytest.raises(CryptoError):
            hpke.open(sk, enc[:-1], b"info", aad, ct)
    other_sk, _ = hpke.kem.generate_key_pair()
    enc, ct = hpke.seal(pk, b"", b"", b"secret")
    with pytest.raises(CryptoError):
        hpke.open(other_sk, enc, b"", b"", ct)


def test_x25519_low_order_point_is_rejected() -> None:
    hpke = Hpke(KEMS[0x0020], KDFS[1], AEADS[1])
    sk, _ = hpke.kem.generate_key_pair()
    with pytest.raises(CryptoError):
        hpke.open(sk, bytes(32), b"", b"aad", bytes(32))


def test_p256_rejects_off_curve_point() -> None:
    kem = KEMS[0x0010]
    _, pk = kem.generate_key_pair()
    bad = pk[:-1] + bytes([pk[-1] ^ 1])
    with pytest.raises(CryptoError):
        kem.encap(bad)


@settings(max_examples=25, deadline=None)
@given(
    kem_id=st.sampled_from([0x0020, 0x0021, 0x0010]),
    info=st.binary(max_size=64),
    aad=st.binary(max_size=64),
    pt=st.binary(max_size=300),
)
def test_round_trip_property(kem_id: int, info: bytes, aad: bytes, pt: bytes) -> None:
    hpke = Hpke(KEMS[kem_id], KDFS[3], AEADS[3])
    sk, pk = hpke.kem.generate_key_pair()
    enc, ct = hpke.seal(pk, info, aad, pt)
    assert len(ct) == len(pt) + 16
    assert hpke.open(sk, enc, info, aad, ct) == pt
