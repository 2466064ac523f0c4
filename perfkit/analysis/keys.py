"""Every key of `perfkit bench --json` (one entry per run), its JSON type and its meaning.

Types: "int", "float", "str", each optionally "|null". A null is never a zero in disguise:
it means "does not apply" (transfers on the CPU) or "not measured", and the matching
`*_status` key says why where the reason is not obvious. The keys, their types and their
meanings are `perfkit.analysis.metrics.METRICS`, read when asked for: a new metric is
documented where it is defined. tests/test_json_keys.py checks a real run against this
table, key by key.
"""

from __future__ import annotations

from perfkit.analysis import metrics


def bench_json_keys() -> dict[str, tuple[str, str]]:
    """{key: (JSON type, meaning)} for every key of a `perfkit bench --json` entry, in `METRICS` order."""
    return {m.key: (m.type, m.doc) for m in metrics.METRICS}


def __getattr__(name: str) -> dict[str, tuple[str, str]]:
    """`BENCH_JSON_KEYS`: `bench_json_keys()`, made from `METRICS` each time it is read."""
    if name == "BENCH_JSON_KEYS":
        return bench_json_keys()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def json_type_ok(value: object, spec: str) -> bool:
    """Whether a decoded JSON value has the type `spec` ("float|null", ...) says."""
    kinds = spec.split("|")
    if value is None:
        return "null" in kinds
    if isinstance(value, bool):
        return "bool" in kinds
    if isinstance(value, int):
        return "int" in kinds
    if isinstance(value, float):
        return "float" in kinds
    if isinstance(value, str):
        return "str" in kinds
    return False
