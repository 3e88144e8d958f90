"""An answer laid out again without new content: its paragraphs in a number of parts.

The repairs of counted structure (paragraphs between ``***``, sections marked ``SECTION X``,
bullet points) share this: the answer's own text, in its own order, cut at paragraph, line or
sentence breaks, or joined where there are too many pieces. Nothing is written or dropped. A
heading stays with what follows it, and a table is never cut.
"""

from __future__ import annotations

import re

from agent.checks.instructions.counting import sentences_of

_BLANK = re.compile(r"\n[ \t]*\n")
# "# Cats", "**Cats:**", "SECTION 1", "Day 2:": a line that names what follows it.
_HEADING = re.compile(r"[ \t]*(?:#.*|\*\*[^*\n]+\*\*:?|[^\w\n]*[A-Za-z]+\s+\d+[^\w\n]*)")
_TABLE_ROW = re.compile(r"[ \t]*\|.*")
LIST_MARK = r"(?:[-*+•]|\d+[.)])[ \t]+"
"""The mark that starts a list item: ``- ``, ``* ``, ``+ ``, ``• ``, ``1. ``, ``2) ``."""


def nearest(relation: str, n: int) -> int:
    """The count nearest to a failed bound that meets it: "at least 3" → 3, "less than 3" → 2."""
    return {"more than": n + 1, "less than": n - 1}.get(relation, n)


def heading(line: str) -> bool:
    """Whether a line is a heading: ``# …``, a line all in bold, or a marker (``Day 2``)."""
    return bool(_HEADING.fullmatch(line))


def table_row(line: str) -> bool:
    """Whether a line is a row of a markdown table (``| a | b |``, ``|---|``)."""
    return bool(_TABLE_ROW.fullmatch(line))


def sentences_in(text: str) -> list[str] | None:
    """The sentences of ``text``, which join back into it; ``None`` where they would not."""
    found = sentences_of(text)
    return found if "".join(found) == text else None


def paragraphs_of(text: str) -> list[str]:
    """The text's paragraphs, stripped, none empty; a paragraph only of headings joins the next."""
    found: list[str] = []
    for paragraph in (p.strip() for p in _BLANK.split(text)):
        if not paragraph:
            continue
        if found and all(heading(line) for line in found[-1].split("\n")):
            found[-1] = f"{found[-1]}\n\n{paragraph}"
        else:
            found.append(paragraph)
    return found


def in_parts(paragraphs: list[str], m: int) -> list[str] | None:
    """``paragraphs`` as exactly ``m`` parts, in order; ``None`` where they cannot make ``m``.

    Too many: neighbours are joined (a blank line between them), the parts as even as the
    count allows. Too few: the longest part that can be cut is cut in two at the line or
    sentence break nearest its middle, until there are ``m``.
    """
    parts = list(paragraphs)
    if m < 1 or not parts:
        return None
    while len(parts) < m:
        for i in sorted(range(len(parts)), key=lambda i: -len(parts[i])):
            halves = _cut(parts[i])
            if halves:
                parts[i : i + 1] = list(halves)
                break
        else:
            return None
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
    """``part`` in two at the line break nearest its middle, else at a sentence break.

    The sentence break is one of its last line. Never right after a heading, nor in a table.
    """
    lines = part.split("\n")
    allowed = [
        k
        for k in range(1, len(lines))
        if not heading(lines[k - 1])
        and not (table_row(lines[k - 1]) and table_row(lines[k]))
        and lines[k].strip()
        and lines[k - 1].strip()
    ]
    middle = len(part) / 2
    if allowed:
        k = min(allowed, key=lambda k: abs(len("\n".join(lines[:k])) - middle))
        return "\n".join(lines[:k]).strip(), "\n".join(lines[k:]).strip()
    pieces = sentences_in(lines[-1])
    if not pieces or len(pieces) < 2 or table_row(lines[-1]):
        return None
    head = "\n".join(lines[:-1])
    head = head + "\n" if head else ""
    k = min(range(1, len(pieces)), key=lambda k: abs(len(head + "".join(pieces[:k])) - middle))
    return (head + "".join(pieces[:k])).strip(), "".join(pieces[k:]).strip()
