"""Is an answer right? Numbers compared as numbers, short text answers normalised."""

from __future__ import annotations

import re

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from agent.parsing import answer_key, message_text
from agent.prompts import PROMPTS


def is_correct(output: str, expected: str) -> bool:
    r"""Score a final output against a reference answer.

    A numeric reference is compared with the output's answer as a number (commas, units,
    ``$``, trailing ``.0`` and ``\boxed{}`` do not matter). A text reference matches when its
    words appear, in order and together, in the output's answer phrase.
    """
    reference = answer_key(expected)
    if not reference:
        return False
    got = answer_key(output)
    if re.fullmatch(r"-?\d+(?:\.\d+)?", reference):
        return got == reference
    words = reference.split()
    have = got.split()
    return any(have[i : i + len(words)] == words for i in range(len(have) - len(words) + 1))


async def judge(model: BaseChatModel, question: str, reference: str, output: str) -> bool:
    """Ask a model whether a free-form answer matches the reference (LLM as judge)."""
    prompt = PROMPTS.render("judge_user", question=question, reference=reference, response=output)
    reply = await model.ainvoke([HumanMessage(prompt)])
    return message_text(reply.content).strip().upper().startswith("YES")
