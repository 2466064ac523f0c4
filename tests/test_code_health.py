"""House rules that keep the code readable, checked so they stay true.

A function over 60 lines says why in its docstring ("Long on purpose: ..."); everything else
is split until it reads in one screen.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "perfkit"
MAX_LINES = 60


def long_functions_without_a_reason() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_LINES and "Long on purpose" not in (ast.get_docstring(node) or ""):
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_every_long_function_says_why():
    assert long_functions_without_a_reason() == []
