#!/usr/bin/env bash
# The figures of this folder's README, in one go (from the repository root, venv active).
# Hex before/after needs two worktrees: BEFORE=<commit before the Game protocol> AFTER=<commit with it>.
set -euo pipefail
here=data/results/2026-11-25-cpu-engines
out=${OUT:-runs/engines}
python -m perfkit bench --engine openspiel-mcts --game connect_four --simulations 50 --games 64 --strategy all \
    --threads 1 --no-progress --verbose --out "$out" | tee $here/engine-all.txt
python -m perfkit bench --engine openspiel-mcts --game connect_four --simulations 50 --games 64 --strategy crossgame \
    --workers 2 --threads 1 --no-progress --verbose --out "$out" | tee $here/engine-workers2.txt
python $here/tracing_overhead.py 3 4 50 | tee $here/tracing-overhead.txt
for game in connect_four othello; do
    python -m perfkit bench --game $game --strategy all --games 16 --threads 1 --no-progress --verbose --out "$out" \
        | tee $here/game-$game.txt
done
if [ -n "${BEFORE:-}" ] && [ -n "${AFTER:-}" ]; then
    : > $here/hex-crossgame-before-after.txt
    for i in 1 2 3 4 5; do
        for tree in "$BEFORE" "$AFTER"; do
            rate=$(cd /tmp && PYTHONPATH=$tree python -m perfkit bench --strategy crossgame --preset small --games 32 \
                --threads 1 --no-progress --json --out /tmp/hex-speed 2>/dev/null \
                | python -c "import json,sys; print(round(json.load(sys.stdin)['runs'][0]['boards_per_s']))")
            echo "$i $(basename $tree) $rate" | tee -a $here/hex-crossgame-before-after.txt
        done
    done
fi
