"""Test-wide settings: one torch thread, here and in every subprocess a test starts.

The tiny preset's forward is ~1 ms; on a shared 2-core machine two intra-op threads
oversubscribe the cores and make it 100x slower, so tests pin one thread.
"""

import os

import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
torch.set_num_threads(1)
