"""What tracing costs an engine: OpenSpiel's MCTSBot played one game at a time with a plain
batch-of-one predict (torch forward, nothing recorded) and with `Tracer.predict`, in
alternating pairs on the same games; prints the median wall-time ratio minus one.

    python data/results/2026-11-25-cpu-engines/tracing_overhead.py [pairs] [games] [simulations]
"""

import sys
import time

import numpy as np
import torch

from perfkit.engines import make_engine
from perfkit.instrument.trace import Tracer
from perfkit.model import build_game_model

pairs, games, sims = (int(a) for a in (sys.argv[1:] + ["3", "4", "50"][len(sys.argv) - 1 :])[:3])
torch.set_num_threads(1)
engine = make_engine("openspiel-mcts", game="connect_four", simulations=sims, seed=0)
net = build_game_model(engine.obs_shape, engine.actions, preset="small", seed=0)


@torch.inference_mode()
def plain(obs):
    logits, value = net(torch.from_numpy(obs[None]))
    return logits[0].double().numpy(), float(value[0])


class NoMarks:
    """The engine marks moves; without a tracer the marks do nothing."""

    def move(self, player=0):
        import contextlib

        class Mark:
            action = -1

        return contextlib.nullcontext(Mark())


def play(traced: bool) -> float:
    t0 = time.perf_counter()
    if traced:
        tracer = Tracer(net, name="naive", actions=engine.actions)
        with tracer:
            for g in range(games):
                with tracer.game(g) as game:
                    game.winner = engine.play_game(g, tracer.predict, tracer)
        tracer.run()  # building the tables is part of what tracing costs
    else:
        for g in range(games):
            engine.play_game(g, plain, NoMarks())
    return time.perf_counter() - t0


ratios = []
for i in range(pairs):
    order = (False, True) if i % 2 == 0 else (True, False)
    walls = {traced: play(traced) for traced in order}
    ratios.append(walls[True] / walls[False])
    print(f"pair {i}: plain {walls[False]:.2f} s, traced {walls[True]:.2f} s, ratio {ratios[-1]:.3f}")
print(f"tracing overhead: median {np.median(ratios) - 1:+.1%} (min {min(ratios) - 1:+.1%}, max {max(ratios) - 1:+.1%})")
