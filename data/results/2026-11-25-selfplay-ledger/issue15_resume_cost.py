"""What proving every shard costs on resume: open (scan + checksum), verify and load a directory
of S shards x 1024 synthetic games x 20 moves. Usage: python issue15_resume_cost.py [S]"""
import sys
import tempfile
import time
from pathlib import Path

from perfkit.measure.bench import BenchSettings
from perfkit.selfplay import SelfplayDir, SelfplaySettings, load_selfplay, verify_selfplay
from perfkit.types import GameRecord, MoveRecord

S = int(sys.argv[1]) if len(sys.argv) > 1 else 50
ident = SelfplaySettings(workload=BenchSettings(preset="tiny")).identity()
out = Path(tempfile.mkdtemp()) / "sp"
store = SelfplayDir.open(out, identity=ident, created_with={})
store.claim()
move = dict(player=1, move=3, root_value=0.5, minimax_value=0.2, candidates=[1, 2, 3, 4, 5],
            policy_move_values=[0.1] * 5, chosen_rank=0)
for s in range(S):
    games = [GameRecord(game=g, winner=1, moves=[MoveRecord(game=g, ply=p, **move) for p in range(20)])
             for g in range(s * 1024, (s + 1) * 1024)]
    store.write_shard(games, {})
store.close()
size = sum(p.stat().st_size for p in (out / "shards").iterdir()) / 2**20
for name, f in [("open (resume scan)", lambda: SelfplayDir.open(out, identity=ident, created_with={}).close()),
                ("verify", lambda: verify_selfplay(out)), ("load_selfplay", lambda: load_selfplay(out))]:
    t = time.perf_counter()
    f()
    print(f"{S} shards, {S * 1024} games, {S * 1024 * 20} moves, {size:.0f} MiB: {name} {time.perf_counter() - t:.2f} s")
