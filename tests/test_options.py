"""crossgame's options are one object carried whole: CLI → BenchSettings → strategy, selfplay's player,
tune and the notebooks' way in; and `--workers` means worker processes in every command."""

from __future__ import annotations

import argparse
import dataclasses
import importlib

import pytest

from perfkit.cli import bench_settings, build_parser, main
from perfkit.measure.bench import BenchSettings, Workload
from perfkit.measure.tune import tune
from perfkit.selfplay import SelfplaySettings, load_selfplay, selfplay
from perfkit.selfplay.worker import Player
from perfkit.strategies import CrossGame, CrossGameOptions, make_strategy
from perfkit.types import PerfkitError

# Every CrossGameOptions field: its flag, and the factor from the flag's number to the option's value.
FLAGS = {
    "concurrency": ("--concurrency", 1), "max_batch": ("--max-batch", 1), "groups": ("--groups", 1),
    "inflight": ("--inflight", 1), "workers": ("--workers", 1), "max_wait_s": ("--max-wait-ms", 1e-3),
}
# Two sets, since worker processes take groups and inflight at 1; between them every option is off its default.
IN_PROCESS = CrossGameOptions(concurrency=7, max_batch=33, groups=2, inflight=2, workers=0, max_wait_s=0.005)
WITH_WORKERS = CrossGameOptions(concurrency=5, max_batch=17, groups=1, inflight=1, workers=2, max_wait_s=0.007)
CASES = [IN_PROCESS, WITH_WORKERS]
# The modules (perfkit's own names `bench`, `tune` and `selfplay` are the functions).
BENCH, TUNE, SELFPLAY = (importlib.import_module(f"perfkit.{m}") for m in ("measure.bench", "measure.tune", "selfplay"))
WORKLOAD = ["--preset", "tiny", "--device", "cpu", "--precision", "float64", "--threads", "1"]


class Stop(Exception):
    """Raised by a spy once it has seen what it came for."""


def flags(options: CrossGameOptions) -> list[str]:
    out = []
    for name, (flag, factor) in FLAGS.items():
        value = getattr(options, name)
        out += [flag, str(value if factor == 1 else round(value / factor, 9))]
    return out


def spy_on(monkeypatch, module, seen: list, *, stop: bool = True) -> None:
    """`module.make_strategy` records each strategy it builds (and stops the run if `stop`)."""

    def spy(name, options=None, **values):
        strategy = make_strategy(name, options, **values)
        seen.append(strategy)
        if stop:
            raise Stop
        return strategy

    monkeypatch.setattr(module, "make_strategy", spy)


def test_the_options_are_crossgames_own():
    """CrossGameOptions and CrossGame's fields: the same names, in order, with the same defaults."""
    own = [f for f in dataclasses.fields(CrossGame) if f.init]
    assert [f.name for f in own] == list(CrossGameOptions.names())
    assert {f.name: f.default for f in own} == CrossGameOptions().to_dict()
    assert CrossGameOptions.of(CrossGameOptions().strategy()) == CrossGameOptions()
    with pytest.raises(PerfkitError, match="groups and inflight"):
        CrossGameOptions(workers=2, groups=2)  # the strategy's own rules


def test_the_cases_move_every_option_off_its_default():
    """A new option fails here until it has a flag and a value that travels."""
    assert set(FLAGS) == set(CrossGameOptions.names())
    assert set(CrossGameOptions.names()) <= {f for f in BenchSettings.__dataclass_fields__}
    default = CrossGameOptions()
    for name in CrossGameOptions.names():
        assert any(getattr(case, name) != getattr(default, name) for case in CASES), name


@pytest.mark.parametrize("options", CASES, ids=["in-process", "workers"])
def test_cli_bench_carries_every_option_to_the_strategy(options, monkeypatch, tmp_path):
    args = build_parser().parse_args(["bench", *WORKLOAD, *flags(options)])
    assert bench_settings(args).crossgame_options() == options
    seen: list = []
    spy_on(monkeypatch, BENCH, seen)
    with pytest.raises(Stop):
        main(["bench", "--strategy", "crossgame", *WORKLOAD, *flags(options), "--out", str(tmp_path),
              "--no-progress", "--games", "1"])
    assert seen[0].settings() == options.to_dict()
    assert CrossGameOptions.of(seen[0]) == options


@pytest.mark.parametrize("options", CASES, ids=["in-process", "workers"])
def test_notebooks_carry_the_options_object_whole(options):
    settings = BenchSettings(preset="tiny", games=1).with_crossgame(options)
    assert settings.crossgame_options() == options
    assert make_strategy("crossgame", settings.crossgame_options()).settings() == options.to_dict()
    with pytest.raises(PerfkitError, match="CrossGameOptions"):
        BenchSettings().with_crossgame(options.to_dict())  # type: ignore[arg-type]


@pytest.mark.parametrize("options", CASES, ids=["in-process", "workers"])
def test_cli_selfplay_carries_every_option_to_the_player(options, monkeypatch, tmp_path):
    """selfplay's player used to drop workers and max_wait_s."""
    got: list[SelfplaySettings] = []

    def fake_selfplay(settings, out, **kwargs):
        got.append(settings)
        raise Stop

    monkeypatch.setattr(SELFPLAY, "selfplay", fake_selfplay)
    with pytest.raises(Stop):
        main(["selfplay", "--games", "2", "--out", str(tmp_path / "sp"), "--ray-workers", "3", *WORKLOAD,
              *flags(options)])
    (settings,) = got
    assert settings.workload.crossgame_options() == options
    assert settings.ray_workers == 3
    assert Player(settings).strategy.settings() == options.to_dict()
    produced = settings.produced_by()
    assert {k: produced[k] for k in ("max_batch", "groups", "inflight", "workers", "max_wait_s")} == {
        k: getattr(options, k) for k in ("max_batch", "groups", "inflight", "workers", "max_wait_s")
    }


def test_selfplay_with_worker_processes_plays_the_same_games(tmp_path):
    """float64: worker processes (now carried to selfplay's player) change no game."""

    def run(out, **crossgame):
        w = BenchSettings(preset="tiny", games=4, precision="float64", concurrency=2, device="cpu", threads=1,
                          **crossgame)
        summary = selfplay(SelfplaySettings(workload=w, shard_games=2), out, progress=False)
        assert summary["unique_games"] == 4
        return summary["game_digest"], load_selfplay(out).moves.sort_values(["game", "ply"]).reset_index(drop=True)

    (digest, moves), (digest_w, moves_w) = run(tmp_path / "a"), run(tmp_path / "b", workers=2, max_wait_s=0.001)
    assert digest_w == digest
    assert moves_w["move"].tolist() == moves["move"].tolist()


@pytest.mark.parametrize("options", CASES, ids=["in-process", "workers"])
def test_cli_tune_starts_from_every_given_option(options, monkeypatch, tmp_path):
    seen: list = []
    spy_on(monkeypatch, TUNE, seen)
    with pytest.raises(Stop):
        main(["bench", "--strategy", "crossgame", "--tune", "--tune-budget", "0.01", *WORKLOAD, *flags(options),
              "--out", str(tmp_path), "--no-progress", "--games", "1"])
    assert CrossGameOptions.of(seen[0]) == options


def test_tune_trials_keep_the_options_they_do_not_search(monkeypatch):
    workload = Workload.prepare(BenchSettings(preset="tiny", device="cpu", games=1, threads=1).with_crossgame(WITH_WORKERS))
    seen: list = []
    spy_on(monkeypatch, TUNE, seen, stop=False)
    monkeypatch.setattr(CrossGame, "play", lambda self, ids, engine: iter(()))
    _, trials = tune(workload, space={"concurrency": (3,), "workers": (1,)}, budget_s=0.0, warmup_s=0.0)
    assert [s.settings() for s in seen] == [
        {**WITH_WORKERS.to_dict(), **t.settings} for t in trials
    ]
    assert len(trials) == 3 and all(s.max_wait_s == 0.007 and s.max_batch == 17 for s in seen)


def test_workers_means_worker_processes_in_every_command():
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    having = {}
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if "--workers" in action.option_strings:
                having[name] = action.help
    assert {"bench", "selfplay", "curve"} <= set(having)
    assert all("process" in (text or "") for text in having.values()), having


def test_selfplay_ray_with_workers_is_refused_with_a_hint(tmp_path, capsys):
    """The old spelling for Ray actors is refused in one line that names --ray-workers."""
    code = main(["selfplay", "--games", "2", "--out", str(tmp_path / "sp"), "--backend", "ray", "--workers", "2",
                 *WORKLOAD])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "--ray-workers" in err[0], err
    assert not (tmp_path / "sp").exists()
