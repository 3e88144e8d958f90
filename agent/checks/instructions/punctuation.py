"""``punctuation:no_comma``: no comma at all."""

from __future__ import annotations

import re
from typing import Any

from agent.checks.instructions.base import Constraint, Instruction, make
from agent.checks.instructions.reading import I

_SAYS_NO_COMMAS = re.compile(
    r"""
    \b(?:no|zero)\s+commas?\b
        (?!\s+(?:in|after|before)\s+(?:the\s+)?(?:list|numbers?))  # not "no commas in numbers"
  | (?:\bnot|n't|\bnever|\bwithout|\brefrain\s+from|\bavoid|\bcannot)\s+
        (?:(?:\w+\s+){0,2}?
           (?:use|using|include|including|contain|containing|add|adding|put|putting|have|
              having|the\s+use\s+of)\s+)?
        (?:any\s+|a\s+single\s+)?commas?\b
  | \bcommas?\s+(?:are|is)\s+(?:not\s+(?:allowed|permitted)|forbidden|prohibited|banned)
    """,
    I,
)


def _read(text: str) -> list[Constraint]:
    return [make(NO_COMMA.id, "no commas")] if _SAYS_NO_COMMAS.search(text) else []


def _check(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    n = text.count(",")
    return n == 0, "" if n == 0 else f"{n} comma{'s' * (n != 1)}; none allowed"


def _repair(text: str, args: dict[str, Any]) -> str:
    """The commas taken out: between words a space takes a comma's place, elsewhere nothing."""
    text = re.sub(r"(?<=\d),(?=\d{2,3}(?!\d))", "", text)  # 1,000 and 1,00,000
    text = re.sub(r"(?<=\w),(?=\w)", " ", text)
    return text.replace(",", "")


NO_COMMA = Instruction("punctuation:no_comma", _read, _check, repair=_repair)
