"""A test double of ``MlsEngine`` (NOT MLS): lets the device logic and the
end-to-end tests run while ``accord.mls.group`` is being written.

It keeps the properties those tests check: messages are encrypted (AES-GCM
under a per-epoch secret sent to members with X25519 sealing), senders sign,
a removed member gets no new epoch secret, state is opaque bytes. It has no
tree, no forward secrecy inside an epoch and no transcript: never use it
outside tests.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accord.client.mls_session import CommitOutput, KeyPackageBundle, Member, Received
from accord.errors import CryptoError, DecodeError, NotFound, ValidationError


def _raw(pub: Any) -> bytes:
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _kdf(secret: bytes, label: bytes, n: int = 32) -> bytes:
    return HKDF(SHA256(), n, None, label).derive(secret)


def _seal(pub: bytes, secret: bytes) -> str:
    eph = X25519PrivateKey.generate()
    key = _kdf(eph.exchange(X25519PublicKey.from_public_bytes(pub)), b"seal")
    return (_raw(eph.public_key()) + AESGCM(key).encrypt(bytes(12), secret, None)).hex()


def _open(priv: bytes, sealed: str) -> bytes:
    raw = bytes.fromhex(sealed)
    shared = X25519PrivateKey.from_private_bytes(priv).exchange(
        X25519PublicKey.from_public_bytes(raw[:32]))
    return AESGCM(_kdf(shared, b"seal")).decrypt(bytes(12), raw[32:], None)


def _signed(obj: dict[str, Any], sig_priv: bytes) -> bytes:
    body = json.dumps(obj, sort_keys=True).encode()
    sig = Ed25519PrivateKey.from_private_bytes(sig_priv).sign(body)
    return json.dumps({"body": body.decode(), "sig": sig.hex()}).encode()


def _verified(raw: bytes, members: list[dict[str, str]] | None) -> dict[str, Any]:
    try:
        outer = json.loads(raw)
        body = json.loads(outer["body"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DecodeError("not a fake MLS message") from exc
    keys = {m["identity"]: m["sig_pub"] for m in members or []}
    pub = keys.get(body.get("sender", "")) if members is not None else body.get("sig_pub")
    if pub is None:
        raise ValidationError("sender is not a member")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(pub)).verify(
            bytes.fromhex(outer["sig"]), outer["body"].encode())
    except (InvalidSignature, ValueError) as exc:
        raise CryptoError("bad signature") from exc
    return dict(body)


class FakeEngine:
    def signature_keypair(self) -> tuple[bytes, bytes]:
        sk = Ed25519PrivateKey.generate()
        return sk.private_bytes_raw(), _raw(sk.public_key())

    def key_package(self, identity: bytes, sig_priv: bytes, sig_pub: bytes,
                    now: int) -> KeyPackageBundle:
        enc = X25519PrivateKey.generate()
        public = _signed({"identity": identity.decode(), "sig_pub": sig_pub.hex(),
                          "enc_pub": _raw(enc.public_key()).hex()}, sig_priv)
        private = json.dumps({"enc": enc.private_bytes_raw().hex(), "sig": sig_priv.hex()})
        return KeyPackageBundle(public, hashlib.sha256(public).digest(), private.encode())

    def key_package_identity(self, key_package: bytes, now: int) -> tuple[bytes, bytes]:
        body = _verified(key_package, None)
        return body["identity"].encode(), bytes.fromhex(body["sig_pub"])

    def create_group(self, group_id: bytes, identity: bytes, sig_priv: bytes,
                     sig_pub: bytes, now: int) -> bytes:
        enc = X25519PrivateKey.generate()
        me = {"identity": identity.decode(), "sig_pub": sig_pub.hex(),
              "enc_pub": _raw(enc.public_key()).hex()}
        return self._dump({"group_id": group_id.hex(), "epoch": 0, "secret": os.urandom(32).hex(),
                           "past": {}, "members": [me], "me": identity.decode(),
                           "sig": sig_priv.hex(), "enc": enc.private_bytes_raw().hex()})

    @staticmethod
    def _dump(s: dict[str, Any]) -> bytes:
        return json.dumps(s).encode()

    @staticmethod
    def _load(state: bytes) -> dict[str, Any]:
        return dict(json.loads(state))

    def commit(self, state: bytes, *, add: list[bytes], remove: list[bytes], update: bool,
               now: int) -> CommitOutput:
        s = self._load(state)
        gone = {r.decode() for r in remove}
        new_secret = os.urandom(32)
        added = [_verified(kp, None) for kp in add]
        stay = [m for m in s["members"] if m["identity"] not in gone]
        secrets = {m["identity"]: _seal(bytes.fromhex(m["enc_pub"]), new_secret) for m in stay}
        commit = _signed({"type": "commit", "group_id": s["group_id"], "epoch": s["epoch"],
                          "sender": s["me"], "added": [kp.decode() for kp in add],
                          "removed": sorted(gone), "secrets": secrets}, bytes.fromhex(s["sig"]))
        members = stay + [{k: a[k] for k in ("identity", "sig_pub", "enc_pub")} for a in added]
        welcome = None
        if add:
            welcome = json.dumps({"group_id": s["group_id"], "epoch": s["epoch"] + 1,
                                  "members": members, "secrets": {
                                      hashlib.sha256(kp).hexdigest():
                                      _seal(bytes.fromhex(a["enc_pub"]), new_secret)
                                      for kp, a in zip(add, added, strict=True)}}).encode()
        nxt = self._advance(s, new_secret, members)
        return CommitOutput(self._dump(nxt), commit, welcome)

    @staticmethod
    def _advance(s: dict[str, Any], secret: bytes, members: list[dict[str, str]]) -> dict[str, Any]:
        past = dict(s["past"])
        past[str(s["epoch"])] = s["secret"]
        past = {k: v for k, v in past.items() if int(k) >= s["epoch"] - 2}
        return {**s, "epoch": s["epoch"] + 1, "secret": secret.hex(), "past": past,
                "members": members}

    def welcome_key_package_refs(self, welcome: bytes) -> list[bytes]:
        return [bytes.fromhex(r) for r in json.loads(welcome)["secrets"]]

    def join(self, welcome: bytes, key_packages: dict[bytes, bytes], now: int) -> bytes:
        w = json.loads(welcome)
        for ref_hex, sealed in w["secrets"].items():
            private = key_packages.get(bytes.fromhex(ref_hex))
            if private is None:
                continue
            keys = json.loads(private)
            secret = _open(bytes.fromhex(keys["enc"]), sealed)
            me = next(m for m in w["members"] if _verify_enc(m, keys["enc"]))
            return self._dump({"group_id": w["group_id"], "epoch": w["epoch"],
                               "secret": secret.hex(), "past": {}, "members": w["members"],
                               "me": me["identity"], "sig": keys["sig"], "enc": keys["enc"]})
        raise NotFound("the Welcome names none of our KeyPackages")

    def process(self, state: bytes, message: bytes, now: int) -> Received:
        s = self._load(state)
        body = _verified(message, s["members"])
        if body["group_id"] != s["group_id"]:
            raise ValidationError("wrong group")
        if body["type"] == "commit":
            return self._process_commit(s, body)
        epoch = body["epoch"]
        secret = s["secret"] if epoch == s["epoch"] else s["past"].get(str(epoch))
        if secret is None:
            raise ValidationError("epoch too old or in the future")
        try:
            pt = AESGCM(_kdf(bytes.fromhex(secret), b"app")).decrypt(
                bytes.fromhex(body["nonce"]), bytes.fromhex(body["ct"]), bytes.fromhex(body["aad"]))
        except InvalidTag as exc:
            raise CryptoError("does not decrypt") from exc
        return Received(state, "application", body["sender"].encode(), epoch, pt,
                        bytes.fromhex(body["aad"]))

    def _process_commit(self, s: dict[str, Any], body: dict[str, Any]) -> Received:
        if body["epoch"] != s["epoch"]:
            raise ValidationError("commit for another epoch")
        added = [_verified(kp.encode(), None) for kp in body["added"]]
        removed = tuple(r.encode() for r in body["removed"])
        sender = body["sender"].encode()
        ids = tuple(a["identity"].encode() for a in added)
        if s["me"] in body["removed"]:
            return Received(self._dump(s), "commit", sender, s["epoch"], None, b"", ids, removed)
        secret = _open(bytes.fromhex(s["enc"]), body["secrets"][s["me"]])
        members = [m for m in s["members"] if m["identity"] not in body["removed"]]
        members += [{k: a[k] for k in ("identity", "sig_pub", "enc_pub")} for a in added]
        nxt = self._advance(s, secret, members)
        return Received(self._dump(nxt), "commit", sender, s["epoch"], None, b"", ids, removed)

    def protect(self, state: bytes, plaintext: bytes, authenticated_data: bytes) -> tuple[bytes, bytes]:
        s = self._load(state)
        nonce = os.urandom(12)
        ct = AESGCM(_kdf(bytes.fromhex(s["secret"]), b"app")).encrypt(
            nonce, plaintext, authenticated_data)
        msg = _signed({"type": "app", "group_id": s["group_id"], "epoch": s["epoch"],
                       "sender": s["me"], "nonce": nonce.hex(), "ct": ct.hex(),
                       "aad": authenticated_data.hex()}, bytes.fromhex(s["sig"]))
        return msg, state

    def group_id(self, state: bytes) -> bytes:
        return bytes.fromhex(self._load(state)["group_id"])

    def epoch(self, state: bytes) -> int:
        return int(self._load(state)["epoch"])

    def members(self, state: bytes) -> list[Member]:
        return [Member(i, m["identity"].encode(), bytes.fromhex(m["sig_pub"]))
                for i, m in enumerate(self._load(state)["members"])]

    def own_identity(self, state: bytes) -> bytes:
        return str(self._load(state)["me"]).encode()

    def export_secret(self, state: bytes, label: bytes, context: bytes, length: int) -> bytes:
        secret = bytes.fromhex(self._load(state)["secret"])
        return _kdf(secret, b"exp" + label + context, length)

    def epoch_authenticator(self, state: bytes) -> bytes:
        return self.export_secret(state, b"authenticator", b"", 32)


def _verify_enc(member: dict[str, str], enc_priv_hex: str) -> bool:
    priv = X25519PrivateKey.from_private_bytes(bytes.fromhex(enc_priv_hex))
    return member["enc_pub"] == _raw(priv.public_key()).hex()
