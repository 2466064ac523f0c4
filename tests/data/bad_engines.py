"""Engines that misbehave, for tests/test_engine_hardening.py (issue 22).

`good` is a tiny, deterministic engine: a game of `3 + game_id % 3` plies on a 3x3 board,
each move asking `predict` for two observations `[3, 3, 3]` float32 and playing the argmax
of the logits; the winner depends on the game id only (0, a draw, for every fifth game). Each
other factory is `good` with one misbehaviour, in game `BAD_GAME` only (the other games finish)
or in the engine object itself.

Use: `perfkit bench --engine tests/data/bad_engines.py:raises --game tiny ...` (the game name
is passed to the factory and ignored).
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np

OBS_SHAPE = (3, 3, 3)
ACTIONS = 9
BAD_GAME = 1
HANG_S = 90.0  # how long `hangs` hangs: far longer than any game timeout a test sets


class Good:
    """A well-behaved engine: deterministic short games, two predicts per move."""

    obs_shape = OBS_SHAPE
    actions = ACTIONS

    def __init__(self, simulations: int = 2, seed: int = 0) -> None:
        self.simulations, self.seed = simulations, seed

    def settings(self) -> dict:
        return {"engine": type(self).__name__.lower(), "simulations": self.simulations}

    def observation(self, game_id: int, ply: int, k: int):
        """The observation asked at (game, ply, k): distinct per game and ply, so caches miss."""
        obs = np.zeros(OBS_SHAPE, dtype=np.float32)
        obs.flat[(game_id * 7 + ply * 3 + k) % obs.size] = 1.0
        obs[2] = (game_id + 1) / 100.0
        return obs

    def ask(self, predict, game_id: int, ply: int, k: int):
        return predict(self.observation(game_id, ply, k))

    def move(self, predict, tracer, game_id: int, ply: int) -> int:
        with tracer.move(player=1 + ply % 2) as move:
            best = None
            for k in range(self.simulations):
                logits, _value = self.ask(predict, game_id, ply, k)
                best = int(np.argmax(logits))
            move.action = best if best is not None else 0
        return move.action

    def play_game(self, game_id: int, predict, tracer) -> int:
        for ply in range(3 + game_id % 3):
            self.move(predict, tracer, game_id, ply)
        return 0 if game_id % 5 == 0 else 1 + game_id % 2


class _BadGame(Good):
    """`misbehave` replaces game BAD_GAME's second ply; every other game is played as by Good."""

    def misbehave(self, predict, tracer, game_id: int, ply: int):
        raise NotImplementedError

    def move(self, predict, tracer, game_id: int, ply: int) -> int:
        if game_id == BAD_GAME and ply == 1:
            return self.misbehave(predict, tracer, game_id, ply)
        return super().move(predict, tracer, game_id, ply)


class Raises(_BadGame):
    def misbehave(self, predict, tracer, game_id, ply):
        with tracer.move(player=2):  # inside a marked move: the move must not be stored as played
            raise RuntimeError(f"engine bug in game {game_id}")


class Exits(_BadGame):
    def misbehave(self, predict, tracer, game_id, ply):
        sys.exit(3)


class Interrupts(_BadGame):
    def misbehave(self, predict, tracer, game_id, ply):
        raise KeyboardInterrupt


class Hangs(_BadGame):
    def misbehave(self, predict, tracer, game_id, ply):
        with tracer.move(player=2):
            # A search that does not return: it sleeps (the machine stays usable), and gives up after
            # HANG_S, so that a test process does not keep the thread for the rest of its session.
            deadline = time.monotonic() + HANG_S
            while time.monotonic() < deadline:
                time.sleep(0.05)
            raise RuntimeError(f"hung for {HANG_S} s")


class _BadObservation(_BadGame):
    def bad_obs(self):
        raise NotImplementedError

    def misbehave(self, predict, tracer, game_id, ply):
        with tracer.move(player=2) as move:
            predict(self.bad_obs())
            move.action = 0
        return 0


class WrongShape(_BadObservation):
    def bad_obs(self):
        return np.zeros((3, 4, 4), dtype=np.float32)


class StringObs(_BadObservation):
    def bad_obs(self):
        return "the board as text"


class WrongDtype(_BadObservation):
    def bad_obs(self):
        return np.full(OBS_SHAPE, "x")  # the right shape, of strings


class NanObs(_BadObservation):
    def bad_obs(self):
        return np.full(OBS_SHAPE, np.nan, dtype=np.float32)


class ForeignThread(Good):
    """Every predict is made from a thread the engine starts (an engine's own inference thread)."""

    def ask(self, predict, game_id, ply, k):
        out: list = []

        def infer() -> None:
            try:
                out.append(predict(self.observation(game_id, ply, k)))
            except BaseException as exc:  # handed back to the game's thread, as an engine would
                out.append(exc)

        worker = threading.Thread(target=infer)
        worker.start()
        worker.join()
        if isinstance(out[0], BaseException):
            raise out[0]
        return out[0]


class BadWinner(Good):
    def play_game(self, game_id, predict, tracer):
        winner = super().play_game(game_id, predict, tracer)
        return 7 if game_id == BAD_GAME else winner


class NoMoves(Good):
    """Plays without ever marking a move (nor asking the network)."""

    def play_game(self, game_id, predict, tracer):
        return 1


class SettingsRaise(Good):
    def settings(self):
        raise RuntimeError("settings are broken")


class SettingsList(Good):
    def settings(self):  # type: ignore[override]
        return ["engine", "good"]


class ObsShapeText(Good):
    obs_shape = "abc"  # type: ignore[assignment]


class ActionsText(Good):
    actions = "9"  # type: ignore[assignment]


class ActionsHuge(Good):
    actions = 10**12


def _factory(cls):
    def make(game: str = "tiny", simulations: int = 2, seed: int = 0):
        return cls(simulations=min(simulations, 2), seed=seed)

    make.__name__ = cls.__name__.lower()
    return make


good = _factory(Good)
raises = _factory(Raises)
exits = _factory(Exits)
interrupts = _factory(Interrupts)
hangs = _factory(Hangs)
wrong_shape = _factory(WrongShape)
string_obs = _factory(StringObs)
wrong_dtype = _factory(WrongDtype)
nan_obs = _factory(NanObs)
foreign_thread = _factory(ForeignThread)
bad_winner = _factory(BadWinner)
no_moves = _factory(NoMoves)
settings_raise = _factory(SettingsRaise)
settings_list = _factory(SettingsList)
obs_shape_text = _factory(ObsShapeText)
actions_text = _factory(ActionsText)
actions_huge = _factory(ActionsHuge)


def factory_raises(game: str = "tiny", simulations: int = 2, seed: int = 0):
    raise ValueError("this factory cannot build an engine")


def factory_exits(game: str = "tiny", simulations: int = 2, seed: int = 0):
    sys.exit(4)


def factory_needs_args(depth: int, game: str = "tiny"):
    """Needs `depth`, which perfkit does not pass."""
    return Good()


not_an_engine = 42  # not callable
