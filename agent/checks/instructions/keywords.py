"""``keywords:*``: words to leave out, words to include, how often a word or a letter appears.

Keyword counts ignore case and word boundaries ("war" counts in "warm"), as IFEval's do; a
forbidden word is matched whole.
"""

from __future__ import annotations

import re
from typing import Any

from agent.checks.instructions.amounts import AMOUNT, TIMES, bounds, count
from agent.checks.instructions.base import Constraint, Instruction, counted, make
from agent.checks.instructions.reading import LIST_END, I, X, items

_NOUN = r"(?:(?:key)?words?|terms?|keywords?|phrases?)"

# -- keywords:forbidden_words -------------------------------------------------------------

_FORBID_LEAD = re.compile(
    rf"""
    \b(?:do\s+not|don't|does\s+not|doesn't|not|never|without|avoid|refrain\s+from|exclude)\s+
    (?:to\s+)?(?:(?P<verb>includ|us|mention|say|contain|add|writ|put|hav)\w*\s+)?
    (?:any\s+(?:of\s+)?)?(?P<det>the\s+|these\s+)?(?:following\s+)?
    (?P<noun>(?:\w+\s+)?{_NOUN}(?:\s+such\s+as)?\s*:?\s*)?
    """,
    I,
)
# "the words X, Y should not appear"
_FORBID_AFTER = re.compile(
    rf"""
    \bthe\s+{_NOUN}\s+(?P<list>[^.\n]{{1,80}}?)\s+
    (?:should\s+not|must\s+not|cannot|can't|shouldn't|doesn't|does\s+not|do\s+not|don't
      |should\s+never|may\s+not|(?:is|are)\s+not\s+allowed)
    \s+(?:appear|be\b|occur|show)
    """,
    I,
)


def _read_forbidden(text: str) -> list[Constraint]:
    found: list[Constraint] = []

    def add(words: list[str]) -> None:
        if words and not any(set(c["args"]["words"]) == set(words) for c in found):
            found.append(make(FORBIDDEN.id, f"none of {', '.join(words)}", words=words))

    for m in _FORBID_LEAD.finditer(text):
        rest = text[m.end() :]
        # Without "the word(s)", only a quoted list or "do not mention X" names words.
        unquoted = m["noun"] is None and not rest.startswith(("'", '"', "["))
        if unquoted and (m["det"] or not (m["verb"] or "").lower().startswith("mention")):
            continue
        if m["noun"] and re.match(r"(?:\w+\s+)?(?:words?\s+in\s+all|letters?)\b", m["noun"], I):
            continue
        if m["noun"] is None and re.match(r"(?:any|the|a|your|all)\b", rest, I):
            continue
        if re.match(r"avoid\s+mention", m.group(0), I):
            continue  # "avoid mentioning X": a keyword frequency of zero
        listed = rest if rest.startswith("[") else re.split(LIST_END, rest, maxsplit=1, flags=X)[0]
        if rest.startswith("["):
            listed = rest[: rest.find("]") + 1]
        add(items(listed))
    for m in _FORBID_AFTER.finditer(text):
        add(items(m["list"]))
    return found


def _check_forbidden(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    used = [w for w in args["words"] if re.search(rf"\b{re.escape(w)}\b", text, re.IGNORECASE)]
    return not used, "" if not used else f"uses {', '.join(repr(w) for w in used)}"


FORBIDDEN = Instruction("keywords:forbidden_words", _read_forbidden, _check_forbidden)


# -- keywords:existence -------------------------------------------------------------------

_INCLUDE_LEAD = re.compile(
    r"""
    \b(?:
        (?:include|includes|including|use|uses|using|contain|contains|containing|has|have)\s+
        (?:the\s+|these\s+|following\s+|these\s+items)*
        (?: key\s?words? | (?<=the\s)words? | (?<=following\s)words? | words?(?=\s*:)
          | line | phrase | items(?=\s*:) | (?<=the\s)word )
      | with\s+(?:these|the\s+following)\s+keywords
      | mention
    )\b\s*:?\s*
    """,
    I,
)
_NEGATED = re.compile(r"(?:\bnot|n't|\bwithout|\bnever|\bavoid|\bexclude|\bno)\b(?:\s+\w+)?\s*$", I)


def _read_required(text: str) -> list[Constraint]:
    found: list[Constraint] = []
    for m in _INCLUDE_LEAD.finditer(text):
        if _NEGATED.search(text[max(0, m.start() - 30) : m.start()]):
            continue  # "do not include the keywords...": forbidden words
        rest = text[m.end() :]
        if m.group(0).lower().startswith("mention") and not rest.startswith(("'", '"')):
            continue
        listed = rest[: rest.find("]") + 1] if rest.startswith("[") else rest
        listed = re.split(LIST_END, listed, maxsplit=1, flags=X)[0]
        after = rest[len(listed) :]
        if re.match(rf"\s*(?:for\s+)?{TIMES}|\s+(?:each|every)\s+time", after, I):
            continue  # "include the word story at least twice": a frequency
        words = items(listed)
        if words and not any(set(c["args"]["words"]) == set(words) for c in found):
            found.append(make(REQUIRED.id, f"includes {', '.join(words)}", words=words))
    return found


def _check_required(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    missing = [w for w in args["words"] if not re.search(re.escape(w), text, re.IGNORECASE)]
    return not missing, "" if not missing else f"lacks {', '.join(repr(w) for w in missing)}"


REQUIRED = Instruction("keywords:existence", _read_required, _check_required, "anywhere")


# -- keywords:frequency -------------------------------------------------------------------

_WORD = r"(?:\"(?P<q1>[^\"\n]{1,40})\"|'(?P<q2>[^'\n]{1,40})'|(?P<bare>[A-Za-z][\w-]*))"
_WORD_TIMES = re.compile(
    rf"""
    (?:\b(?:word|keyword|name|term)\s+|\b(?:say|use|mention|include|repeat|write)\s+(?=[\"']))
    {_WORD}\s+
    (?:(?:should|must|to|will|can|be|is|appear|appears|appearing|used|mentioned|show|shows|up|
          occur|occurs|for|in|the|your|entire|response|answer)\s+){{0,4}}
    {TIMES}
    """,
    I,
)
_AVOID_MENTIONING = re.compile(rf"\bavoid\s+mentioning\s+(?:the\s+(?:word|name)\s+)?{_WORD}", I)


def _stated(text: str, m: re.Match[str]) -> bool:
    """Whether "the word X appears N times" is asked ("make sure...") rather than observed."""
    if not re.search(r"\b(?:appears|occurs|shows)\b", m.group(0), re.IGNORECASE) or re.search(
        r"\b(?:should|must|to|will|can)\b", m.group(0), re.IGNORECASE
    ):
        return False
    before = text[max(0, m.start() - 40) : m.start()]
    return not re.search(
        r"\b(?:sure|ensure|that|where|which)\b[^.!?\n]{0,20}$", before, re.IGNORECASE
    )


def _read_word_frequency(text: str) -> list[Constraint]:
    found: list[Constraint] = []
    for m in _WORD_TIMES.finditer(text):
        word = (m["q1"] or m["q2"] or m["bare"]).strip()
        if _stated(text, m) or word.lower() in ("count", "limit", "should", "must", "appear"):
            continue
        pairs = bounds(m)
        if (m["rel"] or "").lower() == "only":
            pairs = [("at most", pairs[0][1])]
            found.append(make(REQUIRED.id, f"includes {word}", words=[word]))
        found += counted(WORD_FREQUENCY.id, f"times {word!r}", pairs, word=word)
    for m in _AVOID_MENTIONING.finditer(text):
        word = (m["q1"] or m["q2"] or m["bare"]).strip()
        found.append(make(WORD_FREQUENCY.id, f"never {word!r}", word=word, relation="exactly", n=0))
    return found


def _check_word_frequency(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    word = args["word"]
    found = len(re.findall(re.escape(word), text, re.IGNORECASE))
    return count(f"time{{s}} {word!r}", found, args["relation"], args["n"])


WORD_FREQUENCY = Instruction(
    "keywords:frequency", _read_word_frequency, _check_word_frequency, "lower bound"
)


# -- keywords:letter_frequency ------------------------------------------------------------

_LETTER = r"(?:\"(?P<l1>[^\"\s])\"|'(?P<l2>[^'\s])'|(?P<l3>[A-Za-z#!?@$%&])(?![\w'-]))"
_LETTER_TIMES = re.compile(
    rf"""
    \bletter\s+{_LETTER}\s+
    (?:(?:should|must|to|will|can|appear|appears|appearing|show|shows|up|be|used|occur|occurs|in|
          your|response|anywhere)\s+){{0,4}}
    {TIMES}
    """,
    I,
)
_NO_LETTER = re.compile(
    rf"""
    \b(?:without|do\s+not|don't|never|avoid|not|no)\s+(?:\w+\s+){{0,2}}?(?:the\s+)?
    letter\s+{_LETTER}(?!\s+(?:more|at|over)\b)
    """,
    I,
)
# Symbols counted like letters: "at least 6 exclamation marks", "2 hashtags".
_SYMBOLS = (("!", r"exclamation\s+(?:marks?|points?)"), ("#", r"hashtags?"))


def _read_letter_frequency(text: str) -> list[Constraint]:
    found: list[Constraint] = []
    for m in _LETTER_TIMES.finditer(text):
        if _stated(text, m):
            continue
        letter = (m["l1"] or m["l2"] or m["l3"]).lower()
        pairs = bounds(m)
        before = text[max(0, m.start() - 30) : m.start()].lower()
        if re.search(r"\b(?:avoid|without|not|n't)\b(?:\s+\w+){0,2}\s*(?:the\s+)?$", before):
            pairs = [("at most" if r == "more than" else r, n) for r, n in pairs]
        label = f"times the letter {letter!r}"
        found += counted(LETTER_FREQUENCY.id, label, pairs, letter=letter)
    for m in _NO_LETTER.finditer(text):
        before = text[max(0, m.start() - 20) : m.start()].lower()
        if re.search(r"\b(?:trying|tried|try)\s+to\s*$", before):
            continue
        letter = (m["l1"] or m["l2"] or m["l3"]).lower()
        label = f"never the letter {letter!r}"
        found.append(make(LETTER_FREQUENCY.id, label, letter=letter, relation="exactly", n=0))
    for symbol, noun in _SYMBOLS:
        for m in re.finditer(rf"{AMOUNT}\s+{noun}", text, I):
            pairs = bounds(m, "at least")
            found += counted(LETTER_FREQUENCY.id, f"times {symbol!r}", pairs, letter=symbol)
    return found


def _check_letter_frequency(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    letter = args["letter"]
    found = text.lower().count(letter.lower())
    return count(f"time{{s}} the letter {letter!r}", found, args["relation"], args["n"])


LETTER_FREQUENCY = Instruction(
    "keywords:letter_frequency", _read_letter_frequency, _check_letter_frequency, "lower bound"
)
