"""Stored runs read for comparing and reporting: each one checked, a damaged one set aside.

A folder of runs is weeks of measurements; one run in it truncated by a crash or hand-edited
must cost that run, not the folder. So `load_runs` skips a damaged run with one line saying
which and why, and fails (one line) only when nothing readable is left.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from perfkit.analysis.metrics import METRICS
from perfkit.instrument.run import Run, load_run
from perfkit.types import PerfkitError


def log_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _type_ok(value: object, spec: str) -> bool:
    """Whether a summary value has the JSON type `spec` says ("float|null", ...); numbers are lenient
    (an int where a float is meant, as JSON may write 3.0) because only their being numbers matters."""
    kinds = spec.split("|")
    if value is None:
        return "null" in kinds
    if isinstance(value, bool):
        return "bool" in kinds
    if isinstance(value, (int, float)):
        return "float" in kinds or ("int" in kinds and float(value).is_integer())
    return isinstance(value, str) and "str" in kinds


def summary_problem(summary: dict[str, Any]) -> str:
    """What is wrong with a stored run's summary ("" if nothing): each metric it holds must have its type."""
    for m in METRICS:
        if m.key in summary and not _type_ok(summary[m.key], m.type):
            value = summary[m.key]
            return f"summary {m.key} is {value!r} ({type(value).__name__}), not {m.type.replace('|', ' or ')}"
    return ""


def checked_run(path: str | os.PathLike[str]) -> Run:
    """`load_run`, and its summary's values checked against their types; PerfkitError, one line."""
    run = load_run(path)
    problem = summary_problem(run.summary)
    if problem:
        raise PerfkitError(f"run directory {path} is damaged: manifest.json {problem}")
    return run


def load_runs(paths: Sequence[str | os.PathLike[str]], *, log: Callable[[str], None] = log_to_stderr) -> list[Run]:
    """The runs at `paths` in order, each checked (`checked_run`); a damaged one is skipped with a line
    to `log`. PerfkitError (the first run's problem) when none is readable."""
    runs, damaged = [], []
    for path in paths:
        try:
            runs.append(checked_run(path))
        except PerfkitError as exc:
            damaged.append((Path(path), str(exc)))
    if damaged and not runs:
        more = len(damaged) - 1
        raise PerfkitError(damaged[0][1] + (f" (and {more} more damaged run{'s' * (more > 1)})" if more else ""))
    for path, problem in damaged:
        detail = problem.partition(" is damaged: ")[2] or problem
        log(f"warning: skipped the damaged run {path} ({detail}); the other runs are used")
    return runs
