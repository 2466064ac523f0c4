"""Where games are played: in this process (`local`) or on Ray actors (`ray`).

A backend turns a list of game ids into finished GameRecords, yielded as they arrive; the
driver (`perfkit.selfplay.run`) writes them, so the directory layout and its atomicity are the
same code whichever backend played. Game i depends only on (seed, i), so a game played again
after a crash, on any actor, is the same game.

The Ray backend follows SPEC §5: it uses Ray rather than a home-made scheduler. Each actor
(one per GPU where the cluster has GPUs, one per CPU otherwise) builds the same `Player` as
the local backend and is handed chunks of game ids; it returns a chunk's games when the chunk
is done. An actor that dies is replaced by a new one and its unfinished chunk handed out again.
"""

from __future__ import annotations

import itertools
import os
import socket
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any, Protocol

from perfkit.model.resilient import ForwardFailed
from perfkit.selfplay.settings import SelfplaySettings
from perfkit.selfplay.worker import Player, WrapEvaluate
from perfkit.types import GameRecord, PerfkitError

MAX_RESTARTS = 3  # an actor dying this many times in a row on one chunk stops the run
WAIT_S = 0.5  # ray.wait timeout: how often the driver can react to a signal


class Backend(Protocol):
    """What the driver needs of a backend: start, play ids into records, count failures, close."""

    name: str  # local or ray
    workers: int  # players, each with its own network
    devices: list[str]  # where each player's network runs (set by start)

    def start(self) -> None: ...

    def play(self, game_ids: Iterable[int]) -> Iterator[GameRecord]: ...  # as games end, any order

    @property
    def stats(self) -> dict[str, int]: ...  # forward_failures, batch_splits, actor_restarts

    def close(self) -> None: ...


class LocalBackend:
    """Plays every game in this process with one Player."""

    name = "local"

    def __init__(
        self, settings: SelfplaySettings, *, wrap_evaluate: WrapEvaluate | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.settings = settings
        self.wrap_evaluate = wrap_evaluate
        self.log = log
        self.player: Player | None = None
        self.workers = 1
        self.devices: list[str] = []

    def start(self) -> None:
        self.player = Player(self.settings, wrap_evaluate=self.wrap_evaluate, on_failure=_warn_once(self.log))
        self.devices = [self.player.device]

    def play(self, game_ids: Iterable[int]) -> Iterator[GameRecord]:
        assert self.player is not None, "start() first"
        return self.player.play(game_ids)

    @property
    def stats(self) -> dict[str, int]:
        base = {"forward_failures": 0, "batch_splits": 0, "actor_restarts": 0}
        return base if self.player is None else {**base, **self.player.stats}

    def close(self) -> None:
        self.player = None


def _warn_once(log: Callable[[str], None]) -> Callable[[int, BaseException], None]:
    seen: list[int] = []

    def on_failure(batch: int, exc: BaseException) -> None:
        if not seen:
            seen.append(batch)
            text = str(exc).strip().splitlines()
            log(f"warning: a network call on {batch} boards failed ({type(exc).__name__}: "
                f"{text[0] if text else ''}); splitting batches and retrying")

    return on_failure


class SelfplayActor:
    """The body of a Ray actor: a Player, and `play(ids)` returning the chunk's games.

    A forward that keeps failing is returned, not raised, together with the games the chunk
    finished before it, so that the driver keeps every completed game.
    """

    def __init__(self, settings: SelfplaySettings, wrap_evaluate: WrapEvaluate | None) -> None:
        self.error: str | None = None
        self.player: Player | None = None
        try:
            self.player = Player(settings, wrap_evaluate=wrap_evaluate)
        except PerfkitError as exc:
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported by ready(), where the driver can say it
            self.error = f"{type(exc).__name__}: {exc}"

    def ready(self) -> dict[str, Any]:
        """Whether the Player was built (`error` None) and where: device, host, pid."""
        return {
            "error": self.error,
            "device": self.player.device if self.player else None,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }

    def play(self, game_ids: list[int]) -> tuple[list[GameRecord], str | None, dict[str, int]]:
        """The chunk's games, the ForwardFailed that cut it short (None: none did), the Player's counts."""
        assert self.player is not None
        games: list[GameRecord] = []
        try:
            for game in self.player.play(game_ids):
                games.append(game)
        except ForwardFailed as exc:
            return games, str(exc), self.player.stats
        return games, None, self.player.stats


def import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise PerfkitError(
            "the ray backend needs Ray, which is not installed: pip install 'perfkit[ray]' "
            "(or use --backend local)"
        ) from None
    return ray


class RayBackend:
    """Plays games on Ray actors, replacing dead ones (see the module doc).

    Args:
        settings: the run; `ray_workers`, `chunk_games` and `ray_address` apply here.
        wrap_evaluate: shipped to every actor (cloudpickle).
        on_result: called with the backend after each chunk arrives (tests kill actors here).
    """

    name = "ray"

    def __init__(
        self,
        settings: SelfplaySettings,
        *,
        wrap_evaluate: WrapEvaluate | None = None,
        log: Callable[[str], None] = print,
        on_result: Callable[[RayBackend], None] | None = None,
    ) -> None:
        self.settings = settings
        self.wrap_evaluate = wrap_evaluate
        self.log = log
        self.on_result = on_result
        self.ray = import_ray()
        self.owns_ray = False
        self.actors: list[Any] = []  # Ray actor handles, one per slot (Ray ships no types)
        self.devices: list[str] = []
        self.workers = 0
        self.restarts = 0
        self._stats: dict[int, dict[str, int]] = {}  # actor slot -> its cumulative failure counts
        self._retired = {"forward_failures": 0, "batch_splits": 0}  # from actors that died

    def start(self) -> None:
        ray = self.ray
        if not ray.is_initialized():
            address = self.settings.ray_address or os.environ.get("RAY_ADDRESS")
            try:
                ray.init(address=address, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise PerfkitError(f"cannot start or join Ray (address {address or 'local'}): {exc}") from None
            self.owns_ray = True
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
        self.workers = self.settings.ray_workers or gpus or max(1, cpus)
        options = {"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": 1}
        self.actor_class = ray.remote(**options)(SelfplayActor)
        self.actors = [self._new_actor() for _ in range(self.workers)]
        try:
            infos = ray.get([a.ready.remote() for a in self.actors])
        except ray.exceptions.RayError as exc:
            raise PerfkitError(f"a Ray actor could not start: {str(exc).strip().splitlines()[0]}") from None
        errors = {i["error"] for i in infos if i["error"]}
        if errors:
            raise PerfkitError(f"a Ray actor could not start: {sorted(errors)[0]}")
        self.devices = [f"{i['host']}:{i['device']}" for i in infos]

    def _new_actor(self) -> Any:  # a Ray actor handle
        return self.actor_class.remote(self.settings, self.wrap_evaluate)

    def play(self, game_ids: Iterable[int]) -> Iterator[GameRecord]:
        ray = self.ray
        from ray.exceptions import RayActorError, RayTaskError

        size = self.settings.chunk
        ids = iter(game_ids)
        fresh = iter(lambda: list(itertools.islice(ids, size)), [])  # chunks cut lazily: N may be huge
        chunks: deque[list[int]] = deque()  # chunks handed back by dead actors, played first
        inflight: dict[Any, tuple[int, list[int]]] = {}  # Ray object ref -> (actor slot, chunk)
        deaths: dict[int, int] = {}  # first id of a chunk -> times an actor died on it
        failure: str | None = None

        def submit(slot: int) -> None:
            """Hand `slot` its next chunk: a dead actor's first; none once a forward kept failing."""
            if failure is None:
                chunk = chunks.popleft() if chunks else next(fresh, None)
                if chunk:
                    inflight[self.actors[slot].play.remote(chunk)] = (slot, chunk)

        for slot in range(self.workers):
            submit(slot)
        while inflight:
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=WAIT_S)
            if not ready:
                continue
            ref = ready[0]
            slot, chunk = inflight.pop(ref)
            try:
                games, error, stats = ray.get(ref)
            except RayActorError as exc:
                deaths[chunk[0]] = deaths.get(chunk[0], 0) + 1
                if deaths[chunk[0]] > MAX_RESTARTS:
                    raise PerfkitError(
                        f"Ray actors died {deaths[chunk[0]]} times on games {chunk[0]}..{chunk[-1]} "
                        f"({str(exc).strip().splitlines()[0]})"
                    ) from None
                self._replace(slot)
                chunks.appendleft(chunk)
                submit(slot)
                continue
            except RayTaskError as exc:
                cause = exc.cause if isinstance(exc.cause, BaseException) else exc
                text = str(cause).strip().splitlines()
                raise PerfkitError(
                    f"a Ray actor failed on games {chunk[0]}..{chunk[-1]}: {type(cause).__name__}: "
                    f"{text[0] if text else ''}"
                ) from None
            self._stats[slot] = stats
            yield from games
            if error is not None and failure is None:
                failure = error  # stop handing out chunks; let the others finish theirs
            if self.on_result is not None:
                self.on_result(self)
            submit(slot)
        if failure is not None:
            raise ForwardFailed(failure)

    def _replace(self, slot: int) -> None:
        """A new actor in `slot`; the dead one's counts are kept."""
        self.restarts += 1
        old = self._stats.pop(slot, {})
        for k in self._retired:
            self._retired[k] += old.get(k, 0)
        self.log(f"warning: Ray actor {slot} died; starting a new one and replaying its unfinished games")
        self.ray.kill(self.actors[slot], no_restart=True)
        self.actors[slot] = self._new_actor()

    @property
    def stats(self) -> dict[str, int]:
        out = dict(self._retired)
        for s in self._stats.values():
            for k in out:
                out[k] += s.get(k, 0)
        return {**out, "actor_restarts": self.restarts}

    def close(self) -> None:
        for actor in self.actors:
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.actors = []
        if self.owns_ray:
            self.ray.shutdown()
            self.owns_ray = False


def make_backend(
    settings: SelfplaySettings, *, wrap_evaluate: WrapEvaluate | None = None,
    log: Callable[[str], None] = print, on_result: Callable[[RayBackend], None] | None = None,
) -> LocalBackend | RayBackend:
    if settings.backend == "ray":
        return RayBackend(settings, wrap_evaluate=wrap_evaluate, log=log, on_result=on_result)
    return LocalBackend(settings, wrap_evaluate=wrap_evaluate, log=log)
