"""Collect what tunes the confidence rules: every sample's answer, checks and token confidence.

Commands (the tuning slices; never the reported ones):
    .venv/bin/python benchmarks/confidence_tuning.py collect --task gsm8k --limit 40
    .venv/bin/python benchmarks/confidence_tuning.py collect --task humaneval --offset 80 --limit 40
    .venv/bin/python benchmarks/confidence_tuning.py analyse benchmarks/results/tuning-gsm8k-1-40.jsonl
    .venv/bin/python benchmarks/confidence_tuning.py collect --task gsm8k --limit 50 \
        --programs-only --prompts DIR --suffix=-DIR   # another program prompt, on the same slice
    .venv/bin/python benchmarks/confidence_tuning.py collect --task gsm8k --limit 50 \
        --samples 0 --programs 0 --question-template FILE --suffix=-plan   # another way to ask

``collect`` draws, per question, exactly what a run draws (the same prompts, temperatures
and seeds as ``agent.strategies.sampling``): the plain answer (index 0, greedy), sampled
solutions 1..N (temperature 0.7, seed = index) and, for numbers, program samples (the
``program_user`` prompt). Each is scored against the reference and carries its checks and
confidence. ``analyse`` replays the stopping and voting rules on those samples offline, so a
threshold is chosen on this slice and reported on another. Interrupted runs resume.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from langchain_core.messages import HumanMessage
from tasks import TASKS

from agent import answers, checks
from agent.calls import make_draft
from agent.context import SAMPLE_TEMPERATURE
from agent.local import local_chat_model
from agent.programs import program_messages, program_sample
from agent.prompts import load_prompts
from agent.scoring import kind_of_record, score

HERE = Path(__file__).resolve().parent


def collect(args: argparse.Namespace) -> None:
    records, scorer = TASKS[args.task](args.offset, args.limit)
    name = f"tuning-{args.task}-{args.offset + 1}-{args.offset + args.limit}{args.suffix}"
    out = HERE / "results" / f"{name}.jsonl"
    done = (
        {json.loads(line)["id"] for line in out.read_text().splitlines()} if out.exists() else set()
    )
    model = local_chat_model("", progress=False)
    prompts = load_prompts(args.prompts)
    for record in records:
        if record.id in done:
            continue
        kind = kind_of_record(record)
        rows = []
        plans = [("plain", 0)] + [("sample", i) for i in range(1, args.samples + 1)]
        if args.programs_only:
            plans = []
        if kind == "number":
            plans += [("program", i) for i in range(args.programs)]
        for how, index in plans:
            seeded = model
            if index > 0:
                seeded = model.model_copy(update={"temperature": SAMPLE_TEMPERATURE, "seed": index})
            started = time.perf_counter()
            if how == "program":
                messages = program_messages(prompts, record.question)
            else:
                asked = args.template.format(question=record.question) if args.template else None
                messages = [HumanMessage(asked or record.question)]
            reply = seeded.invoke(messages)
            seconds = time.perf_counter() - started
            draft = make_draft(index, 0, reply, seconds)
            if how == "program":
                draft = program_sample(draft, run_code=False)
            found = (
                checks.run_checks(
                    record.question,
                    draft["text"],
                    draft["output"],
                    kind=kind,
                    constraints=checks.extract(record.question),
                    run_code=False,
                )
                if how != "program"
                else draft["checks"]
            )
            if scorer is not None:
                right = scorer(draft["output"], record)
            else:
                right = score(draft["output"], record)
            rows.append(
                {
                    "how": how,
                    "index": index,
                    "key": answers.key(draft["output"], kind, record.question)
                    if kind in answers.KEYED
                    else "",
                    "right": bool(right),
                    "failed": [c["detail"] or c["name"] for c in checks.failed(found)],
                    "checked": [f"{c['kind']}: {c['name']}" for c in found],
                    "failed_names": [c["name"] for c in checks.failed(found)],
                    "confidence": draft.get("confidence"),
                    "input_tokens": draft["input_tokens"],
                    "output_tokens": draft["output_tokens"],
                    "seconds": round(seconds, 2),
                }
            )
        with out.open("a") as handle:
            handle.write(json.dumps({"id": record.id, "kind": kind, "rows": rows}) + "\n")
        print(record.id, [(r["how"], r["key"], r["right"]) for r in rows], file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--task", choices=sorted(TASKS), default="gsm8k")
    c.add_argument("--offset", type=int, default=0)
    c.add_argument("--limit", type=int, default=40)
    c.add_argument("--samples", type=int, default=4)
    c.add_argument("--programs", type=int, default=2)
    c.add_argument("--programs-only", action="store_true", help="draw the program samples only")
    c.add_argument("--prompts", default=None, help="a prompts folder to draw with instead")
    c.add_argument("--suffix", default="", help="added to the results file's name")
    c.add_argument(
        "--question-template",
        dest="template",
        type=lambda path: Path(path).read_text(encoding="utf-8"),
        default=None,
        help="a file whose {question} the prose solutions are asked with instead of the bare one",
    )
    a = sub.add_parser("analyse")
    a.add_argument("path")
    args = parser.parse_args()
    if args.command == "collect":
        collect(args)
    else:
        from confidence_rules import analyse

        analyse(Path(args.path))


if __name__ == "__main__":
    main()
