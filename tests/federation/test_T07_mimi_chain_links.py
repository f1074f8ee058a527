"""T07 over MIMI (issue 22, docs/PROTOCOL.md "accord-forkDetection"): a hub whose
followers' MIMI directories list ``accord-forkDetection`` sends its handshake chain
link with every commit and Welcome it fans out over ``notify`` (5.5), in the signed
``accord-handshake-chain`` header, and the follower hands it to its devices, so the
members' fork detection works in rooms hubbed over MIMI. A hub that offers the
extension and leaves a link out, or sends a wrong one, ends in the members' fork
alert; a hub that does not offer it sends none and its rooms' devices expect none.

Two ``--mimi-transport`` providers, alpha.test (the hub) and beta.test, reach each
other through :class:`tests.federation.ext_proxy.ExtProxy`: the proxy in front of
beta can make alpha lie about links (the request signed again with alpha's own key),
the one in front of alpha can hide its directory keys from beta.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accord.client import alerts, rooms
from accord.client import conversations as convs
from accord.client.device import Device
from accord.wire.mimi_accord import CHAIN_HEADER, FORK_DETECTION, FanoutChainLinks
from tests.e2e.helpers import Clock
from tests.federation.ext_proxy import ExtProxy, ext_federation
from tests.federation.groups import arrive, people, until

ALPHA, BETA = "alpha.test", "beta.test"


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[tuple[dict[str, Any], dict[str, ExtProxy]]]:
    root: Path = tmp_path_factory.mktemp("chain")
    with ext_federation(root, [ALPHA, BETA]) as (provs, proxies):
        proxies[BETA].signer = (ALPHA, provs[ALPHA].key())
        yield provs, proxies


@pytest.fixture
def proxies(fed: tuple[dict[str, Any], dict[str, ExtProxy]]) -> Iterator[dict[str, ExtProxy]]:
    yield fed[1]
    for x in fed[1].values():
        x.tamper = None


def split_views(dev: Device) -> list[str]:
    return [a["detail"]["evidence"] for a in alerts.all_alerts(dev.store)
            if a["kind"] == "split_view"]


async def room(tmp_path: Path, fed: tuple[dict[str, Any], Any], name: str
               ) -> tuple[Device, Device, Device, dict[str, Any], Clock]:
    """alice@alpha's room with bob@beta in it (joined over MIMI); carol@alpha to add."""
    provs = {d.split(".")[0]: p for d, p in fed[0].items()}
    clock = Clock()
    alice, bob, carol = await people(tmp_path, provs, clock, "alice@alpha", "bob@beta",
                                     "carol@alpha")
    conv = await convs.create(alice, name, [bob.identity.account], clock())
    await arrive(bob, name, clock)
    return alice, bob, carol, conv, clock


async def add_carol(alice: Device, carol: Device, conv: dict[str, Any], clock: Clock) -> None:
    await convs.add_members(alice, alice.store.conversation(conv["conv_id"]),
                            [carol.identity.account], clock())


async def alerted(bob: Device, clock: Clock, evidence: str) -> None:
    await until(bob, clock, lambda: evidence in split_views(bob), f"a {evidence} alert")


def flip(value: str | None) -> str | None:
    """Every link of the header, its chain changed by one bit."""
    assert value is not None, "the hub sent no chain link"
    raw = bytearray(base64.b64decode(value.strip()[1:-1]))
    links = FanoutChainLinks.from_bytes(bytes(raw))
    for n in range(len(links.links)):  # each link is 1 + 8 + 32 octets after the length
        raw[len(raw) - (len(links.links) - n) * 41 + 9] ^= 1
    return ":" + base64.b64encode(bytes(raw)).decode() + ":"


def notifies(proxy: ExtProxy) -> list[dict[str, str]]:
    return [x.request_headers for x in proxy.exchanges if "/notify/" in x.path]


async def test_T07_mimi_a_room_hubbed_over_mimi_carries_the_hubs_chain(
    fed: Any, proxies: dict[str, ExtProxy], tmp_path: Path
) -> None:
    """alpha and beta both offer accord-forkDetection: beta's notifies carry alpha's
    links, beta tells bob's device to expect them, and bob's device checks each one
    (the Welcome's and the commit's) with no alert."""
    alice, bob, carol, conv, clock = await room(tmp_path, fed, "linked")
    try:
        gid = conv["group_id"]
        assert rooms.hub_links(bob, gid)
        await add_carol(alice, carol, conv, clock)
        await until(bob, clock, lambda: carol.identity.account in convs.members(
            bob, convs.find(bob, "linked")))
        assert any(CHAIN_HEADER in h for h in notifies(proxies[BETA]))
        assert split_views(bob) == []
        assert rooms.hub_links(bob, gid)
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()


async def test_T07_mimi_a_hub_that_leaves_the_link_out_raises_the_members_alert(
    fed: Any, proxies: dict[str, ExtProxy], tmp_path: Path
) -> None:
    """alpha offers the extension, then sends a commit to beta without its link: bob's
    device raises a fork alert (missing evidence fails closed, issue 17)."""
    alice, bob, carol, conv, clock = await room(tmp_path, fed, "dropped")
    try:
        proxies[BETA].tamper = lambda _value: None
        await add_carol(alice, carol, conv, clock)
        await alerted(bob, clock, "chain_missing")
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()


async def test_T07_mimi_a_hub_that_sends_a_wrong_link_raises_the_members_alert(
    fed: Any, proxies: dict[str, ExtProxy], tmp_path: Path
) -> None:
    """alpha sends a commit with a link that is not the chain of the commits bob's
    device processed (as a hub showing members different histories would): alert."""
    alice, bob, carol, conv, clock = await room(tmp_path, fed, "wrong")
    try:
        proxies[BETA].tamper = flip
        await add_carol(alice, carol, conv, clock)
        await alerted(bob, clock, "chain_mismatch")
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()


@pytest.fixture(scope="module")
def unlinked(tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[dict[str, Any], dict[str, ExtProxy]]]:
    """alpha and beta, each looking to the other like a MIMI peer without the extension."""
    root: Path = tmp_path_factory.mktemp("unlinked")
    with ext_federation(root, [ALPHA, BETA]) as (provs, proxies):
        for x in proxies.values():
            x.hide = {FORK_DETECTION}
        yield provs, proxies


async def test_T07_mimi_without_the_extension_no_links_and_none_expected(
    unlinked: tuple[dict[str, Any], dict[str, ExtProxy]], tmp_path: Path
) -> None:
    """A follower that does not offer accord-forkDetection gets the draft's notify alone
    (no header); a hub that does not offer it is expected to send no links: bob's device
    is told so (``hub_links`` False) and a commit without a link raises no alert."""
    alice, bob, carol, conv, clock = await room(tmp_path, unlinked, "unlinked")
    try:
        await add_carol(alice, carol, conv, clock)
        await until(bob, clock, lambda: carol.identity.account in convs.members(
            bob, convs.find(bob, "unlinked")))
        sent = notifies(unlinked[1][BETA])
        assert sent and not any(CHAIN_HEADER in h for h in sent)
        assert not rooms.hub_links(bob, conv["group_id"])
        assert split_views(bob) == []
    finally:
        for d in (alice, bob, carol):
            await d.disconnect()
