"""docs/THREATS.md and the tests that prove its rows stay in step.

A test proves a row by naming it: its function name starts with the row ID
(``test_T05_...``, several allowed: ``test_T06_T07_...``) or its docstring names
the ID. A row with no such test, or a test naming a row the catalogue lacks,
is an error.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\|\s*(T\d\d)\s*\|", re.MULTILINE)
NAME_PREFIX = re.compile(r"^test_((?:T\d\d_)+)")
ROW_ID = re.compile(r"\bT\d\d\b")


def catalogue_rows(text: str) -> set[str]:
    """The row IDs of the catalogue's tables."""
    return set(ROW.findall(text))


def rows_named_by(source: str) -> set[str]:
    """The row IDs that the test functions of one module name."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not node.name.startswith("test_"):
            continue
        prefix = NAME_PREFIX.match(node.name)
        if prefix:
            named.update(re.findall(r"T\d\d", prefix.group(1)))
        named.update(ROW_ID.findall(ast.get_docstring(node) or ""))
    return named


def named_rows_by_file() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        rows = rows_named_by(path.read_text(encoding="utf-8"))
        if rows:
            found[str(path.relative_to(ROOT))] = rows
    return found


def test_every_row_has_a_test_and_every_named_row_exists() -> None:
    rows = catalogue_rows((ROOT / "docs" / "THREATS.md").read_text(encoding="utf-8"))
    assert {f"T{n:02d}" for n in range(1, 19)} <= rows
    by_file = named_rows_by_file()
    named = set().union(*by_file.values())
    assert sorted(rows - named) == [], "rows with no test named for them"
    unknown = {f: sorted(r - rows) for f, r in by_file.items() if r - rows}
    assert unknown == {}, "tests naming rows that docs/THREATS.md does not have"


def test_the_checker_sees_names_docstrings_and_missing_rows() -> None:
    """The check itself: it finds IDs in names and docstrings, and only in tests."""
    source = '''
def test_T06_T07_split_view(): pass
def test_plain():
    """Shows T42 holds."""
def helper_T05_not_a_test(): pass
async def test_T03_async(): pass
'''
    assert rows_named_by(source) == {"T06", "T07", "T42", "T03"}
    table = "| ID | threat |\n| --- | --- |\n| T01 | a | b |\n| T02 | c | d |\n"
    assert catalogue_rows(table) == {"T01", "T02"}
