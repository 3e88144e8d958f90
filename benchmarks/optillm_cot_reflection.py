"""Side by side with optillm's ``cot_reflection`` on GSM8K, through a local OpenAI-style server.

Command (server: ``.venv/bin/python -m llama_cpp.server --model MODEL.gguf --port PORT
--n_ctx 4096 --model_alias qwen``):
    /tmp/optillm-venv/bin/python benchmarks/optillm_cot_reflection.py \
        --server http://127.0.0.1:PORT/v1 --model qwen --limit 50 \
        --out benchmarks/results/optillm-cot-reflection-50.jsonl

Runs in optillm's own venv (``pip install --no-deps optillm openai``), not in the project's:
it imports nothing from ``agent``. Reads ../shared/data/gsm8k/test.jsonl, calls
``cot_reflection`` once per question (temperature 0, 1024 new tokens at most), appends one
JSON line per question to --out and skips ids already there, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import sys
import time
import types
from importlib.metadata import version
from pathlib import Path

from openai import OpenAI

HERE = Path(__file__).resolve().parent
GSM8K = HERE.parents[1] / "shared" / "data" / "gsm8k" / "test.jsonl"


def load_cot_reflection():
    # optillm/__init__.py imports its proxy server (flask, torch, ...); cot_reflection.py itself
    # only needs optillm.conversation_logger. A bare package stub skips __init__.py.
    spec = importlib.util.find_spec("optillm")
    stub = types.ModuleType("optillm")
    stub.__path__ = list(spec.submodule_search_locations)
    sys.modules["optillm"] = stub
    from optillm.cot_reflection import cot_reflection

    return cot_reflection


class RecordingClient:
    """Passes chat.completions.create through to an OpenAI client and keeps each response."""

    def __init__(self, client: OpenAI):
        self.client = client
        self.responses: list = []
        self.chat = types.SimpleNamespace(completions=types.SimpleNamespace(create=self.create))

    def create(self, **request):
        response = self.client.chat.completions.create(**request)
        self.responses.append(response)
        return response


BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
SAID = re.compile(r"answer\s+is\s*:?\s*([^\n]*)", re.IGNORECASE)
NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")


def answer_number(text: str) -> float | None:
    """The last \\boxed{} or "answer is ..." (its first number), else the last number."""
    marked = BOXED.findall(text) or SAID.findall(text)
    source = marked[-1] if marked else text
    # Commas and $ go; float() makes "18.0" equal to "18".
    numbers = [n.replace(",", "").replace("$", "") for n in NUMBER.findall(source)]
    if not numbers:
        return None
    return float(numbers[0] if marked else numbers[-1])


def is_correct(output: str, expected: str) -> bool:
    got, want = answer_number(output), answer_number(expected)
    return got is not None and want is not None and abs(got - want) < 1e-6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True, help="e.g. http://127.0.0.1:8765/v1")
    parser.add_argument("--model", default="qwen")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, default=GSM8K)
    parser.add_argument("--system", default="", help="system prompt passed to cot_reflection")
    args = parser.parse_args()

    cot_reflection = load_cot_reflection()
    api_key = os.environ.get("OPENAI_API_KEY", "none")
    client = RecordingClient(OpenAI(base_url=args.server, api_key=api_key, timeout=3600))
    lines = args.dataset.read_text().splitlines()[: args.limit]
    ids = [f"{args.dataset.name}:{n}" for n in range(1, len(lines) + 1)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                done[record["id"]] = record

    for id_, line in zip(ids, lines, strict=True):
        if id_ in done:
            continue
        item = json.loads(line)
        expected = item["answer"].split("#### ")[-1].strip()
        client.responses.clear()
        started = time.perf_counter()
        output, completion_tokens = cot_reflection(
            args.system,
            item["question"],
            client,
            args.model,
            request_config={"temperature": 0, "max_tokens": 1024},
        )
        seconds = time.perf_counter() - started
        usage = [r.usage for r in client.responses if r.usage]
        record = {
            "id": id_,
            "question": item["question"],
            "expected": expected,
            "output": output,
            "correct": is_correct(output, expected),
            "response": "\n".join(r.choices[0].message.content or "" for r in client.responses),
            "completion_tokens": completion_tokens,
            "prompt_tokens": sum(u.prompt_tokens for u in usage) if usage else None,
            "calls": len(client.responses),
            "seconds": round(seconds, 2),
        }
        with args.out.open("a") as f:
            f.write(json.dumps(record) + "\n")
        done[id_] = record
        print(
            f"{id_}: {'right' if record['correct'] else 'wrong'} "
            f"({completion_tokens} tok, {seconds:.1f} s)",
            flush=True,
        )

    records = [done[i] for i in ids if i in done]
    n = len(records)
    prompt = [r["prompt_tokens"] for r in records if r["prompt_tokens"] is not None]
    right = sum(is_correct(r["output"], r["expected"]) for r in records)
    print(f"optillm {version('optillm')} cot_reflection, model {args.model}, {n} questions")
    print(f"accuracy: {right}/{n} = {right / n:.1%}")
    print(f"mean completion tokens: {sum(r['completion_tokens'] for r in records) / n:.0f}")
    print(
        f"mean prompt tokens: {sum(prompt) / len(prompt):.0f}"
        if prompt
        else "mean prompt tokens: n/a"
    )
    print(f"mean seconds per question: {sum(r['seconds'] for r in records) / n:.1f}")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
