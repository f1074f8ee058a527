"""RFC 9420's structures as a decoder reads them from the RFC's text alone (issue 22,
the proof): the part of :mod:`tests.federation.mimi_draft_decoder` that MIMI embeds.

Independent of ``accord.mls.codec`` and ``accord.mls.structs`` (neither is imported).
The TLS presentation language with RFC 9420's rules: integers in network byte order,
``opaque x<V>`` and vectors behind a minimal-length QUIC-style varint (2.1.2: prefix
11 and longer-than-needed lengths are malformed), ``optional<T>`` a uint8 0 or 1 then
T, an ``enum`` of at most 255 values one byte. MLSMessage (6) with PublicMessage
(FramedContent, Commit, Proposal, UpdatePath), PrivateMessage, Welcome, GroupInfo and
KeyPackage (LeafNode, Credential, Capabilities, Extension); the proposal types of
draft-ietf-mls-extensions (AppDataUpdate 8, AppEphemeral 9, SelfRemove 10) and its
AppDataDictionary. Each structure decodes to a dict of the RFC's field names; bytes
that do not fit are a :class:`DraftError` naming the structure and field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

D = dict[str, Any]

MLS10 = 1  # Protocol (5)
# RFC 9420 17.2 wire formats, 17.? content types
PUBLIC_MESSAGE, PRIVATE_MESSAGE, WELCOME, GROUP_INFO, KEY_PACKAGE = 1, 2, 3, 4, 5
APPLICATION, PROPOSAL, COMMIT = 1, 2, 3
MEMBER, EXTERNAL, NEW_MEMBER_PROPOSAL, NEW_MEMBER_COMMIT = 1, 2, 3, 4


class DraftError(Exception):
    """Bytes that do not decode as the draft's structure."""


class Reader:
    """Reads one TLS-presentation value after another from ``data``; ``where`` names
    the enclosing structure in errors."""

    def __init__(self, data: bytes, where: str) -> None:
        self.data = bytes(data)
        self.pos = 0
        self.where = where

    def fail(self, what: str) -> DraftError:
        return DraftError(f"{self.where}: {what} (at byte {self.pos} of {len(self.data)})")

    def take(self, n: int, field: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"{field}: truncated, {n} bytes wanted")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def uint(self, size: int, field: str) -> int:
        return int.from_bytes(self.take(size, field), "big")

    def u8(self, field: str) -> int:
        return self.uint(1, field)

    def u16(self, field: str) -> int:
        return self.uint(2, field)

    def u32(self, field: str) -> int:
        return self.uint(4, field)

    def u64(self, field: str) -> int:
        return self.uint(8, field)

    def varint(self, field: str) -> int:
        """RFC 9420 2.1.2: the length of a ``<V>`` vector."""
        first = self.u8(field + " length")
        prefix = first >> 6
        if prefix == 3:
            raise self.fail(f"{field}: length prefix 11 is invalid")
        size = 1 << prefix
        value = first & 0x3F
        for b in self.take(size - 1, field + " length"):
            value = (value << 8) | b
        if size > 1 and value < (1 << (8 * (size // 2) - 2)):
            raise self.fail(f"{field}: length {value} not minimally encoded")
        return value

    def opaque(self, field: str) -> bytes:
        return self.take(self.varint(field), field)

    def text(self, field: str) -> str:
        raw = self.opaque(field)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{field}: not UTF-8") from None

    def vector(self, field: str, item: Callable[[Reader], Any]) -> list[Any]:
        """``T field<V>``: items decoded until the vector's bytes are used up exactly."""
        sub = Reader(self.take(self.varint(field), field), f"{self.where}.{field}")
        out = []
        while sub.pos < len(sub.data):
            out.append(item(sub))
        return out

    def optional(self, field: str, item: Callable[[Reader], Any]) -> Any:
        present = self.u8(field + " presence")
        if present not in (0, 1):
            raise self.fail(f"{field}: optional presence {present} is neither 0 nor 1")
        return item(self) if present else None

    def end(self) -> None:
        if self.pos != len(self.data):
            raise self.fail(f"{len(self.data) - self.pos} trailing bytes")


def whole(data: bytes, where: str, read: Callable[[Reader], Any]) -> Any:
    """``read`` over all of ``data``: a trailing byte is an error."""
    r = Reader(data, where)
    out = read(r)
    r.end()
    return out


def u16s(r: Reader) -> int:
    return r.u16("item")


# ------------------------------------------------------------------ RFC 9420 structures

def credential(r: Reader) -> D:
    """5.3: basic(1) identity; x509(2) certificates."""
    kind = r.u16("credential_type")
    if kind == 1:
        return {"credential_type": 1, "identity": r.opaque("identity")}
    if kind == 2:
        return {"credential_type": 2,
                "certificates": r.vector("certificates", lambda s: s.opaque("cert_data"))}
    raise r.fail(f"credential_type {kind}: layout unknown")


def capabilities(r: Reader) -> D:
    return {name: r.vector(name, u16s) for name in
            ("versions", "cipher_suites", "extensions", "proposals", "credentials")}


def required_capabilities(r: Reader) -> D:
    return {name: r.vector(name, u16s) for name in
            ("extension_types", "proposal_types", "credential_types")}


def component_data(r: Reader) -> D:
    return {"component_id": r.u16("component_id"), "data": r.opaque("data")}


def app_data_dictionary(r: Reader) -> D:
    """draft-ietf-mls-extensions 4.6: sorted by component_id, at most one each."""
    entries = r.vector("component_data", component_data)
    ids = [e["component_id"] for e in entries]
    if ids != sorted(set(ids)):
        raise r.fail("AppDataDictionary entries not sorted and unique by component_id")
    return {"component_data": entries}


def external_sender(r: Reader) -> D:
    return {"signature_key": r.opaque("signature_key"), "credential": credential(r)}


def hpke_ciphertext(r: Reader) -> D:
    return {"kem_output": r.opaque("kem_output"), "ciphertext": r.opaque("ciphertext")}


def extension(r: Reader) -> D:
    """An Extension; the data of the extensions these drafts define is read as well."""
    kind = r.u16("extension_type")
    data = r.opaque("extension_data")
    where = f"{r.where}.extension({kind})"
    readers: dict[int, Callable[[Reader], Any]] = {
        1: lambda s: s.opaque("application_id"),
        2: ratchet_tree,
        3: required_capabilities,
        4: lambda s: s.opaque("external_pub"),
        5: lambda s: s.vector("external_senders", external_sender),
        6: app_data_dictionary,
    }
    value = whole(data, where, readers[kind]) if kind in readers else data
    return {"extension_type": kind, "extension_data": value}


def extensions(r: Reader, field: str = "extensions") -> list[D]:
    return r.vector(field, extension)


def leaf_node(r: Reader) -> D:
    out: D = {"encryption_key": r.opaque("encryption_key"),
              "signature_key": r.opaque("signature_key"),
              "credential": credential(r), "capabilities": capabilities(r)}
    source = r.u8("leaf_node_source")
    out["leaf_node_source"] = source
    if source == 1:
        out["lifetime"] = {"not_before": r.u64("not_before"), "not_after": r.u64("not_after")}
    elif source == 3:
        out["parent_hash"] = r.opaque("parent_hash")
    elif source != 2:
        raise r.fail(f"leaf_node_source {source}: layout unknown")
    out["extensions"] = extensions(r)
    out["signature"] = r.opaque("signature")
    return out


def key_package(r: Reader) -> D:
    out = {"version": r.u16("version"), "cipher_suite": r.u16("cipher_suite"),
           "init_key": r.opaque("init_key"), "leaf_node": leaf_node(r),
           "extensions": extensions(r), "signature": r.opaque("signature")}
    if out["version"] != MLS10:
        raise r.fail(f"KeyPackage version {out['version']} is not mls10")
    if out["leaf_node"]["leaf_node_source"] != 1:
        raise r.fail("a KeyPackage's LeafNode must have leaf_node_source key_package")
    return out


def node(r: Reader) -> D:
    kind = r.u8("node_type")
    if kind == 1:
        return {"node_type": "leaf", "leaf_node": leaf_node(r)}
    if kind == 2:
        return {"node_type": "parent", "encryption_key": r.opaque("encryption_key"),
                "parent_hash": r.opaque("parent_hash"),
                "unmerged_leaves": r.vector("unmerged_leaves", lambda s: s.u32("leaf"))}
    raise r.fail(f"node_type {kind}: layout unknown")


def ratchet_tree(r: Reader) -> list[D | None]:
    """RFC 9420 12.4.3.3: ``optional<Node> ratchet_tree<V>``; "the sender MUST NOT
    include blank nodes after the last non-blank node"."""
    nodes = r.vector("ratchet_tree", lambda s: s.optional("node", node))
    if nodes and nodes[-1] is None:
        raise r.fail("ratchet_tree: blank nodes after the last non-blank node")
    return nodes


def group_context(r: Reader) -> D:
    return {"version": r.u16("version"), "cipher_suite": r.u16("cipher_suite"),
            "group_id": r.opaque("group_id"), "epoch": r.u64("epoch"),
            "tree_hash": r.opaque("tree_hash"),
            "confirmed_transcript_hash": r.opaque("confirmed_transcript_hash"),
            "extensions": extensions(r)}


def group_info(r: Reader) -> D:
    return {"group_context": group_context(r), "extensions": extensions(r),
            "confirmation_tag": r.opaque("confirmation_tag"), "signer": r.u32("signer"),
            "signature": r.opaque("signature")}


def welcome(r: Reader) -> D:
    """RFC 9420 12.4.3.1; each secret names the KeyPackageRef it is sealed to."""
    return {"cipher_suite": r.u16("cipher_suite"),
            "secrets": r.vector("secrets", lambda s: {
                "new_member": s.opaque("new_member"),
                "encrypted_group_secrets": hpke_ciphertext(s)}),
            "encrypted_group_info": r.opaque("encrypted_group_info")}


def sender(r: Reader) -> D:
    kind = r.u8("sender_type")
    if kind == MEMBER:
        return {"sender_type": kind, "leaf_index": r.u32("leaf_index")}
    if kind == EXTERNAL:
        return {"sender_type": kind, "sender_index": r.u32("sender_index")}
    if kind in (NEW_MEMBER_PROPOSAL, NEW_MEMBER_COMMIT):
        return {"sender_type": kind}
    raise r.fail(f"sender_type {kind}: layout unknown")


def psk_id(r: Reader) -> D:
    kind = r.u8("psktype")
    out: D = {"psktype": kind}
    if kind == 1:
        out["psk_id"] = r.opaque("psk_id")
    elif kind == 2:
        out.update(usage=r.u8("usage"), psk_group_id=r.opaque("psk_group_id"),
                   psk_epoch=r.u64("psk_epoch"))
    else:
        raise r.fail(f"psktype {kind}: layout unknown")
    out["psk_nonce"] = r.opaque("psk_nonce")
    return out


def proposal(r: Reader) -> D:
    """RFC 9420 12.1 and draft-ietf-mls-extensions (8 app_data_update, 9 app_ephemeral,
    10 self_remove)."""
    kind = r.u16("proposal_type")
    out: D = {"proposal_type": kind}
    if kind == 1:
        out["key_package"] = key_package(r)
    elif kind == 2:
        out["leaf_node"] = leaf_node(r)
    elif kind == 3:
        out["removed"] = r.u32("removed")
    elif kind == 4:
        out["psk"] = psk_id(r)
    elif kind == 5:
        out.update(group_id=r.opaque("group_id"), version=r.u16("version"),
                   cipher_suite=r.u16("cipher_suite"), extensions=extensions(r))
    elif kind == 6:
        out["kem_output"] = r.opaque("kem_output")
    elif kind == 7:
        out["extensions"] = extensions(r)
    elif kind == 8:
        out["component_id"] = r.u16("component_id")
        op = out["op"] = r.u8("op")
        if op == 1:
            out["update"] = r.opaque("update")
        elif op != 2:
            raise r.fail(f"AppDataUpdate op {op}: layout unknown")
    elif kind == 9:
        out.update(component_id=r.u16("component_id"), data=r.opaque("data"))
    elif kind != 10:
        raise r.fail(f"proposal_type {kind}: layout unknown")
    return out


def proposal_or_ref(r: Reader) -> D:
    kind = r.u8("ProposalOrRefType")
    if kind == 1:
        return {"proposal": proposal(r)}
    if kind == 2:
        return {"reference": r.opaque("reference")}
    raise r.fail(f"ProposalOrRefType {kind}: layout unknown")


def update_path(r: Reader) -> D:
    return {"leaf_node": leaf_node(r),
            "nodes": r.vector("nodes", lambda s: {
                "encryption_key": s.opaque("encryption_key"),
                "encrypted_path_secret": s.vector("encrypted_path_secret", hpke_ciphertext)})}


def commit(r: Reader) -> D:
    return {"proposals": r.vector("proposals", proposal_or_ref),
            "path": r.optional("path", update_path)}


def public_message(r: Reader) -> D:
    """RFC 9420 6.2: FramedContent, its auth data, a member's membership_tag."""
    content: D = {"group_id": r.opaque("group_id"), "epoch": r.u64("epoch"),
                  "sender": sender(r), "authenticated_data": r.opaque("authenticated_data")}
    kind = content["content_type"] = r.u8("content_type")
    if kind == APPLICATION:
        content["application_data"] = r.opaque("application_data")
    elif kind == PROPOSAL:
        content["proposal"] = proposal(r)
    elif kind == COMMIT:
        content["commit"] = commit(r)
    else:
        raise r.fail(f"content_type {kind}: layout unknown")
    auth: D = {"signature": r.opaque("signature")}
    if kind == COMMIT:
        auth["confirmation_tag"] = r.opaque("confirmation_tag")
    out = {"content": content, "auth": auth}
    if content["sender"]["sender_type"] == MEMBER:
        out["membership_tag"] = r.opaque("membership_tag")
    return out


def private_message(r: Reader) -> D:
    return {"group_id": r.opaque("group_id"), "epoch": r.u64("epoch"),
            "content_type": r.u8("content_type"),
            "authenticated_data": r.opaque("authenticated_data"),
            "encrypted_sender_data": r.opaque("encrypted_sender_data"),
            "ciphertext": r.opaque("ciphertext")}


def mls_message(r: Reader) -> D:
    """RFC 9420 6: ``version``, ``wire_format`` and the message it selects."""
    version = r.u16("version")
    if version != MLS10:
        raise r.fail(f"MLSMessage version {version} is not mls10")
    wire = r.u16("wire_format")
    bodies = {PUBLIC_MESSAGE: public_message, PRIVATE_MESSAGE: private_message,
              WELCOME: welcome, GROUP_INFO: group_info, KEY_PACKAGE: key_package}
    if wire not in bodies:
        raise r.fail(f"wire_format {wire}: layout unknown")
    return {"version": version, "wire_format": wire, "message": bodies[wire](r)}


def content_type_of(msg: D) -> int | None:
    """The content type of a framed message (None for a Welcome and the others)."""
    if msg["wire_format"] == PUBLIC_MESSAGE:
        return int(msg["message"]["content"]["content_type"])
    if msg["wire_format"] == PRIVATE_MESSAGE:
        return int(msg["message"]["content_type"])
    return None


def handshake(r: Reader, field: str) -> D:
    """A proposal or commit "either a PublicMessage or SemiPrivateMessage" (5.3, 5.5);
    SemiPrivateMessage's wire format is not in the reference texts."""
    msg = mls_message(r)
    if msg["wire_format"] != PUBLIC_MESSAGE or content_type_of(msg) not in (PROPOSAL, COMMIT):
        raise r.fail(f"{field}: not a PublicMessage proposal or commit")
    return msg


def proposals(r: Reader, field: str) -> list[D]:
    out = r.vector(field, lambda s: handshake(s, field))
    if any(content_type_of(m) != PROPOSAL for m in out):
        raise r.fail(f"{field}: a commit among the proposals")
    return out
