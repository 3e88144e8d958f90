"""Calculator findings written into the draft: how many the continued draft fixes.

Command:
    .venv/bin/python benchmarks/continuation.py benchmarks/results/gsm8k-51-157-confidence.jsonl

Takes the questions of a GSM8K results file (``accuracy.py``) whose plain answer (the first
draft, greedy) failed a calculator check, and runs ``--strategy critique`` on each: the draft
is cut after its first wrong step, the right value written there, and the model continues
(``agent.strategies.critique.continue_from_finding``). Prints, per question, the step, whether
the continued draft's answer is right, and whether the returned answer is.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from _common import machine

from agent import areflect
from agent.datasets import Record
from agent.scoring import score


async def main(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    flagged = [
        r
        for r in rows
        if r.get("type") != "config"
        and "drafts" in r
        and any(c["kind"] == "calculator" and not c["passed"] for c in r["drafts"][0]["checks"])
    ]
    print(f"{machine()}; {len(flagged)} of {len(rows) - 1} plain answers failed a calculator step")
    fixed = right = continued = 0
    for row in flagged:
        record = Record(row["id"], row["question"], answer=row["expected"], kind="number")
        started = time.perf_counter()
        result = await areflect(row["question"], strategy="critique", temperature=0)
        step = next(c for c in result.drafts[0]["checks"] if not c["passed"])
        later = [d for d in result.drafts[1:] if any("continued" in r for r in d["reflections"])]
        cont_right = bool(later) and score(later[0]["output"], record)
        continued += bool(later)
        fixed += cont_right
        returned_right = score(result.output, record)
        right += returned_right
        print(
            f"{row['id']}: {step['name']} (is {step['detail'].rsplit(' = ', 1)[-1]}); "
            f"continued: {bool(later)}, its answer right: {cont_right}, "
            f"returned right: {returned_right}, plain right: "
            f"{bool(row['first_correct'])}, calls {result.usage['calls']}, "
            f"{time.perf_counter() - started:.0f} s"
        )
    print(f"continued {continued}, continued answer right {fixed}, returned right {right}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
