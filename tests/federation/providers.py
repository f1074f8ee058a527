"""Federation test helpers: a device with real MLS state (RFC 9420 suite 0x0001) over
the provider API, and a signer that speaks as a provider (for forged requests).
Provider processes come from :mod:`accord.federation.loopback`.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.federation import http_signatures as hs
from accord.federation.loopback import Provider
from accord.federation.provider_key import key_path
from accord.wire import b64e, decode, dumps, encode, signing
from accord.wire import messages as m
from tests.engine import federation
from tests.harness import SimDevice, group_path, mls_epoch_info


def signed_post(url: str, path: str, body: bytes, keyid: str, sign: Any,
                created: int | None = None, nonce: str | None = None) -> httpx.Request:
    """A federation request signed as ``keyid`` with ``sign`` (a real or a forged key)."""
    target = httpx.URL(url + path)
    headers = hs.sign_request(sign, method="POST", authority=target.netloc.decode(),
                              path=target.path, body=body, keyid=keyid,
                              created=created if created is not None else int(time.time()),
                              nonce=nonce or secrets.token_urlsafe(18))
    headers["Content-Type"] = "application/json"
    return httpx.Request("POST", target, content=body, headers=headers)


class MlsDevice(SimDevice):
    """A SimDevice that holds real MLS state: KeyPackages it can join with, a group state."""

    def __init__(self, http: httpx.AsyncClient, account: str) -> None:
        super().__init__(http, account, Ed25519PrivateKey.generate())
        self.kps: dict[bytes, Any] = {}
        self.state: Any = None

    def new_key_package(self) -> bytes:
        from accord.mls import group as g
        from accord.mls.key_package import key_package_ref
        from accord.mls.structs import Credential
        from accord.mls.structs.messages import MLSMessage
        from accord.mls.suites import get_suite

        kpp = g.key_package(get_suite(1), Credential.basic(self.identity),
                            self.key.private_bytes_raw(), int(time.time()),
                            capabilities=self.capabilities())
        self.kps[key_package_ref(kpp.key_package)] = kpp
        return bytes(MLSMessage.wrap(kpp.key_package).to_bytes())

    async def upload_key_packages(self, n: int = 3) -> None:
        req = m.UploadKeyPackagesRequest(key_packages=[self.new_key_package() for _ in range(n)])
        await self.call("POST", "/v1/keypackages", req, expect=200)

    def join(self, welcome: bytes) -> None:
        from accord.mls import group as g
        from accord.mls.codec import decode as mls_decode
        from accord.mls.structs.messages import MLSMessage

        msg = mls_decode(MLSMessage, welcome)
        for kpp in self.kps.values():
            try:
                self.state = g.join_from_welcome(msg, kpp, int(time.time()))
                return
            except Exception:  # noqa: BLE001 - not for this KeyPackage; try the next
                continue
        raise AssertionError("no KeyPackage of this device opens the Welcome")

    def posting_key(self) -> Ed25519PrivateKey:
        """This epoch's posting key, derived from the MLS exporter (issue 11)."""
        from accord.mls import group as g

        seed = g.export_secret(self.state, "accord posting key", b"", 32)
        return Ed25519PrivateKey.from_private_bytes(seed)

    def posting_public(self) -> bytes:
        return self.posting_key().public_key().public_bytes_raw()

    def next_posting_public(self, pending: Any) -> bytes:
        from accord.mls import group as g

        seed = g.export_secret(pending, "accord posting key", b"", 32)
        return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()

    @staticmethod
    def capabilities() -> Any:
        """What every Accord client's leaf supports (``client.mls_room``): the
        app_data_dictionary a room's GroupContext may hold (its franking_agent)."""
        from accord.client import mls_room

        return mls_room.capabilities(1)

    async def create_group(self, group_id: bytes, franking_agent: bytes | None = None
                           ) -> None:
        """A group of this device alone; with ``franking_agent`` (an encoded
        FrankingAgentData, MIMI 5.4.1) in its GroupContext."""
        from accord.mls import group as g
        from accord.mls.structs import Credential, Extension
        from accord.mls.structs.app_data import AppDataDictionary
        from accord.mls.structs.enums import ExtensionType
        from accord.mls.suites import get_suite
        from accord.wire.mimi_room import FRANKING_SIGNATURE_KEY

        cs, cred, now = get_suite(1), Credential.basic(self.identity), int(time.time())
        if franking_agent is None:
            self.state = g.create_group(cs, group_id, cred, self.key.private_bytes_raw(), now)
        else:
            data = AppDataDictionary().with_data(FRANKING_SIGNATURE_KEY, franking_agent)
            leaf = g.key_package(cs, cred, self.key.private_bytes_raw(), now,
                                 capabilities=self.capabilities())
            self.state = g.create_group(
                cs, group_id, cred, self.key.private_bytes_raw(), now, key_package=leaf,
                extensions=(Extension(ExtensionType.APP_DATA_DICTIONARY, data.to_bytes()),))
        info = g.group_info(self.state, with_external_pub=False)
        req = m.CreateGroupRequest(group_id=group_id, posting_key=self.posting_public(),
                                   group_info=bytes(info.to_bytes()))
        await self.call("POST", "/v1/groups", req, expect=201)

    async def claim(self, account: str, expect: int = 200, group: bytes | None = None
                    ) -> list[m.ClaimedKeyPackage]:
        """Claim ``account``'s KeyPackages (for an add to ``group``: a provider sending
        over MIMI claims them through the group's hub)."""
        query = "" if group is None else f"?group_id={b64e(group)}"
        r = await self.call("POST", f"/v1/accounts/{account}/keypackages/claim{query}",
                            expect=expect)
        return decode(m.ClaimResponse, r.json()).key_packages if expect == 200 else []

    async def commit_add(self, claimed: list[m.ClaimedKeyPackage], expect: int | None = 201,
                         first_contact: list[m.SealedFirstContact] = ()  # type: ignore[assignment]
                         ) -> httpx.Response:
        from accord.mls.codec import decode as mls_decode
        from accord.mls.structs import Add
        from accord.mls.structs.messages import MLSMessage

        adds = [Add(mls_decode(MLSMessage, c.key_package).message) for c in claimed]
        return await self.commit_proposals(adds, [c.device_id for c in claimed], [], expect,
                                           list(first_contact))

    async def commit_remove(self, leaves: list[int], removed: list[str],
                            expect: int | None = 201) -> httpx.Response:
        """Remove the members at ``leaves``, declared to the hub as ``removed``."""
        from accord.mls.structs import Remove

        return await self.commit_proposals([Remove(leaf) for leaf in leaves], [], removed,
                                           expect)

    async def commit_proposals(self, proposals: list[Any], added: list[str],
                               removed: list[str], expect: int | None = 201,
                               first_contact: list[m.SealedFirstContact] | None = None,
                               forge: Any = None, with_info: bool = True) -> httpx.Response:
        """Commit ``proposals`` by value (``forge``, if given, changes the commit's bytes
        before it is sent), with the new epoch's GroupInfo and tree as Accord's client
        sends them (``with_info`` False: without, as an earlier Accord client did); our
        state moves on only if the hub takes it."""
        from accord.mls import group as g

        result, pending = g.commit(self.state, now=int(time.time()), by_value=proposals)
        merged = g.merge_pending(pending)
        seed = g.export_secret(merged, "accord posting key", b"", 32)
        posting = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
        commit = bytes(result.commit.to_bytes())
        info, tree = mls_epoch_info(merged, posting) if with_info else (None, None)
        req = m.CommitRequest(epoch=self.epoch(), commit=forge(commit) if forge else commit,
                              posting_key=posting, added=added, removed=removed,
                              welcome=bytes(result.welcome.to_bytes()) if added else None,
                              first_contact=first_contact or [], group_info=info,
                              ratchet_tree=tree)
        r = await self.call("POST", group_path(self.state_group_id(), "/commits"), req,
                            expect=expect)
        if r.status_code == 201:
            self.state = merged
        return r

    def epoch(self) -> int:
        return int(self.state.context.epoch)

    def state_group_id(self) -> bytes:
        return bytes(self.state.context.group_id)

    async def post(self, text: bytes, expect: int = 201) -> httpx.Response:
        """A hidden-sender post: MLS PrivateMessage signed with the posting key, no session."""
        from accord.mls import group as g

        msg, self.state = g.protect(self.state, text)
        ciphertext = bytes(msg.to_bytes())
        gid, epoch = self.state_group_id(), self.epoch()
        nonce = secrets.token_bytes(16)
        sig = self.posting_key().sign(signing.post_input(gid, epoch, nonce, ciphertext))
        post = m.ApplicationPost(epoch=epoch, nonce=nonce, ciphertext=ciphertext, signature=sig)
        return await self.call("POST", group_path(gid, "/messages"), post, auth=False,
                               expect=expect)

    def read(self, body: bytes) -> bytes | None:
        """Process one MLS message; the application data if it was one."""
        from accord.mls import group as g
        from accord.mls.codec import decode as mls_decode
        from accord.mls.structs.messages import MLSMessage

        out, self.state = g.process(self.state, mls_decode(MLSMessage, body), int(time.time()))
        data = getattr(out, "application_data", None)
        return None if data is None else bytes(data)

    async def wait_items(self, n: int, timeout_s: float = 20.0, after: int = 0
                         ) -> list[m.QueueItem]:
        """Poll the queue (bounded) until at least ``n`` items are there."""
        from tests.timing import wait_until

        async def arrived() -> list[m.QueueItem] | None:
            items = (await self.fetch(after=after)).items
            return items if len(items) >= n else None

        return await wait_until(arrived, timeout_s, f"{self!r}: {n} items", poll_s=0.1)


__all__ = ["MlsDevice", "Provider", "dumps", "encode", "federation", "key_path", "signed_post"]
