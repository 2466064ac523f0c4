"""The run summary's metrics; computed and finished in `perfkit.instrument.summary` (a traced
run finishes its summary below the analysis layer), re-exported here where analysis reads them."""

from perfkit.instrument.summary import (
    DAY_S,
    PROJECTION_GAMES,
    batch1_median_s,
    finish_summary,
    game_digest,
    projection,
    summarize,
    window_rates,
)

__all__ = [
    "DAY_S", "PROJECTION_GAMES", "batch1_median_s", "finish_summary", "game_digest", "projection", "summarize",
    "window_rates",
]
