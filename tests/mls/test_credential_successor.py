"""A member cannot rename itself through its own leaf (RFC 9420 5.3.1, T01).

An Update proposal or the leaf of a commit's UpdatePath replaces the
sender's credential; the receiver must check that the new credential
presents the same identifiers as the old one. These tests craft such
messages as a malicious member would (a valid signature by the member's
own key, another member's identity) and check that every receiver refuses
them, while a same-identity key rotation still goes through.
"""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from accord.errors import ValidationError
from accord.mls import group as g
from accord.mls.credentials import check_successor
from accord.mls.structs import Credential
from tests.mls import malicious_member
from tests.mls.group_sim import NOW, Group

RULE = "RFC 9420 5.3.1"


def _three() -> Group:
    grp = Group()
    grp.add("alice", ["bob", "carol"])
    return grp


def test_T01_update_proposal_taking_another_members_identity_is_refused() -> None:
    grp = _three()
    msg, _ = malicious_member.update_proposal(grp.states["bob"],
                                              credential=Credential.basic(b"carol"))
    for receiver in ("alice", "carol"):
        with pytest.raises(ValidationError) as err:
            g.process(grp.states[receiver], msg, NOW)
        assert err.value.rule == RULE


def test_T01_commit_path_leaf_taking_another_identity_is_refused() -> None:
    grp = _three()
    for cred in (Credential.basic(b"alice"), Credential.basic(b"mallory")):
        commit = malicious_member.path_commit(grp.states["bob"], NOW, credential=cred)
        for receiver in ("alice", "carol"):
            with pytest.raises(ValidationError) as err:
                g.process(grp.states[receiver], commit, NOW)
            assert err.value.rule == RULE


def test_same_identity_with_a_new_signature_key_is_accepted() -> None:
    grp = _three()
    new_priv, new_pub = grp.states["bob"].suite.generate_signature_key_pair()
    msg, grp.states["bob"] = malicious_member.update_proposal(
        grp.states["bob"], signature_key_pair=(new_priv, new_pub))
    grp.deliver(msg, "bob")
    grp.commit("alice")  # every member accepts the rotated key in an Update
    for name in ("alice", "carol"):
        assert grp.states[name].tree.leaf(grp.leaf("bob")).signature_key == new_pub  # type: ignore[union-attr]
    # and in carol's own commit path: same identity, a new signature key
    carol_priv, carol_pub = grp.states["carol"].suite.generate_signature_key_pair()
    commit = malicious_member.path_commit(grp.states["carol"], NOW,
                                          signature_key_pair=(carol_priv, carol_pub))
    _, alice = g.process(grp.states["alice"], commit, NOW)
    assert alice.tree.leaf(grp.leaf("carol")).signature_key == carol_pub  # type: ignore[union-attr]


# ------------------------------------------------------------ the policy itself

def _cert(cn: str, san: list[str], key: ed25519.Ed25519PrivateKey) -> bytes:
    t0 = datetime.datetime.fromtimestamp(NOW, tz=datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(t0).not_valid_after(t0 + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(s) for s in san]),
                       critical=False)
        .sign(key, None)
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_x509_successor_keeps_subject_and_alt_names() -> None:
    k1, k2 = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    old = Credential.x509((_cert("alice", ["alice@alpha.test"], k1),))
    check_successor(old, Credential.x509((_cert("alice", ["alice@alpha.test"], k2),)))
    for other in (Credential.x509((_cert("bob", ["alice@alpha.test"], k2),)),
                  Credential.x509((_cert("alice", ["bob@alpha.test"], k2),)),
                  Credential.x509((_cert("alice", ["alice@alpha.test", "x@y"], k2),)),
                  Credential.basic(b"alice")):
        with pytest.raises(ValidationError) as err:
            check_successor(old, other)
        assert err.value.rule == RULE


def test_basic_successor_is_the_same_identity() -> None:
    check_successor(Credential.basic(b"a@x/1"), Credential.basic(b"a@x/1"))
    with pytest.raises(ValidationError) as err:
        check_successor(Credential.basic(b"a@x/1"), Credential.basic(b"a@x/2"))
    assert err.value.rule == RULE
