"""`perfkit selfplay`: the directory layout, resume, refusals, crash leftovers, progress, CLI."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pandas as pd
import pytest

from perfkit import load_selfplay
from perfkit.analysis.keys import json_type_ok
from perfkit.analysis.summary import game_digest
from perfkit.cli import main
from perfkit.game import Positions, play, winner_by_flood_fill
from perfkit.measure.bench import BenchSettings
from perfkit.selfplay import Interrupted, SelfplayDir, SelfplaySettings, selfplay
from perfkit.selfplay.keys import PROGRESS_KEYS, SELFPLAY_JSON_KEYS
from perfkit.selfplay.run import StopSignals
from perfkit.selfplay.store import digest_dir
from perfkit.types import PerfkitError, SearchConfig

N = 8


def settings(games=N, *, strategy="crossgame", concurrency=4, shard_games=2, **workload) -> SelfplaySettings:
    w = BenchSettings(preset="tiny", games=games, precision="float64", concurrency=concurrency, **workload)
    return SelfplaySettings(workload=w, strategy=strategy, shard_games=shard_games)


def claimed(out, s: SelfplaySettings) -> None:
    """A directory claimed for `s` and holding no games."""
    store = SelfplayDir.open(out, identity=s.identity(), created_with={})
    store.claim()
    store.close()


def assert_legal(data, n: int = 5) -> None:
    """Every stored game replays legally from the empty board and its winner is right."""
    for (game, moves), winner in zip(data.moves.groupby("game"), data.games.set_index("game")["winner"], strict=True):
        assert list(moves["ply"]) == list(range(len(moves)))
        pos = Positions.empty(n, 1)
        for player, move in zip(moves["player"], moves["move"], strict=True):
            assert not pos.terminal[0], f"game {game} goes on after its end"
            assert player == pos.to_move[0]
            pos = play(pos, np.array([move]))  # raises on an occupied cell
        assert pos.terminal[0], f"game {game} stops before its end"
        assert winner == winner_by_flood_fill(pos.stones[0], n) == pos.winner[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of N games, and what it stored."""
    out = tmp_path_factory.mktemp("reference") / "sp"
    summary = selfplay(settings(), out, progress=False)
    return summary, load_selfplay(out)


def test_layout_tables_summary_and_legal_games(reference):
    summary, data = reference
    assert summary["games"] == summary["unique_games"] == N
    assert summary["missing_games"] == 0
    assert list(data.games["game"]) == list(range(N))
    assert list(data.games.columns[:3]) == ["game", "winner", "moves"]
    assert list(data.moves.columns[:4]) == ["game", "ply", "player", "move"]
    for col in ("root_value", "minimax_value", "candidates", "policy_move_values", "chosen_rank"):
        assert col in data.moves
    assert (data.games["moves"] == data.moves.groupby("game").size().to_numpy()).all()
    first = data.moves.iloc[0]
    assert len(first["candidates"]) == len(first["policy_move_values"]) == 5
    assert first["move"] == first["candidates"][first["chosen_rank"]]
    assert summary["game_digest"] == game_digest(data.moves)
    assert_legal(data)
    shards = sorted(p.name for p in (data.path / "shards").iterdir())
    assert shards == [f"shard-{i:06d}.parquet" for i in range(summary["shards"])]
    assert data.settings["identity"]["seed"] == 0 and data.settings["identity"]["precision"] == "float64"
    assert data.progress["state"] == "finished" and data.progress["games_done"] == N


def test_games_match_bench(reference):
    """The same games as `bench` plays: one definition of a game, whatever writes it."""
    from perfkit.measure.bench import Workload, run_strategy

    w = settings().workload
    run = run_strategy("crossgame", Workload.prepare(w), progress=False)
    assert game_digest(run.moves) == reference[0]["game_digest"]


def test_digest_is_streamed_window_by_window(reference):
    store = SelfplayDir.open(reference[1].path, identity=settings().identity(), created_with={})
    try:
        assert digest_dir(store.shard_list, window=3) == reference[0]["game_digest"]
    finally:
        store.close()


def test_resume_grows_and_may_change_strategy(tmp_path, reference):
    """Game i depends only on (seed, i): 5 games with crossgame, then 3 more with permove."""
    out = tmp_path / "sp"
    first = selfplay(settings(5), out, progress=False)
    assert first["unique_games"] == 5
    second = selfplay(settings(N, strategy="permove"), out, progress=False)
    assert second["session_games"] == N - 5
    assert second["game_digest"] == reference[0]["game_digest"]
    data = load_selfplay(out)
    pd.testing.assert_frame_equal(
        data.moves.drop(columns=["calls", "boards"]), reference[1].moves.drop(columns=["calls", "boards"]),
        rtol=0, atol=1e-9,
    )
    again = selfplay(settings(N), out, progress=False)  # nothing left to play
    assert again["session_games"] == 0 and again["game_digest"] == reference[0]["game_digest"]


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"seed": 1}, "seed"),
        ({"precision": "float32"}, "precision"),
        ({"preset": "small"}, "preset"),
        ({"board": 6}, "board"),
        ({"search": SearchConfig(widths=(2, 2))}, "search"),
        ({"search": SearchConfig(temperature=0.5)}, "search"),
    ],
)
def test_refuses_a_dir_made_with_other_settings(tmp_path, change, key):
    out = tmp_path / "sp"
    claimed(out, settings())
    w = BenchSettings(**{"preset": "tiny", "games": N, "precision": "float64", **change})
    with pytest.raises(PerfkitError, match=rf"made with other settings \(.*{key} "):
        selfplay(SelfplaySettings(workload=w), out, progress=False)
    assert not list((out / "shards").iterdir())


def test_refuses_another_checkpoint(tmp_path):
    from perfkit.model import build_model, save_checkpoint
    from perfkit.types import get_preset

    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    save_checkpoint(build_model(get_preset("tiny"), seed=1), a)
    save_checkpoint(build_model(get_preset("tiny"), seed=2), b)
    out = tmp_path / "sp"
    claimed(out, settings(checkpoint=str(a)))
    with pytest.raises(PerfkitError, match="checkpoint_sha256"):
        selfplay(settings(checkpoint=str(b)), out, progress=False)


def test_refuses_foreign_dirs_shrinking_and_a_second_writer(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(PerfkitError, match="not a self-play directory"):
        selfplay(settings(), foreign, progress=False)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]  # left untouched

    out = tmp_path / "sp"
    selfplay(settings(3), out, progress=False)
    with pytest.raises(PerfkitError, match="can grow on resume but not shrink; pass --games 3"):
        selfplay(settings(2), out, progress=False)

    holder = SelfplayDir.open(out, identity=settings().identity(), created_with={})
    try:
        with pytest.raises(PerfkitError, match=rf"being written by another perfkit selfplay \(pid {os.getpid()}\)"):
            selfplay(settings(), out, progress=False)
    finally:
        holder.close()


def test_crash_leftovers_are_cleaned_and_lost_games_replayed(tmp_path, reference):
    out = tmp_path / "sp"
    selfplay(settings(), out, progress=False)
    shards = sorted((out / "shards").glob("shard-*.parquet"))
    shards[0].unlink()  # its games were never written, as if killed before the rename
    (out / "shards" / ".shard-000099.parquet.4242.tmp").write_bytes(b"half a shard")
    damaged = shards[1].read_bytes()
    shards[1].write_bytes(damaged[: len(damaged) // 2])  # cannot happen by rename; handled anyway
    (out / ".progress.json.4242.tmp").write_text("{")
    notes = []
    summary = selfplay(settings(), out, progress=False, log=notes.append)
    assert summary["unique_games"] == summary["games"] == N
    assert summary["game_digest"] == reference[0]["game_digest"]
    assert any("unreadable" in n and shards[1].name in n for n in notes)
    leftovers = [p.name for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    assert (out / "shards" / f"{shards[1].name}.damaged").exists()
    assert_legal(load_selfplay(out))


def test_progress_file_and_cli_json(tmp_path, capsys, reference):
    out = tmp_path / "sp"
    argv = ["selfplay", "--games", str(N), "--out", str(out), "--preset", "tiny", "--precision", "float64",
            "--concurrency", "4", "--shard-games", "3", "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert {"games", "unique_games", "game_digest", "out"} <= set(summary)
    assert summary["games"] == summary["unique_games"] == N and summary["out"] == str(out)
    assert summary["game_digest"] == reference[0]["game_digest"]
    assert "games_s=" in captured.err and "days_500k=" in captured.err  # the live bar
    progress = json.loads((out / "progress.json").read_text())
    for data, table in ((summary, SELFPLAY_JSON_KEYS), (progress, PROGRESS_KEYS)):
        assert sorted(data) == sorted(table)  # every key documented, every documented key there
        assert [k for k, v in data.items() if not json_type_ok(v, table[k][0])] == []
    assert progress["state"] == "finished" and progress["games_done"] == N
    assert progress["games_per_s"] > 0 and progress["eta_s"] == 0
    assert progress["warmup_games"] == summary["warmup_games"] == 4  # one per game in flight (--concurrency 4)
    assert progress["rate_basis"].startswith("games after the first 4 of this session")
    assert progress["projected_days_500k"] == pytest.approx(500_000 / progress["games_per_s"] / 86_400)

    assert main([*argv[:-1], "--seed", "3"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("perfkit selfplay: error: ") and "seed 0 in DIR vs 3 now" in err[0]


def test_signal_waits_for_a_shard_write_to_finish():
    with StopSignals() as signals:
        with pytest.raises(Interrupted) as stop:
            with signals.critical():
                os.kill(os.getpid(), signal.SIGTERM)
                done = True  # the section runs to its end
        assert done and stop.value.exit_code == 143
        with pytest.raises(Interrupted) as stop:
            os.kill(os.getpid(), signal.SIGINT)
        assert stop.value.exit_code == 130
