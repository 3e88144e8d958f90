"""Orchestration overhead: the time the graph itself adds per question and per round.

Command: .venv/bin/python benchmarks/overhead.py [--questions 300] [--real-calls 3]

With a model that answers instantly, every second measured is the graph's own work
(state, checkpoints, parsing, routing). It is compared with the mean time of a real call to
the embedded model on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from _common import FixedLatencyChatModel, machine

from agent import areflect


async def graph_seconds(questions: int, mode: str) -> list[float]:
    model = FixedLatencyChatModel()
    times = []
    for i in range(questions):
        start = time.perf_counter()
        result = await areflect(f"What is 3 × 4? ({i})", model=model, mode=mode)
        times.append(time.perf_counter() - start)
        assert result.output == "The answer is 12."
    return times


async def real_call_seconds(calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        result = await areflect("What is 3 × 4?", model="local:qwen2.5-coder-1.5b", mode="single")
        times.append(result.drafts[0]["seconds"])
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--real-calls", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(graph_seconds(20, "prompted"))  # warm-up: imports, first compile
    prompted = asyncio.run(graph_seconds(args.questions, "prompted"))
    single = asyncio.run(graph_seconds(args.questions, "single"))
    real = asyncio.run(real_call_seconds(args.real_calls))
    per_question = statistics.median(prompted)
    # A prompted question that is accepted makes 2 calls (draft, critique): 1 round.
    per_call = per_question / 2
    real_call = statistics.median(real)
    print(f"machine: {machine()}")
    print(
        f"graph time per question, prompted (2 calls, 1 round): median {per_question * 1000:.1f} ms"
    )
    print(
        f"graph time per question, single (1 call): median {statistics.median(single) * 1000:.1f} ms"
    )
    print(f"graph time per model call: {per_call * 1000:.1f} ms")
    print(
        f"real embedded-model call (short answer, single mode): median {real_call:.2f} s over {len(real)}"
    )
    print(f"overhead per call as a fraction of a real call: {per_call / real_call * 100:.3f}%")


if __name__ == "__main__":
    main()
