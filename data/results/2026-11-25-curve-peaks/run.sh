#!/usr/bin/env bash
# Eager vs folded vs compiled: `perfkit curve` on `small`, one thread, batches 1..1024, two
# rounds alternating the three networks (this machine is shared: compare within a round).
# Usage (repository root): bash data/results/2026-11-25-curve-peaks/run.sh
set -euo pipefail
HERE=data/results/2026-11-25-curve-peaks
for round in 1 2; do
  for net in eager folded compiled; do
    case $net in eager) flag=--no-fold;; folded) flag=;; compiled) flag=--compile;; esac
    perfkit curve --preset small --device cpu --threads 1 --max-batch 1024 --time-budget 40 $flag \
      -o $HERE/curves/$net-$round.json --no-progress > $HERE/curves/$net-$round.txt
  done
done
python $HERE/table.py
