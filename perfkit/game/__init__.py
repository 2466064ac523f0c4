"""The games: Hex built in (batched board operations, incremental win detection), and any
two-player zero-sum perfect-information OpenSpiel game through an adapter."""

from typing import TYPE_CHECKING, Any

from perfkit.game.connect_four import C4Positions, ConnectFour
from perfkit.game.hex import (
    PLAYER1,
    PLAYER2,
    Geometry,
    HexGame,
    Positions,
    check_board_size,
    from_moves,
    geometry,
    play,
    render,
    winner_by_flood_fill,
)
from perfkit.types import DEFAULT_GAME, Game, PerfkitError

__all__ = [
    "board_sized",
    "game_spec",
    "PLAYER1",
    "PLAYER2",
    "C4Positions",
    "ConnectFour",
    "GAMES_HELP",
    "Geometry",
    "HexGame",
    "Positions",
    "check_board_size",
    "from_moves",
    "geometry",
    "get_game",
    "play",
    "render",
    "winner_by_flood_fill",
]


# The built-in games, vectorised; "openspiel:<name>" still reaches OpenSpiel's game of that name.
NATIVE: dict[str, type[Any]] = {"hex": HexGame, "connect_four": ConnectFour}
OPENSPIEL_PREFIX = "openspiel:"
if TYPE_CHECKING:  # each built-in game is a perfkit Game: mypy --strict checks it here
    _BUILT_IN: tuple[Game, ...] = (HexGame(9), ConnectFour())


def board_sized(name: str) -> bool:
    """Whether game `name` is sized by a board N, the preset's (built-in Hex: N×N), rather than
    having a shape of its own (such a game's `describe()` has "board": N). That is the presets' game:
    its curve files, run directories and network keys name no game and carry the preset's board."""
    return bool(getattr(NATIVE.get(name), "board_sized", False))


def get_game(name: str = DEFAULT_GAME, *, board: int = 9) -> Game:
    """The game called `name`: `hex` is the built-in N×N Hex (N = `board`), `connect_four` the
    built-in Connect Four; anything else is an OpenSpiel game string, parameters as OpenSpiel
    writes them (`go(board_size=9)`), and `openspiel:connect_four` is OpenSpiel's own."""
    if not isinstance(name, str) or not name.strip():
        raise PerfkitError(f"a game is a name like hex or connect_four, got {name!r}")
    if name in NATIVE:
        game: Game = NATIVE[name](board) if board_sized(name) else NATIVE[name]()
        return game
    from perfkit.game.openspiel import OpenSpielGame

    return OpenSpielGame(name[len(OPENSPIEL_PREFIX):] if name.startswith(OPENSPIEL_PREFIX) else name)


def game_spec(game: Game) -> str:
    """The name `get_game` builds `game` back from (a worker process rebuilds its game by name):
    an OpenSpiel game that a built-in shadows is `openspiel:<name>`."""
    name: str = game.name
    return OPENSPIEL_PREFIX + name if name in NATIVE and not isinstance(game, NATIVE[name]) else name


GAMES_HELP = (
    "hex (built in, the preset's board), connect_four (built in; openspiel:connect_four is OpenSpiel's) or any "
    "two-player zero-sum perfect-information OpenSpiel game: othello, tic_tac_toe, hex(board_size=5), go(board_size=9)"
)
