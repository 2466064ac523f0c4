#!/usr/bin/env bash
# Alternating rounds, one machine, nothing else of ours running: mctx + pgx (B = 64 and 256, XLA's default threads)
# beside perfkit's MCTS crossgame (512 games in flight: serial with 1 or 2 torch threads; --groups 2 --inflight 2,
# now two single-threaded forwards at once) and OpenSpiel's MCTSBot through the engine path (greenlets in this
# process, greenlets in 2 worker processes) beside "today" (ffda32f, before issue 21's work). Run from the repository root:
#   git worktree add --detach /tmp/base ffda32f
#   python3 -m venv /tmp/anchor-jax && /tmp/anchor-jax/bin/pip install jax jaxlib mctx pgx dm-haiku
#   PYTHON=.venv/bin/python bash data/results/2026-12-03-cores/run.sh && .venv/bin/python data/results/2026-12-03-cores/summarize.py
set -euo pipefail
PYTHON=${PYTHON:-python}
ANCHOR_PYTHON=${ANCHOR_PYTHON:-/tmp/anchor-jax/bin/python}
BASE=${BASE:-/tmp/base}
HERE=data/results/2026-12-03-cores
RUNS=${RUNS:-/tmp/cores-runs}
ROUNDS=${ROUNDS:-3}
ROOT=$PWD
eval "$(sed -n '/^tag() {/,/^}/p' data/results/2026-12-02-mcts/cpu-cuts/run.sh)"
anchor() { JAX_PLATFORMS=cpu "$ANCHOR_PYTHON" data/anchors/mctx_connect_four.py --batch "$1" --mode stream --plies 32 --stream-rounds 2; }
mcts() { PYTHONPATH=$ROOT "$PYTHON" -m perfkit bench --search mcts --simulations 50 --no-progress --preset small \
  --game connect_four --strategy crossgame --cache-size 1000000 --games 1024 --out "$RUNS/mcts" --json "$@"; }
ENGINE="--engine openspiel-mcts --game connect_four --simulations 50 --games 64 --concurrency 64 --strategy crossgame
  --threads 1 --preset small --no-progress --json"
bot() { PYTHONPATH=$ROOT "$PYTHON" -m perfkit bench $ENGINE --out "$RUNS/bot" --scheduler greenlet "$@"; }
today() { (cd "$BASE" && PYTHONPATH=$BASE "$ROOT/$PYTHON" -m perfkit bench $ENGINE --out "$RUNS/today"); }
: > "$HERE/pairs.jsonl"
for i in $(seq 1 "$ROUNDS"); do
  anchor 64 | tag "$i" mctx-64 64 >> "$HERE/pairs.jsonl"
  mcts --concurrency 512 --threads 1 | tag "$i" perfkit-512-t1 512 >> "$HERE/pairs.jsonl"
  mcts --concurrency 512 --threads 2 | tag "$i" perfkit-512-t2 512 >> "$HERE/pairs.jsonl"
  mcts --concurrency 512 --threads 1 --groups 2 --inflight 2 | tag "$i" perfkit-512-g2i2 512 >> "$HERE/pairs.jsonl"
  mcts --concurrency 256 --threads 1 --groups 2 --inflight 2 | tag "$i" perfkit-256-g2i2 256 >> "$HERE/pairs.jsonl"
  anchor 256 | tag "$i" mctx-256 256 >> "$HERE/pairs.jsonl"
  today | tag "$i" mctsbot-today 64 >> "$HERE/pairs.jsonl"
  bot | tag "$i" mctsbot-greenlet 64 >> "$HERE/pairs.jsonl"
  bot --workers 2 | tag "$i" mctsbot-greenlet-2workers 64 >> "$HERE/pairs.jsonl"
done
