"""Is an answer right? Compared by the kind of answer the question asks for.

Numbers compare as numbers (``math-verify`` for expressions), choices by letter, yes/no by
polarity, short answers by their words. Code runs its record's tests in the sandbox, and
only when the caller allows running code; formatted text passes when every instruction the
question states holds.
"""

from __future__ import annotations

import re

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from agent import answers, checks
from agent.datasets import Record
from agent.parsing import message_text
from agent.prompts import PROMPTS
from agent.sandbox import run_steps


def kind_of_record(record: Record) -> str:
    """The kind a record is scored as: its own, else told from its reference answer."""
    if record.kind:
        return record.kind
    if record.tests:
        return "code"
    reference = record.answer.strip()
    if answers.number_value(reference, marked=True) is not None and re.fullmatch(
        r"[-$\d.,%\s\\{}a-z]*\d[-$\d.,%\s\\{}a-z]*", reference.lower()
    ):
        return "number"
    if reference.lower() in ("yes", "no"):
        return "yes_no"
    if re.fullmatch(r"[A-H]", reference) and answers.options(record.question):
        return "choice"
    return "short" if reference else "text"


def score(output: str, record: Record, *, run_code: bool = False) -> bool:
    """Whether ``output`` answers ``record`` rightly.

    Raises:
        ValueError: The record is scored by tests and ``run_code`` is off.
    """
    kind = kind_of_record(record)
    if record.tests:
        if not run_code:
            raise ValueError(f"{record.id} is scored by running code: allow it with run_code")
        return passes_tests(output, record)
    if kind == "text" and not record.answer:
        found = checks.check(output, checks.extract(record.question))
        return bool(found) and all(c["passed"] for c in found)
    return answers.matches(output, record.answer, kind, record.question)


def passes_tests(output: str, record: Record, *, timeout: float = 20.0) -> bool:
    """Run the answer's code, then the record's tests, in the sandbox.

    Code the question itself shows (imports, helper functions, the stub to complete) runs
    first, as a benchmark's prompt would; the answer's definitions then replace the stub.
    The tests pass only when the sandbox reports that they ran to their end: an exit before
    that (``SystemExit(0)``, ``os._exit``) or anything the code prints counts for nothing.
    """
    named = re.search(r"\bcheck\((\w+)\)", record.tests) or re.search(
        r"\bdef (\w+)\s*\(", record.question
    )
    code = answers.main_code(output, named.group(1) if named else None)
    if not code:
        return False
    setup = "\n\n".join(answers.code_blocks(record.question))
    trial = run_steps(f"{setup}\n\n{code}\n", [("exec", record.tests)], timeout=timeout)
    return trial.setup_error is None and trial.steps == (("value", "None"),)


def is_correct(output: str, expected: str) -> bool:
    r"""Score a final output against a reference answer told only by its text.

    Example:
        >>> is_correct("So 3 × 4 = 12, and the answer is $12.00.", "12")
        True
    """
    return score(output, Record(id="", question="", answer=expected))


async def judge(model: BaseChatModel, question: str, reference: str, output: str) -> bool:
    """Ask a model whether a free-form answer matches the reference (LLM as judge)."""
    prompt = PROMPTS.render("judge_user", question=question, reference=reference, response=output)
    reply = await model.ainvoke([HumanMessage(prompt)])
    return message_text(reply.content).strip().upper().startswith("YES")
