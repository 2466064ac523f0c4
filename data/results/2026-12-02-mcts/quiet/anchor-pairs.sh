#!/bin/bash
# 2 pairs: mctx anchor (B=64 stream), then perfkit crossgame (HEAD export in /tmp/f/after) at 64 and 256 in flight, games streaming (3x in flight), as run.sh
OUT=/tmp/f/anchor-pairs.jsonl; : > $OUT
for i in 1 2; do
  JAX_PLATFORMS=cpu XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
    /tmp/anchor-jax/bin/python data/anchors/mctx_connect_four.py --batch 64 --mode stream --plies 32 --stream-rounds 2 \
    | sed "s/^{/{\"pair\": $i, /" >> $OUT
  for inflight in 64 256; do
    cd /tmp/f/after && PYTHONPATH=/tmp/f/after .venv/bin/python -m perfkit bench --search mcts --game connect_four --preset small --simulations 50 --threads 1 --no-progress --strategy crossgame --concurrency $inflight --games $((inflight * 3)) --out /tmp/f/runs-anchorpairs --json \
      | .venv/bin/python -c "import json,sys,os; r=json.load(sys.stdin)['runs'][0]; r.update(pair=$i, what='perfkit-crossgame', in_flight=$inflight, loadavg_1_5_15=os.getloadavg()); print(json.dumps(r))" >> $OUT
  done
done
