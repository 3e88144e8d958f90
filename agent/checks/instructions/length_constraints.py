"""``length_constraints:*``: how many words, sentences and paragraphs; a paragraph's first word.

IFEval splits paragraphs on ``***`` only; a question that asks for paragraphs without that
divider gets them split on blank lines (``divider``: "***" or "blank line").
"""

from __future__ import annotations

import re
from typing import Any

from agent.checks.instructions.amounts import AFTER, AMOUNT, count
from agent.checks.instructions.base import Constraint, Instruction, counted, make
from agent.checks.instructions.counting import first_word, sentences_of, words_of
from agent.checks.instructions.layout import in_parts, nearest, paragraphs_of
from agent.checks.instructions.reading import I, X, first_bounds

# -- length_constraints:number_words ----------------------------------------------------------

# Not "words in all capital letters" (capital words) nor a "10-word-long" compound.
_WORDS = rf"""
    \s*-?\s*words?\b
    (?!\s+(?:or\s+phrases\s+)?(?:in\s+(?:the|your)\s+\w+\s+)?
       (?:should\s+be\s+|must\s+be\s+|be\s+)?(?:in|with)\s+(?:all[- ])?(?:capital|caps|upper))
    (?!\s*-\s*\w)
    {AFTER}
"""
_WORD_COUNTS = [
    rf"(?<!letter\s)(?<!\w\s-)(?<![-/]){AMOUNT}{_WORDS}",
    rf"\bnumber\s+of\s+words\b(?!\s+(?:in|with)\s+all)[^.\n]{{0,40}}?\b(?:be|is)\s+{AMOUNT}",
]


def _read_words(text: str) -> list[Constraint]:
    return counted(WORDS.id, "words", first_bounds(_WORD_COUNTS, text, bare=None))


def _check_words(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    return count("word{s}", len(words_of(text)), args["relation"], args["n"])


def _extend_words(text: str, args: dict[str, Any]) -> tuple[str, int] | None:
    # Not "exactly N words": writing on rarely stops at a sentence end on the very word.
    short = args["relation"] in ("at least", "more than")
    if not short or _check_words(text, args)[0]:
        return None
    return text, args["n"] + 1 - len(words_of(text))


WORDS = Instruction(
    "length_constraints:number_words",
    _read_words,
    _check_words,
    "lower bound",
    prose=True,
    extend=_extend_words,
)


# -- length_constraints:number_sentences ------------------------------------------------------

_SENTENCE_COUNTS = [
    rf"{AMOUNT}\s*-?\s*sentences?\b(?!\s*-){AFTER}",
    rf"\bnumber\s+of\s+sentences\b[^.\n]{{0,40}}?\b(?:be|is)\s+(?:in\s+)?{AMOUNT}",
]
# A bare number only after a verb or preposition: "in 3 sentences".
_IN_SENTENCES = rf"""
    \b(?:in|with|into|use|using|write|contain|contains|containing)\s+{AMOUNT}
    \s*-?\s*sentences?\b(?!\s*-)
"""


def _read_sentences(text: str) -> list[Constraint]:
    pairs = first_bounds(_SENTENCE_COUNTS, text, bare=None) or first_bounds([_IN_SENTENCES], text)
    return counted(SENTENCES.id, "sentences", pairs)


def _check_sentences(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    return count("sentence{s}", len(sentences_of(text)), args["relation"], args["n"])


def _extend_sentences(text: str, args: dict[str, Any]) -> tuple[str, int] | None:
    # "Exactly 2" too: the model stops at the end of the sentence that makes the count.
    have = len(sentences_of(text))
    missing = args["n"] + (args["relation"] == "more than") - have
    if args["relation"] not in ("at least", "more than", "exactly") or missing <= 0:
        return None
    return text, missing * max(len(words_of(text)) // max(have, 1), 8)


SENTENCES = Instruction(
    "length_constraints:number_sentences",
    _read_sentences,
    _check_sentences,
    "lower bound",
    prose=True,
    extend=_extend_sentences,
)


# -- length_constraints:number_paragraphs -----------------------------------------------------

_STARS3 = r"(?<!\*)\*\*\*(?!\*)"
_PARTS = r"(?:paragraphs?|sections?|parts?|stanzas?|scenes?|steps?|chunks?|blocks?)"


def _read_paragraphs(text: str) -> list[Constraint]:
    if re.search(_STARS3, text, X):
        pairs = first_bounds([rf"{AMOUNT}\s*-?\s*(?:\w+\s+)?{_PARTS}\b"], text)
        if not pairs:
            dividers = len(re.findall(rf"^\s*{_STARS3}\s*$", text, re.MULTILINE | X))
            if dividers:
                pairs = [("exactly", dividers + 1)]
            elif re.search(r"\bseparate\w*\s+(?:\w+\s+){1,4}and\s+", text, I):
                pairs = [("exactly", 2)]
        return counted(PARAGRAPHS.id, "paragraphs separated by ***", pairs, divider="***")
    if re.search(r"\b(?:PARAGRAPH|Paragraph)\s+X\b", text, X):
        return []  # the paragraphs are sections marked "PARAGRAPH 1", "PARAGRAPH 2"...
    pairs = first_bounds([rf"{AMOUNT}\s*-?\s*paragraphs?\b(?!\s+(?:\d|of\s+(?:the|this)))"], text)
    return counted(PARAGRAPHS.id, "paragraphs", pairs, divider="blank line")


def _check_paragraphs(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    if args["divider"] == "***":
        pieces = re.split(r"\s?\*\*\*\s?", text)
        if any(not p.strip() for p in pieces[1:-1]):
            return False, "an empty paragraph between *** dividers"
        found = [p for p in pieces if p.strip()]
        name = "paragraph{s} separated by ***"
    else:
        found = [p for p in text.split("\n\n") if p.strip()]
        name = "paragraph{s} separated by blank lines"
    return count(name, len(found), args["relation"], args["n"])


def _repair_paragraphs(text: str, args: dict[str, Any]) -> str:
    """The answer's own paragraphs joined or cut into as many as asked, with the divider asked.

    Divider lines already there become blank lines first; an answer with ``***`` inside a line (bold
    italics) is left alone, since IFEval would split it there too.
    """
    body = re.sub(r"^[ \t]*\*{3,}[ \t]*$", "", text, flags=re.MULTILINE)
    if "***" in body:
        return text
    parts = in_parts(paragraphs_of(body), nearest(args["relation"], args["n"]))
    if parts is None:
        return text
    if args["divider"] == "***":
        return "\n\n***\n\n".join(parts)
    return "\n\n".join(re.sub(r"\n\s*\n", "\n", part) for part in parts)


PARAGRAPHS = Instruction(
    "length_constraints:number_paragraphs",
    _read_paragraphs,
    _check_paragraphs,
    "lower bound",
    prose=True,
    repair=_repair_paragraphs,
)


# -- length_constraints:nth_paragraph_first_word ----------------------------------------------

_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "last": -1, "final": -1,
}  # fmt: skip
_NTH = r"(?P<nth>" + "|".join(_ORDINALS) + r"|\d+(?:st|nd|rd|th))"
_START_WORD = r"""
    (?:start|begin)s?\s+with\s+(?:the\s+)?(?:word\s+)?
    (?:\"(?P<w1>[\w'-]+)\" | '(?P<w2>[\w'-]+)' | (?P<w3>[\w'-]+))
"""
_FIRST_WORDS = (
    rf"\b{_NTH}\s+paragraph\s+(?:must|should|needs?\s+to|has\s+to|will)?\s*{_START_WORD}",
    rf"\bparagraph\s+(?P<num>\d+)\s+(?:must|should|needs?\s+to|has\s+to)?\s*{_START_WORD}",
    rf"""\b(?:start|begin)\s+(?:the\s+)?(?:very\s+)?{_NTH}\s+paragraph\s+with\s+(?:the\s+)?
         (?:word\s+)?[\"']?(?P<w4>[\w'-]+)""",
    r"""\b(?:start|begin)\s+paragraph\s+(?P<num2>\d+)\s+with\s+(?:the\s+)?(?:word\s+)?
        [\"']?(?P<w5>[\w'-]+)""",
)


def _read_first_word(text: str) -> list[Constraint]:
    for pattern in _FIRST_WORDS:
        m = re.search(pattern, text, I)
        if not m:
            continue
        g = m.groupdict()
        word = next(g[k] for k in ("w1", "w2", "w3", "w4", "w5") if g.get(k))
        if word.lower() in ("a", "an", "the", "word", "phrase", "your", "this"):
            continue
        number = g.get("num") or g.get("num2")
        nth = int(number) if number else _ORDINALS.get(g["nth"].lower(), 0)
        if not nth:
            nth = int(re.sub(r"\D", "", g["nth"]))
        if nth == -1:  # "the last paragraph": its number when the count is given
            counts = [c["args"] for c in _read_paragraphs(text)]
            nth = next((a["n"] for a in counts if a["relation"] == "exactly"), -1)
        which = "the last paragraph" if nth == -1 else f"paragraph {nth}"
        return [make(FIRST_WORD.id, f"{which} starts with {word!r}", nth=nth, word=word)]
    return []


def _check_first_word(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    nth, word = args["nth"], args["word"]
    pieces = text.split("\n\n")
    paragraphs = [p for p in pieces if p.strip()]
    index = len(paragraphs) if nth == -1 else nth
    which = "the last paragraph" if nth == -1 else f"paragraph {nth}"
    if index > len(paragraphs) or index < 1:
        return False, f"only {len(paragraphs)} paragraphs; {which} should start with {word!r}"
    paragraph = (paragraphs if nth == -1 else pieces)[index - 1]
    if not paragraph.strip():
        return False, f"{which} is empty; it should start with {word!r}"
    first = first_word(paragraph)
    ok = first == word.lower()
    return ok, "" if ok else f"{which} starts with {first!r}; {word!r} asked"


FIRST_WORD = Instruction(
    "length_constraints:nth_paragraph_first_word", _read_first_word, _check_first_word, "anywhere"
)
