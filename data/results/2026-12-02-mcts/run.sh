#!/usr/bin/env bash
# Issue 20's figures: perfkit's own MCTS (--search mcts) on Connect Four against mctx + pgx, OpenSpiel's
# MCTSBot through the engine path, and Hex. Run from the repository root:
#   PYTHON=/path/to/venv/bin/python ANCHOR_PYTHON=/tmp/anchor-jax/bin/python bash data/results/2026-12-02-mcts/run.sh
# The anchor's venv is set up once as data/anchors/README.md says (JAX is not a perfkit dependency).
set -euo pipefail
PYTHON=${PYTHON:-python}
ANCHOR_PYTHON=${ANCHOR_PYTHON:-/tmp/anchor-jax/bin/python}
ANCHOR=${ANCHOR:-data/anchors/mctx_connect_four.py}
HERE=data/results/2026-12-02-mcts
RUNS=${RUNS:-/tmp/mcts-runs}  # run directories stay outside the repository
PAIRS=${PAIRS:-3}
export PYTHONPATH=$PWD
pk() { "$PYTHON" -m perfkit "$@"; }
MCTS="--search mcts --game connect_four --preset small --simulations 50 --threads 1 --no-progress"

# The forward limit that `efficiency` divides by (torch, 1 thread, small on connect_four).
pk curve --preset small --game connect_four --device cpu --threads 1 --max-batch 512 --out "$RUNS/curves" \
  --no-progress > "$HERE/curve.txt"

# The three strategies side by side (the command), 64 games.
pk bench $MCTS --games 64 --strategy all --out "$RUNS/all" --curves "$RUNS/curves" --verbose > "$HERE/bench-all-64.txt"

# Alternating pairs: mctx + pgx (B = 64, games auto-reset) and perfkit crossgame at 64 and 256 games in flight
# (games stream: a finished game's slot starts the next, as the anchor's stream mode).
: > "$HERE/pairs.jsonl"
for i in $(seq 1 "$PAIRS"); do
  JAX_PLATFORMS=cpu XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
    "$ANCHOR_PYTHON" "$ANCHOR" --batch 64 --mode stream --plies 32 --stream-rounds 2 \
    | sed "s/^{/{\"pair\": $i, /" >> "$HERE/pairs.jsonl"
  for inflight in 64 256; do
    pk bench $MCTS --strategy crossgame --concurrency $inflight --games $((inflight * 3)) --out "$RUNS/pairs" \
      --curves "$RUNS/curves" --json \
      | "$PYTHON" -c "import json,sys,os; r=json.load(sys.stdin)['runs'][0]; r.update(pair=$i, what='perfkit-crossgame', in_flight=$inflight, loadavg_1_5_15=os.getloadavg()); print(json.dumps(r))" \
      >> "$HERE/pairs.jsonl"
  done
done

# OpenSpiel's MCTSBot, unmodified, batched across 64 games by perfkit's engine path.
pk bench --engine openspiel-mcts --game connect_four --simulations 50 --games 64 --strategy crossgame --threads 1 \
  --no-progress --out "$RUNS/engine" --verbose > "$HERE/engine-openspiel-mcts.txt"

# Hex on small (9x9) through the same search.
pk bench --search mcts --game hex --preset small --simulations 50 --threads 1 --no-progress --games 64 \
  --strategy crossgame --out "$RUNS/hex" --curves "$RUNS/curves" --verbose > "$HERE/hex-crossgame-64.txt"

# Where the gap comes from: the forward pass alone, torch (perfkit curve) and XLA (the anchor), alternating.
: > "$HERE/forward.jsonl"
for i in 1 2; do
  JAX_PLATFORMS=cpu XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
    "$ANCHOR_PYTHON" "$ANCHOR" --batch 64 --mode none --forward 32,64,128,256 --forward-seconds 3 \
    | sed "s/^{/{\"pair\": $i, /" >> "$HERE/forward.jsonl"
  pk curve --preset small --game connect_four --device cpu --threads 1 --max-batch 256 --time-budget 15 \
    --out "$RUNS/curves-$i" --json --no-progress \
    | "$PYTHON" -c "import json,sys; c=json.load(sys.stdin); print(json.dumps({'pair': $i, 'what': 'torch-curve', 'boards_per_s': {p['batch']: p['boards_per_s'] for p in c['points']}}))" \
    >> "$HERE/forward.jsonl"
done

# The same search on OpenSpiel's own connect_four through the adapter (states cloned one by one) beside the built-in.
for g in connect_four openspiel:connect_four; do
  pk bench $MCTS --game "$g" --games 64 --strategy crossgame --out "$RUNS/adapter" --verbose
done > "$HERE/adapter-vs-native.txt"

# The same pairs without subtree reuse (--no-reuse: a fresh tree each move, as MCTSBot and mctx search).
for i in 1 2; do
  JAX_PLATFORMS=cpu XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
    "$ANCHOR_PYTHON" "$ANCHOR" --batch 64 --mode stream --plies 32 --stream-rounds 2 \
    | sed "s/^{/{\"pair\": \"no-reuse-$i\", /" >> "$HERE/pairs.jsonl"
  pk bench $MCTS --strategy crossgame --concurrency 256 --games 512 --no-reuse --out "$RUNS/pairs" \
    --curves "$RUNS/curves" --json \
    | "$PYTHON" -c "import json,sys,os; r=json.load(sys.stdin)['runs'][0]; r.update(pair='no-reuse-$i', what='perfkit-crossgame-no-reuse', in_flight=256, loadavg_1_5_15=os.getloadavg()); print(json.dumps(r))" \
    >> "$HERE/pairs.jsonl"
done

"$PYTHON" "$HERE/summarize.py" "$HERE" > "$HERE/figures.md"
cat "$HERE/figures.md"
