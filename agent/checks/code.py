"""Code answers checked by their own examples, in the sandbox, only when the user asks.

The examples are the ``>>>`` lines of the question and of the answer's code (what the
function should return), and the ``assert`` statements the answer wrote. Each runs once,
on its own, inside ``agent.sandbox``; a failure says what came back instead.
"""

from __future__ import annotations

import ast
import re
from typing import Literal

from agent.answers import code_blocks, main_code
from agent.result import Check
from agent.sandbox import StepResult, run_steps

_MAX_EXAMPLES = 12
_DOCTEST = re.compile(r"^\s*>>> (.+)\n((?:(?!\s*>>>)\s*\S.*\n?)*)", re.MULTILINE)
_ASSERT = re.compile(r"^assert .+$", re.MULTILINE)


def examples(question: str, answer: str) -> list[tuple[str, str, str]]:
    """The examples to run: ``(kind, source, expected)``, doctests first, then asserts."""
    found: list[tuple[str, str, str]] = []
    for text in (question, *code_blocks(answer)):
        for call, want in _DOCTEST.findall(text):
            expected = re.split(r'"""|\'\'\'|\n\s*\n', want)[0].strip()
            item = ("doctest", call.strip(), expected)
            if expected and item not in found:
                found.append(item)
    for block in code_blocks(answer):
        for line in _ASSERT.findall(block):
            item = ("assert", line.strip(), "")
            if item not in found:
                found.append(item)
    return found[:_MAX_EXAMPLES]


def code_checks(question: str, answer: str, *, timeout: float = 10.0) -> list[Check]:
    """Run the examples of a code answer in the sandbox; one ``Check`` per example.

    The answer's code runs as a module (not as ``__main__``, so a demo block at its end does
    not run), then every example on its own. The sandbox reports only what each example gave
    back (its value, or its exception); the verdict is decided here, outside it, so nothing
    the code prints and no early exit can pass an example: one that never reported failed.
    Code that needs a package the sandbox lacks is not checked at all: that says nothing
    about the answer.

    Raises:
        SandboxUnavailable: No kernel isolation here; the message says what to install.
    """
    code = main_code(answer)
    cases = examples(question, answer)
    if not code or not cases:
        return []
    definitions = "\n".join(line for line in code.splitlines() if not line.startswith("assert "))
    trial = run_steps(
        definitions, [_step(kind, source) for kind, source, _ in cases], timeout=timeout
    )
    if trial.missing_module is not None:
        return []
    if trial.setup_error is not None:
        return [Check(kind="code", name="the code runs", passed=False, detail=trial.setup_error)]
    checks = []
    for (kind, source, expected), got in zip(cases, trial.steps, strict=True):
        passed, detail = _judge(kind, expected, got, trial.outcome.detail)
        name = f"{source} → {expected}" if kind == "doctest" else source
        checks.append(Check(kind="code", name=name[:160], passed=passed, detail=detail))
    return checks


def _step(kind: str, source: str) -> tuple[Literal["eval", "exec"], str]:
    """A doctest is evaluated; an assert becomes the truth of its test, evaluated."""
    if kind == "doctest":
        return ("eval", source)
    try:
        [statement] = ast.parse(source).body
    except (SyntaxError, ValueError):
        return ("exec", source)
    if isinstance(statement, ast.Assert):
        return ("eval", f"bool({ast.unparse(statement.test)})")
    return ("exec", source)


def _judge(kind: str, expected: str, got: StepResult | None, ended: str) -> tuple[bool, str]:
    """Whether an example passed, from the data it reported, and what to say if not."""
    if got is None:
        return False, f"the program ended before this example ran ({ended or 'no report'})"
    how, text = got
    if how == "raised":
        return False, text
    if kind == "doctest":
        if _same_value(text, expected):
            return True, ""
        return False, "returned " + text[:120]
    return (True, "") if text in ("True", "None") else (False, "AssertionError")


def _same_value(got: str, expected: str) -> bool:
    if " ".join(got.split()) == " ".join(expected.split()):
        return True
    try:
        return bool(ast.literal_eval(got) == ast.literal_eval(expected))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
