"""``detectable_format:*``: bullet points, highlights, sections, a title, JSON, a set answer."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from agent.checks.instructions.amounts import AMOUNT, NUM, bounds, count
from agent.checks.instructions.base import Constraint, Instruction, counted, make
from agent.checks.instructions.counting import bullets_of, highlights_of, items_of, unfenced
from agent.checks.instructions.layout import (
    LIST_MARK,
    heading,
    in_parts,
    nearest,
    paragraphs_of,
    sentences_in,
    table_row,
)
from agent.checks.instructions.reading import I, X, first_bounds

# -- detectable_format:number_bullet_lists ----------------------------------------------------

_BULLETS = r"\s*(?:(?:markdown|short|very\s+short)\s+)*bullet(?:ed)?(?:[\s-]*points?|s)?\b"
_BULLET_COUNTS = [
    AMOUNT + _BULLETS,
    # "Name exactly 3 dogs using markdown bullet points"
    rf"""\bexactly\s+(?P<n>{NUM})\s+(?:\w+\s+){{0,3}}?\w+s\b
         [^.\n]{{0,40}}?\b(?:using|as|in|into){_BULLETS}""",
    rf"\bbullet(?:ed)?\s+(?:point\s+)?list\s+(?:of|with)\s+{AMOUNT}\s+(?:items|points)\b",
]


def _read_bullets(text: str) -> list[Constraint]:
    return counted(BULLETS.id, "bullet points", first_bounds(_BULLET_COUNTS, text))


def _check_bullets(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    return count("bullet point{s}", len(bullets_of(text)), args["relation"], args["n"])


_OTHER_MARKS = re.compile(rf"^([ \t]*)(?![-*][ \t]){LIST_MARK}", re.MULTILINE)  # 1. 2) • +
# A rule IFEval counts as a bullet point; after a blank line it is no setext heading.
_RULE = re.compile(r"(?:^|(?<=\n\n))[ \t]*-{3,}[ \t]*$", re.MULTILINE)


def _repair_bullets(text: str, args: dict[str, Any]) -> str:
    """As many bullet points as asked, made of the answer's own list or paragraphs.

    A numbered, ``•`` or ``+`` list becomes ``-`` bullet points, and rules (``---``) become
    ``___``; then too many bullet points in one flat list are joined into the last one kept
    (with ``;``), and an answer with none gets one per paragraph (as many as asked at least).
    An answer with some but too few, or too many across lists, levels or lines under an item,
    is left alone.
    """
    text = _RULE.sub("___", _OTHER_MARKS.sub(r"\1- ", text))
    want = nearest(args["relation"], args["n"])
    lines = text.split("\n")
    at = [i for i, line in enumerate(lines) if bullets_of(line)]
    if len(at) > want >= 1:
        joined = at[want - 1 :]
        indents = {len(lines[i]) - len(lines[i].lstrip()) for i in joined}
        if joined != list(range(joined[0], joined[-1] + 1)) or len(indents) > 1:
            return text
        items = [lines[joined[0]].rstrip()]
        items += [re.sub(r"^\s*[-*][ \t]+", "", lines[i]).strip() for i in joined[1:]]
        line = "; ".join(item.rstrip(";.") for item in items)
        lines[joined[0]] = line if line.endswith(("!", "?", ":")) else line + "."
        return "\n".join(line for i, line in enumerate(lines) if i not in joined[1:])
    if not at:
        units = paragraphs_of(text)
        if args["relation"] in ("at least", "more than"):
            want = max(want, len(units))
        parts = in_parts(units, want)
        if parts is None or any(heading(p) or table_row(p.split("\n")[0]) for p in parts):
            return text
        return "\n".join("- " + part for part in parts)
    return text


BULLETS = Instruction(
    "detectable_format:number_bullet_lists",
    _read_bullets,
    _check_bullets,
    "lower bound",
    repair=_repair_bullets,
)


# -- detectable_format:number_items (IFEval has none) ------------------------------------------

# Everyday requests for a number of things that are laid out as a list: "Give three short tips
# for sleeping better", "list 5 reasons". Only nouns whose items people and models put in a
# list: "names" and "alternatives" are often given inline or in quotes, and "points" is the
# bullet points' own word.
_LISTED = r"""(?:tips|ways|reasons|examples|ideas|steps|benefits|strategies|suggestions|methods
    |advantages|disadvantages|pros|cons|facts|questions|habits|techniques|exercises
    |recommendations|factors|causes|lessons|principles|mistakes|signs|activities|things|places
    |books|features|tools|uses|risks|challenges|arguments|differences)"""
# The request itself, at the start of a clause: not "He decided to give 12 books away".
_ITEM_COUNT = rf"""
    (?:^|(?<=[.!?:;\n,]))\s*
    (?:(?:please|and|then|also|now|so|just)\s+|(?:can|could|would|will)\s+you\s+(?:please\s+)?)?
    (?:give|list|name|suggest|provide|share|offer|recommend|come\s+up\s+with|write(?:\s+down)?
       |outline|tell\s+me|what\s+are|i\s+(?:need|want|would\s+like)|i'd\s+like)
    \s+(?:me\s+|us\s+)?(?:the\s+|your\s+|some\s+)?(?:top\s+)?
    {AMOUNT}\s+(?:(?!(?:and|or|{_LISTED})\b)[\w-]+\s+){{0,3}}?(?P<noun>{_LISTED})\b
    (?![^.!?\n]{{0,40}}?(?:\band|,)\s+{NUM}\s)  # "2 for and 2 against", "3 of X, 3 of Y"
"""
# A layout asked for that is no list: the count is then not one of list items.
_NOT_A_LIST = re.compile(
    r"\b(?:paragraphs?|sentences?|table|json|comma[-\s]separated|one\s+line|single\s+line"
    r"|haikus?|inline)\b",
    re.IGNORECASE,
)


def _read_items(text: str) -> list[Constraint]:
    if _read_bullets(text):
        return []  # the bullet points asked for count the same items
    quoted = [m.span() for m in re.finditer(r'"[^"\n]*"', text)]
    for m in re.finditer(_ITEM_COUNT, text, I):
        start = max(text.rfind(end, 0, m.start("noun")) for end in ".!?\n")
        sentence = re.split(r"[.!?\n]", text[start + 1 :])[0]
        if _NOT_A_LIST.search(sentence):
            continue  # "give five reasons, in one paragraph": no list to count
        if not any(a < m.start("noun") < b for a, b in quoted):
            return counted(ITEMS.id, m.group("noun").lower(), bounds(m))
    return []


def _check_items(text: str, args: dict[str, Any]) -> tuple[bool, str] | None:
    listed = items_of(text)
    if listed is None:
        return None  # given inline ("Beloved, Sula and Jazz."): not counted, nor failed
    return count("item{s} listed", listed, args["relation"], args["n"])


ITEMS = Instruction(
    "detectable_format:number_items", _read_items, _check_items, "lower bound", in_questions=True
)


# -- detectable_format:number_highlighted_sections --------------------------------------------

_HIGHLIGHT = r"(?:highlight|italici[sz]e|bold|emphasi[sz]e)"
_THINGS = r"(?:sections?|parts?|phrases?|words?|keywords?|names?|points?|lines?)"
_HIGHLIGHT_COUNTS = [
    rf"\b{_HIGHLIGHT}\w*\s+(?:\w+\s+){{0,2}}?{AMOUNT}\s+(?:\S+\s+){{0,3}}?{_THINGS}\b",
    rf"{AMOUNT}\s+(?:\S+\s+){{0,2}}?{_THINGS}\s+(?:should|must|need\s+to)\s+be\s+{_HIGHLIGHT}",
    rf"{AMOUNT}\s+(?:italic|highlighted|bold|italicized)\s+(?:text\s+)?{_THINGS}\b",
    rf"\b{_HIGHLIGHT}\w*\s+(?:\w+\s+){{1,4}}?(?P<t>twice|thrice)\b",
]


def _read_highlights(text: str) -> list[Constraint]:
    for sentence in re.finditer(r"[^.!?\n]*(?:[.!?\n]|$)", text):
        s = sentence.group(0)
        if not re.search(rf"\b{_HIGHLIGHT}|\bitalic", s, I):
            continue
        here = s + text[sentence.end() : sentence.end() + 80]
        if not re.search(r"(?:markdown|\*|italic|asterisk)", here, I):
            continue
        if re.search(r"\b(?:capital|caps|upper\s*case)\b", s, I) and not re.search(
            r"\*|markdown|italic", s, I
        ):
            continue  # "highlight them in capitals": capital words, not markdown
        pairs = first_bounds(_HIGHLIGHT_COUNTS, s, bare="at least")
        pairs = [("at least" if r == "exactly" else r, n) for r, n in pairs]
        if not pairs and re.search(
            rf"\b{_HIGHLIGHT}\w*\b(?!\s+(?:of|the\s+(?:fact|importance)))", s, I
        ):
            pairs = [("at least", 1)]
        if pairs:
            return counted(HIGHLIGHTS.id, "*highlighted* sections", pairs)
    return []


def _check_highlights(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    found = len(highlights_of(text))
    return count("*highlighted* section{s}", found, args["relation"], args["n"])


_LEAD = re.compile(rf"(\s*(?:(?![*]){LIST_MARK}|>[ \t]*)*)(.*?)(\s*)")  # "- ", "1. ", "> "
_INDENTED_CODE = re.compile(rf"(?: {{4}}|\t)(?!\s*{LIST_MARK})")
_END = re.compile(r"[.!?]+[\"'”’)\]]*\s*$")


def _repair_highlights(text: str, args: dict[str, Any]) -> str:
    """Sentences of the answer put in ``*italics*`` until there are as many as asked.

    The first sentence of each line comes first, then the second, and so on. Never touched:
    a line with a ``*`` of its own, a heading, a table row, indented code, and the answer's
    last sentence (a phrase to end with). The full stop stays outside (``*Dogs bark*.``),
    where sentence counts still see it. An answer with too few sentences, and at most
    bounds, are left alone.
    """
    if args["relation"] not in ("at least", "more than", "exactly"):
        return text
    need = nearest(args["relation"], args["n"]) - len(highlights_of(text))
    lines = text.split("\n")
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    split: dict[int, tuple[str, list[str], str]] = {}  # line: (its mark, sentences, its end)
    spots = []  # (k-th sentence, line), in the order they are put in italics
    for i, line in enumerate(lines):
        if "*" in line or heading(line) or table_row(line) or _INDENTED_CODE.match(line):
            continue
        marked = _LEAD.fullmatch(line)
        assert marked is not None  # every pattern in it may match nothing
        lead, body, end = marked.groups()
        said = sentences_in(body)
        if said and re.search(r"\w", body):
            split[i] = (lead, said, end)
            spots += [(k, i) for k in range(len(said) - (i == last))]
    if not 0 < need <= len(spots):
        return text
    chosen = set(sorted(spots)[:need])
    for i, (lead, said, end) in split.items():
        body = "".join(_italics(p) if (k, i) in chosen else p for k, p in enumerate(said))
        lines[i] = lead + body + end
    return "\n".join(lines)


def _italics(sentence: str) -> str:
    end = _END.search(sentence)
    cut = end.start() if end else len(sentence.rstrip())
    return f"*{sentence[:cut]}*{sentence[cut:]}"


HIGHLIGHTS = Instruction(
    "detectable_format:number_highlighted_sections",
    _read_highlights,
    _check_highlights,
    "lower bound",
    repair=_repair_highlights,
)


# -- detectable_format:multiple_sections ------------------------------------------------------

_SECTION_MARKER = re.compile(
    r"""
    \b(?:with|as|by)\s+[\"']?(?P<marker>[A-Za-z]+)\s+[XN#]\b          # with SECTION X
  | (?:^|[\s(\"'])(?P<m2>[A-Z][A-Za-z]*)[\"']?\s+1[\"']?\s*          # Day 1 and Day 2
    (?:,\s*[\"']?(?P=m2)\s+2[\"']?\s*,?)?\s+and\s+[\"']?(?P=m2)\s+2\b
    """,
    X,
)


def _read_sections(text: str) -> list[Constraint]:
    marker_at = _SECTION_MARKER.search(text)
    if not marker_at:
        return []
    marker = marker_at.group("marker") or marker_at.group("m2")
    if marker.lower() in ("a", "an", "the", "bullet", "step", "point", "version"):
        return []
    noun = rf"(?:sections?|paragraphs?|parts?|{re.escape(marker)}s?)\b"
    pairs = first_bounds([rf"{AMOUNT}\s*-?\s*{noun}"], text, bare="at least")
    if not pairs:
        listed = re.findall(rf"\b{re.escape(marker)}\s+(\d+)\b", text)
        pairs = [("at least", max(int(n) for n in listed))] if listed else []
    pairs = [("at least" if r == "exactly" else r, n) for r, n in pairs]
    return counted(SECTIONS.id, f"sections marked {marker} X", pairs, marker=marker)


def _check_sections(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    marker = args["marker"]
    found = len(re.split(rf"\s?{re.escape(marker)}\s?\d+\s?", text)) - 1
    return count(f"section{{s}} marked {marker} X", found, args["relation"], args["n"])


def _repair_sections(text: str, args: dict[str, Any]) -> str:
    """The answer's sections marked as asked: its own headings numbered, else its paragraphs.

    Headings the answer already starts with the marker (``SECTION X: Tea``, ``**Section
    1**``) are numbered in order where there are enough of them; otherwise they give way to
    the marker on the answer's paragraphs, joined or cut into as many sections as asked. A
    marker word inside a sentence (``Section 230 of the Act``) is no heading and stays.
    """
    marker = args["marker"]
    head = re.compile(
        rf"^([^\w\n]*){re.escape(marker)}\s*(?:\d+|[XN]|#\d*)\b(?=[^\w\n]*(?:$|[:.\-–]))",
        re.MULTILINE | re.IGNORECASE,
    )
    want = nearest(args["relation"], args["n"])
    if want >= 1 and len(head.findall(text)) >= want and args["relation"] != "at most":
        numbers = itertools.count(1)
        return head.sub(lambda m: f"{m[1]}{marker} {next(numbers)}", text)
    with_sign = re.compile(head.pattern + r"[ \t]*[:.\-–]?[ \t]*", head.flags)
    lines = []
    for line in text.split("\n"):
        rest = with_sign.sub(r"\1", line)
        lines.append(line if rest == line else rest if re.search(r"\w", rest) else "")
    parts = in_parts(paragraphs_of("\n".join(lines)), want)
    if parts is None:
        return text
    return "\n\n".join(f"{marker} {k}\n{part}" for k, part in enumerate(parts, 1))


SECTIONS = Instruction(
    "detectable_format:multiple_sections",
    _read_sections,
    _check_sections,
    "lower bound",
    repair=_repair_sections,
)


# -- detectable_format:title ----------------------------------------------------------------


def _read_title(text: str) -> list[Constraint]:
    if re.search(r"double\s+angular\s+brackets|<<\s*(?:title|name)[^<>\n]{0,30}>>", text, I):
        return [make(TITLE.id, "a title in <<double angular brackets>>")]
    return []


def _check_title(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    ok = any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", text))
    return ok, "" if ok else "no title in <<double angular brackets>>"


TITLE = Instruction("detectable_format:title", _read_title, _check_title, "anywhere")


# -- detectable_format:json_format ------------------------------------------------------------

_SAYS_JSON = re.compile(
    r"""
    \b(?:in|into|as)\s+(?:a\s+|the\s+|valid\s+|one\s+)*JSON\s+(?:format|object|block|code)
  | \bJSON\s+(?:code\s+)?block\b
  | \buse\s+(?:the\s+)?JSON\b
  | (?<!how\sto\s)
    \b(?:wrap\w*|format\w*|output|respon\w+|answer|reply|put|give|return|provide)\b
    [^.\n]{0,40}\b(?:in|into|as)\s+(?:a\s+|the\s+|valid\s+|one\s+)*JSON\b
  | \b(?:only|just)\s+(?:with\s+)?(?:a\s+)?(?:valid\s+)?JSON\b
  | (?:^|[.!?\n]\s*|\bplease\s+)(?:respond|reply|answer|return)\s+with\s+(?:a\s+)?
    (?:valid\s+)?JSON\b
    """,
    I,
)


def _read_json(text: str) -> list[Constraint]:
    return [make(JSON.id, "valid JSON")] if _SAYS_JSON.search(text) else []


def _check_json(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    try:
        json.loads(unfenced(text))
    except ValueError as exc:
        return False, f"not valid JSON ({str(exc).split(':')[0]})"
    return True, ""


JSON = Instruction("detectable_format:json_format", _read_json, _check_json)


# -- detectable_format:constrained_response ---------------------------------------------------

_OPTIONS_LEAD = re.compile(
    r"""\b(?:
        (?:exactly\s+)?one\s+of\s+the\s+following(?:\s+\w+){0,3}
      | choose\s+from(?:\s+the\s+following)?
      | just\s+say
      | answer\s+with\s+one\s+of
    )\s*:?""",
    I,
)


def _read_one_of(text: str) -> list[Constraint]:
    m = _OPTIONS_LEAD.search(text)
    options: list[str] = []
    if m:
        rest = text[m.end() :]
        line = rest.split("\n")[0]
        options = [a or b for a, b in re.findall(r"\"([^\"\n]+)\"|'([^'\n]+)'", line)]
        if not options and not line.strip():
            for row in rest.split("\n")[1:]:
                if not row.strip() or len(row) > 80 or re.match(r"\s*(?:just|please)\b", row, I):
                    break
                options.append(row.strip())
    if len(options) < 2:
        options = list(dict.fromkeys(re.findall(r"My answer is \w+\.", text)))
    if len(options) >= 2:
        return [make(ONE_OF.id, f"one of {len(options)} set answers", options=options)]
    return []


def _check_one_of(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    ok = any(option in text.strip() for option in args["options"])
    return ok, "" if ok else f"none of {', '.join(repr(o) for o in args['options'])}"


ONE_OF = Instruction("detectable_format:constrained_response", _read_one_of, _check_one_of)
