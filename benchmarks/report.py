"""The benchmark tables: each mode against the plain answer, on the same questions.

Command:
    .venv/bin/python benchmarks/report.py benchmarks/results/gsm8k-51-157.jsonl [MORE.jsonl …]

The plain answer is each run's first draft: the sampling strategies and the critique loop
both draw it greedily with the plain prompt, exactly the call ``baseline`` makes, so no
separate baseline run is needed and every comparison is paired. For answers compared by a key
(numbers, letters, yes/no), majority vote is replayed on the very samples each run drew.
Flips are counted against the plain answer. Scoring is the run's own (``correct``), or for
the replayed vote the task's scorer.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.answers import KEYED
from agent.datasets import Record
from agent.harness import load_comparison, wilson
from agent.scoring import score
from agent.strategies.sampling import passing, vote


def _line(name: str, right: list[bool], plain: list[bool], tokens: list[float], wall: list[float]) -> str:
    n = len(right)
    low, high = wilson(sum(right), n)
    r2w = sum(p and not r for p, r in zip(plain, right, strict=True))
    w2r = sum(r and not p for p, r in zip(plain, right, strict=True))
    flips = "–" if right is plain else f"{r2w} \\| {w2r}"
    return (
        f"| {name} | {sum(right) / n:.1%} ({sum(right)}/{n}; {low:.1%}–{high:.1%}) | {flips} "
        f"| {statistics.mean(tokens):.0f} | {statistics.mean(wall):.1f} s |"
    )


def report(path: Path, scorer: Callable[[str, Record], bool] | None = None) -> list[str]:
    """The table of one results file, as markdown lines."""
    comparison = load_comparison(path)
    runs = [r for r in comparison.rows if r["error"] is None]
    if not runs:
        return [f"{path}: no finished runs"]
    modes = sorted({r["mode"] for r in runs})
    ids = sorted(set.intersection(*({r["id"] for r in runs if r["mode"] == m} for m in modes)))
    by = {(r["mode"], r["id"]): r for r in runs}
    first = by[(modes[0], ids[0])]
    lines = [
        f"{path.name}: {len(ids)} questions, modes {', '.join(modes)}",
        "",
        "| approach | accuracy (95% CI) | right→wrong \\| wrong→right | tokens / q | wall / q |",
        "|---|---|---|---|---|",
    ]
    base = [by[(modes[0], i)] for i in ids]
    plain = [bool(r["first_correct"]) for r in base]
    lines.append(
        _line(
            "plain (first draft)",
            plain,
            plain,
            [r["drafts"][0]["input_tokens"] + r["drafts"][0]["output_tokens"] for r in base],
            [r["drafts"][0]["seconds"] for r in base],
        )
    )
    for mode in modes:
        rows = [by[(mode, i)] for i in ids]
        right = [bool(r["correct"]) for r in rows]
        tokens = [r["input_tokens"] + r["output_tokens"] for r in rows]
        lines.append(_line(mode, right, plain, tokens, [r["seconds"] for r in rows]))
        sampled = [sum(d["round"] == 0 for d in r["drafts"]) for r in rows]
        if max(sampled) > 1 and first.get("kind") in KEYED:  # a vote needs samples to count
            voted = [_vote(r, scorer) for r in rows]
            sample_tokens = [
                sum(d["input_tokens"] + d["output_tokens"] for d in r["drafts"] if d["round"] == 0)
                for r in rows
            ]
            name = f"unweighed majority vote, same samples ({statistics.mean(sampled):.2f} / q)"
            walls = [sum(d["seconds"] for d in r["drafts"] if d["round"] == 0) for r in rows]
            lines.append(_line(name, voted, plain, sample_tokens, walls))
    return lines


def _vote(row: dict[str, Any], scorer: Callable[[str, Record], bool] | None) -> bool:
    # Counted, not weighed by confidence: the vote the weights are compared with.
    samples = [{**d, "confidence": None} for d in row["drafts"] if d["round"] == 0]
    eligible = passing(samples) or samples
    chosen = vote(eligible, row["kind"], row["question"])
    output = next(d["output"] for d in row["drafts"] if d["index"] == chosen)
    record = Record(row["id"], row["question"], answer=row["expected"], kind=row["kind"])
    return (scorer or (lambda o, r: score(o, r)))(output, record)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print("\n".join(report(Path(name))), end="\n\n")
