"""The embedded model ends a reply caught in a loop, and writes out a repetition it was asked for.

Greedy decoding at 1.5B falls into loops (a density's zeros, one sentence over and over) and,
unguarded, runs to the 1,024-token cap: about 80 s of a 2-core CPU for nothing (benchmarks §35).
"""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from agent.checks.repetition import SPAN, repetition_checks
from agent.local import local_chat_model
from agent.models import MAX_TOKENS_PER_CALL

pytestmark = pytest.mark.real


def test_a_reply_caught_in_a_loop_ends_soon_after_the_loop_begins() -> None:
    asked = "Write the word 'mother' over and over, separated by commas, and never stop."
    reply = local_chat_model("", progress=False).invoke([HumanMessage(asked)])
    text = str(reply.content)
    tokens = reply.usage_metadata["output_tokens"] if reply.usage_metadata else 0
    assert reply.response_metadata["finish_reason"] == "stop"
    assert tokens < MAX_TOKENS_PER_CALL // 3 and SPAN <= len(text) < 3 * SPAN
    (check,) = repetition_checks(text, asked)
    assert not check["passed"] and "other" in check["detail"]  # "other, m", from "Mother,"


def test_a_repetition_the_question_asks_for_is_written_out() -> None:
    asked = "Write the word 'mother' 60 times, separated by commas. Nothing else."
    # The 1.5B model writes on past 60 to the cap: 200 tokens hold some 100 "mother,".
    model = local_chat_model("", max_tokens=200, progress=False)
    text = str(model.invoke([HumanMessage(asked)]).content)
    assert text.lower().count("mother") >= 50  # the guard would have ended it near 36
    assert repetition_checks(text, asked) == []
