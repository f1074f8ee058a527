"""Consent over Accord's own peer route (issue 22, T14): the same outcome as over MIMI.

alpha.test, beta.test and gamma.test send room traffic over Accord's /federation/v1
(no --mimi-transport); beta.test runs with --require-consent. A claim of a stranger
at beta is refused on Accord's route with the typed code ``no_consent`` (a stranger,
an unknown user and a block alike: no probing), and alpha then runs the one consent
logic of MIMI (``follower.claim`` -> ``consent_out.ask``): the device is answered 403
``consent_requested``, beta gets a MIMI ``requestConsent`` (every Accord provider
serves the consent endpoints), bob accepts, alpha gets the ``updateConsent`` grant
and alice's claim succeeds; bob's later block sends the revoke.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from accord.wire import federation as fw
from tests.e2e import helpers
from tests.engine import engine_params
from tests.federation.conftest import running
from tests.federation.groups import user
from tests.federation.malicious_provider import MaliciousProvider
from tests.federation.providers import MlsDevice, Provider
from tests.federation.test_mimi_forward import requests_seen
from tests.timing import wait_until

REQUEST = "/mimi/v1/requestConsent"
UPDATE = "/mimi/v1/updateConsent"
CLAIM = "/federation/v1/keypackages/claim"


@pytest.fixture(scope="module", params=engine_params())
def providers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[dict[str, Provider]]:
    yield from running(request, tmp_path_factory, mimi=False, require_consent={"beta.test"})


async def _refused(dev: MlsDevice, account: str) -> str:
    r = await dev.call("POST", f"/v1/accounts/{account}/keypackages/claim", expect=403)
    assert r.json()["error"] == "consent_requested", r.text
    return str(r.json()["message"])


async def _state(dev: MlsDevice, state: str) -> dict[str, object]:
    async def answered() -> dict[str, object] | None:
        got = (await dev.call("GET", "/v1/consent/sent", expect=200)).json()["requests"]
        return got[0] if got and got[0]["state"] == state else None
    return await wait_until(answered, what=f"a sent request {state}")


async def test_T14_consent_round_trip_over_accords_route(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
) -> None:
    alpha, beta = providers["alpha"], providers["beta"]
    alice = await user(clients["alpha"], "alice.ar@alpha.test")
    bob = await user(clients["beta"], "bob.ar@beta.test")
    asked = requests_seen(beta, REQUEST)
    assert "requested" in await _refused(alice, bob.account)
    await wait_until(lambda: requests_seen(beta, REQUEST) == asked + 1, what="requestConsent")
    assert "requested" in await _refused(alice, bob.account)  # the window: asked once
    pending = await _state(alice, "pending")
    assert (pending["target"], pending["room"]) == (bob.account, "")
    [req] = await wait_until(lambda: _requests(bob), what="bob's message request")
    assert (req["from_account"], req["msg_id"]) == (alice.account, "mimi-consent")
    granted = requests_seen(alpha, UPDATE)
    await bob.call("POST", f"/v1/requests/{req['group_id']}/accept", expect=204)
    await _state(alice, "granted")
    assert requests_seen(alpha, UPDATE) == granted + 1
    assert requests_seen(beta, REQUEST) == asked + 1
    assert await alice.claim(bob.account)  # over Accord's route, now a contact
    # bob blocks alice: alpha hears the revoke, and alice is not asked for again
    await bob.call("POST", "/v1/blocks", {"target": alice.account}, expect=200)
    await _state(alice, "revoked")
    assert "did not consent" in await _refused(alice, bob.account)
    assert requests_seen(beta, REQUEST) == asked + 1


async def _requests(dev: MlsDevice) -> list[dict[str, str]]:
    return list((await dev.call("GET", "/v1/requests", expect=200)).json()["requests"])


async def test_T14_accords_route_answers_no_consent_and_hides_who_exists(
    providers: dict[str, Provider], clients: dict[str, httpx.AsyncClient],
    evil: MaliciousProvider,
) -> None:
    """beta answers gamma's user's claim ``no_consent`` (404) for a stranger, an unknown
    user and a user who blocked the requester alike; a contact gets key material."""
    beta = providers["beta"]
    bob = await user(clients["beta"], "bob.nc@beta.test")
    carol = await user(clients["beta"], "carol.nc@beta.test")
    await carol.call("POST", "/v1/blocks", {"target": "gus.nc@gamma.test"}, expect=200)
    for target in (bob.account, "nobody.nc@beta.test", carol.account):
        r = await evil.send(beta, CLAIM, fw.FedClaimRequest(
            account=target, requester="gus.nc@gamma.test", cipher_suite=1))
        assert (r.status_code, r.json()["error"]) == (404, "no_consent"), (target, r.text)
    # a user of beta's own is not a peer's: its claim is untouched
    assert await carol.claim(bob.account)


def test_T14_cli_lists_and_cancels_consent_requests_sent(
    providers: dict[str, Provider], tmp_path: Path,
) -> None:
    """``accord requests sent`` and ``accord requests cancel``: the person sees the
    consent request a new conversation made and withdraws it (real processes)."""
    tag = os.urandom(3).hex()
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    a_acct, b_acct = f"alice{tag}@alpha.test", f"bob{tag}@beta.test"
    for profile, acct, prov in ((alice, a_acct, "alpha"), (bob, b_acct, "beta")):
        helpers.accord(profile, "init")
        helpers.accord(profile, "register", acct, "--server", providers[prov].url)
    refused = helpers.accord(alice, "chat", "new", "hi", b_acct, check=False)
    assert refused.returncode != 0 and "consent was requested" in refused.stdout + refused.stderr
    [sent] = helpers.accord_json(alice, "requests", "sent")
    assert (sent["target"], sent["room"], sent["state"]) == (b_acct, "", "pending")
    assert f"{b_acct}: pending since" in helpers.accord(alice, "requests", "sent").stdout
    helpers.accord(alice, "requests", "cancel", b_acct)
    assert helpers.accord_json(alice, "requests", "sent") == []
    assert "no consent requests sent" in helpers.accord(alice, "requests", "sent").stdout
    again = helpers.accord(alice, "requests", "cancel", b_acct, check=False)
    assert again.returncode != 0  # nothing pending: the provider says so
