"""Wrong steps set right in the default's samples: the same run without it, paired.

Commands:
    .venv/bin/python benchmarks/corrected.py before benchmarks/results/gsm8k-51-157-corrected.jsonl
    .venv/bin/python benchmarks/corrected.py again benchmarks/results/gsm8k-51-157-corrected.jsonl
    .venv/bin/python benchmarks/corrected.py report benchmarks/results/gsm8k-51-157-corrected.jsonl

``before`` reruns, with ``extension.from_right_step`` switched off, only the questions of a
results file (``accuracy.py``) where it made a call: every other question's run made the very
same calls (greedy, seeded samples, one at a time on the embedded model), so it is its own
"before". The reruns go to ``NAME-before.jsonl`` (resumable). ``again`` reruns the same
questions with the code as it now is (``NAME-again.jsonl``; where the code changed after the
first run, only what it touches changed). ``report`` prints the paired
table (the plain answer is each run's first draft as written, before any correction) and what
the corrections did: how many solutions were set right, and whether the answer they went on to
was right where the one first written was.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from _common import machine
from report import _line

from agent import checks
from agent.datasets import Record
from agent.extension import SET_RIGHT
from agent.harness import run_comparison
from agent.scoring import score

# A solution set right, then set aside (``afterwards``: as the first run of §36 wrote it).
NOT_KEPT = (f"{checks.NOT_KEPT}{SET_RIGHT}", f"{checks.NOT_KEPT}afterwards")


def _rows(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [r for r in map(json.loads, lines) if r.get("type") == "run" and r["error"] is None]


def _touched(row: dict[str, Any]) -> bool:
    """Whether ``from_right_step`` made a call in this run (kept or set aside)."""
    notes = [n for d in row["drafts"] for n in d["reflections"]]
    return any(n.startswith((checks.CORRECTED, *NOT_KEPT)) for n in notes)


def _record(row: dict[str, Any]) -> Record:
    return Record(row["id"], row["question"], answer=row["expected"], kind="number")


def before(path: Path) -> None:
    """Rerun the touched questions with the correction switched off."""
    import agent.strategies.sampling as sampling

    async def unchanged(draft: Any, *_: Any) -> tuple[Any, None]:
        return draft, None

    sampling.from_right_step = unchanged  # type: ignore[assignment]
    _rerun(path, "before")


def again(path: Path) -> None:
    """Rerun the touched questions with the correction as the code now has it."""
    _rerun(path, "again")


def _rerun(path: Path, suffix: str) -> None:
    touched = [r for r in _rows(path) if _touched(r)]
    print(f"{machine()}; {len(touched)} questions where a step was set right")
    config = json.loads(path.read_text().splitlines()[0])["options"]
    run_comparison(
        [_record(r) for r in touched],
        modes=["prompted"],
        models=[touched[0]["model"]],
        out=path.with_name(f"{path.stem}-{suffix}.jsonl"),
        concurrency=1,  # as accuracy.py: one question at a time, so the wall times compare
        effort=config["effort"],
        temperature=config["temperature"],
    )


def _first_answer(draft: dict[str, Any]) -> str:
    return str(draft.get("uncorrected", draft.get("written", draft["output"])))


def report(path: Path) -> None:
    """The paired table, and what the corrections did."""
    again_ = {r["id"]: r for r in _rows(path.with_name(path.stem + "-again.jsonl"))}
    after = [again_.get(r["id"], r) for r in _rows(path)]
    reran = {r["id"]: r for r in _rows(path.with_name(path.stem + "-before.jsonl"))}
    pairs = [(reran.get(r["id"], r), r) for r in after if not _touched(r) or r["id"] in reran]
    old, new = [p[0] for p in pairs], [p[1] for p in pairs]
    # The plain answer as first written: a corrected one keeps it in ``uncorrected``.
    plain = [score(_first_answer(r["drafts"][0]), _record(r)) for r in old]
    tokens = [r["drafts"][0]["input_tokens"] + r["drafts"][0]["output_tokens"] for r in old]
    wall = [r["drafts"][0]["seconds"] for r in old]
    print(f"{path.name}: {len(pairs)} questions ({len(reran)} rerun without the correction)\n")
    print("| approach | accuracy (95% CI) | right→wrong \\| wrong→right | tokens / q | wall / q |")
    print("|---|---|---|---|---|")
    print(_line("plain (first draft)", plain, plain, tokens, wall))
    for name, rows in (("default before", old), ("**default**, wrong steps set right", new)):
        right = [bool(r["correct"]) for r in rows]
        spent = [r["input_tokens"] + r["output_tokens"] for r in rows]
        print(_line(name, right, plain, spent, [r["seconds"] for r in rows]))
    calls = [statistics.mean(r["calls"] for r in rows) for rows in (old, new)]
    print(f"\ncalls / q: before {calls[0]:.2f}, after {calls[1]:.2f}\n")
    print("| question | solution | set right | first answer | then | returned before → after |")
    print("|---|---|---|---|---|---|")
    for was, row in pairs:
        record = _record(row)
        for d in row["drafts"]:
            notes = [n for n in d["reflections"] if n.startswith((checks.CORRECTED, *NOT_KEPT))]
            if not notes:
                continue
            kept = not any(n.startswith(NOT_KEPT) for n in notes)
            steps = (
                "; ".join(n.removeprefix(checks.CORRECTED)[-40:] for n in notes) if kept else "–"
            )
            then = _word(score(d["output"], record)) if kept else "not kept"
            first = _word(score(_first_answer(d), record))
            flip = f"{_word(was['correct'])} → {_word(row['correct'])}"
            print(
                f"| {row['id'].split(':')[-1]} | {d['index']} | {steps} | {first} | {then} | {flip} |"
            )


def _word(right: bool) -> str:
    return "right" if right else "wrong"


if __name__ == "__main__":
    {"before": before, "again": again, "report": report}[sys.argv[1]](Path(sys.argv[2]))
