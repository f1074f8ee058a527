"""GroupInfo and Welcome (RFC 9420 12.4.3)."""

from __future__ import annotations

from accord.mls.codec import U16, U32, WireStruct, wire
from accord.mls.structs.credential import Extension
from accord.mls.structs.group_context import GroupContext
from accord.mls.structs.proposals import PreSharedKeyID
from accord.mls.structs.tree_nodes import HPKECiphertext


@wire
class GroupInfo(WireStruct):
    group_context: GroupContext
    extensions: tuple[Extension, ...]
    confirmation_tag: bytes
    signer: U32
    signature: bytes

    def tbs(self) -> bytes:
        """GroupInfoTBS: every field but the signature."""
        return self.encode_before("signature")


@wire
class PathSecret(WireStruct):
    path_secret: bytes


@wire
class GroupSecrets(WireStruct):
    joiner_secret: bytes
    path_secret: PathSecret | None
    psks: tuple[PreSharedKeyID, ...]


@wire
class EncryptedGroupSecrets(WireStruct):
    new_member: bytes
    encrypted_group_secrets: HPKECiphertext


@wire
class Welcome(WireStruct):
    cipher_suite: U16
    secrets: tuple[EncryptedGroupSecrets, ...]
    encrypted_group_info: bytes
