r"""Instructions a question states that code can check, keyed by IFEval's ids.

``extract`` reads the instructions out of the question with rules (the phrasings people and
IFEval use: "no commas", "at least 300 words", "in all lowercase letters", "exactly 3 bullet
points", "use the word war at least 8 times", "wrap your entire response in JSON"…).
``check`` then tests an answer against each one with plain code, and says exactly what
failed: ``2 commas; none allowed``.

Each instruction is one unit (``base.Instruction``): its IFEval id, the rule that reads it,
its checker, and what it says of the whole reply when stated of a part. The units sit in one
module per IFEval group (``punctuation``, ``change_case``, ``length_constraints``,
``detectable_format``, ``detectable_content``, ``startend``, ``combination``, ``keywords``);
``INSTRUCTIONS`` lists them in the order ``extract`` reads them. A new instruction is a unit in
its group's module and a line here.

The checkers count the way IFEval's official checkers do (``tests/test_instruction_parity.py``
compares them on IFEval's prompts), so that a check the agent passes is one the benchmark
passes. "Less than" is strict.

An instruction about one part of the answer is not one about the whole: "after the code, say
in one sentence…" does not make the reply one sentence long (see ``parts``).

Args of the constraints (``relation`` is one of "at least", "more than", "at most",
"less than", "exactly"; a count ``n`` goes with it):

- ``punctuation:no_comma``, ``change_case:english_lowercase`` / ``english_capital``,
  ``detectable_format:title`` / ``json_format``, ``startend:quotation``,
  ``combination:two_responses``: none.
- ``length_constraints:number_words`` / ``number_sentences``,
  ``detectable_format:number_bullet_lists`` / ``number_highlighted_sections``,
  ``detectable_content:number_placeholders``, ``change_case:capital_word_frequency``,
  ``detectable_format:number_items`` (IFEval has none: "give three tips", the items of a
  list): ``relation``, ``n``.
- ``length_constraints:number_paragraphs``: ``relation``, ``n``, ``divider`` ("***" or
  "blank line").
- ``length_constraints:nth_paragraph_first_word``: paragraph ``nth`` (-1: the last) starts
  with ``word``.
- ``detectable_format:multiple_sections``: ``relation``, ``n``, ``marker`` (sections marked
  ``marker`` 1, ``marker`` 2…).
- ``detectable_content:postscript``: ``marker`` (P.S. or P.P.S).
- ``startend:end_checker`` / ``startend:start_checker`` / ``combination:repeat_prompt``:
  ``phrase`` (the request to repeat, for the last).
- ``keywords:forbidden_words`` / ``keywords:existence``: ``words``.
- ``keywords:frequency``: ``word``, ``relation``, ``n``; ``keywords:letter_frequency``:
  ``letter``, ``relation``, ``n``.
- ``detectable_format:constrained_response``: ``options`` ("My answer is yes.").

Example:
    >>> found = extract("Describe a cat in at most 50 words. Do not use any commas.")
    >>> [c["id"] for c in found]
    ['punctuation:no_comma', 'length_constraints:number_words']
    >>> [c["label"] for c in found]
    ['no commas', 'at most 50 words']
    >>> [(c["passed"], c["detail"]) for c in check("A cat, a mat.", found)]
    [(False, '1 comma; none allowed'), (True, '')]
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from agent.checks.instructions import (
    change_case,
    combination,
    detectable_content,
    detectable_format,
    keywords,
    length_constraints,
    punctuation,
    startend,
)
from agent.checks.instructions.base import Checker, Constraint, Instruction
from agent.checks.instructions.counting import ends_sentence
from agent.checks.instructions.parts import ASKS_CODE, WHOLE, part_spans, sound_for_a_part
from agent.checks.instructions.reading import plain
from agent.result import Check

__all__ = [
    "CHECKERS",
    "INSTRUCTIONS",
    "Checker",
    "Constraint",
    "Continuation",
    "Instruction",
    "check",
    "continuation",
    "extract",
    "repair",
]

INSTRUCTIONS: dict[str, Instruction] = {
    i.id: i
    for i in (
        punctuation.NO_COMMA,
        change_case.LOWERCASE,
        change_case.UPPERCASE,
        length_constraints.WORDS,
        length_constraints.SENTENCES,
        length_constraints.PARAGRAPHS,
        length_constraints.FIRST_WORD,
        detectable_format.BULLETS,
        detectable_format.ITEMS,
        detectable_format.HIGHLIGHTS,
        detectable_content.PLACEHOLDERS,
        detectable_format.SECTIONS,
        detectable_format.TITLE,
        detectable_content.POSTSCRIPT,
        detectable_format.JSON,
        startend.ENDS_WITH,
        startend.STARTS_WITH,
        startend.QUOTED,
        combination.TWO_RESPONSES,
        keywords.FORBIDDEN,
        keywords.REQUIRED,
        keywords.WORD_FREQUENCY,
        keywords.LETTER_FREQUENCY,
        change_case.CAPITAL_WORDS,
        detectable_format.ONE_OF,
        combination.REPEAT,
    )
}
"""Every instruction by its id, in the order ``extract`` reads them."""

# The order repairs are tried in: the answer's own text laid out first (bullet points, the
# sentences put in italics, sections, then paragraphs, which keep the sections), then text
# added before and after it, then what changes all of it (commas, case), the quotation marks
# around the whole last.
_REPAIRS = (
    detectable_format.BULLETS,
    detectable_format.HIGHLIGHTS,
    detectable_format.SECTIONS,
    length_constraints.PARAGRAPHS,
    combination.REPEAT,
    startend.ENDS_WITH,
    punctuation.NO_COMMA,
    change_case.LOWERCASE,
    change_case.UPPERCASE,
    startend.QUOTED,
)

CHECKERS: dict[str, Checker] = {id_: i.check for id_, i in INSTRUCTIONS.items()}
"""The checker of each instruction id: ``(answer, args) -> (passed, detail)``."""


def _by_rules(text: str) -> list[Constraint]:
    found: list[Constraint] = []
    for instruction in INSTRUCTIONS.values():
        if instruction.verbatim:
            continue
        for constraint in instruction.read(text):
            if constraint not in found:
                found.append(constraint)
    return found


def extract(question: str) -> list[Constraint]:
    """The checkable instructions a question states, by rules; ``[]`` when it states none.

    Args:
        question: The user's question, as asked.

    Returns:
        One constraint per instruction found, in the order of ``INSTRUCTIONS``; an instruction
        with a range ("3 to 5 times") gives two, a lower and an upper bound. An instruction
        about a part of the answer ("after the code, say in one sentence…", "the title
        should…") comes last, and only as far as the whole reply must meet it: its lower bound
        ("at least 3 bullet points" for "then give exactly 3 examples as bullet points"), or a
        keyword, title or postscript; else it is left out.

    Example:
        >>> [c["label"] for c in extract("Describe a cat in at most 50 words. No commas.")]
        ['no commas', 'at most 50 words']
    """
    text = plain(question)
    spans = part_spans(text)
    whole = text
    for start, end in spans:
        whole = whole[:start] + " " * (end - start) + whole[end:]
    found = _by_rules(whole)
    parts = [c for c in _by_rules(text) if c not in found] if spans else []
    # Not the plain text: that blanks the spec of the code ("Write a function that…").
    if ASKS_CODE.search(question) and not WHOLE.search(question):
        parts += [c for c in found if INSTRUCTIONS[c["id"]].prose]
        found = [c for c in found if not INSTRUCTIONS[c["id"]].prose]
    for part in parts:
        sound = sound_for_a_part(part, INSTRUCTIONS[part["id"]])
        if sound and sound not in found:
            found.append(sound)
    asked = "\n".join(re.findall(r"[^.!?\n]*\?", question))
    for instruction in INSTRUCTIONS.values() if asked else ():
        if instruction.in_questions and not any(c["id"] == instruction.id for c in found):
            found += [c for c in instruction.read(asked) if c not in found]
    for instruction in INSTRUCTIONS.values():
        if not instruction.verbatim:
            continue
        for constraint in instruction.read(question):  # the request to repeat is copied
            if constraint not in found:
                found.append(constraint)
    return found


def check(answer: str, constraints: list[Constraint]) -> list[Check]:
    """Test ``answer`` against each constraint with plain code.

    Args:
        answer: The answer to test.
        constraints: What ``extract`` found in the question.

    Returns:
        One check per constraint, in order, but for those the answer gives nothing to check
        on (``base.Checker``); a failed one says in ``detail`` what is wrong.
    """
    results = []
    for constraint in constraints:
        found = INSTRUCTIONS[constraint["id"]].check(answer, constraint["args"])
        if found is not None:
            passed, detail = found
            results.append(
                Check(kind="constraint", name=constraint["label"], passed=passed, detail=detail)
            )
    return results


def repair(answer: str, constraints: list[Constraint]) -> tuple[str, list[str]]:
    """The answer made to meet, by code alone, the instructions it fails that code can meet.

    Code meets an instruction only where that needs no new content: the answer's own text
    laid out as the bullet points, highlighted sentences, paragraphs or sections asked for,
    the request repeated before it, the phrase to end with, no commas, one case, the quotation
    marks around it. A case asked for is kept through the others (text added is put in it too). Each
    repair is kept only if afterwards fewer instructions fail and none that held fails
    (repeating a request with commas and no commas cannot both hold). An answer with a fenced
    code block is left alone: its code would break.

    Args:
        answer: The answer to repair.
        constraints: What ``extract`` found in the question.

    Returns:
        The repaired answer (``answer`` itself when nothing was kept), and the labels of the
        instructions the repairs met.

    Example:
        >>> asked = extract("Describe a cat. Use only lowercase letters and no commas.")
        >>> repair("A cat, a mat.", asked)
        ('a cat a mat.', ['no commas', 'all lowercase'])
    """
    if not answer.strip() or _FENCE.search(answer):
        return answer, []  # quotation marks around nothing would pass, and say nothing
    failed = _failed(answer, constraints)
    met: list[str] = []
    for instruction in _REPAIRS:
        for i, constraint in enumerate(constraints):
            if constraint["id"] == instruction.id and i in failed and instruction.repair:
                attempt = _in_case(instruction.repair(answer, constraint["args"]), constraints)
                now = _failed(attempt, constraints)
                if now < failed:
                    met += [constraints[j]["label"] for j in sorted(failed - now)]
                    answer, failed = attempt, now
    return answer, met


_FENCE = re.compile(r"^[ \t]*(?:```|~~~)", re.MULTILINE)


class Continuation(NamedTuple):
    """Where the model writes on from to meet what an answer fails, and when it stops.

    Attributes:
        prefix: The text the model continues: its own answer (without what a repair puts
            at its end: the phrase to end with, the closing quotation marks), and the marker
            of the postscript it lacks.
        labels: The instructions writing on is to meet.
        why: ``why(reply)``, the reply written after ``prefix``: why it does not meet them,
            in a few words (it looped, it stopped mid-sentence, what it broke, what it is
            still short of); ``""`` where the whole, repaired by code as any answer is,
            passes every instruction, the reply has just ended a sentence, and it is not
            caught in a loop (``met``).
        until: ``until(reply)``: whether to stop now. True once ``met``, or as soon as
            writing on has broken what held and code cannot repair, or loops (the same few
            characters over and over: a small model barred from ending can fall into one).
    """

    prefix: str
    labels: list[str]
    until: Callable[[str], bool]
    why: Callable[[str], str]

    def met(self, reply: str) -> bool:
        """Whether ``reply`` meets what the answer failed (``why`` finds nothing)."""
        return not self.why(reply)


def continuation(
    answer: str, constraints: list[Constraint], most_words: int
) -> Continuation | None:
    """How the model can meet, with more of its own text, the instructions an answer fails.

    Too few sentences or words, or no postscript, need new content that code cannot write,
    but not a new answer: the model writes on from where it stopped, so the answer it gave
    stays. Only where every instruction the answer fails after ``repair`` is one of those
    (else more text cannot make it pass), never for an answer with a fenced code block, and
    not when it would take more than ``most_words`` new words (one call's tokens run out
    first: "at least 50 sentences" from 5).

    Args:
        answer: The answer as the model wrote it, before any repair.
        constraints: What ``extract`` found in the question.
        most_words: The most new words one call can write.

    Example:
        >>> asked = extract("Explain in two sentences why the sky is blue.")
        >>> plan = continuation("Light scatters.", asked, most_words=600)
        >>> plan.prefix, plan.labels
        ('Light scatters.', ['exactly 2 sentences'])
        >>> plan.until(" Blue scatters"), plan.until(" Blue scatters most.")
        (False, True)
    """
    if not answer.strip() or _FENCE.search(answer):
        return None
    failed = _failed(repair(answer, constraints)[0], constraints)
    if not failed:
        return None
    base = answer
    for unit in reversed(_REPAIRS):
        for constraint in constraints:
            if unit.reopen and constraint["id"] == unit.id:
                base = unit.reopen(base, constraint["args"])
    prefix, words = base, 0
    for i in sorted(failed):
        unit, args = INSTRUCTIONS[constraints[i]["id"]], constraints[i]["args"]
        start = unit.extend(base, args) if unit.extend else None
        if start is None:
            return None
        prefix = max(prefix, start[0], key=len)  # a postscript's marker goes after the answer
        words += start[1]
    if words > most_words:
        return None
    # What code repairs (a case, no commas, the phrase to end with) is repaired again after
    # writing on: only the rest can break. Asked after every token, so only those are checked.
    kept = [
        c
        for i, c in enumerate(constraints)
        if i not in failed and INSTRUCTIONS[c["id"]].repair is None
    ]

    def why(reply: str) -> str:
        if _looping(reply):
            return "it looped"
        if not ends_sentence(reply):
            return "it stopped mid-sentence"
        now = _failed(repair(prefix + reply, constraints)[0], constraints)
        said = [
            f"{what} {', '.join(constraints[i]['label'] for i in sorted(which))}"
            for what, which in (("it broke", now - failed), ("still short of", now & failed))
            if which
        ]
        return "; ".join(said)

    def until(reply: str) -> bool:
        broken = bool(kept) and bool(_failed(prefix + reply, kept))
        return broken or _looping(reply) or not why(reply)

    labels = [constraints[i]["label"] for i in sorted(failed)]
    return Continuation(prefix=prefix, labels=labels, until=until, why=why)


def _looping(reply: str, span: int = 300, fewest: int = 60) -> bool:
    """Whether the reply's last ``span`` characters repeat a piece shorter than ``fewest``.

    Counted as distinct runs of 8 characters: prose of 300 characters has nearly 300, a
    loop of a 20-character piece at most 20, in any script.
    """
    tail = reply[-span:]
    return len(tail) >= span and len({tail[i : i + 8] for i in range(len(tail) - 7)}) < fewest


def _in_case(text: str, constraints: list[Constraint]) -> str:
    """``text`` in the case the question asks for, if it asks for one (by the case's repair)."""
    for constraint in constraints:
        unit = INSTRUCTIONS[constraint["id"]]
        if unit in (change_case.LOWERCASE, change_case.UPPERCASE) and unit.repair:
            text = unit.repair(text, constraint["args"])
    return text


def _failed(answer: str, constraints: list[Constraint]) -> frozenset[int]:
    """The indices of the constraints ``answer`` fails."""
    found = (INSTRUCTIONS[c["id"]].check(answer, c["args"]) for c in constraints)
    return frozenset(i for i, f in enumerate(found) if f is not None and not f[0])
