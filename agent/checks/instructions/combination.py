"""``combination:*``: two different responses, and the request repeated before the answer."""

from __future__ import annotations

import re
from typing import Any

from agent.checks.instructions.base import Constraint, Instruction, make
from agent.checks.instructions.startend import check_starts_with

# -- combination:two_responses ------------------------------------------------------------


def _read_two_responses(text: str) -> list[Constraint]:
    if re.search(
        r"(?:separat|divid|split|follow|between)[^.!?]{0,60}(?:\*{6}|\b(?:6|six)\s+asterisk)",
        text,
        re.IGNORECASE,
    ):
        return [make(TWO_RESPONSES.id, "two responses separated by ******")]
    return []


def _check_two_responses(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    pieces = text.split("******")
    if any(not p.strip() for p in pieces[1:-1]):
        return False, "an empty response between ****** dividers"
    responses = [p.strip() for p in pieces if p.strip()]
    if len(responses) != 2:
        return False, f"{len(responses)} responses separated by ******; 2 asked"
    ok = responses[0] != responses[1]
    return ok, "" if ok else "the two responses are the same; two different ones asked"


TWO_RESPONSES = Instruction("combination:two_responses", _read_two_responses, _check_two_responses)


# -- combination:repeat_prompt ------------------------------------------------------------

_REPEAT = re.compile(
    r"""
    \brep(?:l)?eat\b[^.\n]{0,40}?\b
    (?: request | prompt | question | instructions?
      | (?:text|line|sentence)\s+(?:above|below)
      | first\s+line
      | it\b(?=[^.\n]*\b(?:beginning|exactly|as\s+it\s+is))
    )
  | \brepeat\s+\"
    """,
    re.IGNORECASE | re.VERBOSE,
)
_REPEAT_HOW = re.compile(
    r"""first | before | beginning | word\s+(?:for|by)\s+word | without\s+(?:any\s+)?chang
      | exact | as\s+it\s+is | above | below""",
    re.IGNORECASE | re.VERBOSE,
)


def _read_repeat(question: str) -> list[Constraint]:
    """A request to repeat the request first: the answer starts with it, copied verbatim.

    The request is the text before the sentence asking for the repeat or, when that sentence
    comes first ("repeat the request below"), the text after the paragraph it opens.
    """
    repeat = _REPEAT.search(question)
    if not repeat or not _REPEAT_HOW.search(question[repeat.start() : repeat.start() + 250]):
        return []
    quoted = re.match(r"repeat\s+[\"“]([^\"”\n]+)[\"”]", question[repeat.start() :], re.I)
    line = question.rfind("\n", 0, repeat.start()) + 1
    sentence = re.search(r"(?s).*[.!?]\s+", question[line : repeat.start()])
    start = line + (sentence.end() if sentence else 0)
    if quoted:
        request = quoted.group(1).strip()
    elif question[:start].strip():
        request = question[:start].strip()
    else:
        rest = question[repeat.end() :]
        gap = re.search(r"\n\s*\n", rest) or re.search(r"\n", rest)
        request = rest[gap.end() :].strip() if gap else ""
    if not request:
        return []
    return [make(REPEAT.id, "starts by repeating the request", phrase=request)]


def _repair_repeat(text: str, args: dict[str, Any]) -> str:
    """The request, word for word, before the answer.

    A request the answer already starts with but for case, punctuation or markup is written
    over, not written twice.
    """
    request = args["phrase"].strip()
    body = text.lstrip()
    words = re.findall(r"\w+", request)
    there = re.match(r"[\W_]*" + r"[\W_]*".join(map(re.escape, words)) + r"[.!?:*_]*", body, re.I)
    if words and there:
        body = body[there.end() :].lstrip()
    return f"{request}\n\n{body}"


REPEAT = Instruction(
    "combination:repeat_prompt",
    _read_repeat,
    check_starts_with,
    verbatim=True,
    repair=_repair_repeat,
)
