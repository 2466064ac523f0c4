"""The traced forward's CPU time per board at batch 64, 128 and 256, beside torch.jit.freeze of it and
torch.jit.optimize_for_inference (oneDNN-fused; checked for bit-equality first). One exploratory run:
forward-batch.txt. Usage, from the repository root:
  PYTHONPATH=$PWD python data/results/2026-12-02-mcts-overlap/forward_batch.py
"""
import time, torch, numpy as np, warnings
torch.set_num_threads(1)
from perfkit.measure.bench import BenchSettings, Workload
from perfkit.search.mcts import MCTSConfig
w = Workload.prepare(BenchSettings(preset="small", game="connect_four", games=64, device="cpu", search=MCTSConfig(simulations=50), threads=1, concurrency=64))
ev = w.evaluator if hasattr(w, 'evaluator') else None
print(w.prepared, type(w.model))
from perfkit.devices.cpu import CpuRunner
runner = CpuRunner(w.model, w.game, torch.float32)
net = runner.network
print("traced", net.traced)
x = torch.randn(128, *w.game.obs_shape)
with torch.inference_mode():
    frozen = torch.jit.freeze(net.forward.eval() if hasattr(net.forward,'eval') else net.forward)
    opt = torch.jit.optimize_for_inference(torch.jit.freeze(net.forward))
    for f in (frozen, opt):
        for _ in range(3): a, b = f(x); a0, b0 = net(x)
        print("equal", torch.equal(a, a0), torch.equal(b, b0), (a-a0).abs().max().item())
    for rnd in range(3):
        for name, f in (("traced", net), ("frozen", frozen), ("opt", opt)):
            for bs in (64, 128, 256):
                xb = x[:bs] if bs <= 128 else torch.randn(bs, *w.game.obs_shape)
                f(xb); t0 = time.perf_counter(); c0 = time.thread_time()
                for _ in range(20): f(xb)
                print(rnd, name, bs, f"{20*bs/(time.thread_time()-c0):.0f} boards/CPU-s", f"{20*bs/(time.perf_counter()-t0):.0f} boards/s")
