"""Sampling strategies against a scripted model: contrast (Self-Contrast) and majority vote."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent import ConfigError, areflect
from agent.harness import arun_comparison
from agent.strategies.sampling import choose, vote
from agent.parsing import split_conclusion
from agent.prompts import PROMPTS
from agent.result import Draft
from tests.scripted import ScriptedChatModel

Q = "Tom has 3 bags of 4 apples. How many apples?"


def solution(answer: str, work: str = "3 bags of 4 apples.") -> str:
    """A plain step-by-step reply, the way small models write them."""
    return f"{work}\n\nSo Tom has \\(\\boxed{{{answer}}}\\) apples."


def scripted(generator: list[Any], critic: list[Any] | None = None) -> ScriptedChatModel:
    return ScriptedChatModel(script={"generator": list(generator), "critic": list(critic or [])})


def roles(model: ScriptedChatModel) -> list[str]:
    return [role for role, _ in model.calls]


def draft(output: str, round_: int = 0) -> Draft:
    return Draft(
        round=round_,
        text=output,
        thinking="",
        reflections=[],
        output=output,
        input_tokens=1,
        output_tokens=1,
        seconds=0.0,
    )


async def test_agreeing_samples_are_accepted_without_a_critique() -> None:
    model = scripted([solution("12")] * 3)
    result = await areflect(Q, model=model, strategy="contrast")
    assert roles(model) == ["generator"] * 3
    assert (result.stop_reason, result.rounds, result.chosen) == ("agreed", 0, 0)
    assert result.critiques == []
    assert result.output == "So Tom has \\(\\boxed{12}\\) apples."
    assert result.thinking == "3 bags of 4 apples."
    assert result.reflections == ["all 3 solutions agree: 12"]
    assert result.usage["calls"] == 3


async def test_the_first_answer_is_plain_and_greedy_and_later_samples_differ() -> None:
    model = scripted([solution("12")] * 3)
    await areflect(Q, model=model, mode="vote")
    first = model.calls[0][1]
    # Exactly what baseline sends: the question alone, at the run's own temperature.
    assert [m.type for m in first] == ["human"] and first[0].content == Q
    temperatures = [t for t, _ in model.sampling]
    seeds = [s for _, s in model.sampling]
    assert temperatures[0] == 0.0 and all(t > 0 for t in temperatures[1:])
    assert len(set(seeds[1:])) == len(seeds) - 1


async def test_samples_are_drawn_only_while_they_disagree() -> None:
    # 12, 7, 12: split, so a fourth; 12 then leads 3 to 1 and one draw left can't change it.
    model = scripted([solution("12"), solution("7"), solution("12"), solution("12")])
    result = await areflect(Q, model=model, mode="vote", samples=3, max_samples=5)
    assert roles(model) == ["generator"] * 4
    assert result.stop_reason == "voted"
    assert result.chosen == 0 and "12" in result.output


async def test_sampling_stops_at_max_samples() -> None:
    model = scripted([solution(str(n)) for n in range(10)])
    result = await areflect(Q, model=model, mode="vote", samples=2, max_samples=4)
    assert len(result.drafts) == 4 and result.stop_reason == "voted"
    assert result.chosen == 0  # a four-way tie goes to the plain answer


async def test_a_tie_is_contrasted_then_reconciled() -> None:
    checklist = "- [ ] bags: A says 3 × 4; B says 3 + 4. Check: the question says 3 bags of 4."
    model = scripted(
        [
            solution("7", "3 + 4 = 7"),
            solution("12", "3 × 4 = 12"),
            *[solution(n) for n in ("12", "7", "5")],
            solution("12", "3 bags of 4 is 3 × 4 = 12"),
        ],
        [checklist],
    )
    result = await areflect(Q, model=model, strategy="contrast")
    assert roles(model) == ["generator"] * 5 + ["critic", "generator"]
    critic_prompt = model.calls[5][1][-1].content
    assert model.calls[5][1][0].content == PROMPTS.texts["contrast_system"]
    assert "3 × 4 = 12" in critic_prompt and "3 + 4 = 7" in critic_prompt
    assert critic_prompt.index("Solution A") < critic_prompt.index("Solution B")
    reconcile_prompt = model.calls[6][1][-1].content
    assert checklist in reconcile_prompt and "3 + 4 = 7" in reconcile_prompt
    assert (result.stop_reason, result.rounds, result.chosen) == ("reconciled", 1, 5)
    assert "12" in result.output  # the vote alone would have kept the plain answer, 7
    assert result.reflections == ["5 solutions disagree: 7 ×2, 12 ×2, 5 ×1", checklist]
    assert [c["verdict"] for c in result.critiques] == ["revise"]
    assert len(result.drafts) == 6  # every sample kept


async def test_a_clear_leader_is_the_answer_without_a_critique() -> None:
    model = scripted([solution(n) for n in ("7", "12", "12", "12")])
    result = await areflect(Q, model=model, strategy="contrast")
    assert roles(model) == ["generator"] * 4
    assert result.stop_reason == "voted" and "12" in result.output
    assert result.reflections == ["4 solutions disagree: 12 ×3, 7 ×1"]


async def test_a_reconciliation_that_invents_a_new_answer_loses_to_the_vote() -> None:
    model = scripted(
        [solution(n) for n in ("12", "7", "12", "7", "5", "99")],
        ["- [ ] A adds, B multiplies."],
    )
    result = await areflect(Q, model=model, strategy="contrast")
    assert result.stop_reason == "voted"
    assert result.chosen == 0 and "12" in result.output
    assert "99" in result.drafts[-1]["output"]  # kept, not chosen


async def test_no_rounds_left_means_the_vote_decides() -> None:
    model = scripted([solution("12"), solution("7"), solution("7"), solution("12"), solution("5")])
    result = await areflect(Q, model=model, strategy="contrast", max_rounds=0)
    assert "critic" not in roles(model)
    assert result.stop_reason == "voted" and result.chosen == 0


async def test_token_budget_stops_sampling_before_the_next_call() -> None:
    model = scripted([solution("12"), solution("7")] * 5)
    result = await areflect(Q, model=model, mode="vote", max_tokens=30, max_samples=8)
    assert result.stop_reason == "token_budget"
    assert len(model.calls) < 8


def test_vote_and_choice_rules() -> None:
    assert vote([draft("\\boxed{7}"), draft("12"), draft("The answer is 12.")]) == 1
    assert vote([draft("7"), draft("12")]) == 0
    reconciled = [draft("7"), draft("12"), draft("The answer is 12", round_=1)]
    assert choose_sampled(reconciled) == 2
    assert choose_sampled([draft("7"), draft("12"), draft("5", round_=1)]) == 0
    outvoted = [draft("7"), draft("12"), draft("12"), draft("7", round_=1)]
    assert choose_sampled(outvoted) == 1
    assert choose_sampled([draft("7"), draft("7"), draft("12")]) == 0


def test_split_conclusion_finds_the_answer_paragraph() -> None:
    text = "Step 1: 3 × 4 = 12.\n\nStep 2: done.\n\\[\n\\boxed{12}\n\\]"
    parsed = split_conclusion(text)
    assert parsed.output == "Step 2: done.\n\\[\n\\boxed{12}\n\\]"
    assert parsed.thinking == "Step 1: 3 × 4 = 12."
    no_marker = split_conclusion("He has 3 × 4 = 12 apples.\n\nThat is all.")
    assert no_marker.output == "He has 3 × 4 = 12 apples.\n\nThat is all."
    assert split_conclusion("<think>a</think>12").output == "12"


@given(st.lists(st.text(max_size=40), max_size=8))
def test_split_conclusion_never_loses_text(paragraphs: list[str]) -> None:
    text = "\n\n".join(paragraphs)
    parsed = split_conclusion(text.replace("<", "("))
    words = (parsed.thinking + " " + parsed.output).split()
    assert words == text.replace("<", "(").split()


async def test_bad_strategy_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown strategy 'debate': use contrast or critique"):
        await areflect(Q, model=scripted([]), strategy="debate")


async def test_the_harness_runs_strategies_side_by_side(tmp_path: Any) -> None:
    from agent.datasets import Record

    model = scripted([solution("12")] * 4, ["VERDICT: PASS"])
    comparison = await arun_comparison(
        [Record(id="q1", question=Q, answer="12")],
        modes=["prompted:critique", "prompted:contrast"],
        models=[model],
        out=tmp_path / "runs.jsonl",
        progress=False,
        concurrency=1,
    )
    by_mode = {r["mode"]: r for r in comparison.rows}
    assert by_mode["prompted:critique"]["stop_reason"] == "accepted"
    assert by_mode["prompted:contrast"]["stop_reason"] == "agreed"
    assert all(r["correct"] for r in comparison.rows)
    with pytest.raises(ConfigError, match="prompted:STRATEGY"):
        await arun_comparison([], modes=["vote:contrast"], models=[model], progress=False)


def test_the_tally_note_counts_answers_in_one_short_line() -> None:
    from agent.nodes import tally_note

    assert tally_note([draft("So 12.")]) == "1 solution: 12"
    assert tally_note([draft("So 12."), draft("It is 12.00")]) == "all 2 solutions agree: 12"
    long = "Paris is the capital city of the French Republic."
    note = tally_note([draft(long), draft(long), draft("Lyon."), draft("")])
    assert note == "4 solutions disagree: paris is the capital city of… ×2, lyon ×1, (no answer) ×1"
    assert tally_note([draft("So 12."), draft("So 7.", round_=1)]) == "1 solution: 12"


async def test_the_tally_comes_before_a_sample_s_own_reflections() -> None:
    tagged_reply = "<thinking>3 × 4<reflection>ok</reflection></thinking><output>12</output>"
    model = scripted([tagged_reply] * 3)
    result = await areflect(Q, model=model, strategy="contrast")
    assert result.reflections == ["all 3 solutions agree: 12", "ok"]


async def test_the_default_graph_appends_the_answer_with_the_tally_as_reasoning() -> None:
    from langchain_core.messages import HumanMessage

    from agent import create_reflection_graph

    model = scripted([solution("12"), solution("7"), solution("12"), solution("12")])
    app = create_reflection_graph(model).compile()  # no strategy: the default
    out = await app.ainvoke({"messages": [HumanMessage(Q)]})
    assert [m.type for m in out["messages"]] == ["human", "ai"]
    answer = out["messages"][-1]
    assert answer.text == "So Tom has \\(\\boxed{12}\\) apples."
    reasoning = answer.content[0]["reasoning"]
    assert reasoning == "3 bags of 4 apples.\n4 solutions disagree: 12 ×3, 7 ×1"
    assert answer.response_metadata["stop_reason"] == "voted"
