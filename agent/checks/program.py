"""A program in a reply, run, and what it printed compared with what the reply says it printed.

A coder model answers a sum with Python and then, often, writes the output it imagines: a
correct program that prints 29, followed by an ``output`` block that says 33. The program is
evidence the calculator cannot read (its steps are code, not ``a op b = c`` lines), so it is
run, and its printed value is compared with what the reply claims:

* an ``output`` block right after the program (```` ```output ````, ```` ```text ````, or a
  bare block the prose calls the output);
* a sentence right after it that says what it prints or returns ("the code prints 33",
  "the output will be: 29");
* for a number question, the reply's final answer when it comes after the program.

A mismatch is a failed check: ``✗ the program prints 29, the answer says 33``. Where it runs:
a program inside the arithmetic subset (``agent.checks.evaluator.admit``) runs by default, in
the restricted evaluator, inside the kernel sandbox, and not at all where this machine has
none. Any other program runs only with ``run_code``, in the sandbox. The verdict
is decided here, from what the program reported, never inside the sandbox.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import secrets
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from agent import answers
from agent.checks import evaluator
from agent.checks.evaluator import Ran
from agent.result import Check
from agent.sandbox import SandboxUnavailable, isolation, run_python

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON = {"python", "py", "python3", "py3", ""}
_OUTPUT = {"output", "text", "txt", "plaintext", "plain", "console", "stdout", "out", "result"}
_CALLS_IT_OUTPUT = re.compile(r"\b(?:output|prints?|printed|result|returns?|shows?)\b", re.I)
_NUMBER = r"-?\$?\d[\d,]*(?:\.\d+)?"
_SAYS = re.compile(
    r"\b(?:prints?|outputs?|displays?|returns?|(?:output|result)\s+(?:is|will\s+be|would\s+be))"
    rf"\s*(?:the\s+(?:number|value|result)\s*)?:?\s*[`*\s]*(?P<n>{_NUMBER})[`*]*"
    r"(?!\s*(?:lines?|times|values|numbers|items|rows|columns|elements|digits)\b)"
    r"(?=\s|$|[.,;:!)])",
    re.IGNORECASE,
)
_NUMBERS = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?")
_MAX_PROGRAMS = 3
_SANDBOX_SECONDS = 10.0
# An arithmetic program (the kind run by default, up to three a reply) stops itself at the
# evaluator's own time limit (MAX_SECONDS); the rest is the sandbox's start and asteval's import.
_RESTRICTED_SECONDS = 5.0


@dataclass(frozen=True)
class Claim:
    """A program in a reply and what the reply says it gives.

    Attributes:
        program: The program's source.
        said: What the reply says it printed or returns (an output block's text, a number).
        source: Where the claim is: ``output`` (a block), ``prose`` (a sentence) or
            ``answer`` (the final answer, for a number question).
    """

    program: str
    said: str
    source: str


def claims(text: str, output: str, kind: str) -> list[Claim]:
    r"""The programs of a reply that come with a statement of what they give.

    Args:
        text: The whole reply.
        output: The answer the user gets (whose key is the final answer).
        kind: The answer kind; a number question's final answer, stated after its last
            program, is that program's claim when nothing else is.

    Example:
        >>> reply = "```python\nprint(3 * 12 - 7)\n```\n```output\n33\n```"
        >>> claims(reply, reply, "number")[0].said
        '33'
    """
    blocks = [(m.group(1).lower(), m.group(2), m.start(), m.end()) for m in _FENCE.finditer(text)]
    found: list[Claim] = []
    programs: list[int] = []
    for i, (lang, body, _, end) in enumerate(blocks):
        if lang not in _PYTHON or not _is_program(body):
            continue
        programs.append(i)
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        between = text[end : nxt[2]] if nxt else text[end:]
        if nxt and len(between) < 300 and _is_output(nxt[0], nxt[1], between):
            found.append(Claim(body, nxt[1].strip(), "output"))
            continue
        said = _SAYS.search(between[:400])
        if said:
            found.append(Claim(body, said.group("n"), "prose"))
    if kind == "number" and programs:
        last = programs[-1]
        claimed = any(c.program == blocks[last][1] for c in found)
        final = answers.key(output, "number")
        stated, _ = answers.conclusion(text)
        where = text.rfind(stated) if stated else -1
        if not claimed and final and where >= blocks[last][3]:
            found.append(Claim(blocks[last][1], final, "answer"))
    return found[:_MAX_PROGRAMS]


def _is_program(body: str) -> bool:
    """Whether a block is a program that does something: not a bare value like ``29``."""
    try:
        tree = ast.parse(body)
    except (SyntaxError, ValueError):
        return False
    return any(
        isinstance(node, ast.Assign | ast.AugAssign | ast.FunctionDef | ast.For | ast.While)
        or (isinstance(node, ast.Call) and isinstance(node.func, ast.Name))
        for node in ast.walk(tree)
    )


def _is_output(lang: str, body: str, between: str) -> bool:
    """Whether a block after a program is what the reply says the program gave."""
    if lang in _OUTPUT:
        return True
    return lang == "" and not _is_program(body) and bool(_CALLS_IT_OUTPUT.search(between))


def program_checks(text: str, output: str, *, kind: str, run_code: bool) -> list[Check]:
    """Run each program a reply makes a claim about; one ``Check`` per program compared.

    A program outside the arithmetic subset is run only with ``run_code``; a program that
    stops with an error or at a limit, or prints nothing to compare, gives no check: that
    says nothing about the claim.

    Args:
        text: The whole reply.
        output: The answer the user gets.
        kind: The answer kind (code answers are checked by their examples instead).
        run_code: Whether the user allowed running any program in the sandbox.

    Raises:
        SandboxUnavailable: ``run_code`` was given and no kernel isolation is possible here.
    """
    if kind == "code":
        return []
    checks = []
    for claim in claims(text, output, kind):
        ran = run(claim.program, run_code=run_code)
        if ran is None or ran["error"]:
            continue
        gave = ran["printed"].strip() or ran["value"].strip()
        if not gave:
            continue
        check = compare(gave, claim)
        if check is not None:
            checks.append(check)
    return checks


def run(program: str, *, run_code: bool) -> Ran | None:
    """Run a program where it may run; ``None`` where it may not run at all.

    An arithmetic program runs in the restricted evaluator inside the kernel sandbox; where
    this machine has no kernel isolation it does not run at all (no evidence either way):
    nothing a model writes runs outside the kernel's fence. Any other program runs only with
    ``run_code``, and only in the sandbox. Annotations and imports the program never uses are
    dropped first (``import sympy as sp`` before plain arithmetic; ``evaluator.trimmed``).

    Raises:
        SandboxUnavailable: ``run_code`` was given and no kernel isolation is possible here.
    """
    program = evaluator.trimmed(program)
    restricted = not evaluator.admit(program)
    if not restricted and not run_code:
        return None
    if isolation().backend is None:
        if not restricted:
            raise SandboxUnavailable(isolation().reason)
        return None
    try:
        return in_sandbox(program, restricted=restricted)
    except SandboxUnavailable:
        if not restricted:
            raise
        return None


# The program the sandbox runs: the evaluator and asteval written into its private folder,
# then the model's program run in one of them; what it gave goes out on the report channel
# behind a nonce read before the model's program runs.
_RUNNER = r"""
import json, os, sys
nonce = sys.stdin.readline().strip()
sys.stdin.close()
channel = os.dup(3)
os.close(3)
for name, text in LIBRARY.items():
    path = os.path.join("lib", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)
sys.path.insert(0, os.path.abspath("lib"))
import types
sys.modules["ctypes"] = types.ModuleType("ctypes")  # asteval imports it; the sandbox refuses it
import evaluator
del LIBRARY
for index, program in enumerate(PROGRAMS):
    ran = evaluator.evaluate(program) if RESTRICTED else evaluator.run_plain(program)
    os.write(channel, f"{nonce} {index} {json.dumps(ran)}\n".encode())
"""


def in_sandbox(program: str, *, restricted: bool) -> Ran:
    """Run a program inside the kernel sandbox: in the restricted evaluator, or plainly.

    What the program gave comes back on the sandbox's report channel; a program that never
    reported (it was killed at a limit, or exited early) comes back with an ``error``.

    Raises:
        SandboxUnavailable: No kernel isolation here.
    """
    return each_in_sandbox([program], restricted=restricted)[0]


def each_in_sandbox(programs: list[str], *, restricted: bool) -> list[Ran]:
    """Run programs one after another in one sandbox; what each gave, in their order.

    One sandbox start for all: a code answer's examples are its definitions and one call
    each. A program that never reported comes back with an ``error``, as does every one
    after it when the sandbox stopped.

    Raises:
        SandboxUnavailable: No kernel isolation here.
    """
    nonce = secrets.token_hex(16)
    source = (
        f"LIBRARY = {_library()!r}\nPROGRAMS = {programs!r}\nRESTRICTED = {restricted!r}\n"
        + _RUNNER
    )
    # Each program is held to its own limits inside; the sandbox's clock covers them all.
    each = evaluator.MAX_SECONDS if restricted else _SANDBOX_SECONDS
    seconds = (_RESTRICTED_SECONDS if restricted else _SANDBOX_SECONDS) + each * (len(programs) - 1)
    outcome = run_python(
        source, stdin=nonce + "\n", timeout=seconds, output_limit=10_000 * len(programs)
    )
    gave: dict[int, Ran] = {}
    for line in outcome.report:
        tag, _, rest = line.partition(" ")
        index, _, body = rest.partition(" ")
        if tag != nonce or not index.isdigit():
            continue
        try:
            record = json.loads(body)
        except ValueError:
            continue
        fields = ("printed", "value", "error")
        if isinstance(record, dict) and all(isinstance(record.get(k), str) for k in fields):
            gave[int(index)] = Ran(
                printed=record["printed"], value=record["value"], error=record["error"]
            )
    why = outcome.detail or outcome.status
    missing = Ran(printed="", value="", error=f"the program reported nothing ({why})")
    return [gave.get(index, missing) for index in range(len(programs))]


@functools.cache
def _library() -> dict[str, str]:
    """The sources the sandbox needs: the evaluator and asteval (no package is visible there)."""
    import asteval

    files = {"evaluator.py": Path(evaluator.__file__).read_text(encoding="utf-8")}
    package = resources.files(asteval)
    for name in ("__init__.py", "asteval.py", "astutils.py", "version.py"):
        files[f"asteval/{name}"] = (package / name).read_text(encoding="utf-8")
    return files


def compare(gave: str, claim: Claim) -> Check | None:
    """The check of a claim against what the program gave; ``None`` when nothing compares.

    Numbers compare as numbers (``29`` = ``29.0`` = ``$29``; a claim rounded to the places it
    shows holds); text compares by its words.
    """
    said = claim.said
    printed, stated = _NUMBERS.findall(gave), _NUMBERS.findall(said.replace("$", ""))
    if claim.source == "answer":
        if not printed:
            return None
        printed, stated = printed[-1:], [said]
    if stated and printed:
        pairs = list(zip(printed, stated, strict=True)) if len(printed) == len(stated) else []
        pairs = pairs or [(printed[-1], stated[-1])]
        wrong = next(((p, s) for p, s in pairs if not _same_number(p, s)), None)
        got, claimed = wrong or pairs[-1]
    elif stated or printed:
        got, claimed, wrong = _line(gave), _line(said), ("", "")
    else:
        same = answers.normalise(gave) == answers.normalise(said)
        got, claimed, wrong = _line(gave), _line(said), None if same else ("", "")
    if wrong is None:
        return Check(kind="program", name=f"the program prints {got}", passed=True, detail="")
    name = f"the program prints {got}, the answer says {claimed}"
    return Check(kind="program", name=name, passed=False, detail=f"the program prints {got}")


def _same_number(printed: str, stated: str) -> bool:
    """Whether a printed number and a stated one are the same, allowing for rounding."""
    a, b = float(printed.replace(",", "")), float(stated.replace(",", "").replace("$", ""))
    decimals = len(stated.split(".")[1]) if "." in stated else 0
    if abs(a - b) <= 1e-9 * max(1.0, abs(a)):
        return True
    if decimals and abs(a - b) < 10.0**-decimals:
        return True
    return answers.matches(stated, printed, "number")


def _line(text: str, limit: int = 60) -> str:
    """Text fit for one line of a check's name."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
