"""Replay the tally's rules for free text on collected IFEval samples, offline.

Command (a tuning slice; never the reported one):
    REFLECT_SHARED_DATA=../shared/data .venv/bin/python benchmarks/confidence_tuning.py \
        collect --task ifeval --offset 100 --limit 50
    .venv/bin/python benchmarks/text_rules.py benchmarks/results/tuning-ifeval-101-150.jsonl

Each question has its plain answer and four samples, with their instruction checks and
confidence. The rule replayed is ``agent.strategies.sampling._decide`` for free text on a
model that draws one sample at a time (the embedded one), effort ``medium``: three samples,
more (up to five) while none passes, then a revision. A revision cannot be replayed: it
costs one call of the plain answer's size and returns the least wrong sample. Variants:

* ``plain-checked``: a plain answer that passes every instruction check of a question with
  at least one stands alone;
* ``same-failure``: when the first three all fail the same checks, no more samples;
* ``no-more``: when none of the first three passes, no more samples.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def instruction_checks(row: dict) -> list[str]:
    """The checks of the question's stated instructions (not arithmetic or programs)."""
    return [n for n in row["checked"] if n.startswith("constraint: ")]


def failed_instructions(row: dict) -> tuple[str, ...] | None:
    """The stated instructions a sample failed; ``None`` if it failed any other check."""
    stated = {n.removeprefix("constraint: ") for n in instruction_checks(row)}
    if not row["failed_names"] or not set(row["failed_names"]) <= stated:
        return None
    return tuple(sorted(row["failed_names"]))


def stuck(rows: list[dict]) -> bool:
    """Whether the samples all failed the same stated instructions and nothing else."""
    ways = {failed_instructions(r) for r in rows}
    return len(ways) == 1 and None not in ways


def surest(rows: list[dict]) -> dict:
    return max(rows, key=lambda r: (r["confidence"] or {}).get("score", float("-inf")))


def replay(rows: list[dict], rule: str) -> tuple[bool, int, int, str]:
    """(right, calls, tokens, stop) of one question under one rule."""
    drawn: list[dict] = []
    plain = rows[0]
    revision_tokens = 2 * plain["input_tokens"] + plain["output_tokens"] * 2
    for r in rows:
        drawn.append(r)
        passed = [d for d in drawn if not d["failed"]]
        if len(drawn) == 1:
            if rule == "plain-checked" and instruction_checks(r) and not r["failed"]:
                return r["right"], 1, _tokens(drawn), "checked-plain"
            continue
        if len(drawn) < 3:
            continue
        if not passed:
            if len(drawn) == 3 and rule == "no-more":
                break
            if len(drawn) == 3 and rule == "same-failure" and stuck(drawn):
                break
            continue
        if len(passed) == 1:
            return passed[0]["right"], len(drawn), _tokens(drawn), "checked"
        return surest(passed)["right"], len(drawn), _tokens(drawn), "surest"
    passed = [d for d in drawn if not d["failed"]]
    if passed:  # unreachable for five samples, kept for shorter collections
        return surest(passed)["right"], len(drawn), _tokens(drawn), "surest"
    least = min(drawn, key=lambda d: len(d["failed"]))
    return least["right"], len(drawn) + 1, _tokens(drawn) + revision_tokens, "revise"


def _tokens(drawn: list[dict]) -> int:
    return sum(d["input_tokens"] + d["output_tokens"] for d in drawn)


def analyse(path: Path) -> None:
    questions = [json.loads(line) for line in path.read_text().splitlines()]
    n = len(questions)
    plain_tokens = sum(_tokens(q["rows"][:1]) for q in questions) / n
    plain_right = sum(q["rows"][0]["right"] for q in questions)
    checked = sum(bool(instruction_checks(q["rows"][0])) for q in questions)
    print(f"{path.name}: {n} questions, {checked} with an instruction check")
    print(f"plain: {plain_right}/{n}, {plain_tokens:.0f} tokens/q")
    passes = [
        q for q in questions if instruction_checks(q["rows"][0]) and not q["rows"][0]["failed"]
    ]
    print(
        f"plain passes its checks on {len(passes)}: right {sum(q['rows'][0]['right'] for q in passes)};"
        f" some sample right on {sum(any(r['right'] for r in q['rows']) for q in passes)}"
    )
    none = [q for q in questions if all(r["failed"] for r in q["rows"][:3])]
    later = [q for q in none if any(not r["failed"] for r in q["rows"][3:])]
    same = [q for q in none if stuck(q["rows"][:3])]
    print(
        f"first three all fail: {len(none)}; a later sample passes on {len(later)}"
        f" (right {sum(any(r['right'] and not r['failed'] for r in q['rows'][3:]) for q in later)});"
        f" the same checks failed by all three on {len(same)}"
        f" (a later sample passes on {sum(q in later for q in same)})"
    )
    for rule in ("today", "plain-checked", "same-failure", "no-more"):
        for both in (False, True):
            if both and rule in ("today", "plain-checked"):
                continue
            outcomes = []
            for q in questions:
                rows = q["rows"]
                if both:
                    first = rows[0]
                    if instruction_checks(first) and not first["failed"]:
                        outcomes.append((first["right"], 1, _tokens(rows[:1]), "checked-plain"))
                        continue
                outcomes.append(replay(rows, rule))
            right = sum(o[0] for o in outcomes)
            calls = sum(o[1] for o in outcomes) / n
            tokens = sum(o[2] for o in outcomes) / n
            stops: dict[str, int] = {}
            for o in outcomes:
                stops[o[3]] = stops.get(o[3], 0) + 1
            label = f"plain-checked + {rule}" if both else rule
            print(
                f"  {label:30s} {right}/{n} calls {calls:.2f} tokens {tokens / plain_tokens:.2f}×"
                f"  {stops}"
            )


if __name__ == "__main__":
    analyse(Path(sys.argv[1]))
