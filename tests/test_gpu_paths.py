"""Issue 12's GPU-only fast paths, every part that can run without a GPU.

CUDA graphs (`perfkit.devices.graphs`): the bucket choice, padding, the capture fallback and
the replay bookkeeping run here with an injected capture; the real capture is tested where
CUDA is. Double-buffered transfers: the slot pool and crossgame's device threads (one per
call in flight where the evaluator takes concurrent calls). Autocast: runs on the CPU in
bfloat16, so its quality report is tested end to end.
"""

from __future__ import annotations

import threading

import pytest
import torch

from perfkit.devices.base import Slots
from perfkit.devices.graphs import Graphed, bucket_for, capture_cuda, choose_buckets
from perfkit.game.hex import HexGame
from perfkit.measure.bench import BenchSettings, bench
from perfkit.model.evaluator import Evaluator
from perfkit.model.net import build_model
from perfkit.strategies import Engine, make_strategy
from perfkit.types import PerfkitError, SearchConfig


@pytest.mark.parametrize("max_batch, count, buckets", [
    (512, 4, (1, 8, 64, 512)),
    (1000, 4, (1, 8, 128, 1024)),
    (3, 4, (1, 2, 4)),
    (1, 4, (1,)),
    (300, 1, (512,)),
    (64, 2, (1, 64)),
])
def test_buckets_are_powers_of_two_spread_up_to_the_largest_call(max_batch, count, buckets):
    assert choose_buckets(max_batch, count) == buckets


def test_a_batch_goes_to_the_smallest_bucket_that_holds_it():
    buckets = (1, 8, 64, 512)
    assert [bucket_for(buckets, b) for b in (1, 2, 8, 9, 64, 300, 512, 513)] == [1, 8, 8, 64, 64, 512, 512, None]


@pytest.mark.parametrize("max_batch, count", [(0, 4), (8, 0), (True, 4), (8.0, 4)])
def test_bad_bucket_settings_are_one_line(max_batch, count):
    with pytest.raises(PerfkitError, match="cuda graphs") as err:
        choose_buckets(max_batch, count)
    assert "\n" not in str(err.value)


@pytest.fixture(scope="module")
def model():
    return build_model("tiny", seed=0).to(torch.float64).eval()


class FakeCapture:
    """Stands in for CUDA capture: 'records' the model at a size (replays call it at exactly that size)."""

    def __init__(self, fail: tuple[int, ...] = ()) -> None:
        self.fail = fail
        self.captured: list[int] = []
        self.replayed: list[int] = []

    def __call__(self, model, size, example):
        self.captured.append(size)
        if size in self.fail:
            raise RuntimeError(f"operation not permitted when stream is capturing (bucket {size})\nmore detail")

        def replay(planes):
            assert planes.shape[0] == size, "a replay takes exactly its bucket's batch"
            self.replayed.append(size)
            return model(planes)

        return replay


def planes_of(model, batch: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (batch, *model.obs_shape), generator=g).to(torch.float64)


def test_graphs_pad_to_their_bucket_and_keep_every_rows_outputs(model):
    capture = FakeCapture()
    graphed = Graphed(model, (1, 8, 64), capture=capture)
    with torch.inference_mode():
        for batch in (3, 8, 1, 5, 40, 100):
            x = planes_of(model, batch, seed=batch)
            logits, values = graphed(x)
            ref_logits, ref_values = model(x)
            assert logits.shape == ref_logits.shape and values.shape == ref_values.shape
            assert torch.allclose(logits, ref_logits, rtol=0, atol=1e-12)
            assert torch.allclose(values, ref_values, rtol=0, atol=1e-12)
    assert capture.captured == [8, 1, 64]  # each bucket captured once, at its first call
    assert capture.replayed == [8, 8, 1, 8, 64]  # 100 boards: above the largest bucket, eager
    assert graphed.captured == (1, 8, 64) and graphed.calls == {"graph": 5, "eager": 1}
    assert graphed.describe()["fallbacks"] == {}


def test_a_bucket_whose_capture_fails_runs_eagerly_and_says_why(model):
    capture = FakeCapture(fail=(8,))
    graphed = Graphed(model, (1, 8, 64), capture=capture)
    with torch.inference_mode():
        for batch in (5, 6, 2, 1):
            x = planes_of(model, batch)
            assert torch.allclose(graphed(x)[0], model(x)[0], rtol=0, atol=1e-12)
    assert capture.captured == [8, 1]  # a failed bucket is not tried again
    assert graphed.captured == (1,) and graphed.calls == {"graph": 1, "eager": 3}
    (why,) = graphed.describe()["fallbacks"].values()
    assert why.startswith("RuntimeError: operation not permitted") and "\n" not in why


def test_capture_all_records_every_bucket_before_a_run(model):
    capture = FakeCapture(fail=(64,))
    graphed = Graphed(model, (1, 8, 64), capture=capture)
    graphed.capture_all(planes_of(model, 1))
    assert capture.captured == [1, 8, 64] and graphed.captured == (1, 8) and list(graphed.fallbacks) == [64]
    assert capture.replayed == [] and graphed.calls == {"graph": 0, "eager": 0}  # captured, not yet called


def test_bad_buckets_are_refused(model):
    for buckets in ((), (8, 1), (1, 1)):
        with pytest.raises(PerfkitError, match="ascending"):
            Graphed(model, buckets, capture=FakeCapture())


def test_capture_needs_cuda(model):
    with pytest.raises(PerfkitError, match="CUDA"):
        capture_cuda(model, 4, torch.zeros((4, *model.obs_shape)))


def test_cuda_graphs_off_cuda_are_one_line_and_write_nothing(tmp_path, capsys):
    from perfkit.cli import main

    for device in ("cpu", "sim"):
        out = tmp_path / device
        code = main(["bench", "--preset", "tiny", "--games", "1", "--threads", "1", "--no-progress",
                     "--device", device, "--cuda-graphs", "--out", str(out)])
        err = capsys.readouterr().err
        assert code != 0 and len(err.strip().splitlines()) == 1, err
        assert "--cuda-graphs needs a CUDA device" in err and device in err and not out.exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_graphs_replay_the_eager_outputs_on_a_gpu(model):
    gpu = build_model("tiny", seed=0).cuda().eval()
    graphed = Graphed(gpu, (1, 8, 64))
    with torch.inference_mode():
        for batch in (3, 8, 50):
            x = planes_of(model, batch).float().cuda()
            assert torch.allclose(graphed(x)[0], gpu(x)[0], atol=1e-4)
    assert graphed.captured == (8, 64) and graphed.fallbacks == {}


def test_slots_lend_each_item_to_one_caller_at_a_time():
    slots = Slots(["a", "b"])
    taken: list[str] = []
    got_third = threading.Event()
    with slots.take() as first, slots.take() as second:
        assert {first, second} == {"a", "b"}

        def third() -> None:
            with slots.take() as item:
                taken.append(item)
                got_third.set()

        waiter = threading.Thread(target=third)
        waiter.start()
        assert not got_third.wait(0.2)  # both lent: the third caller waits
    assert got_third.wait(10) and taken[0] in {"a", "b"}
    waiter.join()
    with pytest.raises(KeyError), slots.take():
        raise KeyError("the caller failed")
    with slots.take(), slots.take():  # given back after the error: both are free
        pass


def fingerprint(g) -> tuple:
    """A game's record to 1e-9: who won, the moves, each root value (NaN compares as 'nan')."""
    return g.game, g.winner, tuple(g.move_list), tuple(f"{m.root_value:.9f}" for m in g.moves)


class TwoAtOnce:
    """A float64 evaluator that says it takes 2 concurrent calls, and proves they overlap:
    its first two calls wait for each other at a barrier (one device thread would break it)."""

    concurrent_calls = 2

    def __init__(self, evaluator: Evaluator) -> None:
        self.inner = evaluator
        self.barrier = threading.Barrier(2, timeout=30)
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, stones, to_move, **kwargs):
        with self.lock:
            self.calls += 1
            first_two = self.calls <= 2
        if first_two:
            self.barrier.wait()
        return self.inner(stones, to_move, **kwargs)


def test_crossgame_runs_a_device_thread_per_call_in_flight_where_the_evaluator_takes_them(model):
    game = HexGame(model.board)
    config = SearchConfig(temperature=1.0)
    reference = Engine(evaluate=Evaluator(model, game=game, precision="float64"), game=game, config=config)
    expected = list(make_strategy("crossgame", concurrency=4).play(range(6), reference))
    both = TwoAtOnce(Evaluator(model, game=game, precision="float64"))
    engine = Engine(evaluate=both, game=game, config=config)
    played = list(make_strategy("crossgame", concurrency=4, groups=2, inflight=2).play(range(6), engine))
    assert not both.barrier.broken  # the first two calls were in the device at once
    assert sorted(map(fingerprint, played)) == sorted(map(fingerprint, expected))


def test_autocast_runs_on_the_cpu_and_its_quality_is_measured(tmp_path):
    from perfkit.report.console import render_bench

    settings = BenchSettings(preset="tiny", games=1, device="cpu", threads=1, autocast="bfloat16", quality_positions=40)
    run = bench(["permove"], settings, out=tmp_path, progress=False)[0]
    q = run.manifest["quality"]
    assert q["path"] == "autocast-bfloat16" and q["positions"] == 40 and 0 < q["move_agreement"] <= 1
    assert q["value_mae"] > 0  # half-precision convolutions: not the float64 values
    assert run.manifest["settings"]["autocast"] == "bfloat16"
    assert "approximate path autocast-bfloat16: move agreement" in render_bench([run])
    assert "float32 under autocast bfloat16 on cpu" in render_bench([run])  # the header says what ran


def test_a_graphed_network_in_a_float64_run_plays_the_eager_games(model):
    """Padding rows are blank boards and an eval-mode net treats rows alone: in float64 the games match."""
    game = HexGame(model.board)
    config = SearchConfig(temperature=1.0)
    plain = Engine(evaluate=Evaluator(model, game=game, precision="float64"), game=game, config=config)
    graphed = Graphed(model, choose_buckets(128), capture=FakeCapture())
    engine = Engine(evaluate=Evaluator(graphed, game=game, precision="float64"), game=game, config=config)
    a = list(make_strategy("crossgame", concurrency=4).play(range(4), plain))
    b = list(make_strategy("crossgame", concurrency=4).play(range(4), engine))
    assert sorted(map(fingerprint, a)) == sorted(map(fingerprint, b))
    assert graphed.calls["graph"] > 0 and all(g.moves for g in b)
