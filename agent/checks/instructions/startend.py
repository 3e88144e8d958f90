"""``startend:*``: how the answer ends, how it starts, and quotation marks around it.

IFEval has no "starts with" instruction; ``startend:start_checker`` is this project's, named
after IFEval's ``end_checker``.
"""

from __future__ import annotations

import re
from typing import Any

from agent.checks.instructions.base import Constraint, Instruction, make
from agent.checks.instructions.counting import quote
from agent.checks.instructions.layout import LIST_MARK
from agent.checks.instructions.reading import PHRASE, I

# -- startend:end_checker -----------------------------------------------------------------

_PHRASE_WORDS = (
    r"(?:\s+(?:the|this|exactly|exact|following|phrase|sentence|question|words?|line|of|like)\b)*"
)
_END_LEAD = re.compile(
    rf"""
    (?:
        \b(?:end|finish|conclude)\b(?:\s+(?!with\b)[\w'-]+){{0,4}}?\s+with\b
      | \bvery\s+(?:last\s+sentence|end)\b[^\"\n:]{{0,50}}?\b(?:be|read)\b
    )
    (?P<how>{_PHRASE_WORDS}\s*:?)\s*
    """,
    I,
)


def _read_ends_with(text: str) -> list[Constraint]:
    for m in _END_LEAD.finditer(text):
        rest = text[m.end() :]
        quoted = re.match(PHRASE, rest)
        if quoted:
            phrase = (quoted.group(1) or quoted.group(2)).strip()
        elif ":" in m.group("how") or re.search(r"exact|question", m.group("how"), re.I):
            phrase = rest.split("\n")[0].strip() or rest.strip().split("\n")[0].strip()
        else:
            continue
        if ":" not in m.group("how") and re.match(r"(?:a|an|your)\s", phrase, re.IGNORECASE):
            continue
        if re.search(r"\w", phrase):
            return [make(ENDS_WITH.id, f"ends with {quote(phrase)}", phrase=phrase)]
    return []


def _check_ends_with(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    phrase = args["phrase"].strip()
    end = text.strip().strip('"')
    ok = end.lower().endswith(phrase.lower())
    tail = " ".join(end.split()[-len(phrase.split()) :])  # as many words as the phrase
    return ok, "" if ok else f"ends with {quote(tail)}; {phrase!r} asked"


def _repair_ends_with(text: str, args: dict[str, Any]) -> str:
    """The phrase added at the end, inside quotation marks around the whole answer.

    A phrase the answer already ends with but for case, punctuation or markup (``**…**``) is
    written over, not written twice.
    """
    phrase = args["phrase"].strip()
    body = text.rstrip()
    quoted = len(body) > 1 and body[0] == body[-1] == '"'
    if quoted:
        body = body[:-1].rstrip()
    body = _without_phrase(body, phrase)
    gap = (" " if body.endswith((".", "!", "?")) else "\n") if body else ""
    close = '"' if quoted else ""
    return f"{body}{gap}{phrase}{close}"


def _without_phrase(body: str, phrase: str) -> str:
    """``body`` without the phrase it ends with, but for case, punctuation or markup."""
    words = re.findall(r"\w+", phrase)
    there = re.search(r"(?<!\w)" + r"[\W_]*".join(map(re.escape, words)) + r"[\W_]*$", body, I)
    return re.sub(r"[\s*_]+$", "", body[: there.start()]) if words and there else body


def _reopen_ends_with(text: str, args: dict[str, Any]) -> str:
    return _without_phrase(text.rstrip(), args["phrase"].strip())


ENDS_WITH = Instruction(
    "startend:end_checker",
    _read_ends_with,
    _check_ends_with,
    repair=_repair_ends_with,
    reopen=_reopen_ends_with,
)


# -- startend:start_checker ---------------------------------------------------------------

_START_LEAD = re.compile(
    rf"""
    (?:\b(?:start|begin)|\b(?:response|answer|reply|output)\s+(?:starts|begins))\b
    (?P<what>(?:\s+(?!with\b)[\w'-]+){{0,4}}?)\s+with\s+
    (?:the\s+)?(?:(?:exact\s+)?(?:word|phrase|sentence|line)s?\s*)?:?\s*
    (?:{PHRASE})
    """,
    I,
)
# Starts of something else than the answer: "start each paragraph with", "begin the title".
_NOT_START = re.compile(
    r"paragraph|section|bullet|title|each|every|line|point|part|note|post\s*script|item", I
)


def _read_starts_with(text: str) -> list[Constraint]:
    found = []
    for m in _START_LEAD.finditer(text):
        before = re.split(r"[.!?\n]", text[max(0, m.start() - 60) : m.start()])[-1] + m["what"]
        if not _NOT_START.search(before):
            phrase = (m[2] or m[3]).strip()
            found.append(make(STARTS_WITH.id, f"starts with {quote(phrase)}", phrase=phrase))
    return found


def check_starts_with(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    """Whether the answer starts with ``args["phrase"]``, ignoring case and outer space."""
    phrase = args["phrase"].strip()
    ok = text.strip().lower().startswith(phrase.lower())
    return ok, "" if ok else f"starts with {quote(text.strip())}; {quote(phrase)} asked"


STARTS_WITH = Instruction("startend:start_checker", _read_starts_with, check_starts_with)


# -- startend:quotation -------------------------------------------------------------------


def _read_quoted(text: str) -> list[Constraint]:
    for s in re.split(r"(?<=[.!?])\s+|\n", text):
        if (
            re.search(r"double[\s-]*quot", s, re.IGNORECASE)
            and re.search(r"wrap|around|enclose|inside|\bin\s+double|with\s+double|placed", s, I)
            and re.search(r"entire|whole|all\b|response|answer|reply|output|email|letter", s, I)
        ):
            return [make(QUOTED.id, "wrapped in double quotation marks")]
    return []


def _check_quoted(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    stripped = text.strip()
    ok = len(stripped) > 1 and stripped[0] == '"' and stripped[-1] == '"'
    return ok, "" if ok else "not wrapped in double quotation marks"


def _repair_quoted(text: str, args: dict[str, Any]) -> str:
    """The answer inside double quotation marks, on lines of their own before a list."""
    text = text.strip()
    return f'"\n{text}\n"' if re.match(LIST_MARK, text) else f'"{text}"'


def _reopen_quoted(text: str, args: dict[str, Any]) -> str:
    stripped = text.strip()
    return stripped[1:-1].strip() if _check_quoted(stripped, args)[0] else text


QUOTED = Instruction(
    "startend:quotation",
    _read_quoted,
    _check_quoted,
    repair=_repair_quoted,
    reopen=_reopen_quoted,
)
