#!/usr/bin/env bash
# Issue 20, CPU-side cuts: the figures of cpu-cuts/README.md. Run from the repository root of a checkout at the
# measured commit (the session ran it from a `git archive` of it, so that edits elsewhere could not leak in):
#   PYTHON=.venv/bin/python ANCHOR_PYTHON=/tmp/anchor-jax/bin/python BEFORE=/tmp/mc/base \
#     bash data/results/2026-12-02-mcts/cpu-cuts/run.sh
# BEFORE: a `git archive 13d784e perfkit` export (the search before these cuts); the anchor's venv as
# data/anchors/README.md says. Every JSON line gets its pair, what it is and the load average.
set -euo pipefail
PYTHON=${PYTHON:-python}
ANCHOR_PYTHON=${ANCHOR_PYTHON:-/tmp/anchor-jax/bin/python}
ANCHOR=${ANCHOR:-data/anchors/mctx_connect_four.py}
BEFORE=${BEFORE:-/tmp/mc/base}
HERE=data/results/2026-12-02-mcts/cpu-cuts
RUNS=${RUNS:-/tmp/mcts-runs-final}  # run directories stay outside the repository
PAIRS=${PAIRS:-2}
PARTS=${PARTS:-"curve pairs all hex engine"}  # which parts to run (the session ran "all hex engine" beside the pairs)
part() { [[ " $PARTS " == *" $1 "* ]]; }
ROOT=$PWD
pk() { PYTHONPATH=$ROOT "$PYTHON" -m perfkit "$@"; }
pk_before() { (cd "$BEFORE" && PYTHONPATH=$BEFORE "$PYTHON" -m perfkit "$@"); }
anchor() {
  JAX_PLATFORMS=cpu XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
    "$ANCHOR_PYTHON" "$ANCHOR" --batch "$1" --mode stream --plies 32 --stream-rounds 2
}
# tag PAIR WHAT IN_FLIGHT: perfkit's --json document (its first run), or each of the anchor's JSON lines, as one
# line with the pair, what, in flight and the load average.
tag() {
  "$PYTHON" -c "
import json, os, sys
text = sys.stdin.read()
try:
    docs = [json.loads(text)]
except ValueError:
    docs = [json.loads(line) for line in text.splitlines() if line.strip().startswith('{')]
for r in docs:
    r = r['runs'][0] if 'runs' in r else r
    r.update(pair='$1', what='$2', in_flight=$3, loadavg_1_5_15=os.getloadavg())
    print(json.dumps(r), flush=True)"
}
MCTS="--search mcts --game connect_four --preset small --simulations 50 --threads 1 --no-progress"

# The forward limit that `efficiency` divides by (torch, 1 thread, small on connect_four).
part curve && { uptime; pk curve --preset small --game connect_four --device cpu --threads 1 --max-batch 512 --out "$RUNS/curves" --no-progress; } \
  > "$HERE/curve.txt"

# Alternating pairs: mctx + pgx stream at B = 64 and 256, perfkit crossgame at 64 and 256 games in flight (3x as many
# games, streaming), and the search before the cuts (BEFORE) at 256 in flight.
part pairs && : > "$HERE/pairs.jsonl"
part pairs && for i in $(seq 1 "$PAIRS"); do
  anchor 64 | tag "$i" mctx 64 >> "$HERE/pairs.jsonl"
  anchor 256 | tag "$i" mctx 256 >> "$HERE/pairs.jsonl"
  for inflight in 64 256; do
    pk bench $MCTS --strategy crossgame --concurrency $inflight --games $((inflight * 3)) --out "$RUNS/pairs" \
      --curves "$RUNS/curves" --json | tag "$i" perfkit-crossgame $inflight >> "$HERE/pairs.jsonl"
  done
  pk_before bench $MCTS --strategy crossgame --concurrency 256 --games 768 --out "$RUNS/before" \
    --curves "$RUNS/curves" --json | tag "$i" perfkit-crossgame-before 256 >> "$HERE/pairs.jsonl"
done

# The three strategies side by side (the command), 64 games.
part all && { uptime; pk bench $MCTS --games 64 --strategy all --out "$RUNS/all" --curves "$RUNS/curves" --verbose; uptime; } \
  > "$HERE/bench-all-64.txt"

# Hex on small (9x9), crossgame at 64 and 256 games in flight (its own curve for efficiency).
part hex && { uptime; pk curve --preset small --game hex --device cpu --threads 1 --max-batch 512 --out "$RUNS/curves" --no-progress; } \
  > "$HERE/curve-hex.txt"
part hex && for inflight in 64 256; do
  { uptime; pk bench --search mcts --game hex --preset small --simulations 50 --threads 1 --no-progress \
      --strategy crossgame --concurrency $inflight --games $((inflight * 2)) --out "$RUNS/hex" --curves "$RUNS/curves" \
      --verbose; uptime; } > "$HERE/hex-crossgame-$inflight.txt"
done

# OpenSpiel's MCTSBot, unmodified, batched across 64 games by perfkit's engine path.
part engine && { uptime; pk bench --engine openspiel-mcts --game connect_four --simulations 50 --games 64 --strategy crossgame \
    --threads 1 --no-progress --out "$RUNS/engine" --curves "$RUNS/curves" --verbose; uptime; } > "$HERE/engine-openspiel-mcts.txt"
