#!/bin/bash
# Faults tried for issue 15 and the one line each gives (needs root for the tiny tmpfs).
# Usage: bash issue15_faults.sh   (from the repo root, with perfkit installed)
set -u
T=$(mktemp -d); F=/tmp/fullfs
mkdir -p $F; mountpoint -q $F || mount -t tmpfs -o size=2m tmpfs $F
SP="--preset tiny --device cpu --precision float64 --concurrency 4 --shard-games 1 --no-progress --threads 1"
fill() { rm -f $F/filler; dd if=/dev/zero of=$F/filler bs=4k 2>/dev/null; [ -n "${1:-}" ] && truncate -s -$1 $F/filler; true; }
run() { echo "\$ $*"; "$@" 2>&1 >/dev/null | tail -1; echo "  exit $?  (rc of tail; see below)"; }
say() { echo; echo "## $1"; }
say "disk full at start"; rm -rf $F/*; fill
python -m perfkit selfplay --games 8 --out $F/sp $SP; echo "exit $?; left behind: $(ls $F | grep -v filler | tr '\n' ' ')"
say "disk full on resume"; rm -rf $F/*; python -m perfkit selfplay --games 3 --out $F/sp $SP >/dev/null 2>&1; fill
python -m perfkit selfplay --games 8 --out $F/sp $SP; echo "exit $?; progress: $(python -c "import json;p=json.load(open('$F/sp/progress.json'));print(p['state'],'|',p['stopped'])")"
say "disk full mid-run"; rm -rf $F/*; fill 160k
python -m perfkit selfplay --games 400 --out $F/sp $SP; echo "exit $?; progress: $(python -c "import json;p=json.load(open('$F/sp/progress.json'));print(p['state'],'|',p['games_stored'])")"
rm -f $F/filler; python -m perfkit selfplay --games 10 --out $T/ok $SP >/dev/null 2>&1
say "shard copied in twice, shard of another seed"
cp $T/ok/shards/shard-000000.parquet $T/ok/shards/shard-000010.parquet
python -m perfkit selfplay --games 2 --out $T/other $SP --seed 1 >/dev/null 2>&1
cp $T/other/shards/shard-000000.parquet $T/ok/shards/shard-000011.parquet
python -m perfkit selfplay --verify $T/ok; echo "exit $?"
python -c "import perfkit; d=perfkit.load_selfplay('$T/ok'); print('load_selfplay rows', len(d.moves), 'dup (game,ply):', d.moves.duplicated(['game','ply']).sum())"
python -m perfkit selfplay --games 10 --out $T/ok $SP; echo "exit $? (resume sets them aside)"
say "damaged shard (bytes changed, still parquet)"
python - <<PY
import pyarrow.parquet as pq, pyarrow as pa
p='$T/ok/shards/shard-000003.parquet'; t=pq.read_table(p); i=t.schema.get_field_index('root_value')
v=t.column(i).to_pylist(); v[0]+=1; pq.write_table(t.set_column(i, t.schema.field(i), pa.array(v, pa.float64())), p)
PY
python -m perfkit selfplay --verify $T/ok; echo "exit $?"
say "bad checkpoint, then the corrected command"; echo junk > $T/bad.pt
python -m perfkit selfplay --games 2 --out $T/ck $SP --checkpoint $T/bad.pt; echo "exit $?; dir exists: $(test -e $T/ck && echo yes || echo no)"
python -m perfkit selfplay --games 2 --out $T/ck $SP >/dev/null 2>&1; echo "corrected command exit $?"
say "settings.json as []"; python -m perfkit selfplay --games 3 --out $T/s1 $SP >/dev/null 2>&1; echo '[]' > $T/s1/settings.json
python -m perfkit selfplay --games 3 --out $T/s1 $SP; echo "exit $?"
say "settings.json identity null"; python -m perfkit selfplay --games 3 --out $T/s2 $SP >/dev/null 2>&1
python -c "import json;p='$T/s2/settings.json';d=json.load(open(p));d['identity']=None;json.dump(d,open(p,'w'))"
python -m perfkit selfplay --games 3 --out $T/s2 $SP; echo "exit $?"
python -m perfkit bench --strategy naive --games 1 --preset tiny --device cpu --out $T/runs --no-progress >/dev/null 2>&1
R=$(dirname $(ls $T/runs/*/manifest.json | head -1))
for m in '[1,2]' '{}'; do
  say "manifest.json as $m"; cp -r $R $T/bad; echo "$m" > $T/bad/manifest.json
  python -m perfkit report $T/bad -o $T/r.html; echo "exit $?"; python -m perfkit project $T/bad; echo "exit $?"; rm -rf $T/bad
done
say "calls.parquet that is really the games table"; cp -r $R $T/bad; cp $T/bad/games.parquet $T/bad/calls.parquet
python -m perfkit report $T/bad -o $T/r.html; echo "exit $?"
say "Python API misuse"
python - <<'PY'
import perfkit
from perfkit import BenchSettings, bench, load_run, load_selfplay
from perfkit.types import PerfkitError
cases = [("BenchSettings(games='8')", lambda: BenchSettings(games="8")), ("BenchSettings(games=2.5)", lambda: BenchSettings(games=2.5)),
         ("BenchSettings(threads=-3)", lambda: BenchSettings(threads=-3)), ("bench([])", lambda: bench([], BenchSettings(preset='tiny'))),
         ("bench('naive', ...)", lambda: bench("naive", BenchSettings(preset='tiny'))), ("load_run(None)", lambda: load_run(None)),
         ("load_selfplay(None)", lambda: load_selfplay(None)),
         ("build_model('small')", lambda: perfkit.build_model("small")),
         ("save_checkpoint(m, '/proc/x.pt')", lambda: perfkit.save_checkpoint(perfkit.build_model(perfkit.get_preset('tiny')), "/proc/x.pt"))]
for name, f in cases:
    try:
        f(); print(f"{name}: no error")
    except PerfkitError as e:
        print(f"{name}: PerfkitError: {e}")
    except Exception as e:
        print(f"{name}: NOT PerfkitError: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
PY
rm -rf $T
