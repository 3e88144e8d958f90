"""Replies caught in a loop: the same text over and over until the token cap.

A small model decoding greedily can fall into a loop ("0.000000…" for a density, the same
sentence again and again) and stay there until its token cap: on a 2-core CPU, minutes of
text nobody reads, and a last line that parses as an answer. A reply whose end repeats one
stretch of text, back to back, for at least ``SPAN`` characters (and at least ``TIMES``
times) is looping. The embedded model ends such a reply there (``agent.local``), and every
reply that ends in one fails a ``repetition`` check, so it gets no vote and no early stop.

The bar is high on purpose: a markdown rule, a row of a table or a short refrain repeats,
but not for ``SPAN`` characters. A question that asks for the repetition ("write the word
'mother' 300 times") is left to run (``asks_to_repeat``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.result import Check

SPAN = 256
"""Fewest characters the repeated stretch must cover, back to back, at the reply's end."""
TIMES = 4
"""Fewest times the repeated unit must appear in that stretch."""
LONGEST_UNIT = 256
"""Longest unit looked for: a sentence or a short paragraph said over and over."""


@dataclass(frozen=True)
class Loop:
    """Where a reply's end repeats itself.

    Attributes:
        start: The index in the text where the repetition begins.
        unit: The text repeated (its first occurrence).
        length: Characters from ``start`` to the end of the text.
    """

    start: int
    unit: str
    length: int

    @property
    def times(self) -> float:
        """How many times the unit is said, from ``start`` to the end."""
        return self.length / len(self.unit)


# "Write the word 'mother' 300 times", "say hello a hundred times", "repeat it 50 times":
# a verb of writing, then a count of times in the same sentence.
_REPEAT = re.compile(
    r"\b(?:repeat|write|say|print|type|list|spell|output|echo|copy|sing|chant)\b[^.?!\n]{0,80}?"
    r"\b(?:\d[\d,]*|(?:a\s+)?(?:hundred|thousand|dozen)|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety)\s+times\b",
    re.IGNORECASE,
)


def asks_to_repeat(question: str) -> bool:
    """Whether the question asks for something to be written a number of times.

    Example:
        >>> asks_to_repeat("Write the word 'mother' 300 times, separated by commas.")
        True
        >>> asks_to_repeat("Ann has 3 times as many apples as Bo. How many has Ann?")
        False
    """
    return bool(_REPEAT.search(question))


def looping(text: str) -> Loop | None:
    r"""The repetition the text ends in, if it has gone on for ``SPAN`` characters.

    The shortest unit wins, so "0000" is a loop of "0", not of "00".

    Example:
        >>> looping("The density is 0." + "0" * 300).unit
        '0'
        >>> looping("| a | b |\n|---|---|\n| 1 | 2 |") is None
        True
    """
    n = len(text)
    for period in range(1, min(LONGEST_UNIT, n // TIMES) + 1):
        need = max(SPAN, TIMES * period)
        if need > n:
            break
        # The last `need` characters have period `period` when they equal themselves
        # shifted by one unit.
        if text[n - need + period :] != text[n - need : n - period]:
            continue
        start = n - need
        while start > 0 and text[start - 1] == text[start - 1 + period]:
            start -= 1
        return Loop(start, text[start : start + period], n - start)
    return None


def repetition_checks(text: str, question: str = "") -> list[Check]:
    """A failed check when the reply ends in a loop the question did not ask for.

    Example:
        >>> [c["passed"] for c in repetition_checks("It is 0." + "0" * 400)]
        [False]
        >>> repetition_checks("It is 0.5.")
        []
    """
    loop = None if asks_to_repeat(question) else looping(text)
    if loop is None:
        return []
    shown = loop.unit if len(loop.unit) <= 40 else loop.unit[:37] + "…"
    return [
        Check(
            kind="repetition",
            name="the reply does not loop",
            passed=False,
            detail=f"it repeats {shown!r} {loop.times:.0f} times "
            f"from character {loop.start + 1} on",
        )
    ]
