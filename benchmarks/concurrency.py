"""Harness throughput against the ideal, with a model of fixed simulated latency.

Command: .venv/bin/python benchmarks/concurrency.py [--questions 128] [--latency 0.5]

Each question runs in `baseline` mode: one call of exactly `latency` seconds. The ideal wall
time at concurrency c is ceil(questions / c) × latency.
"""

from __future__ import annotations

import argparse
import math
import time

from _common import FixedLatencyChatModel, machine

from agent.datasets import Record
from agent.harness import run_comparison


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=128)
    parser.add_argument("--latency", type=float, default=0.5)
    args = parser.parse_args()
    records = [Record(f"q{i}", f"What is {i} + 1?", str(i + 1)) for i in range(args.questions)]
    model = FixedLatencyChatModel(latency=args.latency)
    print(f"machine: {machine()}")
    print(f"{args.questions} questions, {args.latency}s per call")
    print("concurrency | wall s | ideal s | throughput q/s | of ideal")
    for concurrency in (1, 4, 16, 64):
        start = time.perf_counter()
        run_comparison(
            records, models=[model], modes=["baseline"], concurrency=concurrency, progress=False
        )
        wall = time.perf_counter() - start
        ideal = math.ceil(args.questions / concurrency) * args.latency
        print(
            f"{concurrency:>11} | {wall:6.2f} | {ideal:7.2f} | {args.questions / wall:14.2f} | {ideal / wall * 100:6.1f}%"
        )


if __name__ == "__main__":
    main()
