"""Contrast against plain and majority vote, on the very same samples.

Commands:
    .venv/bin/python benchmarks/sampling_report.py \
        benchmarks/results/gsm8k-50-contrast.jsonl benchmarks/results/gsm8k-50.jsonl
    .venv/bin/python benchmarks/sampling_report.py benchmarks/results/gsm8k-51-200-contrast.jsonl

Reads a results file of ``prompted:contrast`` runs and, optionally, a file with ``baseline``
runs of the same questions. Without one, the plain answer is each run's first draft: contrast
draws it greedily with the plain prompt, exactly as ``baseline`` does (on the first 50
questions the two agreed in text on 49 and in correctness on all 50). Majority vote is scored on the
samples each contrast run drew (the same number of samples, the same texts), so the
comparison is paired: what the checklist and reconciliation add beyond counting answers.
Flips are counted against the plain answer.
"""

from __future__ import annotations

import sys
from pathlib import Path

from agent.harness import load_comparison
from agent.nodes import choose_sampled, leaders, vote
from agent.scoring import is_correct


def first_draft(run: dict) -> dict:
    """The plain answer a contrast run drew first, shaped like a baseline row."""
    draft = run["drafts"][0]
    return {
        "correct": is_correct(draft["output"], run["expected"]),
        "input_tokens": draft["input_tokens"],
        "output_tokens": draft["output_tokens"],
        "seconds": draft["seconds"],
    }


def main(contrast_file: str, baseline_file: str | None = None) -> None:
    runs = [r for r in load_comparison(contrast_file).rows if r["error"] is None]
    if baseline_file:
        rows = load_comparison(baseline_file).rows
        plain = {r["id"]: r for r in rows if r["mode"] == "baseline"}
    else:
        plain = {r["id"]: first_draft(r) for r in runs}
    runs = [r for r in runs if r["id"] in plain]
    n = len(runs)
    if not n:
        sys.exit("no questions in common")

    def report(name: str, right: list[bool], tokens: float, seconds: float | None) -> None:
        base = [plain[r["id"]]["correct"] for r in runs]
        r2w = sum(b and not x for b, x in zip(base, right, strict=True))
        w2r = sum(x and not b for b, x in zip(base, right, strict=True))
        wall = f"{seconds:6.1f}" if seconds is not None else "     –"
        print(
            f"{name:<28} {sum(right) / n:6.1%} {sum(right):>3}/{n}  r→w {r2w:>2}  w→r {w2r:>2}"
            f"  {tokens:7.0f} tok/q  {wall} s/q"
        )

    print(f"{n} questions; flips against the plain answer")
    report(
        "plain (baseline)",
        [plain[r["id"]]["correct"] for r in runs],
        sum(plain[r["id"]]["input_tokens"] + plain[r["id"]]["output_tokens"] for r in runs) / n,
        sum(plain[r["id"]]["seconds"] for r in runs) / n,
    )
    sample_tokens = [
        sum(d["input_tokens"] + d["output_tokens"] for d in r["drafts"] if d["round"] == 0)
        for r in runs
    ]
    sample_seconds = [sum(d["seconds"] for d in r["drafts"] if d["round"] == 0) for r in runs]
    voted = [is_correct(r["drafts"][vote(r["drafts"])]["output"], r["expected"]) for r in runs]
    report("majority vote (same)", voted, sum(sample_tokens) / n, sum(sample_seconds) / n)
    report(
        "contrast (as run)",
        [r["correct"] for r in runs],
        sum(r["input_tokens"] + r["output_tokens"] for r in runs) / n,
        sum(r["seconds"] for r in runs) / n,
    )
    samples = sum(sum(d["round"] == 0 for d in r["drafts"]) for r in runs) / n
    agreed = sum(r["stop_reason"] == "agreed" for r in runs)
    kept = sum(r["stop_reason"] == "reconciled" for r in runs)
    split = sum(bool(r["critiques"]) for r in runs)
    print(
        f"samples per question {samples:.2f}; all agreed on {agreed}/{n}; split on {split} "
        f"(checklist + reconcile); the reconciliation picked a sampled answer on {kept}, "
        f"the vote decided the other {split - kept}"
    )
    # The rule the code now uses, chosen after these runs: the reconciliation counts only on
    # a tie at the top, else the vote stands (choose_sampled). Its inputs on a tie are the
    # very samples shown here, so replaying it on these records gives what it would answer;
    # without a tie it pays for the samples alone.
    current = [
        is_correct(r["drafts"][choose_sampled(r["drafts"])]["output"], r["expected"]) for r in runs
    ]
    tied = [len(leaders(r["drafts"])) > 1 for r in runs]
    tokens = [
        r["input_tokens"] + r["output_tokens"] if tie else spent
        for r, spent, tie in zip(runs, sample_tokens, tied, strict=True)
    ]
    seconds = [
        r["seconds"] if tie else spent
        for r, spent, tie in zip(runs, sample_seconds, tied, strict=True)
    ]
    report("contrast, tie rule (replay)", current, sum(tokens) / n, sum(seconds) / n)
    right_when_split = sum(r["correct"] for r in runs if r["critiques"])
    vote_when_split = sum(v for r, v in zip(runs, voted, strict=True) if r["critiques"])
    print(
        f"on the split questions: contrast right {right_when_split}, vote right {vote_when_split}"
    )


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or not all(Path(p).is_file() for p in sys.argv[1:]):
        sys.exit(__doc__)
    main(*sys.argv[1:])
