"""The code's own habits, checked: ruff everywhere, mypy --strict on the sans-I/O cores."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SANS_IO = ["src/accord/mls", "src/accord/content", "src/accord/transparency", "src/accord/wire"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", "src", "tests", "bench")
    assert result.returncode == 0, result.stdout[-4000:]


def test_mypy_strict_on_the_sans_io_packages() -> None:
    result = run("mypy", "--strict", *SANS_IO)
    assert result.returncode == 0, result.stdout[-4000:]


def test_the_license_file_matches_pyproject() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = " ".join((ROOT / "LICENSE").read_text().split())
    assert text.startswith("Apache License Version 2.0, January 2004")
    assert "END OF TERMS AND CONDITIONS" in text


def test_the_security_policy_says_how_to_report_what_and_for_which_versions() -> None:
    policy = (ROOT / "SECURITY.md").read_text()
    for section in ("## How to report", "## Supported versions", "## Scope"):
        assert section in policy


def test_every_package_of_src_has_an_init_module() -> None:
    """A directory of modules without ``__init__.py`` is an implicit namespace package:
    invisible to import-linter and to `packages.find` without namespaces."""
    missing = sorted(
        str(d.relative_to(ROOT))
        for d in (ROOT / "src" / "accord").rglob("*")
        if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
        and not (d / "__init__.py").exists()
    )
    assert missing == []


def test_the_sans_io_cores_import_no_io_or_face_package() -> None:
    """mls, content, transparency and wire take bytes and ``now`` and return values: none of
    them may import the server, the client, storage, federation, the bus or a face (the CLI
    once came in through ``python -m accord.mls.vectors``)."""
    import ast

    io = ("server", "client", "storage", "federation", "bus", "cli", "web", "interop")
    found = []
    for package in SANS_IO:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                found += [f"{path.relative_to(ROOT)}: {n}" for n in names
                          if n.split(".")[:2] in (["accord", p] for p in io)]
    assert found == []


def test_the_import_contracts_of_pyproject_hold() -> None:
    """`lint-imports` (import-linter) with the contracts of pyproject.toml."""
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "0 broken" in result.stdout


def test_the_shipped_package_holds_no_test_harness() -> None:
    """Process spawning, simulated devices, throwaway databases and vector generators are
    test code: they live in tests/ (``tests/harness.py``, ``tests/pg.py``,
    ``tests/vectors/generate.py``), and nothing in the package imports the tests."""
    import ast

    found = []
    for path in sorted((ROOT / "src" / "accord").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.relative_to(ROOT)}: {n}" for n in names
                      if n == "tests" or n.startswith("tests.")]
    found += [str(p.relative_to(ROOT)) for p in (ROOT / "src" / "accord").rglob("*.py")
              if p.name in ("harness.py", "generate.py", "testing.py")]
    assert found == []


GENERATED = ROOT / "src" / "accord" / "interop" / "proto"  # protoc's output, regenerated
MAX_MODULE_LINES = 500


def test_no_module_of_the_package_is_over_500_lines() -> None:
    """A module past ~500 lines holds more than one thing: split it along a seam and
    name each part for what it holds (generated protobuf code is exempt)."""
    over = sorted(
        f"{p.relative_to(ROOT)}: {n}"
        for p in (ROOT / "src" / "accord").rglob("*.py")
        if GENERATED not in p.parents
        and (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    )
    assert over == []


def test_no_module_imports_another_modules_private_name() -> None:
    """A name with a leading underscore is its module's own: a module that needs it from
    another asks for a public function (one rule in one place, issue 21). Importing a
    public name under a private alias is fine."""
    import ast

    found = []
    for path in (ROOT / "src" / "accord").rglob("*.py"):
        if GENERATED in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("accord"):
                found += [f"{path.relative_to(ROOT)}: {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []


# What the composition root (server/app.py) hands the engine to at start-up: the
# transparency log (open_log), which keeps it. The key loader takes ``store.secrets``
# (its engine only in ``signing_key_of``, for a provider this process does not run).
ENGINE_AT_START_UP = {("src/accord/server/app.py", "open_log")}
ENGINE_TAKERS = {"src/accord/server/transparency.py", "src/accord/federation/provider_key.py"}


def _dotted(node: object) -> str:
    import ast

    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def store_engine_uses(root: Path) -> list[tuple[str, str]]:
    """Every ``<...>store.engine`` outside accord.storage, with the call it is handed to."""
    import ast

    uses: list[tuple[str, str]] = []
    for path in sorted((root / "src" / "accord").rglob("*.py")):
        rel = str(path.relative_to(root))
        if rel.startswith("src/accord/storage/"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        handed: dict[int, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    handed[id(arg)] = _dotted(node.func)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr == "engine"
                    and _dotted(node.value).split(".")[-1] == "store"):
                uses.append((rel, handed.get(id(node), "")))
    return uses


def test_only_the_composition_root_reaches_the_stores_engine() -> None:
    """Services use the store's methods and area objects (``store.reports``,
    ``store.rendezvous``...; accord.storage.areas), never its SQL engine: no transaction
    is opened and no SQL function is called above storage. The one exception is the
    composition root's start-up, which hands the engine to the transparency log
    (issue 21); only that log and the key loader import the engine module."""
    import ast

    assert set(store_engine_uses(ROOT)) <= ENGINE_AT_START_UP
    takers = set()
    for path in (ROOT / "src" / "accord").rglob("*.py"):
        rel = str(path.relative_to(ROOT))
        if not rel.startswith("src/accord/storage/"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module == "accord.storage.engine":
                    takers.add(rel)
    assert takers <= ENGINE_TAKERS


def test_the_store_engine_check_sees_a_service_reaching_past_the_store(tmp_path: Path) -> None:
    """The check above fails on a reintroduced use (a copy of a service written back to
    the SQL function over ``p.store.engine``)."""
    service = tmp_path / "src" / "accord" / "server" / "rendezvous.py"
    service.parent.mkdir(parents=True)
    text = (ROOT / "src" / "accord" / "server" / "rendezvous.py").read_text(encoding="utf-8")
    service.write_text(text.replace("await p.store.rendezvous.get(slot_id, now)",
                                    "await sql.get(p.store.engine, slot_id, now)"))
    assert store_engine_uses(tmp_path) == [("src/accord/server/rendezvous.py", "sql.get")]
