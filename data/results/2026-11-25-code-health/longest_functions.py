import ast, pathlib, sys
rows = []
for p in pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "perfkit").rglob("*.py"):
    for n in ast.walk(ast.parse(p.read_text())):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            rows.append((n.end_lineno - n.lineno + 1, f"{p}:{n.lineno}", n.name))
for r in sorted(rows, reverse=True)[:12]:
    print(*r)
print("over 60 lines:", sum(r[0] > 60 for r in rows))
