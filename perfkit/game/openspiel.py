"""OpenSpiel's games, checked once: two-player, zero-sum, deterministic, perfect-information,
sequential, with an observation tensor shaped like a board.

`pyspiel` is an optional dependency (`pip install -e ".[openspiel]"`); it is imported only
when a game is asked for, so everything else in perfkit works without it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from perfkit.types import PerfkitError, did_you_mean

if TYPE_CHECKING:
    import torch

EXAMPLES = ("connect_four", "othello", "hex(board_size=11)", "go(board_size=9)", "tic_tac_toe")


def pyspiel_module() -> Any:  # OpenSpiel ships no type information
    """`pyspiel`, or a PerfkitError saying how to install it."""
    try:
        import pyspiel
    except ImportError:
        raise PerfkitError(
            "OpenSpiel games need the open_spiel package: pip install open_spiel "
            '(or pip install -e ".[openspiel]")'
        ) from None
    return pyspiel


@dataclass(frozen=True)
class GameInfo:
    """What a network and a search need to know of a game."""

    name: str  # as OpenSpiel writes it, parameters included: go(board_size=9)
    obs_shape: tuple[int, ...]  # the observation tensor of one position: [planes, rows, cols]
    actions: int  # distinct actions (the policy's width)
    max_length: int  # longest possible game, in moves


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 to /dev/null for the block (C++ writes there directly)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def load_game(name: str) -> Any:  # a pyspiel.Game
    """The OpenSpiel game `name` (parameters as OpenSpiel writes them), checked for perfkit.

    Raises PerfkitError for an unknown game or one perfkit's engines cannot play (chance,
    imperfect information, simultaneous moves, not two-player zero-sum, no observation tensor).
    """
    pyspiel = pyspiel_module()
    if not isinstance(name, str) or not name.strip():
        raise PerfkitError(f"a game is an OpenSpiel game string like {EXAMPLES[0]!r}, got {name!r}")
    base = name.split("(", 1)[0].strip()
    registered = pyspiel.registered_names()
    if base not in registered:
        raise PerfkitError(
            f"unknown OpenSpiel game {name!r}{did_you_mean(base, registered)} (e.g. {', '.join(EXAMPLES)}; "
            "pyspiel.registered_names() lists them all)"
        )
    try:
        with _quiet_stderr():  # OpenSpiel's C++ side prints its exception too; we say it in one line
            game = pyspiel.load_game(name)
    except Exception as exc:  # pyspiel raises RuntimeError/SpielError with multi-line text
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PerfkitError(
            f"unknown or malformed OpenSpiel game {name!r} ({first}); e.g. {', '.join(EXAMPLES)}"
        ) from None
    t = game.get_type()
    problems = []
    if game.num_players() != 2:
        problems.append(f"{game.num_players()} players")
    if t.utility != pyspiel.GameType.Utility.ZERO_SUM:
        problems.append("not zero-sum")
    if t.dynamics != pyspiel.GameType.Dynamics.SEQUENTIAL:
        problems.append("simultaneous moves")
    if t.information != pyspiel.GameType.Information.PERFECT_INFORMATION:
        problems.append("imperfect information")
    if t.chance_mode != pyspiel.GameType.ChanceMode.DETERMINISTIC:
        problems.append("chance events")
    if t.reward_model != pyspiel.GameType.RewardModel.TERMINAL:
        problems.append("rewards before the end")
    if not t.provides_observation_tensor:
        problems.append("no observation tensor")
    if problems:
        raise PerfkitError(
            f"game {name!r} is not a two-player, zero-sum, deterministic, perfect-information, "
            f"sequential game with an observation tensor ({', '.join(problems)})"
        )
    try:  # some parameters load but cannot start (go(board_size=1), go(board_size=100)): say so before a
        with _quiet_stderr():  # network is built for the board, which took a minute at 100x100
            game.new_initial_state()
    except Exception as exc:  # SpielError, multi-line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PerfkitError(f"OpenSpiel cannot start game {name!r} ({first}); e.g. {', '.join(EXAMPLES)}") from None
    return game


def game_info(game: Any) -> GameInfo:
    """Shapes of a loaded OpenSpiel game."""
    name = str(game)
    return GameInfo(
        name=name[:-2] if name.endswith("()") else name, obs_shape=tuple(game.observation_tensor_shape()),
        actions=game.num_distinct_actions(), max_length=game.max_game_length(),
    )


def observation(state: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The observation tensor of `state` for the side to move, shaped [*obs_shape] float32."""
    return np.asarray(state.observation_tensor(), dtype=np.float32).reshape(shape)


def winner(state: Any) -> int:
    """1 or 2 (perfkit's players: OpenSpiel's 0 and 1), or 0 for a draw, of a terminal state."""
    returns = state.returns()
    if returns[0] > returns[1]:
        return 1
    if returns[1] > returns[0]:
        return 2
    return 0


class StatePositions:
    """B OpenSpiel states as a perfkit position batch (rows are never mutated: `play` clones).

    Observations (the compact rows) are taken lazily, only when the network is asked.
    """

    def __init__(self, game: OpenSpielGame, states: list[Any]) -> None:  # pyspiel.State each
        self.game, self.states = game, states
        terminal = [s.is_terminal() for s in states]
        self._terminal = np.array(terminal, bool)
        self.to_move = np.array([0 if t else s.current_player() + 1 for s, t in zip(states, terminal, strict=True)], np.int8)
        self.winner = np.array([winner(s) if t else 0 for s, t in zip(states, terminal, strict=True)], np.int8)
        self._stones: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.states)

    @property
    def terminal(self) -> np.ndarray:  # [B] bool
        return self._terminal

    @property
    def stones(self) -> np.ndarray:  # [B, D] float32: the side to move's observation, flattened
        if self._stones is None:
            out = np.zeros((len(self.states), self.game.compact_width), np.float32)
            for i, s in enumerate(self.states):
                if not self._terminal[i]:
                    out[i] = s.observation_tensor()
            self._stones = out
        return self._stones

    def legal(self) -> np.ndarray:  # [B, A] bool
        out = np.zeros((len(self.states), self.game.actions), bool)
        for i, s in enumerate(self.states):
            if not self._terminal[i]:
                out[i] = np.asarray(s.legal_actions_mask(), bool)
        return out

    def take(self, index: np.ndarray) -> StatePositions:
        return StatePositions(self.game, [self.states[i] for i in np.asarray(index, np.int64)])

    def play(self, actions: np.ndarray) -> StatePositions:
        out = []
        for s, a in zip(self.states, np.asarray(actions, np.int64), strict=True):
            if s.is_terminal() or not 0 <= a < self.game.actions or not s.legal_actions_mask()[a]:
                raise ValueError(f"illegal move {int(a)} in {self.game.name}")
            child = s.clone()
            child.apply_action(int(a))
            out.append(child)
        return StatePositions(self.game, out)


class OpenSpielGame:
    """An OpenSpiel game as a perfkit `Game` (a draw is winner 0, value 0; passes are actions).

    The network's input is OpenSpiel's observation tensor of the side to move, so the
    compact row is that tensor, flattened (float32).
    """

    compact_dtype = np.float32

    def __init__(self, name: str) -> None:
        self.spiel = load_game(name)
        info = game_info(self.spiel)
        if len(info.obs_shape) != 3:
            raise PerfkitError(
                f"game {name!r} has a flat observation {list(info.obs_shape)}; "
                "perfkit's network needs [planes, rows, cols]"
            )
        self.name, self.actions, self.obs_shape = info.name, info.actions, info.obs_shape
        self.compact_width = int(np.prod(self.obs_shape))

    def start(self, count: int) -> StatePositions:
        return StatePositions(self, [self.spiel.new_initial_state() for _ in range(count)])

    def concat(self, parts: list[StatePositions]) -> StatePositions:
        return StatePositions(self, [s for p in parts for s in p.states])

    def encode(self, stones: torch.Tensor, to_move: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Planes [B, *obs_shape] from the flattened observations (already the mover's view)."""
        return stones.reshape(stones.shape[0], *self.obs_shape).to(dtype)

    def describe(self) -> dict[str, Any]:
        return {"game": self.name, "obs_shape": list(self.obs_shape), "actions": self.actions}
