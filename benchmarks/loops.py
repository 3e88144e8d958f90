"""Replies caught in a loop: the embedded model's guard and the repetition check, before, after.

Commands:
    REFLECT_SHARED_DATA=../shared/data .venv/bin/python benchmarks/loops.py run
    .venv/bin/python benchmarks/loops.py report
    REFLECT_SHARED_DATA=../shared/data .venv/bin/python benchmarks/loops.py scan \
        --task gsm8k --limit 50

The questions are those whose plain answer looped to the token cap in a committed run
(``--from``, default IFEval 1–100 of benchmarks §28: a first draft that ``looping`` finds a
loop in), and the feathers question, whose plain answer loops on a density's zeros on an
Intel machine. Each is asked in modes ``baseline`` (the plain answer) and ``prompted`` (the
default), twice: as the code was before (no guard, no check: both switched off in this
process) and as it is. Results go to benchmarks/results/loops-{before,after}.jsonl;
interrupted runs resume.

``scan`` asks a slice's plain answers (greedy, guarded) and counts those that end in a loop:
how often a reply loops there, and whether anything that is not a loop is caught
(results/loops-scan-TASK-FIRST-LAST.jsonl, resumable).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

from _common import machine
from tasks import TASKS

import agent.checks
import agent.local
from agent import areflect
from agent.checks.repetition import looping
from agent.datasets import Record
from agent.harness import load_comparison, run_comparison

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
FEATHERS = Record(
    id="feathers",
    question="Which is heavier, a kilogram of feathers or a kilogram of steel?",
    kind="text",
    answer="same",
)


def looped_keys(runs: Path) -> list[str]:
    """The questions whose first draft, in a committed run, ends in a loop."""
    csv.field_size_limit(sys.maxsize)
    with runs.open(encoding="utf-8") as handle:
        return [r["id"] for r in csv.DictReader(handle) if looping(r["first_output"] or "")]


def run(source: Path, arm: str) -> None:
    keys = looped_keys(source)
    records, strict = TASKS["ifeval"](0, 100)
    chosen = [r for r in records if r.id in keys] + [FEATHERS]

    def scorer(output: str, record: Record) -> bool:
        if record.id == FEATHERS.id:
            return "same" in output.lower() or "equal" in output.lower()
        return strict(output, record)

    if arm == "before":
        agent.local.looping = lambda text: None  # type: ignore[assignment]
        agent.checks.repetition_checks = lambda text, question="": []  # type: ignore[assignment]
    started = time.perf_counter()
    comparison = run_comparison(
        chosen,
        modes=["baseline", "prompted"],
        models=["local:qwen2.5-coder-1.5b"],
        out=RESULTS / f"loops-{arm}.jsonl",
        concurrency=1,
        effort="medium",
        temperature=0,
        scorer=scorer,
    )
    print(f"{arm}: {len(comparison.rows)} runs, {time.perf_counter() - started:.0f} s, {machine()}")


def report() -> None:
    arms = {
        arm: load_comparison(RESULTS / f"loops-{arm}.jsonl").rows for arm in ("before", "after")
    }
    print("| question | mode | before: right, calls, tokens, s | after: right, calls, tokens, s |")
    print("|---|---|---|---|")
    totals: dict[tuple[str, str], list[float]] = {}
    before = {(r["id"], r["mode"]): r for r in arms["before"]}
    for row in sorted(arms["after"], key=lambda r: (r["mode"], r["id"])):
        old = before.get((row["id"], row["mode"]))
        if old is None:
            continue
        cells = []
        for arm, r in (("before", old), ("after", row)):
            tokens = r["input_tokens"] + r["output_tokens"]
            cells.append(
                f"{'✓' if r['correct'] else '✗'}, {r['calls']}, {tokens}, {r['seconds']:.0f}"
            )
            sums = totals.setdefault((arm, r["mode"]), [0, 0, 0, 0])
            for i, value in enumerate((r["correct"], r["calls"], tokens, r["seconds"])):
                sums[i] += value
        print(f"| {row['id']} | {row['mode']} | {cells[0]} | {cells[1]} |")
    for mode in ("baseline", "prompted"):
        b, a = totals.get(("before", mode)), totals.get(("after", mode))
        if b and a:
            print(
                f"| **all** | {mode} | {b[0]:.0f} right, {b[1]:.0f}, {b[2]:.0f}, {b[3]:.0f} "
                f"| {a[0]:.0f} right, {a[1]:.0f}, {a[2]:.0f}, {a[3]:.0f} |"
            )
    plain = [r for r in arms["after"] if r["mode"] == "baseline"]
    old_plain = {r["id"]: r for r in arms["before"] if r["mode"] == "baseline"}
    prefix = sum(
        old_plain[r["id"]]["output"].startswith(r["output"].rstrip()[:200])
        for r in plain
        if r["id"] in old_plain
    )
    print(f"\nguarded plain answers that begin as the unguarded ones do: {prefix} of {len(plain)}")


def scan(task: str, offset: int, limit: int) -> None:
    records, _ = TASKS[task](offset, limit)
    out = RESULTS / f"loops-scan-{task}-{offset + 1}-{offset + limit}.jsonl"
    done = {json.loads(line)["id"] for line in out.open()} if out.is_file() else set()
    for record in records:
        if record.id in done:
            continue
        result = asyncio.run(areflect(record.question, mode="baseline", temperature=0))
        draft = result.drafts[0]
        loop = looping(draft["text"])
        row = {
            "id": record.id,
            "output_tokens": draft["output_tokens"],
            "seconds": draft["seconds"],
            "loop": None if loop is None else {"unit": loop.unit, "start": loop.start},
            "tail": draft["text"][-300:],
        }
        with out.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
    rows = [json.loads(line) for line in out.open()]
    looped = [r for r in rows if r["loop"]]
    capped = [r for r in rows if r["output_tokens"] >= 1024]
    print(
        f"{task} {offset + 1}-{offset + limit}: {len(looped)} of {len(rows)} plain answers end in "
        f"a loop, {len(capped)} reach the cap; tokens {sum(r['output_tokens'] for r in rows)}"
    )
    for r in looped:
        print(
            f"  {r['id']}: {r['loop']['unit']!r} from {r['loop']['start']}, "
            f"{r['output_tokens']} tokens"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["run", "report", "scan"])
    parser.add_argument("--task", choices=sorted(TASKS), default="gsm8k")
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--arm", choices=["before", "after", "both"], default="both")
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=RESULTS / "ifeval-1-100-written.runs.csv",
        help="a committed runs.csv whose looping first drafts pick the questions",
    )
    args: Any = parser.parse_args(argv)
    if args.command == "report":
        report()
        return
    if args.command == "scan":
        scan(args.task, args.offset, args.limit)
        return
    for arm in ("after", "before") if args.arm == "both" else (args.arm,):
        run(args.source, arm)


if __name__ == "__main__":
    main()
