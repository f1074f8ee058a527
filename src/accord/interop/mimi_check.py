"""A conformance check of a MIMI provider (draft-ietf-mimi-protocol-06), for implementers.

:func:`check` fetches the directory (5.1), then probes every endpoint the draft
defines: one the directory does not list, or that answers 404/405/501, is
*missing*; one that answers as the draft says *conforms*; anything else
*differs*. The probes are unsigned (the tool is no peer of the provider), so a
provider that authenticates its peers answers 401 or 403, which conforms
(section 4.1: providers authenticate each other); a 2xx answer must decode as
the endpoint's response structure (:mod:`accord.wire.mimi`). Keys the draft
does not define are reported as extensions and not counted.

With a :class:`Signer` (an operator checking from its own provider, whose key
the checked provider resolves), the endpoints a peer can use without shared
state (``keyMaterial``, ``groupInfo``, ``requestConsent``, ``updateConsent``,
``identifierQuery``) are probed again, signed as that provider (RFC 9421, as
Accord's peers sign): the answers must be 2xx and decode (201 with no body for
consent).

The HTTP client is an argument: the CLI passes a real one, a test may pass one
whose transport drops a route.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from accord.errors import AccordError
from accord.federation import http_signatures as hs
from accord.mls.structs import Credential, RequiredCapabilities
from accord.mls.suites import get_suite
from accord.wire import mimi as w

DIRECTORY = "/.well-known/mimi-protocol-directory"
GONE = (404, 405, 501)
Decoder = Callable[[bytes], Any] | None


@dataclass(frozen=True, slots=True)
class Finding:
    verdict: str  # "conforms", "differs", "missing" or "extension"
    name: str
    section: str
    detail: str

    def line(self) -> str:
        where = f"section {self.section}" if self.section else "extension"
        return f"{self.verdict:9} {self.name:16} {where:14} {self.detail}"


@dataclass(frozen=True)
class Signer:
    """Sign probes as the provider ``domain`` (its Ed25519 provider key's ``sign``)."""

    domain: str
    sign: Callable[[bytes], bytes]


def _signed_probe(key: str, domain: str, signer: Signer) -> tuple[str, bytes] | None:
    """A request the provider can answer as the draft says without any state of the
    signer's: a user it does not have, asked for by a user of the signer's (with the
    requester's own signature, 5.2, 5.6); a room it does not have (5.6: the answer is
    a refusal that decodes); consent for or from a user it does not have (5.7: 201)."""
    if key == "identifierQuery":
        return domain, w.IdentifierRequest((w.QueryElement(
            w.SearchIdentifierType.HANDLE, None, f"mimi-check@{domain}".encode()),)).to_bytes()
    if key in ("requestConsent", "updateConsent"):
        ours, theirs = _uri(domain), _uri(signer.domain)
        if key == "requestConsent":
            return ours.text(), w.ConsentEntry(w.ConsentOperation.REQUEST, theirs,
                                               ours).to_bytes()
        return ours.text(), w.ConsentEntry(w.ConsentOperation.REVOKE, ours, theirs).to_bytes()
    if key == "groupInfo":
        return _group_info_probe(domain, signer)
    if key != "keyMaterial":
        return None
    suite = get_suite(1)
    priv, pub = suite.generate_signature_key_pair()
    target = _uri(domain)
    req = w.KeyMaterialRequest(
        w.MLS10, _uri(signer.domain), target, w.IdentifierUri(b""), (1,),
        RequiredCapabilities((), (), ()), pub, Credential.basic(b"mimi-check"), b"")
    req = dataclasses.replace(req, key_material_request_signature=suite.sign_with_label(
        priv, req.SIGN_LABEL, req.tbs()))
    return target.text(), req.to_bytes()


def _group_info_probe(domain: str, signer: Signer) -> tuple[str, bytes]:
    suite = get_suite(1)
    priv, pub = suite.generate_signature_key_pair()
    _, hpke_pub = suite.generate_hpke_key_pair()
    identity = f"mimi-check@{signer.domain}/mimi-check".encode()
    req = w.GroupInfoRequest(w.MLS10, 1, pub, Credential.basic(identity), hpke_pub, None, b"")
    req = dataclasses.replace(req, signature=suite.sign_with_label(priv, req.SIGN_LABEL,
                                                                   req.tbs()))
    return w.mimi_room_uri(domain, secrets.token_bytes(16)), req.to_bytes()


async def _signed(http: httpx.AsyncClient, url: str, body: bytes, signer: Signer
                  ) -> httpx.Response:
    target = httpx.URL(url)
    headers = hs.sign_request(signer.sign, method="POST", authority=target.netloc.decode(),
                              path=target.path, body=body, keyid=signer.domain,
                              created=int(time.time()), nonce=secrets.token_urlsafe(18))
    headers["Content-Type"] = w.MEDIA_TYPE
    return await http.post(url, content=body, headers=headers)


def _uri(host: str) -> w.IdentifierUri:
    return w.IdentifierUri.of(f"mimi://{host}/u/mimi-check")


def _probe(key: str, host: str) -> tuple[str, bytes, Decoder]:
    """The path value, a request body and the decoder of a 2xx answer, per endpoint.

    Bodies that need MLS content (update, submitMessage, notify) are empty: a
    provider refuses them, which shows the endpoint is served.
    """
    user = _uri(host)
    bodies: dict[str, tuple[str, bytes, Decoder]] = {
        "keyMaterial": (user.text(), w.KeyMaterialRequest(
            w.MLS10, user, user, w.IdentifierUri(b""), (1,), RequiredCapabilities((), (), ()),
            b"", Credential.basic(b"mimi-check"), b"").to_bytes(),
            w.KeyMaterialResponse.from_bytes),
        "update": ("mimi-check", b"", w.UpdateRoomResponse.from_bytes),
        "submitMessage": ("mimi-check", b"", w.SubmitMessageResponse.from_bytes),
        "notify": ("mimi-check", b"", None),
        "groupInfo": ("mimi-check", w.GroupInfoRequest(
            w.MLS10, 1, b"", Credential.basic(b"mimi-check"), b"", None, b"").to_bytes(),
            w.GroupInfoResponse.from_bytes),
        "requestConsent": (user.text(), w.ConsentEntry(1, user, user).to_bytes(), None),
        "updateConsent": (user.text(), w.ConsentEntry(3, user, user).to_bytes(), None),
        "identifierQuery": (host, w.IdentifierRequest((w.QueryElement(
            w.SearchIdentifierType.HANDLE, None, b"mimi-check"),)).to_bytes(),
            w.IdentifierResponse.from_bytes),
        "reportAbuse": ("mimi-check", w.AbuseReport(user, user, 0, b"").to_bytes(), None),
        "proxyDownload": (f"https://{host}/mimi-check", b"", bytes),
    }
    return bodies[key]


def _judge(key: str, status: int, content: bytes, decoder: Decoder, body: bytes) -> tuple[str, str]:
    if status in GONE:
        return "missing", f"listed but not served (HTTP {status})"
    if status in (401, 403):
        return "conforms", f"served; refuses an unauthenticated peer (HTTP {status}, 4.1)"
    if 200 <= status < 300:
        if decoder is None:
            return ("conforms", f"HTTP {status}, no body") if not content else (
                "differs", f"HTTP {status} with a body; the draft defines none")
        try:
            decoder(content)
        except AccordError as exc:
            return "differs", f"HTTP {status}, the answer does not decode: {exc}"
        return "conforms", f"HTTP {status}, the answer decodes"
    if 400 <= status < 500 and not body:
        return "conforms", f"served; refuses an empty body (HTTP {status})"
    return "differs", f"HTTP {status} to a well-formed request"


async def check(base_url: str, http: httpx.AsyncClient, *, domain: str | None = None,
                signer: Signer | None = None) -> list[Finding]:
    """The findings for the provider at ``base_url`` whose users live at ``domain``
    (default: the URL's host name)."""
    base = base_url.rstrip("/")
    try:
        r = await http.get(base + DIRECTORY)
        doc = w.parse_directory(r.json()) if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AccordError) as exc:
        return [Finding("differs", "directory", "5.1", f"not a directory: {exc}")] + [
            Finding("missing", k, s, "no directory") for k, (s, _) in w.ENDPOINTS.items()]
    if doc is None:
        return [Finding("missing", "directory", "5.1", f"HTTP {r.status_code}")] + [
            Finding("missing", k, s, "no directory") for k, (s, _) in w.ENDPOINTS.items()]
    out = [Finding("conforms", "directory", "5.1", f"{len(doc)} entries, each an https URL")]
    host = domain or urlsplit(base).hostname or "localhost"
    for key, (section, param) in w.ENDPOINTS.items():
        if key not in doc:
            out.append(Finding("missing", key, section, "not in the directory"))
            continue
        value, body, decoder = _probe(key, host)
        url = doc[key].replace("{" + param + "}", quote(value, safe=""))
        try:
            if key == "proxyDownload":
                answer = await http.get(url)
            else:
                answer = await http.post(url, content=body,
                                         headers={"Content-Type": w.MEDIA_TYPE})
        except httpx.HTTPError as exc:
            out.append(Finding("differs", key, section, f"no answer: {type(exc).__name__}"))
            continue
        verdict, detail = _judge(key, answer.status_code, answer.content, decoder, body)
        signed = _signed_probe(key, host, signer) if signer is not None else None
        if verdict == "conforms" and signed is not None and signer is not None:
            url = doc[key].replace("{" + param + "}", quote(signed[0], safe=""))
            try:
                again = await _signed(http, url, signed[1], signer)
            except httpx.HTTPError as exc:
                out.append(Finding("differs", key, section, f"no answer: {type(exc).__name__}"))
                continue
            if 200 <= again.status_code < 300:
                verdict, detail = _judge(key, again.status_code, again.content, decoder,
                                         signed[1])
            else:  # the provider refused a signed, well-formed request
                verdict, detail = "differs", f"HTTP {again.status_code}"
            detail = "signed probe: " + detail
        out.append(Finding(verdict, key, section, detail))
    for key in sorted(set(doc) - set(w.ENDPOINTS)):
        out.append(Finding("extension", key, "", doc[key]))
    return out


def summary(findings: list[Finding]) -> str:
    n = {v: sum(f.verdict == v for f in findings) for v in ("conforms", "differs", "missing")}
    return f"{n['conforms']} conform, {n['differs']} differ, {n['missing']} missing"
