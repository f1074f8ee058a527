"""RFC 9421 HTTP Message Signatures for provider-to-provider requests (sans-I/O).

Every federation request is signed by the sending provider with its Ed25519
key over exactly these components (RFC 9421 2.2 and 2.1)::

    "@method" "@authority" "@path" "content-digest"

with the parameters ``created`` (UNIX seconds), ``nonce`` (random, single
use), ``keyid`` (the sender's domain), ``alg="ed25519"`` and
``tag="accord-federation"`` (RFC 9421 2.3: a tag keeps these signatures
from being taken for any other application's). ``content-digest`` is the
RFC 9530 ``sha-256`` digest of the body, so the body is covered too. A request
that carries one of Accord's extension headers (:data:`EXTENSION_HEADERS`: the
hub's chain links of a MIMI notify, docs/PROTOCOL.md "accord-forkDetection")
covers it as well, listed after ``content-digest``; such a header that the
signature does not cover is refused (:func:`covered_headers`).

The verifier is strict: it accepts the one label ``sig1``, the one component
list (with or without the extension headers) and the one parameter set above,
and nothing else. Replay protection
(the ``created`` window and the nonce store) is the caller's, since it needs
the store; :func:`check_fresh` is the window rule. Time comes in as an argument.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from accord.errors import AuthError, CryptoError, DecodeError
from accord.wire import signing

LABEL = "sig1"
TAG = "accord-federation"
ALG = "ed25519"
COMPONENTS = ("@method", "@authority", "@path", "content-digest")
EXTENSION_HEADERS = ("accord-handshake-chain",)  # covered when the request has them
MAX_NONCE = 64
_INPUT_RE = re.compile(
    r'sig1=\("@method" "@authority" "@path" "content-digest"( "accord-handshake-chain")?\)'
    r";created=(\d{1,12})"
    r';nonce="([A-Za-z0-9_-]{16,64})"'
    r';keyid="([a-z0-9][a-z0-9.-]{0,252})"'
    r';alg="ed25519"'
    r';tag="accord-federation"'
)
_SIG_RE = re.compile(r"sig1=:([A-Za-z0-9+/]{86}==):")
_DIGEST_RE = re.compile(r"sha-256=:([A-Za-z0-9+/]{43}=):")


@dataclass(frozen=True, slots=True)
class SignatureClaim:
    """What a request's ``Signature-Input`` and ``Signature`` headers say."""

    keyid: str
    created: int
    nonce: str
    params: str  # the serialized parameters, exactly as signed
    signature: bytes
    covered: tuple[str, ...] = ()  # the extension headers signed, in order


def content_digest(body: bytes) -> str:
    """RFC 9530 ``Content-Digest`` with sha-256."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def _params(created: int, nonce: str, keyid: str, covered: Sequence[str] = ()) -> str:
    names = " ".join(f'"{c}"' for c in (*COMPONENTS, *covered))
    return (f'({names});created={created};nonce="{nonce}";keyid="{keyid}"'
            f';alg="{ALG}";tag="{TAG}"')


def signature_base(method: str, authority: str, path: str, digest: str, params: str,
                   covered: Sequence[tuple[str, str]] = ()) -> bytes:
    """RFC 9421 2.5: one line per component, then ``@signature-params``."""
    lines = [
        f'"@method": {method.upper()}',
        f'"@authority": {authority.lower()}',
        f'"@path": {path}',
        f'"content-digest": {digest}',
        *(f'"{name}": {value.strip()}' for name, value in covered),
        f'"@signature-params": {params}',
    ]
    return "\n".join(lines).encode()


def sign_request(
    sign: Callable[[bytes], bytes],
    *,
    method: str,
    authority: str,
    path: str,
    body: bytes,
    keyid: str,
    created: int,
    nonce: str,
    covered: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The three headers that sign a request: Content-Digest, Signature-Input, Signature.
    ``covered``: extension headers (:data:`EXTENSION_HEADERS`) the request carries, signed
    too (the caller sends them as given)."""
    extra = [(name, covered[name]) for name in EXTENSION_HEADERS if covered and name in covered]
    if covered and len(extra) != len(covered):
        raise ValueError("only Accord's extension headers are signed beside the body")
    digest = content_digest(body)
    params = _params(created, nonce, keyid, [name for name, _ in extra])
    sig = sign(signature_base(method, authority, path, digest, params, extra))
    return {
        "Content-Digest": digest,
        "Signature-Input": f"{LABEL}={params}",
        "Signature": f"{LABEL}=:" + base64.b64encode(sig).decode() + ":",
    }


def parse_signature(headers: Mapping[str, str]) -> SignatureClaim:
    """Read the signature headers; anything but our one exact form is refused."""
    sig_input = headers.get("signature-input")
    sig_header = headers.get("signature")
    if not sig_input or not sig_header:
        raise AuthError("federation requests must carry Signature-Input and Signature (RFC 9421)")
    m_in = _INPUT_RE.fullmatch(sig_input.strip())
    m_sig = _SIG_RE.fullmatch(sig_header.strip())
    if m_in is None or m_sig is None:
        raise DecodeError("Signature-Input or Signature is not in the accepted form")
    try:
        signature = base64.b64decode(m_sig.group(1), validate=True)
    except binascii.Error as exc:
        raise DecodeError("Signature is not base64") from exc
    covered = EXTENSION_HEADERS if m_in.group(1) else ()
    created, nonce, keyid = int(m_in.group(2)), m_in.group(3), m_in.group(4)
    return SignatureClaim(keyid, created, nonce, _params(created, nonce, keyid, covered),
                          signature, covered)


def covered_headers(claim: SignatureClaim, headers: Mapping[str, str]
                    ) -> list[tuple[str, str]]:
    """The extension headers the signature covers, with the request's values; an
    AuthError for one the request carries unsigned, or one signed but not sent."""
    out = []
    for name in EXTENSION_HEADERS:
        value = headers.get(name)
        if (value is not None) != (name in claim.covered):
            raise AuthError(f"the {name} header must be covered by the request's signature"
                            " (RFC 9421)")
        if value is not None:
            out.append((name, value))
    return out


def check_digest(headers: Mapping[str, str], body: bytes) -> str:
    """The request's Content-Digest, checked against the body it came with."""
    digest = (headers.get("content-digest") or "").strip()
    if _DIGEST_RE.fullmatch(digest) is None:
        raise AuthError("Content-Digest (sha-256, RFC 9530) is missing or malformed")
    if digest != content_digest(body):
        raise AuthError("Content-Digest does not match the body")
    return digest


def check_fresh(claim: SignatureClaim, now_s: int, window_s: int) -> None:
    """``created`` must be within ``window_s`` of now, either way (clock skew)."""
    if abs(now_s - claim.created) > window_s:
        raise AuthError("signature created outside the accepted time window")


def verify_request(
    claim: SignatureClaim,
    public_key: bytes,
    *,
    method: str,
    authority: str,
    path: str,
    digest: str,
    covered: Sequence[tuple[str, str]] = (),
) -> None:
    """Check the signature over the rebuilt signature base; :class:`AuthError` if it fails.
    ``covered``: :func:`covered_headers` of the request."""
    base = signature_base(method, authority, path, digest, claim.params, covered)
    try:
        signing.verify(public_key, claim.signature, base)
    except CryptoError as exc:
        raise AuthError("the provider signature does not verify") from exc
