"""Head-to-head: an approximate network plays the float64 reference (SPEC §1.4).

Move agreement says how often an approximate path's first choice differs from the reference's;
the head-to-head says what that costs in games. The games are perfkit's own: the run's search,
seed and game, played by crossgame (`perfkit.strategies`), with no game loop of their own.

- **Who searches**: both networks sit at one board through `Seats`; each move's whole search,
  root to leaves, runs on the network of the player to move at its root.
- **Pairs, colours swapped**: pair k is game id k played twice with the same seed, hence the same
  Gumbel noise for the opening plies: game 2k with the approximate network as player 1, game
  2k+1 with it as player 2. Whatever a colour is worth cancels within a pair; two identical
  networks split every pair (a win each), so they score exactly 0.5. The first games of all
  pairs are one crossgame run and the second games another, each batching both networks'
  positions across its games.
- **Score** of the approximate side: win 1, draw 0.5, loss 0; the win rate is score / games.
- **Confidence interval**: the Wilson score interval (`wilson_interval`) on the win rate, a draw
  counting as half a win, the games taken as independent. The two games of a pair are not quite
  independent: where colour decides (each side wins with player 1) they split, and the interval
  is then wider than the truth, erring on the safe side.

The number of games is the caller's (bench: `--h2h-games`, even, default `DEFAULT_H2H_GAMES`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from statistics import NormalDist
from typing import Any

import numpy as np

from perfkit.types import Game, PerfkitError, SearchConfig

Evaluate = Callable[..., tuple[np.ndarray, np.ndarray]]  # stones, to_move -> logits, values
DEFAULT_H2H_GAMES = 16  # 8 pairs: ~12 s on `small` with bfloat16, one CPU thread (data/results/2026-11-25-head-to-head)
CONFIDENCE = 0.95


def check_h2h_games(games: object) -> int:
    """`games` as an even whole number >= 2 (pairs of games, colours swapped), else one clear line."""
    if isinstance(games, bool) or not isinstance(games, (int, np.integer)) or games < 2 or games % 2:
        raise PerfkitError(
            f"head-to-head games must be an even whole number >= 2 (pairs, colours swapped), got {games!r}"
        )
    return int(games)


def wilson_interval(score: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval for a proportion of `score` successes in `n` trials.

    With p = score / n and z the normal quantile of (1 + confidence) / 2:
    (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n). Unlike p ± z·sqrt(p(1-p)/n) it stays
    inside [0, 1] and does not collapse to a point at 0 or n successes. `score` may be a half
    (a draw counts as half a win).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise PerfkitError(f"an interval needs at least one game, got {n!r}")
    if not 0 <= score <= n:
        raise PerfkitError(f"score must be between 0 and {n}, got {score!r}")
    if not 0 < confidence < 1:
        raise PerfkitError(f"confidence must be between 0 and 1, got {confidence!r}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = score / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    low = 0.0 if score == 0 else max(0.0, (centre - half) / scale)  # exactly 0 and 1 at the ends, not 1e-17 off
    high = 1.0 if score == n else min(1.0, (centre + half) / scale)
    return low, high


def play_head_to_head(
    game: Game, approximate: Evaluate, reference: Evaluate, *, search: SearchConfig, seed: int, games: int,
    concurrency: int = 16,
) -> dict[str, Any]:
    """`games` games (pairs, colours swapped) between `approximate` and `reference`; see the module doc.

    Returns the report stored as the quality report's `head_to_head`: games, pairs, wins, draws,
    losses and score of the approximate side, its win rate with the interval, and each game's
    score in game order (2k: the approximate network is player 1 in pair k; 2k+1: player 2).
    """
    from perfkit.strategies import Engine, Seats, make_strategy

    pairs = check_h2h_games(games) // 2
    t0 = time.perf_counter()
    winners = np.full((pairs, 2), -1, np.int64)  # [pair, the approximate network's player - 1]
    for col, player in enumerate((1, 2)):
        engine = Engine(evaluate=Seats({player: approximate, 3 - player: reference}), game=game, config=search, seed=seed)
        for record in make_strategy("crossgame", concurrency=min(concurrency, pairs)).play(range(pairs), engine):
            winners[record.game, col] = record.winner
    if (winners < 0).any():
        raise PerfkitError("the head-to-head ended without every game played")
    scores = np.where(winners == np.array([1, 2]), 1.0, np.where(winners == 0, 0.5, 0.0)).reshape(-1)  # 2k, 2k+1
    n, score = len(scores), float(scores.sum())
    low, high = wilson_interval(score, n)
    return {
        "games": n,
        "pairs": pairs,
        "wins": int((scores == 1.0).sum()),
        "draws": int((scores == 0.5).sum()),
        "losses": int((scores == 0.0).sum()),
        "score": score,
        "win_rate": score / n,
        "ci_low": low,
        "ci_high": high,
        "confidence": CONFIDENCE,
        "interval": "Wilson score",
        "scores": scores.tolist(),
        "seconds": time.perf_counter() - t0,
    }


def describe_head_to_head(path: str, h2h: dict[str, Any] | None) -> str | None:
    """One line for the console and the report: the win rate, its interval, the games."""
    if not h2h:
        return None
    return (
        f"head-to-head {path} vs the float64 reference: win rate {h2h['win_rate']:.1%} "
        f"({h2h['confidence']:.0%} CI {h2h['ci_low']:.1%}-{h2h['ci_high']:.1%}, {h2h['interval']}) over "
        f"{h2h['games']} games in {h2h['pairs']} colour-swapped pairs: {h2h['wins']} won, {h2h['draws']} drawn, "
        f"{h2h['losses']} lost"
    )
