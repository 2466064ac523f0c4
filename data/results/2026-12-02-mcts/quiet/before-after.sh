#!/bin/bash
# alternating before (a32f83a exported to /tmp/f/base) / after (wt-f HEAD) on the same command
G=${G:-256}; N=${N:-3}
for i in $(seq 1 $N); do
  for which in before after; do
    if [ $which = before ]; then root=/tmp/f/base; else root=/tmp/f/after; fi
    cd $root
    out=$(PYTHONPATH=$root timeout 300 .venv/bin/python -m perfkit bench --search mcts --game connect_four --preset small --simulations 50 --games $G --concurrency $G --strategy crossgame --threads 1 --no-progress --out /tmp/f/runs-$which-$G-$i --json)
    echo "$out" | .venv/bin/python -c "import json,sys,os; r=json.load(sys.stdin)['runs'][0]; print(json.dumps({'which':'$which','games':$G,'pair':$i,'moves_per_s':r.get('moves_per_s'),'forward_share':r.get('forward_share'),'boards_per_move':r['boards']/r['moves'],'mean_batch':r.get('mean_batch'),'moves':r['moves'],'load1':os.getloadavg()[0],'digest':r.get('game_digest','')[:12]}))"
  done
done
