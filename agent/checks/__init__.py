"""Evidence a program can establish about a draft: arithmetic, stated constraints, examples.

``run_checks`` is what every step that writes a draft calls. The calculator and the
constraint checks always run (they read text, nothing more); code examples run only with
``run_code``, in the sandbox.
"""

from __future__ import annotations

from agent.checks.calculator import arithmetic_checks
from agent.checks.code import code_checks
from agent.checks.constraints import Constraint, check, extract
from agent.result import Check, Critique, Draft

__all__ = [
    "Constraint",
    "as_critique",
    "check",
    "extract",
    "failed",
    "failures",
    "line_of",
    "run_checks",
    "summary",
]


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
        kind: The answer kind; code answers get their examples run with ``run_code``.
        constraints: The question's checkable instructions, from ``extract``.
        run_code: Whether the user allowed running the answer's code in the sandbox.
    """
    found = check(output, constraints)
    if kind != "code":
        found += arithmetic_checks(text)
    elif run_code:
        found += code_checks(question, output)
    return found


def failed(checks: list[Check]) -> list[Check]:
    """The checks that did not hold."""
    return [c for c in checks if not c["passed"]]


def fixes_some(revision: Draft, parent: Draft) -> bool:
    """Whether a revision fails fewer checks than the draft it revised.

    That is the only way a revision on failed checks earns its place over its draft.
    """
    return len(failed(revision["checks"])) < len(failed(parent["checks"]))


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


def as_critique(draft: Draft, round_: int) -> Critique:
    """A draft's failed checks as a critique: a concrete error, found with no model call."""
    return Critique(
        round=round_,
        draft=draft["index"],
        verdict="revise",
        by="checks",
        error=failures(draft["checks"]),
        text="",
        input_tokens=0,
        output_tokens=0,
        seconds=0.0,
    )
