"""Evidence a program can establish about a draft: arithmetic, stated constraints, examples.

``run_checks`` is what every step that writes a draft calls. The calculator and the
constraint checks always run (they read text, nothing more); so does, for a question that asks
for code, the check that the reply holds code defining what was asked (``code_asked``). A
program whose reply says what it prints is run and compared (``program_checks``): by default
only an arithmetic program, in the restricted evaluator (inside the sandbox where there is
one); any other only with ``run_code``, in the sandbox. A code answer's examples run the
same way: by default only when its code is inside the arithmetic subset, in the restricted
evaluator inside the sandbox; any other code only with ``run_code``. A comparison of
quantities the question states ("a kilogram of feathers or a kilogram of steel?") is
decided by converting their units (``comparison_checks``); nothing is run. A reply that ends
in a loop, the same text over and over, fails ``repetition_checks``.

Before the checks run, ``repair`` makes a prose answer meet the stated instructions that code
alone can meet (a case, no commas, the quotation marks, the phrase to end with, the request
repeated first), so the checks then judge what the user will get. Where the answer lacks
only text the model must write (too few sentences or words, no postscript), ``continuation``
says where the model writes on from and when it stops.
"""

from __future__ import annotations

import re

from agent.answers import code_blocks, main_code
from agent.checks.calculator import arithmetic_checks
from agent.checks.code import code_checks
from agent.checks.comparison import comparison_checks
from agent.checks.instructions import Constraint, Continuation, check, continuation, extract, repair
from agent.checks.program import program_checks
from agent.checks.repetition import repetition_checks
from agent.result import Check, Draft

__all__ = [
    "CORRECTED",
    "NOTES",
    "NOT_KEPT",
    "REPAIRED",
    "WRITTEN_ON",
    "Constraint",
    "Continuation",
    "asked_name",
    "check",
    "code_asked",
    "continuation",
    "extract",
    "failed",
    "failures",
    "line_of",
    "program_checks",
    "repair",
    "run_checks",
    "summary",
]

REPAIRED = "made by code, not the model: "
"""How the reflection that says which instructions code met (``repair``) begins."""
WRITTEN_ON = "written on by the model to meet: "
"""How the reflection that says which instructions the model's continuation met begins."""
NOT_KEPT = "written on by the model, not kept: "
"""How the reflection that says why the model's continuation was set aside begins."""
CORRECTED = "continued from the corrected step: "
"""How the reflection that says a calculator set a step right and the model went on begins."""
NOTES = (REPAIRED, WRITTEN_ON, NOT_KEPT, CORRECTED)
"""How the reflections code writes begin: notes on a draft, not the model's reasoning."""


def run_checks(
    question: str,
    text: str,
    output: str,
    *,
    kind: str,
    constraints: list[Constraint],
    run_code: bool,
) -> list[Check]:
    """Every check that applies to a draft.

    Args:
        question: The question asked.
        text: The draft's whole reply (its reasoning is where arithmetic steps are).
        output: The answer the user would get (where stated constraints must hold).
        kind: The answer kind; a code answer is checked for the code asked for
            (``code_asked``), and gets its examples run (``code_checks``).
        constraints: The question's checkable instructions, from ``extract``.
        run_code: Whether the user allowed running the answer's code, and any program
            outside the arithmetic subset, in the sandbox.
    """
    found = check(output, constraints) + repetition_checks(text, question)
    if kind != "code":
        found += arithmetic_checks(text)
        found += comparison_checks(question, output)
        found += program_checks(text, output, kind=kind, run_code=run_code)
        return found
    found += code_asked(question, output)
    found += code_checks(question, output, run_code=run_code)
    return found


# A request to write code: a verb, then (within the clause) what to write, as its object: not
# "a riddle about the inverse function", nor "a class character sheet".
_CODE_NOUN = (
    r"(?:function|method|class|script|program|code|regex|regular\s+expression|query|snippet|"
    r"generator|decorator|algorithm|implementation|one-liner|lambda|module|routine)"
)
_ABOUT = r"\b(?:about|on|of|regarding|concerning|explaining|describing|comparing|between)\b"
# What follows the noun of a request: the end of the clause, a word that goes on with it, or
# a name ("count_vowels(s)", "Stack", "countVowels").
_AFTER_NOUN = (
    r"(?=\s*(?:$|[.,;:!?(`'\"]"
    r"|(?:that|which|to|in|for|called|named|using|with|taking|returning|accepting|so|and|or|"
    r"from)\b|[A-Za-z_]\w*\s*\(|\w*_\w*\b|(?-i:[A-Z]\w*|[a-z]+[A-Z]\w*)\b))"
)
_WRITE_CODE = re.compile(
    r"\b(?:write|implement|create|complete|fix|refactor|rewrite|define|code|build|generate|"
    rf"make|give\s+me|show\s+me|provide)\b(?:(?!{_ABOUT})[^.?!\n]){{0,60}}?\b{_CODE_NOUN}s?\b"
    + _AFTER_NOUN,
    re.IGNORECASE,
)
# "a Python function count_vowels(s)", "as a function binary_search(items, target)", "a class
# Stack", "a function called dedupe", "a C function int count_bits(…)": the name the request
# gives, after the verb and with nothing between that makes it another thing ("a script that
# calls the function foo" names foo, but does not ask for it).
_NOT_BETWEEN = r"(?:that|which|who|to|calls?|calling|uses?|using|for|with|of|and|or|tests?)\b"
_NAMED = re.compile(
    r"\b(?:write|implement|create|complete|fix|refactor|rewrite|define|code|build|make|"
    r"give\s+me|show\s+me|provide)\s+"
    rf"(?:(?!{_NOT_BETWEEN})[\w+#-]+\s+){{0,7}}?(?P<noun>{_CODE_NOUN})\s+"
    r"(?:(?:in|using)\s+[\w+#]+\s+)?(?:(?P<called>called|named)\s+)?"
    r"(?:(?:int|void|bool|string|str|float|double|char|long|unsigned|static|public|async|pub|"
    r"const|fn|func|def|u?int\d*)\s+)*(?P<q>[`'\"])?(?P<name>[A-Za-z_]\w*)(?P<paren>\s*\()?",
    re.IGNORECASE,
)
_NOT_NAMES = {
    "that", "which", "to", "in", "for", "with", "and", "or", "the", "a", "an", "of", "called",
    "named", "taking", "returning", "accepting", "using", "python", "javascript", "typescript",
    "java", "rust", "go", "ruby", "bash", "sql", "c", "cpp", "is", "it", "this", "from", "on",
    "so", "as", "by", "where", "whose", "like", "without", "then", "once",
}  # fmt: skip


def asked_name(question: str) -> str | None:
    """The name of the function or class a question asks to be written, if it gives one.

    Only a name the request itself gives counts: ``write a function count_vowels(s)``,
    ``create a class Stack``, ``a function called dedupe``; not one in a code block of the
    question (that is code to read) nor in a request for tests (which call it, not define it).

    Example:
        >>> asked_name("Write a Python function count_vowels(s) that counts vowels.")
        'count_vowels'
    """
    prose = re.sub(r"```.*?(?:```|\Z)", " ", question, flags=re.DOTALL)
    if re.search(r"\b(?:unit\s+)?tests?\b", prose, re.IGNORECASE):
        return None
    for m in _NAMED.finditer(prose):
        name = m["name"]
        if name.lower() in _NOT_NAMES:
            continue
        # A plain word is a name only where nothing else could be one: "a class Stack".
        shaped = "_" in name or re.search(r"\d|[a-z][A-Z]", name)
        classed = m["noun"].lower() == "class" and name[0].isupper()
        if m["paren"] or m["q"] or m["called"] or shaped or classed:
            return name
    return None


def _defines(text: str, name: str) -> bool:
    """Whether a reply holds a definition of ``name``, in any common language.

    Only its code is read: the fenced blocks, else the reply if it is Python. Prose says "the
    function count_vowels(s) returns 3" as readily as code says ``function count_vowels(s)``;
    outside a block only a line that can be nothing but a definition counts (``def f(x):``).
    The name may change its case and underscores with the language: ``count_vowels`` is
    ``countVowels`` in Java.
    """
    n = "_?".join(re.escape(c) for c in name.replace("_", "")) + r"(?!\w)"
    line = (
        rf"^[^\S\n]*(?:async\s+)?def\s+{n}\s*\(.*\)[^\n]*:[^\S\n]*$"
        rf"|^[^\S\n]*class\s+{n}\b[^\n]*:[^\S\n]*$"
        rf"|^[^\S\n]*(?:export\s+)?(?:async\s+)?function\s+{n}\s*\([^\n]*\)\s*\{{"
    )
    if re.search(line, text, re.IGNORECASE | re.MULTILINE):
        return True
    code = "\n".join(code_blocks(text)) or main_code(text)
    return bool(
        re.search(
            rf"\b(?:def|class|function\*?|fn|func|fun|sub|struct|interface|trait|enum|type|"
            rf"procedure|macro|module)\s+(?:\([^)]*\)\s*)?(?:[\w.]+\.)?{n}\b"
            rf"|\b(?:const|let|var|val)\s+{n}\s*[:=]"
            rf"|\b{n}\s*[:=]\s*(?:async\s+)?(?:lambda|function|\()"
            rf"|\bcreate\s+(?:or\s+replace\s+)?(?:function|procedure)\s+(?:[\w.]+\.)?{n}\b"
            rf"|^[^\S\n]*(?:[\w<>\[\]*&:,]+[^\S\n]+)+[*&]?{n}\s*\([^;\n]*$"
            rf"|^[^\S\n]*(?:(?:static|async|public|private)\s+)*{n}\s*\([^)\n]*\)\s*\{{",
            code,
            re.IGNORECASE | re.MULTILINE,
        )
    )


def _has_code(text: str) -> bool:
    """Whether a reply holds any code: a fenced block, code lines, inline code, or Python."""
    if code_blocks(text) or main_code(text):
        return True
    lines = (
        r"^\s*(?:def|class|function|import|from\s+\S+\s+import|#include|SELECT|WITH|INSERT|"
        r"UPDATE|CREATE|fn|func|const|let|var|public|package)\b"
    )
    inline = r"`[^`\n]*[()\[\]{}=;^$\\|*+][^`\n]*`"
    return bool(re.search(lines, text, re.MULTILINE) or re.search(inline, text))


def code_asked(question: str, output: str) -> list[Check]:
    """For a question that asks for code: a failed check where the reply does not hold it.

    It fails the way a failed constraint does, so a sample that answers a code question with
    prose alone (a sentence about what the function returns, with no function) gets no vote
    while one with the code passes. With a name in the request (``count_vowels``) the code
    must define it; without one, any code will do. A question that does not ask for code to be
    written (an explanation of code it shows) gets no check. A reply that holds the code gets
    none either: "it has code" is no evidence worth a line beside the answer.

    Args:
        question: The question asked.
        output: The answer the user would get.

    Returns:
        One failed check, or none.
    """
    name = asked_name(question)
    prose = re.sub(r"```.*?(?:```|\Z)", " ", question, flags=re.DOTALL)
    if not name and not _WRITE_CODE.search(prose):
        return []
    if name:
        passed = _defines(output, name)
        label, detail = f"defines {name}", f"no code defines {name}"
    else:
        passed = _has_code(output)
        label, detail = "holds the code asked for", "no code; the question asks for code"
    return [] if passed else [Check(kind="code", name=label, passed=False, detail=detail)]


def failed(checks: list[Check]) -> list[Check]:
    """The checks that did not hold."""
    return [c for c in checks if not c["passed"]]


def fails(draft: Draft, kind: str) -> bool:
    """Whether a check of this kind failed on the draft."""
    return any(c["kind"] == kind for c in failed(draft["checks"]))


def decided(draft: Draft) -> bool:
    """Whether a check that alone decides the answer passed, and nothing failed.

    A comparison of quantities the question states has one right answer, and the units
    gave it: no vote, critic or further sample can know better.
    """
    ran = draft["checks"]
    return not failed(ran) and any(c["kind"] == "comparison" for c in ran)


def fixes_some(revision: Draft, parent: Draft) -> bool:
    """Whether a revision fails fewer checks than its draft and passes one where it failed.

    "Where it failed": a check of a kind the draft failed. That is the only way a revision
    on failed checks earns its place over its draft. A revision that fails fewer only
    because less of it could be checked (a conclusion that names no side, a restated
    answer without its steps) has fixed nothing.
    """
    old, new = failed(parent["checks"]), failed(revision["checks"])
    grounds = {c["kind"] for c in old}
    shown = any(c["passed"] and c["kind"] in grounds for c in revision["checks"])
    # A repetition check speaks only when a reply loops: a revision that ends has passed it.
    ends = "repetition" in grounds and not fails(revision, "repetition")
    return len(new) < len(old) and (shown or ends)


def failures(checks: list[Check]) -> str:
    """Failed checks as the concrete error a revision must fix, one per line."""
    return "\n".join(f"{line_of(c)}" for c in failed(checks))


def line_of(check: Check) -> str:
    """One check as a reflection line: ``✗ 3 × 12 = 38 (is 36)``, ``✓ 3 bullet points``."""
    if check["passed"]:
        return f"✓ {check['name']}"
    if check["kind"] == "calculator":
        value = check["detail"].rsplit("=", 1)[-1].strip()
        return f"✗ {check['name']} (is {value})"
    if check["kind"] == "program":
        return f"✗ {check['name']}"
    return f"✗ {check['name']}: {check['detail']}"


def summary(checks: list[Check]) -> list[str]:
    """Reflection lines for a draft's checks: each failure, and the passes counted."""
    lines = [line_of(c) for c in failed(checks)]
    passed = [c for c in checks if c["passed"]]
    if passed and len(passed) <= 3:
        lines += [line_of(c) for c in passed]
    elif passed:
        kinds = ", ".join(sorted({c["kind"] for c in passed}))
        lines.append(f"✓ {len(passed)} checks hold ({kinds})")
    return lines
