"""Everyday requests for a number of things ("give three tips"), asked with the default.

The questions below were written before any of them was asked of the model, and were never
used to write or change the rule that reads them (``detectable_format:number_items``); that
rule was written on the requests of ``agent/data/no_veto.jsonl`` and ``five.py``'s tips
question. Each row records what the user receives: the calls, the tokens (against the plain
answer's, the run's first draft), the stop, and how many items the returned answer and the
plain answer list.

Run it once without the rule (``--without-rule``: everything else the same) and once with it,
each into its own file; rows are appended as they finish, so a run stopped midway resumes
where it was::

    .venv/bin/python benchmarks/items.py --without-rule --out benchmarks/results/items-before.jsonl
    .venv/bin/python benchmarks/items.py --out benchmarks/results/items-after.jsonl
    .venv/bin/python benchmarks/items.py --report benchmarks/results/items-before.jsonl \\
        benchmarks/results/items-after.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from _common import machine

from agent import areflect
from agent.checks.instructions import INSTRUCTIONS
from agent.checks.instructions.counting import items_of
from agent.checks.instructions.detectable_format import ITEMS

# (question, how many items it asks for)
QUESTIONS = [
    ("Give three reasons to learn a second language.", 3),
    ("List five healthy breakfast ideas.", 5),
    ("Suggest four ways to save money on groceries.", 4),
    ("Name three benefits of regular exercise.", 3),
    ("Give me two tips for a job interview.", 2),
    ("Share five fun facts about octopuses.", 5),
    ("List three common mistakes new programmers make.", 3),
    ("Recommend four books for someone starting to learn about economics.", 4),
    ("Give four examples of renewable energy sources.", 4),
    ("Provide three strategies for managing stress at work.", 3),
    ("List six things to pack for a weekend camping trip.", 6),
    ("Suggest three activities for a rainy day with kids.", 3),
    ("Give five tips for writing a clear email.", 5),
    ("Name four features that make a good password.", 4),
    ("List three advantages of remote work.", 3),
    ("Give me three questions to ask at the end of a job interview.", 3),
    ("Suggest five ideas for a small garden.", 5),
    ("List four signs that a plant needs more water.", 4),
    ("Give three steps to make a cup of pour-over coffee.", 3),
    ("Provide two arguments for and two against school uniforms.", 4),
]


async def run(out: Path) -> None:
    lines = out.read_text().splitlines() if out.exists() else []
    done = {json.loads(line)["question"] for line in lines}
    print(f"machine: {machine()}")
    await areflect("What is 2 + 2?", mode="baseline")  # load the model first
    for question, asked in QUESTIONS:
        if question in done:
            continue
        started = time.perf_counter()
        result = await areflect(question)
        first = result.drafts[0]
        row: dict[str, Any] = {
            "question": question,
            "asked": asked,
            "kind": result.kind,
            "calls": result.usage["calls"],
            "tokens": result.usage["input_tokens"] + result.usage["output_tokens"],
            "plain_tokens": first["input_tokens"] + first["output_tokens"],
            "seconds": round(time.perf_counter() - started, 1),
            "plain_seconds": round(first["seconds"], 1),
            "stop": result.stop_reason,
            "items": items_of(result.output),
            "plain_items": items_of(first["output"]),
            "checks": [f"{'✓' if c['passed'] else '✗'} {c['name']}" for c in result.checks],
            "output": result.output,
            "plain_output": first["output"],
        }
        with out.open("a") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(
            f"{row['calls']} calls, {row['tokens'] / row['plain_tokens']:.1f}× plain, "
            f"{row['stop']}, {row['items']} items ({asked} asked): {question}"
        )


def report(paths: list[Path]) -> None:
    """A line per run: calls, tokens and wall against plain, stops, answers with the count.

    The counts are taken again from the answers, by today's ``items_of`` (an answer that
    gives its items inline has no count, and misses).
    """
    for path in paths:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for r in rows:
            r["items"], r["plain_items"] = items_of(r["output"]), items_of(r["plain_output"])
        tokens = sum(r["tokens"] for r in rows)
        plain = sum(r["plain_tokens"] for r in rows)
        seconds = sum(r["seconds"] for r in rows)
        plain_seconds = sum(r["plain_seconds"] for r in rows)
        stops: dict[str, int] = {}
        for r in rows:
            stops[r["stop"]] = stops.get(r["stop"], 0) + 1
        print(
            f"{path.name}: {len(rows)} questions | "
            f"{sum(r['calls'] for r in rows) / len(rows):.2f} calls/q | "
            f"{tokens / len(rows):.0f} tokens/q ({tokens / plain:.2f}× plain) | "
            f"{seconds / len(rows):.1f} s/q ({seconds / plain_seconds:.2f}× plain) | "
            f"count met: returned {sum(r['items'] == r['asked'] for r in rows)}, "
            f"plain {sum(r['plain_items'] == r['asked'] for r in rows)} | stops {stops}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="where to append the rows (resumes)")
    parser.add_argument("--without-rule", action="store_true", help="do not read item counts")
    parser.add_argument("--report", type=Path, nargs="+", help="summarise finished runs")
    args = parser.parse_args()
    if args.report:
        report(args.report)
    elif args.out:
        if args.without_rule:
            del INSTRUCTIONS[ITEMS.id]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        asyncio.run(run(args.out))
    else:
        parser.error("give --out to run, or --report to summarise")


if __name__ == "__main__":
    main()
