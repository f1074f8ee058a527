"""tree-math.json: node relations of trees of 2^k leaves (RFC 9420 Appendix C)."""

from __future__ import annotations

from typing import Any

from accord.errors import ValidationError
from accord.mls import tree_math as tm
from accord.mls.vectors import expect


def _or_none(fn: Any, *args: int) -> int | None:
    try:
        return int(fn(*args))
    except ValidationError:
        return None


def check(entry: dict[str, Any]) -> None:
    n = int(entry["n_leaves"])
    width = tm.node_width(n)
    expect("n_nodes", width, int(entry["n_nodes"]))
    expect("root", tm.root(n), int(entry["root"]))
    for name, fn in (
        ("left", lambda x: tm.left(x)),
        ("right", lambda x: tm.right(x, n)),
        ("parent", lambda x: tm.parent(x, n)),
        ("sibling", lambda x: tm.sibling(x, n)),
    ):
        want = entry[name]
        expect(f"len({name})", len(want), width)
        for x in range(width):
            expect(f"{name}[{x}]", _or_none(fn, x), want[x])
