"""Replay how a run chooses among code samples, offline, on a HumanEval run's saved samples.

Command:
    .venv/bin/python benchmarks/code_choice.py benchmarks/results/tuning-humaneval-125-164.jsonl

Reads the ``prompted`` runs of an ``accuracy.py --task humaneval`` results file (every
sample's text and token confidence are in its drafts), runs each sample's code against the
problem's tests (as ``tasks.humaneval`` scores ``result.output``), and scores the rules a run
could use on the very same samples: the plain answer, the selection call (USC: what the run
returned), the surest sample (highest confidence), the plain answer unless another sample is
surer by a margin, and a confident plain answer returned alone (no samples drawn) at several
thresholds. Tokens count what each rule would have drawn: the plain answer alone, the
samples, or the samples and the selection call.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from pathlib import Path
from statistics import quantiles

sys.path.insert(0, str(Path(__file__).resolve().parent))

from confidence_rules import MEASURES, auroc
from tasks import humaneval

from agent.answers import main_code


def load(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    runs = [r for r in rows if r.get("type") == "run" and r.get("mode") == "prompted"]
    return [r for r in runs if not r.get("error")]


def graded(runs: list[dict]) -> list[dict]:
    """Each run's samples with whether its code passes, its score and its tokens."""
    first = min(int(r["id"].split("/")[1]) for r in runs)
    last = max(int(r["id"].split("/")[1]) for r in runs)
    records, scorer = humaneval(first, last - first + 1)
    by_id = {rec.id: rec for rec in records}
    out = []
    for run in runs:
        record = by_id[run["id"]]
        samples = [d for d in run["drafts"] if d["round"] == 0]
        rows = [
            {
                "passes": scorer(d["output"], record),
                "score": (d.get("confidence") or {}).get("score"),
                "measures": d.get("confidence") or {},
                "code": code_of(d["output"]),
                "tokens": d["input_tokens"] + d["output_tokens"],
            }
            for d in samples
        ]
        total = run["input_tokens"] + run["output_tokens"]
        out.append({"id": run["id"], "samples": rows, "usc": run["correct"], "total": total})
    return out


def code_of(output: str) -> list[str]:
    """The answer's code as tokens, comments and docstrings left out (for the medoid)."""
    code = main_code(output) or output
    code = re.sub(r'("""|\'\'\')(.*?)\1', "", re.sub(r"#.*", "", code), flags=re.S)
    return re.findall(r"\w+|[^\w\s]", code)


def medoid(rows: list[dict]) -> int:
    """The sample most like the others (mean diff ratio of their tokens); ties: the first."""
    if len(rows) < 3:
        return 0
    like = [
        sum(difflib.SequenceMatcher(None, r["code"], o["code"]).ratio() for o in rows if o is not r)
        for r in rows
    ]
    return like.index(max(like))


def surest(rows: list[dict]) -> int:
    scored = [i for i, r in enumerate(rows) if r["score"] is not None]
    return max(scored, key=lambda i: rows[i]["score"]) if scored else 0


def replay(problems: list[dict]) -> list[tuple[str, int, float]]:
    """(rule, problems passed, tokens per problem) for each rule."""
    n = len(problems)
    plain_scores = [p["samples"][0]["score"] for p in problems if p["samples"][0]["score"]]
    cuts = quantiles(plain_scores, n=10) if len(plain_scores) > 1 else []
    table: list[tuple[str, int, float]] = []

    def rule(name: str, pick) -> None:
        passed, tokens = 0, 0.0
        for p in problems:
            ok, cost = pick(p)
            passed += ok
            tokens += cost
        table.append((name, passed, tokens / n))

    drawn = lambda p: sum(r["tokens"] for r in p["samples"])  # noqa: E731
    rule("plain", lambda p: (p["samples"][0]["passes"], p["samples"][0]["tokens"]))
    rule("selection call (USC, as run)", lambda p: (p["usc"], p["total"]))
    rule("surest sample", lambda p: (p["samples"][surest(p["samples"])]["passes"], drawn(p)))
    rule(
        "most like the others (medoid)",
        lambda p: (p["samples"][medoid(p["samples"])]["passes"], drawn(p)),
    )
    for margin in (0.25, 0.5, 1.0):

        def by_margin(p: dict, margin: float = margin) -> tuple[bool, float]:
            rows, best = p["samples"], surest(p["samples"])
            lead = (rows[best]["score"] or 0) - (rows[0]["score"] or 0)
            return (rows[best if lead > margin else 0]["passes"], drawn(p))

        rule(f"plain unless another is surer by > {margin}", by_margin)
    for decile, cut in zip((2, 4, 6, 8), cuts[1::2], strict=False):
        for then, fallback in (("surest", False), ("USC", True)):

            def stop(p: dict, cut: float = cut, fallback: bool = fallback) -> tuple[bool, float]:
                first = p["samples"][0]
                if first["score"] is not None and first["score"] >= cut:
                    return first["passes"], first["tokens"]
                if fallback:
                    return p["usc"], p["total"]
                return p["samples"][surest(p["samples"])]["passes"], drawn(p)

            rule(f"plain alone at ≥ {cut:.2f} (decile {decile}), else {then}", stop)
    return table


def main() -> None:
    problems = graded(load(Path(sys.argv[1])))
    n = len(problems)
    plain_tokens = sum(p["samples"][0]["tokens"] for p in problems) / n
    some = sum(any(r["passes"] for r in p["samples"]) for p in problems)
    missed = sum(
        not p["samples"][0]["passes"] and any(r["passes"] for r in p["samples"]) for p in problems
    )
    print(f"{n} problems; a passing sample on {some}; plain fails while one passes on {missed}")
    every = [r for p in problems for r in p["samples"] if r["measures"]]
    print(
        f"AUROC, passing against failing, over {len(every)} samples: "
        + ", ".join(
            f"{m} {auroc([(r['measures'][m], r['passes']) for r in every]):.2f}" for m in MEASURES
        )
    )
    print("| rule | pass@1 | tokens / q (× plain) |\n|---|---|---|")
    for name, passed, tokens in replay(problems):
        print(
            f"| {name} | {passed}/{n} ({100 * passed / n:.1f}%) | {tokens:.0f} "
            f"({tokens / plain_tokens:.2f}×) |"
        )


if __name__ == "__main__":
    main()
