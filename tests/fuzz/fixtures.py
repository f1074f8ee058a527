"""Writes the fuzz targets' fixed inputs: ``python -m tests.fuzz.fixtures``.

Keys come from the operating system's random source, so the files are made
once and kept in tests/fuzz/fixtures/: a member's group state and messages
of its group (so corpus entries stay meaningful from run to run), sample
JSON bodies, transparency answers, and a backup and linking slot sealed
under test secrets. All keys here are throwaway test keys.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.mls.group_sim import NOW, Group

from accord.mls import group as g
from accord.mls.codec import encode as tls_encode
from accord.mls.structs import Remove
from accord.privacy.backup_format import KdfCost, seal_backup
from accord.transparency import LookupProof, SignedTreeHead
from accord.transparency.directory import KeyDirectory
from accord.wire import codec, federation, messages, rendezvous
from accord.wire import transparency as wt

FOLDER = Path(__file__).parent / "fixtures"
KEY = b"k" * 32
SIG = b"s" * 64
GROUP = b"g" * 16


def group_fixture() -> dict[str, object]:
    """Bob's state, and what alice sends in that epoch: an application message,
    a proposal, a commit with a path, and one that removes carol."""
    grp = Group()
    grp.add("alice", ["bob", "carol"])
    bob = grp.states["bob"]
    alice = grp.states["alice"]
    app, _ = g.protect(alice, b"hello bob")
    proposal, _ = g.propose_remove(alice, grp.leaf("carol"))
    with_path, _ = g.commit(alice, now=NOW, force_path=True)
    removal, _ = g.commit(alice, now=NOW, by_value=[Remove(grp.leaf("carol"))])
    sent = [app, proposal, with_path.commit, removal.commit]
    return {"state": bob.to_bytes().hex(), "now": NOW,
            "messages": [m.to_bytes().hex() for m in sent]}  # type: ignore[attr-defined]


def welcome_fixture() -> dict[str, object]:
    """Dave's KeyPackage with its private keys, and alice's Welcome adding him."""
    from tests.mls.group_sim import new_kp

    from accord.mls.codec import encode
    from accord.mls.structs import Add, KeyPackage
    grp = Group()
    grp.add("alice", ["bob"])
    dave = new_kp(1, "dave")
    res, _ = g.commit(grp.states["alice"], now=NOW, by_value=[Add(dave.key_package)])
    return {"key_package": encode(KeyPackage, dave.key_package).hex(),
            "init_priv": dave.init_priv.hex(), "encryption_priv": dave.encryption_priv.hex(),
            "signature_priv": dave.signature_priv.hex(), "now": NOW,
            "welcome": res.welcome.to_bytes().hex()}  # type: ignore[union-attr]


def first_contact_fixture() -> dict[str, object]:
    """A device's first-contact key pair and a stranger's sealed request to it."""
    from accord.content import first_contact as fc
    from accord.mls.suites import get_suite
    priv, pub = fc.new_request_key()
    sig_priv, _ = get_suite(fc.SUITE).generate_signature_key_pair()
    sealed = fc.seal(sender=b"mallory@b.test/" + b"d" * 22, signature_priv=sig_priv,
                     recipient=b"bob@a.test/" + b"e" * 22, request_key=pub, group_id=GROUP,
                     welcome=b"welcome", sent_at=NOW, preview="cheap watches here")
    return {"request_priv": priv.hex(), "request_pub": pub.hex(), "sealed": sealed.hex()}


def wire_fixture() -> dict[str, object]:
    samples = [
        messages.RegisterRequest(account="alice@a.test", signature_key=KEY, signature=SIG),
        messages.ChallengeRequest(device_id="d" * 22),
        messages.CommitRequest(epoch=1, commit=b"\x00\x01" * 40, posting_key=KEY,
                               added=["d" * 22], welcome=b"\x00\x01" * 20),
        messages.ApplicationPost(epoch=1, nonce=b"n" * 16, ciphertext=b"\x00\x02" * 40,
                                 signature=SIG),
        federation.FedClaimRequest(account="bob@b.test", requester="alice@a.test"),
        rendezvous.RendezvousCreate(slot=b"x" * rendezvous.SLOT_LEN, offer=b"o" * 40,
                                    ttl_ms=rendezvous.MIN_TTL_MS),
    ]
    out = {}
    for sample in samples:
        cls = type(sample)
        out[f"{cls.__module__}.{cls.__name__}"] = codec.encode(sample)
    return out


def transparency_fixture() -> dict[str, list[str]]:
    d = KeyDirectory("a.test", b"i" * 32)
    d.publish("alice@a.test", [KEY], 1)
    d.publish("bob@a.test", [b"b" * 32], 2)
    d.publish("alice@a.test", [KEY, b"c" * 32], 3)
    sth = d.signed_head(Ed25519PrivateKey.generate(), 4)
    lookup = wt.KtLookup("alice@a.test", tls_encode(SignedTreeHead, sth),
                         tls_encode(LookupProof, d.lookup("alice@a.test")))
    entries = [d.entry_proof(i).entry for i in range(d.size)]
    proof = d.consistency_proof(1)
    head1 = KeyDirectory("a.test", b"i" * 32)
    head1.publish("alice@a.test", [KEY], 1)
    consistency = ((1).to_bytes(8, "big") + d.size.to_bytes(8, "big") + head1.log.root()
                   + d.log.root() + b"".join(proof))
    return {"entry": [e.hex() for e in entries],
            "signed_head": [tls_encode(SignedTreeHead, sth).hex()],
            "lookup": [codec.dumps(lookup).hex()],
            "consistency": [consistency.hex()]}


def secrets_fixture() -> dict[str, str]:
    from accord.client.linking import derive, new_code, seal
    from accord.privacy.backup_format import new_recovery_key
    recovery = new_recovery_key(os.urandom)
    doc = {"format": 1, "account": "alice@a.test"}
    sealed = seal_backup(recovery, json.dumps(doc).encode(), os.urandom,
                         KdfCost(time_cost=1, memory_kib=8192))
    code = new_code()
    link = seal(derive(code), b"offer", {"device": "new"})
    return {"recovery_key": recovery, "backup": sealed.hex(), "link_code": code,
            "link_sealed": link.hex()}


def main() -> None:
    FOLDER.mkdir(exist_ok=True)
    for name, make in [("group.json", group_fixture), ("welcome.json", welcome_fixture),
                       ("first_contact.json", first_contact_fixture),
                       ("wire.json", wire_fixture),
                       ("transparency.json", transparency_fixture),
                       ("recovery.json", secrets_fixture)]:
        (FOLDER / name).write_text(json.dumps(make(), indent=1, sort_keys=True) + "\n")
        print("wrote", FOLDER / name)


if __name__ == "__main__":
    main()
