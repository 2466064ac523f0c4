#!/bin/bash
# The CPU side alone, before and after, alternating: cpu_side_breakdown.py (tiny one-layer network, 256 games in
# flight, 384 games, process time per move) run from two exports of perfkit, A then B, PAIRS times.
#   bash cpu-side-ab.sh /tmp/mc/base /work/wt-mcts 3     # A: `git archive 13d784e perfkit`, B: this checkout
HERE=$(cd "$(dirname "$0")" && pwd)
for i in $(seq "${3:-3}"); do
  for d in "$1" "$2"; do
    echo -n "$d "; (cd "$d" && PYTHONPATH=$d .venv/bin/python "$HERE/cpu_side_breakdown.py" 256 384 | tr '\n' ' '); echo
  done
done
