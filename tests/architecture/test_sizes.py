"""Size budgets, where size hurts: a module over 600 lines, a class over 300, a function over 80. Each exception is
listed with its size and its reason in docs/dev/CONVENTIONS.md, and the list only shrinks: an item that grows past
its listed size fails, and so does one that has come under budget but is still listed (take it off)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUDGET = {"module": 600, "class": 300, "function": 80}
_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*(module|class|function)\s*\|\s*(\d+)\s*\|\s*(.+?)\s*\|\s*$")


def measured() -> dict[str, tuple[str, int]]:
    """Every module, class and function of the product over its budget: name → (kind, lines)."""
    out: dict[str, tuple[str, int]] = {}
    for path in sorted((ROOT / "studio").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        source = path.read_text(encoding="utf-8")
        lines = source.count("\n")
        if lines > BUDGET["module"]:
            out[rel] = ("module", lines)

        def visit(node: ast.AST, prefix: str, rel: str = rel) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                    kind = "class" if isinstance(child, ast.ClassDef) else "function"
                    name = f"{prefix}{child.name}"
                    size = (child.end_lineno or child.lineno) - child.lineno + 1
                    if size > BUDGET[kind]:
                        out[f"{rel}::{name}"] = (kind, size)
                    visit(child, name + ".")
                else:
                    visit(child, prefix)

        visit(ast.parse(source), "")
    return out


def listed() -> dict[str, tuple[str, int, str]]:
    text = (ROOT / "docs" / "dev" / "CONVENTIONS.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        if m := _ROW.match(line):
            rows[m.group(1)] = (m.group(2), int(m.group(3)), m.group(4))
    return rows


def test_every_item_over_budget_is_listed_with_its_reason_and_none_grows():
    over, exceptions = measured(), listed()
    unlisted = {k: v for k, v in over.items() if k not in exceptions}
    assert not unlisted, (f"over budget and not listed in docs/dev/CONVENTIONS.md (split it by role, or list it "
                          f"with its reason): {unlisted}")  # fmt: skip
    grown = {k: (v[1], exceptions[k][1]) for k, v in over.items() if v[1] > exceptions[k][1]}
    assert not grown, f"grew past its listed size (now, listed): {grown}"
    for name, (_kind, _size, reason) in exceptions.items():
        assert len(reason) > 20, f"{name}: say why it is an exception"


def test_the_list_only_shrinks():
    over, exceptions = measured(), listed()
    stale = sorted(k for k in exceptions if k not in over)
    assert not stale, (
        f"under budget now (or gone): take them off the list in docs/dev/CONVENTIONS.md: {stale}"
    )
    loose = {
        k: (over[k][1], exceptions[k][1]) for k in exceptions if k in over and over[k][1] < exceptions[k][1]
    }
    assert not loose, f"smaller now: lower the listed size to the new one (now, listed): {loose}"
