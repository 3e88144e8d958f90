"""``change_case:*``: all lowercase, all capitals, how many words are in capitals."""

from __future__ import annotations

import re
from typing import Any

from agent.checks.instructions.amounts import AMOUNT, NUM, TIMES, bounds, count
from agent.checks.instructions.base import Constraint, Instruction, counted, make
from agent.checks.instructions.counting import some, words_of
from agent.checks.instructions.reading import I, X


def _one_case(text: str, *, upper: bool) -> tuple[bool, str]:
    """All letters in one case: IFEval's ``isupper()`` / ``islower()``, with the culprits."""
    if text.isupper() if upper else text.islower():
        return True, ""
    asked = "all capitals" if upper else "all lowercase"
    wrong = str.islower if upper else str.isupper
    n = sum(wrong(c) for c in text)
    if not n:
        return False, f"no letters; {asked} asked"
    words = [w for w in words_of(text) if any(wrong(c) for c in w)]
    name = "lowercase letter" if upper else "capital letter"
    return False, f"{n} {name}{'s' * (n != 1)}{some(words)}; {asked} asked"


# -- change_case:english_lowercase ----------------------------------------------------------

_LOWER = (
    r"""(?<!\bno\s)(?<!\bnot\s)(?<!\bany\s)\blower\s*-?\s*case(?:s|d)?\b
        (?!\s+(?:or|and|for|when|if|version|form|equivalent|names?)\b)""",
    r"""\b(?:no|not|without|never|refrain\s+from)\s+(?:\w+\s+){0,3}?
        (?:capital\s+letters|capitals|capitali[sz]ations?|upper\s*case\s+letters)
        (?!\s+(?:should|must|appear|at\s+least|more\s+than))""",
    r"\bnot\s+a\s+single\s+letter\b[^.\n]{0,50}\bcapitali[sz]ed",
)


def _read_lowercase(text: str) -> list[Constraint]:
    for pattern in _LOWER:
        for m in re.finditer(pattern, text, I):
            before = text[max(0, m.start() - 60) : m.start()].lower()
            sentence = re.split(r"[.!?\n]", before)[-1]
            if pattern == _LOWER[0] and re.search(r"\b(?:not|no|never|without)\b|n't", sentence):
                continue
            if pattern == _LOWER[0] and not re.search(
                r"\b(?:all|only|entire|entirely|in|use|using|with|be|answer|write|written)\b",
                sentence,
            ):
                continue
            if re.search(r"\b(?:convert|to|into|function|variable|string)\s*$", before):
                continue
            return [make(LOWERCASE.id, "all lowercase")]
    return []


def _check_lowercase(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    return _one_case(text, upper=False)


LOWERCASE = Instruction(
    "change_case:english_lowercase",
    _read_lowercase,
    _check_lowercase,
    repair=lambda text, args: text.lower(),
)


# -- change_case:english_capital ------------------------------------------------------------

_CAPS = r"(?:capital\s+letters|capitals|caps|upper\s*case(?:\s+letters)?|block\s+letters)"
_UPPER = (
    rf"""\b(?:in|with|use|using|only\s+use|be|written\s+in)\s+(?:english\s+and\s+)?
         (?:all|only)\s+{_CAPS}""",
    rf"""\b(?:answer|respond|reply|be|written|write\s+(?:it|everything|your\s+\w+)|english,?)
         \s+(?:entirely\s+|only\s+)?(?:in\s+)?(?:english\s+and\s+)?{_CAPS}(?:\s+only)?\b""",
    rf"(?:^|[.!?]\s+|,\s+|\band\s+)(?:all|only)\s+{_CAPS}",
    rf"\bonly\s+use\s+{_CAPS}",
    r"\bcapitali[sz]e\s+(?:all|every|each)\s+(?:of\s+)?(?:your\s+|the\s+)?(?:words?|letters?)",
    r"\ball\s+(?:the\s+)?letters\b[^.\n]{0,50}\b(?:capitali[sz]ed|upper\s*case|capitals)\b",
    r"\bno\s+lower\s*-?\s*case\s+letters",
)
# What follows "in all caps" when it is about some words, not the answer: "(…", "should
# appear", "to highlight", "3 times".
_SOME_WORDS_AFTER = re.compile(
    r"""^\s*(?:\(|should|must|appear|at\s+least|for\s+at
            |to\s+(?:highlight|stress|emphasi|make)|\w+\s+times)""",
    X,
)


def _read_uppercase(text: str) -> list[Constraint]:
    for pattern in _UPPER:
        for m in re.finditer(pattern, text, I):
            before = text[max(0, m.start() - 40) : m.start()].lower()
            after = text[m.end() : m.end() + 40].lower()
            sentence = re.split(r"[.!?\n]", before)[-1]
            if re.search(r"\bwords?\b.*\b(?:should|must)\s+be\s*$", sentence):
                continue
            if re.search(r"^\s*then\b|\b(?:same|again|version)\b", sentence):
                continue  # "then write the same joke in all caps": a part, not the answer
            if re.search(r"\b(?:words?|phrases?)\s+(?:\w+\s+)?$", before) or (
                _SOME_WORDS_AFTER.search(after)
            ):
                continue
            return [make(UPPERCASE.id, "all capital letters")]
    return []


def _check_uppercase(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    return _one_case(text, upper=True)


UPPERCASE = Instruction(
    "change_case:english_capital",
    _read_uppercase,
    _check_uppercase,
    repair=lambda text, args: text.upper(),
)


# -- change_case:capital_word_frequency ----------------------------------------------------

_CAP_WORDS = r"""
    (?:
        (?:words?|phrases?)\s+(?:or\s+phrases\s+)?(?:with|in)\s+(?:all\s+)?
            (?:capital\s+letters|caps|capitals|upper\s*case)
      | all[\s-]caps\s+words
      | (?:stress\s+|such\s+)?capitali[sz]ed\s+words
      | stress\s+words
    )
"""
_CAP_COUNTS = (
    rf"""{_CAP_WORDS}\s*(?:\([^)]*\)\s*)?(?:should|must|to|will)?\s*(?:appear|be\s+used)?\s*
         (?:for\s+)?{TIMES}""",
    rf"{_CAP_WORDS}\s*(?:\([^)]*\)\s*)?(?:should|must)\s+(?:appear|be\s+used)\s+{TIMES}",
    rf"""{AMOUNT}\s+(?:words?|phrases?)(?:\s+or\s+phrases)?\s+
         (?:in\s+(?:the|your)\s+(?:output|response)\s+)?
         (?:should\s+be\s+|must\s+be\s+|be\s+)?(?:in|with)\s+all\s+(?:capital|caps|upper)""",
    rf"""{AMOUNT}\s+(?:such\s+)?(?:fully\s+|entirely\s+|completely\s+)?
         (?:capitali[sz]ed|all[\s-]caps)\s+words""",
    rf"\bnumber\s+of\s+{_CAP_WORDS}\s+(?:to|should\s+be|must\s+be|is)\s+{AMOUNT}",
    rf"\blimit\s+(?:those\s+|the\s+)?{_CAP_WORDS}\s+(?:for|to)\s+{AMOUNT}",
    # the amount is found again in the match: TIMES cannot follow the gap here
    rf"""{_CAP_WORDS}\b[^.\n]{{0,30}}?\b(?:at\s+least|at\s+most|less\s+than|more\s+than)\s+
         {NUM}\s+times""",
)
_USE_SOME_CAPS = re.compile(
    r"""\b(?:use|include)\s+(?:some\s+|a\s+few\s+|several\s+)?(?:words|phrases)\s+
        (?:with|in)\s+all\s+(?:capital\s+letters|caps|capitals)""",
    I,
)


def _read_capital_words(text: str) -> list[Constraint]:
    pairs: list[tuple[str, int]] = []
    for pattern in _CAP_COUNTS:
        for m in re.finditer(pattern, text, I):
            if pattern == _CAP_COUNTS[-1]:
                more = bounds(re.search(TIMES, m.group(0), I))
            else:
                more = bounds(m)
            pairs += [p for p in more if p not in pairs]
    if _USE_SOME_CAPS.search(text) and all(r in ("less than", "at most") for r, _ in pairs):
        pairs.insert(0, ("at least", 1))
    return counted(CAPITAL_WORDS.id, "words in all capitals", pairs)


def _check_capital_words(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    found = sum(1 for w in words_of(text) if w.isupper())
    return count("word{s} in all capitals", found, args["relation"], args["n"])


CAPITAL_WORDS = Instruction(
    "change_case:capital_word_frequency",
    _read_capital_words,
    _check_capital_words,
    on_a_part="lower bound",
)
