"""T11: nothing but an explicit app-factory argument adds a route that names a sender.

The attributed-posting baseline of ``accord bench server`` (a post under a device
session, stored with its sender) would undo hidden senders in a real provider.
It lives in ``bench/attributed_baseline.py``, outside the shipped package, and
reaches a provider only through ``create_app(..., extra_routes=...)``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from accord.server.app import create_app
from accord.server.state import ServerConfig

ROOT = Path(__file__).resolve().parents[2]
ATTRIBUTED = "/v1/groups/{group_id}/messages/attributed"


def paths(app: object) -> set[str]:
    return {getattr(r, "path", "") for r in app.routes}  # type: ignore[attr-defined]


def test_T11_no_environment_variable_adds_the_attributed_route(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """THREATS.md T11: the switch that once turned the baseline on does nothing now."""
    monkeypatch.setenv("ACCORD_BENCH_ATTRIBUTED_POSTS", "1")
    app = create_app(ServerConfig(domain="alpha.test", data_dir=tmp_path))
    assert not any(p.endswith("/attributed") for p in paths(app))
    assert "/v1/groups/{group_id}/messages" in paths(app)


def test_the_benchmark_adds_its_baseline_through_the_factory_argument(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "attributed_baseline", ROOT / "bench" / "attributed_baseline.py")
    assert spec is not None and spec.loader is not None
    baseline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(baseline)
    config = ServerConfig(domain="alpha.test", data_dir=tmp_path)
    app = create_app(config, extra_routes=baseline.routes())
    assert ATTRIBUTED in paths(app)
    assert paths(app) - paths(create_app(config)) == {ATTRIBUTED}
