#!/usr/bin/env bash
# The figures of README.md: greenlet vs threads vs the code before them (f240d92), in rounds
# that rotate the order, a `perfkit curve` of the same network just before every run.
#   BASE=/tmp/base (git worktree add --detach /tmp/base f240d92)  OUT=/tmp/greenlet-bench  ROUNDS=3
#   PY=python of a venv with perfkit's dependencies; run from anywhere.
#   VARIANTS="greenlet threads today" (default); NAME-w2 runs scheduler NAME with --workers 2.
#   ENGINES="mcts azg" (default); TASKSET="taskset -c 1" pins every process to one core.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
PY=${PY:-python}
BASE=${BASE:-/tmp/base}
OUT=${OUT:-/tmp/greenlet-bench}
ROUNDS=${ROUNDS:-3}
VARIANTS=(${VARIANTS:-greenlet threads today})
ENGINES=${ENGINES:-mcts azg}
TASKSET=${TASKSET:-}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
COMMON=(--game connect_four --simulations 50 --games 64 --strategy crossgame --threads 1 --no-progress --json)

bench() {  # variant engine tag
  # `python -m` puts the working directory first on sys.path: run each variant from its own tree.
  local variant=$1 engine=$2 tag=$3 tree=$ROOT extra=(--scheduler "${1%-w2}")
  if [ "$variant" = today ]; then tree=$BASE extra=(); fi
  if [ "${variant%-w2}" != "$variant" ]; then extra+=(--workers 2); fi  # NAME-w2: in 2 worker processes
  (cd "$ROOT" && PYTHONPATH=$ROOT $TASKSET "$PY" -m perfkit curve --game connect_four --preset small --threads 1 --no-fold \
      --max-batch 64 --time-budget 10 --no-progress --json --out "$OUT/$tag/curves/$(date +%H%M%S)" > /dev/null)
  local TIMEFORMAT="%U %S" cpu  # the whole process's user and system CPU seconds (start-up included)
  cpu=$( { time (cd "$tree" && PYTHONPATH=$tree $TASKSET "$PY" -m perfkit bench --engine "$engine" "${COMMON[@]}" "${extra[@]}" \
      --out "$OUT/$tag/runs/$variant" > "$OUT/$tag/$variant-$(date +%H%M%S).json" 2>> "$OUT/$tag/stderr.txt") ; } 2>&1 )
  echo "$cpu" > "$(ls -dt "$OUT/$tag/runs/$variant"/*/ | head -1)/process_cpu.txt"
  echo "$(date +%T) $tag $variant done; load $(cut -d' ' -f1-3 /proc/loadavg)"
}

for tag in $ENGINES; do
  engine=openspiel-mcts
  [ "$tag" = azg ] && engine=$ROOT/examples/azg_mcts.py:engine
  mkdir -p "$OUT/$tag"
  n=${#VARIANTS[@]} orders=()
  for ((k = 0; k < n; k++)); do  # round r starts at variant r: each takes every place in turn
    orders+=("$(for ((j = 0; j < n; j++)); do printf '%s ' "${VARIANTS[$(( (k + j) % n ))]}"; done)")
  done
  rounds=$ROUNDS; [ "$tag" = azg ] && rounds=${AZG_ROUNDS:-2}  # the example is slower per move
  for r in $(seq "$rounds"); do
    for variant in ${orders[$(( (r - 1) % n ))]}; do
      bench "$variant" "$engine" "$tag"
    done
  done
  PYTHONPATH=$ROOT "$PY" "$HERE/analyze.py" "$OUT/$tag/curves" "$OUT"/"$tag"/runs/*/* | tee "$OUT/$tag/table.txt"
done
