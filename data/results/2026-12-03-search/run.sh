#!/usr/bin/env bash
# Alternating rounds, one machine, nothing else of ours running: mctx + pgx (B = 64 and 256, XLA's default threads)
# beside perfkit's MCTS crossgame at 512 games in flight (this session's search; "before" = adfc3b2, the previous
# session's landing, at 1 torch thread) and OpenSpiel's MCTSBot through the engine path beside "today" (ffda32f,
# before issue 21's work). Each perfkit MCTS run divides its boards/s by a curve measured first (`perfkit curve`,
# 1 and 2 threads) for its efficiency. Run from the repository root:
#   git worktree add --detach /tmp/base ffda32f && git worktree add --detach /tmp/before adfc3b2
#   python3 -m venv /tmp/anchor-jax && /tmp/anchor-jax/bin/pip install jax jaxlib mctx pgx dm-haiku
#   PYTHON=.venv/bin/python bash data/results/2026-12-03-search/run.sh && .venv/bin/python data/results/2026-12-03-search/summarize.py
set -euo pipefail
PYTHON=${PYTHON:-python}
ANCHOR_PYTHON=${ANCHOR_PYTHON:-/tmp/anchor-jax/bin/python}
BASE=${BASE:-/tmp/base}
BEFORE=${BEFORE:-/tmp/before}
HERE=data/results/2026-12-03-search
RUNS=${RUNS:-/tmp/search-runs}
ROUNDS=${ROUNDS:-3}
ROOT=$PWD
eval "$(sed -n '/^tag() {/,/^}/p' data/results/2026-12-02-mcts/cpu-cuts/run.sh)"
anchor() { JAX_PLATFORMS=cpu "$ANCHOR_PYTHON" data/anchors/mctx_connect_four.py --batch "$1" --mode stream --plies 32 --stream-rounds 2; }
MCTS="--search mcts --simulations 50 --no-progress --preset small --game connect_four --strategy crossgame
  --cache-size 1000000 --games 1024 --concurrency 512 --json"
mcts() { PYTHONPATH=$ROOT "$PYTHON" -m perfkit bench $MCTS --out "$RUNS/mcts" "$@"; }
before() { (cd "$BEFORE" && PYTHONPATH=$BEFORE "$ROOT/$PYTHON" -m perfkit bench $MCTS --out "$RUNS/before" "$@"); }
ENGINE="--engine openspiel-mcts --game connect_four --simulations 50 --games 64 --concurrency 64 --strategy crossgame
  --threads 1 --preset small --no-progress --json"
bot() { PYTHONPATH=$ROOT "$PYTHON" -m perfkit bench $ENGINE --out "$RUNS/bot" --scheduler greenlet "$@"; }
today() { (cd "$BASE" && PYTHONPATH=$BASE "$ROOT/$PYTHON" -m perfkit bench $ENGINE --out "$RUNS/today"); }
for t in 1 2; do  # the forward's limit on this machine, per thread count (efficiency's denominator)
  PYTHONPATH=$ROOT "$PYTHON" -m perfkit curve --preset small --game connect_four --device cpu --precision float32 \
    --threads "$t" --max-batch 1024 --no-progress --out "$RUNS/curves/t$t" > /dev/null
  rm -rf "$HERE/curves/t$t" && mkdir -p "$HERE/curves" && cp -r "$RUNS/curves/t$t" "$HERE/curves/"  # summarize.py reads them
done
: > "$HERE/pairs.jsonl"
for i in $(seq 1 "$ROUNDS"); do
  anchor 64 | tag "$i" mctx-64 64 >> "$HERE/pairs.jsonl"
  before --threads 1 | tag "$i" before-512-t1 512 >> "$HERE/pairs.jsonl"
  mcts --threads 1 --curves "$RUNS/curves/t1" | tag "$i" perfkit-512-t1 512 >> "$HERE/pairs.jsonl"
  mcts --threads 2 --curves "$RUNS/curves/t2" | tag "$i" perfkit-512-t2 512 >> "$HERE/pairs.jsonl"
  mcts --threads 1 --groups 2 --inflight 2 --curves "$RUNS/curves/t1" | tag "$i" perfkit-512-g2i2 512 >> "$HERE/pairs.jsonl"
  anchor 256 | tag "$i" mctx-256 256 >> "$HERE/pairs.jsonl"
  today | tag "$i" mctsbot-today 64 >> "$HERE/pairs.jsonl"
  bot | tag "$i" mctsbot-greenlet 64 >> "$HERE/pairs.jsonl"
done
