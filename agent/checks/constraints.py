r"""Instructions a question states that code can check: length, case, commas, keywords, format.

``extract`` reads the instructions out of the question with rules (the phrasings people and
IFEval use: "no commas", "at least 300 words", "in all lowercase letters", "exactly 3 bullet
points", "use the word war at least 8 times", "wrap your entire response in JSON"…).
``check`` then tests an answer against each one with plain code, and says exactly what
failed: ``2 commas; none allowed``.

The checkers count the way IFEval's official checkers do, so that a check the agent passes
is one the benchmark passes: words are ``\w+`` runs, sentences end at ``.``, ``!`` or ``?``
and a space (not after "Mr." or an initial), paragraphs are split on ``***`` (or on blank
lines), bullet points are lines starting with ``*`` or ``-``, highlighted sections are
``*text*`` or ``**text**``, capital words are ``\w+`` runs all in capitals ("I" too), keyword
counts ignore case and word boundaries (a forbidden word is matched whole), and "less than" is
strict.

An instruction about one part of the answer is not one about the whole: "after the code, say
in one sentence…" does not make the reply one sentence long. ``extract`` reads such clauses
(after/before the code, in the first paragraph, the title should…, "…, then list…", each item
in one sentence, and the prose counts of a question that asks for code) and keeps of them only
what the whole reply must meet too, so that a check never vetoes a right answer.

Constraint ids and their args (``relation`` is one of "at least", "more than", "at most",
"less than", "exactly"; a count ``n`` goes with it):

- ``no_commas``: no comma at all.
- ``lowercase`` / ``uppercase``: every letter in lower case / in capitals.
- ``words``, ``sentences``: how many (``relation``, ``n``).
- ``paragraphs``: how many (``relation``, ``n``), split on ``divider``: "***" or "blank line".
- ``paragraph_first_word``: paragraph ``nth`` (-1: the last) starts with ``word``.
- ``bullets``, ``highlights``, ``placeholders``: how many ``* items``, ``*highlights*``,
  ``[placeholders]`` (``relation``, ``n``).
- ``sections``: how many sections marked ``marker`` 1, ``marker`` 2… (``relation``, ``n``).
- ``title``: a ``<<title>>``; ``postscript``: a line starting with ``marker`` (P.S. or P.P.S).
- ``json``: the whole answer is JSON (a code fence allowed); ``quoted``: wrapped in "…".
- ``ends_with`` / ``starts_with``: the answer ends / starts with ``phrase`` (the request to
  repeat is a ``starts_with``).
- ``two_responses``: two different responses separated by ``******``.
- ``forbidden_words`` / ``required_words``: none / all of ``words``.
- ``word_frequency``: ``word`` appears (``relation``, ``n``) times; ``letter_frequency``:
  ``letter`` does; ``capital_words``: words in capitals do.
- ``one_of``: the answer contains one of ``options`` ("My answer is yes.").

Example:
    >>> found = extract("Describe a cat in at most 50 words. Do not use any commas.")
    >>> [c["label"] for c in found]
    ['no commas', 'at most 50 words']
    >>> [(c["passed"], c["detail"]) for c in check("A cat, a mat.", found)]
    [(False, '1 comma; none allowed'), (True, '')]
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from typing_extensions import TypedDict

from agent.result import Check


class Constraint(TypedDict):
    """One checkable instruction: what it is (``id``), its arguments and a label to show."""

    id: str
    args: dict[str, Any]
    label: str


# ---------------------------------------------------------------------------------------------
# Amounts: "at least 300", "10 or more", "6 or 7", "3 to 5", "twice", "300+".

_NUMBER_WORDS = {
    "zero": 0, "one": 1, "a single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "a hundred": 100, "hundred": 100,
    "once": 1, "twice": 2, "thrice": 3,
}  # fmt: skip
_COUNT_WORDS = sorted((w for w in _NUMBER_WORDS if not w.endswith("ce")), key=len, reverse=True)
_NUM = r"(?:\d+|" + "|".join(_COUNT_WORDS) + r")\b"
_RELATIONS = {
    "at least": "at least", "no less than": "at least", "not less than": "at least",
    "no fewer than": "at least", "a minimum of": "at least", "minimum of": "at least",
    "at most": "at most", "no more than": "at most", "not more than": "at most",
    "a maximum of": "at most", "maximum of": "at most", "up to": "at most",
    "no longer than": "at most", "not longer than": "at most",
    "anything longer than": "at most", "nothing longer than": "at most",
    "less than": "less than", "fewer than": "less than", "under": "less than",
    "below": "less than", "less than a total of": "less than",
    "more than": "more than", "greater than": "more than", "over": "more than",
    "above": "more than", "exactly": "exactly", "a total of": "exactly", "only": "exactly",
    "just": "exactly", "between": "exactly", "in the range of": "exactly",
    "the range of": "exactly",
}  # fmt: skip
_REL = "|".join(sorted((r.replace(" ", r"\s+") for r in _RELATIONS), key=len, reverse=True))
# An amount: a relation, a number, an optional range or "or more", then (for times) "times".
_AMOUNT = (
    rf"(?:(?P<rel>{_REL})\s+)?(?P<n>{_NUM})(?P<plus>\+)?"
    rf"(?:\s*(?:to|-|–|and|or)\s*(?P<m>{_NUM}))?"
    r"(?:\s+or\s+(?P<sfx>more|less|fewer|greater|above|below|under))?"
)
_TIMES = (
    rf"(?:(?P<rel>{_REL})\s+)?(?:(?P<n>{_NUM})(?:\s*(?:to|-|or)\s*(?P<m>{_NUM}))?"
    r"(?:\s+or\s+(?P<sfx>more|less|fewer))?\s+times?\b"
    r"|(?P<t>once|twice|thrice)(?:\s+or\s+(?P<sfx2>more|less|fewer))?\b)"
)
_AFTER = (
    r"(?:\s+or\s+(?P<sfx2>more|less|fewer|greater|above|below|under)"
    r"|\s+(?P<sfx3>at\s+most|at\s+least|max(?:imum)?|min(?:imum)?)\b)?"
)


def _number(text: str) -> int:
    text = re.sub(r"\s+", " ", text.lower())
    return int(text) if text.isdigit() else _NUMBER_WORDS[text]


def _bounds(m: re.Match[str], bare: str | None = "exactly") -> list[tuple[str, int]]:
    """The (relation, n) pairs an amount match states; a range gives two, ``bare`` a lone number.

    ``bare`` is the relation of a number said without one ("3 bullet points"); ``None`` means
    such a number is no instruction ("a 500-word essay").
    """
    groups = m.groupdict()
    n = _number(groups.get("n") or groups.get("t") or "0")
    if groups.get("m"):
        return [("at least", n), ("at most", _number(groups["m"]))]
    suffix = groups.get("sfx") or groups.get("sfx2") or groups.get("sfx3") or ""
    suffix = {"at least": "more", "min": "more", "minimum": "more"}.get(suffix, suffix)
    suffix = {"at most": "less", "max": "less", "maximum": "less"}.get(suffix, suffix)
    if groups.get("plus") or suffix in ("more", "greater", "above"):
        return [("at least", n)]
    if suffix in ("less", "fewer", "below", "under"):
        return [("at most", n)]
    relation = groups.get("rel")
    if not relation:
        return [(bare, n)] if bare else []
    return [(_RELATIONS[re.sub(r"\s+", " ", relation.lower())], n)]


def _holds(count: int, relation: str, n: int) -> bool:
    return {
        "at least": count >= n,
        "more than": count > n,
        "at most": count <= n,
        "less than": count < n,
        "exactly": count == n,
    }[relation]


def _asked(relation: str, n: int) -> str:
    if (n == 0 and relation in ("exactly", "at most")) or (relation, n) == ("less than", 1):
        return "none allowed"
    return f"{relation} {n} asked"


def _count(name: str, counted: int, relation: str, n: int) -> tuple[bool, str]:
    """Check ``counted`` against the bound; ``name`` has ``{s}`` where its plural takes an s."""
    ok = _holds(counted, relation, n)
    name = name.format(s="" if counted == 1 else "s")
    return ok, "" if ok else f"{counted} {name}; {_asked(relation, n)}"


def _quote(text: str, most: int = 40) -> str:
    return repr(text if len(text) <= most else text[: most - 1] + "…")


# ---------------------------------------------------------------------------------------------
# What the checkers count, the way IFEval's checkers count it.


def _words_of(text: str) -> list[str]:
    return re.findall(r"\w+", text)


_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "eg", "ie", "inc", "ltd",
    "co", "no", "fig", "approx", "dept", "est", "mt", "jan", "feb", "mar", "apr", "jun", "jul",
    "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "e.g", "i.e", "a.m", "p.m",
}  # fmt: skip


def _sentences_of(text: str) -> list[str]:
    """Sentences as a Punkt tokenizer sees them: a break after . ! or ? and a space.

    Not after abbreviations ("Mr.", "e.g.") or initials ("J."); line breaks alone are no break.
    """
    sentences, start = [], 0
    for m in re.finditer(r"[.!?]+[\"'”’)\]]*\s+", text):
        before = re.search(r"([\w.]+)[.!?]+[\"'”’)\]]*\s+$", text[start : m.end()])
        token = before.group(1).lower() if before else ""
        if m.group(0)[0] == "." and (token in _ABBREVIATIONS or re.fullmatch(r"[a-z]", token)):
            continue
        sentences.append(text[start : m.end()])
        start = m.end()
    sentences.append(text[start:])
    return [s for s in sentences if re.search(r"\w", s)]


def _bullets_of(text: str) -> list[str]:
    stars = re.findall(r"^\s*\*[^\*].*$", text, re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", text, re.MULTILINE)
    return stars + dashes


def _highlights_of(text: str) -> list[str]:
    single = [h for h in re.findall(r"\*[^\n\*]*\*", text) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", text) if h[2:-2].strip()]
    return single + double


def _unfenced(text: str) -> str:
    text = text.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        text = text.removeprefix(fence)
    return text.removesuffix("```").strip()


def _first_word(paragraph: str) -> str:
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    return re.split(r"[.,?!'\"]", word)[0].lower()


def _some(found: list[str], most: int = 3) -> str:
    shown = ", ".join(dict.fromkeys(found[:most]))
    return f" ({shown}{', …' * (len(found) > most)})" if found else ""


# ---------------------------------------------------------------------------------------------
# Checkers: one per constraint id; each takes the answer and the constraint's args and returns
# (passed, detail), the detail a short phrase saying what is wrong.

Checker = Callable[[str, dict[str, Any]], tuple[bool, str]]


def _no_commas(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    n = text.count(",")
    return n == 0, "" if n == 0 else f"{n} comma{'s' * (n != 1)}; none allowed"


def _one_case(text: str, *, upper: bool) -> tuple[bool, str]:
    """All letters in one case: IFEval's ``isupper()`` / ``islower()``, with the culprits."""
    if text.isupper() if upper else text.islower():
        return True, ""
    asked = "all capitals" if upper else "all lowercase"
    wrong = str.islower if upper else str.isupper
    count = sum(wrong(c) for c in text)
    if not count:
        return False, f"no letters; {asked} asked"
    words = [w for w in _words_of(text) if any(wrong(c) for c in w)]
    name = "lowercase letter" if upper else "capital letter"
    return False, f"{count} {name}{'s' * (count != 1)}{_some(words)}; {asked} asked"


def _lowercase(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    return _one_case(text, upper=False)


def _uppercase(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    return _one_case(text, upper=True)


def _word_count(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    return _count("word{s}", len(_words_of(text)), args["relation"], args["n"])


def _sentence_count(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    return _count("sentence{s}", len(_sentences_of(text)), args["relation"], args["n"])


def _paragraph_count(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    if args["divider"] == "***":
        pieces = re.split(r"\s?\*\*\*\s?", text)
        if any(not p.strip() for p in pieces[1:-1]):
            return False, "an empty paragraph between *** dividers"
        found = [p for p in pieces if p.strip()]
        name = "paragraph{s} separated by ***"
    else:
        found = [p for p in text.split("\n\n") if p.strip()]
        name = "paragraph{s} separated by blank lines"
    return _count(name, len(found), args["relation"], args["n"])


def _paragraph_first_word(text: str, args: dict[str, Any]) -> tuple[bool, str]:
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
    first = _first_word(paragraph)
    ok = first == word.lower()
    return ok, "" if ok else f"{which} starts with {first!r}; {word!r} asked"


def _bullet_count(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    return _count("bullet point{s}", len(_bullets_of(text)), args["relation"], args["n"])


def _highlights(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    found = len(_highlights_of(text))
    return _count("*highlighted* section{s}", found, args["relation"], args["n"])


def _placeholders(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    found = len(re.findall(r"\[.*?\]", text))
    return _count("[placeholder]{s}", found, args["relation"], args["n"])


def _sections(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    marker = args["marker"]
    found = len(re.split(rf"\s?{re.escape(marker)}\s?\d+\s?", text)) - 1
    return _count(f"section{{s}} marked {marker} X", found, args["relation"], args["n"])


def _title(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    ok = any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", text))
    return ok, "" if ok else "no title in <<double angular brackets>>"


def _postscript(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    marker = args["marker"]
    if marker == "P.P.S":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif marker == "P.S.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + re.escape(marker.lower()) + r".*$"
    ok = re.search(pattern, text.lower(), re.MULTILINE) is not None
    return ok, "" if ok else f"no postscript starting with {marker}"


def _json(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    try:
        json.loads(_unfenced(text))
    except ValueError as exc:
        return False, f"not valid JSON ({str(exc).split(':')[0]})"
    return True, ""


def _ends_with(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    phrase = args["phrase"].strip()
    end = text.strip().strip('"')
    ok = end.lower().endswith(phrase.lower())
    tail = " ".join(end.split()[-len(phrase.split()) :])  # as many words as the phrase
    return ok, "" if ok else f"ends with {_quote(tail)}; {phrase!r} asked"


def _starts_with(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    phrase = args["phrase"].strip()
    ok = text.strip().lower().startswith(phrase.lower())
    return ok, "" if ok else f"starts with {_quote(text.strip())}; {_quote(phrase)} asked"


def _quoted(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    stripped = text.strip()
    ok = len(stripped) > 1 and stripped[0] == '"' and stripped[-1] == '"'
    return ok, "" if ok else "not wrapped in double quotation marks"


def _two_responses(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    pieces = text.split("******")
    if any(not p.strip() for p in pieces[1:-1]):
        return False, "an empty response between ****** dividers"
    responses = [p.strip() for p in pieces if p.strip()]
    if len(responses) != 2:
        return False, f"{len(responses)} responses separated by ******; 2 asked"
    ok = responses[0] != responses[1]
    return ok, "" if ok else "the two responses are the same; two different ones asked"


def _forbidden(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    used = [w for w in args["words"] if re.search(rf"\b{re.escape(w)}\b", text, re.IGNORECASE)]
    return not used, "" if not used else f"uses {', '.join(repr(w) for w in used)}"


def _required(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    missing = [w for w in args["words"] if not re.search(re.escape(w), text, re.IGNORECASE)]
    return not missing, "" if not missing else f"lacks {', '.join(repr(w) for w in missing)}"


def _word_frequency(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    word = args["word"]
    found = len(re.findall(re.escape(word), text, re.IGNORECASE))
    return _count(f"time{{s}} {word!r}", found, args["relation"], args["n"])


def _letter_frequency(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    letter = args["letter"]
    found = text.lower().count(letter.lower())
    return _count(f"time{{s}} the letter {letter!r}", found, args["relation"], args["n"])


def _capital_words(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    found = sum(1 for w in _words_of(text) if w.isupper())
    return _count("word{s} in all capitals", found, args["relation"], args["n"])


def _one_of(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    ok = any(option in text.strip() for option in args["options"])
    return ok, "" if ok else f"none of {', '.join(repr(o) for o in args['options'])}"


CHECKERS: dict[str, Checker] = {
    "no_commas": _no_commas,
    "lowercase": _lowercase,
    "uppercase": _uppercase,
    "words": _word_count,
    "sentences": _sentence_count,
    "paragraphs": _paragraph_count,
    "paragraph_first_word": _paragraph_first_word,
    "bullets": _bullet_count,
    "highlights": _highlights,
    "placeholders": _placeholders,
    "sections": _sections,
    "title": _title,
    "postscript": _postscript,
    "json": _json,
    "ends_with": _ends_with,
    "starts_with": _starts_with,
    "quoted": _quoted,
    "two_responses": _two_responses,
    "forbidden_words": _forbidden,
    "required_words": _required,
    "word_frequency": _word_frequency,
    "letter_frequency": _letter_frequency,
    "capital_words": _capital_words,
    "one_of": _one_of,
}
"""The checker of each constraint id: ``(answer, args) -> (passed, detail)``."""


# ---------------------------------------------------------------------------------------------
# Rules: one function per constraint id, reading the question (normalized by ``_plain``) and
# returning the constraints of that id it states.


# Sentences that ask nothing of the answer, whatever words they hold: a question about something
# ("How do I output JSON?"), reported speech ("My teacher said not to use commas."), a statement
# about the user's own text ("I wrote a 3 paragraph essay.") and the spec of code to write
# ("Write a function that removes all commas.").
_NOT_ASKED = (
    r"(?:[\w ]{1,30},\s*)?(?:how|what|why|when|where|which|who|whose|is|are|was|were|does|did|"
    r"should|do\b(?!\s+not))\b[^.!?\n]*\?",
    r"[^.!?\n]*(?<!be\s)(?<!being\s)(?<!been\s)(?<!is\s)(?<!was\s)\b(?:said|says|told|tells)\b"
    r"[^.!?\n]*[.!?]",
    r"(?!my\s+answer\b)(?:I|my|we|our|he|she|they|his|her|their|it|its)\b(?![^.!?\n]*(?:\b(?:"
    r"should|must|please|want|need|would|like|let|make\s+sure|require|your)\b|'d\b))[^.!?\n]*[.!?]",
    r"(?:please\s+)?(?:write|create|implement|build|give\s+me)\s+(?:a|an|me\s+a|some)\s+"
    r"(?:[\w+#-]+\s+){0,3}?(?:function|regex|regular\s+expression|script|program|class|method|"
    r"query|code|snippet|one-liner)\b[^.!?\n]*\b(?:that|which|to)\b[^.!?\n]*[.!?]?",
)
_NOT_ASKED_AT = re.compile(
    r"(?:^|(?<=[.!?\n]))[^\S\n]*(?:" + "|".join(_NOT_ASKED) + ")", re.IGNORECASE
)


def _plain(question: str) -> str:
    """The question as the rules read it: straight quotes, "i.e." without dots, no questions."""
    text = question.translate(str.maketrans("“”„‟«»‘’‚‛\u00a0", '""""""\'\'\'\'' + " "))
    text = re.sub(r"\b([ie])\.([eg])\.", r"\1\2", text, flags=re.IGNORECASE)
    quotes = [m.span() for m in re.finditer(r'"[^"\n]*"', text)]

    def blank(m: re.Match[str]) -> str:
        quoted = any(start < m.start() < end for start, end in quotes)
        return m.group(0) if quoted else " "

    return _NOT_ASKED_AT.sub(blank, text)


def _make(id_: str, label: str, **args: Any) -> Constraint:
    return Constraint(id=id_, args=args, label=label)


def _counted(id_: str, noun: str, pairs: list[tuple[str, int]], **more: Any) -> list[Constraint]:
    return [
        _make(id_, f"{relation} {n} {noun}", relation=relation, n=n, **more)
        for relation, n in pairs
    ]


# "Each line should contain exactly one sentence": an amount per unit, not the total.
_PER_UNIT = (
    r"\b(?:each|every|per)\s+\w+(?:\s+\w+)?\s+(?:should|must|needs?\s+to|has|have|contains?|with|"
    r"will|is|are)\b"
)


def _first_bounds(
    patterns: list[str], text: str, bare: str | None = "exactly"
) -> list[tuple[str, int]]:
    for pattern in patterns:
        for m in re.finditer(pattern, text, re.IGNORECASE):
            pairs = _bounds(m, bare)
            sentence = re.split(r"[.!?\n]", text[max(0, m.start() - 80) : m.start()])[-1]
            if re.search(_PER_UNIT, sentence, re.IGNORECASE):
                continue  # "each line should contain exactly one sentence": not the total
            if pairs:
                return pairs
    return []


_WORD_QUOTED = r"\"([^\"\n]{1,60})\"|'([^'\n]{1,60})'"


_NOT_WORDS = {
    "before", "after", "that", "this", "other", "else", "anything", "outside", "more", "it",
    "them", "which", "any", "such", "like", "first", "above", "below", "those", "these",
}  # fmt: skip


def _items(text: str) -> list[str]:
    """The words a list names: quoted ones if any, else the parts between commas/and/or."""
    quoted = [a or b for a, b in re.findall(_WORD_QUOTED, text)]
    if quoted:
        return [q.strip() for q in quoted if q.strip()]
    parts = re.split(r",|\bor\b|\band\b|\bnor\b", text)
    items = [p.strip(" .:;*[]()'\"") for p in parts]
    items = [i for i in items if i]
    if not items or any(len(i.split()) > 2 or i.split()[0].lower() in _NOT_WORDS for i in items):
        return []
    return items[:12]


# Where a list of words ends: "in your response", "throughout", "but", ", and make sure"...
_LIST_END = (
    r"(?=\s+(?:in|from|within|into|anywhere|throughout|somewhere|at\s+all)\b"
    r"|,?\s+(?:but|etc|so|because|when|while|since|each|followed|as\s+well)\b"
    r"|,?\s+and\s+(?:also|make|use|include|write|keep|wrap|should|must|the|be|end|refrain|"
    r"avoid|do|don't|mention|put|have|has|is|are|your|respond|answer|give|it|at)\b"
    r"|\s+(?:at\s+least|at\s+most|more\s+than|less\s+than|exactly|once|twice|for\s+at)\b"
    r"|[;!?\n]|\.(?:\s|$)|\s*\(|,\s*(?:i\.?e|eg|such)\b|$)"
)


def _no_commas_rule(text: str) -> list[Constraint]:
    pattern = (
        r"\b(?:no|zero)\s+commas?\b(?!\s+(?:in|after|before)\s+(?:the\s+)?(?:list|numbers?))"
        r"|(?:\bnot|n't|\bnever|\bwithout|\brefrain\s+from|\bavoid|\bcannot)\s+(?:(?:\w+\s+){0,2}?"
        r"(?:use|using|include|including|contain|containing|add|adding|put|putting|have|having|"
        r"the\s+use\s+of)\s+)?(?:any\s+|a\s+single\s+)?commas?\b"
        r"|\bcommas?\s+(?:are|is)\s+(?:not\s+(?:allowed|permitted)|forbidden|prohibited|banned)"
    )
    return [_make("no_commas", "no commas")] if re.search(pattern, text, re.IGNORECASE) else []


def _lowercase_rule(text: str) -> list[Constraint]:
    patterns = (
        r"(?<!\bno\s)(?<!\bnot\s)(?<!\bany\s)\blower\s*-?\s*case(?:s|d)?\b"
        r"(?!\s+(?:or|and|for|when|if|version|form|equivalent|names?)\b)",
        r"\b(?:no|not|without|never|refrain\s+from)\s+(?:\w+\s+){0,3}?"
        r"(?:capital\s+letters|capitals|capitali[sz]ations?|upper\s*case\s+letters)"
        r"(?!\s+(?:should|must|appear|at\s+least|more\s+than))",
        r"\bnot\s+a\s+single\s+letter\b[^.\n]{0,50}\bcapitali[sz]ed",
    )
    for pattern in patterns:
        for m in re.finditer(pattern, text, re.IGNORECASE):
            before = text[max(0, m.start() - 60) : m.start()].lower()
            sentence = re.split(r"[.!?\n]", before)[-1]
            if pattern == patterns[0] and re.search(r"\b(?:not|no|never|without)\b|n't", sentence):
                continue
            if pattern == patterns[0] and not re.search(
                r"\b(?:all|only|entire|entirely|in|use|using|with|be|answer|write|written)\b",
                sentence,
            ):
                continue
            if re.search(r"\b(?:convert|to|into|function|variable|string)\s*$", before):
                continue
            return [_make("lowercase", "all lowercase")]
    return []


_CAPS = r"(?:capital\s+letters|capitals|caps|upper\s*case(?:\s+letters)?|block\s+letters)"


def _uppercase_rule(text: str) -> list[Constraint]:
    patterns = (
        rf"\b(?:in|with|use|using|only\s+use|be|written\s+in)\s+(?:english\s+and\s+)?"
        rf"(?:all|only)\s+{_CAPS}",
        rf"\b(?:answer|respond|reply|be|written|write\s+(?:it|everything|your\s+\w+)|english,?)"
        rf"\s+(?:entirely\s+|only\s+)?(?:in\s+)?(?:english\s+and\s+)?{_CAPS}(?:\s+only)?\b",
        rf"(?:^|[.!?]\s+|,\s+|\band\s+)(?:all|only)\s+{_CAPS}",
        rf"\bonly\s+use\s+{_CAPS}",
        r"\bcapitali[sz]e\s+(?:all|every|each)\s+(?:of\s+)?(?:your\s+|the\s+)?(?:words?|letters?)",
        r"\ball\s+(?:the\s+)?letters\b[^.\n]{0,50}\b(?:capitali[sz]ed|upper\s*case|capitals)\b",
        r"\bno\s+lower\s*-?\s*case\s+letters",
    )
    for pattern in patterns:
        for m in re.finditer(pattern, text, re.IGNORECASE):
            before = text[max(0, m.start() - 40) : m.start()].lower()
            after = text[m.end() : m.end() + 40].lower()
            sentence = re.split(r"[.!?\n]", before)[-1]
            if re.search(r"\bwords?\b.*\b(?:should|must)\s+be\s*$", sentence):
                continue
            if re.search(r"^\s*then\b|\b(?:same|again|version)\b", sentence):
                continue  # "then write the same joke in all caps": a part, not the answer
            if re.search(r"\b(?:words?|phrases?)\s+(?:\w+\s+)?$", before) or re.search(
                r"^\s*(?:\(|should|must|appear|at\s+least|for\s+at|to\s+(?:highlight|stress|"
                r"emphasi|make)|\w+\s+times)",
                after,
            ):
                continue
            return [_make("uppercase", "all capital letters")]
    return []


def _words_rule(text: str) -> list[Constraint]:
    # Not "words in all capital letters" (capital_words) nor "a 10-word-long" compound.
    noun = (
        r"\s*-?\s*words?\b(?!\s+(?:or\s+phrases\s+)?(?:in\s+(?:the|your)\s+\w+\s+)?"
        r"(?:should\s+be\s+|must\s+be\s+|be\s+)?(?:in|with)\s+(?:all[- ])?(?:capital|caps|upper))"
        r"(?!\s*-\s*\w)" + _AFTER
    )
    patterns = [
        rf"(?<!letter\s)(?<!\w\s-)(?<![-/]){_AMOUNT}{noun}",
        rf"\bnumber\s+of\s+words\b(?!\s+(?:in|with)\s+all)[^.\n]{{0,40}}?\b(?:be|is)\s+{_AMOUNT}",
    ]
    pairs = _first_bounds(patterns, text, bare=None)
    return _counted("words", "words", pairs)


def _sentences_rule(text: str) -> list[Constraint]:
    patterns = [
        rf"{_AMOUNT}\s*-?\s*sentences?\b(?!\s*-)" + _AFTER,
        rf"\bnumber\s+of\s+sentences\b[^.\n]{{0,40}}?\b(?:be|is)\s+(?:in\s+)?{_AMOUNT}",
    ]
    pairs = _first_bounds(patterns, text, bare=None)
    if not pairs:  # a bare number only after a verb or preposition: "in 3 sentences"
        bare = rf"\b(?:in|with|into|use|using|write|contain|contains|containing)\s+{_AMOUNT}"
        pairs = _first_bounds([bare + r"\s*-?\s*sentences?\b(?!\s*-)"], text)
    return _counted("sentences", "sentences", pairs)


_STARS3 = r"(?<!\*)\*\*\*(?!\*)"
_PARTS = r"(?:paragraphs?|sections?|parts?|stanzas?|scenes?|steps?|chunks?|blocks?)"


def _paragraphs_rule(text: str) -> list[Constraint]:
    if re.search(_STARS3, text):
        pairs = _first_bounds([rf"{_AMOUNT}\s*-?\s*(?:\w+\s+)?{_PARTS}\b"], text)
        if not pairs:
            dividers = len(re.findall(rf"^\s*{_STARS3}\s*$", text, re.MULTILINE))
            if dividers:
                pairs = [("exactly", dividers + 1)]
            elif re.search(r"\bseparate\w*\s+(?:\w+\s+){1,4}and\s+", text, re.IGNORECASE):
                pairs = [("exactly", 2)]
        return _counted("paragraphs", "paragraphs separated by ***", pairs, divider="***")
    if re.search(r"\b(?:PARAGRAPH|Paragraph)\s+X\b", text):
        return []  # the paragraphs are sections marked "PARAGRAPH 1", "PARAGRAPH 2"...
    pairs = _first_bounds([rf"{_AMOUNT}\s*-?\s*paragraphs?\b(?!\s+(?:\d|of\s+(?:the|this)))"], text)
    return _counted("paragraphs", "paragraphs", pairs, divider="blank line")


_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "last": -1, "final": -1,
}  # fmt: skip
_NTH = r"(?P<nth>" + "|".join(_ORDINALS) + r"|\d+(?:st|nd|rd|th))"
_START_WORD = (
    r"(?:start|begin)s?\s+with\s+(?:the\s+)?(?:word\s+)?(?:\"(?P<w1>[\w'-]+)\"|'(?P<w2>[\w'-]+)'"
    r"|(?P<w3>[\w'-]+))"
)


def _paragraph_first_word_rule(text: str) -> list[Constraint]:
    patterns = (
        rf"\b{_NTH}\s+paragraph\s+(?:must|should|needs?\s+to|has\s+to|will)?\s*{_START_WORD}",
        rf"\bparagraph\s+(?P<num>\d+)\s+(?:must|should|needs?\s+to|has\s+to)?\s*{_START_WORD}",
        rf"\b(?:start|begin)\s+(?:the\s+)?(?:very\s+)?{_NTH}\s+paragraph\s+with\s+(?:the\s+)?"
        r"(?:word\s+)?[\"']?(?P<w4>[\w'-]+)",
        r"\b(?:start|begin)\s+paragraph\s+(?P<num2>\d+)\s+with\s+(?:the\s+)?(?:word\s+)?"
        r"[\"']?(?P<w5>[\w'-]+)",
    )
    for pattern in patterns:
        m = re.search(pattern, text, re.IGNORECASE)
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
            counts = [c["args"] for c in _paragraphs_rule(text)]
            nth = next((a["n"] for a in counts if a["relation"] == "exactly"), -1)
        which = "the last paragraph" if nth == -1 else f"paragraph {nth}"
        return [_make("paragraph_first_word", f"{which} starts with {word!r}", nth=nth, word=word)]
    return []


def _bullets_rule(text: str) -> list[Constraint]:
    noun = r"\s*(?:(?:markdown|short|very\s+short)\s+)*bullet(?:ed)?(?:[\s-]*points?|s)?\b"
    # "Name exactly 3 dogs using markdown bullet points"
    listed = (
        rf"\bexactly\s+(?P<n>{_NUM})\s+(?:\w+\s+){{0,3}}?\w+s\b"
        r"[^.\n]{0,40}?\b(?:using|as|in|into)"
    )
    items = rf"\bbullet(?:ed)?\s+(?:point\s+)?list\s+(?:of|with)\s+{_AMOUNT}\s+(?:items|points)\b"
    pairs = _first_bounds([_AMOUNT + noun, listed + noun, items], text)
    return _counted("bullets", "bullet points", pairs)


_HIGHLIGHT = r"(?:highlight|italici[sz]e|bold|emphasi[sz]e)"
_MARKDOWN = r"(?:markdown|\*|italic|asterisk)"


def _highlights_rule(text: str) -> list[Constraint]:
    things = r"(?:sections?|parts?|phrases?|words?|keywords?|names?|points?|lines?)"
    patterns = [
        rf"\b{_HIGHLIGHT}\w*\s+(?:\w+\s+){{0,2}}?{_AMOUNT}\s+(?:\S+\s+){{0,3}}?{things}\b",
        rf"{_AMOUNT}\s+(?:\S+\s+){{0,2}}?{things}\s+(?:should|must|need\s+to)\s+be\s+"
        rf"{_HIGHLIGHT}",
        rf"{_AMOUNT}\s+(?:italic|highlighted|bold|italicized)\s+(?:text\s+)?{things}\b",
        rf"\b{_HIGHLIGHT}\w*\s+(?:\w+\s+){{1,4}}?(?P<t>twice|thrice)\b",
    ]
    for sentence in re.finditer(r"[^.!?\n]*(?:[.!?\n]|$)", text):
        s = sentence.group(0)
        if not re.search(rf"\b{_HIGHLIGHT}|\bitalic", s, re.IGNORECASE):
            continue
        here = s + text[sentence.end() : sentence.end() + 80]
        if not re.search(_MARKDOWN, here, re.IGNORECASE):
            continue
        if re.search(r"\b(?:capital|caps|upper\s*case)\b", s, re.IGNORECASE) and not re.search(
            r"\*|markdown|italic", s, re.IGNORECASE
        ):
            continue
        pairs = _first_bounds(patterns, s, bare="at least")
        pairs = [("at least" if r == "exactly" else r, n) for r, n in pairs]
        if not pairs and re.search(
            rf"\b{_HIGHLIGHT}\w*\b(?!\s+(?:of|the\s+(?:fact|importance)))", s, re.IGNORECASE
        ):
            pairs = [("at least", 1)]
        if pairs:
            return _counted("highlights", "*highlighted* sections", pairs)
    return []


def _placeholders_rule(text: str) -> list[Constraint]:
    pattern = rf"{_AMOUNT}\s+(?:\w+\s+)?placeholders?\b"
    pairs = _first_bounds([pattern], text, bare="at least")
    pairs = [("at least" if r == "exactly" else r, n) for r, n in pairs]
    return _counted("placeholders", "[placeholders]", pairs)


def _sections_rule(text: str) -> list[Constraint]:
    marker_at = re.search(
        r"\b(?:with|as|by)\s+[\"']?(?P<marker>[A-Za-z]+)\s+[XN#]\b|(?:^|[\s(\"'])(?P<m2>[A-Z][A-Za-z]*)"
        r"[\"']?\s+1[\"']?\s*(?:,\s*[\"']?(?P=m2)\s+2[\"']?\s*,?)?\s+and\s+[\"']?(?P=m2)\s+2\b",
        text,
    )
    if not marker_at:
        return []
    marker = marker_at.group("marker") or marker_at.group("m2")
    if marker.lower() in ("a", "an", "the", "bullet", "step", "point", "version"):
        return []
    noun = rf"(?:sections?|paragraphs?|parts?|{re.escape(marker)}s?)\b"
    pairs = _first_bounds([rf"{_AMOUNT}\s*-?\s*{noun}"], text, bare="at least")
    if not pairs:
        listed = re.findall(rf"\b{re.escape(marker)}\s+(\d+)\b", text)
        pairs = [("at least", max(int(n) for n in listed))] if listed else []
    pairs = [("at least" if r == "exactly" else r, n) for r, n in pairs]
    return _counted("sections", f"sections marked {marker} X", pairs, marker=marker)


def _title_rule(text: str) -> list[Constraint]:
    if re.search(r"double\s+angular\s+brackets|<<\s*(?:title|name)[^<>\n]{0,30}>>", text, re.I):
        return [_make("title", "a title in <<double angular brackets>>")]
    return []


def _postscript_rule(text: str) -> list[Constraint]:
    m = re.search(
        r"\b(?:post\s*script|note|p\.?s\.?)\b[^.\n]{0,50}?\b(P\.\s?P\.\s?S|P\.\s?S)\b"
        r"|\b(?:with|add|include)\s+a\s+(P\.\s?P\.\s?S|P\.\s?S)\b",
        text,
        re.IGNORECASE,
    )
    if not m:
        return []
    marker = "P.P.S" if "p" in (m.group(1) or m.group(2)).lower()[1:] else "P.S."
    return [_make("postscript", f"a postscript starting with {marker}", marker=marker)]


def _json_rule(text: str) -> list[Constraint]:
    pattern = (
        r"\b(?:in|into|as)\s+(?:a\s+|the\s+|valid\s+|one\s+)*JSON\s+(?:format|object|block|code)"
        r"|\bJSON\s+(?:code\s+)?block\b|\buse\s+(?:the\s+)?JSON\b"
        r"|(?<!how\sto\s)\b(?:wrap\w*|format\w*|output|respon\w+|answer|reply|put|give|return|"
        r"provide)"
        r"\b[^.\n]{0,40}\b(?:in|into|as)\s+"
        r"(?:a\s+|the\s+|valid\s+|one\s+)*JSON\b"
        r"|\b(?:only|just)\s+(?:with\s+)?(?:a\s+)?(?:valid\s+)?JSON\b"
        r"|(?:^|[.!?\n]\s*|\bplease\s+)(?:respond|reply|answer|return)\s+with\s+(?:a\s+)?"
        r"(?:valid\s+)?JSON\b"
    )
    return [_make("json", "valid JSON")] if re.search(pattern, text, re.IGNORECASE) else []


_PHRASE = r"\"([^\"\n]{1,200})\"|'([^'\n]{1,200})'(?!\w)"
_PHRASE_WORDS = (
    r"(?:\s+(?:the|this|exactly|exact|following|phrase|sentence|question|words?|line|of|like)\b)*"
)


def _ends_with_rule(text: str) -> list[Constraint]:
    lead = (
        r"\b(?:end|finish|conclude)\b(?:\s+(?!with\b)[\w'-]+){0,4}?\s+with\b"
        r"|\bvery\s+(?:last\s+sentence|end)\b[^\"\n:]{0,50}?\b(?:be|read)\b"
    )
    for m in re.finditer(rf"(?:{lead})(?P<how>{_PHRASE_WORDS}\s*:?)\s*", text, re.IGNORECASE):
        rest = text[m.end() :]
        quoted = re.match(_PHRASE, rest)
        if quoted:
            phrase = (quoted.group(1) or quoted.group(2)).strip()
        elif ":" in m.group("how") or re.search(r"exact|question", m.group("how"), re.I):
            phrase = rest.split("\n")[0].strip() or rest.strip().split("\n")[0].strip()
        else:
            continue
        if ":" not in m.group("how") and re.match(r"(?:a|an|your)\s", phrase, re.IGNORECASE):
            continue
        if re.search(r"\w", phrase):
            return [_make("ends_with", f"ends with {_quote(phrase)}", phrase=phrase)]
    return []


_REPEAT = re.compile(
    r"\brep(?:l)?eat\b[^.\n]{0,40}?\b(?:request|prompt|question|instructions?|(?:text|line|"
    r"sentence)\s+(?:above|below)|first\s+line|it\b(?=[^.\n]*\b(?:beginning|exactly|as\s+it\s+is)))"
    r"|\brepeat\s+\"",
    re.IGNORECASE,
)
_REPEAT_HOW = re.compile(
    r"first|before|beginning|word\s+(?:for|by)\s+word|without\s+(?:any\s+)?chang|exact|"
    r"as\s+it\s+is|above|below",
    re.IGNORECASE,
)


_NOT_START = r"paragraph|section|bullet|title|each|every|line|point|part|note|post\s*script|item"


def _starts_with_rule(text: str) -> list[Constraint]:
    found = []
    for m in re.finditer(
        r"(?:\b(?:start|begin)|\b(?:response|answer|reply|output)\s+(?:starts|begins))\b"
        r"(?P<what>(?:\s+(?!with\b)[\w'-]+){0,4}?)\s+with\s+"
        rf"(?:the\s+)?(?:(?:exact\s+)?(?:word|phrase|sentence|line)s?\s*)?:?\s*(?:{_PHRASE})",
        text,
        re.IGNORECASE,
    ):
        before = re.split(r"[.!?\n]", text[max(0, m.start() - 60) : m.start()])[-1] + m["what"]
        if not re.search(_NOT_START, before, re.IGNORECASE):
            phrase = (m[2] or m[3]).strip()
            found.append(_make("starts_with", f"starts with {_quote(phrase)}", phrase=phrase))
    return found


def _repeat_rule(question: str) -> list[Constraint]:
    """A request to repeat the request first: the answer starts with it, copied verbatim.

    The request is the text before the sentence asking for the repeat or, when that sentence
    comes first ("repeat the request below"), the text after the paragraph it opens.
    """
    repeat = _REPEAT.search(question)
    if not repeat or not re.search(_REPEAT_HOW, question[repeat.start() : repeat.start() + 250]):
        return []
    quoted = re.match(r"repeat\s+[\"“]([^\"”\n]+)[\"”]", question[repeat.start() :], re.I)
    line = question.rfind("\n", 0, repeat.start()) + 1
    sentence = re.search(r"(?s).*[.!?]\s+", question[line : repeat.start()])
    start = line + (sentence.end() if sentence else 0)
    if quoted:
        request = quoted.group(1).strip()
    elif question[:start].strip():
        request = question[:start].strip()
    else:
        rest = question[repeat.end() :]
        gap = re.search(r"\n\s*\n", rest) or re.search(r"\n", rest)
        request = rest[gap.end() :].strip() if gap else ""
    if not request:
        return []
    return [_make("starts_with", "starts by repeating the request", phrase=request)]


def _quoted_rule(text: str) -> list[Constraint]:
    for s in re.split(r"(?<=[.!?])\s+|\n", text):
        if (
            re.search(r"double[\s-]*quot", s, re.IGNORECASE)
            and re.search(r"wrap|around|enclose|inside|\bin\s+double|with\s+double|placed", s, re.I)
            and re.search(r"entire|whole|all\b|response|answer|reply|output|email|letter", s, re.I)
        ):
            return [_make("quoted", "wrapped in double quotation marks")]
    return []


def _two_responses_rule(text: str) -> list[Constraint]:
    if re.search(
        r"(?:separat|divid|split|follow|between)[^.!?]{0,60}(?:\*{6}|\b(?:6|six)\s+asterisk)",
        text,
        re.IGNORECASE,
    ):
        return [_make("two_responses", "two responses separated by ******")]
    return []


_NOUN = r"(?:(?:key)?words?|terms?|keywords?|phrases?)"


def _forbidden_words_rule(text: str) -> list[Constraint]:
    found: list[Constraint] = []

    def add(words: list[str]) -> None:
        if words and not any(set(c["args"]["words"]) == set(words) for c in found):
            found.append(_make("forbidden_words", f"none of {', '.join(words)}", words=words))

    lead = (
        r"\b(?:do\s+not|don't|does\s+not|doesn't|not|never|without|avoid|refrain\s+from|exclude)"
        r"\s+(?:to\s+)?(?:(?P<verb>includ|us|mention|say|contain|add|writ|put|hav)\w*\s+)?"
    )
    for m in re.finditer(
        lead + rf"(?:any\s+(?:of\s+)?)?(?P<det>the\s+|these\s+)?(?:following\s+)?"
        rf"(?P<noun>(?:\w+\s+)?{_NOUN}(?:\s+such\s+as)?\s*:?\s*)?",
        text,
        re.IGNORECASE,
    ):
        rest = text[m.end() :]
        # Without "the word(s)", only a quoted list or "do not mention X" names words.
        unquoted = m["noun"] is None and not rest.startswith(("'", '"', "["))
        if unquoted and (m["det"] or not (m["verb"] or "").lower().startswith("mention")):
            continue
        if m["noun"] and re.match(r"(?:\w+\s+)?(?:words?\s+in\s+all|letters?)\b", m["noun"], re.I):
            continue
        if m["noun"] is None and re.match(r"(?:any|the|a|your|all)\b", rest, re.IGNORECASE):
            continue
        if re.match(r"avoid\s+mention", m.group(0), re.IGNORECASE):
            continue  # "avoid mentioning X": a keyword frequency of zero
        listed = rest if rest.startswith("[") else re.split(_LIST_END, rest, maxsplit=1)[0]
        if rest.startswith("["):
            listed = rest[: rest.find("]") + 1]
        add(_items(listed))
    for m in re.finditer(
        rf"\bthe\s+{_NOUN}\s+(?P<list>[^.\n]{{1,80}}?)\s+(?:should\s+not|must\s+not|cannot|"
        r"can't|shouldn't|doesn't|does\s+not|do\s+not|don't|should\s+never|may\s+not|"
        r"(?:is|are)\s+not\s+allowed)\s+(?:appear|be\b|occur|show)",
        text,
        re.IGNORECASE,
    ):
        add(_items(m["list"]))
    return found


_NEGATION = r"(?:\bnot|n't|\bwithout|\bnever|\bavoid|\bexclude|\bno)\b"


def _required_words_rule(text: str) -> list[Constraint]:
    found: list[Constraint] = []
    verbs = r"(?:include|includes|including|use|uses|using|contain|contains|containing|has|have)"
    for m in re.finditer(
        rf"\b(?:{verbs}\s+(?:the\s+|these\s+|following\s+|these\s+items)*(?:key\s?words?|"
        r"(?<=the\s)words?|(?<=following\s)words?|words?(?=\s*:)|line|phrase|items(?=\s*:)|"
        r"(?<=the\s)word)|with\s+(?:these|the\s+following)\s+keywords|mention)\b\s*:?\s*",
        text,
        re.IGNORECASE,
    ):
        before = text[max(0, m.start() - 30) : m.start()]
        if re.search(rf"{_NEGATION}(?:\s+\w+)?\s*$", before, re.IGNORECASE):
            continue  # "do not include the keywords...": forbidden words
        rest = text[m.end() :]
        if m.group(0).lower().startswith("mention") and not rest.startswith(("'", '"')):
            continue
        listed = rest[: rest.find("]") + 1] if rest.startswith("[") else rest
        listed = re.split(_LIST_END, listed, maxsplit=1)[0]
        after = rest[len(listed) :]
        if re.match(rf"\s*(?:for\s+)?{_TIMES}|\s+(?:each|every)\s+time", after, re.IGNORECASE):
            continue  # "include the word story at least twice": a frequency
        words = _items(listed)
        if words and not any(set(c["args"]["words"]) == set(words) for c in found):
            found.append(_make("required_words", f"includes {', '.join(words)}", words=words))
    return found


_WORD = r"(?:\"(?P<q1>[^\"\n]{1,40})\"|'(?P<q2>[^'\n]{1,40})'|(?P<bare>[A-Za-z][\w-]*))"
_GAP = (
    r"(?:(?:should|must|to|will|can|be|is|appear|appears|appearing|used|mentioned|show|shows|up|"
    r"occur|occurs|for|in|the|your|entire|response|answer)\s+){0,4}"
)


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


def _word_frequency_rule(text: str) -> list[Constraint]:
    found: list[Constraint] = []
    for m in re.finditer(
        r"(?:\b(?:word|keyword|name|term)\s+|\b(?:say|use|mention|include|repeat|write)\s+"
        rf"(?=[\"'])){_WORD}\s+{_GAP}{_TIMES}",
        text,
        re.IGNORECASE,
    ):
        word = (m["q1"] or m["q2"] or m["bare"]).strip()
        if _stated(text, m) or word.lower() in ("count", "limit", "should", "must", "appear"):
            continue
        pairs = _bounds(m)
        if (m["rel"] or "").lower() == "only":
            pairs = [("at most", pairs[0][1])]
            found.append(_make("required_words", f"includes {word}", words=[word]))
        found += _counted("word_frequency", f"times {word!r}", pairs, word=word)
    for m in re.finditer(rf"\bavoid\s+mentioning\s+(?:the\s+(?:word|name)\s+)?{_WORD}", text, re.I):
        word = (m["q1"] or m["q2"] or m["bare"]).strip()
        found.append(_make("word_frequency", f"never {word!r}", word=word, relation="exactly", n=0))
    return found


_LETTER = r"(?:\"(?P<l1>[^\"\s])\"|'(?P<l2>[^'\s])'|(?P<l3>[A-Za-z#!?@$%&])(?![\w'-]))"


def _letter_frequency_rule(text: str) -> list[Constraint]:
    found: list[Constraint] = []
    how = (
        r"(?:(?:should|must|to|will|can|appear|appears|appearing|show|shows|up|be|used|occur|"
        r"occurs|in|your|response|anywhere)\s+){0,4}"
    )
    for m in re.finditer(rf"\bletter\s+{_LETTER}\s+{how}{_TIMES}", text, re.IGNORECASE):
        if _stated(text, m):
            continue
        letter = (m["l1"] or m["l2"] or m["l3"]).lower()
        pairs = _bounds(m)
        before = text[max(0, m.start() - 30) : m.start()].lower()
        if re.search(r"\b(?:avoid|without|not|n't)\b(?:\s+\w+){0,2}\s*(?:the\s+)?$", before):
            pairs = [("at most" if r == "more than" else r, n) for r, n in pairs]
        found += _counted("letter_frequency", f"times the letter {letter!r}", pairs, letter=letter)
    for m in re.finditer(
        rf"\b(?:without|do\s+not|don't|never|avoid|not|no)\s+(?:\w+\s+){{0,2}}?(?:the\s+)?"
        rf"letter\s+{_LETTER}(?!\s+(?:more|at|over)\b)",
        text,
        re.IGNORECASE,
    ):
        before = text[max(0, m.start() - 20) : m.start()].lower()
        if re.search(r"\b(?:trying|tried|try)\s+to\s*$", before):
            continue
        letter = (m["l1"] or m["l2"] or m["l3"]).lower()
        label = f"never the letter {letter!r}"
        found.append(_make("letter_frequency", label, letter=letter, relation="exactly", n=0))
    for symbol, noun in (("!", r"exclamation\s+(?:marks?|points?)"), ("#", r"hashtags?")):
        for m in re.finditer(rf"{_AMOUNT}\s+{noun}", text, re.IGNORECASE):
            found += _counted(
                "letter_frequency", f"times {symbol!r}", _bounds(m, "at least"), letter=symbol
            )
    return found


_CAP_WORDS = (
    r"(?:(?:words?|phrases?)\s+(?:or\s+phrases\s+)?(?:with|in)\s+(?:all\s+)?(?:capital\s+letters"
    r"|caps|capitals|upper\s*case)|all[\s-]caps\s+words|(?:stress\s+|such\s+)?capitali[sz]ed\s+"
    r"words|stress\s+words)"
)


def _capital_words_rule(text: str) -> list[Constraint]:
    patterns = (
        rf"{_CAP_WORDS}\s*(?:\([^)]*\)\s*)?(?:should|must|to|will)?\s*(?:appear|be\s+used)?\s*"
        rf"(?:for\s+)?{_TIMES}",
        rf"{_CAP_WORDS}\s*(?:\([^)]*\)\s*)?(?:should|must)\s+(?:appear|be\s+used)\s+{_TIMES}",
        rf"{_AMOUNT}\s+(?:words?|phrases?)(?:\s+or\s+phrases)?\s+(?:in\s+(?:the|your)\s+"
        rf"(?:output|response)\s+)?(?:should\s+be\s+|must\s+be\s+|be\s+)?(?:in|with)\s+all\s+"
        rf"(?:capital|caps|upper)",
        rf"{_AMOUNT}\s+(?:such\s+)?(?:fully\s+|entirely\s+|completely\s+)?(?:capitali[sz]ed|"
        r"all[\s-]caps)\s+words",
        rf"\bnumber\s+of\s+{_CAP_WORDS}\s+(?:to|should\s+be|must\s+be|is)\s+{_AMOUNT}",
        rf"\blimit\s+(?:those\s+|the\s+)?{_CAP_WORDS}\s+(?:for|to)\s+{_AMOUNT}",
        rf"{_CAP_WORDS}\b[^.\n]{{0,30}}?\b(?:at\s+least|at\s+most|less\s+than|more\s+than)\s+"
        rf"{_NUM}\s+times",
    )
    pairs: list[tuple[str, int]] = []
    for pattern in patterns:
        for m in re.finditer(pattern, text, re.IGNORECASE):
            if pattern == patterns[-1]:
                m2 = re.search(_TIMES, m.group(0), re.IGNORECASE)
                more = _bounds(m2) if m2 else []
            else:
                more = _bounds(m)
            pairs += [p for p in more if p not in pairs]
    if re.search(
        r"\b(?:use|include)\s+(?:some\s+|a\s+few\s+|several\s+)?(?:words|phrases)\s+(?:with|in)\s+"
        r"all\s+(?:capital\s+letters|caps|capitals)",
        text,
        re.IGNORECASE,
    ) and all(r in ("less than", "at most") for r, _ in pairs):
        pairs.insert(0, ("at least", 1))
    return _counted("capital_words", "words in all capitals", pairs)


def _one_of_rule(text: str) -> list[Constraint]:
    m = re.search(
        r"\b(?:(?:exactly\s+)?one\s+of\s+the\s+following(?:\s+\w+){0,3}|choose\s+from(?:\s+the"
        r"\s+following)?|just\s+say|answer\s+with\s+one\s+of)\s*:?",
        text,
        re.IGNORECASE,
    )
    options: list[str] = []
    if m:
        rest = text[m.end() :]
        line = rest.split("\n")[0]
        options = [a or b for a, b in re.findall(r"\"([^\"\n]+)\"|'([^'\n]+)'", line)]
        if not options and not line.strip():
            for row in rest.split("\n")[1:]:
                if not row.strip() or len(row) > 80 or re.match(r"\s*(?:just|please)\b", row, re.I):
                    break
                options.append(row.strip())
    if len(options) < 2:
        options = list(dict.fromkeys(re.findall(r"My answer is \w+\.", text)))
    if len(options) >= 2:
        return [_make("one_of", f"one of {len(options)} set answers", options=options)]
    return []


_RULES: tuple[Callable[[str], list[Constraint]], ...] = (
    _no_commas_rule,
    _lowercase_rule,
    _uppercase_rule,
    _words_rule,
    _sentences_rule,
    _paragraphs_rule,
    _paragraph_first_word_rule,
    _bullets_rule,
    _highlights_rule,
    _placeholders_rule,
    _sections_rule,
    _title_rule,
    _postscript_rule,
    _json_rule,
    _ends_with_rule,
    _starts_with_rule,
    _quoted_rule,
    _two_responses_rule,
    _forbidden_words_rule,
    _required_words_rule,
    _word_frequency_rule,
    _letter_frequency_rule,
    _capital_words_rule,
    _one_of_rule,
)


# ---------------------------------------------------------------------------------------------
# Parts of the answer. "After the code, say in one sentence…" counts the sentences of one part
# of the reply; read as the whole reply's count, it vetoes the right answer (the code and a
# sentence). A clause about a part is blanked before the rules read the question. What it asks
# is still checked on the whole reply where that holds of every reply whose part obeys it: a
# lower bound (a part with 3 bullet points makes a reply with at least 3), a keyword to include,
# a title, a postscript. Everything else it asks (an upper bound, an exact count, a case, no
# commas, JSON) is not checked: no check beats a wrong veto.

# What a reply is made of besides itself: a part named as where an amount applies.
_PART_NOUN = (
    r"(?:code(?:\s+block)?|function|snippet|script|query|program|class|method|block|examples?|"
    r"list|table|recipe|poem|story|descriptions?|summary|overview|intro(?:duction)?|conclusion|"
    r"title|heading|headline|subject(?:\s+line)?|caption|tagline|greeting|sign-?off|abstract|"
    r"tl;?dr|docstring|comments?|explanation|bullets?|bullet\s+points?|answer\s+section)"
)
_ORDINAL_PART = (
    r"(?:first|second|third|fourth|fifth|last|final|opening|closing|top|bottom)\s+"
    r"(?:paragraph|sentence|line|section|part|bullet|point|stanza)"
)
# A noun that only ever names a part of a reply (a reply is never only its title's sentence
# count), unless the question asks for one ("Suggest a title…": then it is the whole answer).
_PART_ONLY = (
    r"(?:title|heading|headline|subject(?:\s+line)?|caption|tagline|greeting|sign-?off|abstract|"
    r"intro(?:duction)?|conclusion|summary|tl;?dr|docstring|comments?|explanation|description)"
)
_PART_AT = [
    # "After the code, …", "below it", "before the function", "after that"
    rf"\b(?:after|before|below|above|beneath|under(?:neath)?|following)\s+(?:(?:the|your|this|"
    rf"that|its|each)\s+(?:\w+\s+)?{_PART_NOUN}|that|it|this)\b",
    r"\bafterwards?\b|\bafter\s+which\b|(?:^|[,;:]|\band\b|\bthen\b)\s*at\s+the\s+(?:end|top|"
    r"bottom|start|beginning)\b(?!\s+of\s+(?:your|the)\s+(?:entire\s+)?(?:response|answer|"
    r"reply|output))",
    rf"\b(?:in|within|inside)\s+(?:the|your|its)\s+{_ORDINAL_PART}\b|\b(?:the|your|its)\s+"
    rf"{_ORDINAL_PART}\s+(?:should|must|needs?\s+to|has\s+to|is|will|can)\s+(?!start|begin)",
    # several deliverables in one sentence: "…, then list", "followed by", "and explain"
    r"(?:,|;|\band)\s*then\b|\bfollowed\s+by\b|\band\s+(?:explain|describe|say|state|conclude|"
    r"summari[sz]e|sum\s+up|list)\b|\b(?:finish|end|close|conclude|wrap\s+up|sum\s+\w+\s+up)\s+"
    r"(?:\w+\s+)?(?:with|in|by)\s+(?:a|an|one|a\s+single|two|three|\d+)\b",
    r"\b(?:and|plus|with|along\s+with|as\s+well\s+as)\s+(?:a|an)\s+(?:short\s+)?(?:one|two|three|"
    r"single|\d+)[\s-]+(?:sentence|line|paragraph|word)",
    # an amount for each item, not for the whole: "each described in one sentence"
    r"\b(?:for|of|to|in)\s+each\b|\beach\s+(?:described|explained|written|summari[sz]ed|in|"
    r"with|gets?|one)\b|\b(?:sentences?|words?|lines?)\s+each\b|\bkeep\s+each\b",
]
_PART_AT_RE = re.compile("|".join(_PART_AT), re.IGNORECASE)
# "in the title", "for the summary", "the intro should…", "with a caption of at most 10 words": a
# part unless the question asks for that very thing ("Write a poem… In your poem, …").
_PART_NAMED = re.compile(
    rf"\b(?:in|within|for|inside)\s+(?:the|your|its)\s+(?P<n1>{_PART_NOUN})\b"
    rf"|\b(?:the|your|its|each|every)\s+(?P<n2>{_PART_ONLY})\b"
    rf"|\bwith\s+(?:a|an)\s+(?:\w+\s+)?(?P<n3>{_PART_ONLY})\s+(?:of|under|in|that|which)\s+"
    rf"(?:\w+\s+){{0,3}}?{_NUM}",
    re.IGNORECASE,
)
# The verb that asks for a noun's thing as the whole answer: "Summarize…" asks for a summary.
_ASKING_VERB = {"summary": r"summari[sz]e", "explanation": "explain", "description": "describe"}
# A sentence that starts a further part: the sentence before it was about a part too.
_NEXT_PART = re.compile(
    r"^\W*(?:then|next|after\s+that|afterwards?|after\s+this|finally|lastly|below\s+(?:that|it|"
    r"this))\b",
    re.IGNORECASE,
)
# "Finally, wrap it in JSON": a further instruction about the reply, not a further part of it.
_FORM_ONLY = (
    r"\b(?:wrap|make\s+sure|ensure|do\s+not|don't|never|avoid|refrain|use|using|separate|"
    r"highlight|italici[sz]e|format|respond|answer|reply|repeat|end\s+(?:it|your)|finish\s+(?:it|"
    r"your)|mark|include\s+(?:the\s+)?(?:key)?words?|keep\s+(?:it|your))\b"
)
# Said of the whole reply in so many words: never a part.
_WHOLE = (
    r"\b(?:your|the)\s+(?:entire|whole|full|complete)\s+(?:response|answer|reply|output)\b"
    r"|\b(?:your|the)\s+(?:response|answer|reply|output)\s+(?:should|must|needs|has|will|is|"
    r"contains?)\b|\bin\s+(?:your|the)\s+(?:entire\s+)?(?:response|answer|reply|output)\b"
)
# A question that asks for code: prose counts (words, sentences, paragraphs) are of the prose
# around the code, which the rules cannot tell apart from it.
_ASKS_CODE = re.compile(
    r"\b(?:write|implement|create|code|build|define|complete|give\s+me|show\s+me)\b"
    r"(?:(?!\b(?:about|on|of|regarding|explaining|describing)\b)[^.?!\n]){0,60}"
    r"\b(?:function|method|class|script|program|code|query|snippet|decorator|generator|"
    r"algorithm)\b",
    re.IGNORECASE,
)
_PROSE_COUNTS = {"words", "sentences", "paragraphs"}
# Holds of a reply whenever it holds of one of its parts.
_LOWER_BOUNDED = {
    "words", "sentences", "paragraphs", "bullets", "highlights", "placeholders", "sections",
    "word_frequency", "letter_frequency", "capital_words",
}  # fmt: skip
_ANYWHERE = {"required_words", "title", "postscript", "paragraph_first_word"}


def _part_spans(text: str) -> list[tuple[int, int]]:
    """The sentences of the question that state something of a part of the answer."""
    sentences = [m for m in re.finditer(r"[^.!?\n]+[.!?]*", text) if re.search(r"\w", m[0])]
    parts = set()
    for i, m in enumerate(sentences):
        said = m.group(0)
        if re.search(_WHOLE, said, re.IGNORECASE):
            continue
        if _NEXT_PART.search(said) and not re.search(_FORM_ONLY, said, re.IGNORECASE):
            parts.add(i)
            if i and not re.search(_WHOLE, sentences[i - 1].group(0), re.IGNORECASE):
                parts.add(i - 1)
            continue
        if _PART_AT_RE.search(said) or re.match(r"\W*first(?:ly)?\b", said, re.IGNORECASE):
            parts.add(i)
            continue
        for named in _PART_NAMED.finditer(said):
            noun = (named["n1"] or named["n2"] or named["n3"]).lower()
            before = text[: m.start()] + said[: named.start()]
            verb = _ASKING_VERB.get(noun.rstrip("s"), r"(?!)")
            if not re.search(
                rf"\b(?:an?|one)\s+(?:[\w-]+\s+){{0,3}}?{re.escape(noun)}\b|\b{verb}\b",
                before,
                re.IGNORECASE,
            ):
                parts.add(i)
                break
    return [sentences[i].span() for i in sorted(parts)]


def _sound_for_a_part(constraint: Constraint) -> Constraint | None:
    """What a constraint on a part says of the whole reply, if anything: its lower bound."""
    id_, args = constraint["id"], constraint["args"]
    if id_ in _ANYWHERE:
        return constraint
    if id_ not in _LOWER_BOUNDED:
        return None
    relation, n = args["relation"], args["n"]
    if relation == "exactly":
        relation = "at least"
    if relation not in ("at least", "more than"):
        return None
    if id_ in _PROSE_COUNTS and relation == "at least" and n <= 1:
        return None  # at least one sentence: true of every reply, no check
    label = constraint["label"].replace(args["relation"], relation, 1)
    return Constraint(id=id_, args={**args, "relation": relation}, label=label)


def _by_rules(text: str) -> list[Constraint]:
    found: list[Constraint] = []
    for rule in _RULES:
        for constraint in rule(text):
            if constraint not in found:
                found.append(constraint)
    return found


def extract(question: str) -> list[Constraint]:
    """The checkable instructions a question states, by rules; ``[]`` when it states none.

    Args:
        question: The user's question, as asked.

    Returns:
        One constraint per instruction found, in the order of the rules; an instruction with
        a range ("3 to 5 times") gives two, a lower and an upper bound. An instruction about
        a part of the answer ("after the code, say in one sentence…", "the title should…")
        comes last, and only as far as the whole reply must meet it: its lower bound ("at
        least 3 bullet points" for "then give exactly 3 examples as bullet points"), or a
        keyword, title or postscript; else it is left out.

    Example:
        >>> [c["label"] for c in extract("Describe a cat in at most 50 words. No commas.")]
        ['no commas', 'at most 50 words']
    """
    text = _plain(question)
    spans = _part_spans(text)
    whole = text
    for start, end in spans:
        whole = whole[:start] + " " * (end - start) + whole[end:]
    found = _by_rules(whole)
    parts = [c for c in _by_rules(text) if c not in found] if spans else []
    # Not the plain text: that blanks the spec of the code ("Write a function that…").
    if _ASKS_CODE.search(question) and not re.search(_WHOLE, question, re.IGNORECASE):
        parts += [c for c in found if c["id"] in _PROSE_COUNTS]
        found = [c for c in found if c["id"] not in _PROSE_COUNTS]
    for part in parts:
        sound = _sound_for_a_part(part)
        if sound and sound not in found:
            found.append(sound)
    for constraint in _repeat_rule(question):  # verbatim: the request to repeat is copied
        if constraint not in found:
            found.append(constraint)
    return found


def check(answer: str, constraints: list[Constraint]) -> list[Check]:
    """Test ``answer`` against each constraint with plain code.

    Args:
        answer: The answer to test.
        constraints: What ``extract`` found in the question.

    Returns:
        One check per constraint, in order; a failed one says in ``detail`` what is wrong.
    """
    results = []
    for constraint in constraints:
        passed, detail = CHECKERS[constraint["id"]](answer, constraint["args"])
        results.append(
            Check(kind="constraint", name=constraint["label"], passed=passed, detail=detail)
        )
    return results
