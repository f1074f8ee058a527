"""What Accord accepts from peers that it would not send itself (docs/INTEROP.md).

Each test builds the exact input another implementation sends and that RFC
9420 allows, and next to it the input the RFC does forbid, which must still
fail with the rule that forbids it.
"""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from accord.errors import CryptoError, ValidationError
from accord.mls import group as g
from accord.mls.ec_scalar import P256_N, P384_N, P521_N
from accord.mls.key_package import validate_key_package
from accord.mls.leaf_node import GroupRules, make_capabilities, sign_leaf_node
from accord.mls.structs import (
    Add,
    Capabilities,
    Extension,
    GroupContextExtensions,
    RequiredCapabilities,
)
from accord.mls.suites import get_suite
from accord.mls.vectors import passive_client
from tests.mls.group_sim import NOW, identity
from tests.vectors.generate import welcome_cases

# What the generating implementation of the interop vectors lists in every
# leaf of its suite-7 groups: suites 1-6 and GREASE values, never 7.
PEER_SUITES = (1, 2, 3, 4, 5, 6, 0x0A0A, 0x3A3A)


def peer_key_package(
    suite_id: int, name: str, *, suites: tuple[int, ...] = PEER_SUITES,
    versions: tuple[int, ...] = (1,),
    extensions: tuple[int, ...] = (0x2A2A,),
    leaf_extensions: tuple[Extension, ...] = (Extension(0x2A2A, b"\x07" * 5),),
) -> g.KeyPackagePrivate:
    """A KeyPackage as another implementation makes it: capabilities that
    Accord would not write for itself (GREASE in every list 13.5 names, a
    default proposal type listed although 7.2 says not to), a GREASE
    extension in the leaf and in the KeyPackage, the leaf and the KeyPackage
    signed again over them."""
    suite = get_suite(suite_id)
    cred, priv = identity(suite_id, name)
    mine = g.key_package(suite, cred, priv, NOW, grease=False)
    caps = Capabilities(versions=versions, cipher_suites=suites, extensions=extensions,
                        proposals=(1, 0x1A1A), credentials=(1, 0x4A4A))
    leaf = dataclasses.replace(mine.key_package.leaf_node, capabilities=caps,
                               extensions=leaf_extensions)
    kp = dataclasses.replace(mine.key_package, leaf_node=sign_leaf_node(suite, priv, leaf),
                             extensions=(Extension(0xEAEA, bytes(range(40))),))
    kp = dataclasses.replace(kp, signature=suite.sign_with_label(priv, "KeyPackageTBS", kp.tbs()))
    return dataclasses.replace(mine, key_package=kp)


def _creator(suite_id: int, extensions: tuple[Extension, ...] = ()) -> g.GroupState:
    suite = get_suite(suite_id)
    cred, priv = identity(suite_id, "alice")
    caps = make_capabilities(suite_id, extensions=[0xFF00])
    kp = g.key_package(suite, cred, priv, NOW, capabilities=caps)
    return g.create_group(suite, b"lenient", cred, priv, NOW, extensions=extensions, key_package=kp)


# ------------------------------------------------- the group's own cipher suite


def test_suite_7_group_whose_peer_leaves_list_only_suites_1_to_6() -> None:
    """RFC 9420 7.3 asks a leaf to list the required capabilities, the
    credential types and its extensions, not the group's cipher suite; 10.1
    matches the KeyPackage's cipher_suite field instead."""
    alice = _creator(7)
    bob_kp, carol_kp = peer_key_package(7, "bob"), peer_key_package(7, "carol")
    assert 7 not in bob_kp.key_package.leaf_node.capabilities.cipher_suites
    res, st = g.commit(alice, now=NOW, by_value=[Add(bob_kp.key_package)])
    alice = g.merge_pending(st)
    bob = g.join_from_welcome(res.welcome, bob_kp, NOW)  # a tree with bob's leaf (12.4.3.1)
    # bob's Update and his commit path carry the same capabilities (7.3 on
    # an Update and on an UpdatePath leaf).
    msg, bob = g.propose_update(bob)
    _, alice = g.process(alice, msg, NOW)
    res, st = g.commit(alice, now=NOW, by_value=[Add(carol_kp.key_package)])
    alice = g.merge_pending(st)
    _, bob = g.process(bob, res.commit, NOW)
    carol = g.join_from_welcome(res.welcome, carol_kp, NOW)
    res, st = g.commit(bob, now=NOW, force_path=True)
    bob = g.merge_pending(st)
    for other in (alice, carol):
        _, other = g.process(other, res.commit, NOW)
        assert g.epoch_authenticator(other) == g.epoch_authenticator(bob)


def test_peer_leaf_need_not_list_the_protocol_version() -> None:
    """Like the suite: 7.3 does not ask for it, 10.1 checks the KeyPackage's
    version field (which must be mls10)."""
    alice = _creator(1)
    kp = peer_key_package(1, "bob", versions=(0x0A0A,))
    res, st = g.commit(alice, now=NOW, by_value=[Add(kp.key_package)])
    g.join_from_welcome(res.welcome, kp, NOW)
    wrong = dataclasses.replace(kp.key_package, version=2)
    wrong = dataclasses.replace(wrong, signature=get_suite(1).sign_with_label(
        kp.signature_priv, "KeyPackageTBS", wrong.tbs()))
    with pytest.raises(ValidationError) as e:
        validate_key_package(wrong, now=NOW, credential_validator=_basic())
    assert e.value.rule == "RFC 9420 10.1"
    assert "version 2 is not mls10" in str(e.value)


def test_key_package_of_another_suite_is_still_refused() -> None:
    """10.1: the KeyPackage's cipher_suite field must be the group's."""
    alice = _creator(7)
    other = peer_key_package(1, "bob", suites=(7,))
    with pytest.raises(ValidationError) as e:
        g.commit(alice, now=NOW, by_value=[Add(other.key_package)])
    assert e.value.rule == "RFC 9420 10.1"
    assert "cipher suite" in str(e.value)


def test_leaf_missing_a_required_extension_is_still_refused() -> None:
    """7.3: the required_capabilities extensions must be listed."""
    required = RequiredCapabilities((0xFF00,), (), ())
    alice = _creator(7, (Extension(3, required.to_bytes()),))
    with pytest.raises(ValidationError) as e:
        g.commit(alice, now=NOW, by_value=[Add(peer_key_package(7, "bob").key_package)])
    assert e.value.rule == "RFC 9420 7.3"
    assert "extension type(s) [65280]" in str(e.value)
    ok = peer_key_package(7, "bob", extensions=(0xFF00, 0x2A2A, 0x5A5A))
    g.commit(alice, now=NOW, by_value=[Add(ok.key_package)])


def test_a_required_extension_added_later_must_be_listed_by_every_peer_leaf() -> None:
    """12.1.7: a GroupContextExtensions whose required_capabilities a member
    does not list is refused, whatever that member's suites."""
    alice = _creator(7)
    res, st = g.commit(alice, now=NOW, by_value=[Add(peer_key_package(7, "bob").key_package)])
    alice = g.merge_pending(st)
    change = GroupContextExtensions(
        (Extension(3, RequiredCapabilities((0xFF00,), (), ()).to_bytes()),))
    with pytest.raises(ValidationError) as e:
        g.commit(alice, now=NOW, by_value=[change])
    assert e.value.rule == "RFC 9420 7.3"


def test_accord_own_leaves_list_the_suite_they_are_used_in() -> None:
    """Accord's own KeyPackages and group creator leaves list their suite."""
    suite = get_suite(7)
    cred, priv = identity(7, "alice")
    caps = Capabilities(versions=(1,), cipher_suites=PEER_SUITES, extensions=(),
                        proposals=(), credentials=(1,))
    with pytest.raises(ValidationError) as e:
        g.key_package(suite, cred, priv, NOW, capabilities=caps)
    assert e.value.rule == "RFC 9420 7.2"
    with pytest.raises(ValidationError) as e:
        g.create_group(suite, b"x", cred, priv, NOW, key_package=peer_key_package(7, "alice"))
    assert e.value.rule == "RFC 9420 7.2"
    kp = g.key_package(suite, cred, priv, NOW)
    assert 7 in kp.key_package.leaf_node.capabilities.cipher_suites


# ------------------------------------------------------ default extension types


def test_leaf_with_application_id_need_not_list_it() -> None:
    """7.2: application_id (1) is a default extension type that MUST NOT be
    listed in capabilities, so 7.3's listing rule covers non-default types."""
    kp = peer_key_package(1, "bob", leaf_extensions=(Extension(1, b"bob@device-1"),))
    validate_key_package(kp.key_package, now=NOW, credential_validator=_basic(),
                         rules=GroupRules(cipher_suite=1))
    unlisted = peer_key_package(1, "bob", leaf_extensions=(Extension(0xF000, b""),))
    with pytest.raises(ValidationError) as e:
        validate_key_package(unlisted.key_package, now=NOW, credential_validator=_basic())
    assert e.value.rule == "RFC 9420 7.3"
    assert "uses extension 61440 it does not list" in str(e.value)


def _basic() -> object:
    from accord.mls.credentials import BasicCredentials

    return BasicCredentials()


# ---------------------------------------------- P-521 keys without a leading zero


def _short_p521(kind: str) -> tuple[bytes, bytes]:
    """A suite-5 private key whose first octet is zero, and the 65 octets
    other implementations write for it."""
    suite = get_suite(5)
    gen = suite.generate_hpke_key_pair if kind == "hpke" else suite.generate_signature_key_pair
    for _ in range(200):  # the first octet of a P-521 scalar is 0 about half the time
        priv, _pub = gen()
        if priv[0] == 0:
            return priv, priv[1:]
    raise AssertionError("no P-521 key with a leading zero in 200 tries")


def test_p521_hpke_key_in_65_octets_is_accepted() -> None:
    suite = get_suite(5)
    full, short = _short_p521("hpke")
    assert len(full) == 66 and len(short) == 65
    pub = suite.hpke_public_key(full)
    assert suite.hpke_public_key(short) == pub
    kem_output, ct = suite.encrypt_with_label(pub, "label", b"ctx", b"secret")
    assert suite.decrypt_with_label(short, "label", b"ctx", kem_output, ct) == b"secret"


def test_p521_signature_key_in_65_octets_is_accepted() -> None:
    suite = get_suite(5)
    full, short = _short_p521("signature")
    pub = suite.signature_public_key(full)
    assert suite.signature_public_key(short) == pub
    suite.verify_with_label(pub, "L", b"m", suite.sign_with_label(short, "L", b"m"))


@pytest.mark.parametrize("kind", ["hpke", "signature"])
def test_p521_private_keys_out_of_range_are_refused(kind: str) -> None:
    suite = get_suite(5)
    load = suite.hpke_public_key if kind == "hpke" else suite.signature_public_key
    for bad in (P521_N.to_bytes(66, "big"), (P521_N + 1).to_bytes(66, "big"), bytes(66),
                bytes(65), b""):
        with pytest.raises(CryptoError, match="out of range|1 to 66 bytes, got 0"):
            load(bad)
    with pytest.raises(CryptoError, match="1 to 66 bytes, got 67"):
        load(b"\x00" + _short_p521(kind)[0])


@pytest.mark.parametrize("curve,order", [
    (ec.SECP256R1(), P256_N), (ec.SECP384R1(), P384_N), (ec.SECP521R1(), P521_N)],
    ids=["P-256", "P-384", "P-521"])
def test_curve_orders_are_the_group_orders(curve: ec.EllipticCurve, order: int) -> None:
    """(n-1)*G = -G: the range check uses the true order (a P-521 constant
    with two extra digits once let scalars above n through)."""
    g_pt = ec.derive_private_key(1, curve).public_key().public_numbers()
    minus = ec.derive_private_key(order - 1, curve).public_key().public_numbers()
    assert (minus.x, minus.y) == (g_pt.x, -g_pt.y % _field_prime(curve))


def _field_prime(curve: ec.EllipticCurve) -> int:
    return {256: 2**256 - 2**224 + 2**192 + 2**96 - 1,
            384: 2**384 - 2**128 - 2**96 + 2**32 - 1,
            521: 2**521 - 1}[curve.key_size]


def test_p521_keys_are_written_in_66_octets() -> None:
    suite = get_suite(5)
    kem = suite.hpke.kem
    keys = [kem.derive_key_pair(bytes([i]) * 66)[0] for i in range(16)]
    keys += [suite.generate_hpke_key_pair()[0], suite.generate_signature_key_pair()[0]]
    assert {len(k) for k in keys} == {66}
    assert any(k[0] == 0 for k in keys)  # the leading zeros are written, not dropped


def test_passive_client_entry_with_65_octet_p521_keys() -> None:
    """The exact input of the failing interop entries: a passive-client
    vector of suite 5 whose private keys are written without their leading
    zero octet."""
    stripped: set[str] = set()
    for _ in range(10):
        entry = welcome_cases(5)[0]
        for field in ("signature_priv", "encryption_priv", "init_priv"):
            if entry[field].startswith("00"):
                entry[field] = entry[field][2:]
                stripped.add(field)
        passive_client.check(entry)
        if stripped == {"signature_priv", "encryption_priv", "init_priv"}:
            break
    assert stripped == {"signature_priv", "encryption_priv", "init_priv"}


# ------------------------------------------- lifetimes of leaves in a joined tree

DAY = 86_400


def test_join_a_group_whose_member_never_updated_past_its_lifetime() -> None:
    """7.3 only RECOMMENDS checking the lifetimes of a received tree's
    leaves: bob never updated, so his key_package leaf expires 90 days after
    he joined, and a newcomer (by Welcome or external commit) must still be
    able to join."""
    alice = _creator(1)
    bob_kp = g.key_package(get_suite(1), *identity(1, "bob"), NOW)
    res, st = g.commit(alice, now=NOW, by_value=[Add(bob_kp.key_package)])
    alice = g.merge_pending(st)
    later = NOW + 100 * DAY
    bob_leaf = g.members(alice)[1][1]
    assert bob_leaf.lifetime is not None and bob_leaf.lifetime.not_after < later
    carol_kp = g.key_package(get_suite(1), *identity(1, "carol"), later)
    res, st = g.commit(alice, now=later, by_value=[Add(carol_kp.key_package)])
    alice = g.merge_pending(st)
    carol = g.join_from_welcome(res.welcome, carol_kp, later)
    assert g.epoch_authenticator(carol) == g.epoch_authenticator(alice)
    commit, _ = g.join_external(g.group_info(alice), *identity(1, "dave"), later)
    _, alice = g.process(alice, commit, later)


def test_an_expired_key_package_is_still_refused_in_an_add() -> None:
    """A KeyPackage being added is checked against the current time (7.3)."""
    alice = _creator(1)
    old = g.key_package(get_suite(1), *identity(1, "bob"), NOW - 100 * DAY)
    with pytest.raises(ValidationError) as e:
        g.commit(alice, now=NOW, by_value=[Add(old.key_package)])
    assert e.value.rule == "RFC 9420 7.3"
    assert "outside its lifetime" in str(e.value)
