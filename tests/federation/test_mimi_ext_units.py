"""The one decision of where a post goes, and the device-list extension, without a network
(``accord.federation.mimi_ext``; docs/PROTOCOL.md "Accord extensions to MIMI")."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from accord.cli.server_cmd import server
from accord.errors import NoDeviceList
from accord.federation import mimi_ext
from accord.federation.negotiation import Directory
from accord.wire import messages as m

HUB = "hub.test"
POSTS = "https://hub.test/federation/v1/posts"
DEVICES = "https://hub.test/federation/v1/devices"


@dataclass
class FakeDirectories:
    listed: dict[str, str]

    async def get(self, domain: str, now: int) -> Directory:
        return Directory(domain, dict(self.listed), True)


@dataclass
class FakeClient:
    sent: list[tuple[str, Any]] = field(default_factory=list)

    async def post(self, domain: str, where: Any, msg: Any, response: type, now: int) -> Any:
        self.sent.append((domain, where))
        return m.DeviceList(account="bob@hub.test", devices=[])


@dataclass
class FakeFed:
    mimi: bool
    listed: dict[str, str]
    plain: bool = False
    domain: str = "home.test"
    client: FakeClient = field(default_factory=FakeClient)

    @property
    def directories(self) -> FakeDirectories:
        return FakeDirectories(self.listed)

    async def mimi_to(self, domain: str, now: int) -> bool:
        return self.mimi


@dataclass
class Group:
    hub: str = HUB
    group_id: bytes = b"g" * 16


async def test_T11_post_route_hidden_wherever_the_hub_lists_the_extension() -> None:
    full = {"accord-hiddenSenders": POSTS, "accord-deviceList": DEVICES}
    route = await mimi_ext.post_route(FakeFed(True, full), Group(), 0)  # type: ignore[arg-type]
    assert route == mimi_ext.PostRoute(named=False, url=POSTS)
    # Accord's own API (no MIMI to this hub): hidden, on Accord's route
    route = await mimi_ext.post_route(FakeFed(False, {}), Group(), 0)  # type: ignore[arg-type]
    assert route == mimi_ext.PostRoute(named=False, url=None)
    # over MIMI to a hub that lists no accord-hiddenSenders: named (submitMessage)
    route = await mimi_ext.post_route(FakeFed(True, {"accord-deviceList": DEVICES}), Group(), 0)  # type: ignore[arg-type]
    assert route.named and route.url is None
    # a plain MIMI provider uses no extension, whatever the hub lists
    fed = FakeFed(True, full, plain=True)
    assert (await mimi_ext.post_route(fed, Group(), 0)).named  # type: ignore[arg-type]
    # a group this provider hubs never needs named posts
    assert not await mimi_ext.named_posts(FakeFed(True, {}), Group(hub="home.test"), 0)  # type: ignore[arg-type]


async def test_T06_device_list_only_from_a_peer_that_lists_it() -> None:
    fed = FakeFed(True, {"accord-hiddenSenders": POSTS})
    with pytest.raises(NoDeviceList):
        await mimi_ext.list_devices(fed, "bob@hub.test", 0)  # type: ignore[arg-type]
    assert fed.client.sent == []  # no request at all
    fed = FakeFed(True, {"accord-deviceList": DEVICES})
    await mimi_ext.list_devices(fed, "bob@hub.test", 0)  # type: ignore[arg-type]
    assert fed.client.sent == [(HUB, httpx.URL(DEVICES))]


def test_withholding_an_unknown_extension_is_refused(tmp_path: Path) -> None:
    """``--mimi-withhold`` names an extension the directory lists: a typo would leave the
    extension listed while the operator believes it withheld."""
    kek = tmp_path / "kek"  # a later refusal (no --database), so nothing would start
    kek.write_bytes(bytes(32))
    result = CliRunner().invoke(server, ["--data", str(tmp_path / "data"), "--domain",
                                         "alpha.test", "--port", "0", "--key-file", str(kek),
                                         "--mimi-withhold", "accord-hiddenSender"])
    assert result.exit_code == 2 and "accord-hiddenSender'" in result.output, result.output


async def test_a_hidden_post_goes_only_to_the_listed_url() -> None:
    fed = FakeFed(True, {})
    post = m.ApplicationPost(epoch=0, nonce=b"n" * 16, ciphertext=b"c", signature=b"s" * 64)
    for route in (mimi_ext.PostRoute(named=True), mimi_ext.PostRoute(named=False)):
        with pytest.raises(ValueError):
            await mimi_ext.post_hidden(fed, Group(), route, post, 0)  # type: ignore[arg-type]
    assert fed.client.sent == []
