"""Hex rules: batched board operations with incremental win detection."""

from perfkit.game.hex import (
    PLAYER1,
    PLAYER2,
    Geometry,
    Positions,
    from_moves,
    geometry,
    play,
    render,
    winner_by_flood_fill,
)

__all__ = [
    "PLAYER1",
    "PLAYER2",
    "Geometry",
    "Positions",
    "from_moves",
    "geometry",
    "play",
    "render",
    "winner_by_flood_fill",
]
