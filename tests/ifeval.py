"""IFEval's prompts, and each IFEval instruction said as this project's constraints.

The ids are IFEval's; only the arguments differ in form: IFEval names its kwargs per
instruction (``num_words``, ``let_relation``…) and knows two relations, "less than" and
"at least", where a constraint has ``relation`` and ``n`` and knows five.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.checks.instructions import Constraint

# All 541 where the shared data sets sit beside the checkout (REFLECT_SHARED_DATA, or
# ../shared/data); elsewhere a fixed sample that ships with the tests (every 6th of prompts
# 101-541, Apache-2.0, see tests/data/ifeval/NOTICE), so the tests run in any checkout.
SHARED = Path(
    os.environ.get("REFLECT_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
IFEVAL_ALL = SHARED / "ifeval" / "input_data.jsonl"
IFEVAL_SAMPLE = Path(__file__).resolve().parent / "data" / "ifeval" / "sample.jsonl"
IFEVAL_SAMPLE_SHA256 = "ac0e9a1da33abcecf41c40ea6489848a7c505d9b4943e33c0c7b5c6feb0f7447"
# The options IFEval's constrained_response checker accepts, whatever its prompt lists.
OPTIONS = ["My answer is yes.", "My answer is no.", "My answer is maybe."]


def rows() -> list[dict[str, Any]]:
    """IFEval's prompts: all 541 where they are at hand, else the 74-prompt sample."""
    if IFEVAL_ALL.is_file():
        data = IFEVAL_ALL.read_bytes()
    else:
        data = IFEVAL_SAMPLE.read_bytes()
        assert hashlib.sha256(data).hexdigest() == IFEVAL_SAMPLE_SHA256, "the sample was changed"
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


def kwargs(row: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A row's instructions with their kwargs, the unset ones left out."""
    return [
        (instruction, {k: v for k, v in kw.items() if v is not None})
        for instruction, kw in zip(row["instruction_id_list"], row["kwargs"], strict=True)
    ]


def _bound(n: str, relation: str | None = None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Args of a count: IFEval's kwarg for n, and its kwarg for the relation or the relation."""
    return lambda kw: {"relation": kw.get(relation or "", relation or "exactly"), "n": kw[n]}


_COUNT = {
    "length_constraints:number_words": _bound("num_words", "relation"),
    "length_constraints:number_sentences": _bound("num_sentences", "relation"),
    "length_constraints:number_paragraphs": _bound("num_paragraphs"),
    "detectable_format:number_bullet_lists": _bound("num_bullets"),
    "detectable_format:number_highlighted_sections": _bound("num_highlights", "at least"),
    "detectable_content:number_placeholders": _bound("num_placeholders", "at least"),
    "detectable_format:multiple_sections": _bound("num_sections", "at least"),
    "keywords:frequency": _bound("frequency", "relation"),
    "keywords:letter_frequency": _bound("let_frequency", "let_relation"),
    "change_case:capital_word_frequency": _bound("capital_frequency", "capital_relation"),
}
_MORE: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "length_constraints:number_paragraphs": lambda kw: {"divider": "***"},
    "detectable_format:multiple_sections": lambda kw: {"marker": kw["section_spliter"]},
    "keywords:frequency": lambda kw: {"word": kw["keyword"]},
    "keywords:letter_frequency": lambda kw: {"letter": kw["letter"]},
    "length_constraints:nth_paragraph_first_word": lambda kw: {
        "nth": kw["nth_paragraph"],
        "word": kw["first_word"],
    },
    "detectable_content:postscript": lambda kw: {"marker": kw["postscript_marker"]},
    "detectable_format:constrained_response": lambda kw: {"options": OPTIONS},
    "startend:end_checker": lambda kw: {"phrase": kw["end_phrase"]},
    "combination:repeat_prompt": lambda kw: {"phrase": kw["prompt_to_repeat"]},
    "keywords:forbidden_words": lambda kw: {"words": kw["forbidden_words"]},
    "keywords:existence": lambda kw: {"words": kw["keywords"]},
}


def constraints(instruction: str, kw: dict[str, Any]) -> list[Constraint]:
    """The constraint that says what an IFEval instruction with these kwargs says.

    ``language:response_language`` has none (the agent does not check it).
    ``length_constraints:nth_paragraph_first_word`` is one, the first word; IFEval's checker
    also wants ``num_paragraphs`` paragraphs split on blank lines, which ``paragraphs`` adds.
    """
    if instruction.startswith("language:"):
        return []
    args: dict[str, Any] = {}
    if instruction in _COUNT:
        args |= _COUNT[instruction](kw)
    if instruction in _MORE:
        args |= _MORE[instruction](kw)
    return [Constraint(id=instruction, args=args, label=instruction)]


def paragraphs(instruction: str, kw: dict[str, Any]) -> list[Constraint]:
    """The paragraph count IFEval's first-word checker checks too (split on blank lines)."""
    if instruction != "length_constraints:nth_paragraph_first_word":
        return []
    args = {"relation": "exactly", "n": kw["num_paragraphs"], "divider": "blank line"}
    return [Constraint(id="length_constraints:number_paragraphs", args=args, label="")]
