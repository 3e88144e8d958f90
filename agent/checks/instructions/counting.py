r"""What the checkers count, the way IFEval's checkers count it, and how a failure reads.

Words are ``\w+`` runs, sentences end at ``.``, ``!`` or ``?`` and a space (not after "Mr."
or an initial), bullet points are lines starting with ``*`` or ``-``, highlighted sections are
``*text*`` or ``**text**``; the items of a list are its first level, numbered or bulleted.
"""

from __future__ import annotations

import re


def words_of(text: str) -> list[str]:
    r"""The words of a text as IFEval counts them: ``\w+`` runs ("it's" is two)."""
    return re.findall(r"\w+", text)


_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "eg", "ie", "inc", "ltd",
    "co", "no", "fig", "approx", "dept", "est", "mt", "jan", "feb", "mar", "apr", "jun", "jul",
    "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "e.g", "i.e", "a.m", "p.m",
}  # fmt: skip


def _abbreviated(token: str) -> bool:
    """Whether a full stop after ``token`` (lower case) ends no sentence: "mr", "e.g", "j"."""
    return token in _ABBREVIATIONS or bool(re.fullmatch(r"[a-z]", token))


def sentences_of(text: str) -> list[str]:
    """Sentences as a Punkt tokenizer sees them: a break after . ! or ? and a space.

    Not after abbreviations ("Mr.", "e.g.") or initials ("J."); line breaks alone are no break.
    """
    sentences, start = [], 0
    for m in re.finditer(r"[.!?]+[\"'”’)\]]*\s+", text):
        before = re.search(r"([\w.]+)[.!?]+[\"'”’)\]]*\s+$", text[start : m.end()])
        token = before.group(1).lower() if before else ""
        if m.group(0)[0] == "." and _abbreviated(token):
            continue
        sentences.append(text[start : m.end()])
        start = m.end()
    sentences.append(text[start:])
    return [s for s in sentences if re.search(r"\w", s)]


_LAST = re.compile(r"([\w.]*)([.!?]+)[\"'”’)\]]*(\s*)$")


def ends_sentence(text: str) -> bool:
    """Whether a text has just ended a sentence, read as ``sentences_of`` breaks them.

    Not after an abbreviation or an initial, nor after a number's full stop with nothing
    behind it yet ("about 8." may go on as "8.5"; "6." may be a list's next item). Reads
    only the text's tail, so a writer can ask after every token.
    """
    m = _LAST.search(text[-80:])
    if m is None or not re.search(r"\w", text):
        return False
    token = m.group(1).lower()
    if m.group(2)[0] != ".":
        return True
    return not _abbreviated(token) and (not token[-1:].isdigit() or bool(m.group(3)))


def bullets_of(text: str) -> list[str]:
    """Lines that start with ``*`` (not ``**``) or ``-``."""
    stars = re.findall(r"^\s*\*[^\*].*$", text, re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", text, re.MULTILINE)
    return stars + dashes


_QUOTED = re.compile(r"^[ \t]*>[ \t]?", re.MULTILINE)
_FENCED = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
# "### 1. Scrambled": a numbered heading, whatever list its section holds.
_NUMBERED_HEADING = re.compile(r"^[ \t]*\#{1,6}[ \t]+(?:\*\*|__)?\d{1,3}[.):]", re.MULTILINE)
# "Tip 1: …", "### Step 2", "**Example 3:**": items named by a word and their number.
_LABELLED = re.compile(
    r"^[ \t]*(?:\#{1,6}[ \t]+)?(?:\*\*|__)?([A-Z][a-z]+)[ \t]+\d{1,3}(?:[:.)]|\*\*|__|[ \t]*$)",
    re.MULTILINE,
)
_NUMBERED = re.compile(r"^([ \t]*)(?:\*\*|__)?(\d{1,3})[.)](?:\*\*|__)?[ \t]", re.MULTILINE)
_MARKED = re.compile(r"^([ \t]*)(?:[-+•–]|\*(?!\*))[ \t]+\S", re.MULTILINE)
# "**Keep a schedule**: go to bed…": an item led by its name in bold, with more on its line.
_BOLD_LED = re.compile(r"^[ \t]*\*\*[^*\n]+\*\*[^\w\n]*\w", re.MULTILINE)
# An unindented line that opens another list after the first: "Sources:", "Note:".
_ANOTHER_LIST = re.compile(r"^(?![-+•–*\d])\S[^\n]*:[ \t]*$", re.MULTILINE)


def items_of(text: str) -> int | None:
    """How many items an answer lays out; ``None`` where it lays out none.

    Counted, the first that the answer has: its numbered headings (``### 1. …``), items named
    by a word and a number (``Tip 1:``), the first run of its numbered list (1, 2, 3… at the
    first level: a list that starts again at 1 is another one), its bullet points at the
    first level up to a line that opens another list (``Sources:``), the lines led by a name
    in bold, its code blocks. Sub-items, lines of code and the ``>`` of a quoted list are not
    counted. An answer that gives its items inline, in sentences, lays out none.
    """
    prose = _QUOTED.sub("", _FENCED.sub("", text))
    headings = _NUMBERED_HEADING.findall(prose)
    if headings:
        return len(headings)
    labels = _LABELLED.findall(prose)
    if len(labels) > 1:
        return labels.count(labels[0])
    numbered = [(_indent(m), int(m.group(2))) for m in _NUMBERED.finditer(prose)]
    marked = list(_MARKED.finditer(prose))
    top = min(_indent(m) for m in marked) if marked else None
    if numbered and (top is None or min(i for i, _ in numbered) <= top):
        first = min(i for i, _ in numbered)
        run = [n for indent, n in numbered if indent <= first + 1]  # " 9." above "10."
        if len(set(run)) == 1:
            return len(run)  # "1." for every item, as markdown renders in order
        length = 1
        while length < len(run) and run[length] == run[length - 1] + 1:
            length += 1
        return length
    if marked:
        end = _ANOTHER_LIST.search(prose, marked[0].end())
        return sum(
            1 for m in marked if _indent(m) == top and (end is None or m.start() < end.start())
        )
    return len(_BOLD_LED.findall(prose)) or len(_FENCED.findall(text)) or None


def _indent(m: re.Match[str]) -> int:
    return len(m.group(1).expandtabs(4))


def highlights_of(text: str) -> list[str]:
    """``*text*`` and ``**text**`` spans on one line, not empty ones."""
    single = [h for h in re.findall(r"\*[^\n\*]*\*", text) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", text) if h[2:-2].strip()]
    return single + double


def unfenced(text: str) -> str:
    """A text without the code fence around it (```` ```json ````)."""
    text = text.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        text = text.removeprefix(fence)
    return text.removesuffix("```").strip()


def first_word(paragraph: str) -> str:
    """A paragraph's first word in lower case, without quotes or punctuation."""
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    return re.split(r"[.,?!'\"]", word)[0].lower()


def some(found: list[str], most: int = 3) -> str:
    """A few of the culprits for a detail, ``" (All, Paris)"``; ``""`` for none."""
    shown = ", ".join(dict.fromkeys(found[:most]))
    return f" ({shown}{', …' * (len(found) > most)})" if found else ""


def quote(text: str, most: int = 40) -> str:
    """A text quoted for a detail or label, cut to ``most`` characters."""
    return repr(text if len(text) <= most else text[: most - 1] + "…")
