#!/usr/bin/env bash
# Issue 21, 2 greenlet groups: OpenSpiel's MCTSBot, 64 Connect Four games, 50 simulations, crossgame,
# --scheduler greenlet with 1 group vs 2 groups (this tree) vs today (BASE: the code before issue 21's
# work, ffda32f: its default thread server, eager forward), in rounds that rotate the order.
#   PY=python of a venv with perfkit's dependencies   BASE=/tmp/base (git worktree add --detach /tmp/base ffda32f)
#   OUT=/tmp/gb  ROUNDS=3
# Writes pairs.jsonl beside this file (one line per run: variant, round, load before/after, the run's figures);
# table.py makes the table from it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
PY=${PY:-python}
BASE=${BASE:-/tmp/base}
OUT=${OUT:-/tmp/gb}
ROUNDS=${ROUNDS:-3}
VARIANTS=(g1 g2 today)
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
COMMON=(--engine openspiel-mcts --game connect_four --simulations 50 --games 64 --concurrency 64 --strategy crossgame
        --threads 1 --preset small --no-progress --json)
mkdir -p "$OUT"
: > "$HERE/pairs.jsonl"
for r in $(seq "$ROUNDS"); do
  for ((j = 0; j < ${#VARIANTS[@]}; j++)); do  # round r starts at variant r-1: each takes every place in turn
    v=${VARIANTS[$(( (r - 1 + j) % ${#VARIANTS[@]} ))]}
    tree=$ROOT extra=(--scheduler greenlet --groups "${v#g}")
    if [ "$v" = today ]; then tree=$BASE extra=(); fi
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    (cd "$tree" && PYTHONPATH=$tree "$PY" -m perfkit bench "${COMMON[@]}" "${extra[@]}" --out "$OUT/runs/r$r-$v" \
        > "$OUT/r$r-$v.json" 2>> "$OUT/stderr.txt")
    load1=$(cut -d' ' -f1-3 /proc/loadavg)
    commit=$(git -C "$tree" rev-parse --short HEAD)
    "$PY" - "$OUT/r$r-$v.json" "$v" "$r" "$load0" "$load1" "$commit" "$(date -u +%FT%TZ)" >> "$HERE/pairs.jsonl" <<'PYEOF'
import json, sys
path, variant, rnd, load0, load1, commit, when = sys.argv[1:]
run = json.load(open(path))["runs"][0]
keys = ("moves_per_s", "moves", "wall_s", "process_cpu_s", "mean_batch", "games_fill", "live_per_call", "calls",
        "cpu_side_cap_moves_per_s", "network_wall_share", "forward_boards_per_s", "game_digest", "cache_hit_share")
print(json.dumps({"variant": variant, "round": int(rnd), "commit": commit, "finished": when,
                  "load_before": load0, "load_after": load1, **{k: run.get(k) for k in keys}}))
PYEOF
    echo "$(date +%T) r$r $v done; load $load0 -> $load1"
  done
done
