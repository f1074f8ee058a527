"""Message content: the body inside MLS application messages (sans-I/O).

``model`` declares Accord's kinds, ``message`` makes, checks and franks them,
``sealing`` turns them into the body of every application message, MIMI
content (draft-ietf-mimi-content-08: ``mimi`` the container over the
deterministic CBOR of ``cbor``, ``mimi_map`` the mapping of the kinds), and
back; ``attachment`` encrypts blobs, ``preview`` reads quarantined first
contacts, ``mimi_vectors`` checks the draft's examples. Nothing here reads a
clock, the disk or the network, and no randomness is hidden: callers pass
``random_bytes`` (``os.urandom``) and ``now``.

Padding buckets (``padding``, T11): an attachment blob is always exactly one
bucket (powers of two from 256 B to 64 KiB, then every multiple of 64 KiB).
A message body is not padded here: MLS pads the PrivateMessageContent
(``accord.mls.padding``). The wire layout is in docs/PROTOCOL.md.
"""

from accord.content.attachment import (
    BlobDecryptor,
    BlobEncryptor,
    BlobLayout,
    EncryptedBlob,
    blob_layout,
    decrypt_attachment,
    decrypt_chunk,
    encrypt_attachment,
    encrypt_chunk,
    new_attachment_key,
)
from accord.content.message import (
    check_content,
    check_franking_tag,
    expires_at,
    franking_tag,
    is_expired,
    make_content,
    new_id,
)
from accord.content.model import (
    Attachment,
    Content,
    Delete,
    Edit,
    Header,
    Notice,
    NoticeKind,
    Reaction,
    ReadReceipt,
    Text,
    TimerSetting,
)
from accord.content.padding import bucket_for, is_bucket, pad, unpad
from accord.content.preview import Preview, quarantine_preview
from accord.content.sealing import (
    MAX_BODY_BYTES,
    Opened,
    Sealed,
    check_report,
    decode_body,
    open_content,
    seal,
)

__all__ = [
    "MAX_BODY_BYTES",
    "Attachment",
    "BlobDecryptor",
    "BlobEncryptor",
    "BlobLayout",
    "Content",
    "Delete",
    "Edit",
    "EncryptedBlob",
    "Header",
    "Notice",
    "NoticeKind",
    "Opened",
    "Preview",
    "Reaction",
    "ReadReceipt",
    "Sealed",
    "Text",
    "TimerSetting",
    "blob_layout",
    "bucket_for",
    "check_content",
    "check_report",
    "decode_body",
    "decrypt_attachment",
    "decrypt_chunk",
    "encrypt_attachment",
    "encrypt_chunk",
    "expires_at",
    "check_franking_tag",
    "franking_tag",
    "is_bucket",
    "is_expired",
    "make_content",
    "new_attachment_key",
    "new_id",
    "open_content",
    "pad",
    "quarantine_preview",
    "seal",
    "unpad",
]
