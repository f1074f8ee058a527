"""``accord web`` serves on loopback only unless told otherwise (issue 20)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from accord.cli.main import cli
from accord.cli.web_cmd import check_bind


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.7", "::", "example.org"])
def test_other_bind_addresses_are_refused(host: str) -> None:
    result = CliRunner().invoke(cli, ["web", "--host", host, "--no-browser"])
    assert result.exit_code == 2
    assert f"refusing to serve the app on {host}" in result.output


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_is_fine(host: str) -> None:
    check_bind(host, unsafe=False)


def test_unsafe_bind_warns() -> None:
    check_bind("0.0.0.0", unsafe=True)  # allowed, with a warning on stderr
    with pytest.raises(click.UsageError):
        check_bind("0.0.0.0", unsafe=False)
