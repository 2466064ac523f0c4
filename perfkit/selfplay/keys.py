"""Every key of `perfkit selfplay --json` and of DIR/progress.json, its JSON type and meaning.

Types as in `perfkit.analysis.keys`: "int", "float", "str", optionally "|null"; a null means
"not known yet" (no game finished this session), never a zero in disguise. The tests check
real output against these tables key by key.
"""

from __future__ import annotations


def key_table(text: str) -> dict[str, tuple[str, str]]:
    """{key: (JSON type, meaning)} from lines `key  type  meaning`; an indented line goes on with the meaning above."""
    table: dict[str, tuple[str, str]] = {}
    key = ""
    for line in text.strip("\n").splitlines():
        if line.startswith(" "):
            kind, meaning = table[key]
            table[key] = (kind, f"{meaning} {line.strip()}")
        else:
            key, kind, meaning = line.split(maxsplit=2)
            table[key] = (kind, meaning)
    return table


_RUN = key_table("""
backend           str         where games were played: local or ray
workers           int         players, each with its own network: 1 locally, the Ray actors with ray
                              (crossgame's --workers processes feed a player; each shard records them)
forward_failures  int         network calls that raised and were split or retried, this session
batch_splits      int         failing batches split in two, this session
actor_restarts    int         Ray actors that died and were replaced, this session
peak_rss_mb       float       peak resident memory of this process so far, MB
""")

SELFPLAY_JSON_KEYS = key_table("""
out                  str         the self-play directory
state                str         finished (an interrupted or failed run prints an error instead)
games_requested      int         N: the directory should hold games 0..N-1
games                int         game records stored in the shards
unique_games         int         distinct game ids stored (equal to games: no game is stored twice)
missing_games        int         ids below N not stored (0 when finished)
game_digest          str|null    sha256 of every game's moves, as in bench: equal digests, equal games
shards               int         shard files
strategy             str         strategy of this session
concurrency          int         games in flight per process, this session
session_games        int         games this session played
wall_s               float       seconds this session spent playing (model loading and actor start-up excluded)
games_per_s          float|null  games/s after warm-up (see rate_basis); a session too short to get past
                                 warm-up: session_games / wall_s; null if it played none
projected_days_500k  float|null  days for 500,000 games at games_per_s
warmup_games         int         this session's first games left out of games_per_s: one per game in flight
                                 (they end in one burst after start-up), at most the games it had to play
rate_basis           str         which games games_per_s counts, one line
""") | _RUN

PROGRESS_KEYS = key_table("""
state                str         running, finished, interrupted, disk_full or failed
stopped              str|null    why the run stopped, one line (the error it printed); null while running or
                                 finished
pid                  int         process writing the directory
games_requested      int         N
games_stored         int         games in shards: safe from any crash
games_done           int         games finished: stored + waiting for the next shard
session_games        int         games this session finished
session_elapsed_s    float       seconds this session has been playing
games_per_s          float|null  this session's rate after warm-up (warmup_games); null until a game ends after
                                 it (when the run is over: the whole session's rate if it never did)
warmup_games         int         this session's first games left out of games_per_s: one per game in flight
rate_basis           str         which games games_per_s counts, one line (or how far warm-up is)
eta_s                float|null  seconds to N games at games_per_s
eta_days             float|null  eta_s in days
projected_days_500k  float|null  days for 500,000 games at games_per_s
updated_at           str         local time of this snapshot, ISO 8601
""") | _RUN
