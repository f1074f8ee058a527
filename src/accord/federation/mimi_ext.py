"""Accord's extensions to MIMI, used towards a peer only as its directory lists them (issue 22).

A provider that sends a peer room traffic over MIMI (``Federation.mimi_to``) keeps
what Accord offers beyond the drafts wherever the peer's MIMI directory
(draft-ietf-mimi-protocol-06 5.1) lists it under an ``accord-*`` key, at the URL
listed there (``negotiation.parse`` holds every such URL to the directory's own
origin), and falls back to the plain draft where it does not
(docs/PROTOCOL.md, "Accord extensions to MIMI"):

- ``accord-hiddenSenders``: a post to a room hubbed by the peer goes to that URL as
  a hidden-sender post (T11: no sender, the epoch's posting-key signature), else to
  ``submitMessage`` naming its sender (:func:`post_route`, the one decision that
  :func:`named_posts` and ``server.delivery`` read).
- ``accord-deviceList``: a remote user's device list (T06) comes from that URL, else
  there is none (:class:`~accord.errors.NoDeviceList`) and the client library goes by
  the claim's answer, which lists every client of the user (5.2).
- ``accord-keyTransparency``: a remote user's keys are held to the log of the user's
  provider (T06) only where that provider offers one (:func:`offers_transparency`, the
  one rule that the transparency routes and the witnessing task read); else lookups of
  its users are :class:`~accord.errors.NoTransparency` and devices take their keys as
  not transparency-checked (docs/PROTOCOL.md, "Keys not transparency-checked").
- Blobs (attachments) are not an extension: over MIMI they are fetched by the
  draft's direct download (5.10.1) of the asset URL ``https://DOMAIN/v1/blobs/CAP``
  (:func:`fetch_blob`), never over ``/federation/v1``.

Towards a peer that gets Accord's own API (``mimi_to`` false) nothing here applies:
the follower's routes of :mod:`accord.federation.follower` are used as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from accord.errors import NoDeviceList, NotFound, NoTransparency, PeerUnavailable
from accord.federation.discovery import peer_base
from accord.federation.peer_client import read_bounded
from accord.storage import GroupRecord
from accord.wire import federation as fw
from accord.wire import messages as m
from accord.wire.accounts import domain_of

if TYPE_CHECKING:
    from accord.federation.service import Federation

HIDDEN_SENDERS = "accord-hiddenSenders"
DEVICE_LIST = "accord-deviceList"
KEY_TRANSPARENCY = "accord-keyTransparency"
BLOB_PATH = "/v1/blobs/"  # Accord's asset URL: https://DOMAIN/v1/blobs/CAPABILITY


async def extension_url(fed: Federation, domain: str, key: str, now: int) -> str | None:
    """The URL ``domain``'s MIMI directory lists for Accord extension ``key``, or None
    (always None from a plain MIMI provider, ``--mimi-plain``: it uses no extension)."""
    if fed.plain:
        return None
    return (await fed.directories.get(domain, now)).endpoints.get(key)


async def offers_transparency(fed: Federation, domain: str, now: int) -> bool:
    """Does ``domain`` offer key transparency to this provider (T06)? The one rule: not
    when this provider is a plain MIMI peer (``--mimi-plain`` asks nobody); yes for an
    Accord peer without a MIMI directory (its Accord document carries its log's key);
    else exactly when its MIMI directory lists ``accord-keyTransparency``. A directory
    that cannot be read raises (``PeerUnavailable``): never a silent "no"."""
    if fed.plain:
        return False
    directory = await fed.directories.get(domain, now)
    return not directory.found or KEY_TRANSPARENCY in directory.endpoints


async def require_transparency(fed: Federation, domain: str, now: int) -> None:
    """Raise :class:`NoTransparency` unless ``domain`` offers key transparency."""
    if not await offers_transparency(fed, domain, now):
        raise NoTransparency(f"{domain} offers no key transparency (no {KEY_TRANSPARENCY}"
                             " in its MIMI directory): its users' keys cannot be checked")


@dataclass(frozen=True, slots=True)
class PostRoute:
    """Where a post to a room hubbed elsewhere goes: Accord's own peer route (``url``
    None, ``named`` False), the hub's advertised hidden-sender URL, or (``named``)
    the draft's submitMessage, which names the sender."""

    named: bool
    url: str | None = None


async def post_route(fed: Federation, group: GroupRecord, now: int) -> PostRoute:
    """The one decision of how a member's post to ``group`` leaves this provider.
    Only for a group hubbed elsewhere (the hub's own posts never leave)."""
    if not await fed.mimi_to(group.hub, now):
        return PostRoute(named=False)  # Accord's peer API: FedPost, hidden (T11)
    url = await extension_url(fed, group.hub, HIDDEN_SENDERS, now)
    return PostRoute(named=url is None, url=url)


async def named_posts(fed: Federation, group: GroupRecord, now: int) -> bool:
    """Does this room need named posts (``GroupState.named_sender``): its hub is
    elsewhere, gets our room traffic over MIMI, and lists no ``accord-hiddenSenders``."""
    return group.hub != fed.domain and (await post_route(fed, group, now)).named


async def post_hidden(fed: Federation, group: GroupRecord, route: PostRoute,
                      req: m.ApplicationPost, now: int) -> m.PostResponse:
    """A member's post, exactly as signed under the epoch's posting key, to the URL the
    hub lists for ``accord-hiddenSenders`` (``route.url``). Nothing in it names the
    sender (T11); the hub checks the posting-key signature."""
    if route.named or route.url is None:
        raise ValueError("only a route to the hub's accord-hiddenSenders URL")
    post = fw.FedPost(group_id=group.group_id, epoch=req.epoch, nonce=req.nonce,
                      ciphertext=req.ciphertext, signature=req.signature)
    return await fed.client.post(group.hub, httpx.URL(route.url), post, m.PostResponse, now)


async def list_devices(fed: Federation, account: str, now: int) -> m.DeviceList:
    """A remote account's device list (T06) from a peer that gets MIMI: at the URL of
    its ``accord-deviceList``, or :class:`NoDeviceList` when it lists none (the draft
    has no such endpoint: the claim's answer lists the user's clients instead)."""
    domain = domain_of(account)
    url = await extension_url(fed, domain, DEVICE_LIST, now)
    if url is None:
        raise NoDeviceList(f"{domain} offers no device lists (no {DEVICE_LIST} in its MIMI"
                           " directory): the claim lists the user's clients")
    resp = await fed.client.post(domain, httpx.URL(url), fw.FedDevicesRequest(account=account),
                                 m.DeviceList, now)
    if resp.account != account:
        raise NotFound("the provider answered for another account")
    return resp


async def fetch_blob(fed: Federation, domain: str, capability: str, now: int) -> bytes:
    """A peer's encrypted blob by the draft's direct download (5.10.1): a GET of its
    asset URL at the peer's own address (the configured one for a known peer), no
    signature (the capability is the authorization), the answer read with a bound."""
    limit = fed.provider.config.max_blob
    base = peer_base(domain, fed.directories.static)
    request = fed.client.http.build_request("GET", base.rstrip("/") + BLOB_PATH + capability,
                                            headers={"accept": "application/octet-stream"})
    r = await read_bounded(fed.client.http, domain, request, limit)
    if r.status_code == 404:
        raise NotFound("no such blob")
    if r.status_code != 200:
        raise PeerUnavailable(f"provider {domain} answered a download with HTTP "
                              f"{r.status_code} (MIMI 5.10.1)")
    return r.content
