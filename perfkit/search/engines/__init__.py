"""Engines perfkit did not write, traced and batched without changing them.

An engine is any object that keeps `perfkit.types.UserEngine`:

- `obs_shape` (the observation of one position, `[planes, rows, cols]`) and `actions`;
- `play_game(game_id, predict, tracer) -> winner`: plays one game to the end, asking
  `predict(obs) -> (logits [actions], value)` for one position at a time (finite numbers of
  shape `obs_shape`; logits, unmasked: the engine takes its own softmax over the legal moves),
  and marking each move with `with tracer.move(player) as move: ...; move.action = a`;
  returns 1, 2 or 0 (draw);
- optionally `settings() -> dict` for the run's manifest;
- optionally `profile_modules`: modules (or their names) whose functions `perfkit profile
  --engine` profiles as the engine's own, beside its class's file;
- optionally `network`: its own network (a torch module, or a callable on a batch
  `[B, *obs_shape]` returning `(logits [B, actions], value [B])`), which `bench` then calls
  instead of perfkit's residual net.

What breaks the protocol is one line (a PerfkitError): at once for the engine itself
(`check_engine`), and for one game (it fails, is not recorded, and the others go on) for what
a game does; see `perfkit.search.engines.run`.

Built in: `openspiel-mcts` (OpenSpiel's Python `MCTSBot`). Your own: `--engine
path/to/file.py:factory` (`--engine path/to/file.py` calls its `engine`) or `--engine
package.module:factory`, where
`factory(game=..., simulations=..., seed=...)` returns an engine
(`examples/azg_mcts.py` is one, in the style of alpha-zero-general).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfkit.instrument.trace import why_failed
from perfkit.search.engines.run import ENGINE_STRATEGIES, GamesFailed, check_engine, play_engine
from perfkit.strategies import EngineOptions
from perfkit.types import PerfkitError

BUILTIN = "builtin"  # perfkit's own search (the seed's minimax), played by the strategies
ENGINES = (BUILTIN, "openspiel-mcts")
DEFAULT_FACTORY = "engine"  # the factory `--engine FILE.py` calls when the spec names none


def _factory(spec: str) -> Callable[..., Any]:
    """The engine factory named by `spec` (a built-in name, FILE.py:NAME or MODULE:NAME)."""
    if spec == "openspiel-mcts":
        from perfkit.search.engines.openspiel_mcts import OpenSpielMCTS

        return OpenSpielMCTS
    if ":" not in spec and not spec.endswith(".py"):
        raise PerfkitError(
            f"unknown engine {spec!r}; choose one of: {', '.join(ENGINES)}, or your own as FILE.py:FACTORY"
        )
    # A file alone names its `engine` factory (as examples/azg_mcts.py's).
    where, _, name = spec.rpartition(":") if ":" in spec else (spec, ":", DEFAULT_FACTORY)
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise PerfkitError(f"engine file not found: {where}")
            module_spec = importlib.util.spec_from_file_location(f"perfkit_user_engine_{path.stem}", path)
            if module_spec is None or module_spec.loader is None:
                raise PerfkitError(f"cannot load engine {spec!r}: {where} is not a Python file")
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except PerfkitError:
        raise
    except (Exception, SystemExit) as exc:  # a module that calls sys.exit on import, too
        raise PerfkitError(f"cannot load engine {spec!r}: {why_failed(exc)}") from None
    factory: Callable[..., Any] | None = getattr(module, name, None)
    if not callable(factory):
        hint = f"; name its factory as {where}:FACTORY" if ":" not in spec else ""
        raise PerfkitError(f"engine {spec!r}: {where} has no callable {name!r}{hint}")
    return factory


def make_engine(spec: str, *, game: str, simulations: int, seed: int = 0) -> Any:
    """The engine named by `spec`, for `game`; PerfkitError if it cannot be made."""
    if spec == BUILTIN:
        raise PerfkitError("the builtin engine is perfkit's own search: run it with perfkit.bench")
    factory = _factory(spec)
    kwargs = {"game": game, "simulations": simulations, "seed": seed}
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # no signature to read (a builtin): pass everything
        params = None
    if params is not None:
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            kwargs = {k: v for k, v in kwargs.items() if k in params}
        needed = [n for n, p in params.items()
                  if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and n not in kwargs]
        if needed:
            raise PerfkitError(
                f"engine {spec!r}: its factory needs {', '.join(needed)}, which perfkit does not pass (it passes "
                f"game=, simulations= and seed= where the factory takes them): give {'it' if len(needed) == 1 else 'them'} "
                "a default"
            )
    try:
        engine = factory(**kwargs)
    except PerfkitError:
        raise
    except (Exception, SystemExit) as exc:
        raise PerfkitError(f"engine {spec!r}: its factory failed: {why_failed(exc)}") from None
    return check_engine(engine, spec)


__all__ = [
    "BUILTIN", "ENGINES", "ENGINE_STRATEGIES", "EngineOptions", "GamesFailed", "check_engine", "make_engine", "play_engine",
]
