"""The records and events of a run: a selection is its own record, each event has one shape.

Issue 22: ``Critique.error`` no longer holds selection notes and ``select`` is not a verdict;
every critique event has the same keys; the registry lists ``context.Strategy``'s names.
"""

from __future__ import annotations

from typing import Any

from agent import Context, ReflectionResult, create_reflection_graph
from agent.context import resolve_settings
from agent.events import CritiqueEvent, SelectionEvent
from agent.strategies import technique_for
from agent.strategies.sampling import TECHNIQUE as SAMPLING
from tests.scripted import ScriptedChatModel

CODE_Q = "Write a Python function is_palindrome(s) that ignores case and spaces."
CODE = [
    "```python\ndef is_palindrome(s):\n    t = s.replace(' ', '').lower()\n"
    "    return t == t[::-1]\n```",
    "```python\ndef is_palindrome(s):\n    t = ''.join(s.split()).lower()\n"
    "    return t == t[::-1]\n```",
    "```python\ndef is_palindrome(s):\n    return s == s[::-1]\n```",
]


async def run(model: ScriptedChatModel, question: str, **context: Any) -> tuple[Any, list[Any]]:
    app = create_reflection_graph(model).compile()
    events: list[Any] = []
    final: dict[str, Any] = {}
    async for mode, data in app.astream(
        {"question": question},
        context=Context(max_concurrency=1, **context),
        stream_mode=["custom", "values"],
    ):
        if mode == "custom":
            events.append(data)
        else:
            final = data
    return ReflectionResult.from_dict(final["result"]), events


async def test_a_selection_is_its_own_record_not_a_critique() -> None:
    critic = ["Most consistent: Response 2\nOthers: 3 forgets case and spaces."]
    model = ScriptedChatModel(script={"generator": list(CODE), "critic": critic})
    result, events = await run(model, CODE_Q)
    assert result.critiques == []
    assert result.selection is not None
    assert (result.selection["draft"], result.chosen) == (1, 1)
    assert result.selection["note"] == "3 forgets case and spaces."
    assert result.selection["text"] == critic[0]
    assert result.reflections[-1] == "3 forgets case and spaces."
    (selected,) = [e for e in events if e["event"] == "critique"]
    assert set(selected) == set(SelectionEvent.__annotations__)
    assert (selected["verdict"], selected["draft"], selected["error"]) == (
        "select",
        1,
        "3 forgets case and spaces.",
    )


async def test_every_critique_event_has_the_same_keys() -> None:
    question = "Tom has 3 bags of 4 apples. How many apples?"
    # A failed calculator check (checks), then the critic's verdicts.
    replies = ["3 × 4 = 13. So 13.", "3 × 4 = 12. So 12.", "3 × 4 = 12. So 12."]
    critic = ["VERDICT: REVISE\nERROR: count again", "VERDICT: PASS"]
    model = ScriptedChatModel(script={"generator": replies, "critic": critic})
    result, events = await run(model, question, strategy="critique", max_rounds=3)
    critiques = [e for e in events if e["event"] == "critique"]
    assert [c["by"] for c in critiques] == [c["by"] for c in result.critiques]
    assert len(critiques) >= 2
    assert all(set(c) == set(CritiqueEvent.__annotations__) for c in critiques)
    assert [c["error"] for c in critiques] == [c["error"] for c in result.critiques]


def test_a_result_saved_with_a_select_critique_reads_back_as_a_selection() -> None:
    old = {
        "question": CODE_Q,
        "output": CODE[1],
        "chosen": 1,
        "critiques": [
            {
                "round": 1,
                "draft": 1,
                "verdict": "select",
                "by": "critic",
                "error": "3 forgets case and spaces.",
                "text": "Most consistent: Response 2",
                "input_tokens": 5,
                "output_tokens": 3,
                "seconds": 0.5,
            }
        ],
    }
    result = ReflectionResult.from_dict(old)
    assert result.critiques == []
    assert result.selection is not None
    assert (result.selection["draft"], result.selection["note"]) == (
        1,
        "3 forgets case and spaces.",
    )
    assert result.selection["input_tokens"] == 5


def test_modes_without_a_strategy_run_sampling_or_nothing() -> None:
    # The registry asserts at import that it matches Strategy; the strategies' own paths
    # are the graph tests'.
    assert technique_for(resolve_settings(Context(mode="vote"))) is SAMPLING
    assert technique_for(resolve_settings(Context(mode="single"))) is None
