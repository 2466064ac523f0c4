#!/usr/bin/env bash
# Issue 19's speed check: Hex crossgame on `small`, the session's starting commit (ffda32f, checked out at $BASE)
# against this one, in alternating pairs. Run from the repository root:
#   git worktree add --detach /tmp/base ffda32f
#   PYTHON=.venv/bin/python BASE=/tmp/base bash data/results/2026-12-02-one-pipeline/hex-pairs.sh
set -euo pipefail
PYTHON=${PYTHON:-python}
BASE=${BASE:-/tmp/base}
OUT=${OUT:-data/results/2026-12-02-one-pipeline/hex-pairs.jsonl}  # session 3's rerun: OUT=.../hex-pairs-final.jsonl
ARGS="bench --strategy crossgame --preset small --games 64 --threads 1 --device cpu --no-progress --json"
one() {  # $1: tag, $2: source tree
  (cd "$2" && PYTHONPATH=$PWD "$OLDPWD/$PYTHON" -m perfkit $ARGS --out /tmp/hex-pairs/$1) | "$PYTHON" -c "
import json, os, sys
r = json.loads(sys.stdin.read()); r = r['runs'][0] if 'runs' in r else r
print(json.dumps({'tree': '$1', 'moves_per_s': r['moves_per_s'], 'calls': r['calls'], 'boards': r['boards'],
                  'game_digest': r['game_digest'], 'loadavg': os.getloadavg()}))"
}
: > "$OUT"
for pair in 1 2 3 4 5; do
  one before "$BASE" >> "$OUT"
  one after "$PWD" >> "$OUT"
done
