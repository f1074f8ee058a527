"""issue 19, comforts: stdin and CRLF text, people named in confirmations, no silent
overwrite on download, one server per data folder, no safety number for nobody,
and how long to wait on a rate limit. Real CLI processes against a real provider."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest

from accord.cli.client_common import run
from accord.errors import RateLimited
from tests.e2e import helpers
from tests.e2e.helpers import accept_request

CLI_TIMEOUT_S = 60


PASSPHRASE = "comfort pass"
accord = functools.partial(helpers.accord, passphrase=PASSPHRASE)
js = functools.partial(helpers.accord_json, passphrase=PASSPHRASE)


@pytest.fixture(scope="module")
def people(server, tmp_path_factory):
    """alice, bob and carol registered; alice and bob share the chat "trip"."""
    root = tmp_path_factory.mktemp("people")
    tag = os.urandom(3).hex()
    out = {}
    for name in ("alice", "bob", "carol"):
        accord(root / name, "init")
        accord(root / name, "register", f"{name}{tag}@alpha.test", "--server", server.url)
        out[name] = (root / name, f"{name}{tag}@alpha.test")
    accord(out["alice"][0], "chat", "new", "trip", out["bob"][1])
    accept_request(out["bob"][0], out["alice"][1], PASSPHRASE)  # T14
    return out


def _texts(profile: Path) -> list[str]:
    read = js(profile, "read", "trip")
    return [i["text"] for i in read["items"] if i["type"] == "message"]


def test_send_dash_reads_stdin_and_crlf_becomes_lf(people) -> None:
    (alice, _), (bob, _) = people["alice"], people["bob"]
    accord(alice, "send", "trip", "-", stdin="first line\r\nsecond line\r\n")
    accord(alice, "send", "trip", "one\r\ntwo\rthree")
    texts = _texts(bob)
    assert texts[-2:] == ["first line\nsecond line", "one\ntwo\nthree"]


def test_confirmations_name_the_people(people) -> None:
    (alice, _), (_, carol) = people["alice"], people["carol"]
    out = accord(alice, "chat", "add", "trip", carol).stdout
    assert out.strip() == f"added {carol} (1 device)"
    out = accord(alice, "chat", "remove", "trip", carol).stdout
    assert out.strip() == f"removed {carol} (1 device)"


def test_download_never_overwrites_without_force(people, tmp_path) -> None:
    (alice, _), (bob, _) = people["alice"], people["bob"]
    src = tmp_path / "plan.txt"
    src.write_text("the plan\n")
    sent = js(bob, "send", "trip", "plan", "--file", str(src))
    out = tmp_path / "dl"
    out.mkdir()
    (out / "plan.txt").write_text("mine, keep it\n")
    refused = accord(alice, "download", "trip", sent["id"][:8], "--out", str(out), check=False)
    assert refused.returncode == 1
    assert "exists; pass --force" in refused.stderr
    assert (out / "plan.txt").read_text() == "mine, keep it\n"
    assert sorted(p.name for p in out.iterdir()) == ["plan.txt"]  # no part file left
    accord(alice, "download", "trip", sent["id"][:8], "--out", str(out), "--force")
    assert (out / "plan.txt").read_text() == "the plan\n"


def test_safety_number_of_an_account_that_does_not_exist_is_an_error(people) -> None:
    alice, bob = people["alice"][0], people["bob"][1]
    proc = accord(alice, "contacts", "safety-number", "nobody-here@alpha.test", check=False)
    assert proc.returncode == 1
    assert "nobody-here@alpha.test has no devices" in proc.stderr
    assert len(js(alice, "contacts", "safety-number", bob, "--no-qr")["safety_number"]) == 60


def test_a_second_server_on_the_same_data_folder_is_refused(server) -> None:
    proc = subprocess.run([*helpers.ACCORD_ARGV, "server", "--data", str(server.data_dir), "--port", "0",
                           "--domain", server.domain], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S)
    assert proc.returncode == 2
    assert "another accord server is using" in proc.stderr
    assert server.process.poll() is None  # the first one runs on


def test_a_rate_limit_says_how_long_to_wait(capsys) -> None:
    async def limited() -> None:
        raise RateLimited("too many requests (send); slow down", retry_after_ms=2500)

    with pytest.raises(SystemExit):
        run(limited())
    err = capsys.readouterr().err
    assert "try again in 3 s" in err
