"""perfkit's batched AlphaZero search (`--search mcts`): equal games across strategies, equal to a
plain one-game PUCT written here, exact terminal values never sent, legal in OpenSpiel, and strong
enough with no network at all to beat a random player."""

from __future__ import annotations

import dataclasses
import importlib
import math
import sys

import numpy as np
import pytest

from perfkit.game import ConnectFour
from perfkit.game.connect_four import COLS, windows_through
from perfkit.measure.bench import BenchSettings, Workload, run_strategy
from perfkit.search.mcts import Forest, MCTSConfig
from perfkit.strategies.base import drive
from perfkit.types import Evaluation, PerfkitError

QUICK = MCTSConfig(simulations=12, temperature_plies=4)


def settings(game="connect_four", search=QUICK, **kw) -> BenchSettings:
    base = dict(preset="tiny", game=game, games=3, device="cpu", precision="float64", search=search, threads=1,
                concurrency=3)
    return BenchSettings(**{**base, **kw})


def sequences(run) -> dict[int, list[int]]:
    return {g: list(m.sort_values("ply")["move"]) for g, m in run.moves.groupby("game")}


def fake_network(stones: np.ndarray, to_move: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A fixed deterministic network: logits and value from a seeded linear map of the board."""
    weights = np.random.default_rng(3).normal(size=(3 * 42, COLS + 1))
    planes = np.concatenate([stones == 1, stones == 2, stones == 0], axis=1).astype(np.float64)
    out = planes @ weights
    sign = np.where(to_move == 1, 1.0, -1.0)
    return out[:, :COLS], np.tanh(0.1 * sign * out[:, COLS])


@pytest.fixture(scope="module")
def played():
    workload = Workload.prepare(settings())
    runs = {name: run_strategy(name, workload, progress=False) for name in ("naive", "crossgame")}
    k1 = dataclasses.replace(workload, settings=settings(search=dataclasses.replace(QUICK, leaves=1)))
    runs["permove-k1"] = run_strategy("permove", k1, progress=False)
    return workload, runs


def test_naive_crossgame_and_permove_k1_play_identical_games(played):
    _, runs = played
    reference = sequences(runs["naive"])
    assert len(reference) == 3
    for name, run in runs.items():
        assert sequences(run) == reference, name
        np.testing.assert_allclose(run.moves["minimax_value"], runs["naive"].moves["minimax_value"], atol=1e-9)


def test_naive_is_one_leaf_per_call_and_crossgame_batches_across_games(played):
    _, runs = played
    assert runs["naive"].calls["batch"].max() == 1
    assert runs["crossgame"].calls["batch"].max() > 1
    # a move asks for its root (when not reused) and at most one leaf per simulation
    assert runs["naive"].moves["boards"].max() <= 1 + QUICK.simulations
    # with subtree reuse a game's root is evaluated once, at its first move; later roots were leaves
    assert (runs["naive"].calls["level"] == 0).sum() <= len(runs["naive"].games)


def replay(moves: list[int]) -> int:
    pyspiel = pytest.importorskip("pyspiel")
    state = pyspiel.load_game("connect_four").new_initial_state()
    for a in moves:
        assert a in state.legal_actions()
        state.apply_action(a)
    assert state.is_terminal()
    r = state.returns()
    return 1 if r[0] > r[1] else 2 if r[1] > r[0] else 0


def test_every_game_replays_legally_in_openspiel_with_its_outcome(played):
    _, runs = played
    for name, run in runs.items():
        winners = dict(zip(run.games["game"], run.games["winner"], strict=True))
        for g, moves in sequences(run).items():
            assert replay(moves) == winners[g], name


def test_cache_on_and_off_play_the_same_games(played):
    workload, runs = played
    uncached = dataclasses.replace(workload, settings=dataclasses.replace(workload.settings, cache=False))
    run = run_strategy("crossgame", uncached, progress=False)
    assert sequences(run) == sequences(runs["crossgame"])
    assert run.summary["boards"] > runs["crossgame"].summary["boards"]  # the cache sent fewer


def test_crossgame_with_a_device_thread_plays_the_same_games(played):
    """groups 2, inflight 2: the cache is looked up on the search's thread and only its misses go to
    the device thread; the games are naive's, every asked board is a hit or sent."""
    workload, runs = played
    overlapped = dataclasses.replace(workload, settings=dataclasses.replace(workload.settings, concurrency=4, groups=2,
                                                                            inflight=2, games=4))
    switch = sys.getswitchinterval()
    run = run_strategy("crossgame", overlapped, progress=False)
    assert sys.getswitchinterval() == switch  # lowered while the device thread ran, restored after
    naive = dataclasses.replace(workload, settings=dataclasses.replace(workload.settings, games=4))
    assert sequences(run) == sequences(run_strategy("naive", naive, progress=False))
    s = run.summary
    assert s["boards"] == round(s["boards_asked"] * (1 - s["cache_hit_share"]))  # the calls carried the misses only
    assert run.calls["asked"].sum() >= s["boards"]


def test_permove_k8_takes_eight_leaves_per_call_and_stays_legal():
    run = run_strategy("permove", Workload.prepare(settings(search=MCTSConfig(simulations=16), games=2)), progress=False)
    assert run.calls["batch"].max() == 8
    winners = dict(zip(run.games["game"], run.games["winner"], strict=True))
    for g, moves in sequences(run).items():
        assert replay(moves) == winners[g]


def test_no_reuse_plays_legal_games_and_asks_for_every_root():
    cfg = dataclasses.replace(QUICK, reuse=False)
    run = run_strategy("crossgame", Workload.prepare(settings(search=cfg, cache=False)), progress=False)
    assert (run.calls["level"] == 0).sum() >= len(run.moves) // 3  # a root request every move step
    for moves in sequences(run).values():
        replay(moves)


def test_hex_through_the_same_search():
    workload = Workload.prepare(settings(game="hex"))
    a, b = (run_strategy(name, workload, progress=False) for name in ("naive", "crossgame"))
    assert sequences(a) == sequences(b)


# --- the vectorised tree against a plain one-game PUCT --------------------------------------


class Node:
    def __init__(self, position, prior=None):
        self.position, self.prior = position, prior
        self.n, self.w, self.kids = 0, 0.0, {}


def reference_visits(position, config: MCTSConfig) -> list[int]:
    """Root child visits of a plain PUCT on one game: dicts, recursion-free loops, no arrays of trees."""

    def evaluate(node):
        logits, value = fake_network(node.position.stones, node.position.to_move)
        legal = np.flatnonzero(node.position.legal()[0])
        e = np.exp(logits[0, legal] - logits[0, legal].max())
        node.prior = dict(zip(legal.tolist(), (e / e.sum()).tolist(), strict=True))
        return float(value[0])

    root = Node(position)
    root.w, root.n = -evaluate(root), 1
    for _ in range(config.simulations):
        node, path = root, []
        while True:
            best, best_score = None, -math.inf
            for a, p in node.prior.items():  # legal actions in increasing order: ties go to the lowest
                kid = node.kids.get(a)
                n = kid.n if kid else 0
                q = kid.w / max(n, 1) if kid else 0.0
                score = q + config.c_puct * p * math.sqrt(node.n) / (1 + n)
                if score > best_score:
                    best, best_score = a, score
            kid = node.kids.get(best)
            if kid is None:
                kid = node.kids[best] = Node(node.position.play(np.array([best])))
                path.append(kid)
                if kid.position.terminal[0]:
                    value = 1.0 if kid.position.winner[0] else 0.0  # the mover of a finishing move wins or draws
                else:
                    value = -evaluate(kid)
                break
            path.append(kid)
            if kid.position.terminal[0]:
                value = 1.0 if kid.position.winner[0] else 0.0
                break
            node = kid
        for kid in reversed(path):  # negamax: each node holds the value for the player who moved into it
            kid.n += 1
            kid.w += value
            value = -value
        root.n += 1
    return [root.kids[a].n if a in root.kids else 0 for a in range(COLS)]


def random_positions(count: int, seed: int = 11):
    """Unfinished positions after 0..30 random plies."""
    rng = np.random.default_rng(seed)
    game, out = ConnectFour(), []
    while len(out) < count:
        pos = game.start(1)
        for _ in range(int(rng.integers(0, 31))):
            if pos.terminal[0]:
                break
            pos = pos.play(np.array([rng.choice(np.flatnonzero(pos.legal()[0]))]))
        if not pos.terminal[0]:
            out.append(pos)
    return game.concat(out)


def search_all(roots, config: MCTSConfig, evaluate=fake_network):
    forest = Forest(ConnectFour(), config, len(roots))
    steps = forest.search(roots, games=list(range(len(roots))), plies=np.full(len(roots), 99))
    return drive(steps, lambda req: Evaluation(*evaluate(req.stones, req.to_move)))


def test_visit_counts_equal_a_scalar_reference_puct_on_120_positions():
    config = MCTSConfig(simulations=40, dirichlet_fraction=0.0, temperature_plies=0, reuse=False, leaves=1)
    roots = random_positions(120)
    results = search_all(roots, config)  # all 120 trees at once: none may influence another
    for i, result in enumerate(results):
        assert result.visits == reference_visits(roots.take(np.array([i])), config), f"position {i}"
        assert result.move == int(np.argmax(result.visits))


# --- terminal positions ---------------------------------------------------------------------


def is_terminal(stones: np.ndarray) -> bool:
    """A four in a row or a full board, found by scanning every window (independent of `play`)."""
    board = np.append(stones, 0)
    lines = board[windows_through().reshape(-1, 4)]
    return bool(((lines == 1).all(1) | (lines == 2).all(1)).any() or (stones != 0).all())


class Counting:
    def __init__(self):
        self.calls, self.rows = 0, []

    def __call__(self, stones, to_move):
        self.calls += 1
        self.rows += list(stones)
        return fake_network(stones, to_move)


def test_terminal_positions_are_never_sent_to_the_network():
    counting = Counting()
    config = MCTSConfig(simulations=60, leaves=4, reuse=False)
    search_all(random_positions(40, seed=5), config, counting)
    assert counting.rows and not any(is_terminal(r) for r in counting.rows)


def test_a_move_whose_every_child_ends_the_game_costs_one_call():
    order = [0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 2, 3, 2, 3, 2, 3, 3, 2, 3, 2, 3, 2,
             4, 5, 4, 5, 4, 5, 5, 4, 5, 4, 5, 4, 6, 6, 6, 6, 6]  # one column left, its last cell draws
    pos = ConnectFour().start(1)
    for a in order:
        pos = pos.play(np.array([a]))
    counting = Counting()
    (result,) = search_all(pos, MCTSConfig(simulations=30), counting)
    assert (counting.calls, len(counting.rows)) == (1, 1)  # the root only
    assert result.move == 6 and result.visits[6] == 30 and result.minimax_value == 0.0


# --- strength with no network -----------------------------------------------------------------


def test_200_simulations_with_no_network_beat_a_random_player():
    """Uniform policy, zero value: only the search and exact terminal values play. 100 games, 50 as each colour."""
    config = MCTSConfig(simulations=200, reuse=False, temperature_plies=0)
    game, rng = ConnectFour(), np.random.default_rng(2026)
    count = 100
    pos = game.start(count)
    ids = np.arange(count)
    mcts_player = np.where(ids % 2 == 0, 1, 2)
    winners = np.zeros(count, np.int8)
    ply = 0
    while len(ids):
        ours = pos.to_move == mcts_player[ids]
        moves = np.array([rng.choice(np.flatnonzero(row)) for row in pos.legal()])
        if ours.any():
            forest = Forest(game, config, int(ours.sum()), seed=1)
            steps = forest.search(pos.take(np.flatnonzero(ours)), games=ids[ours].tolist(), plies=np.full(ours.sum(), ply))
            results = drive(steps, lambda req: (Evaluation(np.zeros((len(req), COLS)), np.zeros(len(req)))))
            moves[ours] = [r.move for r in results]
        pos = pos.play(moves)
        over = pos.terminal
        winners[ids[over]] = pos.winner[over]
        ids, pos, ply = ids[~over], pos.take(np.flatnonzero(~over)), ply + 1
    won = int((winners == mcts_player).sum())
    assert won >= 90, f"won {won} of 100"


# --- configuration and the command line -------------------------------------------------------


@pytest.mark.parametrize("kw, message", [
    ({"simulations": 0}, "simulations must be a whole number from 1"),
    ({"leaves": 0}, "leaves must be a whole number from 1"),
    ({"c_puct": -1.0}, "c-puct must be a number > 0"),
    ({"dirichlet_fraction": 1.5}, "dirichlet-fraction must be between 0 and 1"),
])
def test_bad_config_is_a_perfkit_error(kw, message):
    with pytest.raises(PerfkitError, match=message):
        MCTSConfig(**kw)


def test_naive_refuses_more_than_one_leaf():
    with pytest.raises(PerfkitError, match="naive evaluates one leaf per call"):
        run_strategy("naive", Workload.prepare(settings(search=MCTSConfig(leaves=4), games=1)), progress=False)


@pytest.mark.parametrize("flags, message", [
    (["--search", "mcts", "--simulations", "0"], "--simulations: must be a positive integer"),
    (["--search", "mcts", "--leaves", "0"], "--leaves: must be a positive integer"),
    (["--search", "mcts", "--c-puct", "-1"], "--c-puct: must be a number > 0"),
    (["--search", "nosuch"], "unknown search 'nosuch'; choose one of: minimax, mcts"),
    (["--search", "mcts", "--leaves", "4", "--strategy", "naive"], "naive evaluates one leaf per call"),
    (["--search", "mcts", "--workers", "2"], "mcts keeps its trees in the process"),
    (["--c-puct", "2"], "--c-puct applies to --search mcts"),
])
def test_bad_flags_are_one_line_and_write_nothing(tmp_path, capsys, flags, message):
    from perfkit.cli import main

    out = tmp_path / "runs"
    try:
        code = main(["bench", "--game", "connect_four", "--preset", "tiny", "--games", "1", "--no-progress",
                     "--out", str(out), *flags])
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code != 0
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


# --- selfplay keeps the policy target ----------------------------------------------------------


def selfplay_mcts(out, games: int = 3):
    from perfkit.selfplay import SelfplaySettings, selfplay

    workload = settings(search=MCTSConfig(simulations=10, temperature_plies=4), games=games, precision="float32")
    return selfplay(SelfplaySettings(workload=workload, shard_games=2), out, progress=False)


def test_selfplay_shards_keep_each_moves_visit_counts(tmp_path):
    from perfkit.selfplay import load_selfplay

    selfplay_mcts(tmp_path / "sp")
    data = load_selfplay(tmp_path / "sp")
    assert len(data.games) == 3
    for row in data.moves.itertuples():
        assert len(row.visits) == COLS and sum(row.visits) >= 10  # a reused root keeps its earlier visits
        assert row.visits[row.move] > 0
        assert row.visits[row.move] == max(row.visits) or row.ply < 4  # sampled, then the most visited


def test_shards_written_before_visits_were_kept_still_load(tmp_path):
    """A shard of the earlier format (no visits column) is read with [] for each move's visits."""
    import json

    import pyarrow.parquet as pq

    from perfkit.selfplay import load_selfplay
    from perfkit.selfplay.store import LEGACY_SCHEMA, META_KEY, table_checksum

    selfplay_mcts(tmp_path / "sp", games=2)
    (shard,) = sorted((tmp_path / "sp" / "shards").glob("shard-*.parquet"))
    table = pq.read_table(shard)
    meta = json.loads(table.schema.metadata[META_KEY])
    old = table.drop_columns(["visits"]).replace_schema_metadata(None)
    meta["sha256"] = table_checksum(old, LEGACY_SCHEMA.names)
    pq.write_table(old.replace_schema_metadata({META_KEY: json.dumps(meta).encode()}), shard)
    data = load_selfplay(tmp_path / "sp")
    assert len(data.games) == 2 and not data.skipped
    assert all(v == [] for v in data.moves["visits"])


def test_openspiels_connect_four_through_the_adapter_plays_the_same_games(played):
    """The same network on OpenSpiel's own game (`openspiel:connect_four`): identical float64 games."""
    _, runs = played
    adapter = run_strategy("crossgame", Workload.prepare(settings(game="openspiel:connect_four")), progress=False)
    assert sequences(adapter) == sequences(runs["crossgame"])


def test_a_level_waiting_goes_out_as_soon_as_a_call_comes_back(played, monkeypatch):
    """groups 3, inflight 2: a level already waiting goes out when a call comes back, before that call's
    searches run (the device would wait on them), so it is never merged with the level those searches make:
    with calls unbounded, every level that needs the network is one call of its own; the games are naive's."""
    workload, runs = played
    requests = []
    ask = Forest._request
    monkeypatch.setattr(Forest, "_request", lambda self, *args: requests.append(1) or ask(self, *args))
    three = dataclasses.replace(workload.settings, concurrency=6, games=6, groups=3, inflight=2)
    run = run_strategy("crossgame", dataclasses.replace(workload, settings=three), progress=False)
    assert len(run.calls) == len(requests) - run.manifest["cache"]["cache_full_hits"]
    naive = dataclasses.replace(workload, settings=dataclasses.replace(workload.settings, games=6))
    monkeypatch.undo()
    assert sequences(run) == sequences(run_strategy("naive", naive, progress=False))


def test_the_next_moves_noise_is_drawn_during_the_rounds(played, monkeypatch):
    """A move's end is no burst of one noise generator per game: the rounds draw the next move's noise
    ahead, a slice per round, and a move's start draws only for games that are new or whose legal count
    was guessed wrong. The same numbers: the same games as drawing each at its move."""
    mcts = importlib.import_module("perfkit.search.mcts")
    workload, runs = played
    where: list[str] = []
    draw, prior = mcts.noise_draws, Forest._noisy_prior
    at_start = [False]

    def counted(*args):
        where.append("start" if at_start[0] else "ahead")
        return draw(*args)

    def starting(self, *args):
        at_start[0] = True
        try:
            return prior(self, *args)
        finally:
            at_start[0] = False

    monkeypatch.setattr(mcts, "noise_draws", counted)
    monkeypatch.setattr(Forest, "_noisy_prior", starting)
    run = run_strategy("crossgame", workload, progress=False)
    assert sequences(run) == sequences(runs["naive"])
    first_moves = run.games["game"].nunique()
    later = len(run.moves) - first_moves
    assert where.count("start") - first_moves < later / 2  # most later moves found their noise drawn ahead
    assert where.count("ahead") >= later

    monkeypatch.setattr(Forest, "_draw_ahead", lambda self, todo, root, n: todo)  # nothing ahead: all at the move
    where.clear()
    assert sequences(run_strategy("crossgame", workload, progress=False)) == sequences(runs["naive"])
    assert where.count("start") == len(run.moves) and "ahead" not in where
