"""House rules that keep the code readable, checked so they stay true.

No function in perfkit/ is over 60 lines, and there is no exemption: a longer one is split
into read-named steps until it reads in one screen.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "perfkit"
MAX_LINES = 60


def long_functions(package: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_LINES:
                    found.append(f"{path.relative_to(package.parent)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_is_over_60_lines():
    assert long_functions() == []


def test_the_check_finds_a_long_function(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (package / "long.py").write_text(f'def long():\n    """Long on purpose: no longer an excuse."""\n{body}\n')
    (package / "short.py").write_text("def short():\n    return 1\n")
    assert long_functions(package) == [f"pkg/long.py:1 long ({MAX_LINES + 2} lines)"]
