"""Durable self-play at scale (SPEC §5, §6): `perfkit selfplay` and `load_selfplay`.

A run brings a directory to N games (ids 0..N-1; game i depends only on (seed, i)) and can be
stopped and resumed at any moment: the shards on disk are the record of what is done (each
proving its run, ids and content), and a session plays only the ids missing from them, kept as
ranges. Games stream to disk as they finish, so memory grows with neither N nor the games played. `backend="ray"` spreads the games over Ray actors, one per device.

Resuming with another strategy, concurrency, max batch, device, backend or worker count is
allowed: in float64 these provably leave every game unchanged (SPEC §1.4); in float32 they can
move values in their last bits, as any change of batch composition does. Resuming with another
preset, board, seed, precision, search or checkpoint is refused.
"""

from perfkit.model.resilient import ForwardFailed, Resilient
from perfkit.selfplay.backends import LocalBackend, RayBackend
from perfkit.selfplay.ledger import Ledger
from perfkit.selfplay.run import Interrupted, selfplay
from perfkit.selfplay.settings import BACKENDS, SelfplaySettings
from perfkit.selfplay.store import DiskFull, SelfplayData, SelfplayDir, load_selfplay, verify_selfplay

__all__ = [
    "BACKENDS",
    "DiskFull",
    "ForwardFailed",
    "Interrupted",
    "Ledger",
    "LocalBackend",
    "RayBackend",
    "Resilient",
    "SelfplayData",
    "SelfplayDir",
    "SelfplaySettings",
    "load_selfplay",
    "selfplay",
    "verify_selfplay",
]
