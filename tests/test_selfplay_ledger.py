"""The ledger of done games (id ranges) and shards that prove themselves (issue 15).

A ledger's size follows the shards, not N; a shard carries its run's identity, ids and checksum,
so a copy, a shard from another run or a damaged one is set aside and never read twice.
"""

from __future__ import annotations

import json
import os
import shutil
import signal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfkit import load_selfplay
from perfkit.cli import main
from perfkit.measure.bench import BenchSettings
from perfkit.selfplay import Interrupted, Ledger, SelfplayDir, SelfplaySettings, selfplay, verify_selfplay
from perfkit.selfplay.ledger import ranges_of
from perfkit.selfplay.store import IDENTITY_FIELDS
from perfkit.types import GameRecord, MoveRecord

IDENTITY = SelfplaySettings(workload=BenchSettings(preset="tiny", games=8)).identity()


def fake_game(game: int, moves: int = 2) -> GameRecord:
    """A game record with `moves` moves whose content depends only on its id."""
    return GameRecord(
        game=game, winner=1 + game % 2, start_s=float(game), end_s=float(game) + 1,
        moves=[MoveRecord(game=game, ply=p, player=1 + p % 2, move=(game + p) % 25, root_value=0.5, minimax_value=0.25,
                          candidates=[1, 2], policy_move_values=[0.1, 0.2], chosen_rank=0) for p in range(moves)],
    )


def open_dir(path, identity=IDENTITY, log=None) -> SelfplayDir:
    store = SelfplayDir.open(path, identity=identity, created_with={}, log=(log if log is not None else lambda m: None))
    store.claim()
    return store


def write_games(path, batches: list[list[int]], identity=IDENTITY) -> list:
    store = open_dir(path, identity)
    try:
        return [store.write_shard([fake_game(g) for g in batch], {}) for batch in batches]
    finally:
        store.close()


# -- the ledger alone ---------------------------------------------------------------------------

ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 200)),
        st.tuples(st.just("range"), st.integers(0, 200), st.integers(0, 30)),
        st.tuples(st.just("remove"), st.integers(0, 200), st.integers(0, 30)),
        st.tuples(st.just("restart")),
    ),
    max_size=60,
)


@given(ops, st.integers(0, 250))
def test_ledger_equals_a_reference_set(steps, n):
    ledger, ref = Ledger(), set()
    for op in steps:
        if op[0] == "add":
            assert ledger.add(op[1]) == (op[1] not in ref)
            ref.add(op[1])
        elif op[0] == "range":
            ledger.add_range(op[1], op[1] + op[2])
            ref |= set(range(op[1], op[1] + op[2]))
        elif op[0] == "remove":
            ledger.remove_range(op[1], op[1] + op[2])
            ref -= set(range(op[1], op[1] + op[2]))
        else:
            ledger = Ledger(ledger.ranges())  # a restart rebuilds it from what was stored
        assert ledger.ranges() == ranges_of(sorted(ref))  # the minimal ranges: never more than needed
    assert ledger.count == len(ref) and ledger.max_id() == max(ref, default=-1)
    assert all((g in ledger) == (g in ref) for g in range(n + 2))
    missing = ledger.missing(n)
    assert list(missing) == [g for g in range(n) if g not in ref] and len(missing) == n - ledger.count_below(n)
    assert all(ledger.overlaps(g, g + 3) == bool(ref & {g, g + 1, g + 2}) for g in range(0, n, 3))


def test_the_ledger_of_a_huge_run_is_a_few_ranges():
    ledger = Ledger()
    for g in [*range(0, 5000), *range(5003, 9000)]:
        ledger.add(g)
    assert ledger.ranges() == [(0, 5000), (5003, 9000)]
    todo = ledger.missing(10**12)
    assert len(todo) == 10**12 - 8997
    it = iter(todo)
    assert [next(it) for _ in range(5)] == [5000, 5001, 5002, 9000, 9001]


# -- shards against a reference set, under damage and restarts ------------------------------------

actions = st.lists(
    st.one_of(
        st.tuples(st.just("shard"), st.lists(st.integers(0, 60), min_size=1, max_size=6, unique=True)),
        st.tuples(st.just("truncate"), st.integers(0, 30)),
        st.tuples(st.just("flip"), st.integers(0, 30)),
        st.tuples(st.just("copy"), st.integers(0, 30)),
        st.tuples(st.just("foreign"), st.lists(st.integers(0, 60), min_size=1, max_size=4, unique=True)),
        st.tuples(st.just("restart")),
    ),
    min_size=1,
    max_size=12,
)


def expected(files: dict[str, tuple[set[int], bool]]) -> tuple[list[str], set[int]]:
    """The reference: in name order, a shard counts if it is intact, of this run, and repeats no counted game."""
    names, games = [], set()
    for name in sorted(files):
        ids, ok = files[name]
        if ok and not ids & games:
            names.append(name)
            games |= ids
    return names, games


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions)
def test_shards_against_a_reference_set_under_damage_and_restarts(tmp_path_factory, steps):
    """What the directory holds is exactly the games of its intact, first-seen shards of this run."""
    path = tmp_path_factory.mktemp("ledger") / "sp"
    store = open_dir(path)
    files: dict[str, tuple[set[int], bool]] = {}  # every shard file: its games, and whether it is intact and ours
    try:
        for op in steps:
            names = sorted(files)
            if op[0] == "shard":
                ids = [g for g in op[1] if g not in store.ledger]  # a run never writes a game twice
                if ids:
                    files[store.write_shard([fake_game(g) for g in ids], {}).name] = (set(ids), True)
            elif op[0] in ("truncate", "flip", "copy") and names:
                name = names[op[1] % len(names)]
                p = path / "shards" / name
                if op[0] == "truncate":
                    p.write_bytes(p.read_bytes()[:100])
                    files[name] = (files[name][0], False)
                elif op[0] == "flip" and p.stat().st_size > 100:  # still readable, content changed: the checksum sees it
                    rewrite_value(p)
                    files[name] = (files[name][0], False)
                else:  # a copy under the next number
                    copy = f"shard-{store.next_shard:06d}.parquet"
                    shutil.copy(p, path / "shards" / copy)
                    files[copy] = files[name]
                    store.next_shard += 1
            elif op[0] == "foreign":
                other = path.parent / f"other-{store.next_shard}"
                (p,) = write_games(other, [op[1]], identity={**IDENTITY, "seed": 99})
                name = f"shard-{store.next_shard:06d}.parquet"
                shutil.copy(p, path / "shards" / name)
                files[name] = (set(op[1]), False)
                store.next_shard += 1
                shutil.rmtree(other)
            elif op[0] == "restart":
                store.close()
                store = open_dir(path)
                names, games = expected(files)
                files = {name: files[name] for name in names}  # the others were set aside
                assert sorted(p.name for p in store.shards.iterdir() if p.suffix == ".parquet") == names
                assert store.ledger.ranges() == ranges_of(sorted(games))
        names, games = expected(files)
        report = verify_selfplay(path)
        assert report["games"] == len(games) and report["good_shards"] == len(names)
        assert len(report["problems"]) == len(files) - len(names) and report["ok"] == (len(files) == len(names))
        data = load_selfplay(path, log=lambda m: None)
        assert set(data.games["game"]) == games and len(data.skipped) == len(files) - len(names)
        assert not data.moves.duplicated(["game", "ply"]).any() and len(data.moves) == 2 * len(games)
        store.close()
        store = open_dir(path)  # a restart sets every bad shard aside
        assert store.ledger.ranges() == ranges_of(sorted(games))
        assert verify_selfplay(path)["ok"]
    finally:
        store.close()


def rewrite_value(p) -> None:
    """Change one value of a shard but keep its metadata (as bit rot or a careless edit would)."""
    table = pq.read_table(p)
    i = table.schema.get_field_index("root_value")
    values = table.column(i).to_pylist()
    values[0] += 1.0
    pq.write_table(table.set_column(i, table.schema.field(i), pa.array(values, pa.float64())), p)


# -- the reproductions --------------------------------------------------------------------


def test_a_copied_and_a_foreign_shard_are_set_aside_and_each_row_read_once(tmp_path, capsys):
    out = tmp_path / "sp"
    first, second = write_games(out, [[0, 1, 2], [3, 4]])
    shutil.copy(first, out / "shards" / "shard-000002.parquet")  # the same shard copied in twice
    (p,) = write_games(tmp_path / "other", [[5, 6]], identity={**IDENTITY, "seed": 1})
    shutil.copy(p, out / "shards" / "shard-000003.parquet")  # from a run with another seed
    notes = []
    data = load_selfplay(out, log=notes.append)
    assert list(data.games["game"]) == [0, 1, 2, 3, 4]
    assert not data.moves.duplicated(["game", "ply"]).any() and len(data.moves) == 10
    assert len(notes) == 2 and notes == data.skipped
    assert "shard-000002.parquet repeats games already in shard-000000.parquet" in notes[0]
    assert "shard-000003.parquet belongs to another run" in notes[1]
    assert sorted(p.name for p in (out / "shards").iterdir())[-2:] == ["shard-000002.parquet", "shard-000003.parquet"]

    before = sorted(p.name for p in out.rglob("*"))
    assert main(["selfplay", "--verify", str(out)]) == 1  # reports, writes nothing
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.rglob("*")) == before
    err = captured.err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("perfkit selfplay: ") for line in err)
    assert "5 games in 2 good shards of 4" in captured.out

    logged = []
    store = SelfplayDir.open(out, identity=IDENTITY, created_with={}, log=logged.append)
    store.close()
    assert len(logged) == 2 and all("set aside" in line for line in logged)
    assert (out / "shards" / "shard-000002.parquet.duplicate").exists()
    assert (out / "shards" / "shard-000003.parquet.foreign").exists()
    assert main(["selfplay", "--verify", str(out)]) == 0
    assert "5 games in 2 good shards of 2" in capsys.readouterr().out


def test_an_old_or_hand_made_shard_without_proof_is_set_aside(tmp_path):
    out = tmp_path / "sp"
    (p,) = write_games(out, [[0, 1]])
    table = pq.read_table(p).replace_schema_metadata(None)
    pq.write_table(table, p)
    data = load_selfplay(out, log=lambda m: None)
    assert len(data.games) == 0 and "carries no run identity" in data.skipped[0]


def test_identity_fields_match_what_settings_build():
    assert set(IDENTITY) == set(IDENTITY_FIELDS)


def test_games_10_to_the_12_start_at_once_and_keep_a_small_ledger(tmp_path):
    """The ledger is ranges: N = 10**12 costs nothing; SIGINT stops it and the games are kept."""
    out = tmp_path / "sp"
    calls = []

    def stop_after(evaluate):
        def wrapped(*args, **kwargs):  # SIGINT once the first shard is on disk
            if not calls and any((out / "shards").glob("shard-*.parquet")):
                calls.append(1)
                os.kill(os.getpid(), signal.SIGINT)
            return evaluate(*args, **kwargs)
        return wrapped

    w = BenchSettings(preset="tiny", games=10**12, precision="float64", concurrency=4)
    s = SelfplaySettings(workload=w, shard_games=1)
    with pytest.raises(Interrupted, match=r"of 1000000000000 games are stored"):
        selfplay(s, out, progress=False, wrap_evaluate=stop_after)
    progress = json.loads((out / "progress.json").read_text())
    assert progress["state"] == "interrupted" and progress["games_requested"] == 10**12
    assert progress["stopped"].startswith("interrupted by SIGINT")
    store = SelfplayDir.open(out, identity=s.identity(), created_with={})
    try:
        stored = progress["games_stored"]
        assert stored >= 1 and store.ledger.count == stored
        assert store.ledger.n_ranges <= len(store.shard_list) <= stored  # follows the shards, not N
        assert len(store.ledger.missing(10**12)) == 10**12 - stored
    finally:
        store.close()
