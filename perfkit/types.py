"""Core types of perfkit: configs, requests, records. Shapes in trailing comments.

Everything else in the package is built from these: the search emits `EvalRequest`s,
a strategy turns them into network calls, the recorder stores `CallRecord`s and
`MoveRecord`s.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from perfkit.atomic import write_atomic


class PerfkitError(Exception):
    """An error the user can fix; the CLI prints its message as one line and exits non-zero."""


# The network contract: what a network perfkit did not write may be given and must answer.


def _shape(shape: Iterable[Any]) -> str:
    return f"[{', '.join(map(str, shape))}]"


def check_observations(obs: Any, obs_shape: Sequence[int] | None = None, *, batch: bool = True) -> np.ndarray:
    """`obs` as an array of finite numbers, `[K, *obs_shape]` (`batch`) or `[*obs_shape]`; else a
    PerfkitError naming what is wrong (a network given text, NaN or another shape answers
    garbage, or fails far from the cause)."""
    what, is_, holds = ("the observations", "are", "hold") if batch else ("the observation", "is", "holds")
    if isinstance(obs, (str, bytes)):
        raise PerfkitError(f"{what} {is_} a {type(obs).__name__}, not an array of numbers")
    try:
        arr = np.asarray(obs)
    except Exception as exc:  # ragged lists, objects numpy cannot hold
        raise PerfkitError(f"{what} {is_} not an array of numbers ({type(exc).__name__}: {exc})") from None
    if arr.dtype.kind not in "biuf":
        raise PerfkitError(f"{what} {is_} of dtype {arr.dtype} ({type(obs).__name__}), not numbers: send ints or floats")
    if batch and (arr.ndim == 0 or len(arr) == 0):
        raise PerfkitError(f"no observations to evaluate: an empty batch shaped {_shape(arr.shape)}")
    shape = arr.shape[1:] if batch else arr.shape
    if obs_shape is not None and tuple(shape) != tuple(obs_shape):
        raise PerfkitError(f"{what} {is_} shaped {_shape(shape)}; this engine's observations are {_shape(obs_shape)}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = int(arr.size - np.isfinite(arr).sum())
        raise PerfkitError(f"{what} {holds} {bad} NaN or infinite value{'s' * (bad != 1)}: the network would answer garbage")
    return arr


def check_answers(out: Any, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """A forward's `(logits [rows, A], values [rows])` as float64 arrays; else a PerfkitError."""
    try:
        logits, values = out
        logits, values = np.asarray(logits, dtype=np.float64), np.asarray(values, dtype=np.float64)
    except Exception as exc:
        raise PerfkitError(
            f"the network must return numbers (logits [B, actions], values [B]), got {type(out).__name__}: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if logits.ndim != 2 or len(logits) != rows or values.size != rows:
        raise PerfkitError(
            f"the network answered logits {_shape(logits.shape)} and values {_shape(values.shape)} for {rows} "
            f"observation{'s' * (rows != 1)}: it must answer one row each"
        )
    if not (np.isfinite(logits).all() and np.isfinite(values).all()):
        raise PerfkitError("the network answered NaN or infinite values")
    return logits, values.reshape(rows)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """"; did you mean 'x'?" for the closest of `choices`, or "" when none is close."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


# The reference workload's game (SPEC §1.1): the one the presets' board N sizes, and the game of a
# stored run, curve or checkpoint that names none.
DEFAULT_GAME = "hex"

MIN_BOARD, MAX_BOARD = 3, 19
MAX_DEPTH, MAX_WIDTH = 4, 16


@dataclass(frozen=True)
class Preset:
    """A network size for a board size (SPEC §1.2)."""

    name: str
    board: int  # N: the board is N×N
    blocks: int  # B residual blocks
    channels: int  # C channels per conv layer


PRESETS: dict[str, Preset] = {
    "tiny": Preset("tiny", board=5, blocks=2, channels=16),  # unit tests
    "small": Preset("small", board=9, blocks=4, channels=32),  # default on CPU
    "reference": Preset("reference", board=13, blocks=8, channels=96),  # default on a GPU
}


def get_preset(name: str) -> Preset:
    """The preset called `name`, or a PerfkitError listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise PerfkitError(
            f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}"
        ) from None


class PositionBatch(Protocol):
    """B positions of one game, row i one position; what perfkit's search works on."""

    # Read-only members (a property or a plain field satisfies them).
    @property
    def stones(self) -> np.ndarray: ...  # [B, D] compact rows the network input is made from (Hex: int8 stones)

    @property
    def to_move(self) -> np.ndarray: ...  # [B] int8: 1 or 2 (OpenSpiel's players 0 and 1)

    @property
    def winner(self) -> np.ndarray: ...  # [B] int8: 1 or 2 when won, 0 while the game goes on or for a draw

    def __len__(self) -> int: ...

    @property
    def terminal(self) -> np.ndarray: ...  # [B] bool: the game is over (a draw included)

    def legal(self) -> np.ndarray: ...  # [B, A] bool: legal actions (none where terminal)

    def take(self, index: np.ndarray) -> PositionBatch: ...  # the rows `index`

    def play(self, actions: np.ndarray) -> PositionBatch: ...  # [B] legal actions -> new positions


class Game(Protocol):
    """A two-player, zero-sum, deterministic, perfect-information, sequential game, vectorised
    over positions: everything perfkit's search, strategies, workers and network need of it.

    Hex is the fast built-in (`perfkit.game.hex.HexGame`); OpenSpiel's games come through an
    adapter (`perfkit.game.openspiel.OpenSpielGame`).
    """

    # Read-only members: a frozen dataclass's fields, a property or a plain attribute satisfy them.
    @property
    def name(self) -> str: ...  # as the user writes it: hex, connect_four, go(board_size=9)

    @property
    def actions(self) -> int: ...  # A: the policy's width; an action is an index in [0, A)

    @property
    def obs_shape(self) -> tuple[int, ...]: ...  # the network's input planes of one position

    @property
    def compact_dtype(self) -> Any: ...  # numpy dtype of a compact row (transport between processes)

    @property
    def compact_width(self) -> int: ...  # D: length of a compact row

    def start(self, count: int) -> PositionBatch: ...  # `count` initial positions

    # Batches of this game's own kind (Any: each game takes its own batch class, not any PositionBatch).
    def concat(self, parts: list[Any]) -> PositionBatch: ...

    def encode(self, stones: Any, to_move: Any, dtype: Any) -> Any: ...  # torch [B, D], [B] -> planes [B, *obs_shape]

    # What a manifest or checkpoint records of the game: its name, obs_shape, actions, and
    # "board" where the game is sized by one (Hex's N), which the network then records too.
    def describe(self) -> dict[str, Any]: ...


# What a search asks the network through: `(stones [B, D], to_move [B], *, n_policy, n_value, level)
# -> (logits [B, A] float64, values [B] float64)`. perfkit's Evaluator, the evaluation cache in front
# of it, and a strategy's batching wrappers all have this signature.
Evaluate = Callable[..., tuple[np.ndarray, np.ndarray]]

# A user's engine asks one position at a time: observation `[*obs_shape]` -> (logits [A] unmasked, value).
Predict = Callable[[np.ndarray], tuple[np.ndarray, float]]


@runtime_checkable
class UserEngine(Protocol):
    """An engine perfkit did not write (a search of its own), traced and batched unmodified.

    Optional beyond these: `settings() -> dict` (for the run's manifest) and `network`, its own
    network (a torch module, or a callable on a batch `[B, *obs_shape]` returning
    `(logits [B, actions], value [B])`), which `bench` then calls instead of perfkit's residual
    net. `perfkit.search.engines.check_engine` checks an engine against this where it is made.
    """

    obs_shape: Sequence[int]  # the observation of one position, [planes, rows, cols]
    actions: int  # A: the game's action count, the policy's width

    def play_game(self, game_id: int, predict: Predict, tracer: Any) -> int:
        """Play one game to the end, asking `predict` for one position at a time, and mark each
        move on `tracer` (a perfkit.Tracer): `with tracer.move(player) as move: ...; move.action = a`.
        Returns the winner: 1, 2, or 0 for a draw."""
        ...


class Searcher(Protocol):
    """One search over the games in flight, driven by a strategy's game loop (`perfkit.search.SEARCHES`).

    `search` is a generator: it yields the `EvalRequest`s it needs (never a terminal position),
    is sent each one's `Evaluation`, and returns one decision per root, each with the move
    record's search part (`move`, `root_value`, `minimax_value`, `candidates`,
    `policy_move_values`, `chosen_rank`, optionally `visits`).
    """

    def search(self, roots: PositionBatch, *, games: list[int], plies: np.ndarray) -> Any: ...  # [m] roots, game ids, [m] plies

    def advance(self, keep: np.ndarray) -> None: ...  # [k] rows of the last search whose games go on, in order


@dataclass(frozen=True)
class SearchConfig:
    """Parameters of the seed's policy-pruned minimax (SPEC §1.3)."""

    value_topk: int = 5  # candidates valued at the root
    widths: tuple[int, ...] = (3, 3, 3)  # children expanded at depth 0, 1, 2, ...
    temperature: float = 1.0  # Gumbel temperature for the candidate ranking
    temperature_plies: int = 8  # plies played with noise; 0 turns noise off

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if not 1 <= len(self.widths) <= MAX_DEPTH:
            raise PerfkitError(
                f"widths must have 1 to {MAX_DEPTH} entries, got {len(self.widths)}"
            )
        if any(not 1 <= w <= MAX_WIDTH for w in self.widths):
            raise PerfkitError(f"each width must be between 1 and {MAX_WIDTH}, got {self.widths}")
        if not 1 <= self.value_topk <= MAX_WIDTH:
            raise PerfkitError(f"value_topk must be between 1 and {MAX_WIDTH}, got {self.value_topk}")
        if self.widths[0] > self.value_topk:
            raise PerfkitError(
                f"widths[0]={self.widths[0]} exceeds value_topk={self.value_topk}: "
                "the root can only expand valued candidates"
            )
        if self.temperature < 0 or self.temperature_plies < 0:
            raise PerfkitError("temperature and temperature_plies must be >= 0")

    @property
    def depth(self) -> int:
        return len(self.widths)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class EvalRequest:
    """The positions one level of the search needs evaluated; never holds a terminal position.

    Why each position is asked for (root, candidate, tree node, leaf) is kept so that a
    strategy can reproduce the seed's one-call-per-purpose flow (`naive`).
    """

    level: int  # 0 = root, d = depth-d nodes
    stones: np.ndarray  # [K, D] compact rows (Hex: [K, N*N] int8: 0 empty, 1 player 1, 2 player 2)
    to_move: np.ndarray  # [K] int8: 1 or 2
    want_policy: np.ndarray  # [K] bool: a tree node to expand (or the root)
    want_value: np.ndarray  # [K] bool: = candidate | leaf (or the root)
    candidate: np.ndarray  # [K] bool: a root candidate whose value is asked (level 1)
    leaf: np.ndarray  # [K] bool: a tree leaf valued by the value head (level = depth)
    owner: np.ndarray  # [K] int64: index of the root (search slot) the position belongs to
    actions: int = 0  # A: the width of the policy the network answers with
    root_player: np.ndarray | None = None  # [K] int8: the side to move at the row's root (whose search it is)

    def __len__(self) -> int:
        return len(self.to_move)


@dataclass
class Evaluation:
    """The network's answer to an EvalRequest, row for row."""

    logits: np.ndarray  # [K, A] float64, unmasked
    values: np.ndarray  # [K] float64 in [-1, 1], for the player to move


@dataclass
class MoveRecord:
    """What one move's search decided (SPEC §1.3.7)."""

    game: int
    ply: int
    player: int  # 1 or 2
    move: int  # cell index r*N + c
    root_value: float  # value head at the root, for the player to move
    minimax_value: float  # backed-up value of the chosen move (NaN on fallback)
    candidates: list[int]  # the value_topk candidate cells, best first
    policy_move_values: list[float]  # each candidate's value from the root player's view
    chosen_rank: int  # index of `move` in `candidates`
    calls: float = 0.0  # network calls attributed to this move (shared calls split by boards; with a cache: its lookups)
    boards: int = 0  # positions this move sent to the network (with a cache: asked of it)
    visits: list[int] = field(default_factory=list)  # [A] mcts: the root's visits per action (the policy target); minimax: []


@dataclass
class GameRecord:
    """One finished game."""

    game: int
    winner: int  # 1 or 2
    moves: list[MoveRecord] = field(default_factory=list)
    start_s: float = 0.0  # wall clock (time.time) at the first move
    end_s: float = 0.0

    @property
    def move_list(self) -> list[int]:
        return [m.move for m in self.moves]


@dataclass
class CallRecord:
    """One network call, as measured by the evaluator (seconds; None where not applicable)."""

    batch: int  # boards in the call
    n_policy: int  # positions that asked for the policy
    n_value: int  # positions that asked for the value
    level: int  # search level of the positions (-1: mixed or not from the search)
    encode_s: float  # host-side preparation of the input
    h2d_s: float | None  # host->device copy (None on CPU: there is no transfer)
    forward_s: float  # the network's forward pass
    d2h_s: float | None  # device->host copy (None on CPU)
    queue_wait_s: float | None  # time the positions waited for the call (None: no queue)
    start_s: float  # wall clock (time.perf_counter) at the call's start
    end_s: float
    asked: int | None = None  # boards the search asked for, `batch` of them sent (None: no cache in front)


# ---------------------------------------------------------------- the run summary


@dataclass
class RunSummary:
    """A run's summary metrics, typed: what every run has, finished in one place
    (`perfkit.instrument.summary.finish_summary`), and what its measurer adds (`extra`).

    Its JSON form (`to_dict`, a run manifest's "summary") has the keys that
    `perfkit.analysis.metrics.METRICS` documents; None where a metric does not apply.
    """

    games: int
    moves: int
    calls: int  # network calls
    boards: int  # positions the network evaluated, all calls
    calls_per_move: float
    boards_per_move: float
    mean_batch: float  # boards per call
    p50_batch: float
    p95_batch: float
    max_batch_seen: int
    wall_s: float  # the games' wall time, warm-up excluded
    games_per_s: float
    moves_per_s: float
    boards_per_s: float
    forward_share: float | None  # shares of wall_s; None: no wall time
    transfer_share: float | None  # None on the CPU: there is no transfer
    encode_share: float | None
    cpu_share: float | None
    outside_network_share: float | None
    game_digest: str | None  # sha256 of every game's moves (None: no moves)
    batch1_median_s: float | None  # None: no single-board call
    projected_days_500k: float | None
    projected_days_500k_low: float | None
    projected_days_500k_high: float | None
    gpu_util_mean: float | None  # None: no NVML samples (gpu_status says why)
    gpu_status: str  # "measured" or "unavailable: <reason>"
    peak_rss_mb: float
    device: str  # cpu, cuda:0, sim[:CURVE]
    device_name: str
    recorder_s: float  # the recorder's own cost: hooks + tables
    recorder_share: float | None
    efficiency: float | None = None  # boards_per_s / a curve's peak (None: not compared with one)
    efficiency_status: str = "not compared with a curve"
    speedup_vs_naive: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # metrics the run's measurer adds (threads, cache, workers...)

    def get(self, key: str, default: Any = None) -> Any:
        """The metric called `key`, its JSON key (`perfkit.analysis.metrics.METRICS`): a typed field or one
        its measurer added; `default` where the run has no such metric. What a renderer reads a metric by."""
        if key in self.extra:
            return self.extra[key]
        return getattr(self, key) if key in RUN_SUMMARY_FIELDS else default

    def to_dict(self) -> dict[str, Any]:
        """The summary as stored in a run's manifest and printed by `bench --json`."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**fields, **self.extra}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunSummary:
        """A stored summary, typed; PerfkitError naming a metric every run has that it lacks."""
        names = [f.name for f in dataclasses.fields(cls) if f.name != "extra"]
        required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING]
        missing = [name for name in required if name not in d]
        if missing:
            raise PerfkitError(f"the run's summary has no {', '.join(missing)}: it is not a whole perfkit run")
        return cls(**{k: d[k] for k in names if k in d}, extra={k: v for k, v in d.items() if k not in names})


RUN_SUMMARY_FIELDS = frozenset(f.name for f in dataclasses.fields(RunSummary)) - {"extra"}  # its typed metrics


# ---------------------------------------------------------------- the curve
# What one network call costs by batch size on one device (`perfkit curve` measures it,
# perfkit.analysis.curve). A contract: the sim device runs on one, efficiency divides by its
# peak, the projection replays a run's calls on one.

CURVE_KIND = "perfkit-curve"
MEASURED_LABEL = "measured by perfkit curve"
NOISY_IQR = 0.10  # IQR / median above this flags a point as noisy
# A curve of fewer batch sizes shows no peak: one point (a tiny --time-budget) is the cost of batch 1,
# and a run's efficiency against it read 1016%. Such a curve is saved but not divided by.
MIN_EFFICIENCY_POINTS = 2


@dataclass(frozen=True)
class CurvePoint:
    """One batch size: raw samples of the per-call cost, one per repeat (seconds)."""

    batch: int | float  # boards per call (a calibration point may be a mean, e.g. the seed's 57.3)
    call_s: tuple[float, ...]  # [repeats] whole evaluator call, per call
    forward_s: tuple[float, ...] = ()  # [repeats] the forward part of the same calls (may be empty)
    calls_per_repeat: int = 1  # calls timed together in one repeat

    @property
    def median_s(self) -> float:
        return float(np.median(self.call_s))

    @property
    def iqr_s(self) -> float:
        q1, q3 = np.percentile(self.call_s, [25, 75])
        return float(q3 - q1)

    @property
    def forward_median_s(self) -> float | None:
        return float(np.median(self.forward_s)) if self.forward_s else None

    @property
    def boards_per_s(self) -> float:
        return self.batch / self.median_s

    @property
    def noisy(self) -> bool:
        return len(self.call_s) > 1 and self.iqr_s > NOISY_IQR * self.median_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "call_s": list(self.call_s),
            "forward_s": list(self.forward_s),
            "calls_per_repeat": self.calls_per_repeat,
            "median_s": self.median_s,
            "iqr_s": self.iqr_s,
            "boards_per_s": self.boards_per_s,
            "noisy": self.noisy,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CurvePoint:
        return cls(
            batch=int(d["batch"]) if float(d["batch"]).is_integer() else float(d["batch"]),
            call_s=tuple(float(x) for x in d["call_s"]),
            forward_s=tuple(float(x) for x in d.get("forward_s", ())),
            calls_per_repeat=int(d.get("calls_per_repeat", 1)),
        )


@dataclass
class Curve:
    """Per-call cost by batch size of one network on one device, with its label.

    The latency model (`latency_s`) interpolates linearly between the measured batch sizes,
    keeps the smallest point's cost below it, and beyond the largest adds the extra boards
    at the peak throughput (a call can't process boards faster than the device's peak).
    """

    device: str  # torch device, e.g. "cpu", "cuda:0"
    device_name: str  # e.g. "cpu", "NVIDIA H100 80GB HBM3"
    preset: str
    network: dict[str, Any]  # board, blocks, channels
    precision: str
    points: list[CurvePoint]
    stopped_by: str = ""  # why the sweep ended: "max batch", "time budget ...", "out of memory ..."
    label: str = MEASURED_LABEL  # whose numbers these are
    note: str = ""  # assumptions behind the numbers, shown with them
    settings: dict[str, Any] = field(default_factory=dict)  # how it was measured
    environment: dict[str, Any] = field(default_factory=dict)
    measured_at: str | None = None
    path: Path | None = None  # where it was saved or loaded from
    roofline: dict[str, Any] = field(default_factory=dict)  # flops_per_board, peak_flop_per_s (a matmul's), ... ({}: not measured)

    def __post_init__(self) -> None:
        self.points = sorted(self.points, key=lambda p: p.batch)

    @property
    def batches(self) -> np.ndarray:  # [P]
        return np.array([p.batch for p in self.points], dtype=float)

    @property
    def peak_boards_per_s(self) -> float:
        return max(p.boards_per_s for p in self.points)

    @property
    def best_batch(self) -> int | float:
        """The smallest batch size that reaches the peak throughput."""
        return max(self.points, key=lambda p: (p.boards_per_s, -p.batch)).batch

    def latency_s(self, batch: float | np.ndarray, *, part: str = "call") -> Any:  # float, or [K] for [K] batches
        """Seconds per call of `batch` boards (scalar or array): "call" or its "forward" part."""
        if not self.points:
            raise PerfkitError("the curve has no points; measure it again with perfkit curve")
        if part == "call":
            y = np.array([p.median_s for p in self.points])
        elif part == "forward":
            if any(not p.forward_s for p in self.points):
                raise PerfkitError(f"curve '{self.label}' has no forward-pass samples")
            y = np.array([p.forward_median_s for p in self.points])
        else:
            raise ValueError(f"part must be 'call' or 'forward', got {part!r}")
        x = self.batches
        b = np.asarray(batch, dtype=float)
        peak = float(np.max(x / y))
        out = np.where(b <= x[-1], np.interp(b, x, y), y[-1] + (b - x[-1]) / peak)
        return float(out) if out.ndim == 0 else out

    def efficiency_problem(self, mean_batch: float | None = None) -> str:
        """Why this curve's peak is no limit for a run of `mean_batch` boards per call ("" if it is).

        Its peak is the device's only where the sweep measured calls as big as the run's: a sweep
        cut short (by its time budget) peaks at a small batch that a batched run outruns.
        """
        largest = self.points[-1].batch if self.points else 0
        why = f" (stopped by {self.stopped_by})" if self.stopped_by else ""
        fix = "measure it again with a larger --time-budget"
        if len(self.points) < MIN_EFFICIENCY_POINTS:
            return (f"curve {self.path or self.describe()} has {len(self.points)} batch size{why}, fewer than "
                    f"{MIN_EFFICIENCY_POINTS}: it shows no peak, so no efficiency is computed; {fix}")
        if mean_batch is not None and mean_batch > largest:
            return (f"curve {self.path or self.describe()} stops at batch {largest}{why}, below this run's mean batch "
                    f"of {mean_batch:,.1f}: its peak is not this run's limit, so no efficiency is computed; {fix}")
        return ""

    def matches(self, *, device_name: str, network: dict[str, Any], precision: str) -> bool:
        """Same device kind, network shape and precision: its peak applies to that run."""
        keys = ("board", "blocks", "channels")
        return (
            self.device_name == device_name
            and self.precision == precision
            and self.network.get("game", DEFAULT_GAME) == network.get("game", DEFAULT_GAME)
            and all(int(self.network.get(k, -1)) == int(network.get(k, -2)) for k in keys)
        )

    def describe(self) -> str:
        net = self.network
        if net.get("engine"):  # an engine's network (perfkit.measure.engine_curve)
            return f"engine {net['engine']}'s network {self.preset}, {self.precision} on {self.device_name}"
        return (
            f"{self.preset} (board {net.get('board')}, {net.get('blocks')} blocks, {net.get('channels')} channels), "
            f"{self.precision} on {self.device_name}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": CURVE_KIND,
            "label": self.label,
            "note": self.note,
            "device": self.device,
            "device_name": self.device_name,
            "preset": self.preset,
            "network": dict(self.network),
            "precision": self.precision,
            "peak_boards_per_s": self.peak_boards_per_s,
            "best_batch": self.best_batch,
            "stopped_by": self.stopped_by,
            "settings": self.settings,
            "environment": self.environment,
            "measured_at": self.measured_at,
            "roofline": self.roofline,
            "points": [p.to_dict() for p in self.points],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Curve:
        if d.get("kind") != CURVE_KIND:
            raise PerfkitError("not a perfkit curve (no \"kind\": \"perfkit-curve\"); make one with perfkit curve")
        return cls(
            device=d["device"], device_name=d["device_name"], preset=d["preset"], network=d["network"],
            precision=d["precision"], points=[CurvePoint.from_dict(p) for p in d["points"]],
            stopped_by=d.get("stopped_by", ""), label=d.get("label", MEASURED_LABEL), note=d.get("note", ""),
            settings=d.get("settings", {}), environment=d.get("environment", {}), measured_at=d.get("measured_at"),
            roofline=d.get("roofline") or {},
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the curve as JSON (atomically: a temporary file renamed into place)."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, json.dumps(self.to_dict(), indent=2))
        except OSError as exc:
            raise PerfkitError(f"cannot write curve {path}: {exc.strerror or exc}") from None
        self.path = path
        return path


def load_curve(path: str | os.PathLike[str]) -> Curve:
    """The curve saved in `path`; PerfkitError (one line) if it can't be read or isn't one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PerfkitError(f"curve file {path} does not exist; make one with perfkit curve") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PerfkitError(f"cannot read curve file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except ValueError as exc:
        raise PerfkitError(f"curve file {path} is not valid JSON: {exc}") from None
    try:
        curve = Curve.from_dict(data) if isinstance(data, dict) else Curve.from_dict({})
    except PerfkitError as exc:
        raise PerfkitError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise PerfkitError(f"curve file {path} is damaged (bad or missing {exc}); measure it again") from None
    if not curve.points:
        raise PerfkitError(f"curve file {path} has no points; measure it again with perfkit curve")
    for point in curve.points:  # an empty or NaN call_s would make every number drawn from it NaN
        if not point.call_s or not all(math.isfinite(x) and x >= 0 for x in point.call_s):
            raise PerfkitError(
                f"curve file {path}: the point at batch {point.batch} has "
                f"{'no call_s samples' if not point.call_s else 'a call_s that is not a finite time >= 0'}; "
                "measure it again with perfkit curve"
            )
        if not (math.isfinite(point.batch) and point.batch > 0):
            raise PerfkitError(f"curve file {path}: batch sizes must be positive numbers, got {point.batch}")
    curve.path = path
    return curve
