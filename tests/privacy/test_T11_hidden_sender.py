"""T11 evidence on two providers: the provider's records of a conversation do
not name the sender of application messages, and sizes fall in buckets.

alice@alpha.test (hub) and bob@beta.test (follower) exchange padded, franked
application messages with real MLS; bob's posts reach the hub through beta.
Then both providers' databases, blob folders and logs are scanned.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx

from accord.content import Text, encrypt_attachment, is_bucket, make_content, seal
from accord.content.mimi_map import MemoryIndex
from accord.privacy.franking import message_aad
from accord.privacy.sizes import AAD_LEN, visible_shape
from accord.wire import b64e, signing
from accord.wire import messages as m
from accord.wire.accounts import domain_of
from accord.wire.mimi import mimi_room_uri, mimi_user_uri
from tests.engine import provider_tables
from tests.federation.groups import alice_and_bob
from tests.federation.providers import MlsDevice, Provider


async def _post(dev: MlsDevice, text: str, anon: httpx.AsyncClient) -> bytes:
    """A real client's post: franked MIMI content (MLS pads it), Accord's Safe AAD.

    Sent by a bare HTTP client with no header at all: nothing but the body.
    """
    from accord.mls import group as g

    sealed = seal(make_content(Text(text), random_bytes=secrets.token_bytes, sent_at=1),
                  MemoryIndex(), mimi_user_uri(dev.account),
                  mimi_room_uri(domain_of(dev.account), dev.state_group_id()))
    aad = message_aad(secrets.token_bytes(8), sealed.franking_tag)
    msg, dev.state = g.protect(dev.state, sealed.plaintext, aad)
    ciphertext = bytes(msg.to_bytes())
    gid, epoch, nonce = dev.state_group_id(), dev.epoch(), secrets.token_bytes(16)
    sig = dev.posting_key().sign(signing.post_input(gid, epoch, nonce, ciphertext))
    post = m.ApplicationPost(epoch=epoch, nonce=nonce, ciphertext=ciphertext, signature=sig)
    body = {"epoch": epoch, "nonce": b64e(nonce), "ciphertext": b64e(ciphertext),
            "signature": b64e(sig)}
    assert set(body) == {f for f in m.ApplicationPost.__dataclass_fields__}  # nothing else
    r = await anon.post(f"/v1/groups/{b64e(gid)}/messages", content=json.dumps(body),
                        headers={"content-type": "application/json"})
    assert r.status_code == 201, r.text
    assert "set-cookie" not in r.headers
    # replaying the same post (same nonce) is refused, through the follower too
    again = await anon.post(f"/v1/groups/{b64e(gid)}/messages", content=json.dumps(body),
                            headers={"content-type": "application/json"})
    assert again.status_code == 409
    del post
    return ciphertext


def _view(tables: dict[str, list[tuple[Any, ...]]], msg_id: str, body: bytes) -> list[Any]:
    """Every row that refers to one message, with the message's own values removed.

    Two messages from different senders must give the same view: then no
    row tells them apart by sender.
    """
    out: list[Any] = []
    for name, rows in tables.items():
        for row in rows:
            text = repr(row)
            if msg_id not in text and b64e(body)[:40] not in text:
                continue
            if name == "queue":
                out.append(("queue", row[0]))
            elif name == "messages":
                out.append(("messages", row[1], row[2], row[4]))
            elif name == "franking_tags":  # (msg_id, tag, expiry): nothing about a sender
                out.append(("franking_tags", len(row)))
            elif name == "fed_outbox":
                item = json.loads(bytes(row[2]))
                out.append(("fed_outbox", row[1], item["kind"], item.get("sender"),
                            item.get("sender_account"), tuple(sorted(item["recipients"]))))
            else:  # a table this test does not know links the message: show it
                out.append((name, text))
    return sorted(out, key=repr)


async def test_T11_no_link_from_application_messages_to_senders(two: dict[str, Provider]
                                                                 ) -> None:
    alpha, beta = two["alpha"], two["beta"]
    async with httpx.AsyncClient(base_url=alpha.url, timeout=20) as ha, \
            httpx.AsyncClient(base_url=beta.url, timeout=20) as hb, \
            httpx.AsyncClient(base_url=alpha.url, timeout=20) as anon_a, \
            httpx.AsyncClient(base_url=beta.url, timeout=20) as anon_b:
        alice, bob, gid = await alice_and_bob(ha, hb, "t11")
        sent: dict[bytes, MlsDevice] = {}
        for i in range(3):
            sent[await _post(alice, f"alice says {i} " + "x" * (i * 300), anon_a)] = alice
            sent[await _post(bob, f"bob says {i} " + "y" * (i * 300), anon_b)] = bob
        for dev, http in ((alice, ha), (bob, hb)):
            blob = encrypt_attachment(secrets.token_bytes(32), secrets.token_bytes(3000))
            r = await http.post("/v1/blobs", content=blob.ciphertext,
                                headers={**dev.auth, "content-type": "application/octet-stream"})
            assert r.status_code == 201
        for dev in (alice, bob):
            await dev.wait_items(len(sent))
    secrets_of = {d: [d.device_id, d.account, d.public.hex(), b64e(d.public), d.token]
                  for d in (alice, bob)}
    for prov in (alpha, beta):
        tables = provider_tables(prov.data_dir, prov.database)
        apps = [r for r in tables["messages"] if r[1] == "application"]
        assert len(apps) == len(sent)
        views = {}
        for msg_id, _kind, group_id, _epoch, sender, body, _at in apps:
            assert sender is None and bytes(group_id) == gid
            views[sent[bytes(body)].account] = _view(tables, msg_id, bytes(body))
            # sizes: only the bucket shows (T11)
            bucket, aad_len, _header = visible_shape(bytes(body))
            assert aad_len == AAD_LEN and bucket >= 256
        # a message of alice and one of bob leave the very same traces
        assert views[alice.account] == views[bob.account]
        assert any(v[0] == "queue" for v in views[alice.account])
        # no table ties a posting key or a nonce to a device or an account
        for row in tables["post_nonces"] + tables["posting_keys"]:
            for values in secrets_of.values():
                assert not any(v in repr(row) for v in values)
        # the stored sizes (files on SQLite, rows of blob_data on PostgreSQL): buckets only
        blobs = ([p.stat().st_size for p in (prov.data_dir / "blobs").rglob("*") if p.is_file()]
                 if prov.database is None else [len(r[1]) for r in tables["blob_data"]])
        assert blobs and all(is_bucket(size) for size in blobs)
        assert "uploader" not in repr(tables["blobs"])
        log = prov.log_path.read_text()
        for line in log.splitlines():
            assert alice.token not in line and bob.token not in line
            if "/messages" in line:
                for values in secrets_of.values():
                    assert not any(v in line for v in values[:3]), line
    # the header after the ciphertext's bucket is the same for every post of the group
    headers = {len(b) - visible_shape(b)[0] for b in sent}
    assert len(headers) == 1


async def test_T11_posts_need_the_epoch_posting_key(two: dict[str, Provider]) -> None:
    async with httpx.AsyncClient(base_url=two["alpha"].url, timeout=20) as ha, \
            httpx.AsyncClient(base_url=two["beta"].url, timeout=20) as hb:
        alice, _bob, gid = await alice_and_bob(ha, hb, "t11k")
        path = f"/v1/groups/{b64e(gid)}/messages"
        stranger = secrets.token_bytes(32)
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        wrong = Ed25519PrivateKey.from_private_bytes(stranger)
        from accord.wire import b64d
        from tests.privacy.helpers import content, post_body

        ct = b64d(post_body(alice, content("signed with the wrong key"))["ciphertext"])
        for http in (ha, hb):  # the hub refuses, and so through the follower
            nonce = secrets.token_bytes(16)
            sig = wrong.sign(signing.post_input(gid, alice.epoch(), nonce, ct))
            body = m.ApplicationPost(epoch=alice.epoch(), nonce=nonce, ciphertext=ct,
                                     signature=sig)
            r = await http.post(path, json=_enc(body))
            # the follower reports the hub's 401 as 503 (peer_client: a 401 between
            # providers means a provider signature problem)
            assert r.status_code == (401 if http is ha else 503), r.text
        # A post for an epoch outside the window (current and previous) is refused by
        # the epoch rule, its MLS header naming that epoch too (else the header check
        # would refuse it first); the answer names the group's epoch.
        for epoch in (alice.epoch() + 1, alice.epoch() + 5):
            moved = _at_epoch(ct, epoch)
            nonce = secrets.token_bytes(16)
            sig = alice.posting_key().sign(signing.post_input(gid, epoch, nonce, moved))
            r = await ha.post(path, json=_enc(m.ApplicationPost(
                epoch=epoch, nonce=nonce, ciphertext=moved, signature=sig)))
            assert r.status_code == 409 and r.json()["error"] == "conflict", (epoch, r.text)
            assert r.json()["current_epoch"] == alice.epoch()
        # A header for another epoch than the post says is the MLS check's (6.3).
        nonce = secrets.token_bytes(16)
        sig = alice.posting_key().sign(signing.post_input(gid, alice.epoch() + 5, nonce, ct))
        r = await ha.post(path, json=_enc(m.ApplicationPost(
            epoch=alice.epoch() + 5, nonce=nonce, ciphertext=ct, signature=sig)))
        assert r.status_code == 422 and "RFC 9420 6.3" in r.json()["message"], r.text


def _at_epoch(ciphertext: bytes, epoch: int) -> bytes:
    """The same PrivateMessage with another epoch in its (plaintext) header."""
    import dataclasses

    from accord.mls.codec import decode as mls_decode
    from accord.mls.structs.messages import MLSMessage

    msg = mls_decode(MLSMessage, ciphertext)
    return bytes(dataclasses.replace(
        msg, message=dataclasses.replace(msg.message, epoch=epoch)).to_bytes())


def _enc(x: Any) -> Any:
    from accord.wire import encode

    return encode(x)
