"""Replay the tally's rules on collected samples (``confidence_tuning.py collect``), offline.

For each measure of ``agent.confidence``, how well it tells right answers from wrong ones
(AUROC), then a grid of rules: the stop threshold for a lone plain answer, the weight
temperature of the vote, and how many program samples, scored by accuracy, calls and
tokens against the plain answer. The rule replayed is ``agent.strategies.sampling._decide``
for a model that draws one sample at a time (the embedded one), effort ``medium``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

MEASURES = ("mean", "lowest", "tail", "certainty", "logprob")


def auroc(pairs: list[tuple[float, bool]]) -> float:
    right = [s for s, ok in pairs if ok]
    wrong = [s for s, ok in pairs if not ok]
    if not right or not wrong:
        return float("nan")
    wins = sum((r > w) + 0.5 * (r == w) for r in right for w in wrong)
    return wins / (len(right) * len(wrong))


def sequence(rows: list[dict], programs: int) -> list[dict]:
    """The samples in the order a run draws them: plain, programs, then prose samples."""
    plain = [r for r in rows if r["how"] == "plain"]
    progs = sorted((r for r in rows if r["how"] == "program"), key=lambda r: r["index"])
    prose = [r for r in rows if r["how"] == "sample"]
    return plain + progs[:programs] + prose[: 4 - min(programs, len(progs))]


def kind_of(row: dict) -> str:
    return "program" if row["how"] == "program" else "prose"


def centres(questions: list[dict], measure: str) -> dict[str, tuple[float, float]]:
    """Each sample kind's mean and spread of ``measure`` (prose and programs differ in scale)."""
    out = {}
    for kind in ("prose", "program"):
        xs = [
            (r["confidence"] or {}).get(measure)
            for q in questions
            for r in q["rows"]
            if kind_of(r) == kind
        ]
        xs = [x for x in xs if x is not None]
        if len(xs) > 1:
            mu = sum(xs) / len(xs)
            sd = (sum((x - mu) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5 or 1.0
            out[kind] = (mu, sd)
    return out


def weights(
    drawn: list[dict], measure: str, temperature: float, scale: dict | None
) -> list[float] | None:
    scores = [(r["confidence"] or {}).get(measure) for r in drawn]
    if any(s is None for s in scores):
        return None
    if scale:
        scores = [
            (s - scale[kind_of(r)][0]) / scale[kind_of(r)][1] for s, r in zip(scores, drawn)
        ]
    top = max(scores)
    return [math.exp((s - top) / temperature) for s in scores]


def support(
    drawn: list[dict], measure: str, temperature: float | None, scale: dict | None = None
) -> Counter:
    counted = [r for r in drawn if not r["failed"] and r["key"]] or [r for r in drawn if r["key"]]
    total: Counter = Counter()
    w = (
        weights(counted, measure, temperature, scale)
        if temperature is not None and counted
        else None
    )
    for i, r in enumerate(counted):
        total[r["key"]] += w[i] if w else 1.0
    return total


def replay(
    rows: list[dict],
    *,
    programs: int,
    stop_at: float | None,
    measure: str,
    temperature: float | None,
    scale: dict | None = None,
    samples: int = 3,
    max_samples: int = 5,
    agree: str = "off",
) -> tuple[bool, int, int]:
    """(right, calls, tokens) of one question under one rule.

    ``agree`` replays a stop on the plain answer and the first program sample agreeing
    (drawn first, together): ``off`` never; ``any`` whenever they agree, and no lone stop;
    ``confident`` when they agree and the plain answer is confident, and no lone stop;
    ``or`` the lone stop as today, and else a stop when they agree.
    """
    order = sequence(rows, programs)
    drawn: list[dict] = []

    def sure(r: dict) -> bool:
        score = (r["confidence"] or {}).get(measure)
        return stop_at is not None and score is not None and score >= stop_at

    for r in order:
        drawn.append(r)
        if len(drawn) == 1 and agree in ("off", "or") and sure(r) and not r["failed"] and r["key"]:
            break
        if len(drawn) == 2 and agree != "off" and r["how"] == "program":
            plain = drawn[0]
            same = not plain["failed"] and not r["failed"] and plain["key"] == r["key"] != ""
            if same and (agree != "confident" or sure(plain)):
                break
        if len(drawn) < samples:
            continue
        passed = [d for d in drawn if not d["failed"]]
        if len(passed) == 1 < len(drawn):
            break
        counts = sorted(
            Counter(d["key"] for d in (passed or drawn) if d["key"]).values(), reverse=True
        )
        if len(counts) <= 1:
            break
        lead = counts[0] - counts[1]
        if len(drawn) < max_samples and lead <= max_samples - len(drawn):
            continue
        break
    backing = support(drawn, measure, temperature, scale)
    if backing:
        best = max(backing.values())
        top = {k for k, v in backing.items() if math.isclose(v, best)}
        chosen = next(d for d in drawn if d["key"] in top)
    else:
        chosen = drawn[0]
    tokens = sum(d["input_tokens"] + d["output_tokens"] for d in drawn)
    return chosen["right"], len(drawn), tokens


def analyse(path: Path) -> None:
    questions = [json.loads(line) for line in path.read_text().splitlines()]
    n = len(questions)
    print(f"{path.name}: {n} questions")
    for how in ("plain", "sample", "program"):
        rows = [r for q in questions for r in q["rows"] if r["how"] == how]
        if rows:
            right = sum(r["right"] for r in rows)
            print(
                f"  {how}: {right}/{len(rows)} right ({right / len(rows):.1%}),"
                f" {sum(r['input_tokens'] + r['output_tokens'] for r in rows) / len(rows):.0f} tokens each"
            )
    for idx in (0, 1):
        rows = [
            r for q in questions for r in q["rows"] if r["how"] == "program" and r["index"] == idx
        ]
        if rows:
            print(
                f"  program {idx}: {sum(r['right'] for r in rows)}/{len(rows)};"
                f" no number {sum(bool(r['failed']) for r in rows)}"
            )
    print("AUROC (right vs wrong), plain answers | all prose samples | programs:")
    for m in MEASURES:
        cells = []
        for hows in (("plain",), ("plain", "sample"), ("program",)):
            pairs = [
                ((r["confidence"] or {}).get(m), r["right"])
                for q in questions
                for r in q["rows"]
                if r["how"] in hows and r["key"]
            ]
            pairs = [(s, ok) for s, ok in pairs if s is not None]
            cells.append(f"{auroc(pairs):.3f}")
        print(f"  {m:10s} " + " | ".join(cells))
    plain_tokens = (
        sum(q["rows"][0]["input_tokens"] + q["rows"][0]["output_tokens"] for q in questions) / n
    )
    plain_right = sum(q["rows"][0]["right"] for q in questions)
    print(f"plain: {plain_right}/{n}, {plain_tokens:.0f} tokens/q")
    results = []
    for measure in MEASURES:
        scores = sorted(
            {(q["rows"][0]["confidence"] or {}).get(measure) for q in questions} - {None}
        )
        if not scores:
            continue
        cuts = [None] + [scores[int(len(scores) * f)] for f in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)]
        for programs, agree in [(0, "off"), (1, "off"), (2, "off")] + [
            (p, a) for p in (1, 2) for a in ("any", "confident", "or")
        ]:
            for stop_at in cuts:
                if stop_at is None and agree in ("confident", "or"):
                    continue
                for temperature, scaled in [(None, False)] + [
                    (t, z) for t in (0.25, 0.5, 1.0, 2.0) for z in (False, True)
                ]:
                    scale = centres(questions, measure) if scaled else None
                    outcome = [
                        replay(
                            q["rows"],
                            programs=programs,
                            stop_at=stop_at,
                            measure=measure,
                            temperature=temperature,
                            scale=scale,
                            agree=agree,
                        )
                        for q in questions
                    ]
                    right = sum(o[0] for o in outcome)
                    calls = sum(o[1] for o in outcome) / n
                    tokens = sum(o[2] for o in outcome) / n
                    label = f"{temperature}{'z' if scaled else ''}" if temperature else "count"
                    results.append(
                        (
                            right,
                            -tokens,
                            measure,
                            f"{programs} agree={agree}",
                            stop_at,
                            label,
                            calls,
                            tokens,
                        )
                    )
    results.sort(key=lambda r: (r[0], r[1]), reverse=True)
    print("best rules (right, calls/q, tokens ×plain):")
    for right, _, measure, programs, stop_at, temperature, calls, tokens in results[:25]:
        print(
            f"  {right}/{n} {measure} programs={programs} stop_at={stop_at} T={temperature}"
            f" calls={calls:.2f} tokens={tokens / plain_tokens:.2f}×"
        )
    cheap = [r for r in results if r[7] <= 2.5 * plain_tokens]
    print("best at ≤2.5× plain tokens:")
    for right, _, measure, programs, stop_at, temperature, calls, tokens in cheap[:15]:
        print(
            f"  {right}/{n} {measure} programs={programs} stop_at={stop_at} T={temperature}"
            f" calls={calls:.2f} tokens={tokens / plain_tokens:.2f}×"
        )
