"""Peak RSS and time to first game of `perfkit selfplay` for several planned N (issue 15).

Starts `perfkit selfplay --games N --shard-games 1`, waits for the first shard (= first game
stored), sends SIGINT, and reports: seconds to the first stored game, seconds from SIGINT to
exit, and the process's peak RSS (progress.json's peak_rss_mb, written at the interrupt).
Usage: python issue15_first_game.py [concurrency] [N ...]
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

conc = int(sys.argv[1]) if len(sys.argv) > 1 else 4096
ns = [int(float(x)) for x in sys.argv[2:]] or [10**4, 10**6, 10**9]
for n in ns:
    out = Path(tempfile.mkdtemp()) / "sp"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfkit", "selfplay", "--games", str(n), "--out", str(out), "--preset", "tiny",
         "--device", "cpu", "--concurrency", str(conc), "--shard-games", "1", "--threads", "1", "--no-progress"],
        stderr=subprocess.PIPE, text=True,
    )
    while not list((out / "shards").glob("shard-*.parquet")) if (out / "shards").exists() else True:
        if proc.poll() is not None:
            sys.exit(f"exited early: {proc.stderr.read()}")
        time.sleep(0.05)
    first = time.perf_counter() - t0
    t1 = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    err = proc.communicate()[1].strip().splitlines()
    stop = time.perf_counter() - t1
    p = json.loads((out / "progress.json").read_text())
    print(f"N={n:.0e} concurrency={conc}: first game stored after {first:.1f} s, SIGINT->exit {stop:.2f} s, "
          f"peak RSS {p['peak_rss_mb']:.0f} MB, state {p['state']}, exit {proc.returncode}; {err[-1] if err else ''}",
          flush=True)
