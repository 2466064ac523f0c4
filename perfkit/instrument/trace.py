"""Trace an engine perfkit did not write: every call of its network, and its games and moves.

A user wraps their network (a `torch.nn.Module`, or any callable taking a batch) in a
`Tracer` and marks games and moves::

    tracer = perfkit.Tracer(net)
    with tracer:                                   # the run's clock (and NVML sampler)
        with tracer.game():
            while not state.is_terminal():
                with tracer.move() as move:
                    action = my_mcts(state, predict=tracer.predict)   # or tracer.network(batch)
                    move.action = action
                state.apply_action(action)
    run = tracer.run()                             # the same tables and manifest as a bench run
    run.save("runs/my-engine")                     # perfkit report / project / notebooks read it

Calls are attributed to the move open in the calling thread (or greenlet); a call that serves several
games (the batch server) counts for each in proportion to its rows, as in `bench`. Marking
is optional: calls made outside any move are still recorded in the calls table.

Only what finished is recorded as such: a game whose block raises (anything: an exception,
`sys.exit`, KeyboardInterrupt) is not stored, neither as a draw nor at all, and is listed in
the run's manifest under `failed_games` with why; a move whose block raises is not stored.
What cannot be true is refused with a PerfkitError (and the game then fails): a game inside
a game, a game id used before, a winner other than 0 (draw), 1 or 2, a player other than 0
(unknown), 1 or 2, a move outside any game, a move closed without an action >= 0.

A call made from a thread that opened no game (an engine's own inference thread) belongs to
the one game open when exactly one is (its open move, if any): one game at a time is then
still accounted exactly. With several games open perfkit cannot tell whose call it is, and
refuses it rather than count it for no move.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from perfkit.devices import get_device
from perfkit.devices.gilfree import GilFree
from perfkit.devices.nvml import GpuReader
from perfkit.instrument.nvml import GpuSampler
from perfkit.instrument.recorder import Recorder
from perfkit.instrument.run import Run
from perfkit.instrument.tasks import TaskLocal
from perfkit.types import CallRecord, GameRecord, MoveRecord, PerfkitError, check_answers, check_observations

PLAYERS = (0, 1, 2)  # a move's player: 0 unknown, else 1 or 2
WINNERS = (0, 1, 2)  # a game's winner: 0 a draw, else player 1 or 2


@dataclass(eq=False)
class MoveMark:
    """A move being searched; set `action` (and `player`) when known."""

    game: GameMark | None
    ply: int
    player: int = 0  # 1 or 2 where the engine says; 0 unknown
    action: int = -1  # the move played; -1 until the engine sets it
    calls: float = 0.0  # network calls attributed to this move
    boards: int = 0  # positions this move sent to the network


@dataclass(eq=False)
class GameMark:
    """A game being played; set `winner` (1, 2, or 0 for a draw) when it ends."""

    game: int
    winner: int = 0
    start_s: float = 0.0
    moves: list[MoveMark] = field(default_factory=list)
    open_move: MoveMark | None = field(default=None, repr=False)  # the move being searched, if any


def _on_host(x: Any) -> Any:
    """A tensor as a float64 numpy array (any dtype, any device); anything else as it is."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return x


def _whole(value: Any, what: str, rule: str, ok: Callable[[int], bool]) -> int:
    """`value` as an int if it is a whole number (not a bool) for which `ok` holds; else a PerfkitError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not ok(int(value)):
        raise PerfkitError(f"{what} must be {rule}, got {value!r}")
    return int(value)


class Tracer:
    """Records the network calls, moves and games of any engine as a perfkit run.

    Args:
        network: the user's network: a `torch.nn.Module` or a callable taking a batch
            `[B, *obs_shape]` and returning `(logits [B, A], value [B] or [B, 1])`.
        name: the run's strategy label (e.g. "naive" for one game at a time).
        actions: the game's action count; when given, every call's output is checked
            against it (a network that does not fit the game is a PerfkitError).
        device, precision: where and in which dtype `predict`/`evaluate` run the module
            (default: the module's own device and dtype; float32 for a plain callable). A
            module elsewhere, in another dtype or in training mode is copied, never converted:
            the user's own module keeps its dtype, device and mode.
        gpu_reader: NVML reader for the GPU sampler (default: opened for the device).
        sample_gpu: False samples no GPU (a worker process: the device process samples it).
        manifest: extra entries for the run's manifest (engine, game, settings...).
        gil_free: a module's forward runs as one traced TorchScript graph, without the GIL,
            where that is exact (`perfkit.devices.gilfree`; see `prepare_forward`); False: eager.
    """

    def __init__(
        self,
        network: Callable[..., Any] | None = None,
        *,
        name: str = "traced",
        actions: int | None = None,
        device: str | torch.device | None = None,
        precision: str | None = None,
        gpu_reader: GpuReader | None = None,
        sample_gpu: bool = True,
        manifest: dict[str, Any] | None = None,
        gil_free: bool = True,
    ) -> None:
        from perfkit.model.evaluator import resolve_precision

        if network is not None and not callable(network):
            raise PerfkitError(f"Tracer takes a network (a torch.nn.Module or a callable), got {type(network).__name__}")
        self.module = network
        self.name = name
        self.actions = None if actions is None else _whole(
            actions, "actions (the game's action count)", "a whole number >= 1", lambda v: v >= 1,
        )
        self.recorder = Recorder(name)
        self.extra_manifest = dict(manifest or {})
        params = next(network.parameters(), None) if isinstance(network, torch.nn.Module) else None
        if device is not None:
            backend = get_device(device)  # a PerfkitError for a device perfkit does not know
            if backend.simulated:
                raise PerfkitError(f"a Tracer runs your network for real; device {device!r} is simulated: use cpu or cuda")
            self.device = backend.torch_device
        else:
            self.device = params.device if params is not None else torch.device("cpu")
        self.dtype = resolve_precision(precision) if precision else (params.dtype if params is not None else torch.float32)
        self.user_module = network  # the user's own object: hooked() and wrap() record its calls
        if isinstance(network, torch.nn.Module):
            self.module = _ready(network, self.device, self.dtype)
        self.backend = get_device(self.device)
        self.gil_free = gil_free
        self._graph: GilFree | None = None  # the module's forward as `prepare_forward` made it
        self.forward_path = "eager: a callable, not a torch module" if not isinstance(self.module, torch.nn.Module) \
            else "eager: not prepared yet (the first call traces it)"
        self._gpu_reader, self._sample_gpu = gpu_reader, sample_gpu
        self._local = TaskLocal()  # per thread, and per greenlet under the greenlet scheduler
        self._lock = threading.Lock()
        self._prepare_lock = threading.Lock()  # one trace of the module, whichever thread calls first
        self._game_ids = itertools.count()
        self._used_ids: set[int] = set()  # every game id marked so far: a (game, ply) row is one move
        self._open_games: list[GameMark] = []  # games being played, in any thread
        self._games_closed = False  # close_games(): a game ending after it is not recorded
        self._sampler: GpuSampler | None = None
        self._gpu_status: str | None = None
        self.t0: float | None = None
        self.wall_s: float | None = None
        self.cpu0: float | None = None  # process_time() when the clock started
        self.cpu_s: float | None = None  # the process's CPU seconds (all threads) while it ran
        self.started_at: float | None = None
        self.last_run: Run | None = None  # set by the %%perfkit cell magic
        self.last_profile: str | None = None  # set by `%%perfkit --profile`: where the cell's CPU time went
        self.failed_games: list[tuple[int, str]] = []  # (game id, why): games whose block raised

    # --------------------------------------------------------------- the run's clock

    def start(self) -> Tracer:
        """Start the run's clock and the GPU sampler (idempotent)."""
        if self.t0 is None:
            if not self._sample_gpu:
                reader, self._gpu_status = None, "not sampled here"
            elif self._gpu_reader is not None:
                reader, self._gpu_status = self._gpu_reader, None
            else:
                reader, self._gpu_status = self.backend.gpu_reader()
            self._sampler = GpuSampler(reader).__enter__()
            self.started_at, self.t0, self.cpu0 = time.time(), time.perf_counter(), time.process_time()
        return self

    def stop(self) -> Tracer:
        """Stop the clock and the sampler; the run's wall time ends here."""
        if self.t0 is not None and self.wall_s is None:
            self.wall_s = time.perf_counter() - self.t0
            self.cpu_s = time.process_time() - self.cpu0 if self.cpu0 is not None else None
            if self._sampler is not None:
                self._sampler.__exit__(None, None, None)
        return self

    def __enter__(self) -> Tracer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --------------------------------------------------------------- marks

    @contextlib.contextmanager
    def game(self, game_id: int | None = None) -> Iterator[GameMark]:
        """Mark a game played in this thread; set `.winner` (0 draw, 1, 2) on the mark before it closes.

        PerfkitError for a game inside a game, or a game id used before (a game's moves are its
        (game, ply) rows: two games of one id would mix them).
        """
        if getattr(self._local, "game", None) is not None:
            raise PerfkitError(
                f"tracer.game() inside game {self._local.game.game} of the same thread: close a game before the next"
            )
        wanted = None if game_id is None else _whole(game_id, "a game id", "a whole number >= 0", lambda v: v >= 0)
        self.start()
        with self._lock:
            if wanted is None:
                wanted = next(i for i in self._game_ids if i not in self._used_ids)
            elif wanted in self._used_ids:
                raise PerfkitError(f"game {wanted} was marked before: each game needs an id of its own")
            self._used_ids.add(wanted)
            mark = GameMark(game=wanted, start_s=time.time())
            self._open_games.append(mark)
        self._local.game = mark
        try:
            yield mark
            mark.winner = _whole(mark.winner, "the winner", "0 (a draw), 1 or 2", lambda v: v in WINNERS)
        except BaseException as exc:  # an aborted game is not a finished one (a draw): never recorded as one
            with self._lock:
                self.failed_games.append((mark.game, why_failed(exc)))
            raise
        finally:
            self._local.game = None
            with self._lock:
                self._open_games.remove(mark)
        end = time.time()
        record = GameRecord(game=mark.game, winner=mark.winner, start_s=mark.start_s, end_s=end)
        record.moves = [
            MoveRecord(
                game=mark.game, ply=m.ply, player=m.player, move=int(m.action), root_value=float("nan"),
                minimax_value=float("nan"), candidates=[], policy_move_values=[], chosen_rank=-1,
                calls=m.calls, boards=m.boards,
            )
            for m in mark.moves
        ]
        with self._lock:
            if not self._games_closed:
                self.recorder.on_game(record)

    def close_games(self) -> None:
        """Record no game from now on: a run stopped with games in flight (a game timeout) is
        what had finished when it stopped, and its tables agree with each other."""
        with self._lock:
            self._games_closed = True

    @contextlib.contextmanager
    def move(self, player: int = 0) -> Iterator[MoveMark]:
        """Mark one move's search in this thread's game; set `.action` (>= 0) on the mark before it closes.

        `player`: 1 or 2 (0: unknown). PerfkitError for a move outside any game, a move inside
        a move, or one closed without an action.
        """
        game = self._game_of_thread("tracer.move()")
        if game is None:
            raise PerfkitError("tracer.move() outside any game: open one first, `with tracer.game(game_id):`")
        if getattr(self._local, "move", None) is not None or game.open_move is not None:
            raise PerfkitError(f"tracer.move() inside a move of game {game.game}: close a move before the next")
        player = _whole(player, "a move's player", "0 (unknown), 1 or 2", lambda v: v in PLAYERS)
        mark = MoveMark(game=game, ply=len(game.moves), player=player)
        self._local.move = game.open_move = mark
        try:
            yield mark
        finally:
            self._local.move = game.open_move = None
        mark.player = _whole(mark.player, f"the player of ply {mark.ply}", "0 (unknown), 1 or 2", lambda v: v in PLAYERS)
        if mark.action == -1:
            raise PerfkitError(f"the move of ply {mark.ply} closed without an action: set `move.action` in its block")
        actions = self.actions
        mark.action = _whole(
            mark.action, f"the action of ply {mark.ply}",
            "a whole number >= 0" if actions is None else f"an action of the game, 0 to {actions - 1}",
            lambda v: v >= 0 and (actions is None or v < actions),
        )
        game.moves.append(mark)  # only a move whose block ended normally was played

    def _game_of_thread(self, what: str) -> GameMark | None:
        """The game open in the calling thread; in a thread that opened none (an engine's own
        thread), the one game open if exactly one is, None if none is; PerfkitError if several are."""
        game: GameMark | None = getattr(self._local, "game", None)
        if game is not None:
            return game
        with self._lock:
            open_games = list(self._open_games)
        if len(open_games) <= 1:
            return open_games[0] if open_games else None
        raise PerfkitError(
            f"{what} from a thread that opened no game, while several games are open: perfkit cannot tell "
            "whose it is; make it in the thread that opened the game, or play one game at a time (naive)"
        )

    def current_move(self) -> MoveMark | None:
        """The move open in the calling thread (None outside a move); from an engine's own thread,
        the open move of the one open game (see the module's docstring)."""
        mark: MoveMark | None = getattr(self._local, "move", None)
        if mark is not None:
            return mark
        if getattr(self._local, "game", None) is not None:
            return None  # between the moves of this thread's game
        game = self._game_of_thread("a network call")
        return game.open_move if game is not None else None

    # --------------------------------------------------------------- calls

    def evaluate(
        self,
        planes: np.ndarray,  # [B, *obs_shape]
        *,
        owners: Sequence[MoveMark | None] | None = None,
        queue_wait_s: float | None = None,
        asked: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:  # [B, A] float64, [B] float64
        """One recorded call of the network on a batch of observations.

        `owners` are the moves the rows belong to (default: the calling thread's move; None
        rows are charged to no move, as a cache in front charges its lookups itself).
        `asked`: the rows asked of a cache in front of the network, of which these B were not
        cached (recorded with the call; None: no cache).

        PerfkitError for observations that are not finite numbers, and for an answer that is
        not one finite row per observation (the call is then not recorded).
        """
        if self.module is None:
            raise PerfkitError("this Tracer has no network to call; pass one: Tracer(net)")
        start = time.perf_counter()
        planes = check_observations(planes)
        b = len(planes)
        h2d = d2h = None
        with torch.inference_mode():
            x = torch.from_numpy(planes).to(self.dtype)
            t1 = time.perf_counter()
            # CUDA: a pinned copy in and the outputs back, timed by CUDA events (perfkit.devices).
            logits, values, h2d, fwd, d2h = self.backend.timed_call(x, lambda planes: self._forward(planes, b))
        end = time.perf_counter()
        answers = check_answers((_on_host(logits), _on_host(values)), b)
        self._record(b, owners, CallRecord(
            batch=b, n_policy=b, n_value=b, level=-1, encode_s=t1 - start, h2d_s=h2d, forward_s=fwd,
            d2h_s=d2h, queue_wait_s=queue_wait_s, start_s=start, end_s=end, asked=asked,
        ))
        return answers

    def prepare_forward(self, obs_shape: Sequence[int]) -> str:
        """Trace the module's forward for observations `[B, *obs_shape]` (before a run's clock
        starts; else the first call does it): one TorchScript graph that runs without the GIL,
        used only where it answers bit-identically and the forward changes none of the module's
        own attributes (a forward that counts its calls in Python would stop counting).
        Returns `forward_path`: "traced: ..." or "eager: <why>" (also in the run's manifest)."""
        from perfkit.devices.gilfree import without_gil

        # Its own lock, not the recorder's: the module's forward runs here, and a hook may record.
        with self._prepare_lock:
            if self._graph is not None or not isinstance(self.module, torch.nn.Module):
                return self.forward_path
            module = self.module
            if not self.gil_free:
                self._graph, self.forward_path = GilFree(module, module, "off"), "eager: gil_free=False"
                return self.forward_path
            example = torch.zeros((4, *obs_shape), dtype=self.dtype, device=self.device)
            if any(m._forward_hooks or m._forward_pre_hooks for m in module.modules()):
                why = "it has forward hooks (a trace would skip them)"
            else:
                why = _side_effects(module, example)
            if why == "fails":  # the calls themselves will say what is wrong, as one line
                why = "its forward failed on a batch of zeros, so it was not traced"
            graph = GilFree(module, module, why) if why else without_gil(module, example)
            self._graph = graph
            self.forward_path = ("traced: one TorchScript graph, bit-identical to the module (checked), runs without the GIL"
                                 if graph.traced else f"eager: {graph.eager_reason}")
            return self.forward_path

    def _forward(self, x: torch.Tensor, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.module is None:
            raise PerfkitError("this Tracer has no network to call; pass one: Tracer(net)")
        if self._graph is None and isinstance(self.module, torch.nn.Module):
            self.prepare_forward(tuple(x.shape[1:]))
        forward = self._graph if self._graph is not None else self.module
        try:
            out = forward(x)
            logits, values = out
        except (TypeError, ValueError) as exc:
            if isinstance(exc, PerfkitError):
                raise
            raise PerfkitError(
                f"the network must return (logits [B, actions], value [B]) for planes [B, *obs_shape]: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from None
        self.check_output(logits, values, b)
        if not (isinstance(logits, torch.Tensor) and isinstance(values, torch.Tensor)):  # numpy, lists of text...
            logits, values = (torch.from_numpy(a) for a in check_answers((logits, values), b))
        return logits, values.reshape(b)

    def check_output(self, logits: object, values: object, b: int) -> None:
        """PerfkitError if a network's output does not fit the game."""
        lshape, vshape = tuple(getattr(logits, "shape", ())), tuple(getattr(values, "shape", ()))
        want = (b, self.actions) if self.actions is not None else None
        if len(lshape) != 2 or lshape[0] != b or (want is not None and lshape != want):
            raise PerfkitError(
                f"the network's logits are shaped {list(lshape)} for a batch of {b}; the game needs "
                f"[{b}, {self.actions if self.actions is not None else 'actions'}]"
            )
        if vshape not in ((b,), (b, 1)):
            raise PerfkitError(f"the network's value is shaped {list(vshape)} for a batch of {b}; it must be [{b}] or [{b}, 1]")

    def predict(self, obs: np.ndarray) -> tuple[np.ndarray, float]:
        """A batch-of-one call: the observation `[*obs_shape]` -> (logits [A], value).

        Logits, not probabilities, unmasked: an engine that expects a policy takes the softmax
        over its legal moves itself (as `examples/azg_mcts.py`'s `PerfkitNNet` does)."""
        logits, values = self.evaluate(np.asarray(obs)[None])
        return logits[0], float(values[0])

    def wrap(self, network: Callable[..., Any] | None = None) -> Callable[..., Any]:
        """`network` (default: the tracer's) with every call recorded, same signature and outputs.

        Use it where the engine calls its module directly: `net = tracer.wrap(net)`.
        """
        module = network or self.user_module
        if module is None or not callable(module):
            raise PerfkitError("wrap takes a network (a torch.nn.Module or a callable)")

        def traced(batch: Any, *args: Any, **kwargs: Any) -> Any:
            start = self._sync_clock()
            out = module(batch, *args, **kwargs)
            self._record_timed(len(batch), start)
            return out

        traced.__wrapped__ = module  # type: ignore[attr-defined]
        return traced

    @contextlib.contextmanager
    def hooked(self, module: torch.nn.Module | None = None) -> Iterator[Tracer]:
        """Record every forward call of `module` (default: the tracer's) for the block, through
        forward hooks: the engine keeps calling its own object, wherever it holds it."""
        target = module if module is not None else self.user_module
        if not isinstance(target, torch.nn.Module):
            raise PerfkitError(f"hooked takes a torch.nn.Module, got {type(target).__name__}; use wrap for a callable")
        starts = threading.local()

        def before(_module: torch.nn.Module, args: tuple[Any, ...]) -> None:
            starts.__dict__.setdefault("stack", []).append(self._sync_clock())

        def after(_module: torch.nn.Module, args: tuple[Any, ...], _out: Any) -> None:
            self._record_timed(len(args[0]) if args else 1, starts.stack.pop())

        handles = [target.register_forward_pre_hook(before), target.register_forward_hook(after)]
        try:
            yield self
        finally:
            for h in handles:
                h.remove()

    def _sync_clock(self) -> float:
        """perf_counter after the device has finished what was queued (CUDA is asynchronous)."""
        self.backend.synchronize()
        return time.perf_counter()

    def _record_timed(self, b: int, start: float) -> None:
        """A call of the user's own network: wall time around it, device synchronised; no
        separate encode or transfer times are known."""
        end = self._sync_clock()
        self._record(b, None, CallRecord(
            batch=b, n_policy=b, n_value=b, level=-1, encode_s=0.0, h2d_s=None, forward_s=end - start,
            d2h_s=None, queue_wait_s=None, start_s=start, end_s=end,
        ))

    def _record(self, b: int, owners: Sequence[MoveMark | None] | None, record: CallRecord) -> None:
        self.start()
        mark = self.current_move() if owners is None else None  # it may refuse: before anything is recorded
        self.recorder.on_call(record)
        if owners is None:
            if mark is not None:
                with self._lock:
                    mark.calls += 1.0
                    mark.boards += b
            return
        self.attribute(owners, np.full(b, 1.0 / b))

    def attribute(self, owners: Sequence[MoveMark | None], shares: np.ndarray) -> None:
        """Count one row per owner, each row `share` of a call (a call of B rows: 1/B each)."""
        with self._lock:
            for mark, share in zip(owners, shares.tolist(), strict=True):  # Python floats: no numpy scalar per row
                if mark is not None:
                    mark.calls += share
                    mark.boards += 1

    # --------------------------------------------------------------- the run

    def run(self, *, wall_s: float | None = None) -> Run:
        """The traced calls, moves and games as a Run (the tracer's clock is stopped first)."""
        from perfkit.instrument.environment import environment_of
        from perfkit.instrument.summary import finish_summary

        self.start()
        self.stop()
        # start() set the clock and stop() read it: neither is None from here on.
        assert self.t0 is not None and self.wall_s is not None and self.started_at is not None
        wall = self.wall_s if wall_s is None else wall_s
        rec = self.recorder
        calls, moves, games = rec.calls_table(), rec.moves_table(), rec.games_table()
        gpu = self._sampler.table() if self._sampler is not None else None
        env = environment_of(self.device)
        summary = finish_summary(
            calls=calls, moves=moves, games=games, gpu=gpu, wall_s=wall, wall_start=self.t0,
            gpu_status=(self._sampler.error if self._sampler else None) or self._gpu_status or "measured",
            device=env["device"], device_name=env["device_name"], recorder_s=rec.own_s, cpu_s=self.cpu_s,
        )
        precision = {torch.float32: "float32", torch.float64: "float64"}.get(self.dtype, str(self.dtype))
        extra = dict(self.extra_manifest)
        settings = {"preset": "user", "precision": precision, "seed": None, "games": len(games),
                    **extra.pop("settings", {})}
        manifest = {
            "kind": "perfkit-run",
            "strategy": self.name,
            "strategy_settings": extra.pop("strategy_settings", {}),
            "strategy_stats": extra.pop("strategy_stats", {}),
            "settings": settings,
            "search": extra.pop("search", {}),
            "network": {**extra.pop("network", _network_info(self.module)), "forward": self.forward_path},
            "environment": env,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started_at)),
            "ended_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started_at + wall)),
            "wall_s": wall,
            "perf_counter_start_s": self.t0,
            "record_calls": True,
            "traced": True,
            **({"failed_games": [{"game": g, "error": why} for g, why in self.failed_games]} if self.failed_games else {}),
            **extra,
            "summary": summary.to_dict(),
        }
        return Run(manifest=manifest, calls=calls, moves=moves, games=games,
                   gpu=gpu if gpu is not None else pd.DataFrame())


def _own_state(module: torch.nn.Module) -> list[tuple[str, str]]:
    """The module's (and its submodules') public attributes that are not tensors or modules, as
    text: what a forward with Python side effects (a call counter, a list of inputs) changes."""
    return [(k, repr(v)) for m in module.modules() for k, v in sorted(vars(m).items())
            if not k.startswith("_") and not isinstance(v, (torch.Tensor, torch.nn.Module))]


def _side_effects(module: torch.nn.Module, example: torch.Tensor) -> str:
    """Why `module`'s forward must stay eager ("" if nothing says so; "fails" if it fails on `example`),
    found on a copy, so the user's own counters are not moved: a trace would skip Python side effects."""
    try:
        probe = copy.deepcopy(module)
    except Exception as exc:  # noqa: BLE001 - a module holding a lock or a file: not checked, so not traced
        return f"its forward could not be checked for side effects (the module cannot be copied: {type(exc).__name__})"
    before = _own_state(probe)
    try:
        with torch.inference_mode():
            probe(example)
    except Exception:  # noqa: BLE001
        return "fails"
    return "its forward changes the module's own attributes (a trace would skip that)" if _own_state(probe) != before else ""


def _ready(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """`module` on `device` in `dtype`, in eval mode: the module itself where it already is, else a copy
    of its weights, so the user's own module keeps its dtype, device and mode (their own predict
    still works); its public attributes that are not tensors or modules are shared, not copied."""
    tensors = [*module.parameters(), *module.buffers()]
    floating = [t for t in tensors if t.is_floating_point()]
    if all(t.device == device for t in tensors) and all(t.dtype == dtype for t in floating) and not module.training:
        return module
    # The copy's own weights; the user's other attributes (a list counting calls, a config) are shared.
    memo = {id(v): v for m in module.modules() for k, v in vars(m).items()
            if not k.startswith("_") and not isinstance(v, (torch.Tensor, torch.nn.Module))}
    return copy.deepcopy(module, memo).to(device=device, dtype=dtype).eval()


def why_failed(exc: BaseException) -> str:
    """One line saying why a game (or an engine's call) stopped: `exc` named, its message's first line."""
    if isinstance(exc, SystemExit):
        return f"the engine called sys.exit({exc.code!r})"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, PerfkitError):
        return text or "PerfkitError"
    return f"{type(exc).__name__}: {text}" if text else f"the engine raised {type(exc).__name__}"


def _network_info(module: object) -> dict[str, Any]:
    """What the manifest can say of a user's network."""
    info: dict[str, Any] = {"name": type(module).__name__ if module is not None else None}
    if isinstance(module, torch.nn.Module):
        info["parameters"] = int(sum(p.numel() for p in module.parameters()))
        for key in ("blocks", "channels", "board", "actions"):
            if isinstance(getattr(module, key, None), int):
                info[key] = getattr(module, key)
        obs_shape = getattr(module, "obs_shape", None)
        if obs_shape is not None:
            info["obs_shape"] = list(obs_shape)
    info.setdefault("board", None)
    info.setdefault("blocks", None)
    info.setdefault("channels", None)
    return info


def trace(network: Callable[..., Any], **kwargs: Any) -> Tracer:
    """A started Tracer around `network` (see Tracer for the arguments)."""
    return Tracer(network, **kwargs).start()


__all__ = ["GameMark", "MoveMark", "Tracer", "trace"]
