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


def hex_special_cases(package: Path = PACKAGE) -> list[str]:
    """Places outside perfkit/game/ that single out Hex: its classes (HexGame, HexNet used rather
    than defined), `perfkit.game.hex`, a "hex" literal, or a comparison with DEFAULT_GAME.
    A game describes itself instead (`perfkit.game.board_sized`, `Game.describe`, `get_game`)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        where = path.relative_to(package.parent)
        if where.parts[1] == "game":
            continue
        defines_default = where.as_posix() == "perfkit/types.py"  # DEFAULT_GAME = "hex", the one "hex" allowed
        for node in ast.walk(ast.parse(path.read_text())):
            name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
            hit = (
                name in ("HexGame", "HexNet")
                or (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("perfkit.game.hex"))
                or (isinstance(node, ast.Constant) and node.value == "hex" and not defines_default)
                or (isinstance(node, ast.Compare) and any(
                    isinstance(side, ast.Name) and side.id == "DEFAULT_GAME" for side in [node.left, *node.comparators]))
            )
            if hit:
                found.append(f"{where}:{getattr(node, 'lineno', '?')} {ast.unparse(node)[:60]}")
    return found


def test_no_hex_special_case_outside_game():
    assert hex_special_cases() == []


def test_the_check_finds_a_hex_special_case(tmp_path):
    (tmp_path / "perfkit" / "analysis").mkdir(parents=True)
    (tmp_path / "perfkit" / "analysis" / "x.py").write_text(
        "from perfkit.game.hex import HexGame\nif game == DEFAULT_GAME:\n    game = HexGame(9)\nname = 'hex'\n")
    assert len(hex_special_cases(tmp_path / "perfkit")) == 4
