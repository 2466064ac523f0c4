"""`bench --tune`: coordinate ascent over crossgame's settings, and one real short trial."""


from perfkit.measure.bench import BenchSettings, Workload
from perfkit.measure.tune import Trial, measure, tune


def fake_measure(peak: dict):
    """A device whose boards/s falls with the distance from `peak` in every setting."""

    def run(workload, settings, *, budget_s, warmup_s):
        distance = sum(abs(settings[k] - v) / v for k, v in peak.items())
        return Trial(settings=dict(settings), boards_per_s=1000.0 / (1.0 + distance), mean_batch=1.0)

    return run


def test_tune_finds_the_best_setting_one_knob_at_a_time():
    """Each knob moves to the value with the most boards/s; every trial is reported once."""
    space = {"concurrency": (16, 64, 256), "max_batch": (256, 1024, 4096), "groups": (1, 2, 4)}
    seen = []
    best, trials = tune(
        None, space=space, measure_fn=fake_measure({"concurrency": 256, "max_batch": 256, "groups": 2}),
        on_trial=seen.append,
    )
    assert best == {"concurrency": 256, "max_batch": 256, "groups": 2}
    assert seen == trials
    assert len({tuple(sorted(t.settings.items())) for t in trials}) == len(trials)  # no setting measured twice
    assert max(trials, key=lambda t: t.boards_per_s).settings == best


def test_worker_trials_leave_in_process_knobs_at_one():
    """With worker processes, groups and inflight (in-process knobs) are reset to 1."""
    space = {"groups": (1, 4), "inflight": (1, 2), "workers": (0, 2)}
    _, trials = tune(None, space=space, measure_fn=fake_measure({"groups": 4, "inflight": 2}))
    with_workers = [t.settings for t in trials if t.settings.get("workers")]
    in_process = [t.settings for t in trials if not t.settings.get("workers")]
    assert with_workers, "the space's workers=2 was never tried"
    assert all(s["groups"] == 1 and s["inflight"] == 1 for s in with_workers)
    assert any(s["groups"] == 4 and s["inflight"] == 2 for s in in_process)  # the reset is for workers only


def test_a_real_trial_measures_boards_per_second():
    """A short steady-state trial on the tiny preset evaluates boards and stops on its budget."""
    workload = Workload.prepare(BenchSettings(preset="tiny", device="cpu", games=1))
    trial = measure(workload, {"concurrency": 8, "max_batch": 64}, budget_s=0.3, warmup_s=0.1)
    assert trial.boards_per_s > 0
    assert 1 <= trial.mean_batch <= 64
