"""Custom events reach LangChain's event stream (``astream_events(version="v2")``).

Issue 21, item 5: a UI built on LangChain's events gets the project's events, hears when a
further round of samples starts, and gets streamed thinking apart from the answer's text,
with no ``<think>`` tags in either.
"""

from __future__ import annotations

from typing import Any

from agent import Context, create_reflection_graph
from tests.scripted import ScriptedChatModel

Q = "Tom has 3 bags of 4 apples. How many apples?"


def think(answer: str, step: str = "3 × 4") -> str:
    return f"<think>3 bags of 4 apples: {step} = {answer}.</think>So Tom has {answer} apples."


async def custom_events(model: ScriptedChatModel, **context: Any) -> list[dict[str, Any]]:
    app = create_reflection_graph(model).compile()
    found = []
    async for event in app.astream_events(
        {"question": Q}, context=Context(max_concurrency=1, **context), version="v2"
    ):
        if event["event"] == "on_custom_event":
            assert event["name"] == event["data"]["event"]
            found.append(event["data"])
    return found


async def test_the_projects_events_and_a_further_round_reach_astream_events() -> None:
    # The first two samples disagree (12 and 7), so a further round is drawn.
    replies = [think("12"), think("7", "3 + 4"), think("12")]
    model = ScriptedChatModel(script={"generator": replies})
    events = await custom_events(model, effort="low")
    names = [e["event"] for e in events if e["event"] not in ("thinking", "text", "check")]
    # One sample at a time: the first round's two, a further round of one, the vote.
    assert names == ["sample", "sample", "round", "sample", "tally", "final"]
    assert [e for e in events if e["event"] == "round"] == [
        {"event": "round", "drawn": 2, "samples": [2]}
    ]


async def test_a_step_set_right_is_announced_where_the_stream_goes_on_from_it() -> None:
    wrong = "3 bags of 4 apples: 3 × 4 = 13.\n\nSo Tom has 13 apples."
    rest = ".\n\nSo Tom has 12 apples."
    model = ScriptedChatModel(
        script={"generator": [wrong, rest, "So Tom has 12 apples."] * 2},
        continues_final_message=True,
    )
    events = await custom_events(model, samples=1, max_samples=1, programs=0)
    shown = [(e["event"], e.get("passed"), e.get("text", "")) for e in events]
    announced = shown.index(("check", False, ""))
    said = "".join(text for name, _, text in shown[:announced] if name == "text")
    went_on = "".join(text for name, _, text in shown[announced:] if name == "text")
    assert (said, went_on) == (wrong, rest)  # the wrong reply, then what follows 3 × 4 = 12
    assert events[announced]["line"] == "✗ 3 × 4 = 13 (is 12)"
    sample = next(e for e in events if e["event"] == "sample")
    assert sample["output"].startswith("3 bags of 4 apples: 3 × 4 = 12.")


async def test_streamed_thinking_comes_apart_from_the_answer_without_tags() -> None:
    model = ScriptedChatModel(script={"generator": [think("12")]})
    events = await custom_events(model, mode="single")
    thinking = "".join(e["text"] for e in events if e["event"] == "thinking")
    text = "".join(e["text"] for e in events if e["event"] == "text")
    assert thinking == "3 bags of 4 apples: 3 × 4 = 12."
    assert text == "So Tom has 12 apples."
    assert {e["role"] for e in events if e["event"] in ("thinking", "text")} == {"generator"}


async def test_provider_reasoning_streams_as_thinking() -> None:
    model = ScriptedChatModel(script={"generator": ["So Tom has 12 apples."]}, reasoning="3 × 4")
    events = await custom_events(model, mode="single")
    assert "".join(e["text"] for e in events if e["event"] == "thinking") == "3 × 4"
    assert "".join(e["text"] for e in events if e["event"] == "text") == "So Tom has 12 apples."


def test_a_tag_split_across_tokens_is_still_taken_out() -> None:
    from agent.calls import _Splitter

    splitter = _Splitter()
    pieces = [p for token in ("<thi", "nk>a < b</th", "ink>", "ok") for p in splitter.feed(token)]
    assert pieces == [("thinking", "a < b"), ("text", "ok")]
