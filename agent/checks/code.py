"""Code answers checked by their own examples, in the sandbox.

The examples are the ``>>>`` lines of the question and of the answer's code, the examples
the question states in words (``valid_date('15-01-2012') => False``), and the ``assert``
statements the answer wrote. Each runs once, on its own, inside ``agent.sandbox``; a failure
says what came back instead.

By default only code inside the evaluator's safe subset (``agent.checks.evaluator``: no
imports but ``math``, no I/O, no attribute but whitelisted methods) runs, in the restricted
evaluator inside the sandbox; any other code only with ``run_code``.
"""

from __future__ import annotations

import ast
import re
from typing import Literal

from agent.answers import code_blocks, main_code
from agent.checks import evaluator
from agent.checks.program import each_in_sandbox
from agent.result import Check
from agent.sandbox import SandboxUnavailable, StepResult, isolation, run_steps

_MAX_EXAMPLES = 12
_DOCTEST = re.compile(r"^\s*>>> (.+)\n((?:(?!\s*>>>)\s*\S.*\n?)*)", re.MULTILINE)
_ASSERT = re.compile(r"^assert .+$", re.MULTILINE)
# An example stated in words on a line of its own: a call, an arrow or "==", what it gives.
_STATED = re.compile(
    r"^[ \t]*(?:>>>[ \t]*)?(?P<call>[A-Za-z_]\w*\(.*\))[ \t]*"
    r"(?:==>|=>|➞|==|->|should\s+return|returns)[ \t]*(?P<want>\S.*?)[ \t.]*$",
    re.MULTILINE,
)


def examples(question: str, answer: str) -> list[tuple[str, str, str]]:
    """The examples to run: ``(kind, source, expected)``, doctests first, then asserts."""
    found: list[tuple[str, str, str]] = []
    for text in (question, *code_blocks(answer)):
        for call, want in _DOCTEST.findall(text):
            expected = re.split(r'"""|\'\'\'|\n\s*\n', want)[0].strip()
            item = ("doctest", call.strip(), expected)
            if expected and item not in found:
                found.append(item)
    for match in _STATED.finditer(question):
        call, expected = match["call"], match["want"]
        item = ("doctest", call, expected)
        if _is_call(call) and _is_literal(expected) and item not in found:
            found.append(item)
    for block in code_blocks(answer):
        for line in _ASSERT.findall(block):
            item = ("assert", line.strip(), "")
            if item not in found:
                found.append(item)
    return found[:_MAX_EXAMPLES]


def _is_call(source: str) -> bool:
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError):
        return False
    return isinstance(tree.body, ast.Call) and isinstance(tree.body.func, ast.Name)


def _is_literal(source: str) -> bool:
    try:
        ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def code_checks(
    question: str, answer: str, *, run_code: bool = True, timeout: float = 10.0
) -> list[Check]:
    """Run the examples of a code answer in the sandbox; one ``Check`` per example.

    With ``run_code``, the answer's code runs as a module (not as ``__main__``, so a demo
    block at its end does not run), then every example on its own. Without it, only code
    inside the evaluator's safe subset runs, in the restricted evaluator (``safe_checks``).
    The sandbox reports only what each example gave back (its value, or its exception); the
    verdict is decided here, outside it, so nothing the code prints and no early exit can
    pass an example: one that never reported failed. Code that needs a package the sandbox
    lacks is not checked at all: that says nothing about the answer.

    Raises:
        SandboxUnavailable: ``run_code`` and no kernel isolation here; the message says what
            to install.
    """
    code = main_code(answer)
    broken = _broken(code)
    if broken is not None:
        return [broken]
    cases = examples(question, answer)
    if not code or not cases:
        return []
    definitions = "\n".join(line for line in code.splitlines() if not line.startswith("assert "))
    if not run_code:
        return safe_checks(definitions, cases)
    trial = run_steps(
        definitions, [_step(kind, source) for kind, source, _ in cases], timeout=timeout
    )
    if trial.missing_module is not None:
        return []
    if trial.setup_error is not None:
        return [Check(kind="code", name="the code runs", passed=False, detail=trial.setup_error)]
    ended = trial.outcome.detail
    return [_check(case, got, ended) for case, got in zip(cases, trial.steps, strict=True)]


# A Python function's first line (a colon ends it, which Ruby's ``def`` has not).
_PYTHON_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+\w+[ \t]*\(.*:[ \t]*(?:#.*)?$", re.M)


def _broken(code: str) -> Check | None:
    """A failed check for Python code that does not parse (a reply cut off mid-function).

    Only read, never run, so it applies by default whatever the code does.
    """
    if not _PYTHON_DEF.search(code):
        return None
    try:
        ast.parse(code)
    except SyntaxError as error:
        where = f" (line {error.lineno})" if error.lineno else ""
        return Check(kind="code", name="the code parses", passed=False, detail=error.msg + where)
    except ValueError as error:  # a null byte
        return Check(kind="code", name="the code parses", passed=False, detail=str(error))
    return None


def safe_checks(definitions: str, cases: list[tuple[str, str, str]]) -> list[Check]:
    """The examples of code inside the safe subset, run in the restricted evaluator.

    Type annotations and unused imports (``from typing import List``) are dropped first,
    since they change nothing the code computes. Code outside the subset, an example outside
    it, and a machine without kernel isolation give no check: no evidence either way. Each
    example runs as the definitions and ``print([example])``, whose last line is the
    example's ``repr`` whatever the code printed before it.
    """
    definitions = evaluator.trimmed(definitions)
    if evaluator.admit(definitions) or isolation().backend is None:
        return []
    programs, kept = [], []
    for kind, source, expected in cases:
        value = source if kind == "doctest" else _step(kind, source)[1]
        program = f"{definitions}\nprint([{value}])"
        if not evaluator.admit(program):
            programs.append(program)
            kept.append((kind, source, expected))
    if not programs:
        return []
    try:
        gave = each_in_sandbox(programs, restricted=True)
    except SandboxUnavailable:
        return []
    checks = []
    for case, ran in zip(kept, gave, strict=True):
        shown = ran["printed"].rstrip("\n").rpartition("\n")[2]
        got: StepResult | None
        if ran["error"]:
            got = ("raised", ran["error"])
        elif shown.startswith("[") and shown.endswith("]"):
            got = ("value", shown[1:-1])
        else:
            got = None
        checks.append(_check(case, got, ran["error"]))
    return checks


def _check(case: tuple[str, str, str], got: StepResult | None, ended: str) -> Check:
    """One example's ``Check``, from what it reported (see ``_judge``)."""
    kind, source, expected = case
    passed, detail = _judge(kind, expected, got, ended)
    name = f"{source} → {expected}" if kind == "doctest" else source
    return Check(kind="code", name=name[:160], passed=passed, detail=detail)


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
