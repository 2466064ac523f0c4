#!/usr/bin/env bash
# Alternating rounds, one machine, nothing else of ours running: mctx + pgx (B = 64 and 256, XLA's default threads)
# beside perfkit's MCTS crossgame and OpenSpiel's MCTSBot through the engine path. Two sets, each in a folder here:
#   SET=vs-prev: last session's fastest configuration (512 games in flight, 2 groups, 2 calls out) on its code
#     ("prev" = 04fa1ba) and on this session's, and this session's (1024 in flight, 3 groups, 3 calls out), 2048 games;
#   SET=steady (default): this session's configuration over 2048 and 4096 games (the longer run: less of its wall
#     is the start, where every game asks for the same few positions, and the drain, where few games are left).
# Each perfkit MCTS run divides its boards/s by a curve measured first (`perfkit curve`, 2 threads: the two cores
# its concurrent single-thread forwards share). Run from the repository root:
#   git worktree add --detach /tmp/prev 04fa1ba   # SET=vs-prev only
#   python3 -m venv /tmp/anchor-jax && /tmp/anchor-jax/bin/pip install jax jaxlib mctx pgx dm-haiku
#   PYTHON=.venv/bin/python bash data/results/2026-12-03-overlap/run.sh && .venv/bin/python data/results/2026-12-03-overlap/summarize.py steady
set -euo pipefail
PYTHON=${PYTHON:-python}
ANCHOR_PYTHON=${ANCHOR_PYTHON:-/tmp/anchor-jax/bin/python}
PREV=${PREV:-/tmp/prev}
SET=${SET:-steady}
HERE=data/results/2026-12-03-overlap/$SET
RUNS=${RUNS:-/tmp/overlap-runs}
ROUNDS=${ROUNDS:-3}
ROOT=$PWD
eval "$(sed -n '/^tag() {/,/^}/p' data/results/2026-12-02-mcts/cpu-cuts/run.sh)"
anchor() { JAX_PLATFORMS=cpu "$ANCHOR_PYTHON" data/anchors/mctx_connect_four.py --batch "$1" --mode stream --plies 32 --stream-rounds 2; }
MCTS="--search mcts --simulations 50 --no-progress --preset small --game connect_four --strategy crossgame
  --cache-size 1000000 --threads 1 --json --curves $RUNS/curves/t2"
OLD="--concurrency 512 --games 1024 --groups 2 --inflight 2"
NEW="--concurrency 1024 --games 2048 --groups 3 --inflight 3"
mcts() { PYTHONPATH=$ROOT "$PYTHON" -m perfkit bench $MCTS --out "$RUNS/mcts" "$@"; }
prev() { (cd "$PREV" && PYTHONPATH=$PREV "$ROOT/$PYTHON" -m perfkit bench $MCTS --out "$RUNS/prev" "$@"); }
ENGINE="--engine openspiel-mcts --game connect_four --simulations 50 --games 64 --concurrency 64 --strategy crossgame
  --threads 1 --preset small --no-progress --json"
bot() { PYTHONPATH=$ROOT "$PYTHON" -m perfkit bench $ENGINE --out "$RUNS/bot"; }
for t in 1 2; do  # the forward's limit on this machine, per thread count (efficiency's denominator)
  PYTHONPATH=$ROOT "$PYTHON" -m perfkit curve --preset small --game connect_four --device cpu --precision float32 \
    --threads "$t" --max-batch 1024 --no-progress --out "$RUNS/curves/t$t" > /dev/null
  rm -rf "$HERE/curves/t$t" && mkdir -p "$HERE/curves" && cp -r "$RUNS/curves/t$t" "$HERE/curves/"  # summarize.py reads them
done
: > "$HERE/pairs.jsonl"
for i in $(seq 1 "$ROUNDS"); do
  anchor 64 | tag "$i" mctx-64 64 >> "$HERE/pairs.jsonl"
  if [ "$SET" = vs-prev ]; then
    prev $OLD | tag "$i" prev-512-g2i2 512 >> "$HERE/pairs.jsonl"
    mcts $OLD | tag "$i" perfkit-512-g2i2 512 >> "$HERE/pairs.jsonl"
    mcts $NEW | tag "$i" perfkit-1024-g3i3 1024 >> "$HERE/pairs.jsonl"
  else
    mcts $NEW | tag "$i" perfkit-1024-g3i3 1024 >> "$HERE/pairs.jsonl"
    mcts ${NEW/--games 2048/--games 4096} | tag "$i" perfkit-1024-g3i3-4096 1024 >> "$HERE/pairs.jsonl"
  fi
  anchor 256 | tag "$i" mctx-256 256 >> "$HERE/pairs.jsonl"
  bot | tag "$i" mctsbot 64 >> "$HERE/pairs.jsonl"
done
