"""Why training flushes denormals (``lthlib.machine.platform.FLUSH_DENORMAL``): a BiLSTM's
forward and backward pass over T tokens, with denormal floats kept and flushed to zero.

    python benchmarks/bench_denormals.py                 # the quick profile's BiLSTM shape
    python benchmarks/bench_denormals.py --hidden 64 --lengths 160,256,512

The gradients that flow back through a long recurrent pass shrink into the denormal range
(below 1.2e-38), where x86 arithmetic is many times slower; flushed (FTZ/DAZ), they are zeros.
Prints seconds per batch (median of ``--repeats``) and the ratio, one line per length.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch


def seconds_per_batch(lstm: torch.nn.LSTM, x: torch.Tensor, repeats: int) -> float:
    lstm(x)[1][0].sum().backward()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        lstm(x)[1][0].sum().backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--embed", type=int, default=50)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lengths", default="128,160,192,256,320")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(args.embed, args.hidden, batch_first=True, bidirectional=True)
    print(f"BiLSTM {args.embed} -> {args.hidden} x 2, batch {args.batch}, 1 thread, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(f"{'tokens':>6} {'kept s':>8} {'flushed s':>9} {'ratio':>6}")
    for length in (int(t) for t in args.lengths.split(",")):
        x = torch.randn(args.batch, length, args.embed, requires_grad=True)
        torch.set_flush_denormal(False)
        kept = seconds_per_batch(lstm, x, args.repeats)
        torch.set_flush_denormal(True)
        flushed = seconds_per_batch(lstm, x, args.repeats)
        torch.set_flush_denormal(False)
        print(f"{length:>6} {kept:>8.3f} {flushed:>9.3f} {kept / flushed:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
