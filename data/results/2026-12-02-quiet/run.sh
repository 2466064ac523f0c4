#!/usr/bin/env bash
# The session's last pairs, on a machine with no other job (helpers done): perfkit's MCTS crossgame (device thread
# or not) beside mctx + pgx, and OpenSpiel's MCTSBot through the engine path (1 or 2 greenlet groups) beside
# "today" (ffda32f, the code before issue 21's work, in a worktree at $BASE). 3 rounds, each in this order.
# Run from the repository root:
#   git worktree add --detach /tmp/base ffda32f
#   PYTHON=.venv/bin/python ANCHOR_PYTHON=/tmp/anchor-jax/bin/python bash data/results/2026-12-02-quiet/run.sh
set -euo pipefail
PYTHON=${PYTHON:-python}
ANCHOR_PYTHON=${ANCHOR_PYTHON:-/tmp/anchor-jax/bin/python}
ANCHOR=${ANCHOR:-data/anchors/mctx_connect_four.py}
BASE=${BASE:-/tmp/base}
HERE=data/results/2026-12-02-quiet
RUNS=${RUNS:-/tmp/quiet-runs}
ROUNDS=${ROUNDS:-3}
ROOT=$PWD
eval "$(sed -n '/^tag() {/,/^}/p' data/results/2026-12-02-mcts/cpu-cuts/run.sh)"
anchor() { JAX_PLATFORMS=cpu "$ANCHOR_PYTHON" "$ANCHOR" --batch "$1" --mode stream --plies 32 --stream-rounds 2; }
mcts() { PYTHONPATH=$ROOT "$PYTHON" -m perfkit bench --search mcts --simulations 50 --threads 1 --no-progress --preset small \
  --game connect_four --strategy crossgame --cache-size 1000000 --concurrency 512 --games 1024 --out "$RUNS/mcts" --json "$@"; }
ENGINE="--engine openspiel-mcts --game connect_four --simulations 50 --games 64 --concurrency 64 --strategy crossgame
  --threads 1 --preset small --no-progress --json"
bot() { PYTHONPATH=$ROOT "$PYTHON" -m perfkit bench $ENGINE --out "$RUNS/bot" --scheduler greenlet "$@"; }
today() { (cd "$BASE" && PYTHONPATH=$BASE "$ROOT/$PYTHON" -m perfkit bench $ENGINE --out "$RUNS/today"); }
: > "$HERE/pairs.jsonl"
for i in $(seq 1 "$ROUNDS"); do
  anchor 64 | tag "$i" mctx-xla-default-threads 64 >> "$HERE/pairs.jsonl"
  mcts | tag "$i" perfkit-mcts-g1 512 >> "$HERE/pairs.jsonl"
  mcts --groups 2 --inflight 2 | tag "$i" perfkit-mcts-g2i2 512 >> "$HERE/pairs.jsonl"
  today | tag "$i" mctsbot-today 64 >> "$HERE/pairs.jsonl"
  bot | tag "$i" mctsbot-greenlet-g1 64 >> "$HERE/pairs.jsonl"
  bot --groups 2 | tag "$i" mctsbot-greenlet-g2 64 >> "$HERE/pairs.jsonl"
done
