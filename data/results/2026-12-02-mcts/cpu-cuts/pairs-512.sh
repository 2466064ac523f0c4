#!/usr/bin/env bash
# The later pairs of cpu-cuts/README.md (15:05-15:20 UTC, the load had fallen to 2-4): mctx B = 64, perfkit crossgame at
# 512 games in flight; perfkit at 256, mctx B = 256; perfkit at 512, mctx B = 64. Same commands and tags as run.sh.
#   PYTHON=.venv/bin/python bash data/results/2026-12-02-mcts/cpu-cuts/pairs-512.sh
set -euo pipefail
PYTHON=${PYTHON:-python}
ANCHOR_PYTHON=${ANCHOR_PYTHON:-/tmp/anchor-jax/bin/python}
ANCHOR=${ANCHOR:-data/anchors/mctx_connect_four.py}
HERE=data/results/2026-12-02-mcts/cpu-cuts
RUNS=${RUNS:-/tmp/mcts-runs-final}
OUT=$HERE/pairs-512.jsonl
eval "$(sed -n '/^tag() {/,/^}/p' "$HERE/run.sh")"
anchor() {
  JAX_PLATFORMS=cpu XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
    "$ANCHOR_PYTHON" "$ANCHOR" --batch "$1" --mode stream --plies 32 --stream-rounds 2
}
pk() {
  PYTHONPATH=$PWD "$PYTHON" -m perfkit bench --search mcts --game connect_four --preset small --simulations 50 --threads 1 \
    --no-progress --strategy crossgame --out "$RUNS/p512" --curves "$RUNS/curves" --json "$@"
}
: > "$OUT"
anchor 64 | tag 3 mctx 64 >> "$OUT"
pk --concurrency 512 --games 1536 | tag 3 perfkit-crossgame 512 >> "$OUT"
pk --concurrency 256 --games 768 | tag 3 perfkit-crossgame 256 >> "$OUT"
anchor 256 | tag 3 mctx 256 >> "$OUT"
pk --concurrency 512 --games 1536 | tag 4 perfkit-crossgame 512 >> "$OUT"
anchor 64 | tag 4 mctx 64 >> "$OUT"
