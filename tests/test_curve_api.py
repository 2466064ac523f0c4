"""`measure_curve` in a notebook measures what `perfkit curve` measures: same points, roofline, labels."""

from __future__ import annotations

import json

from perfkit.analysis.curve import load_curve, measure_curve
from perfkit.cli import main
from perfkit.measure.bench import BenchSettings, Workload

SWEEP = {"max_batch": 4, "repeats": 2, "warmup": 1, "time_budget_s": 60.0}


def shape_of(curve) -> dict:
    """Everything of a curve but its timings (the machine's, not the code's)."""
    data = curve.to_dict()
    return {
        "keys": sorted(data),
        "points": [(p.batch, len(p.call_s), len(p.forward_s), sorted(p.to_dict())) for p in curve.points],
        "labels": (curve.device, curve.device_name, curve.preset, curve.network, curve.precision, curve.label,
                   curve.stopped_by, curve.settings),
        "roofline": (sorted(curve.roofline), curve.roofline["flops_per_board"]),  # matmul_size: the faster one
        "environment": (sorted(curve.environment), sorted(curve.environment["threads"])),
    }


def test_the_python_api_gives_the_curve_perfkit_curve_gives(tmp_path, capsys):
    flags = ["--max-batch", "4", "--repeats", "2", "--warmup", "1", "--time-budget", "60"]
    assert main(["curve", "--preset", "tiny", "--device", "cpu", *flags, "--no-progress", "--json",
                 "--out", str(tmp_path)]) == 0
    from_cli = load_curve(json.loads(capsys.readouterr().out)["path"])

    workload = Workload.prepare(BenchSettings(preset="tiny", device="cpu"))
    from_api = measure_curve(workload.evaluator(), network=workload.settings.network, threads=workload.threads, **SWEEP)

    assert shape_of(from_api) == shape_of(from_cli)
    assert [p.batch for p in from_api.points] == [1, 2, 4] and from_api.roofline["mfu"] > 0
