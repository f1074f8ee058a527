"""Links in MIMI content (draft-ietf-mimi-content-08): mentions, a link to a user's
URI in a text (section 5 and 9.6), and the external parts of other MIMI clients,
fetched by the caller and opened here (section 4.5)."""

from __future__ import annotations

import hashlib
import hmac
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from accord.content.mimi import HASH_SHA256, ExternalPart
from accord.errors import CryptoError, ValidationError

__all__ = ["mention", "mentions", "open_external"]

RULE = "docs/INTEROP.md MIMI content"


# --- mentions (section 5, "Mentions", and 9.6: a link to a user's URI in the text) -----

# 9.6: the four forms, [@Name](uri), [text](uri), [uri](uri) and <uri>; the display text is
# only a hint, the URI is the mention. Whether the user has a client in the group is the
# caller's check (only then is the link a mention).
_MENTION = re.compile(r"\[[^\]\n]{0,200}\]\((mimi://[^)\s/]+/u/[^)\s]+)\)|<(mimi://[^>\s/]+/u/[^>\s]+)>")


def mention(name: str, user_uri: str) -> str:
    """The GFM-MIMI text of a mention of ``user_uri`` shown as ``@name``."""
    if not user_uri.startswith("mimi://") or any(c in name for c in "[]\n"):
        raise ValidationError("a mention names a mimi:// user URI and a one-line name", RULE)
    return f"[@{name}]({user_uri})"


def mentions(text: str) -> tuple[str, ...]:
    """The user URIs linked in ``text``, in order, each once."""
    return tuple(dict.fromkeys(m.group(1) or m.group(2) for m in _MENTION.finditer(text)))


# --- external parts of other MIMI clients (section 4.5) ---------------------------------

_AEAD_KEY_BYTES = {1: 16, 2: 32}  # RFC 5116: AEAD_AES_128_GCM, AEAD_AES_256_GCM


def open_external(part: ExternalPart, blob: bytes) -> bytes:
    """The plaintext of ``blob`` fetched from ``part.url``: its hash checked, then opened
    with the part's AEAD (section 4.5; AES-128-GCM is mandatory, 7.1)."""
    if part.hash_alg != HASH_SHA256 or len(part.content_hash) != 32:
        raise ValidationError("only sha-256 content hashes are supported", "draft-ietf-mimi-content-08 4.5")
    if not hmac.compare_digest(hashlib.sha256(blob).digest(), part.content_hash):
        raise CryptoError("the external content does not match its hash")
    if part.enc_alg == 0:
        return blob
    size = _AEAD_KEY_BYTES.get(part.enc_alg)
    if size is None or len(part.key) != size or len(part.nonce) != 12:
        raise ValidationError(f"unsupported AEAD {part.enc_alg} or key/nonce size",
                              "draft-ietf-mimi-content-08 4.5")
    try:
        return AESGCM(part.key).decrypt(part.nonce, blob, part.aad)
    except InvalidTag:
        raise CryptoError("the external content does not authenticate") from None
