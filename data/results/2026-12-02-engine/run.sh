#!/usr/bin/env bash
# Issue 21's benchmark: an engine's 64 Connect Four games (50 simulations), greenlet vs threads
# (this tree) vs today (BASE: the code before issue 21's work, its default thread server), in
# rounds that rotate the order; the engine network's curve (`perfkit curve --engine`) is
# measured just before every run, and each run is compared with the curve nearest in time.
#   PY=python of a venv with perfkit's dependencies   BASE=/tmp/base (git worktree add --detach /tmp/base ffda32f)
#   OUT=/tmp/engine-bench  ROUNDS=3  GAMES=64  ENGINES="mcts azg"  VARIANTS="greenlet threads today"
#   (NAME-w2: scheduler NAME with --workers 2; the main pass ran before --curves was passed to bench:
#   its runs' own forward ÷ curve read n/a, analyze.py computes it the same way from the same curve)
# Then: PYTHONPATH=ROOT PY analyze.py OUT > table.md  (pairs.jsonl: one line per run, beside this file)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
PY=${PY:-python}
BASE=${BASE:-/tmp/base}
OUT=${OUT:-/tmp/engine-bench}
ROUNDS=${ROUNDS:-3}
GAMES=${GAMES:-64}
VARIANTS=(${VARIANTS:-greenlet threads today})
ENGINES=${ENGINES:-mcts azg}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
COMMON=(--game connect_four --simulations 50 --games "$GAMES" --concurrency "$GAMES" --strategy crossgame --threads 1
        --preset small --no-progress --json)

bench() {  # variant engine tag round
  # `python -m` puts the working directory first on sys.path: run each variant from its own tree.
  local variant=$1 engine=$2 tag=$3 round=$4 tree=$ROOT extra=(--scheduler "${1%-w2}")
  local curves="$OUT/$tag/curves/r$round-$variant"
  extra+=(--curves "$curves")  # the run's own forward ÷ curve against the curve just measured
  if [ "${variant%-w2}" != "$variant" ]; then extra+=(--workers 2); fi  # NAME-w2: its games in 2 worker processes
  if [ "$variant" = today ]; then tree=$BASE extra=(); fi
  (cd "$ROOT" && PYTHONPATH=$ROOT "$PY" -m perfkit curve --engine "$engine" --game connect_four --preset small --threads 1 \
      --max-batch 64 --time-budget 10 --no-progress --json --out "$curves" > /dev/null)
  local load0 load1
  load0=$(cut -d' ' -f1 /proc/loadavg)
  (cd "$tree" && PYTHONPATH=$tree "$PY" -m perfkit bench --engine "$engine" "${COMMON[@]}" "${extra[@]}" \
      --out "$OUT/$tag/runs/r$round-$variant" > "$OUT/$tag/r$round-$variant.json" 2>> "$OUT/$tag/stderr.txt")
  load1=$(cut -d' ' -f1 /proc/loadavg)
  echo "$load0 $load1" > "$(ls -dt "$OUT/$tag/runs/r$round-$variant"/*/ | head -1)/loadavg.txt"
  echo "$(date +%T) $tag r$round $variant done; load $(cut -d' ' -f1-3 /proc/loadavg)"
}

for tag in $ENGINES; do
  engine=openspiel-mcts
  [ "$tag" = azg ] && engine=$ROOT/examples/azg_mcts.py:engine
  mkdir -p "$OUT/$tag"
  n=${#VARIANTS[@]}
  for r in $(seq "$ROUNDS"); do  # round r starts at variant r-1: each takes every place in turn
    for ((j = 0; j < n; j++)); do
      bench "${VARIANTS[$(( (r - 1 + j) % n ))]}" "$engine" "$tag" "$r"
    done
  done
done
