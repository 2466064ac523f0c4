"""Usage that reads right: `perfkit` alone lists its commands, near misses get a suggestion,
an interrupted bench keeps what finished."""

from __future__ import annotations

import sys

import pytest
from test_cli import run_main  # pytest puts tests/ on the path

from perfkit.cli import EXIT_ERROR, EXIT_USAGE
from perfkit.instrument.run import load_run
from perfkit.measure.bench import BenchSettings, bench


def test_perfkit_alone_lists_its_commands(capsys):
    code, out, _ = run_main([], capsys)
    assert code == EXIT_USAGE
    for command in ("bench", "compare", "curve", "project", "profile", "report", "selfplay", "notebooks"):
        assert command in out


@pytest.mark.parametrize("argv, code, hint", [
    (["bnech"], EXIT_USAGE, "did you mean 'bench'?"),
    (["bench", "--threds", "1"], EXIT_USAGE, "did you mean '--threads'?"),
    (["bench", "--strategy", "crosgame"], EXIT_ERROR, "did you mean 'crossgame'?"),
    (["bench", "--preset", "smal", "--device", "cpu"], EXIT_ERROR, "did you mean 'small'?"),
    (["curve", "--device", "cdua"], EXIT_ERROR, "did you mean 'cuda'?"),
    (["compare", "a", "b", "--fail-if-slowr", "5"], EXIT_USAGE, "did you mean '--fail-if-slower'?"),
])
def test_a_near_miss_gets_the_nearest_name_in_one_line(argv, code, hint, capsys):
    got, _, err = run_main(argv, capsys)
    assert got == code
    assert hint in err and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"perfkit {argv[0]}: error:" if code == EXIT_ERROR or argv[0] != "bnech" else "perfkit: error:")


def test_no_suggestion_when_nothing_is_close(capsys):
    _, _, err = run_main(["bench", "--strategy", "zzz"], capsys)
    assert "unknown strategy 'zzz'" in err and "did you mean" not in err


def test_an_interrupted_bench_keeps_the_strategies_that_finished(tmp_path, monkeypatch):
    module = sys.modules["perfkit.measure.bench"]
    real = module.run_strategy

    def interrupted_at_permove(name, workload, **kw):
        if name == "permove":
            raise KeyboardInterrupt
        return real(name, workload, **kw)

    monkeypatch.setattr(module, "run_strategy", interrupted_at_permove)
    settings = BenchSettings(preset="tiny", games=1, device="cpu", precision="float64")
    with pytest.raises(KeyboardInterrupt):
        bench(["naive", "permove", "crossgame"], settings, out=tmp_path, progress=False)
    kept = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert [p.name.split("-")[2] for p in kept] == ["naive"]
    assert load_run(kept[0]).summary["games"] == 1
