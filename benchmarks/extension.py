"""Replay writing on (``agent.extension.write_on``) on plain IFEval answers, with the real model.

Command (the tuning slices; never the reported one):
    REFLECT_SHARED_DATA=../shared/data .venv/bin/python benchmarks/extension.py \
        benchmarks/results/tuning-ifeval-101-150-plain.jsonl \
        benchmarks/results/tuning-ifeval-151-250-plain.jsonl

Each plain answer goes through what the default's first sample does after its call: the
repairs and checks (``calls.with_checks``), then, where it falls short only of sentences,
words or a postscript, the model writing on until it meets them. Each is scored by IFEval's
own checkers before and after, with the tokens the extra call cost.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine
from langchain_core.messages import AIMessage, HumanMessage
from tasks import ifeval

from agent import checks
from agent.calls import make_draft, with_checks
from agent.extension import write_on
from agent.models import aresolve_model


async def main(paths: list[Path]) -> None:
    print(f"machine: {machine()}")
    model = await aresolve_model("local:qwen2.5-coder-1.5b", temperature=0)
    records, strict = ifeval(0, 10_000)
    by_id = {r.id: r for r in records}
    settings: Any = SimpleNamespace(run_code=False)
    for path in paths:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        rows = [r for r in rows if r.get("type") == "run"]
        tried = right_before = right_after = passed = tokens = plain_tokens = 0
        for row in rows:
            record = by_id[row["id"]]
            task = {"asked": record.question, "kind": "text"}
            task["constraints"] = checks.extract(record.question)
            draft = make_draft(0, 0, AIMessage(row["output"]), 0.0)
            draft = await with_checks(draft, task, settings)
            plain_tokens += row["input_tokens"] + row["output_tokens"]
            longer, usage = await write_on(
                draft, task, settings, model, [HumanMessage(record.question)]
            )
            if usage is None:
                continue
            tried += 1
            tokens += usage["input_tokens"] + usage["output_tokens"]
            before, after = strict(draft["output"], record), strict(longer["output"], record)
            right_before += before
            right_after += after
            passed += not checks.failed(longer["checks"])
            kept = longer is not draft
            print(
                f"{record.id}: {'kept' if kept else 'not kept'}; IFEval {before}→{after}; "
                f"{usage['output_tokens']} tokens written; "
                f"{[c['name'] for c in checks.failed(draft['checks'])]}",
                flush=True,
            )
        print(
            f"{path.name}: {len(rows)} plain answers; written on {tried}; pass every check "
            f"after {passed}; IFEval right {right_before}→{right_after}; the extra calls cost "
            f"{tokens} tokens ({tokens / max(plain_tokens, 1):.1%} of the plain answers')",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main([Path(p) for p in sys.argv[1:]]))
