"""What every instruction is made of: the constraint it reads, its checker and its unit."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from typing_extensions import TypedDict


class Constraint(TypedDict):
    """One checkable instruction: what it is (``id``), its arguments and a label to show."""

    id: str
    args: dict[str, Any]
    label: str


Checker = Callable[[str, dict[str, Any]], tuple[bool, str] | None]
"""``(answer, args) -> (passed, detail)``, the detail a short phrase saying what is wrong;
``None`` where the answer has nothing the instruction can be counted on (the items of a list
given inline, in a sentence: no check is made, and none is failed)."""

Repair = Callable[[str, dict[str, Any]], str]
"""``(answer, args) -> answer``: the answer made to meet the instruction without new content."""

Extend = Callable[[str, dict[str, Any]], tuple[str, int] | None]
"""``(answer, args) -> (prefix, words)``: the text the model writes on from to meet the
instruction with its own words (the answer itself, or the answer and a ``P.S.``), and about
how many words that takes; ``None`` where writing on cannot meet it (too many sentences, the
marker already there)."""

Reader = Callable[[str], list[Constraint]]
"""The constraints of one instruction a question states (read from ``reading.plain`` text)."""


@dataclass(frozen=True)
class Instruction:
    """One instruction: its IFEval id, the rule that reads it and the code that checks it.

    Attributes:
        id: IFEval's id (``punctuation:no_comma``), or one in its style where IFEval has none.
        read: Finds the instruction in a question's plain text.
        check: Tests an answer against one constraint's args.
        on_a_part: What the instruction says of the whole reply when a clause states it of
            a part ("after the code, in one sentence"): ``"lower bound"`` for a count that
            more material only raises, ``"anywhere"`` for what holds wherever it is met,
            ``"nothing"`` for the rest (an upper bound, a case, JSON).
        prose: Whether it counts prose (words, sentences, paragraphs), which a reply with
            code cannot be told apart from.
        verbatim: Whether it reads the question as asked, after the others, rather than its
            plain text (the request to repeat is copied character for character).
        in_questions: Whether it also reads the question's own questions, which the plain
            text leaves out ("What are three ways to save money?" asks for three), where
            the rest of the question states it nowhere.
        repair: Makes an answer meet the instruction by code alone, where that needs no new
            content (a case, the quotation marks, the answer's paragraphs between ``***``);
            ``None`` where it would (a postscript, a number of words).
        extend: Where more of the model's own text meets the instruction (too few
            sentences or words, no postscript), the text it writes on from; see
            ``agent.checks.instructions.continuation``.
        reopen: What writing on takes off the answer's end before the model goes on (the
            phrase to end with, the closing quotation marks), which ``repair`` puts back
            after it.
    """

    id: str
    read: Reader
    check: Checker
    on_a_part: Literal["lower bound", "anywhere", "nothing"] = "nothing"
    prose: bool = False
    verbatim: bool = False
    in_questions: bool = False
    repair: Repair | None = None
    extend: Extend | None = None
    reopen: Repair | None = None


def make(id_: str, label: str, **args: Any) -> Constraint:
    """A constraint of instruction ``id_`` with ``label`` and ``args``."""
    return Constraint(id=id_, args=args, label=label)


def counted(id_: str, noun: str, pairs: list[tuple[str, int]], **more: Any) -> list[Constraint]:
    """One constraint per bound: "at least 3 {noun}", with ``relation`` and ``n`` in its args.

    ``noun`` is plural; for a count of 1 its first plural word loses its ``s``: "exactly 1
    sentence", "at least 1 time 'cat'".
    """
    one = re.sub(r"(?<=\w)s\b", "", noun, count=1)
    return [
        make(id_, f"{relation} {n} {one if n == 1 else noun}", relation=relation, n=n, **more)
        for relation, n in pairs
    ]
