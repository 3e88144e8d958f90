"""Program-of-thought samples: the model writes a program, the sandbox's printed value votes.

For a number question, part of the samples (``Settings.programs``) ask for a short
program that prints the answer (PAL, program-of-thought) instead of a worked solution. The
program runs where ``agent.checks.program.run`` lets it: an arithmetic program by default,
in the restricted evaluator inside the kernel sandbox; anything else only with
``run_code``. The value it prints is that sample's answer, with the program kept as its
evidence; a program that does not run, or prints no number, fails a check and so gets no
vote while another sample passes.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from agent import answers
from agent.checks import program as programs_run
from agent.prompts import Prompts
from agent.result import Check, Draft
from agent.sandbox import SandboxUnavailable, isolation


def available() -> bool:
    """Whether a program sample can run here: only where the kernel sandbox is."""
    return isolation().backend is not None


def program_messages(
    prompts: Prompts, question: str, *, system: str = "", past: Sequence[BaseMessage] = ()
) -> list[BaseMessage]:
    """The messages that ask for a program printing the answer.

    Args:
        prompts: The prompts (``program_user``).
        question: The question.
        system: The run's own instructions, if any.
        past: The conversation before the question, so a follow-up keeps its context.
    """
    head: list[BaseMessage] = [SystemMessage(system)] if system else []
    return [*head, *past, HumanMessage(prompts.render("program_user", question=question))]


def program_of(text: str) -> str:
    """The reply's program: its last code block that prints, else its last block."""
    blocks = answers.code_blocks(text)
    printing = [b for b in blocks if "print(" in b]
    return (printing or blocks or [""])[-1].strip()


def program_sample(draft: Draft, *, run_code: bool) -> Draft:
    """A program reply turned into a sample: its printed number is the output.

    The reply's text stays whole; the program becomes the draft's thinking and
    ``program``, and a ``program`` check says what it printed, or why there is no answer.
    """
    source = program_of(draft["text"])
    if not source:
        return _failed(draft, "", "the reply has no program")
    try:
        ran = programs_run.run(source, run_code=run_code)
    except SandboxUnavailable as exc:
        return _failed(draft, source, f"the program cannot run here: {exc}")
    if ran is None:
        return _failed(draft, source, "the program is outside what runs here (allow --run-code)")
    if ran["error"]:
        return _failed(draft, source, f"the program stopped: {ran['error']}")
    printed = (ran["printed"] or ran["value"]).strip()
    value = answers.key(printed.splitlines()[-1] if printed else "", "number")
    if not value:
        return _failed(draft, source, f"the program printed no number ({printed[:40]!r})")
    check = Check(kind="program", name=f"the program prints {value}", passed=True, detail="")
    return {**draft, "thinking": source, "output": value, "program": source, "checks": [check]}


def _failed(draft: Draft, source: str, why: str) -> Draft:
    check = Check(kind="program", name="the program gives the answer", passed=False, detail=why)
    return {**draft, "thinking": source, "output": "", "program": source, "checks": [check]}
