r"""What every reader shares: the question as the rules read it, lists of words, first bounds.

Every reader's pattern is read with ``re.VERBOSE`` (``X``, or ``I`` to ignore case too), so a
long one can be laid out over lines; a space to match is ``\s`` or ``"\ "``.
"""

from __future__ import annotations

import re

from agent.checks.instructions.amounts import bounds

X = re.VERBOSE
I = re.IGNORECASE | re.VERBOSE  # noqa: E741 (the flag's own letter)

# Sentences that ask nothing of the answer, whatever words they hold: a question about something
# ("How do I output JSON?"), reported speech ("My teacher said not to use commas."), a statement
# about the user's own text ("I wrote a 3 paragraph essay.") and the spec of code to write
# ("Write a function that removes all commas.").
_NOT_ASKED = (
    r"""(?:[\w ]{1,30},\s*)?
        (?:how|what|why|when|where|which|who|whose|is|are|was|were|does|did|should|do\b(?!\s+not))
        \b[^.!?\n]*\?""",
    r"""[^.!?\n]*(?<!be\s)(?<!being\s)(?<!been\s)(?<!is\s)(?<!was\s)
        \b(?:said|says|told|tells)\b[^.!?\n]*[.!?]""",
    r"""(?!my\s+answer\b)
        (?:I|my|we|our|he|she|they|his|her|their|it|its)\b
        (?![^.!?\n]*(?:\b(?:should|must|please|want|need|would|like|let|make\s+sure|require|your)\b
                      |'d\b))
        [^.!?\n]*[.!?]""",
    r"""(?:please\s+)?(?:write|create|implement|build|give\s+me)\s+(?:a|an|me\s+a|some)\s+
        (?:[\w+#-]+\s+){0,3}?
        (?:function|regex|regular\s+expression|script|program|class|method|query|code|snippet|
           one-liner)
        \b[^.!?\n]*\b(?:that|which|to)\b[^.!?\n]*[.!?]?""",
)
_NOT_ASKED_AT = re.compile(r"(?:^|(?<=[.!?\n]))[^\S\n]*(?:" + "|".join(_NOT_ASKED) + ")", I)


def plain(question: str) -> str:
    """The question as the rules read it: straight quotes, "i.e." without dots, no questions.

    Sentences that ask nothing of the answer (a question, reported speech, the spec of code
    to write) are blanked, unless they sit inside quotes.
    """
    text = question.translate(str.maketrans("“”„‟«»‘’‚‛\u00a0", '""""""\'\'\'\'' + " "))
    text = re.sub(r"\b([ie])\.([eg])\.", r"\1\2", text, flags=re.IGNORECASE)
    quotes = [m.span() for m in re.finditer(r'"[^"\n]*"', text)]

    def blank(m: re.Match[str]) -> str:
        quoted = any(start < m.start() < end for start, end in quotes)
        return m.group(0) if quoted else " "

    return _NOT_ASKED_AT.sub(blank, text)


# "Each line should contain exactly one sentence": an amount per unit, not the total.
_PER_UNIT = re.compile(
    r"""\b(?:each|every|per)\s+\w+(?:\s+\w+)?\s+
        (?:should|must|needs?\s+to|has|have|contains?|with|will|is|are)\b""",
    I,
)


def first_bounds(
    patterns: list[str], text: str, bare: str | None = "exactly"
) -> list[tuple[str, int]]:
    """The bounds of the first amount any of ``patterns`` finds, that is not one per unit.

    Args:
        patterns: Patterns built on ``amounts.AMOUNT`` or ``amounts.TIMES``, tried in order.
        text: The question's plain text.
        bare: The relation of a number said without one (see ``amounts.bounds``).
    """
    for pattern in patterns:
        for m in re.finditer(pattern, text, I):
            pairs = bounds(m, bare)
            sentence = re.split(r"[.!?\n]", text[max(0, m.start() - 80) : m.start()])[-1]
            if _PER_UNIT.search(sentence):
                continue  # "each line should contain exactly one sentence": not the total
            if pairs:
                return pairs
    return []


WORD_QUOTED = r"\"([^\"\n]{1,60})\"|'([^'\n]{1,60})'"
"""A quoted word or short phrase, in its first or second group."""
PHRASE = r"\"([^\"\n]{1,200})\"|'([^'\n]{1,200})'(?!\w)"
"""A quoted phrase, in its first or second group."""

_NOT_WORDS = {
    "before", "after", "that", "this", "other", "else", "anything", "outside", "more", "it",
    "them", "which", "any", "such", "like", "first", "above", "below", "those", "these",
}  # fmt: skip


def items(text: str) -> list[str]:
    """The words a list names: quoted ones if any, else the parts between commas/and/or."""
    quoted = [a or b for a, b in re.findall(WORD_QUOTED, text)]
    if quoted:
        return [q.strip() for q in quoted if q.strip()]
    parts = re.split(r",|\bor\b|\band\b|\bnor\b", text)
    found = [p.strip(" .:;*[]()'\"") for p in parts]
    found = [i for i in found if i]
    if not found or any(len(i.split()) > 2 or i.split()[0].lower() in _NOT_WORDS for i in found):
        return []
    return found[:12]


LIST_END = r"""
    (?=
        \s+(?:in|from|within|into|anywhere|throughout|somewhere|at\s+all)\b
      | ,?\s+(?:but|etc|so|because|when|while|since|each|followed|as\s+well)\b
      | ,?\s+and\s+(?:also|make|use|include|write|keep|wrap|should|must|the|be|end|refrain|
                     avoid|do|don't|mention|put|have|has|is|are|your|respond|answer|give|it|at)\b
      | \s+(?:at\s+least|at\s+most|more\s+than|less\s+than|exactly|once|twice|for\s+at)\b
      | [;!?\n] | \.(?:\s|$) | \s*\( | ,\s*(?:i\.?e|eg|such)\b | $
    )
"""
"""Where a list of words ends: "in your response", "throughout", "but", ", and make sure"…"""
