#!/usr/bin/env bash
# Efficiency against the limit of concurrent calls, measured beside the run: the forward's limit with 1-3 calls at
# once (concurrent_forward.py) before and after each run of this session's configuration (2 pairs).
# Run from the repository root: PYTHON=.venv/bin/python bash data/results/2026-12-03-overlap/efficiency.sh
set -euo pipefail
PYTHON=${PYTHON:-python}
HERE=data/results/2026-12-03-overlap/steady
eval "$(sed -n '/^tag() {/,/^}/p' data/results/2026-12-02-mcts/cpu-cuts/run.sh)"
: > "$HERE/efficiency.jsonl"
for i in 1 2; do
  PYTHONPATH=. "$PYTHON" "$(dirname "$0")/concurrent_forward.py" 3 | tag "$i" limit-before 0 >> "$HERE/efficiency.jsonl"
  PYTHONPATH=. "$PYTHON" -m perfkit bench --search mcts --simulations 50 --no-progress --preset small --game connect_four \
    --strategy crossgame --cache-size 1000000 --threads 1 --json --concurrency 1024 --games 2048 --groups 3 --inflight 3 \
    --out /tmp/efficiency-runs | tag "$i" perfkit-1024-g3i3 1024 >> "$HERE/efficiency.jsonl"
  PYTHONPATH=. "$PYTHON" "$(dirname "$0")/concurrent_forward.py" 3 | tag "$i" limit-after 0 >> "$HERE/efficiency.jsonl"
done
