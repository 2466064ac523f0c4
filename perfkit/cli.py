"""`perfkit` command line: a thin argparse front end over the functions the notebooks call.

Errors are one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from perfkit.devices import DEVICE_HELP
from perfkit.types import DEFAULT_GAME, PerfkitError, SearchConfig, did_you_mean

if TYPE_CHECKING:
    from perfkit.analysis.compare import Comparison
    from perfkit.measure.bench import BenchSettings
    from perfkit.measure.engine import EngineRun
    from perfkit.search.mcts import MCTSConfig
    from perfkit.strategies import EngineOptions
    from perfkit.types import Curve, CurvePoint

EXIT_USAGE, EXIT_ERROR = 2, 1


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: `perfkit bench: error: ...`."""

    def error(self, message: str) -> NoReturn:
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            message += did_you_mean(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)))
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def suggest_name(message: str) -> str:
    """An "unknown strategy 'crosgame'; choose one of: ..." error, with the nearest name added."""
    m = re.match(r"unknown (\w+) '([^']*)'; (?:choose one of:?|use) (.*)$", message)
    if not m:
        return message
    choices = [c for c in re.findall(r"[\w:.-]+", m.group(3)) if c not in ("or", "and")]
    return message + did_you_mean(m.group(2), choices)


def reject_unknown_flags(parser: Parser, args: argparse.Namespace, extras: list[str]) -> None:
    """Unrecognised options, with the nearest option of the command that was asked for."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[args.command]
    hints = [did_you_mean(x.split("=")[0], sub._option_string_actions) for x in extras if x.startswith("-")]
    sub.error(f"unrecognized arguments: {' '.join(extras)}" + "".join(h for h in hints if h)[:200])


N = TypeVar("N", int, float)


def number(kind: Callable[[str], N], minimum: float, what: str, *, strict: bool = False) -> Callable[[str], N]:
    """An argparse type: `kind(text)`, at least (`strict`: above) `minimum`, else a one-line
    error saying `what`."""

    def parse(text: str) -> N:
        value: N | None
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not (value > minimum if strict else value >= minimum):  # refuses NaN too
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


positive_int = number(int, 1, "a positive integer")
non_negative_int = number(int, 0, "an integer >= 0")


def even_positive_int(text: str) -> int:
    """A positive even integer (games played in pairs, colours swapped)."""
    value = positive_int(text)
    if value % 2:
        raise argparse.ArgumentTypeError(f"must be an even number (games are played in pairs, colours swapped), got {text!r}")
    return value


even_positive_int.__name__ = "an even positive integer"
non_negative_float = number(float, 0, "a number >= 0")
positive_seconds = number(float, 0, "a number > 0", strict=True)
positive_number = number(float, 0, "a number > 0", strict=True)


def fraction(text: str) -> float:
    """A number from 0 to 1."""
    value = number(float, 0, "a number from 0 to 1")(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {text!r}")
    return value


fraction.__name__ = "a number from 0 to 1"


def widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers like 3,3,3, got {text!r}") from None


def workers_list(text: str) -> list[int]:
    """`2` or `1,2,4`: worker counts, each >= 0."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be worker counts like 2 or 1,2,4, got {text!r}") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"worker counts must be >= 0, got {text!r}")
    return values


def out_dir(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a directory, got an empty path")
    return text


THREADS_HELP = (
    "torch CPU threads (default: chosen, not inherited: 1 on a GPU or sim, else the cores other processes "
    "leave free less one, confirmed by timing; the run prints its choice and why)"
)


def add_workload_args(p: argparse.ArgumentParser) -> None:
    """Options that define the workload, shared by every command that plays games."""
    from perfkit.game import GAMES_HELP

    p.add_argument("--game", default=DEFAULT_GAME, help=f"the game (default {DEFAULT_GAME}): {GAMES_HELP}")
    p.add_argument("--preset", default=None, help="tiny, small (default on CPU), reference (default on GPU)")
    p.add_argument("--board", type=int, default=None, help="override the preset's board size (3-19)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="weights and game noise (default 0)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--precision", default="float32",
                   help="float32 (default), float64 (exact), or bfloat16/float16 (approximate: bench measures their quality)")
    p.add_argument("--checkpoint", default=None, help="weights written by perfkit.save_checkpoint")
    p.add_argument("--threads", type=positive_int, default=None, help=THREADS_HELP)
    p.add_argument("--widths", type=widths, default=SearchConfig.widths, help="tree widths (default 3,3,3)")
    p.add_argument("--value-topk", type=positive_int, default=SearchConfig.value_topk, help="root candidates (default 5)")
    p.add_argument("--temperature", type=non_negative_float, default=SearchConfig.temperature)
    p.add_argument("--temperature-plies", type=non_negative_int, default=SearchConfig.temperature_plies)
    add_search_args(p)
    p.add_argument("--concurrency", type=positive_int, default=None, help="crossgame: games in flight (default 64)")
    p.add_argument("--max-batch", type=positive_int, default=None, help="crossgame: most positions per call (default 1024)")
    p.add_argument("--groups", type=positive_int, default=None,
                   help="crossgame: game groups mixed in calls; an engine's greenlets: each group's call runs while the next "
                        "group searches (default 1)")
    p.add_argument("--inflight", type=positive_int, default=None, help="crossgame: calls in flight, 2 overlaps CPU and network (default 1)")
    p.add_argument(
        "--workers", dest="process_workers", type=non_negative_int, default=None,
        help="crossgame: processes playing the games, feeding this one's network (default 0: in-process)",
    )
    p.add_argument(
        "--max-wait-ms", type=non_negative_float, default=None,
        help="crossgame --workers: longest a request waits for a fuller call (default 2)",
    )
    p.add_argument("--no-cache", action="store_true",
                   help="no evaluation cache: every position the search asks for goes to the network")
    p.add_argument("--cache-size", type=positive_int, default=None, metavar="N",
                   help="positions the exact evaluation cache keeps, least recently used dropped first (default 100000)")
    add_fold_arg(p)


def add_approximate_args(p: argparse.ArgumentParser) -> None:
    """bench's opt-in approximate paths (with --precision bfloat16|float16) and their quality report."""
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the network (approximate); batches padded to powers of two, compile time "
                        "reported apart; its quality against float64 is measured first")
    p.add_argument("--autocast", choices=("float16", "bfloat16"), default=None,
                   help="run the float32 network under torch.autocast in this half precision (approximate; "
                        "its quality against float64 is measured first)")
    p.add_argument("--cuda-graphs", action="store_true",
                   help="CUDA only: replay the network from CUDA graphs captured for 4 batch-size buckets, calls "
                        "padded up to a bucket; a bucket whose capture fails runs eagerly (approximate: quality measured)")
    p.add_argument("--quality-positions", type=positive_int, default=None, metavar="N",
                   help="an approximate path's quality: positions from real games compared with float64 (default 1000)")
    p.add_argument("--h2h-games", type=even_positive_int, default=None, metavar="N",
                   help="an approximate path's quality: games against float64, in pairs with colours swapped "
                        "(even; default 16)")


def add_fold_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-fold", action="store_true",
                   help="the network as built: no BatchNorm folding, no memory format chosen by measuring")


def add_search_args(p: argparse.ArgumentParser) -> None:
    """`--search` and the MCTS parameters (perfkit's own mcts and, for --simulations, an engine's)."""
    from perfkit.search import SEARCHES

    p.add_argument("--search", default="minimax",
                   help="; ".join(f"{k.name}: {k.about}" for k in SEARCHES.values()) + " (default minimax)")
    p.add_argument("--simulations", type=positive_int, default=None,
                   help="MCTS simulations per move, --search mcts or an --engine (default 50)")
    p.add_argument("--c-puct", type=positive_number, default=None, help="mcts: exploration weight (default 1.25)")
    p.add_argument("--dirichlet-alpha", type=positive_number, default=None, help="mcts: root noise concentration (default 1.0)")
    p.add_argument("--dirichlet-fraction", type=fraction, default=None, help="mcts: root noise share, 0 for none (default 0.25)")
    p.add_argument("--leaves", type=positive_int, default=None,
                   help="mcts: leaves per tree per call, with virtual loss (default 8 permove, 1 crossgame; naive: 1)")
    p.add_argument("--no-reuse", action="store_true", help="mcts: a fresh tree every move (default: the chosen subtree is kept)")


MCTS_FLAGS = (("simulations", "--simulations"), ("c_puct", "--c-puct"), ("dirichlet_alpha", "--dirichlet-alpha"),
              ("dirichlet_fraction", "--dirichlet-fraction"), ("leaves", "--leaves"), ("no_reuse", "--no-reuse"))


def search_config(args: argparse.Namespace) -> SearchConfig | MCTSConfig:
    """The search the flags ask for: minimax's SearchConfig or an MCTSConfig (mcts flags refused with minimax)."""
    from perfkit.search import MCTSConfig, get_search

    kind = get_search(args.search)
    if kind.name == "minimax":
        given = [flag for name, flag in MCTS_FLAGS if getattr(args, name, None) and name != "simulations"]
        if given or args.simulations is not None and getattr(args, "engine", "builtin") == "builtin":
            raise PerfkitError(f"{(given or ['--simulations'])[0]} applies to --search mcts (or --simulations to an --engine)")
        return SearchConfig(
            value_topk=args.value_topk, widths=args.widths, temperature=args.temperature,
            temperature_plies=args.temperature_plies,
        )
    picked = {name: getattr(args, name) for name, _ in MCTS_FLAGS if getattr(args, name) is not None and name != "no_reuse"}
    return MCTSConfig(**picked, temperature_plies=args.temperature_plies, reuse=not args.no_reuse)


def default_preset(device: str) -> str:
    """SPEC §1.2: `small` on the CPU, `reference` on a GPU (or the simulated one)."""
    from perfkit.devices import get_device

    return "reference" if get_device(device).offloads else "small"


def crossgame_flags(args: argparse.Namespace) -> dict[str, Any]:
    """crossgame's options as given on the command line (None: not given), one per CrossGameOptions field."""
    return {
        "concurrency": args.concurrency, "max_batch": args.max_batch, "groups": args.groups, "inflight": args.inflight,
        "workers": args.process_workers,  # --workers: processes, in every command
        "max_wait_s": None if args.max_wait_ms is None else args.max_wait_ms / 1e3,
    }


def check_cache_flags(args: argparse.Namespace) -> None:
    """`--no-cache` with `--cache-size N` contradict each other: say so rather than ignore one."""
    if getattr(args, "no_cache", False) and getattr(args, "cache_size", None) is not None:
        raise PerfkitError(f"--no-cache and --cache-size {args.cache_size} contradict each other: choose one")


def bench_settings(args: argparse.Namespace) -> BenchSettings:
    from perfkit.measure.bench import BenchSettings

    check_cache_flags(args)

    search = search_config(args)
    return BenchSettings(
        preset=default_preset(args.device) if args.preset is None else args.preset, board=args.board, games=args.games,
        **crossgame_flags(args), seed=args.seed, device=args.device, precision=args.precision,
        checkpoint=args.checkpoint, threads=args.threads, search=search, game=args.game,
        cache=not getattr(args, "no_cache", False), fold=not args.no_fold,
        compile=bool(getattr(args, "compile", False)),  # bench's --compile
        autocast=getattr(args, "autocast", None), cuda_graphs=bool(getattr(args, "cuda_graphs", False)),
        **({} if getattr(args, "quality_positions", None) is None else {"quality_positions": args.quality_positions}),
        **({} if getattr(args, "h2h_games", None) is None else {"h2h_games": args.h2h_games}),
        **({} if getattr(args, "cache_size", None) is None else {"cache_size": args.cache_size}),
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from perfkit.measure.bench import bench
    from perfkit.report.console import json_entry, render_bench
    from perfkit.search import config_for
    from perfkit.strategies import STRATEGIES, make_strategy

    if args.engine != "builtin":
        return cmd_bench_engine(args)
    if args.game_timeout is not None:
        raise PerfkitError("--game-timeout applies to an engine perfkit did not write (--engine); perfkit's own "
                           "search always ends its games")
    if args.scheduler:
        raise PerfkitError("--scheduler applies to an engine's games (--engine ...): perfkit's own search is batched without threads")

    names = list(STRATEGIES) if args.strategy == "all" else [args.strategy]
    if args.strategy != "all":
        make_strategy(args.strategy)  # validates the name before anything runs
    settings = bench_settings(args)
    for name in names:  # a strategy the search cannot serve is one line before anything runs
        config_for(settings.search, name, workers=settings.workers or 0)
    if args.recorder_overhead:
        return recorder_overhead_report(names, settings, pairs=args.pairs, as_json=args.json)
    tuned = None
    if args.tune:
        settings, tuned = tune_settings(args, settings)
    runs = bench(names, settings, out=args.out, progress=not args.no_progress, curves=args.curves, repeat=args.repeat)
    if args.json:
        print(json.dumps({"runs": [json_entry(r) for r in runs], **({"tune": tuned} if tuned else {})}, indent=2))
    else:
        print(render_bench(runs, verbose=args.verbose))
    return 0


def cmd_bench_engine(args: argparse.Namespace) -> int:
    """`bench --engine E`: an engine perfkit did not write, one game at a time and batched."""
    from perfkit.measure.engine import bench_engine
    from perfkit.report.console import json_entry, render_bench
    from perfkit.search.engines.run import ENGINE_STRATEGIES

    if args.strategy == "permove":
        raise PerfkitError(
            "permove needs perfkit's own search (a whole tree level per call); an engine's search asks one "
            "position at a time: use naive, crossgame or all"
        )
    names = list(ENGINE_STRATEGIES) if args.strategy == "all" else [args.strategy]
    unsupported = [
        flag for flag, value in (("--recorder-overhead", args.recorder_overhead),
                                 ("--inflight", args.inflight),
                                 ("--checkpoint", args.checkpoint), ("--board", args.board),
                                 ("--compile", args.compile), ("--autocast", args.autocast),
                                 ("--cuda-graphs", args.cuda_graphs), ("--quality-positions", args.quality_positions),
                                 ("--h2h-games", args.h2h_games), ("--no-fold", args.no_fold),
                                 (f"--search {args.search}", args.search != "minimax"),
                                 *((flag, getattr(args, name)) for name, flag in MCTS_FLAGS[1:]),
                                 (f"--precision {args.precision}", args.precision in ("bfloat16", "float16")))
        if value
    ]
    if unsupported:  # approximate paths among them: their quality is measured with perfkit's own search only
        verb = "applies" if len(unsupported) == 1 else "apply"
        raise PerfkitError(f"{', '.join(unsupported)} {verb} to perfkit's own search (--engine builtin) only")
    if args.process_workers and args.strategy == "naive":
        raise PerfkitError("--workers applies to crossgame: naive plays one game at a time in this process")
    if args.scheduler and args.strategy == "naive":
        raise PerfkitError("--scheduler applies to crossgame: naive plays one game at a time")
    what, tuned = engine_run(args), None
    if args.tune:
        what, tuned = tune_engine_settings(args, what)
    runs = bench_engine(what, names, out=args.out, progress=not args.no_progress, curves=args.curves)
    if args.json:
        print(json.dumps({"runs": [json_entry(r) for r in runs], **({"tune": tuned} if tuned else {})}, indent=2))
    else:
        print(render_bench(runs, verbose=args.verbose))
    return 0


def engine_run(args: argparse.Namespace, *, options: bool = True) -> EngineRun:
    """What `bench`, `profile` and `curve --engine` play: the engine, its game and the network's settings."""
    from perfkit.measure.engine import EngineRun
    from perfkit.strategies import EngineOptions

    return EngineRun(
        args.engine, game=args.game, simulations=args.simulations or 50,
        options=engine_options(args) if options else EngineOptions(),
        preset=default_preset(args.device) if args.preset is None else args.preset, seed=args.seed,
        precision=args.precision, device=args.device, threads=args.threads,
    )


def add_engine_args(p: argparse.ArgumentParser) -> None:
    """`bench --engine/--game/--simulations`: which search plays, on which game."""
    from perfkit.search.engines import ENGINES

    p.add_argument(
        "--engine", default="builtin",
        help=f"the search: {', '.join(ENGINES)}, or your own as FILE.py:FACTORY, FILE.py (its engine factory) or MODULE:FACTORY (default builtin)",
    )
    p.add_argument("--game-timeout", type=positive_seconds, default=None, metavar="S",
                   help="engine: a game still playing after S seconds stops the run, naming it; the games that "
                        "finished are kept; the games then play in threads, as a hung greenlet would hold them all "
                        "(default: no limit)")
    p.add_argument(
        "--scheduler", choices=("greenlet", "threads"), default=None,
        help="engine crossgame: the games as greenlets on one thread, a call exactly when all wait (default: full "
             "batches, less CPU per move, the faster measured), or one thread per game and the batch server "
             "(an engine that releases the GIL or calls predict from threads of its own)",
    )


def tune_settings(args: argparse.Namespace, settings: BenchSettings) -> tuple[BenchSettings, dict[str, Any]]:
    """`bench --tune`: search crossgame's settings on this device, print the recommendation,
    and return the settings to bench with (plus the trials, for --json)."""
    import dataclasses

    from perfkit.measure.bench import Workload
    from perfkit.measure.tune import tune
    from perfkit.report.console import render_table

    if args.strategy != "crossgame":
        raise PerfkitError("--tune searches crossgame's settings; use --strategy crossgame")
    log = (lambda t: None) if args.no_progress else (
        lambda t: print(f"tune: {t.settings} -> {t.boards_per_s:,.0f} boards/s", file=sys.stderr, flush=True)
    )
    best, trials = tune(Workload.prepare(settings), budget_s=args.tune_budget, on_trial=log)
    keys = list(best)
    rows = [[*(str(t.settings[k]) for k in keys), f"{t.boards_per_s:,.0f}", f"{t.mean_batch:.0f}"] for t in trials]
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in best.items() if v is not None)
    if not args.json:
        print(render_table(rows, [*keys, "boards/s", "mean batch"]))
        print(f"recommended on {settings.device} ({settings.preset}): perfkit bench --strategy crossgame {flags}")
    tuned = {"best": best, "trials": [dataclasses.asdict(t) for t in trials], "recommended_flags": flags}
    return dataclasses.replace(settings, **best), tuned


def tune_engine_settings(args: argparse.Namespace, what: EngineRun) -> tuple[EngineRun, dict[str, Any]]:
    """`bench --tune --engine E`: search the engine's crossgame settings (games in flight, scheduler)
    with its network on this device, print the recommendation, return what to bench with."""
    import dataclasses

    from perfkit.measure.engine import check_engine_request
    from perfkit.measure.tune import TrialBudget, tune_engine
    from perfkit.report.console import render_table

    if args.strategy != "crossgame":
        raise PerfkitError("--tune searches crossgame's settings; use --strategy crossgame")
    if what.options.game_timeout_s is not None or what.options.workers:
        raise PerfkitError("--tune plays its trials in this process without a game timeout: drop --workers and --game-timeout")
    check_engine_request(["crossgame"], what.device)
    log = (lambda t: None) if args.no_progress else (
        lambda t: print(f"tune: {t.settings} -> {t.boards_per_s:,.0f} boards/s", file=sys.stderr, flush=True)
    )
    setup = what.prepare()
    best, trials = tune_engine(setup, what.options, TrialBudget(args.tune_budget, min(1.0, args.tune_budget / 4)),
                               on_trial=log)
    keys = list(best)
    rows = [[*(str(t.settings[k]) for k in keys), f"{t.boards_per_s:,.0f}", f"{t.mean_batch:.0f}"] for t in trials]
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in best.items())
    if not args.json:
        print(render_table(rows, [*keys, "boards/s", "mean batch"]))
        print(f"recommended for engine {what.spec} on {setup.device}: perfkit bench --engine {what.spec} "
              f"--strategy crossgame {flags}")
    tuned = {"best": best, "trials": [dataclasses.asdict(t) for t in trials], "recommended_flags": flags}
    return dataclasses.replace(what, options=dataclasses.replace(what.options, **best)), tuned


EXIT_REGRESSION = 3  # compare --fail-if-slower: a rate got slower beyond the noise


def cmd_compare(args: argparse.Namespace) -> int:
    from perfkit.analysis.compare import compare
    from perfkit.report.console import render_compare

    result = compare(args.run_a, args.run_b)
    if args.chart:
        from pathlib import Path

        from perfkit.measure.profile import _check_writable_file
        from perfkit.report.charts import compare_chart, to_png

        _check_writable_file(Path(args.chart), what="chart", example="compare.png")
        Path(args.chart).write_bytes(to_png(compare_chart(result), dpi=110))
    if args.json:
        print(json.dumps(compare_json(result, args.fail_if_slower), indent=2))
    else:
        print(render_compare(result, fail_if_slower=args.fail_if_slower))
    if args.fail_if_slower is not None and result.regressions(args.fail_if_slower):
        return EXIT_REGRESSION
    return 0


def compare_json(result: Comparison, fail_if_slower: float | None) -> dict[str, Any]:
    import dataclasses

    diffs = [
        {"strategy": d.strategy, "rate": d.rate, "a": dataclasses.asdict(d.a), "b": dataclasses.asdict(d.b),
         "change": d.change, "noise": d.noise, "beyond_noise": d.beyond_noise,
         "regression": None if fail_if_slower is None else d.regression(fail_if_slower)}
        for d in result.diffs
    ]
    return {"a": result.a, "b": result.b, "diffs": diffs, "only_a": result.only_a, "only_b": result.only_b,
            "warnings": result.warnings}


def add_compare_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser("compare", help="rates of two benches side by side with their noise; gate CI on a regression")
    p.add_argument("run_a", metavar="RUN_A", help="the baseline: a run directory or a folder of them (perfkit bench --out)")
    p.add_argument("run_b", metavar="RUN_B", help="the runs to check against it")
    p.add_argument(
        "--fail-if-slower", type=non_negative_float, default=None, metavar="PCT",
        help=f"exit {EXIT_REGRESSION} if a rate of B is more than PCT%% below A's and beyond the noise",
    )
    p.add_argument("--json", action="store_true", help="print the comparison as JSON on stdout")
    p.add_argument("--chart", default=None, metavar="PNG", help="also draw the changes with their noise to this .png")
    p.set_defaults(func=cmd_compare)


def cmd_selfplay(args: argparse.Namespace) -> int:
    from perfkit.selfplay import Interrupted, SelfplaySettings, selfplay, verify_selfplay

    if args.verify is not None:
        report = verify_selfplay(args.verify, games=args.games)
        for problem in report["problems"]:
            print(f"perfkit selfplay: {problem}", file=sys.stderr)
        missing = "" if report["missing_games"] is None else \
            f"; {report['missing_games']} of {report['games_requested']} requested games missing"
        print(json.dumps(report, indent=2) if args.json else
              f"{report['out']}: {report['games']} games in {report['good_shards']} good shards of {report['shards']} "
              f"({report['ranges']} id ranges){missing}"
              + ("" if report["good_shards"] == report["shards"] else
                 "; the shards above would be set aside on resume, their games played again")
              + ("" if report["good_shards"] < report["shards"] or report["ok"] else
                 "; shards hold games beyond the request (above): no run of this directory asked for them"))
        return 0 if report["ok"] else EXIT_ERROR
    if args.games is None or args.out is None:
        raise PerfkitError("--games and --out are required (or --verify DIR to check a directory)")
    settings = SelfplaySettings(
        workload=bench_settings(args), strategy=args.strategy, shard_games=args.shard_games, flush_s=args.flush_s,
        retries=args.retries, backend=args.backend, ray_workers=args.ray_workers, chunk_games=args.chunk_games,
        ray_address=args.ray_address,
    )
    try:
        summary = selfplay(settings, args.out, progress=not args.no_progress)
    except Interrupted as stop:
        print(f"perfkit selfplay: {stop}", file=sys.stderr)
        return stop.exit_code  # 130 (SIGINT) or 143 (SIGTERM); the directory is consistent
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        rate = summary["games_per_s"]
        print(
            f"{summary['unique_games']} of {summary['games_requested']} games in {summary['out']} "
            f"({summary['shards']} shards); this session: {summary['session_games']} games"
            + (f" at {rate:.2f} games/s, 500k games in {summary['projected_days_500k']:.1f} days" if rate else "")
            + f"; digest {summary['game_digest']}"
            + ("; SIMULATED DEVICE (sim): modelled network times, not measured" if args.device.startswith("sim") else "")
        )
    return 0


def add_selfplay_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    p = sub.add_parser("selfplay", help="write self-play training data: resumable, bounded memory, Ray for many devices")
    p.add_argument("--games", type=positive_int, default=None, help="games the directory should hold (ids 0..N-1)")
    p.add_argument("--out", type=out_dir, default=None, help="self-play directory; rerun the same command to resume")
    p.add_argument("--verify", metavar="DIR", default=None,
                   help="check every shard of DIR (run, ids, checksum, ids below --games or the last request) "
                        "without writing; exit 1 if any is bad")
    p.add_argument("--strategy", default="crossgame", help="naive, permove or crossgame (default)")
    add_workload_args(p)
    p.add_argument("--shard-games", type=positive_int, default=1024, help="games per shard (default 1024)")
    p.add_argument("--flush-s", type=positive_seconds, default=60.0, help="write a shard at least this often (default 60 s)")
    p.add_argument("--retries", type=non_negative_int, default=2, help="retries of a single board whose forward fails (default 2)")
    p.add_argument("--backend", default="local", help="local (default) or ray")
    p.add_argument("--ray-workers", type=positive_int, default=None,
                   help="ray: actors (default one per GPU, else one per CPU); --workers is processes, as in bench")
    p.add_argument("--chunk-games", type=positive_int, default=None, help="ray: game ids per task (default 4 x concurrency)")
    p.add_argument("--ray-address", default=None, help="ray: cluster address (default RAY_ADDRESS or a local instance)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr (progress.json is still written)")
    p.set_defaults(func=cmd_selfplay)


def recorder_overhead_report(names: list[str], settings: BenchSettings, *, pairs: int, as_json: bool) -> int:
    from perfkit.measure.bench import Workload, recorder_overhead
    from perfkit.report.console import render_overhead

    workload = Workload.prepare(settings)
    results = [recorder_overhead(name, workload, pairs=pairs) for name in names]
    print(json.dumps({"recorder_overhead": results}, indent=2) if as_json else "\n".join(map(render_overhead, results)))
    return 0


def cmd_cpu_side(args: argparse.Namespace) -> int:
    """`perfkit curve --cpu-side`: the boards/s the CPU side sustains with a free network."""
    import dataclasses

    from perfkit.measure.bench import BenchSettings
    from perfkit.measure.ceiling import cpu_side_ceiling, render_ceiling

    settings = BenchSettings(
        preset=args.preset or "small", board=args.board, games=args.games, seed=args.seed, threads=args.threads,
        game=args.game, precision=args.precision,
    )
    points = cpu_side_ceiling(settings, workers=sorted({0, *args.workers}), progress=not args.no_progress)
    print(json.dumps({"cpu_side": [dataclasses.asdict(p) for p in points]}, indent=2) if args.json
          else render_ceiling(points))
    return 0


def cmd_curve(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.cpu_side:
        return cmd_cpu_side(args)
    if args.engine is not None:
        return cmd_curve_engine(args)

    from perfkit.analysis.curve import curve_filename, measure_curve
    from perfkit.measure.bench import BenchSettings, Workload
    from perfkit.measure.profile import _check_writable_file

    settings = BenchSettings(
        preset=default_preset(args.device) if args.preset is None else args.preset, board=args.board,
        device=args.device, precision=args.precision, seed=args.seed, checkpoint=args.checkpoint,
        threads=args.threads, game=args.game, fold=not args.no_fold, compile=args.compile,
    )
    workload = Workload.prepare(settings)
    evaluator = workload.evaluator()
    name = curve_filename(
        device_name=evaluator.device_name, preset=settings.network, precision=settings.precision, game=settings.game
    )
    name = name.removesuffix(".json") + "-compiled.json" if args.compile else name  # not the eager peak
    path = Path(args.output) if args.output else Path(args.out) / name
    _check_writable_file(path, what="curve", example=name)
    threads = workload.threads
    assert threads is not None  # Workload.prepare chose it
    if not args.no_progress:
        print(threads.describe(), file=sys.stderr, flush=True)

    def progress(point: CurvePoint) -> None:
        if not args.no_progress:
            print(
                f"batch {point.batch:>6}: {1e3 * point.median_s:9.3f} ms/call  {point.boards_per_s:>12,.0f} boards/s",
                file=sys.stderr, flush=True,
            )

    if args.compile and not args.no_progress:
        print(f"compiling batch sizes 1..{args.max_batch} (powers of two) ...", file=sys.stderr, flush=True)
    curve = measure_curve(
        evaluator, network=settings.network, max_batch=args.max_batch, repeats=args.repeats, warmup=args.warmup,
        time_budget_s=args.time_budget, seed=args.seed, on_point=progress, threads=threads,
    )
    curve.save(path)
    print_curve(curve, as_json=args.json)
    return 0


def add_curve_engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", default=None,
                   help="the network of an engine (FILE.py:FACTORY, MODULE:FACTORY or openspiel-mcts): its own, "
                        "else perfkit's for its shapes, as bench --engine calls it")
    p.add_argument("--simulations", type=positive_int, default=None, help="--engine: passed to its factory (default 50)")


def cmd_curve_engine(args: argparse.Namespace) -> int:
    """`curve --engine E`: the limit curve of the network an engine's runs call (perfkit.measure.engine_curve)."""
    from pathlib import Path

    from perfkit.measure.engine import check_engine_request
    from perfkit.measure.engine_curve import default_engine_curve_path, measure_engine_curve
    from perfkit.measure.profile import _check_writable_file
    from perfkit.report.console import render_curve

    if args.compile or args.checkpoint or args.board:
        raise PerfkitError("--compile, --checkpoint and --board apply to perfkit's own network, not --engine")
    check_engine_request(["crossgame"], args.device)
    setup = engine_run(args, options=False).prepare()
    path = Path(args.output) if args.output else default_engine_curve_path(setup, args.out)
    _check_writable_file(path, what="curve", example=path.name)

    def progress(point: CurvePoint) -> None:
        if not args.no_progress:
            print(f"batch {point.batch:>6}: {1e3 * point.median_s:9.3f} ms/call  {point.boards_per_s:>12,.0f} boards/s",
                  file=sys.stderr, flush=True)

    curve = measure_engine_curve(setup, max_batch=args.max_batch, repeats=args.repeats, warmup=args.warmup,
                                 time_budget_s=args.time_budget, seed=args.seed, on_point=progress)
    curve.save(path)
    if args.json:
        print(json.dumps({**curve.to_dict(), "path": str(curve.path)}, indent=2))
    else:
        print(render_curve(curve))
        print(f"bench --engine {args.engine} --out {path.parent.parent} computes efficiency against it "
              f"(or --curves {path.parent})")
    return 0


def print_curve(curve: Curve, *, as_json: bool) -> None:
    """A saved curve on stdout (table or JSON), and on stderr why it gives no efficiency, if it gives none."""
    from perfkit.report.console import render_curve

    unusable = curve.efficiency_problem()
    if unusable:
        print(f"perfkit curve: warning: {unusable}", file=sys.stderr, flush=True)
    if as_json:
        print(json.dumps({**curve.to_dict(), "path": str(curve.path)}, indent=2))
        return
    print(render_curve(curve))
    roofline = curve.roofline
    print(
        f"roofline: {roofline['flops_per_board'] / 1e6:,.1f} MFLOP/board; at the peak "
        f"{roofline['achieved_flop_per_s'] / 1e9:,.1f} GFLOP/s of a {roofline['matmul_size']}² matmul's "
        f"{roofline['peak_flop_per_s'] / 1e9:,.1f} GFLOP/s (mfu {roofline['mfu']:.0%})"
    )


def cmd_project(args: argparse.Namespace) -> int:
    from perfkit.analysis.curve import load_curve
    from perfkit.analysis.projection import project, seed_calibration
    from perfkit.instrument.run import load_run
    from perfkit.report.console import render_projection

    run = load_run(args.run_dir)
    curve = load_curve(args.curve) if args.curve else seed_calibration() if args.seed_calibration else None
    result = project(run, games=args.games, devices=args.devices, curve=curve)
    print(json.dumps(result, indent=2) if args.json else render_projection(result))
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from pathlib import Path

    from perfkit.measure.bench import Workload
    from perfkit.measure.profile import profile_strategy
    from perfkit.strategies import make_strategy

    if args.engine != "builtin":
        return cmd_profile_engine(args)
    if args.torch_profile:
        raise PerfkitError("--torch-profile applies to an engine's network (--engine ...)")
    make_strategy(args.strategy)  # validates the name before anything runs
    settings = bench_settings(args)
    output = Path(args.output) if args.output else Path(args.out) / f"profile-{args.strategy}-{settings.preset}.lprof"
    result = profile_strategy(
        args.strategy, Workload.prepare(settings), output=output, call_tree=not args.no_call_tree
    )
    print(result.text)
    print(
        f"profiled {result.strategy}: {result.games} games in {result.wall_s:.2f} s under line_profiler "
        f"(its overhead inflates the times; compare shares); saved {result.path} "
        f"(show again: python -m line_profiler {result.path})"
    )
    if result.call_tree_path is not None:
        print(f"call tree of the CPU side (pyinstrument, a second run of the same games): {result.call_tree_path}")
    return 0


def add_measurement_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    """`curve`, `project` and `profile`: the device's limit, projections, line profiles."""
    p = sub.add_parser("curve", help="the model's throughput by batch size on a device (the limit efficiency uses)")
    from perfkit.game import GAMES_HELP

    p.add_argument("--game", default=DEFAULT_GAME, help=f"the game whose network to measure (default {DEFAULT_GAME}): {GAMES_HELP}")
    add_fold_arg(p)
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the network first (batches padded to powers of two, every size up to --max-batch "
                        "compiled before the sweep: that time is reported, not part of --time-budget); written to "
                        "...-compiled.json")
    p.add_argument("--preset", default=None, help="tiny, small (default on CPU), reference (default on GPU)")
    p.add_argument("--board", type=int, default=None, help="override the preset's board size (3-19)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--precision", default="float32", help="float32 (default) or float64 (exact)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="weights and boards (default 0)")
    p.add_argument("--checkpoint", default=None, help="weights written by perfkit.save_checkpoint")
    p.add_argument("--threads", type=positive_int, default=None, help=THREADS_HELP)
    p.add_argument("--max-batch", type=positive_int, default=65_536, help="largest batch size to try (default 65536)")
    p.add_argument("--repeats", type=positive_int, default=5, help="timed repeats per batch size (default 5)")
    p.add_argument("--warmup", type=positive_int, default=2, help="untimed calls per batch size (default 2)")
    p.add_argument("--time-budget", type=positive_seconds, default=30.0, help="seconds for the sweep (default 30)")
    p.add_argument("--out", type=out_dir, default="runs/curves", help="directory for the curve (default runs/curves)")
    p.add_argument("-o", "--output", default=None, help="curve file (default OUT/<device>-<preset>-<precision>.json)")
    p.add_argument("--json", action="store_true", help="print the curve as JSON on stdout")
    p.add_argument("--no-progress", action="store_true", help="no per-batch progress on stderr")
    p.add_argument("--cpu-side", action="store_true",
                   help="instead: boards/s the CPU side sustains with a free network, in-process and with --workers")
    p.add_argument("--workers", type=workers_list, default=[2], help="--cpu-side: worker process counts to try (default 2)")
    p.add_argument("--games", type=positive_int, default=16, help="--cpu-side: games per point (default 16)")
    add_curve_engine_args(p)
    p.set_defaults(func=cmd_curve)

    p = sub.add_parser("project", help="days for N games from a run, and the what-if on another device's curve")
    p.add_argument("run_dir", help="a run directory written by perfkit bench")
    p.add_argument("--games", type=positive_int, default=500_000, help="games to project (default 500000)")
    p.add_argument("--devices", type=positive_int, default=1, help="devices playing in parallel (default 1)")
    what_if = p.add_mutually_exclusive_group()
    what_if.add_argument("--curve", default=None, help="replay the run's calls on this perfkit curve file")
    what_if.add_argument(
        "--seed-calibration", action="store_true", help="replay the run's calls at the seed's reported per-call cost"
    )
    p.add_argument("--json", action="store_true", help="print the projection as JSON on stdout")
    p.set_defaults(func=cmd_project)
    add_profile_parser(sub)


def add_profile_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    """`profile`: line_profiler and a call tree, of perfkit's strategies or of an engine."""
    p = sub.add_parser(
        "profile", help="line_profiler on a strategy's hot functions (costliest lines first) and a pyinstrument call tree"
    )
    p.add_argument("--strategy", default="crossgame", help="naive, permove or crossgame (default)")
    p.add_argument("--games", type=positive_int, default=2, help="games to play (default 2)")
    add_workload_args(p)
    p.add_argument(
        "--out", type=out_dir, default="runs", help="directory for the .lprof and the call tree's .html (default runs/)"
    )
    p.add_argument(
        "-o", "--output", default=None,
        help="the .lprof file (default OUT/profile-<strategy>-<preset>.lprof); the call tree's .html goes beside it",
    )
    p.add_argument("--no-call-tree", action="store_true", help="skip the pyinstrument run (and its .html)")
    p.add_argument("--torch-profile", action="store_true",
                   help="engine: also the network's forward by operator (torch.profiler) at the run's mean batch")
    add_engine_args(p)
    p.set_defaults(func=cmd_profile)


def engine_options(args: argparse.Namespace) -> EngineOptions:
    """An engine's EngineOptions from the flags (`bench`, `profile`)."""
    from perfkit.strategies import EngineOptions

    check_cache_flags(args)
    return EngineOptions(
        games=args.games, concurrency=args.concurrency or min(args.games, 64), max_batch=args.max_batch,
        workers=args.process_workers or 0, cache=not args.no_cache, game_timeout_s=args.game_timeout,
        **({} if args.max_wait_ms is None else {"max_wait_s": args.max_wait_ms / 1e3}),
        **({} if args.cache_size is None else {"cache_size": args.cache_size}),
        **({} if args.scheduler is None else {"scheduler": args.scheduler}),
        **({} if args.groups is None else {"groups": args.groups}),
    )


def cmd_profile_engine(args: argparse.Namespace) -> int:
    """`profile --engine E`: where an engine's search spends its time (perfkit.measure.engine_profile)."""
    from pathlib import Path

    from perfkit.measure.engine_profile import profile_engine, render_engine_profile

    if args.strategy not in ("naive", "crossgame"):
        raise PerfkitError(f"an engine's games are profiled as naive or crossgame, got --strategy {args.strategy}")
    if args.search != "minimax" or args.checkpoint or args.board:
        raise PerfkitError("--search, --checkpoint and --board apply to perfkit's own search (--engine builtin) only")
    label = Path(args.engine.rpartition(":")[0]).stem if ".py:" in args.engine else args.engine.replace(":", "-")
    output = Path(args.output) if args.output else Path(args.out) / f"profile-{label}-{args.strategy}.lprof"
    result = profile_engine(
        engine_run(args), strategy=args.strategy, output=output, call_tree=not args.no_call_tree,
        torch_profile=args.torch_profile, curves=Path(args.out) / "curves",
    )
    print(render_engine_profile(result))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from perfkit.report.html import find_runs, write_report

    runs = find_runs(args.run_dirs)
    whatif = []
    if args.curve or args.seed_calibration:
        from perfkit.analysis.curve import load_curve
        from perfkit.analysis.projection import seed_calibration
        from perfkit.analysis.tables import whatif_bars

        whatif = whatif_bars(runs, load_curve(args.curve) if args.curve else seed_calibration())
    path = write_report(runs, args.output, title=args.title, whatif=whatif)
    print(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB, {len(runs)} run{'s' if len(runs) != 1 else ''})")
    return 0


def cmd_notebooks(args: argparse.Namespace) -> int:
    from perfkit.report.notebooks import default_notebooks, export_notebooks, parse_parameters

    paths = args.notebooks or default_notebooks()
    done = lambda nb, html: print(f"{nb} -> {html}", flush=True)  # noqa: E731
    export_notebooks(
        paths, args.output, parameters=parse_parameters(args.parameter), execute=not args.no_execute,
        timeout_s=args.timeout, on_done=done,
    )
    return 0


def add_report_commands(sub: argparse._SubParsersAction[Parser]) -> None:
    """`report` and `notebooks`: renderers of stored runs, and the story's notebooks as HTML."""
    p = sub.add_parser("report", help="one self-contained HTML file comparing stored runs")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (or folders of them) from perfkit bench")
    p.add_argument("-o", "--output", required=True, help="the HTML file to write, e.g. report.html")
    p.add_argument("--title", default="perfkit report", help="the page's title")
    what_if = p.add_mutually_exclusive_group()
    what_if.add_argument("--curve", default=None, help="add what-if bars: each run's calls replayed on this curve file")
    what_if.add_argument("--seed-calibration", action="store_true", help="add what-if bars at the seed's per-call cost")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("notebooks", help="execute the notebooks and export them to HTML")
    p.add_argument("notebooks", nargs="*", help="notebooks to export (default notebooks/NN_*.ipynb)")
    p.add_argument("-o", "--output", required=True, help="folder for the .html (and executed .ipynb) files")
    p.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameters-cell value, e.g. -p preset=tiny -p games=2 (repeatable)")
    p.add_argument("--no-execute", action="store_true", help="export as committed (without outputs)")
    p.add_argument("--timeout", type=positive_int, default=900, help="seconds one cell may run (default 900)")
    p.set_defaults(func=cmd_notebooks)


def cmd_gpu_results(args: argparse.Namespace) -> int:
    from perfkit.measure.gpu_results import GpuResultsOptions, gpu_results

    options = GpuResultsOptions(
        device=args.device, out=args.out, preset=args.preset, games=args.games, half=args.half,
        curve_budget_s=args.curve_budget, curve_max_batch=args.curve_max_batch, tune_budget_s=args.tune_budget,
        projection_games=args.projection_games, threads=args.threads, seed=args.seed,
    )
    path = gpu_results(options, run_command=main)
    print(f"wrote {path} (README.md lists the command behind each file)")
    return 0


def add_gpu_results_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    """`gpu-results`: every GPU figure in one folder under data/results/, ready to commit."""
    from perfkit.measure.gpu_results import HALF_PRECISIONS, GpuResultsOptions

    d = GpuResultsOptions()  # the defaults

    p = sub.add_parser(
        "gpu-results", help="on a CUDA machine, every GPU figure in one results folder (about 10 minutes)"
    )
    p.add_argument("--device", default=d.device, help="cuda (default), cuda:N, or sim[:CURVE.json] to rehearse without a GPU")
    p.add_argument("--out", type=out_dir, default=None, help="the results folder (default data/results/<date>-<gpu>/)")
    p.add_argument("--preset", default=d.preset, help="the network (default reference)")
    p.add_argument("--games", type=positive_int, default=d.games, help="games per strategy (default 16)")
    p.add_argument("--half", choices=HALF_PRECISIONS, default=None,
                   help="the half-precision curve (default float16 on CUDA, bfloat16 on sim)")
    p.add_argument("--curve-budget", type=positive_seconds, default=d.curve_budget_s, help="seconds per curve (default 30)")
    p.add_argument("--curve-max-batch", type=positive_int, default=d.curve_max_batch,
                   help="largest batch a curve tries (default 65536)")
    p.add_argument("--tune-budget", type=positive_seconds, default=d.tune_budget_s,
                   help="seconds per tuning trial (default 4)")
    p.add_argument("--projection-games", type=positive_int, default=d.projection_games,
                   help="games the projection is for (default 500000)")
    p.add_argument("--threads", type=positive_int, default=None, help=THREADS_HELP)
    p.add_argument("--seed", type=non_negative_int, default=d.seed, help="weights and game noise (default 0)")
    p.set_defaults(func=cmd_gpu_results)


def build_parser() -> Parser:
    parser = Parser(prog="perfkit", description="Measure and remove the inference bottleneck of self-play.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("bench", help="play the reference workload with a strategy and measure it")
    p.add_argument("--strategy", default="crossgame", help="naive, permove, crossgame (default) or all")
    p.add_argument("--games", type=positive_int, default=16, help="games per strategy (default 16)")
    add_workload_args(p)
    p.add_argument("--out", type=out_dir, default="runs", help="directory for run directories (default runs/)")
    p.add_argument("--json", action="store_true", help="print {\"runs\": [...]} as JSON on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--curves", default=None, help="where to find perfkit curve files for efficiency (default OUT/curves)")
    p.add_argument(
        "--recorder-overhead", action="store_true",
        help="measure what recording costs: play with recording on and off, alternately (saves no run)",
    )
    p.add_argument("--pairs", type=positive_int, default=3, help="--recorder-overhead: on/off pairs (default 3)")
    p.add_argument("--tune", action="store_true", help="crossgame: search the best settings on this device, then bench them")
    p.add_argument("--tune-budget", type=positive_seconds, default=4.0, help="--tune: seconds per trial (default 4)")
    p.add_argument(
        "--repeat", type=positive_int, default=1,
        help="play every strategy R times, interleaved; report median and spread, keep every repeat (default 1)",
    )
    p.add_argument("--verbose", action="store_true", help="every column (counts, batch percentiles, time shares, threads)")
    add_approximate_args(p)
    add_engine_args(p)
    p.set_defaults(func=cmd_bench)
    add_compare_parser(sub)
    add_selfplay_parser(sub)
    add_measurement_commands(sub)
    add_report_commands(sub)
    add_gpu_results_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    command = f"perfkit {given[0]}" if given and not given[0].startswith("-") else "perfkit"
    try:  # Ctrl-C at any moment, torch's multi-second import included (the package imports it lazily)
        parser = build_parser()
        if not given:
            print(parser.format_help())  # `perfkit` alone: its commands
            return EXIT_USAGE
        args, extras = parser.parse_known_args(argv)
        command = f"perfkit {args.command}"
        if extras:
            reject_unknown_flags(parser, args, extras)
        code: int = args.func(args)
        return code
    except PerfkitError as exc:
        print(f"{command}: error: {suggest_name(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
