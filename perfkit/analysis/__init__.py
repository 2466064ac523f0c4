"""Analysis of stored runs: summary metrics, the device's limit curve, projections."""

from perfkit.analysis.summary import game_digest, summarize

__all__ = ["game_digest", "summarize"]
