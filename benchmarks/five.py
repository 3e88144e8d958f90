"""The five questions of issue 13, asked with the default settings on the embedded model.

Command:
    .venv/bin/python benchmarks/five.py

For each: the kind of answer, calls, tokens, wall time, and the wall time of the plain answer
(the run's first draft, the very call ``baseline`` makes), then the answer as the user sees it.
"""

from __future__ import annotations

import asyncio
import time

from _common import machine

from agent import areflect

QUESTIONS = [
    "Write a Python function is_palindrome(s) that ignores case and spaces.",
    "Explain in two sentences why the sky is blue.",
    "Which is heavier: a kilogram of feathers or a kilogram of steel?",
    "Give three short tips for sleeping better.",
    "Which planet is known as the Red Planet? A) Venus B) Mars C) Jupiter D) Saturn. "
    "Answer with one letter.",
]


async def main() -> None:
    print(f"machine: {machine()}")
    await areflect("What is 2 + 2?", mode="baseline")  # load the model first: not a plain answer's cost
    for question in QUESTIONS:
        started = time.perf_counter()
        result = await areflect(question)
        seconds = time.perf_counter() - started
        plain = result.drafts[0]["seconds"]
        tokens = result.usage["input_tokens"] + result.usage["output_tokens"]
        first = result.drafts[0]["input_tokens"] + result.drafts[0]["output_tokens"]
        print(f"\n### {question}")
        print(
            f"kind {result.kind} | {result.usage['calls']} calls | {tokens} tokens "
            f"({tokens / first:.1f}× plain) | {seconds:.0f} s ({seconds / plain:.1f}× plain's "
            f"{plain:.0f} s) | stop: {result.stop_reason}"
        )
        print("reflections:", " / ".join(result.reflections))
        print("answer:\n" + result.output)


if __name__ == "__main__":
    asyncio.run(main())
