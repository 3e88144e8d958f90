"""Code answers checked by their own examples, in the sandbox, only when the user asks.

The examples are the ``>>>`` lines of the question and of the answer's code (what the
function should return), and the ``assert`` statements the answer wrote. Each runs once,
on its own, inside ``agent.sandbox``; a failure says what came back instead.
"""

from __future__ import annotations

import json
import re
import secrets

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
_space = {"__name__": "answer", "__builtins__": __builtins__}
try:
    exec(compile(_CODE, "answer.py", "exec"), _space)
except ModuleNotFoundError as _missing:
    print(_MARKER + json.dumps({"unavailable": str(_missing)}))
    raise SystemExit(0)
except BaseException as _error:
    print(_MARKER + json.dumps({"broken": type(_error).__name__ + ": " + str(_error)[:200]}))
    raise SystemExit(0)
for _kind, _source, _expected in _EXAMPLES:
    try:
        if _kind == "doctest":
            _got = repr(eval(compile(_source, "example", "eval"), _space))
            _ok = " ".join(_got.split()) == " ".join(_expected.split())
            if not _ok:
                try:
                    _ok = eval(_got) == eval(_expected)
                except Exception:
                    pass
            _results.append([_ok, "" if _ok else "returned " + _got[:120]])
        else:
            exec(compile(_source, "assert", "exec"), _space)
            _results.append([True, ""])
    except BaseException as _error:
        _why = str(_error)
        _results.append([False, type(_error).__name__ + (": " + _why if _why else "")])
print(_MARKER + json.dumps({"results": _results}))
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
    """Run the examples of a code answer in the sandbox; one ``Check`` per example.

    The answer's code runs as a module (not as ``__main__``, so a demo block at its end does
    not run) and every example on its own. Code that needs a package the sandbox lacks is not
    checked at all: that says nothing about the answer. The results come back behind a random
    marker, which the answer's own output cannot forge.
    """
    code = main_code(answer)
    cases = examples(question, answer)
    if not code or not cases:
        return []
    definitions = "\n".join(line for line in code.splitlines() if not line.startswith("assert "))
    marker = f"RESULTS-{secrets.token_hex(8)}:"
    program = f"_MARKER = {marker!r}\n_CODE = {definitions!r}\n_EXAMPLES = {cases!r}\n{_RUNNER}"
    outcome = run_python(program, timeout=timeout)
    found = outcome.stdout.rfind(marker)
    if found < 0:
        why = outcome.detail or "the code did not run"
        return [Check(kind="code", name="the code runs", passed=False, detail=why)]
    report = json.loads(outcome.stdout[found + len(marker) :].strip().splitlines()[0])
    if "unavailable" in report:
        return []
    if "broken" in report:
        return [Check(kind="code", name="the code runs", passed=False, detail=report["broken"])]
    checks = []
    for (kind, source, expected), (passed, detail) in zip(cases, report["results"], strict=False):
        name = f"{source} → {expected}" if kind == "doctest" else source
        checks.append(Check(kind="code", name=name[:160], passed=bool(passed), detail=detail))
    return checks
