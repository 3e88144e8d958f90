"""``detectable_content:*``: ``[placeholders]`` and a postscript."""

from __future__ import annotations

import re
from typing import Any

from agent.checks.instructions.amounts import AMOUNT, count
from agent.checks.instructions.base import Constraint, Instruction, counted, make
from agent.checks.instructions.reading import I, first_bounds

# -- detectable_content:number_placeholders ---------------------------------------------------


def _read_placeholders(text: str) -> list[Constraint]:
    pairs = first_bounds([rf"{AMOUNT}\s+(?:\w+\s+)?placeholders?\b"], text, bare="at least")
    pairs = [("at least" if r == "exactly" else r, n) for r, n in pairs]
    return counted(PLACEHOLDERS.id, "[placeholders]", pairs)


def _check_placeholders(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    found = len(re.findall(r"\[.*?\]", text))
    return count("[placeholder]{s}", found, args["relation"], args["n"])


PLACEHOLDERS = Instruction(
    "detectable_content:number_placeholders",
    _read_placeholders,
    _check_placeholders,
    "lower bound",
)


# -- detectable_content:postscript ------------------------------------------------------------

_POSTSCRIPT = re.compile(
    r"""
    \b(?:post\s*script|note|p\.?s\.?)\b[^.\n]{0,50}?\b(P\.\s?P\.\s?S|P\.\s?S)\b
  | \b(?:with|add|include)\s+a\s+(P\.\s?P\.\s?S|P\.\s?S)\b
    """,
    I,
)


def _read_postscript(text: str) -> list[Constraint]:
    m = _POSTSCRIPT.search(text)
    if not m:
        return []
    marker = "P.P.S" if "p" in (m.group(1) or m.group(2)).lower()[1:] else "P.S."
    return [make(POSTSCRIPT.id, f"a postscript starting with {marker}", marker=marker)]


def _check_postscript(text: str, args: dict[str, Any]) -> tuple[bool, str]:
    marker = args["marker"]
    if marker == "P.P.S":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif marker == "P.S.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + re.escape(marker.lower()) + r".*$"
    ok = re.search(pattern, text.lower(), re.MULTILINE) is not None
    return ok, "" if ok else f"no postscript starting with {marker}"


def _extend_postscript(text: str, args: dict[str, Any]) -> tuple[str, int] | None:
    if _check_postscript(text, args)[0]:
        return None
    marker = args["marker"] + ("" if args["marker"].endswith(".") else ".")
    return f"{text.rstrip()}\n\n{marker}", 15


POSTSCRIPT = Instruction(
    "detectable_content:postscript",
    _read_postscript,
    _check_postscript,
    "anywhere",
    extend=_extend_postscript,
)
