"""`perfkit` command line: a thin argparse front end over the functions the notebooks call.

Errors are one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

from perfkit.types import PerfkitError, SearchConfig

EXIT_USAGE, EXIT_ERROR = 2, 1


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: `perfkit bench: error: ...`."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers like 3,3,3, got {text!r}") from None


def add_workload_args(p: argparse.ArgumentParser) -> None:
    """Options that define the workload, shared by every command that plays games."""
    p.add_argument("--preset", default=None, help="tiny, small (default on CPU), reference (default on GPU)")
    p.add_argument("--board", type=int, default=None, help="override the preset's board size (3-19)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="weights and game noise (default 0)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--precision", default="float32", help="float32 (default) or float64 (exact)")
    p.add_argument("--checkpoint", default=None, help="weights written by perfkit.save_checkpoint")
    p.add_argument("--widths", type=widths, default=SearchConfig.widths, help="tree widths (default 3,3,3)")
    p.add_argument("--value-topk", type=positive_int, default=SearchConfig.value_topk, help="root candidates (default 5)")
    p.add_argument("--temperature", type=non_negative_float, default=SearchConfig.temperature)
    p.add_argument("--temperature-plies", type=non_negative_int, default=SearchConfig.temperature_plies)
    p.add_argument("--concurrency", type=positive_int, default=None, help="crossgame: games in flight (default 64)")
    p.add_argument("--max-batch", type=positive_int, default=None, help="crossgame: split larger calls")


def default_preset(device: str) -> str:
    """SPEC §1.2: `small` on the CPU, `reference` on a GPU."""
    from perfkit.model.evaluator import resolve_device

    return "reference" if resolve_device(device).type == "cuda" else "small"


def bench_settings(args: argparse.Namespace):
    from perfkit.bench import BenchSettings

    search = SearchConfig(
        value_topk=args.value_topk, widths=args.widths, temperature=args.temperature,
        temperature_plies=args.temperature_plies,
    )
    return BenchSettings(
        preset=args.preset or default_preset(args.device), board=args.board, games=args.games, concurrency=args.concurrency,
        max_batch=args.max_batch, seed=args.seed, device=args.device, precision=args.precision,
        checkpoint=args.checkpoint, search=search,
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from perfkit.bench import bench
    from perfkit.report.console import render_bench
    from perfkit.strategies import STRATEGIES, make_strategy

    names = list(STRATEGIES) if args.strategy == "all" else [args.strategy]
    if args.strategy != "all":
        make_strategy(args.strategy)  # validates the name before anything runs
    settings = bench_settings(args)
    runs = bench(names, settings, out=args.out, progress=not args.no_progress)
    if args.json:
        entries = [
            {"strategy": r.manifest["strategy"], **r.summary, "run_dir": str(r.path) if r.path else None}
            for r in runs
        ]
        print(json.dumps({"runs": entries}, indent=2))
    else:
        print(render_bench(runs))
    return 0


def build_parser() -> Parser:
    parser = Parser(prog="perfkit", description="Measure and remove the inference bottleneck of self-play.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("bench", help="play the reference workload with a strategy and measure it")
    p.add_argument("--strategy", default="crossgame", help="naive, permove, crossgame (default) or all")
    p.add_argument("--games", type=positive_int, default=16, help="games per strategy (default 16)")
    add_workload_args(p)
    p.add_argument("--out", default="runs", help="directory for run directories (default runs/)")
    p.add_argument("--json", action="store_true", help="print {\"runs\": [...]} as JSON on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except PerfkitError as exc:
        print(f"perfkit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"perfkit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
