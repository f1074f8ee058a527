"""``accord bench web`` runs end to end on a small conversation (figures are not asserted)."""

from __future__ import annotations

from accord.cli import bench_cmd


def test_web_bench_runs_small() -> None:
    result = bench_cmd.load("web").cli_main(["--messages", "300", "--rounds", "2"])
    assert result["messages"] == 300 and result["page"] == 200
    for key in ("first_render_conv", "first_render_state", "push_to_page"):
        assert result[key]["p50_ms"] > 0
    assert result["push_to_page"]["rounds"] == 2
