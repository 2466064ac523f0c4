#!/usr/bin/env bash
# Issue 20 after the overlap work (wt-mcts): perfkit's MCTS crossgame with a device thread (--groups 2 --inflight 2)
# against mctx + pgx, alternating, plus Hex, the three strategies and OpenSpiel's MCTSBot through the engine path.
# Run from the repository root:
#   PYTHON=.venv/bin/python ANCHOR_PYTHON=/tmp/anchor-jax/bin/python \
#     bash data/results/2026-12-02-mcts-overlap/run.sh
# Every JSON line of pairs.jsonl / hex.jsonl gets its round, what it is and the load average (tag()).
set -euo pipefail
PYTHON=${PYTHON:-python}
ANCHOR_PYTHON=${ANCHOR_PYTHON:-/tmp/anchor-jax/bin/python}
ANCHOR=${ANCHOR:-data/anchors/mctx_connect_four.py}
HERE=data/results/2026-12-02-mcts-overlap
RUNS=${RUNS:-/tmp/mcts-overlap-runs}  # run directories stay outside the repository
ROUNDS=${ROUNDS:-3}
HEX_ROUNDS=${HEX_ROUNDS:-2}
PARTS=${PARTS:-"curve pairs hex all engine"}  # and pairs64, pairs256, order, cap: run apart
part() { [[ " $PARTS " == *" $1 "* ]]; }
ROOT=$PWD
eval "$(sed -n '/^tag() {/,/^}/p' data/results/2026-12-02-mcts/cpu-cuts/run.sh)"
pk() { PYTHONPATH=$ROOT "$PYTHON" -m perfkit "$@"; }
# mctx + pgx, stream mode: one thread (XLA_FLAGS as the anchor README), or XLA's default threads (no XLA_FLAGS).
anchor1() {
  JAX_PLATFORMS=cpu XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
    "$ANCHOR_PYTHON" "$ANCHOR" --batch "$1" --mode stream --plies 32 --stream-rounds 2
}
anchor_default() { JAX_PLATFORMS=cpu "$ANCHOR_PYTHON" "$ANCHOR" --batch "$1" --mode stream --plies 32 --stream-rounds 2; }
MCTS="--search mcts --simulations 50 --threads 1 --no-progress --preset small"
# perfkit crossgame: a device thread (groups 2, inflight 2) and a 1M-entry cache unless told otherwise.
cf() { pk bench $MCTS --game connect_four --strategy crossgame --cache-size 1000000 --out "$RUNS/pairs" --curves "$RUNS/curves" \
  --json "$@"; }

# The forward limit that `efficiency` divides by (torch, 1 thread), measured in this session.
part curve && { uptime; pk curve --preset small --game connect_four --device cpu --threads 1 --max-batch 1024 \
  --out "$RUNS/curves" --no-progress; uptime; } > "$HERE/curve.txt"

part pairs && : > "$HERE/pairs.jsonl"
part pairs && for i in $(seq 1 "$ROUNDS"); do
  anchor1 64 | tag "$i" mctx-1thread 64 >> "$HERE/pairs.jsonl"
  cf --concurrency 64 --games 192 --groups 2 --inflight 2 | tag "$i" perfkit-g2i2 64 >> "$HERE/pairs.jsonl"
  anchor1 256 | tag "$i" mctx-1thread 256 >> "$HERE/pairs.jsonl"
  cf --concurrency 256 --games 768 --groups 2 --inflight 2 | tag "$i" perfkit-g2i2 256 >> "$HERE/pairs.jsonl"
  anchor_default 64 | tag "$i" mctx-xla-default-threads 64 >> "$HERE/pairs.jsonl"
  cf --concurrency 512 --games 1536 --groups 2 --inflight 2 | tag "$i" perfkit-g2i2 512 >> "$HERE/pairs.jsonl"
  anchor_default 256 | tag "$i" mctx-xla-default-threads 256 >> "$HERE/pairs.jsonl"
  cf --concurrency 512 --games 1536 | tag "$i" perfkit-g1i1 512 >> "$HERE/pairs.jsonl"
done

# 64 games in flight without a device thread (groups 1, inflight 1) beside mctx at B = 64 (one thread), alternating;
# run after the rest (PARTS=pairs64), once pairs.jsonl showed a device thread does not pay at 64 in flight.
part pairs64 && for i in $(seq 1 "$ROUNDS"); do
  anchor1 64 | tag "$i" mctx-1thread 64 >> "$HERE/pairs64.jsonl"
  cf --concurrency 64 --games 192 | tag "$i" perfkit-g1i1 64 >> "$HERE/pairs64.jsonl"
done

# 256 in flight without a device thread beside mctx at B = 256 (one thread), alternating; run apart (PARTS=pairs256).
part pairs256 && for i in $(seq 1 "$ROUNDS"); do
  anchor1 256 | tag "$i" mctx-1thread 256 >> "$HERE/pairs256.jsonl"
  cf --concurrency 256 --games 768 | tag "$i" perfkit-g1i1 256 >> "$HERE/pairs256.jsonl"
done

# groups 1 against groups 2 + inflight 2 at 512 in flight, perfkit alone, in the other order than in the pairs
# (there groups 1 always ran last); run apart (PARTS=order).
part order && for i in 1 2; do
  cf --concurrency 512 --games 1536 | tag "$i" perfkit-g1i1 512 >> "$HERE/order.jsonl"
  cf --concurrency 512 --games 1536 --groups 2 --inflight 2 | tag "$i" perfkit-g2i2 512 >> "$HERE/order.jsonl"
done

# groups 1 at 512 in flight with calls capped at 128 boards (the traced forward is cheaper per board there,
# forward-batch.txt) against the default cap (1024), alternating; run apart (PARTS=cap).
part cap && for i in 1 2; do
  cf --concurrency 512 --games 1536 --max-batch 128 | tag "$i" perfkit-g1i1-maxbatch128 512 >> "$HERE/cap.jsonl"
  cf --concurrency 512 --games 1536 | tag "$i" perfkit-g1i1 512 >> "$HERE/cap.jsonl"
done

# Hex on `small` (9x9), perfkit only (mctx has no Hex), alternating 64 and 256 in flight.
part hex && { uptime; pk curve --preset small --game hex --device cpu --threads 1 --max-batch 1024 --out "$RUNS/curves" \
  --no-progress; uptime; } > "$HERE/curve-hex.txt"
part hex && : > "$HERE/hex.jsonl"
part hex && for i in $(seq 1 "$HEX_ROUNDS"); do
  for inflight in 64 256; do
    pk bench $MCTS --game hex --strategy crossgame --cache-size 1000000 --groups 2 --inflight 2 --concurrency $inflight \
      --games $((inflight > 128 ? inflight : 2 * inflight)) --out "$RUNS/hex" --curves "$RUNS/curves" --json \
      | tag "$i" perfkit-hex-g2i2 $inflight >> "$HERE/hex.jsonl"
  done
done

# The command: the three strategies side by side, 64 games, defaults.
part all && { uptime; pk bench $MCTS --game connect_four --games 64 --strategy all --out "$RUNS/all" --curves "$RUNS/curves" \
  --verbose; uptime; } > "$HERE/bench-all-64.txt" 2>&1

# OpenSpiel's MCTSBot, unmodified, batched across 64 games by perfkit's engine path.
part engine && { uptime; pk bench --engine openspiel-mcts --game connect_four --simulations 50 --games 64 --strategy crossgame \
  --threads 1 --no-progress --out "$RUNS/engine" --curves "$RUNS/curves" --verbose; uptime; } > "$HERE/engine-openspiel-mcts.txt" 2>&1
true  # a part not run is not a failure
