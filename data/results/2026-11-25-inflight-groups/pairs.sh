#!/usr/bin/env bash
# Does defaulting --groups to --inflight help? Alternating runs of crossgame --inflight 2 with
# 1 and 2 groups on the sim device (SIMULATED), reference preset, 16 games, on the default
# paper curve and on it slowed 4x and 11.3x (the sim-feeding sweep's curves).
# Usage (repository root): bash data/results/2026-11-25-inflight-groups/pairs.sh
set -euo pipefail
python -c "import sys; sys.path.insert(0, 'data/results/2026-11-25-sim-feeding'); import sweep; [sweep.scaled_curve(f) for f in (4, 11.3)]"
C=data/results/2026-11-25-sim-feeding/curves
for dev in sim sim:$C/reference_x4.json sim:$C/reference_x11.3.json; do
  for i in 1 2; do
    for g in 1 2; do
      perfkit bench --device "$dev" --preset reference --strategy crossgame --games 16 --threads 1 \
        --inflight 2 --groups $g --json --no-progress --out /tmp/perfkit-inflight-groups > /tmp/perfkit-ig.json 2>/dev/null
      python -c "import json; r = json.load(open('/tmp/perfkit-ig.json'))['runs'][0]; print('$dev', 'groups $g', round(r['moves_per_s'], 1), 'moves/s', 'busy', round(r['device_busy_share'], 2), r['bottleneck'], 'mean batch', round(r['mean_batch'], 1))"
    done
  done
done
