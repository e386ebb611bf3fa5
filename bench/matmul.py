"""This machine's own fp32 matmul rate in the trainer venv: the ceiling training throughput is a share of.

Prints one JSON line: {"gflops", "size", "threads"} — the best of several timed 1024x1024 @ 1024x1024
products after a warm-up (2 * n^3 floating-point operations each).
"""

import json
import os
import sys
import time

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 and int(sys.argv[1]) > 0 else (os.cpu_count() or 1)
torch.set_num_threads(threads)
n = 1024
a, b = torch.randn(n, n), torch.randn(n, n)
for _ in range(3):
    a @ b
best = float("inf")
for _ in range(10):
    t = time.perf_counter()
    a @ b
    best = min(best, time.perf_counter() - t)
print(json.dumps({"gflops": 2 * n**3 / best / 1e9, "size": n, "threads": threads}))
