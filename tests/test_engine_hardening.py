"""The engine surface takes misbehaving code without hanging, dying or recording anything false (issue 22).

- the batch server: a bad request (shape, dtype, NaN, text, empty) fails its caller only, as
  it arrives; a forward that raises anything (SystemExit and KeyboardInterrupt included) or
  answers too few rows, NaN or text fails the callers of that call only; the server thread
  never dies (a property test over random mixes from many threads);
- misbehaving engines (tests/data/bad_engines.py) through the API and the CLI.

No test can hang: an in-process test runs under `within` (its body in a thread, failed after a
deadline), a CLI run in a subprocess with a timeout.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfkit.batching.server import BatchServer
from perfkit.types import PerfkitError

ROOT = Path(__file__).resolve().parent.parent
BAD_ENGINES = ROOT / "tests" / "data" / "bad_engines.py"


def within(seconds: float, body: Callable[[], object]):
    """`body()`'s result, or a test failure (not a hang) if it has not returned after `seconds`."""
    out: dict = {}

    def run() -> None:
        try:
            out["value"] = body()
        except BaseException as exc:  # re-raised in the test's thread
            out["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        pytest.fail(f"did not finish within {seconds} s: a hang")
    if "error" in out:
        raise out["error"]
    return out.get("value")


# --------------------------------------------------------------------------- the batch server

OBS = (4,)  # a toy observation: [marker, request id, row, 0]
GOOD, RAISES, EXITS, NAN_OUT, SHORT, INTERRUPTS = 0.0, -1.0, -2.0, -3.0, -4.0, -5.0


def toy_forward(planes, *, owners=None, queue_wait_s=None):
    """A deterministic network: row (marker, id, k) -> logits [10 id + k, -id], value id + k / 10.

    Markers make it misbehave for the whole call: raise, exit, interrupt, answer NaN or a row short.
    """
    planes = np.asarray(planes, dtype=np.float64)
    markers = set(planes[:, 0].tolist())
    if RAISES in markers:
        raise ValueError("bad input")
    if EXITS in markers:
        raise SystemExit(3)
    if INTERRUPTS in markers:
        raise KeyboardInterrupt
    logits = np.stack([10 * planes[:, 1] + planes[:, 2], -planes[:, 1]], axis=1)
    values = planes[:, 1] + planes[:, 2] / 10
    if NAN_OUT in markers:
        values = values.copy()
        values[planes[:, 0] == NAN_OUT] = np.nan
    if SHORT in markers:
        return logits[:-1], values[:-1]
    return logits, values


def rows(request_id: int, k: int, marker: float = GOOD) -> np.ndarray:
    return np.array([[marker, request_id, i, 0.0] for i in range(k)])


def expected(request_id: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([[10 * request_id + i, -request_id] for i in range(k)], dtype=np.float64),
            np.array([request_id + i / 10 for i in range(k)]))


def serve_one(server: BatchServer, obs):
    """predict_batch through a live client, as a game's thread would."""
    with server.client():
        return server.predict_batch(obs)


def serve_together(server: BatchServer, *batches) -> list:
    """Each batch from a client thread of its own, all sent at once (one call, when the server
    fires on every live client waiting): what each got back, or the PerfkitError it got."""
    results: list = [None] * len(batches)
    barrier = threading.Barrier(len(batches))

    def client(i: int) -> None:
        with server.client():
            barrier.wait()
            try:
                results[i] = server.predict_batch(batches[i])
            except PerfkitError as exc:
                results[i] = exc

    def play() -> None:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(batches))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    within(20, play)
    return results


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_batch": -1}, r"max_batch must be a whole number >= 1 \(or None: no limit\), got -1"),
    ({"max_batch": 0}, r"max_batch must be a whole number >= 1 .*got 0"),
    ({"max_batch": "x"}, r"max_batch must be a whole number >= 1 .*got 'x'"),
    ({"max_batch": 2.5}, r"max_batch .*got 2\.5"),
    ({"max_batch": True}, r"max_batch .*got True"),
    ({"max_wait_s": math.nan}, r"max_wait_s must be a number of seconds >= 0, got nan"),
    ({"max_wait_s": -0.1}, r"max_wait_s must be a number of seconds >= 0, got -0\.1"),
    ({"max_wait_s": "0.1"}, r"max_wait_s must be a number of seconds >= 0, got '0\.1'"),
    ({"obs_shape": "abc"}, r"obs_shape must be a sequence of whole numbers, got 'abc'"),
])
def test_server_settings_are_checked_at_construction(kwargs, message):
    with pytest.raises(PerfkitError, match=message):
        BatchServer(toy_forward, **kwargs)


def test_server_refuses_predict_before_start_and_after_close():
    server = BatchServer(toy_forward)
    with pytest.raises(PerfkitError, match=r"not started; use `with server:` or call server.start\(\) first"):
        server.predict(rows(1, 1)[0])
    with server:
        assert within(10, lambda: serve_one(server, rows(1, 1)))[1].tolist() == [1.0]
    with pytest.raises(PerfkitError, match="the batch server is closed"):
        server.predict(rows(1, 1)[0])
    with pytest.raises(PerfkitError, match="closed server does not start again"):
        server.start()


@pytest.mark.parametrize(("obs", "message"), [
    (np.zeros((0, 4)), r"no observations to evaluate: an empty batch shaped \[0, 4\]"),
    (np.zeros(0), r"no observations to evaluate"),
    (np.zeros((1, 5)), r"the observations are shaped \[5\]; this engine's observations are \[4\]"),
    (np.zeros((1, 2, 2)), r"shaped \[2, 2\]; this engine's observations are \[4\]"),
    ("[1, 2, 3, 4]", r"the observations are a str, not an array of numbers"),
    (np.full((1, 4), "x"), r"of dtype <U1 \(ndarray\), not numbers"),
    ([[1, 2], [3]], r"not an array of numbers"),
    (np.full((1, 4), None), r"of dtype object"),
    (np.full((2, 4), np.nan), r"hold 8 NaN or infinite values"),
    (np.array([[0.0, 1.0, np.inf, 0.0]]), r"hold 1 NaN or infinite value:"),
])
def test_a_bad_request_fails_its_caller_only(obs, message):
    server = BatchServer(toy_forward, obs_shape=OBS, max_batch=4)
    with server:
        with pytest.raises(PerfkitError, match=message):
            within(10, lambda: serve_one(server, obs))
        logits, values = within(10, lambda: serve_one(server, rows(7, 2)))
    assert np.array_equal(logits, expected(7, 2)[0]) and np.array_equal(values, expected(7, 2)[1])
    assert server.requests == 1  # the bad one never reached the queue


def test_predict_checks_one_observation():
    server = BatchServer(toy_forward, obs_shape=OBS)
    with server, server.client() as predict:
        with pytest.raises(PerfkitError, match=r"the observation is shaped \[3, 4, 4\]; this engine's observations are \[4\]"):
            within(10, lambda: predict(np.zeros((3, 4, 4))))
        with pytest.raises(PerfkitError, match=r"the observation is a str"):
            within(10, lambda: predict("board"))
        with pytest.raises(PerfkitError, match=r"the observation holds 4 NaN"):
            within(10, lambda: predict(np.full(4, np.nan)))
        logits, value = within(10, lambda: predict(rows(3, 1)[0]))
    assert logits.tolist() == [30.0, -3.0] and value == 3.0


@pytest.mark.parametrize(("marker", "message"), [
    (RAISES, r"the network call failed: ValueError: bad input"),
    (EXITS, r"the network call failed: SystemExit: 3"),
    (INTERRUPTS, r"the network call failed: KeyboardInterrupt"),
    (NAN_OUT, r"the network answered NaN or infinite values"),
    (SHORT, r"the network answered logits \[1, 2\] and values \[1\] for 2 observations"),
])
def test_a_failing_call_fails_its_callers_and_the_server_goes_on(marker, message):
    """Two requests in one call, one poisoned: the call is retried request by request."""
    server = BatchServer(toy_forward, obs_shape=OBS, max_batch=None, max_wait_s=3600.0)  # fires when both wait
    with server:
        results = serve_together(server, rows(0, 2, marker), rows(1, 2))
        assert server._thread is not None and server._thread.is_alive()
        after = within(10, lambda: serve_one(server, rows(5, 1)))
    assert isinstance(results[0], PerfkitError)
    assert len(str(results[0]).splitlines()) == 1
    assert re.search(message, str(results[0])), str(results[0])
    assert np.array_equal(results[1][0], expected(1, 2)[0])
    assert np.array_equal(after[0], expected(5, 1)[0])


@pytest.mark.parametrize("out", [
    ("ab", "cd"), (np.full((1, 2), "x"), np.zeros(1)), None, (np.zeros((1, 2)),), 42,
])
def test_a_forward_answering_garbage_is_a_perfkit_error(out):
    server = BatchServer(lambda planes, **_: out, obs_shape=OBS)
    with server:
        with pytest.raises(PerfkitError, match=r"the network (must return numbers|answered)"):
            within(10, lambda: serve_one(server, rows(1, 1)))
        assert server._thread is not None and server._thread.is_alive()


def test_mixed_shapes_without_an_expected_shape_are_answered_one_by_one():
    def forward(planes, **_):
        flat = np.asarray(planes, dtype=np.float64).reshape(len(planes), -1)
        return flat[:, :2], flat.sum(axis=1)

    server = BatchServer(forward, max_batch=None, max_wait_s=3600.0)
    with server:
        results = serve_together(server, np.ones((1, 3, 3, 3)), np.ones((1, 3, 4, 4)))
    assert results[0][1].tolist() == [27] and results[1][1].tolist() == [48]


# A request in the property test: (kind, rows); kinds that fail on arrival or in the call.
ARRIVAL_BAD = ("shape", "nan", "text", "empty", "dtype")
CALL_BAD = {"raises": RAISES, "exits": EXITS, "interrupts": INTERRUPTS, "nan_out": NAN_OUT, "short": SHORT}
KINDS = ("good",) * 6 + ARRIVAL_BAD + tuple(CALL_BAD)


def request_obs(kind: str, request_id: int, k: int):
    if kind == "good":
        return rows(request_id, k)
    if kind in CALL_BAD:
        return rows(request_id, k, CALL_BAD[kind])
    return {
        "shape": np.zeros((k, 5)), "nan": np.full((k, 4), np.nan), "text": "obs", "empty": np.zeros((0, 4)),
        "dtype": np.full((k, 4), "1"),
    }[kind]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=st.lists(  # one list of requests per client thread
        st.lists(st.tuples(st.sampled_from(KINDS), st.integers(1, 3), st.booleans()), min_size=1, max_size=6),
        min_size=1, max_size=8,
    ),
    max_batch=st.one_of(st.none(), st.integers(1, 6)),
    max_wait_s=st.sampled_from([0.0, 0.001, 0.01]),
)
def test_property_good_requests_answered_once_bad_ones_failed_server_alive(plan, max_batch, max_wait_s):
    server = BatchServer(toy_forward, obs_shape=OBS, max_batch=max_batch, max_wait_s=max_wait_s)
    outcomes: dict[int, list] = {}  # request id -> what its caller got, each time
    lock = threading.Lock()
    requests = [[(c * 100 + i, kind, k, single) for i, (kind, k, single) in enumerate(reqs)] for c, reqs in enumerate(plan)]

    def client(mine) -> None:
        with server.client() as predict:
            for request_id, kind, k, single in mine:
                obs = request_obs(kind, request_id, k)
                try:
                    if single and kind == "good":  # predict: one observation
                        logits, value = predict(obs[0])
                        got: object = (logits[None], np.array([value]))
                    else:
                        got = server.predict_batch(obs)
                except PerfkitError as exc:
                    got = exc
                with lock:
                    outcomes.setdefault(request_id, []).append(got)

    def play() -> None:
        threads = [threading.Thread(target=client, args=(mine,)) for mine in requests]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    with server:
        within(60, play)
        assert server._thread is not None and server._thread.is_alive(), "the server thread died"
        alive = within(10, lambda: serve_one(server, rows(9999, 1)))
    assert np.array_equal(alive[0], expected(9999, 1)[0])
    for mine in requests:
        for request_id, kind, k, single in mine:
            got = outcomes[request_id]
            assert len(got) == 1, f"request {request_id} ({kind}) answered {len(got)} times"
            if kind == "good":
                assert not isinstance(got[0], BaseException), f"good request {request_id} failed: {got[0]}"
                want = expected(request_id, 1 if single else k)
                assert np.array_equal(got[0][0], want[0]) and np.array_equal(got[0][1], want[1])
            else:
                assert isinstance(got[0], PerfkitError), f"bad request {request_id} ({kind}) got {got[0]!r}"


# --------------------------------------------------------------------------- misbehaving engines

def bad_engine(name: str):
    from perfkit.search.engines import make_engine

    return make_engine(f"{BAD_ENGINES}:{name}", game="tiny", simulations=2, seed=0)


@pytest.fixture(scope="module")
def tiny_net():
    from perfkit.model import build_game_model

    return build_game_model((3, 3, 3), 9, preset="tiny", seed=0)


def play(name: str, net, strategy: str = "naive", **options):
    from perfkit.search.engines import EngineOptions, play_engine

    recipe = {"spec": f"{BAD_ENGINES}:{name}", "game": "tiny", "simulations": 2, "seed": 0}
    return within(120, lambda: play_engine(
        bad_engine(name), net, strategy, EngineOptions(**{"games": 4, **options}), precision="float64", recipe=recipe,
    ))


MODES = [("naive", {}), ("crossgame", {"concurrency": 4}), ("crossgame", {"concurrency": 4, "workers": 1})]
MODE_IDS = ["naive", "crossgame", "crossgame-workers1"]


@pytest.fixture(scope="module")
def good_runs(tiny_net):
    return {mode: play("good", tiny_net, strategy, **options) for mode, (strategy, options) in zip(MODE_IDS, MODES, strict=True)}


@pytest.mark.parametrize(("engine", "why"), [
    ("raises", "RuntimeError: engine bug in game 1"),
    ("exits", "the engine called sys.exit(3)"),
    ("interrupts", "the engine raised KeyboardInterrupt"),
])
@pytest.mark.parametrize(("strategy", "options"), MODES, ids=MODE_IDS)
def test_an_aborted_game_is_never_stored_and_the_others_are_kept(tiny_net, good_runs, engine, why, strategy, options):
    from perfkit.search.engines.run import GamesFailed

    with pytest.raises(GamesFailed) as failed:
        play(engine, tiny_net, strategy, **options)
    assert str(failed.value) == f"1 of 4 games failed: game 1: {why}; 3 finished"
    run = failed.value.run
    assert run.manifest["failed_games"] == [{"game": 1, "error": why}]
    assert sorted(run.games["game"]) == [0, 2, 3] and 1 not in set(run.moves["game"])
    good = good_runs[MODE_IDS[MODES.index((strategy, options))]]
    # The finished games are the good engine's, move for move and winner for winner.
    assert dict(zip(run.games["game"], run.games["winner"], strict=True)) == {
        g: w for g, w in zip(good.games["game"], good.games["winner"], strict=True) if g != 1
    }
    assert (run.moves["move"] >= 0).all()


def test_a_game_raising_inside_a_move_is_not_a_draw_through_the_api(tiny_net):
    from perfkit.instrument.trace import Tracer

    tracer = Tracer(tiny_net, actions=9)
    with tracer:
        with tracer.game(0) as game, tracer.move(player=1) as move:
            tracer.predict(np.zeros((3, 3, 3)))
            move.action = 4
            game.winner = 1
        with pytest.raises(RuntimeError, match="engine bug"), tracer.game(1), tracer.move(player=1):
            tracer.predict(np.zeros((3, 3, 3)))
            raise RuntimeError("engine bug")
        with pytest.raises(SystemExit), tracer.game(2):
            raise SystemExit(3)
    run = tracer.run()
    assert list(run.games["game"]) == [0] and list(run.moves["move"]) == [4]
    assert run.manifest["failed_games"] == [
        {"game": 1, "error": "RuntimeError: engine bug"}, {"game": 2, "error": "the engine called sys.exit(3)"},
    ]
    assert run.summary["calls"] == 2  # the failed game's call happened: it is in the calls table


def test_a_move_that_raises_is_not_stored_but_its_game_goes_on(tiny_net):
    from perfkit.instrument.trace import Tracer

    tracer = Tracer(tiny_net)
    with tracer, tracer.game(0):
        with pytest.raises(ValueError), tracer.move(player=1):
            raise ValueError("search aborted")
        with tracer.move(player=1) as move:
            move.action = 2
    run = tracer.run()
    assert run.moves[["ply", "move"]].values.tolist() == [[0, 2]]


def perfkit_cli(*args: str, timeout_s: float = 120, cwd=None):
    """`python -m perfkit ARGS` in a subprocess, killed (a test failure, not a hang) after `timeout_s`."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    try:
        return subprocess.run([sys.executable, "-m", "perfkit", *args], capture_output=True, text=True, env=env,
                              timeout=timeout_s, cwd=cwd)
    except subprocess.TimeoutExpired:
        pytest.fail(f"perfkit {' '.join(args)} did not finish within {timeout_s} s")


def engine_bench(tmp_path, engine: str, *extra: str, timeout_s: float = 120):
    return perfkit_cli(
        "bench", "--engine", f"{BAD_ENGINES}:{engine}", "--game", "tiny", "--games", "4", "--preset", "tiny",
        "--precision", "float64", "--threads", "1", "--no-progress", "--out", str(tmp_path / "runs"), *extra,
        timeout_s=timeout_s,
    )


@pytest.mark.parametrize("extra", [("--strategy", "naive"), ("--strategy", "crossgame", "--workers", "1")],
                         ids=["naive", "crossgame-workers1"])
def test_cli_an_engine_calling_sys_exit_is_one_line_exit_1_and_the_finished_games_kept(tmp_path, extra):
    from perfkit.instrument.run import load_run

    done = engine_bench(tmp_path, "exits", *extra)
    assert done.returncode == 1, done.stderr  # not the engine's 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "perfkit bench: error: 1 of 4 games failed: game 1: the engine called sys.exit(3); 3 finished, kept in "
    ), done.stderr
    (kept,) = (tmp_path / "runs").iterdir()
    assert lines[0].endswith(str(kept))
    run = load_run(kept)
    assert sorted(run.games["game"]) == [0, 2, 3] and run.manifest["failed_games"][0]["game"] == 1


# --------------------------------------------------------------------------- the tracer refuses what cannot be true

def test_a_game_inside_a_game_is_refused_and_the_outer_game_keeps_its_moves(tiny_net):
    from perfkit.instrument.trace import Tracer

    tracer = Tracer(tiny_net)
    with tracer, tracer.game(0) as game:
        with tracer.move(player=1) as move:
            move.action = 1
        with pytest.raises(PerfkitError, match=r"tracer.game\(\) inside game 0 of the same thread"), tracer.game(1):
            pass
        with tracer.move(player=2) as move:
            move.action = 2
        game.winner = 2
    run = tracer.run()
    assert run.moves[["game", "ply", "move"]].values.tolist() == [[0, 0, 1], [0, 1, 2]]
    assert list(run.games["winner"]) == [2] and "failed_games" not in run.manifest


def test_a_game_id_used_twice_is_refused(tiny_net):
    from perfkit.instrument.trace import Tracer

    tracer = Tracer(tiny_net)
    with tracer:
        with tracer.game(3), tracer.move() as move:
            move.action = 0
        for _ in range(2):
            with pytest.raises(PerfkitError, match="game 3 was marked before: each game needs an id of its own"):
                with tracer.game(3), tracer.move() as move:
                    move.action = 1
        with tracer.game() as auto:  # an id of its own, past the ones given
            assert auto.game == 0
    run = tracer.run()
    assert not run.moves.duplicated(["game", "ply"]).any()
    assert sorted(run.games["game"]) == [0, 3]


@pytest.mark.parametrize(("game_id", "message"), [
    ("abc", r"a game id must be a whole number >= 0, got 'abc'"),
    ("3", r"got '3'"),
    (-1, r"got -1"),
    (1.5, r"got 1\.5"),
    (True, r"got True"),
])
def test_a_game_id_that_is_not_a_whole_number_is_refused(game_id, message):
    from perfkit.instrument.trace import Tracer

    with pytest.raises(PerfkitError, match=message), Tracer(None).game(game_id):
        pass


@pytest.mark.parametrize("winner", [7, 9, -1, 3, True, None, "1", 1.0])
def test_a_winner_outside_0_1_2_fails_the_game(winner):
    from perfkit.instrument.trace import Tracer

    tracer = Tracer(None)
    with pytest.raises(PerfkitError, match=rf"the winner must be 0 \(a draw\), 1 or 2, got {winner!r}"):
        with tracer.game(5) as game, tracer.move(player=1) as move:
            move.action = 0
            game.winner = winner
    run = tracer.run()
    assert len(run.games) == 0 and len(run.moves) == 0
    assert run.manifest["failed_games"][0]["game"] == 5


@pytest.mark.parametrize(("at_entry", "player"), [(True, 17), (True, -1), (True, "1"), (False, 17), (False, 3)])
def test_a_player_outside_0_1_2_is_refused(at_entry, player):
    from perfkit.instrument.trace import Tracer

    tracer = Tracer(None)
    with pytest.raises(PerfkitError, match=rf"player( of ply 0)? must be 0 \(unknown\), 1 or 2, got {player!r}"):
        with tracer.game(0):
            with tracer.move(player=player if at_entry else 1) as move:
                move.action = 0
                move.player = player
    assert len(tracer.run().moves) == 0


@pytest.mark.parametrize(("action", "message"), [
    (-5, r"the action of ply 0 must be an action of the game, 0 to 8, got -5"),
    (9, r"0 to 8, got 9"),
    (2.0, r"got 2\.0"),
    ("3", r"got '3'"),
    (None, r"got None"),
])
def test_a_bad_action_is_refused(action, message):
    from perfkit.instrument.trace import Tracer

    tracer = Tracer(None, actions=9)
    with pytest.raises(PerfkitError, match=message), tracer.game(0), tracer.move(player=1) as move:
        move.action = action
    assert len(tracer.run().moves) == 0


def test_a_move_without_an_action_and_a_move_outside_a_game_are_refused():
    from perfkit.instrument.trace import Tracer

    tracer = Tracer(None)
    with pytest.raises(PerfkitError, match=r"the move of ply 0 closed without an action: set `move.action`"):
        with tracer.game(0), tracer.move(player=1):
            pass
    with pytest.raises(PerfkitError, match=r"tracer.move\(\) outside any game: open one first"), tracer.move():
        pass
    with pytest.raises(PerfkitError, match=r"tracer.move\(\) inside a move of game 1"), tracer.game(1):
        with tracer.move() as move, tracer.move():
            move.action = 0
    run = tracer.run()
    assert len(run.moves) == 0 and [f["game"] for f in run.manifest["failed_games"]] == [0, 1]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"device": "tpu"}, r"unknown device 'tpu'"),
    ({"device": "cuda:x"}, r"unknown device 'cuda:x'"),
    ({"device": "sim"}, r"a Tracer runs your network for real; device 'sim' is simulated: use cpu or cuda"),
    ({"actions": "9"}, r"actions \(the game's action count\) must be a whole number >= 1, got '9'"),
    ({"actions": 0}, r"got 0"),
    ({"precision": "float8"}, r"unknown precision 'float8'"),
])
def test_tracer_settings_are_checked(tiny_net, kwargs, message):
    from perfkit.instrument.trace import Tracer

    with pytest.raises(PerfkitError, match=message):
        Tracer(tiny_net, **kwargs)


@pytest.mark.parametrize(("network", "message"), [
    (lambda x: (["a"] * len(x), ["b"] * len(x)), r"the network's logits are shaped \[\]"),
    (lambda x: (np.full((len(x), 9), "x"), np.zeros(len(x))), r"the network must return numbers"),
    (lambda x: ("logits", "value"), r"the network's logits are shaped \[\]"),
    (lambda x: "ab", r"the network's logits are shaped \[\]"),
    (lambda x: (np.full((len(x), 9), np.nan), np.zeros(len(x))), r"the network answered NaN or infinite values"),
    (lambda x: (np.zeros((len(x), 9)), np.full(len(x), np.inf)), r"the network answered NaN or infinite values"),
])
def test_a_network_answering_text_or_nan_is_a_perfkit_error(network, message):
    from perfkit.instrument.trace import Tracer

    tracer = Tracer(network, actions=9)
    with pytest.raises(PerfkitError, match=message):
        tracer.predict(np.zeros((3, 3, 3)))
    assert len(tracer.recorder.calls_table()) == 0  # a refused answer is no call


@pytest.mark.parametrize(("obs", "message"), [
    (np.full((3, 3, 3), np.nan), r"the observations hold 27 NaN or infinite values"),
    (np.full((3, 3, 3), "x"), r"the observations are of dtype <U1"),
])
def test_a_nan_or_text_observation_is_refused_by_the_tracer(tiny_net, obs, message):
    from perfkit.instrument.trace import Tracer

    with pytest.raises(PerfkitError, match=message):
        Tracer(tiny_net).predict(obs)


def test_a_call_from_an_engines_own_thread_counts_for_the_one_open_game(tiny_net):
    from perfkit.instrument.trace import Tracer

    tracer = Tracer(tiny_net, actions=9)

    def from_another_thread():
        t = threading.Thread(target=lambda: tracer.predict(np.zeros((3, 3, 3))))
        t.start()
        t.join()

    with tracer:
        with tracer.game(0):
            from_another_thread()  # in the game, between moves: no move to count it for
            for ply in range(2):
                with tracer.move(player=1 + ply) as move:
                    for _ in range(3):
                        from_another_thread()
                    move.action = ply
    run = tracer.run()
    assert run.moves["calls"].tolist() == [3.0, 3.0] and run.moves["boards"].tolist() == [3, 3]
    assert run.summary["calls"] == 7


@pytest.mark.parametrize(("strategy", "options"), [MODES[0], ("crossgame", {"concurrency": 4, "scheduler": "threads"}),
                                                   ("crossgame", {"concurrency": 4, "scheduler": "greenlet"})],
                         ids=[MODE_IDS[0], "crossgame-threads", "crossgame-greenlet"])
def test_an_engine_calling_from_its_own_thread(tiny_net, good_runs, strategy, options):
    """One game at a time: every call counts for its move, as the good engine's do. Several games in
    flight: whose call it is cannot be known, so it is refused, never counted for no move."""
    from perfkit.search.engines.run import GamesFailed

    if strategy == "naive":
        run = play("foreign_thread", tiny_net, strategy, **options)
        good = good_runs["naive"]
        cols = ["game", "ply", "player", "move", "calls", "boards"]
        assert run.moves[cols].equals(good.moves[cols])
        assert run.moves["boards"].sum() == run.summary["boards_asked"]
        assert run.moves["calls"].sum() == pytest.approx(run.summary["calls"])  # a cache hit is not a call
        return
    why = (r"a network call from outside the games run as greenlets .*--scheduler threads" if options.get("scheduler") == "greenlet"
           else r"a network call from a thread that opened no game, while several games")
    with pytest.raises(GamesFailed, match=why):
        play("foreign_thread", tiny_net, strategy, **options)


@pytest.mark.parametrize(("strategy", "options"), MODES, ids=MODE_IDS)
def test_an_engine_returning_a_bad_winner_fails_that_game(tiny_net, strategy, options):
    from perfkit.search.engines.run import GamesFailed

    with pytest.raises(GamesFailed, match=r"^1 of 4 games failed: game 1: the winner must be 0 \(a draw\), 1 or 2, got 7; 3 finished$"):
        play("bad_winner", tiny_net, strategy, **options)


# --------------------------------------------------------------------------- a hung engine: --game-timeout

@pytest.mark.parametrize("timeout", [0, -1.0, math.nan, "2", True])
def test_a_bad_game_timeout_is_refused(timeout):
    from perfkit.search.engines import EngineOptions

    with pytest.raises(PerfkitError, match=r"game timeout must be a number of seconds > 0 \(or None: no limit\)"):
        EngineOptions(game_timeout_s=timeout)


@pytest.mark.parametrize(("strategy", "options"), MODES, ids=MODE_IDS)
def test_a_hung_game_stops_the_run_naming_it_and_the_finished_games_are_kept(tiny_net, good_runs, strategy, options):
    from perfkit.search.engines.run import GamesFailed

    with pytest.raises(GamesFailed) as failed:
        play("hangs", tiny_net, strategy, game_timeout_s=3.0, **options)  # a tiny game takes ~30 ms
    assert failed.value.timed_out == 1
    assert str(failed.value).startswith("game 1 did not finish within 3 s (the game timeout): the run is stopped; ")
    run = failed.value.run
    assert 1 not in set(run.games["game"]) and len(run.games) >= 1
    assert set(run.moves["game"]) == set(run.games["game"])  # the tables agree: one run
    good = good_runs[MODE_IDS[MODES.index((strategy, options))]]
    cols = ["game", "ply", "player", "move"]
    kept = good.moves[good.moves["game"].isin(run.games["game"])][cols].reset_index(drop=True)
    assert run.moves[cols].reset_index(drop=True).equals(kept)
    assert run.manifest["failed_games"] == [{"game": 1, "error": "did not finish within 3 s (the game timeout)"}]


@pytest.mark.parametrize("extra", [("--strategy", "naive"), ("--strategy", "crossgame", "--workers", "1")],
                         ids=["naive", "crossgame-workers1"])
def test_cli_game_timeout_stops_a_hung_engine_in_one_line(tmp_path, extra):
    from perfkit.instrument.run import load_run

    done = engine_bench(tmp_path, "hangs", "--game-timeout", "3", *extra, timeout_s=120)
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("perfkit bench: error: game 1 did not finish within 3 s (the game timeout): the run is "
                           "stopped; "), line
    (kept,) = (tmp_path / "runs").iterdir()
    assert line.endswith(f"kept in {kept}") and 1 not in set(load_run(kept).games["game"])


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--engine", "X", "--game-timeout", "0"], 2, "--game-timeout: must be a number > 0, got '0'"),
    (["--engine", "X", "--game-timeout", "nan"], 2, "--game-timeout: must be a number > 0, got 'nan'"),
    (["--game-timeout", "5"], 1, "--game-timeout applies to an engine perfkit did not write (--engine)"),
])
def test_cli_game_timeout_is_checked(tmp_path, capsys, args, code, message):
    from perfkit.cli import main

    args = [a.replace("X", f"{BAD_ENGINES}:good") for a in args]
    try:
        got = main(["bench", "--no-progress", "--games", "1", "--preset", "tiny", "--out", str(tmp_path / "runs"), *args])
    except SystemExit as exit_:
        got = exit_.code
    err = capsys.readouterr().err
    assert got == code and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------- a bad engine is one line, not a traceback

@pytest.mark.parametrize(("engine", "message"), [
    ("factory_raises", "its factory failed: ValueError: this factory cannot build an engine"),
    ("factory_exits", "its factory failed: the engine called sys.exit(4)"),
    ("factory_needs_args", "its factory needs depth, which perfkit does not pass"),
    ("not_an_engine", "has no callable 'not_an_engine'"),
    ("settings_raise", "settings() failed: RuntimeError: settings are broken"),
    ("settings_list", "settings() must return a dict with str keys, got list"),
    ("obs_shape_text", "obs_shape must be a tuple of positive whole numbers ([planes, rows, cols]), got 'abc'"),
    ("actions_text", "actions must be a whole number from 1 to 1,000,000 (the game's action count), got '9'"),
    ("actions_huge", "got 1000000000000"),
    ("no_moves", "2 of 2 games failed: games 0, 1: the engine marked no move: play_game marks each one"),
])
def test_cli_a_bad_engine_is_one_line_exit_1_and_writes_nothing(tmp_path, capsys, engine, message):
    from perfkit.cli import main

    code = within(120, lambda: main([
        "bench", "--engine", f"{BAD_ENGINES}:{engine}", "--game", "tiny", "--games", "2", "--preset", "tiny",
        "--strategy", "naive", "--threads", "1", "--no-progress", "--out", str(tmp_path / "runs"),
    ]))
    err = capsys.readouterr().err
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists(), "nothing is left behind"


@pytest.mark.parametrize(("attribute", "value", "message"), [
    ("obs_shape", "abc", r"obs_shape must be a tuple of positive whole numbers"),
    ("obs_shape", (3, 0, 3), r"got \(3, 0, 3\)"),
    ("obs_shape", (3.0, 3, 3), r"got \(3\.0, 3, 3\)"),
    ("obs_shape", 27, r"got 27"),
    ("obs_shape", (10_000, 10_000, 10_000), r"holds more than 10,000,000 numbers per observation"),
    ("actions", "9", r"actions must be a whole number from 1 to 1,000,000"),
    ("actions", 10**12, r"got 1000000000000"),
    ("actions", 0, r"got 0"),
    ("play_game", None, r"play_game must be a method, got NoneType"),
])
def test_play_engine_checks_the_engine_protocol(tiny_net, attribute, value, message):
    from perfkit.search.engines import EngineOptions, play_engine

    engine = bad_engine("good")
    setattr(engine, attribute, value)
    with pytest.raises(PerfkitError, match=message):
        play_engine(engine, tiny_net, "naive", EngineOptions(games=1))


@pytest.mark.parametrize(("engine", "why"), [
    ("wrong_shape", "the observation is shaped [3, 4, 4]; this engine's observations are [3, 3, 3]"),
    ("string_obs", "the observation is a str, not an array of numbers"),
    ("wrong_dtype", "the observation is of dtype <U1 (ndarray), not numbers: send ints or floats"),
    ("nan_obs", "the observation holds 27 NaN or infinite values: the network would answer garbage"),
])
@pytest.mark.parametrize(("strategy", "options"), MODES, ids=MODE_IDS)
def test_a_bad_observation_fails_its_game_only_in_every_mode(tiny_net, engine, why, strategy, options):
    from perfkit.search.engines.run import GamesFailed

    with pytest.raises(GamesFailed) as failed:
        play(engine, tiny_net, strategy, **options)
    assert str(failed.value) == f"1 of 4 games failed: game 1: {why}; 3 finished"
    assert sorted(failed.value.run.games["game"]) == [0, 2, 3]


class NanNet(torch.nn.Module):
    """The tiny net, answering NaN values for every row."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        logits, values = self.net(x)
        return logits, values * float("nan")


@pytest.mark.parametrize(("strategy", "options"), MODES, ids=MODE_IDS)
def test_a_network_answering_nan_fails_the_games_in_one_line(tiny_net, strategy, options):
    from perfkit.search.engines.run import GamesFailed

    with pytest.raises(GamesFailed, match=r"^4 of 4 games failed: games 0, 1, 2 and 1 more: the network answered NaN "
                                          r"or infinite values; 0 finished$"):
        play("good", NanNet(tiny_net), strategy, **options)


@pytest.mark.parametrize("strategy", ["naive", "crossgame"])
def test_ctrl_c_stops_a_run_whose_engine_hangs(tmp_path, strategy):
    """No --game-timeout: Ctrl-C still stops the run at once (the games play in threads of their own)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfkit", "bench", "--engine", f"{BAD_ENGINES}:hangs", "--game", "tiny", "--games", "4",
         "--preset", "tiny", "--threads", "1", "--strategy", strategy, "--out", str(tmp_path / "runs")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # not inherited ignored from a `cmd &` job
    )
    try:
        seen, deadline = "", time.monotonic() + 120
        while strategy not in seen and time.monotonic() < deadline:  # the progress bar: games are playing
            seen += proc.stderr.read(1) if proc.stderr else ""
        assert strategy in seen, "the run never started its games"
        time.sleep(2.0)  # game 1 is hung by now
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("Ctrl-C did not stop a run whose engine hangs")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "perfkit bench: interrupted" in err, err
