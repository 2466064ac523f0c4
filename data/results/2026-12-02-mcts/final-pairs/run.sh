#!/usr/bin/env bash
# perfkit's MCTS crossgame against mctx + pgx after the merged CPU cuts (main, 2 December ~15:25 UTC):
# 3 alternating rounds of (mctx B=64, perfkit 256 in flight, mctx B=256, perfkit 512 in flight), same net shape
# (4 blocks x 32 channels), Connect Four, 50 simulations, one thread each. The anchor runs in its own venv
# (data/anchors/README.md).  Run from the repository root:
#   PYTHON=.venv/bin/python bash data/results/2026-12-02-mcts/final-pairs/run.sh
set -euo pipefail
PYTHON=${PYTHON:-python}
ANCHOR_PYTHON=${ANCHOR_PYTHON:-/tmp/anchor-jax/bin/python}
ANCHOR=${ANCHOR:-data/anchors/mctx_connect_four.py}
HERE=data/results/2026-12-02-mcts/final-pairs
RUNS=${RUNS:-/tmp/mcts-final-pairs}
OUT=$HERE/pairs.jsonl
eval "$(sed -n '/^tag() {/,/^}/p' data/results/2026-12-02-mcts/cpu-cuts/run.sh)"
anchor() {
  JAX_PLATFORMS=cpu XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
    "$ANCHOR_PYTHON" "$ANCHOR" --batch "$1" --mode stream --plies 32 --stream-rounds 2
}
pk() {
  PYTHONPATH=$PWD "$PYTHON" -m perfkit bench --search mcts --game connect_four --preset small --simulations 50 --threads 1 \
    --no-progress --strategy crossgame --out "$RUNS/runs" --curves "$RUNS/curves" --json "$@"
}
: > "$OUT"
for round in 1 2 3; do
  anchor 64 | tag "$round" mctx 64 >> "$OUT"
  pk --concurrency 256 --games 768 | tag "$round" perfkit-crossgame 256 >> "$OUT"
  anchor 256 | tag "$round" mctx 256 >> "$OUT"
  pk --concurrency 512 --games 1536 | tag "$round" perfkit-crossgame 512 >> "$OUT"
done
