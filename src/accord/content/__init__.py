"""Message content: the body inside MLS application messages (sans-I/O).

``model`` declares the kinds, ``message`` encodes, pads and franks them,
``attachment`` encrypts blobs, ``preview`` reads quarantined first contacts.
``mimi`` is the MIMI content container (draft-ietf-mimi-content-08) over the
deterministic CBOR of ``cbor``; ``mimi_vectors`` checks the draft's examples.
Nothing here reads a clock, the disk or the network, and no randomness is
hidden: callers pass ``random_bytes`` (``os.urandom``) and ``now``.

Padding buckets (``padding``, T11): powers of two from 256 B to 64 KiB, then
every multiple of 64 KiB; a message content is at most the 64 KiB bucket,
and an attachment blob is always exactly one bucket. The wire layout is in
docs/PROTOCOL.md, "Message content and padding".
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
    MAX_CONTENT_BYTES,
    Opened,
    Sealed,
    check_report,
    decode_content,
    encode_content,
    expires_at,
    frank,
    is_expired,
    make_content,
    new_franking_key,
    new_id,
    open_content,
    seal,
    verify_commitment,
)
from accord.content.model import (
    CONTENT_VERSION,
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

__all__ = [
    "CONTENT_VERSION",
    "MAX_CONTENT_BYTES",
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
    "check_report",
    "decode_content",
    "decrypt_attachment",
    "decrypt_chunk",
    "encode_content",
    "encrypt_attachment",
    "encrypt_chunk",
    "expires_at",
    "frank",
    "is_bucket",
    "is_expired",
    "make_content",
    "new_attachment_key",
    "new_franking_key",
    "new_id",
    "open_content",
    "pad",
    "quarantine_preview",
    "seal",
    "unpad",
    "verify_commitment",
]
