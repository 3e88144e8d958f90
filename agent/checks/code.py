"""Code answers checked by their own examples, in the sandbox, only when the user asks.

The examples are the ``>>>`` lines of the question and of the answer's code (what the
function should return), and the ``assert`` statements the answer wrote. Each runs once,
on its own, inside ``agent.sandbox``; a failure says what came back instead.
"""

from __future__ import annotations

import json
import re

from agent.answers import code_blocks, main_code
from agent.result import Check
from agent.sandbox import run_python

_MAX_EXAMPLES = 12
_DOCTEST = re.compile(r"^\s*>>> (.+)\n((?:(?!\s*>>>)\s*\S.*\n?)*)", re.MULTILINE)
_ASSERT = re.compile(r"^assert .+$", re.MULTILINE)

# The runner is our own code; it executes the answer's code and then each example separately
# and prints one JSON line per example. It runs only inside the sandbox.
_RUNNER = """
import json
_results = []
exec(compile(_CODE, "answer.py", "exec"), globals())
for _kind, _source, _expected in _EXAMPLES:
    try:
        if _kind == "doctest":
            _got = repr(eval(compile(_source, "example", "eval"), globals()))
            _ok = " ".join(_got.split()) == " ".join(_expected.split())
            if not _ok:
                try:
                    _ok = eval(_got) == eval(_expected)
                except Exception:
                    pass
            _results.append([_ok, "" if _ok else "returned " + _got[:120]])
        else:
            exec(compile(_source, "assert", "exec"), globals())
            _results.append([True, ""])
    except Exception as _error:
        _why = str(_error)
        _results.append([False, type(_error).__name__ + (": " + _why if _why else "")])
print("RESULTS" + json.dumps(_results))
"""


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
    """Run the examples of a code answer in the sandbox; one ``Check`` per example."""
    code = main_code(answer)
    cases = examples(question, answer)
    if not code or not cases:
        return []
    definitions = "\n".join(line for line in code.splitlines() if not line.startswith("assert "))
    program = f"_CODE = {definitions!r}\n_EXAMPLES = {cases!r}\n{_RUNNER}"
    outcome = run_python(program, timeout=timeout)
    marker = outcome.stdout.rfind("RESULTS")
    if marker < 0:
        why = outcome.detail or "the code did not run"
        return [Check(kind="code", name="the code runs", passed=False, detail=why)]
    results = json.loads(outcome.stdout[marker + len("RESULTS") :].strip().splitlines()[0])
    checks = []
    for (kind, source, expected), (passed, detail) in zip(cases, results, strict=False):
        name = f"{source} → {expected}" if kind == "doctest" else source
        checks.append(Check(kind="code", name=name[:160], passed=bool(passed), detail=detail))
    return checks
