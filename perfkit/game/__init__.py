"""The games: Hex built in (batched board operations, incremental win detection), and any
two-player zero-sum perfect-information OpenSpiel game through an adapter."""

from perfkit.game.hex import (
    PLAYER1,
    PLAYER2,
    Geometry,
    HexGame,
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
    "GAMES_HELP",
    "Geometry",
    "HexGame",
    "Positions",
    "from_moves",
    "geometry",
    "get_game",
    "play",
    "render",
    "winner_by_flood_fill",
]


def get_game(name: str = "hex", *, board: int = 9):
    """The game called `name`: `hex` is the built-in N×N Hex (N = `board`); anything else is an
    OpenSpiel game string, parameters as OpenSpiel writes them (`go(board_size=9)`)."""
    from perfkit.types import PerfkitError

    if not isinstance(name, str) or not name.strip():
        raise PerfkitError(f"a game is a name like hex or connect_four, got {name!r}")
    if name == "hex":
        return HexGame(board)
    from perfkit.game.openspiel import OpenSpielGame

    return OpenSpielGame(name)


GAMES_HELP = (
    "hex (built in, the preset's board) or any two-player zero-sum perfect-information OpenSpiel game: "
    "connect_four, othello, tic_tac_toe, hex(board_size=5), go(board_size=9)"
)
