"""What kind of answer a question asks for, and when two answers say the same thing.

Kinds: ``number``, ``choice`` (a letter among lettered options), ``yes_no``, ``short`` (a
name or phrase), ``code`` and ``text`` (an explanation, a list, a letter…). The first four
are compared by a key drawn from the answer's conclusion, so samples can be counted; code and
free text never are: a key pulled out of them (the last number of ``s[::-1]``) says nothing.

The kind comes from the question by rules; where the question does not tell, from the form
of the samples (code blocks, length). Keys are only ever used for comparing: the answer the
user gets is always the whole reply.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Literal

from agent.parsing import strip_tags

Kind = Literal["number", "choice", "yes_no", "short", "code", "text"]
KINDS: tuple[Kind, ...] = ("number", "choice", "yes_no", "short", "code", "text")
KEYED: frozenset[str] = frozenset({"number", "choice", "yes_no", "short"})

_OPTION = re.compile(r"(?:^|[\s(\[])\(?([A-H])[).:]\s+([^\n]*?)(?=\s+\(?[A-H][).:]\s|\n|$)")
_CODE_NOUN = (
    r"(function|method|class|script|program|code|regex|regular expression|sql query|query|"
    r"snippet|algorithm|unit tests?)"
)
_CODE_ASK = re.compile(
    r"\b(write|implement|create|complete|fix|refactor|define|debug|generate|optimi[sz]e)\b"
    rf"[^.?!\n]{{0,60}}\b{_CODE_NOUN}\b"
    r"|\b(write|implement|create|complete|fix|refactor|debug)\b[^.?!\n]{0,80}\b(in|using) "
    r"(python|javascript|typescript|java|rust|go|c\+\+|c#|bash|sql|ruby)\b"
    r"|```[\w+#.-]*\n|^\s*def \w+\(|\n\s*def \w+\(",
    re.IGNORECASE,
)
_GENRE = re.compile(
    r"\b(essay|poem|story|letter|e-?mail|blog|article|summary|limerick|song|haiku|tweet|"
    r"speech|itinerary|resume|review|advertisement|slogan|riddle|joke|rap|lyrics|outline|"
    r"report|proposal|description|dialogue|script for a|post)\b",
    re.IGNORECASE,
)
_TEXT_ASK = re.compile(
    r"^\W*(explain|describe|summari[sz]e|discuss|compare|list|outline|suggest|tell me|"
    r"write|compose|draft|give|provide|create|generate|rewrite|translate|help me|name)\b"
    r"|\b(tips|ideas|reasons|steps|advice|pros and cons|bullet points|a list of)\b"
    r"|\b(explain|describe|summari[sz]e)\b|\bdifference between (?!\$?\d)",
    re.IGNORECASE,
)
_REQUEST = re.compile(
    r"^\W*(can|could|would|will) you\b|^\W*(please|let's|i need|i want|help)\b", re.IGNORECASE
)
_NUMBER_ASK = re.compile(
    r"\bhow (many|much|long|far|old|fast|often|tall|heavy)\b|\bwhat percent|\bcalculate\b"
    r"|\bcompute\b|\bwhat is the (total|sum|product|average|mean|median|cost|price|value|area|"
    r"perimeter|volume|number|amount|ratio|speed|remainder)\b|\bdifference between \$?\d"
    r"|\d\s*[+*/×÷^]\s*\d|\d\s+-\s+\d|\bwhat is \d",
    re.IGNORECASE,
)
_YES_NO_ASK = re.compile(
    r"^\W*(is|are|was|were|do|does|did|can|could|will|would|should|has|have|had|must|may|"
    r"might|shall|isn't|aren't|doesn't|don't|didn't)\b",
    re.IGNORECASE,
)
_SHORT_ASK = re.compile(r"^\W*(who|what|which|where|when|whose|name)\b", re.IGNORECASE)

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_BOXED = re.compile(r"\\boxed\s*\{")
_SAID = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*:?\s*([^\n]*)", re.IGNORECASE
)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?|(?<![\w\d])-?\.\d+")
_ARTICLES = {"a", "an", "the"}

logging.getLogger("math_verify").setLevel(logging.ERROR)


def options(question: str) -> dict[str, str]:
    """The lettered options of a multiple-choice question, ``{"A": "Venus", …}``.

    Only a run of letters from A with no gap counts, so "a) first" in prose is not a choice.

    Example:
        >>> options("Which planet? A) Venus B) Mars C) Jupiter")
        {'A': 'Venus', 'B': 'Mars', 'C': 'Jupiter'}
    """
    found: dict[str, str] = {}
    for letter, text in _OPTION.findall(question):
        found.setdefault(letter, text.strip().rstrip(",;"))
    letters = "".join(sorted(found))
    run = ""
    for expected in "ABCDEFGH":
        if expected not in letters:
            break
        run += expected
    return {k: found[k] for k in run} if len(run) >= 2 else {}


def kind_of_question(question: str) -> Kind | None:
    """The kind of answer the question asks for, by rules; ``None`` when they cannot tell.

    Example:
        >>> kind_of_question("Write a Python function is_palindrome(s).")
        'code'
        >>> kind_of_question("How many apples are left?")
        'number'
        >>> kind_of_question("Is the sky blue?")
        'yes_no'
    """
    text = question.strip()
    if options(text):
        return "choice"
    fenced = re.search(r"```[\w+#.-]*\n|^\s*def \w+\(|\n\s*def \w+\(", text)
    if (
        not fenced
        and _GENRE.search(text)
        and not re.search(r"\b(function|method|class)\b", text, re.IGNORECASE)
    ):
        return "text"
    if _CODE_ASK.search(text):
        return "code"
    if _NUMBER_ASK.search(text) and not _TEXT_ASK.match(text):
        return "number"
    if _REQUEST.match(text) or _TEXT_ASK.search(text):
        return "text"
    asked = [s for s in re.split(r"(?<=[.?!])\s+", text) if s.endswith("?")]
    ask = asked[-1] if asked else re.split(r"(?<=[.?!])\s", text)[0]
    if _YES_NO_ASK.match(ask) and not re.search(r"\bor\b", ask, re.IGNORECASE):
        return "yes_no"
    if _SHORT_ASK.match(ask):
        return "short"
    return None


def settle_kind(known: str, question: str, samples: Sequence[str]) -> str:
    """A run's kind once samples are in.

    A kind the question's rules named for sure stays; a soft one (``short``, ``text``, or
    none) is told again with the samples' help.
    """
    if known in ("number", "choice", "yes_no", "code"):
        return known
    return kind_of(question, samples)


def kind_of(question: str, samples: Sequence[str] = ()) -> Kind:
    """The kind of answer: from the question, else from the form of the samples.

    Samples that mostly hold code blocks make ``code``; a short typical sample (under 40
    words) makes ``short``; anything else is ``text``.
    """
    asked = kind_of_question(question)
    texts = [s for s in samples if s.strip()]
    if asked in (None, "short", "text") and texts and re.search(r"\d", question):
        # "Which costs less…?" and "What is left…?" in a word problem: the samples' own
        # marked numeric conclusions say it is a number.
        numeric = sum(_marked_number(t) for t in texts)
        if numeric * 2 > len(texts):
            return "number"
    if asked is not None:
        return asked
    if not texts:
        return "text"
    if sum(bool(code_blocks(t)) for t in texts) * 2 > len(texts):
        return "code"
    words = sorted(len(t.split()) for t in texts)
    return "short" if words[len(words) // 2] < 40 else "text"


def _marked_number(text: str) -> bool:
    found, marked = conclusion(text)
    return marked and number_value(found, marked=True) is not None


def code_blocks(text: str) -> list[str]:
    """The fenced code blocks of a reply, in order (an unclosed last fence runs to the end)."""
    return [body.strip("\n") for _, body in _FENCE.findall(text) if body.strip()]


def main_code(text: str, name: str | None = None) -> str:
    """The code of a code answer: the block that defines ``name``, else the longest block.

    A reply with no fences is taken as code if it parses as Python, else ``""``.
    """
    blocks = code_blocks(text)
    if name:
        defining = [b for b in blocks if re.search(rf"\bdef {re.escape(name)}\s*\(", b)]
        if defining:
            return defining[-1]
    if blocks:
        return max(blocks, key=len)
    try:
        compile(text, "answer", "exec")
    except (SyntaxError, ValueError):
        return ""
    return text.strip()


def boxed(text: str) -> list[str]:
    r"""The contents of every ``\boxed{…}``, nested braces included."""
    found = []
    for match in _BOXED.finditer(text):
        depth, start = 1, match.end()
        for i in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                found.append(text[start:i].strip())
                break
    return found


def conclusion(text: str) -> tuple[str, bool]:
    r"""The part of a reply that states its final answer, and whether it was marked as such.

    The last ``\boxed{}``, else the last "the answer is …", else the last non-empty line.
    """
    plain = strip_tags(text)
    marked = boxed(plain)
    if marked:
        return marked[-1], True
    said = [s.strip() for s in _SAID.findall(plain) if s.strip()]
    if said:
        return said[-1], True
    lines = [line.strip() for line in plain.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else ""), False


def number_value(text: str, *, marked: bool) -> float | None:
    """The number an answer gives: the first one in a marked answer, else the last one."""
    if marked and "=" in text:
        text = text.rsplit("=", 1)[1]  # "The answer is 3 + 4 = 7": the result, not the sum
    cleaned = text.replace("$", " ").replace("\\%", "%").replace("\\,", "")
    if re.search(r"\\d?frac|\\sqrt|\\pi|\^", cleaned):
        value = _latex_value(text)
        if value is not None:
            return value
    numbers = _NUMBER.findall(cleaned)
    if not numbers:
        return None
    picked = numbers[0] if marked else numbers[-1]
    return float(picked.replace(",", ""))


def _latex_value(text: str) -> float | None:
    try:
        from math_verify import parse
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    try:
        parsed = parse(f"${text}$", parsing_timeout=None)
        return float(parsed[0]) if parsed else None
    except Exception:
        return None


def canonical(value: float) -> str:
    """A number written one way: ``12.0`` → ``12``, six decimals at most."""
    rounded = round(value, 6)
    return str(int(rounded)) if rounded.is_integer() else repr(rounded)


def key(text: str, kind: str, question: str = "") -> str:
    r"""What decides whether two answers of a keyed kind agree; ``""`` when there is none.

    Examples:
        >>> key("3 × 4 = 12, so \\boxed{12}.", "number")
        '12'
        >>> key("The answer is B) Mars.", "choice", "A) Venus B) Mars")
        'B'
        >>> key("No. They weigh the same.", "yes_no")
        'no'
    """
    if kind == "number":
        found, marked = conclusion(text)
        value = number_value(found, marked=marked)
        if value is None and marked:
            value = number_value(strip_tags(text), marked=False)
        return "" if value is None else canonical(value)
    if kind == "choice":
        return _letter(text, options(question))
    if kind == "yes_no":
        return _polarity(text)
    if kind == "short":
        found, marked = conclusion(text)
        phrase = found if marked else _first_sentence(text)
        return normalise(phrase)
    return ""


def same_key(left: str, right: str, kind: str, question: str = "") -> bool:
    """Whether two answers count as the same vote.

    A keyed kind by its key; two answers of another kind (code, free text) have no key to
    differ by.

    Example:
        >>> same_key("So 12 apples.", "3 × 4 = 12", "number"), same_key("A", "B", "text")
        (True, True)
    """
    return kind not in KEYED or key(left, kind, question) == key(right, kind, question)


def _letter(text: str, choices: dict[str, str]) -> str:
    letters = "".join(choices) or "ABCDE"
    plain = strip_tags(text)
    found, marked = conclusion(plain)
    for source in ([found] if marked else []) + [plain.strip()]:
        lone = re.fullmatch(rf"\W*\(?([{letters}])\)?\W*", source.strip())
        if lone:
            return lone.group(1)
    patterns = (
        rf"(?i:answer|option|choice)\s*(?i:is|:)?\s*:?\s*\**\(?([{letters}])\b(?![a-z])",
        rf"^\W*\(?([{letters}])[).:](?:\s|$)",
        rf"\*\*\(?([{letters}])\)?[.:)]?\*\*",
        rf"\(([{letters}])\)",
    )
    for pattern in patterns:
        hits = [h for h in re.findall(pattern, plain, re.MULTILINE) if h in letters]
        if hits:
            return str(hits[-1] if pattern.startswith("(?i:answer") else hits[0])
    named = [k for k, v in choices.items() if v and re.search(rf"\b{re.escape(v)}\b", plain, re.I)]
    return named[0] if len(named) == 1 else ""


def _polarity(text: str) -> str:
    plain = strip_tags(text).strip()
    found, marked = conclusion(plain)
    opening = re.match(r"\W*(\w+)", plain)
    sources = [opening.group(1) if opening else "", *([found] if marked else []), plain]
    for source in sources:
        hit = re.search(r"\b(yes|no|true|false|correct|incorrect)\b", source, re.IGNORECASE)
        if hit:
            return "yes" if hit.group(1).lower() in ("yes", "true", "correct") else "no"
    return ""


def _first_sentence(text: str) -> str:
    plain = strip_tags(text).strip()
    first = plain.split("\n\n")[0]
    return re.split(r"(?<=[.!?])\s", first)[0]


def normalise(text: str) -> str:
    """Lower case, no punctuation, markup or articles: for comparing short phrases."""
    text = re.sub(r"\\text\{([^{}]*)\}", r"\1", text)
    words = re.findall(r"[\w']+", text.lower())
    return " ".join(w for w in words if w not in _ARTICLES)


def same_text(left: str, right: str, kind: str) -> bool:
    """Whether two free-form answers are the same once layout is set aside.

    Code compares by its code alone (comments, blank lines and spacing ignored); text by
    its words. Anything short of that is a judgement of meaning, left to the model.
    """
    if kind == "code":
        return _code_shape(main_code(left)) == _code_shape(main_code(right)) != ""
    return normalise(left) == normalise(right) != ""


def _code_shape(code: str) -> str:
    import ast

    try:
        return ast.dump(ast.parse(code))
    except (SyntaxError, ValueError):
        lines = (re.sub(r"\s+", " ", line.split("#")[0]).strip() for line in code.splitlines())
        return "\n".join(line for line in lines if line)


def matches(output: str, reference: str, kind: str, question: str = "") -> bool:
    r"""Whether an answer gives the reference answer (for scoring, not for voting).

    Numbers compare as numbers (``$1,000.00`` = ``1000``, ``\frac{3}{4}`` = ``0.75``, with
    ``math-verify`` for expressions); choices by letter; yes/no by polarity; short phrases
    when the reference's words appear together in the answer's conclusion or first sentence.
    """
    if kind == "number":
        want, got = key(reference, "number"), key(output, "number")
        if want and want == got:
            return True
        return bool(want) and _verify(reference, conclusion(output)[0])
    if kind in ("choice", "yes_no"):
        want = key(reference, kind, question) or reference.strip().upper()[:1]
        return key(output, kind, question) == (want.lower() if kind == "yes_no" else want)
    words = normalise(reference).split()
    if not words:
        return False
    found, marked = conclusion(output)
    for source in (found, _first_sentence(output)) if marked else (_first_sentence(output), found):
        have = normalise(source).split()
        if any(have[i : i + len(words)] == words for i in range(len(have) - len(words) + 1)):
            return True
    return False


def _verify(reference: str, answer: str) -> bool:
    try:
        from math_verify import parse, verify
    except ImportError:  # pragma: no cover
        return False
    try:
        gold = parse(f"${reference}$", parsing_timeout=None)
        pred = parse(f"${answer}$", parsing_timeout=None)
        return bool(gold and pred and verify(gold, pred, timeout_seconds=None))
    except Exception:
        return False
