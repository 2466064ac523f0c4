"""The price of an approximate network: its agreement with the float64 reference, and its speed.

An approximate path (`--precision bfloat16|float16`, `--compile`) plays different games from
the exact network, so before a user trusts its speed-up they see what it costs (SPEC §1.4):

- **positions from real games**: the float64 reference network plays self-play games with the
  run's search and seed (crossgame, cached: the same games any strategy plays), and every
  position reached before a move is kept, until `positions` are collected;
- **move agreement**: the share of those positions where the approximate network's best legal
  move by policy is the reference's (ties: the lower action, as the search ranks);
- **value mean absolute error** (and the largest) against the reference's values;
- **head-to-head**: games between the approximate network and the reference, in pairs with
  colours swapped, and the approximate side's win rate with a 95% Wilson interval
  (`perfkit.analysis.headtohead`);
- **speed-up**: boards/s of the approximate network against the exact float32 network of the
  same run settings (same fold, same device), one call of `speed_batch` real positions, median
  of `repeats` after warm-up.

The reference is rebuilt from the run's settings (seed or checkpoint), unfolded, in float64 on
the CPU, through its own `Evaluator`: nothing of the approximate path takes part in it. Its
exact evaluation cache serves both the games that collect positions and its side of the
head-to-head, whose games share their openings' noise with them.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from perfkit.analysis.headtohead import DEFAULT_H2H_GAMES, describe_head_to_head, play_head_to_head
from perfkit.types import Game, PerfkitError, SearchConfig

Evaluate = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]  # rows, to_move -> logits, values
DEFAULT_POSITIONS = 1000  # the floor for a move agreement worth quoting


@dataclass(frozen=True)
class Positions:
    """Positions reached in real games, one row each."""

    stones: np.ndarray  # [P, D] compact rows
    to_move: np.ndarray  # [P] int8
    legal: np.ndarray  # [P, A] bool
    games: int  # games played to collect them

    def __len__(self) -> int:
        return len(self.to_move)


def game_positions(game: Game, reference: Evaluate, *, search: SearchConfig, seed: int, positions: int, concurrency: int = 16) -> Positions:
    """The first `positions` non-terminal positions of games the reference plays (game ids 0, 1, ...).

    `reference` is put behind an exact evaluation cache unless it is one already."""
    from perfkit.batching.cache import EvalCache
    from perfkit.strategies import Engine, make_strategy

    if isinstance(positions, bool) or not isinstance(positions, int) or positions < 1:
        raise PerfkitError(f"quality positions must be a whole number >= 1, got {positions!r}")
    cached = reference if isinstance(reference, EvalCache) else EvalCache(reference)
    engine = Engine(evaluate=cached, game=game, config=search, seed=seed)
    stones: list[np.ndarray] = []
    to_move: list[np.ndarray] = []
    legal: list[np.ndarray] = []
    played, next_id = 0, 0
    while sum(len(t) for t in to_move) < positions:
        ids = range(next_id, next_id + concurrency)
        next_id += concurrency
        records = sorted(make_strategy("crossgame", concurrency=concurrency).play(ids, engine), key=lambda r: r.game)
        for record in records:
            played += 1
            pos = game.start(1)
            for move in record.move_list:
                stones.append(pos.stones.copy())
                to_move.append(pos.to_move.copy())
                legal.append(pos.legal())
                pos = pos.play(np.array([move]))
        if not records:
            raise PerfkitError("the reference played no games; cannot collect positions")
    return Positions(
        stones=np.concatenate(stones)[:positions], to_move=np.concatenate(to_move)[:positions],
        legal=np.concatenate(legal)[:positions], games=played,
    )


def best_moves(logits: np.ndarray, legal: np.ndarray) -> np.ndarray:  # [P, A], [P, A] -> [P]
    """Each position's legal action with the highest logit (ties: the lower action)."""
    best: np.ndarray = np.argmax(np.where(legal, logits, -np.inf), axis=1)
    return best


def evaluate_in_batches(evaluate: Evaluate, positions: Positions, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    logits, values = [], []
    for i in range(0, len(positions), batch):
        lo, va = evaluate(positions.stones[i : i + batch], positions.to_move[i : i + batch])
        logits.append(np.asarray(lo, np.float64))
        values.append(np.asarray(va, np.float64))
    return np.concatenate(logits), np.concatenate(values)


def agreement(candidate: Evaluate, reference: Evaluate, positions: Positions) -> dict[str, Any]:
    """Move agreement and value errors of `candidate` against `reference` on `positions`."""
    ref_logits, ref_values = evaluate_in_batches(reference, positions)
    logits, values = evaluate_in_batches(candidate, positions)
    same = best_moves(logits, positions.legal) == best_moves(ref_logits, positions.legal)
    error = np.abs(values - ref_values)
    return {
        "positions": len(positions),
        "move_agreement": float(same.mean()),
        "moves_differing": int((~same).sum()),
        "value_mae": float(error.mean()),
        "value_max_abs_error": float(error.max()),
    }


def boards_per_s(
    evaluate: Evaluate, positions: Positions, *, batch: int, repeats: int = 5, warmup: int = 2,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Boards/s of one call of `batch` real positions: median of `repeats` after `warmup` calls."""
    stones, to_move = positions.stones[:batch], positions.to_move[:batch]
    for _ in range(warmup):
        evaluate(stones, to_move)
    times = []
    for _ in range(repeats):
        t0 = clock()
        evaluate(stones, to_move)
        times.append(clock() - t0)
    return len(to_move) / max(float(np.median(times)), 1e-12)


def path_label(precision: str, compiled: bool, *, autocast: str | None = None, cuda_graphs: bool = False) -> str | None:
    """'bfloat16', 'compile', 'autocast-float16+cuda-graphs', ..., or None for an exact/default path."""
    parts = [precision] if precision in ("bfloat16", "float16") else []
    if autocast:
        parts.append(f"autocast-{autocast}")
    if compiled:
        parts.append("compile")
    if cuda_graphs:
        parts.append("cuda-graphs")
    return "+".join(parts) or None


def settings_path_label(settings: Any) -> str | None:
    """`path_label` of a run's settings (a BenchSettings; Any: bench sits above analysis)."""
    return path_label(settings.precision, getattr(settings, "compile", False),
                      autocast=getattr(settings, "autocast", None), cuda_graphs=getattr(settings, "cuda_graphs", False))


def reference_model(settings: Any, game: Game) -> torch.nn.Module:
    """The run's network rebuilt from its settings (seed or checkpoint), as built: no fold, no compile."""
    from perfkit.model.net import build_network, load_checkpoint

    if settings.checkpoint:
        return load_checkpoint(settings.checkpoint, settings.network, game=game)
    return build_network(game, settings.network, seed=settings.seed)


def measure_quality(
    workload: Any, *, positions: int = DEFAULT_POSITIONS, h2h_games: int = DEFAULT_H2H_GAMES, speed_batch: int = 256,
    repeats: int = 5,
) -> dict[str, Any]:
    """The quality report of a bench workload's approximate path (see the module docstring).

    Returns the dict stored as the run manifest's `quality`; `seconds` is what measuring took.
    """
    from perfkit.batching.cache import EvalCache
    from perfkit.model.evaluator import Evaluator
    from perfkit.model.fold import prepare_network

    settings = workload.settings
    game = workload.game or settings.make_game()
    t0 = time.perf_counter()
    source = reference_model(settings, game)
    reference = Evaluator(copy.deepcopy(source), game=game, device="cpu", precision="float64")
    cached_reference = EvalCache(reference)
    found = game_positions(game, cached_reference, search=settings.search, seed=settings.seed, positions=positions)
    collect_s = time.perf_counter() - t0
    candidate = workload.evaluator()
    report = {
        "path": settings_path_label(settings),
        "reference": "float64 on the CPU, network rebuilt from the run's settings, unfolded, not compiled",
        "games": found.games,
        "collect_s": collect_s,
        **agreement(candidate, reference, found),
        "head_to_head": play_head_to_head(
            game, EvalCache(candidate), cached_reference, search=settings.search, seed=settings.seed, games=h2h_games,
        ),
    }
    exact = copy.deepcopy(source)
    if settings.fold:
        exact, _ = prepare_network(exact, tuple(game.obs_shape), device=workload.device, dtype=torch.float32)
    baseline = Evaluator(exact, game=game, device=workload.backend, precision="float32")
    batch = 1 << (min(speed_batch, len(found)).bit_length() - 1)  # a power of two: no padding in a compiled bucket
    base_rate = boards_per_s(baseline, found, batch=batch, repeats=repeats)
    rate = boards_per_s(candidate, found, batch=batch, repeats=repeats)
    report.update({
        "speed_batch": batch,
        "baseline": f"float32{' folded' if settings.fold else ''}, not compiled, on {workload.backend.name}",
        "baseline_boards_per_s": base_rate,
        "boards_per_s": rate,
        "speedup": rate / base_rate,
        "seconds": time.perf_counter() - t0,
    })
    return report


def quality_fields(report: dict[str, Any] | None) -> dict[str, Any]:
    """The summary's quality keys (None where the run took the exact path)."""
    report = report or {}
    h2h = report.get("head_to_head") or {}
    return {
        "approximate": report.get("path"),
        "quality_positions": report.get("positions"),
        "move_agreement": report.get("move_agreement"),
        "value_mae": report.get("value_mae"),
        "h2h_games": h2h.get("games"),
        "h2h_win_rate": h2h.get("win_rate"),
        "h2h_ci_low": h2h.get("ci_low"),
        "h2h_ci_high": h2h.get("ci_high"),
        "approximate_speedup": report.get("speedup"),
        "quality_s": report.get("seconds"),
    }


def describe_quality(report: dict[str, Any] | None) -> str | None:
    """One line for the console and the report: the path's agreement, errors and speed-up."""
    if not report:
        return None
    return (
        f"approximate path {report['path']}: move agreement {report['move_agreement']:.1%} with the float64 "
        f"reference over {report['positions']:,} positions from {report['games']} real games, value MAE "
        f"{report['value_mae']:.2e} (max {report['value_max_abs_error']:.2e}); "
        f"{report['speedup']:.2f}x the boards/s of {report['baseline']} at batch {report['speed_batch']}"
    )


def quality_lines(report: dict[str, Any] | None) -> list[str]:
    """The lines the console and the HTML report show for an approximate path: its agreement and
    speed-up, then its head-to-head (none on the exact path; no head-to-head line in a report
    saved before there was one)."""
    if not report:
        return []
    lines = [describe_quality(report), describe_head_to_head(report["path"], report.get("head_to_head"))]
    return [line for line in lines if line]
