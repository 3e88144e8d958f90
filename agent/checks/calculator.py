r"""Arithmetic in the reasoning, checked by a calculator: ``3 × 12 = 38`` is wrong, it is 36.

Steps of the form ``expression = number`` are read out of the text (plain, Unicode or LaTeX
operators, ``\frac{}{}``, ``15% of 80``), and the expression is evaluated by a small
evaluator of our own that accepts numbers, the four operations, powers and parentheses and
nothing else: model text is never run as code.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from typing import NamedTuple

from agent.answers import canonical
from agent.result import Check

_REPLACE = (
    # Units set as text inside LaTeX ("6 \text{ rows} \times 7 \text{ eggs} = 42") are words
    # the model added for the reader; the arithmetic is what is left.
    (re.compile(r"\\(?:text|mathrm|textbf|mbox|operatorname)\s*\{[^{}]*\}"), " "),
    (re.compile(r"\\(?:times|cdot|ast)"), "*"),
    (re.compile(r"[×✕·∗]"), "*"),
    (re.compile(r"\\div|÷"), "/"),
    (re.compile(r"[−–]"), "-"),
    (re.compile(r"\\left|\\right|\\!|\\,|\\;|\\ |\\\$|\$"), " "),
    (re.compile(r"\\%"), "%"),
    (re.compile(r"\\d?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}"), r"((\1)/(\2))"),
    (re.compile(r"(?<=\d),(?=\d{3}\b)"), ""),
    (re.compile(r"(?<=[\d)])\s*(?:[xX]|times)\s*(?=[\d(])"), " * "),
    (re.compile(r"(\d+(?:\.\d+)?)\s*%\s*(?:of|\*)\s*"), r"(\1/100)*"),
    (re.compile(r"(\d+(?:\.\d+)?)\s*%"), r"(\1/100)"),
    (re.compile(r"\{|\}"), " "),
)
_LHS = re.compile(r"[\d.()\s+\-*/^]+$")
_RHS = re.compile(r"\s*(-?[\d.()][\d.()\s+\-*/^]*)")
_MIXED = re.compile(r"^\d+\s+\d+/\d+")  # 1 1/2
_LABEL = re.compile(
    r"(?:step|day|part|case|question|problem|method|option|week|month|year|item|line|row|page)"
    r"\s*$",
    re.IGNORECASE,
)
_OPS: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_MAX_STEPS = 30


def evaluate(expression: str) -> float | None:
    """The value of an arithmetic expression, or ``None`` for anything else.

    Example:
        >>> evaluate("(15/100)*80")
        12.0
        >>> evaluate("__import__('os')") is None
        True
    """
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
        return _value(tree.body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None


def _value(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _value(node.operand)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
            raise ValueError("power too large to be arithmetic in a reasoning step")
        result = _OPS[type(node.op)](left, right)
        if abs(result) > 1e30:
            raise OverflowError
        return result
    raise ValueError(f"not arithmetic: {type(node).__name__}")


def _normalise(text: str) -> str:
    for pattern, replacement in _REPLACE:
        text = pattern.sub(replacement, text)
    return text


def _shown(expression: str) -> str:
    """An expression written back the way people read it."""
    text = re.sub(r"\((\d+(?:\.\d+)?)/100\)(?!\*)", r"\1%", expression)
    text = re.sub(r"\(\((\d+(?:\.\d+)?)\)/\((\d+(?:\.\d+)?)\)\)", r"\1/\2", text)
    text = re.sub(r"\((\d+(?:\.\d+)?)/100\)\*", r"\1% of ", text)
    text = re.sub(r"\s*\*\s*", " × ", text)
    text = re.sub(r"\s*/\s*", " / ", text)
    text = re.sub(r"\s*([+])\s*", r" \1 ", text)
    text = re.sub(r"(?<=[\d)])\s*-\s*", " - ", text)
    return re.sub(r"\s+", " ", text).strip()


def _close(value: float, written: str) -> bool:
    decimals = len(written.split(".")[1]) if "." in written else 0
    stated = float(written)
    if decimals == 0:
        return abs(value - stated) <= 1e-9 * max(1.0, abs(value))
    # Rounded or cut to the places shown: within one unit of the last place written.
    return abs(value - stated) < 10.0**-decimals + 1e-12


def arithmetic_checks(text: str) -> list[Check]:
    """Every ``expression = number`` step in ``text``, checked by evaluation.

    Returns:
        One ``Check`` per distinct step: ``passed`` when the stated result is the value
        (allowing for rounding to the places shown), else the right value in ``detail``.
    """
    checks: list[Check] = []
    seen: set[str] = set()
    for line in _normalise(text).splitlines():
        for equals in (i for i, char in enumerate(line) if char == "="):
            step = _step(line, equals)
            if step is None or step[0] in seen:
                continue
            name, right, detail = step
            seen.add(name)
            checks.append(Check(kind="calculator", name=name, passed=right, detail=detail))
            if len(checks) >= _MAX_STEPS:
                return checks
    return checks


def _step(line: str, equals: int) -> tuple[str, bool, str] | None:
    """The step whose ``=`` is at ``equals``: its name, whether it holds, the right value.

    ``None`` when either side is not plain arithmetic: words inside the expression, a list
    marker or a label before it ("Step 1 - …"), a mixed number or a remainder after it.
    """
    before, after = _LHS.search(line[:equals]), _RHS.match(line, equals + 1)
    if before is None or after is None or line[equals + 1 : equals + 2] == "=":
        return None
    prefix = line[: before.start()].rstrip()
    lhs = before.group(0).strip().lstrip(")").strip()
    if re.match(r"^-\s", lhs) and not prefix:
        lhs = lhs[1:].strip()  # a list bullet, not a minus
    cut_off = prefix.endswith(("x", "X", "*", "/", "^")) or _LABEL.search(prefix) is not None
    if cut_off or not re.match(r"^[(\d.-]", lhs):
        return None
    if not re.search(r"[\d)]\s*[-+*/^]\s*[(\d.]", lhs):
        return None  # a bare number
    rhs = after.group(1).strip().rstrip("(.").strip()
    rest = line[after.end() :].lstrip().lower()
    if _MIXED.match(rhs) or rest.startswith(("remainder", "r ", "with ", "left over")):
        return None
    value = evaluate(lhs)
    if value is None:
        return None
    first = re.match(r"-?\d+(?:\.\d+)?", rhs)
    if first is None:
        return None
    name = f"{_shown(lhs)} = {_shown(rhs)}"
    if re.search(r"[\d)]\s*[-+*/^]\s*[(\d.]", rhs):
        # A chain or a fraction on the right: it holds if it has the same value, or if it
        # goes on from the step's own result (``3 × 12 = 36 - 7 = 29``).
        stated = evaluate(rhs)
        if stated is None:
            return None
        right = abs(stated - value) <= 1e-6 * max(1.0, abs(value)) or _close(value, first.group(0))
    else:
        right = _close(value, first.group(0))
    return name, right, "" if right else f"{_shown(lhs)} = {canonical(value)}"


class WrongStep(NamedTuple):
    """A text's first wrong step: where its result starts, the right value, and its check."""

    at: int
    value: str
    check: Check


def first_wrong_step(text: str) -> WrongStep | None:
    """Where the first wrong step's result starts in ``text``, the right value, and its check.

    The draft can then be cut right after the step's ``=`` and the right value written there,
    for the model to go on from (``agent.extension.corrected_start``).

    Example:
        >>> text = "He has 3 × 12 = 38 chickens, so 38 - 7 = 31."
        >>> step = first_wrong_step(text)
        >>> text[: step.at] + step.value, step.check["name"]
        ('He has 3 × 12 = 36', '3 × 12 = 38')
    """
    start = 0
    for line in text.splitlines(keepends=True):
        normal = _normalise(line)
        for equals in (i for i, char in enumerate(normal) if char == "="):
            step = _step(normal, equals)
            if step is None or step[1]:
                continue
            nth = normal[:equals].count("=")
            signs = [i for i, char in enumerate(line) if char == "="]
            if nth >= len(signs):
                return None  # the text changed shape in normalising: no safe place to cut
            at = signs[nth] + 1
            while at < len(line) and line[at] in " \t":
                at += 1
            name, _, detail = step
            check = Check(kind="calculator", name=name, passed=False, detail=detail)
            return WrongStep(start + at, detail.rsplit(" = ", 1)[1], check)
        start += len(line)
    return None
