"""Accuracy and cost on a real model: GSM8K sample, several modes, flips counted.

Command:
    .venv/bin/python benchmarks/accuracy.py --limit 100 --modes baseline,single,prompted
    .venv/bin/python benchmarks/accuracy.py --offset 50 --limit 150 --modes prompted:contrast

Reads the GSM8K test set from ../shared/data/gsm8k/test.jsonl (not copied into the repo),
runs each question once per mode on the embedded model with greedy decoding, and writes
benchmarks/results/NAME.{jsonl,summary.csv,runs.csv,config.json,png}. Interrupted runs resume.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import machine

from agent.datasets import load_dataset
from agent.harness import run_comparison

HERE = Path(__file__).resolve().parent
GSM8K = HERE.parents[1] / "shared" / "data" / "gsm8k" / "test.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=str(GSM8K))
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--offset", type=int, default=0, help="skip the first N questions")
    parser.add_argument("--modes", default="baseline,single,prompted")
    parser.add_argument("--model", default="local:qwen2.5-coder-1.5b")
    parser.add_argument("--effort", default="medium")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--name", default=None)
    args = parser.parse_args()
    first = args.offset + 1
    name = args.name or (
        f"gsm8k-{first}-{args.offset + args.limit}" if args.offset else f"gsm8k-{args.limit}"
    )
    out = HERE / "results" / f"{name}.jsonl"
    records = load_dataset(args.dataset, limit=args.offset + args.limit)[args.offset :]
    started = time.perf_counter()
    comparison = run_comparison(
        records,
        modes=args.modes.split(","),
        models=[args.model],
        out=out,
        concurrency=args.concurrency,
        effort=args.effort,
        temperature=0,
    )
    comparison.config.update(machine=machine(), wall_seconds=round(time.perf_counter() - started))
    comparison.save(out.with_suffix(""))
    comparison.plot(out.with_suffix(".png"))
    print(f"machine: {machine()}")
    print(comparison.to_table())


if __name__ == "__main__":
    main()
