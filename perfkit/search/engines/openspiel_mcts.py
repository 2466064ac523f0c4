"""OpenSpiel's own Python `MCTSBot`, unmodified, as an engine perfkit traces and batches.

The bot asks its `Evaluator` for one position at a time (`evaluate` at a new leaf, `prior`
when a node is expanded). `NetEvaluator` answers both from one network inference per
distinct position, cached as OpenSpiel's `AlphaZeroEvaluator` does, through whatever
batch-of-one `predict` perfkit hands it: the network directly (`naive`) or the batch
server shared by every game in flight (`crossgame`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from perfkit.batching.cache import check_cache_entries
from perfkit.game.openspiel import game_info, load_game, observation, winner
from perfkit.types import PerfkitError

if TYPE_CHECKING:
    from perfkit.instrument.trace import Tracer

Predict = Callable[[np.ndarray], tuple[np.ndarray, float]]  # obs [*obs_shape] -> (logits [A], value)


def _mcts() -> ModuleType:
    from open_spiel.python.algorithms import mcts

    module: ModuleType = mcts  # open_spiel ships no type information
    return module


class NetEvaluator:
    """An OpenSpiel MCTS `Evaluator` backed by a policy/value network, one position per call.

    Args:
        predict: obs -> (logits over all actions, value for the side to move).
        obs_shape: the game's observation tensor shape.
        cache_size: distinct positions remembered (a node's `prior` reuses its `evaluate`).

    The bot asks about ~100k positions in a 64-game Connect Four run, one at a time, so the
    per-position Python is most of what perfkit adds to the bot's own. The cache is a plain
    ordered dict (an `ExactLRU` lookup is numpy gathers and scatters, made for whole calls)
    holding (value, logits array) per position: one object the garbage collector stops
    tracking, where a prior list per position would keep ~10 tracked objects each alive for
    the game. The prior's softmax is taken when the bot asks for it (about one position in
    four it evaluates).
    """

    def __init__(self, predict: Predict, obs_shape: tuple[int, ...], *, cache_size: int = 2**14) -> None:
        self.predict, self.obs_shape = predict, obs_shape
        self.cache_size = check_cache_entries(cache_size)
        # key -> (value for the side to move, logits [A] float64), least recent first
        self._cache: OrderedDict[bytes, tuple[float, np.ndarray]] = OrderedDict()

    def _inference(self, state: Any) -> tuple[float, np.ndarray]:  # state: a pyspiel.State
        obs = observation(state, self.obs_shape)
        # The network's input and the legal moves (the prior is over them): equal keys, equal answers.
        key = obs.tobytes() + bytes(state.legal_actions_mask())
        answer = self._cache.get(key)
        if answer is not None:
            self._cache.move_to_end(key)
            return answer
        logits, value = self.predict(obs)
        answer = float(value), np.array(logits, np.float64)  # a copy: the bot's answer is its own
        self._cache[key] = answer
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return answer

    def evaluate(self, state: Any) -> list[float]:
        """Returns for both players: the value is for the side to move.

        Python floats, not a numpy array (as OpenSpiel's `AlphaZeroEvaluator` returns): the bot
        adds them into each node's `total_reward`, which its UCT then divides at every node it
        walks past, and numpy scalars make that arithmetic twice as slow. The numbers are the
        same IEEE doubles, so the games are the same.
        """
        value, _ = self._inference(state)
        returns = [-value, -value]
        returns[state.current_player()] = value
        return returns

    def prior(self, state: Any) -> list[tuple[int, float]]:
        """The softmax of the logits over the legal moves, in legal-action order."""
        _, logits = self._inference(state)
        legal = state.legal_actions()
        masked = logits[legal]
        p = np.exp(masked - masked.max())
        return list(zip(legal, (p / p.sum()).tolist(), strict=True))


class OpenSpielMCTS:
    """Plays an OpenSpiel game with `MCTSBot`, a seeded random state per game.

    Args:
        game: an OpenSpiel game string (`connect_four`, `hex(board_size=5)`, ...).
        simulations: MCTS simulations per move (each evaluates at most one new position).
        seed: with the game id, seeds each game's random state (root Dirichlet noise, the
            bot's shuffles), so a game depends only on (seed, game id).
        uct_c: the bot's exploration constant.
        dirichlet: (epsilon, alpha) root noise, as AlphaZero self-play uses; None for none.
    """

    name = "openspiel-mcts"
    profile_modules = ("open_spiel.python.algorithms.mcts",)  # `perfkit profile --engine`: the bot's own search

    def __init__(
        self, game: str = "connect_four", *, simulations: int = 50, seed: int = 0, uct_c: float = 2.0,
        dirichlet: tuple[float, float] | None = (0.25, 1.0),
    ) -> None:
        if not isinstance(simulations, int) or simulations < 1:
            raise PerfkitError(f"simulations must be a positive integer, got {simulations!r}")
        self.game = load_game(game)
        self.info = game_info(self.game)
        if len(self.info.obs_shape) != 3:
            raise PerfkitError(
                f"game {game!r} has a flat observation {list(self.info.obs_shape)}; "
                "perfkit's engines need [planes, rows, cols]"
            )
        self.simulations, self.seed, self.uct_c, self.dirichlet = simulations, seed, uct_c, dirichlet

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return self.info.obs_shape

    @property
    def actions(self) -> int:
        return self.info.actions

    def settings(self) -> dict[str, Any]:
        return {"engine": self.name, "game": self.info.name, "simulations": self.simulations,
                "uct_c": self.uct_c, "dirichlet": list(self.dirichlet) if self.dirichlet else None}

    def play_game(self, game_id: int, predict: Predict, tracer: Tracer) -> int:
        """Play game `game_id` to the end, each move marked on `tracer`; returns the winner (0: draw)."""
        mcts = _mcts()
        bot = mcts.MCTSBot(
            self.game, self.uct_c, self.simulations, NetEvaluator(predict, self.obs_shape),
            random_state=np.random.RandomState([self.seed, game_id]), dirichlet_noise=self.dirichlet,
        )
        state = self.game.new_initial_state()
        while not state.is_terminal():
            with tracer.move(player=state.current_player() + 1) as move:
                action = bot.step(state)
                move.action = action
            state.apply_action(action)
        return winner(state)
