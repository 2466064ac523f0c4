"""Analysis of stored runs: summary metrics, the device's limit curve, projections."""

from perfkit.analysis.curve import Curve, CurvePoint, find_curve, load_curve, measure_curve
from perfkit.analysis.projection import days_for, project, replay, seed_calibration
from perfkit.analysis.summary import game_digest, summarize

__all__ = [
    "Curve",
    "CurvePoint",
    "days_for",
    "find_curve",
    "game_digest",
    "load_curve",
    "measure_curve",
    "project",
    "replay",
    "seed_calibration",
    "summarize",
]
