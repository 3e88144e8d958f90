"""An answer laid out again without new content: its paragraphs in a number of parts.

The repairs of counted structure (paragraphs between ``***``, sections marked ``SECTION X``,
bullet points) share this: the answer's own text, in its own order, cut at paragraph, line or
sentence breaks, or joined where there are too many pieces. Nothing is written or dropped.
"""

from __future__ import annotations

import re

from agent.checks.instructions.counting import sentences_of

_BLANK = re.compile(r"\n[ \t]*\n")


def nearest(relation: str, n: int) -> int:
    """The count nearest to a failed bound that meets it: "at least 3" → 3, "less than 3" → 2."""
    return {"more than": n + 1, "less than": n - 1}.get(relation, n)


def paragraphs_of(text: str) -> list[str]:
    """The text's paragraphs: the pieces between blank lines, stripped, none empty."""
    return [p.strip() for p in _BLANK.split(text) if p.strip()]


def in_parts(paragraphs: list[str], m: int) -> list[str] | None:
    """``paragraphs`` as exactly ``m`` parts, in order; ``None`` where they cannot make ``m``.

    Too many: neighbours are joined (a blank line between them), the parts as even as the
    count allows. Too few: the longest part is cut in two at the line or sentence break
    nearest its middle, until there are ``m`` or no part has two lines or two sentences.
    """
    parts = [p for p in paragraphs if p.strip()]
    if m < 1 or not parts:
        return None
    while len(parts) < m:
        cuts = sorted(((_cut(p), i) for i, p in enumerate(parts)), key=lambda c: -len(parts[c[1]]))
        cut = next(((halves, i) for halves, i in cuts if halves), None)
        if cut is None:
            return None
        halves, i = cut
        parts[i : i + 1] = list(halves)
    if len(parts) > m:
        size, extra = divmod(len(parts), m)
        grouped, start = [], 0
        for k in range(m):
            end = start + size + (k < extra)
            grouped.append("\n\n".join(parts[start:end]))
            start = end
        parts = grouped
    return parts


def _cut(part: str) -> tuple[str, str] | None:
    """``part`` in two at the line break, else the sentence break, nearest its middle."""
    lines = part.split("\n")
    if len(lines) > 1:
        pieces, glue = lines, "\n"
    else:
        pieces, glue = sentences_of(part), ""
        if "".join(pieces) != part:  # sentences_of drops pieces without a word
            return None
    if len(pieces) < 2:
        return None
    middle = len(part) / 2
    best = min(range(1, len(pieces)), key=lambda k: abs(len(glue.join(pieces[:k])) - middle))
    first, second = glue.join(pieces[:best]).strip(), glue.join(pieces[best:]).strip()
    return (first, second) if first and second else None
