"""Code answers checked by their own examples, in the sandbox.

The examples are the ``>>>`` lines of the question and of the answer's code, the examples
the question states in words (``valid_date('15-01-2012') => False``, ``Input:``/``Output:``
lines), and the ``assert`` statements the answer wrote. Each runs once, on its own, inside
``agent.sandbox``; a failure says what came back instead.

By default only code inside the evaluator's safe subset (``agent.checks.evaluator``: no
imports but a few pure modules, no I/O, no attribute but whitelisted methods) runs, in the
restricted evaluator inside the sandbox; any other code only with ``run_code``.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from typing import Literal

from agent.answers import code_blocks, main_code
from agent.checks import evaluator
from agent.checks.program import each_in_sandbox
from agent.result import Check
from agent.sandbox import SandboxUnavailable, StepResult, isolation, run_steps

_MAX_EXAMPLES = 12
_DOCTEST = re.compile(r"^\s*>>> (.+)\n((?:(?!\s*>>>)\s*\S.*\n?)*)", re.MULTILINE)
_ASSERT = re.compile(r"^assert .+$", re.MULTILINE)
# An example stated in words on a line of its own: a call, an arrow, "==", "=" or "# returns",
# and what it gives; after a bullet, "for" or "assert" if any.
_STATED = re.compile(
    r"^[ \t]*(?:[*-][ \t]+)?(?:>>>[ \t]*|(?:[Ff]or|assert)[ \t]+)?"
    r"(?P<call>[A-Za-z_]\w*\(.*\))[ \t]*"
    r"(?P<arrow>==>|=>|➞|==|->|#[ \t]*(?:=>|->|returns?\b)|=|should\s+return|returns)"
    r"[ \t]*(?P<want>\S.*?)[ \t.]*$",
    re.MULTILINE,
)
# "For lst = [1, 2] the output should be 3": the arguments by name, then what it gives.
_FOR = re.compile(
    r"^[ \t]*for[ \t]+(?P<args>[A-Za-z_]\w*[ \t]*=.*?)[ \t,]*the[ \t]+(?:output|result)"
    r"[ \t]+(?:should[ \t]+be|will[ \t]+be|is)[ \t]*:?[ \t]*(?P<want>\S.*?)[ \t.]*$",
    re.MULTILINE | re.IGNORECASE,
)
# "Input: arr = [1, 2], k = 1" (or a bare value) on one line, "Output: [2]" on the next.
_INPUT = re.compile(
    r"^[ \t]*Input[ \t]*:[ \t]*(?P<args>\S.*?)[ \t]*\n(?:[ \t]*\n)*"
    r"[ \t]*Output[ \t]*:[ \t]*(?P<want>\S.*?)[ \t.]*$",
    re.MULTILINE,
)
_QUESTION_DEF = re.compile(r"^[ \t]*def[ \t]+(\w+)[ \t]*\(", re.MULTILINE)


def examples(question: str, answer: str) -> list[tuple[str, str, str]]:
    """The examples to run: ``(kind, source, expected)``, doctests first, then asserts.

    Besides ``>>>`` lines, an example the question states in words is read: a call and what
    it gives (``f(2) => 4``, ``f(2) = 4``, ``for f(2) == 4``, ``f(2)  # returns 4``), or the
    arguments by name and the result (``For lst = [1, 2] the output should be 3``, and
    ``Input:``/``Output:`` lines). Arguments by name become a call of the answer's own
    function that takes exactly those names, a bare input one of the function the question
    names; an example whose function the answer does not define that way is left out, so
    it cannot fail a right answer. A function the question defines with ``=`` as
    mathematics (``tri(n) = 1 + n / 2``) has no ``=`` example read.
    """
    found: list[tuple[str, str, str]] = []

    def add(item: tuple[str, str, str]) -> None:
        if item not in found:
            found.append(item)

    for text in (question, *code_blocks(answer)):
        for call, want in _DOCTEST.findall(text):
            expected = re.split(r'"""|\'\'\'|\n\s*\n', want)[0].strip()
            if expected:
                add(("doctest", _uncommented(call), expected))
    functions = _functions(main_code(answer)) if answer else {}
    for call, expected in _stated(question):
        # One the answer's code cannot call (another function's name) says nothing of it.
        if not answer or call.partition("(")[0] in functions:
            add(("doctest", call, expected))
    named = _QUESTION_DEF.findall(question)
    for pattern in (_FOR, _INPUT):
        for match in pattern.finditer(question):
            call = _call_of(match["args"], functions, named[-1] if named else None)
            expected = _value(match["want"])
            if call and expected is not None:
                add(("doctest", call, expected))
    for block in code_blocks(answer):
        for line in _ASSERT.findall(block):
            add(("assert", line.strip(), ""))
    return found[:_MAX_EXAMPLES]


def _uncommented(source: str) -> str:
    """A doctest's source without a trailing comment (``round(f(x), 2) # f(x) = 1 + 2x``)."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                return source[: token.start[1]].strip()
    except (tokenize.TokenError, SyntaxError):
        pass
    return source.strip()


def _stated(question: str) -> list[tuple[str, str]]:
    """The calls stated with what they give, skipping ``=`` where it defines mathematics."""
    found, mathematics = [], set()
    for match in _STATED.finditer(question):
        call, expected = match["call"], _value(match["want"])
        if expected is None and match["arrow"] == "=":
            mathematics.add(call.partition("(")[0])
        if expected is not None and _is_literal_call(call):
            found.append((call, expected, match["arrow"]))
    return [
        (call, want)
        for call, want, arrow in found
        if arrow != "=" or call.partition("(")[0] not in mathematics
    ]


def _value(text: str) -> str | None:
    """The Python value a stated result is, a trailing remark or comment left out."""
    for candidate in (text.partition(" #")[0], re.sub(r"\s*\([^()]*\)$", "", text), text):
        candidate = candidate.strip().rstrip(".").strip()
        if candidate and _is_literal(candidate):
            return candidate
    return None


def _functions(code: str) -> dict[str, list[str]]:
    """The answer's top-level functions and the names of their parameters."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return {}
    return {
        node.name: [a.arg for a in node.args.args]
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }


def _call_of(args: str, functions: dict[str, list[str]], named: str | None) -> str | None:
    """A call of the answer's function with the stated arguments; ``None`` when none fits.

    The arguments are read as Python (``lst = [1, 2], k = 3`` or a bare ``[1, 2]``); where
    words follow them (``N = 1000, the sum of digits will be 1``) the longest part before a
    comma that reads is taken.
    """
    pieces = args.split(",")
    for end in range(len(pieces), 0, -1):
        try:
            call = ast.parse(f"f({','.join(pieces[:end])})", mode="eval").body
        except (SyntaxError, ValueError):
            continue
        if not isinstance(call, ast.Call) or not _literal_arguments(call):
            continue
        keywords = {k.arg for k in call.keywords}
        if None in keywords:
            return None
        if call.keywords and not call.args:
            fits = [name for name, params in functions.items() if set(params) == keywords]
        elif call.args and not call.keywords:
            fits = [n for n, p in functions.items() if len(p) == len(call.args)]
            fits = [named] if named in fits else (fits if named not in functions else [])
        else:
            return None
        if len(fits) != 1:
            return None
        call.func = ast.Name(fits[0], ast.Load())
        return ast.unparse(call)
    return None


def _is_literal_call(source: str) -> bool:
    """A call of a named function with Python values only (not ``is_happy(a)``)."""
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError):
        return False
    call = tree.body
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        return False
    return _literal_arguments(call)


def _literal_arguments(call: ast.Call) -> bool:
    return all(_is_literal(ast.unparse(a)) for a in (*call.args, *(k.value for k in call.keywords)))


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
