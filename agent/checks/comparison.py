"""Comparisons of stated quantities, decided by converting their units.

"Which is heavier: a kilogram of feathers or a kilogram of steel?", "What weighs more, 2
pounds of flour or 1 kilogram of sugar?", "Which is longer, a mile or 1,500 meters?", "Is a
kilogram of feathers heavier than a kilogram of steel?" (yes or no): when
both sides state an amount and a unit of the same dimension, ``pint`` converts them and the
comparison has one right answer. The answer's conclusion is read for which side it names, or
whether it says they are the same; a reply that names neither (or both, without "the same")
gets no check. Nothing the model wrote is run: the question's own amounts are converted, so
a kilogram of feathers weighs what a kilogram of steel does.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from agent.answers import conclusion, key
from agent.result import Check

# What the question asks: the greater side (+1) or the lesser (-1), and of which dimensions
# ("" where any can be compared, as long as both sides share it).
_ADJECTIVES: dict[str, tuple[int, str]] = {
    "heavier": (1, "[mass]"),
    "lighter": (-1, "[mass]"),
    "weighs more": (1, "[mass]"),
    "weighs less": (-1, "[mass]"),
    "weigh more": (1, "[mass]"),
    "weigh less": (-1, "[mass]"),
    "longer": (1, "[length]|[time]"),
    "shorter": (-1, "[length]|[time]"),
    "taller": (1, "[length]"),
    "farther": (1, "[length]"),
    "further": (1, "[length]"),
    "faster": (1, "[length] / [time]"),
    "slower": (-1, "[length] / [time]"),
    "bigger": (1, ""),
    "larger": (1, ""),
    "greater": (1, ""),
    "more": (1, ""),
    "smaller": (-1, ""),
    "less": (-1, ""),
}
_ADJECTIVE = "|".join(sorted((re.escape(a) for a in _ADJECTIVES), key=len, reverse=True))
_ASK = re.compile(
    r"^\s*(?:which|what)(?:\s+one)?(?:\s+(?:is|are|has|holds|weighs?|goes|lasts))?\s+"
    rf"(?P<adjective>{_ADJECTIVE})\b\s*[:,]?\s*(?P<left>[^?:]+?),?\s+or\s+(?P<right>[^?]+?)"
    r"\s*\?",  # what follows the question ("Answer feathers or iron.") asks nothing more
    re.IGNORECASE,
)
# "Is a kilogram of feathers heavier than a kilogram of steel?": answered yes or no.
_IS = re.compile(
    r"^\s*(?:is|are|does|do|would)\s+(?P<left>[^?]+?)\s+(?:weigh\s+)?"
    rf"(?P<adjective>{_ADJECTIVE})\s+than\s+(?P<right>[^?]+?)\s*\?",
    re.IGNORECASE,
)
_WORDS = {
    "a": 1.0,
    "an": 1.0,
    "one": 1.0,
    "two": 2.0,
    "three": 3.0,
    "four": 4.0,
    "five": 5.0,
    "six": 6.0,
    "seven": 7.0,
    "eight": 8.0,
    "nine": 9.0,
    "ten": 10.0,
    "half a": 0.5,
    "half an": 0.5,
    "a dozen": 12.0,
    "a hundred": 100.0,
    "a thousand": 1000.0,
}
_AMOUNT = "|".join(sorted((re.escape(w) for w in _WORDS), key=len, reverse=True))
_SIDE = re.compile(
    rf"^(?:the\s+)?(?P<amount>\d[\d,]*(?:\.\d+)?|{_AMOUNT})\s*(?P<unit>[a-z]+(?:\s+[a-z]+)?)"
    r"(?:\s+of\s+(?P<thing>.+))?$",
    re.IGNORECASE,
)
_SAME = re.compile(
    r"\b(?:(?:the\s+)?same|equal(?:ly)?|identical|neither|no\s+difference|"
    r"both\s+(?:weigh|are|have|of\s+them)|as\s+(?:heavy|long|much|big|large|light)\s+as)\b",
    re.IGNORECASE,
)
_GREATER = re.compile(
    r"\b(?:heavier|more|bigger|larger|greater|longer|taller|farther|further|faster)\b", re.I
)
_LESSER = re.compile(r"\b(?:lighter|less|smaller|shorter|slower|fewer)\b", re.I)
_STOP = {"a", "an", "the", "of", "one", "is", "are"}
_VERBS = {"[mass]": "weigh the same", "[length]": "are as long", "[time]": "last as long"}


@dataclass(frozen=True)
class _Side:
    text: str
    quantity: Any  # a pint Quantity
    words: frozenset[str]


@cache
def _units() -> Any:
    import pint  # loaded only for a question that compares quantities

    return pint.UnitRegistry()


def _words(text: str) -> frozenset[str]:
    found = re.findall(r"[a-z]+|\d[\d,.]*", text.lower())
    return frozenset(w.rstrip("s") if len(w) > 3 else w for w in found if w not in _STOP)


def _side(text: str) -> _Side | None:
    match = _SIDE.match(text.strip().rstrip(".,"))
    if not match:
        return None
    amount = match["amount"].lower()
    value = _WORDS.get(re.sub(r"\s+", " ", amount))
    if value is None:
        value = float(amount.replace(",", ""))
    words = match["unit"].split()
    registry = _units()
    # "fluid ounce", "metric ton" first; then the first word, the rest joining the thing.
    for count in (len(words), 1):
        unit = " ".join(words[:count]).lower()
        if unit in _STOP or unit in _WORDS:
            continue
        try:
            parsed = registry.parse_units(unit.replace(" ", "_"))
        except Exception:
            continue
        return _Side(text.strip(), registry.Quantity(value, parsed), _words(text))
    return None


@dataclass(frozen=True)
class _Asked:
    """A comparison the question asks, and its right answer by the units."""

    form: str  # ``which`` side, or ``yes_no``
    sign: int  # +1: the greater side is asked for; -1: the lesser
    adjective: str
    dimension: str
    left: _Side
    right: _Side
    shown: str  # both sides converted: "a kilogram of feathers = 1 kg, …"
    truth: str  # ``same``, ``left``, ``right``; for ``yes_no``: ``yes`` or ``no``


def _asked(question: str) -> _Asked | None:
    """What is compared, and the answer the units give; ``None`` when nothing is."""
    asked = " ".join(question.split())
    form, match = "which", _ASK.match(asked)
    if not match:
        form, match = "yes_no", _IS.match(asked)
    if not match:
        return None
    left, right = _side(match["left"]), _side(match["right"])
    if left is None or right is None:
        return None
    adjective = re.sub(r"\s+", " ", match["adjective"].lower())
    sign, dimension = _ADJECTIVES[adjective]
    found = str(left.quantity.dimensionality)
    if found != str(right.quantity.dimensionality) or (
        dimension and found not in dimension.split("|")
    ):
        return None
    a, b = left.quantity, right.quantity.to(left.quantity.units)
    shown = f"{left.text} = {_shown(a)}, {right.text} = {_shown(b)}"
    if math.isclose(a.magnitude, b.magnitude, rel_tol=1e-9):
        truth = "same"
    else:
        truth = "left" if (a.magnitude > b.magnitude) == (sign > 0) else "right"
    if form == "yes_no":
        truth = "yes" if truth == "left" else "no"
    return _Asked(form, sign, adjective, found, left, right, shown, truth)


def _claim(output: str, sign: int, left: _Side, right: _Side) -> str:
    """What the answer concludes: ``same``, ``left``, ``right``, or ``""`` when unreadable.

    A side named with the opposite comparison ("feathers are lighter", asked which is
    heavier) is the other side's answer.
    """
    found, marked = conclusion(output)
    # A marked conclusion alone; an unmarked reply by its last line, then its first sentence.
    first = re.split(r"(?<=[.!?])\s", output.strip())[0]
    for part in [found] if marked else [found, first]:
        if _SAME.search(part):
            return "same"
        named = _named(part, left, right)
        compared = _GREATER.search(part) or _LESSER.search(part)
        if not named and compared:  # "1,500 meters is shorter than a mile": the subject
            named = _named(part[: compared.start()], left, right)
        if named:
            greater, lesser = bool(_GREATER.search(part)), bool(_LESSER.search(part))
            flipped = (lesser and not greater) if sign > 0 else (greater and not lesser)
            return named if not flipped else {"left": "right", "right": "left"}[named]
    return ""


def _named(part: str, left: _Side, right: _Side) -> str:
    """The one side a phrase names by a word only that side has; ``""`` for none or both."""
    words = _words(part)
    names_left = bool(words & (left.words - right.words))
    names_right = bool(words & (right.words - left.words))
    return "" if names_left == names_right else "left" if names_left else "right"


def comparison_checks(question: str, output: str) -> list[Check]:
    """Whether the answer names the right side of a comparison of stated quantities.

    Example:
        >>> q = "Which is heavier: a kilogram of feathers or a kilogram of steel?"
        >>> [c["passed"] for c in comparison_checks(q, "The kilogram of steel.")]
        [False]
        >>> [c["passed"] for c in comparison_checks(q, "They weigh the same.")]
        [True]
    """
    asked = _asked(question)
    if asked is None:
        return []
    if asked.form == "yes_no":
        said = key(output, "yes_no")
        name = f"{asked.shown}: {asked.truth}"
    else:
        said = _claim(output, asked.sign, asked.left, asked.right)
        name = f"{asked.shown}: " + (
            _same(asked) if asked.truth == "same" else _of(asked, asked.truth).text
        )
    if not said:
        return []
    detail = "" if said == asked.truth else f"the answer says {_said(asked, said)}"
    return [Check(kind="comparison", name=name, passed=said == asked.truth, detail=detail)]


def stated(question: str) -> str | None:
    """The comparison's answer as the units give it, as a sentence; ``None`` if none is asked.

    Where a draft concluded otherwise, its revision starts from this sentence and the model
    writes on from it (``agent.strategies.critique``), as a calculator's right value is
    written into a draft.

    Example:
        >>> stated("Which is heavier: a kilogram of feathers or a kilogram of steel?")
        'They weigh the same: a kilogram of feathers = 1 kg, a kilogram of steel = 1 kg.'
        >>> stated("Is a mile longer than 1,500 meters?")
        'Yes: a mile = 1 mi, 1,500 meters = 0.932057 mi.'
    """
    asked = _asked(question)
    if asked is None:
        return None
    if asked.form == "yes_no":
        return f"{asked.truth.capitalize()}: {asked.shown}."
    if asked.truth == "same":
        verdict = _same(asked)
    else:
        winner = _of(asked, asked.truth).text
        word = asked.adjective.split()[-1]
        if asked.adjective.startswith("weigh") or (
            asked.dimension == "[mass]" and word in ("more", "less")
        ):
            verdict = f"{winner} weighs {word}"
        else:
            verdict = f"{winner} is {asked.adjective}"
    return f"{verdict[0].upper()}{verdict[1:]}: {asked.shown}."


def _same(asked: _Asked) -> str:
    return f"they {_VERBS.get(asked.dimension, 'are the same')}"


def _of(asked: _Asked, side: str) -> _Side:
    return asked.left if side == "left" else asked.right


def _said(asked: _Asked, said: str) -> str:
    if asked.form == "yes_no":
        return said
    return "they are the same" if said == "same" else _of(asked, said).text


def _shown(quantity: Any) -> str:
    return f"{quantity.magnitude:g} {quantity.units:~P}".strip()
