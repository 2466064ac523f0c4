"""Renderers of stored runs: the console table, the HTML report, charts."""

from perfkit.report.console import render_bench

__all__ = ["render_bench"]
