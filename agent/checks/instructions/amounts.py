"""A grammar of English amounts: "at least 300", "10 or more", "6 or 7", "3 to 5", "twice".

The patterns name their groups (``rel``, ``n``, ``m``, ``sfx``…) and ``bounds`` turns a match
into the (relation, n) pairs it states; ``relation`` is one of "at least", "more than",
"at most", "less than", "exactly".

Example:
    >>> import re
    >>> bounds(re.search(AMOUNT, "in 3 to 5 lines", re.VERBOSE))
    [('at least', 3), ('at most', 5)]
    >>> bounds(re.search(TIMES, "no more than twice", re.VERBOSE))
    [('at most', 2)]
"""

from __future__ import annotations

import re

_NUMBER_WORDS = {
    "zero": 0, "one": 1, "a single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "a hundred": 100, "hundred": 100,
    "once": 1, "twice": 2, "thrice": 3,
}  # fmt: skip
# Escaped spaces: the patterns are read with re.VERBOSE.
_COUNT_WORDS = sorted(
    (w.replace(" ", r"\ ") for w in _NUMBER_WORDS if not w.endswith("ce")), key=len, reverse=True
)
NUM = r"(?:\d+|" + "|".join(_COUNT_WORDS) + r")\b"
"""A number, in digits or words ("300", "twelve", "a single")."""
RELATIONS = {
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
"""The relation each phrasing of one states."""
_REL = "|".join(sorted((r.replace(" ", r"\s+") for r in RELATIONS), key=len, reverse=True))
_SUFFIX = r"more|less|fewer|greater|above|below|under"
AMOUNT = rf"""
    (?:(?P<rel>{_REL})\s+)?                    # at least, no more than, a total of…
    (?P<n>{NUM})(?P<plus>\+)?                  # 300, twelve, 300+
    (?:\s*(?:to|-|–|and|or)\s*(?P<m>{NUM}))?   # a range: 3 to 5, 6 or 7
    (?:\s+or\s+(?P<sfx>{_SUFFIX}))?            # 10 or more
"""
"""An amount: a relation, a number, an optional range or "or more" (``re.VERBOSE``)."""
TIMES = rf"""
    (?:(?P<rel>{_REL})\s+)?
    (?:
        (?P<n>{NUM})(?:\s*(?:to|-|or)\s*(?P<m>{NUM}))?
        (?:\s+or\s+(?P<sfx>more|less|fewer))?\s+times?\b
      | (?P<t>once|twice|thrice)(?:\s+or\s+(?P<sfx2>more|less|fewer))?\b
    )
"""
"""How often: "at least 3 times", "6 or 7 times", "twice or more" (``re.VERBOSE``)."""
AFTER = rf"""
    (?:
        \s+or\s+(?P<sfx2>{_SUFFIX})                                    # 100 words or less
      | \s+(?P<sfx3>at\s+most|at\s+least|max(?:imum)?|min(?:imum)?)\b  # 100 words at most
    )?
"""
"""What may follow an amount's noun: "or less", "at most", "max" (``re.VERBOSE``)."""


def number(text: str) -> int:
    """A number said in digits or words: ``number("twelve") == 12``."""
    text = re.sub(r"\s+", " ", text.lower())
    return int(text) if text.isdigit() else _NUMBER_WORDS[text]


def bounds(m: re.Match[str] | None, bare: str | None = "exactly") -> list[tuple[str, int]]:
    """The (relation, n) pairs an amount match states; a range gives two, ``bare`` a lone number.

    Args:
        m: A match of a pattern built on ``AMOUNT`` or ``TIMES`` (``None``: no amount).
        bare: The relation of a number said without one ("3 bullet points"); ``None`` means
            such a number is no instruction ("a 500-word essay").
    """
    if m is None:
        return []
    groups = m.groupdict()
    n = number(groups.get("n") or groups.get("t") or "0")
    if groups.get("m"):
        return [("at least", n), ("at most", number(groups["m"]))]
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
    return [(RELATIONS[re.sub(r"\s+", " ", relation.lower())], n)]


def holds(count: int, relation: str, n: int) -> bool:
    """Whether ``count`` stands in ``relation`` to ``n`` ("less than" is strict)."""
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


def count(name: str, counted: int, relation: str, n: int) -> tuple[bool, str]:
    """Check ``counted`` against the bound, with the detail a failure shows.

    Args:
        name: What is counted, with ``{s}`` where its plural takes an s ("word{s}").
        counted: How many the answer has.
        relation: The bound's relation.
        n: The bound's number.

    Example:
        >>> count("word{s}", 2, "at least", 5)
        (False, '2 words; at least 5 asked')
    """
    ok = holds(counted, relation, n)
    name = name.format(s="" if counted == 1 else "s")
    return ok, "" if ok else f"{counted} {name}; {_asked(relation, n)}"
