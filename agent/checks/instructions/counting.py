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


_NUMBERED = re.compile(
    r"^([ \t]*)(?:\#{1,6}[ \t]+)?(?:\*\*|__)?\d{1,2}[.)](?:\*\*)?[ \t]", re.MULTILINE
)
_MARKED = re.compile(r"^([ \t]*)(?:[-+•]|\*(?!\*))[ \t]+\S", re.MULTILINE)
# "**Keep a schedule**: go to bed…": an item led by its name in bold, with more on its line.
_BOLD_LED = re.compile(r"^[ \t]*\*\*[^*\n]+\*\*[^\w\n]*\w", re.MULTILINE)
_FENCED = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)


def items_of(text: str) -> int:
    """How many items an answer lists: its top-level numbered items, else bullet points.

    Sub-items (indented deeper than the first level) and lines of code are not counted. An
    answer with no list counts the lines led by a name in bold (``**Keep a schedule**: …``),
    else its code blocks ("three examples of a list comprehension" given as three blocks).
    """
    prose = _FENCED.sub("", text)
    for pattern in (_NUMBERED, _MARKED):
        indents = [len(m.group(1).expandtabs(4)) for m in pattern.finditer(prose)]
        if indents:
            return indents.count(min(indents))
    return len(_BOLD_LED.findall(prose)) or len(_FENCED.findall(text))


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
