"""Comparisons of stated quantities, decided by converting units: the check reads which side
an answer names, the units say which is right, and the tally keeps only answers that pass.
"""

from __future__ import annotations

from typing import Any

import pytest

from agent import areflect
from agent.checks import fixes_some, line_of, run_checks
from agent.checks.comparison import comparison_checks, stated
from tests.scripted import ScriptedChatModel

FEATHERS = "Which is heavier: a kilogram of feathers or a kilogram of steel?"
FLOUR = "What weighs more, 2 pounds of flour or 1 kilogram of sugar?"
MILE = "Which is shorter, a mile or 1,500 meters?"


@pytest.mark.parametrize(
    ("question", "answer", "passed"),
    [
        (FEATHERS, "They weigh the same.", True),
        (FEATHERS, "Neither: both weigh one kilogram.", True),
        (FEATHERS, r"So the answer is \(\boxed{\text{The same}}\).", True),
        (FEATHERS, "A kilogram of steel.", False),
        (
            FEATHERS,
            "Steel is denser, so it is heavier.\n\nThe kilogram of steel is heavier.",
            False,
        ),
        (FEATHERS, "Feathers are lighter.", False),
        (FLOUR, "The sugar weighs more.", True),
        (FLOUR, "The flour weighs less.", True),  # names flour, but as the lighter one
        (FLOUR, "2 pounds of flour.", False),
        (FLOUR, "They are equal.", False),
        (MILE, "1,500 meters is shorter than a mile.", True),
        (MILE, "A mile.", False),
        ("Which is heavier, a pound of bricks or a pound of feathers?", "Neither.", True),
        ("Which is more: a liter of water or a quart of milk?", "The liter of water.", True),
        ("Which is longer: a week or 100 hours?", "100 hours.", False),
        ("Is a kilogram of feathers heavier than a kilogram of steel?", "No, the same.", True),
        ("Is a kilogram of feathers heavier than a kilogram of steel?", "Yes.", False),
        ("Does a kilogram of sugar weigh more than 2 pounds of flour?", "Yes, it does.", True),
        ("Is a mile shorter than 1,500 meters?", "Yes", False),
        (
            "Which weighs more, a kilogram of feathers or 900 grams of iron? Answer feathers "
            "or iron.",
            "Feathers",
            True,
        ),
    ],
)
def test_the_units_decide_which_side_is_right(question: str, answer: str, passed: bool) -> None:
    found = comparison_checks(question, answer)
    assert [c["passed"] for c in found] == [passed]
    assert found[0]["kind"] == "comparison" and bool(found[0]["detail"]) != passed


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        (FEATHERS, "It depends on what you mean."),  # names no side
        (FEATHERS, "Feathers and steel both matter here."),  # both sides, no "the same"
        ("Which is heavier: feathers or steel?", "Steel."),  # no amounts stated
        (
            "Which is heavier: a kilogram of feathers or a mile of road?",
            "The road.",
        ),  # two dimensions
        ("Which is longer: a kilogram of feathers or a pound of steel?", "Feathers."),  # wrong one
        ("Which is bigger, 3 or 5?", "5"),  # no units
        ("Tom has 3 bags of 4 apples. How many apples?", "12"),
    ],
)
def test_no_check_where_the_units_or_the_answer_decide_nothing(question: str, answer: str) -> None:
    assert comparison_checks(question, answer) == []


def test_the_finding_says_what_the_units_give() -> None:
    (found,) = run_checks(
        FEATHERS, "Steel.", "Steel.", kind="short", constraints=[], run_code=False
    )
    assert line_of(found) == (
        "✗ a kilogram of feathers = 1 kg, a kilogram of steel = 1 kg: they weigh the same:"
        " the answer says a kilogram of steel"
    )


def scripted(replies: list[str]) -> ScriptedChatModel:
    return ScriptedChatModel(script={"generator": list(replies), "critic": []})


async def ask(question: str, replies: list[str], **options: Any) -> Any:
    return await areflect(question, model=scripted(replies), max_concurrency=1, **options)


async def test_the_one_sample_the_units_bear_out_is_the_answer() -> None:
    steel = "Steel is denser than feathers.\n\nSo the kilogram of steel is heavier."
    lighter = "Feathers take more room.\n\nSo the kilogram of feathers is lighter."
    same = "A kilogram is a kilogram.\n\nSo they weigh the same."
    result = await ask(FEATHERS, [steel, lighter, same], max_rounds=0)
    assert result.output == same and result.stop_reason == "checked"
    # The same replies where no units are stated: nothing decides, and "the same" is not
    # the answer (the three differ, so the first stands).
    unsure = "Which is heavier: feathers or steel?"
    unchecked = await ask(unsure, [steel, lighter, same], max_rounds=0)
    assert unchecked.output == steel and unchecked.stop_reason == "voted"


async def test_without_revisions_sampling_stops_at_the_first_sample_the_units_bear_out() -> None:
    same = "A kilogram is a kilogram.\n\nSo they weigh the same."
    result = await ask(FEATHERS, ["Steel.", same, "Steel.", "Steel."], max_rounds=0)
    assert (result.output, result.stop_reason, result.usage["calls"]) == (same, "checked", 2)


async def test_a_wrong_comparison_is_continued_from_what_the_units_give() -> None:
    model = ScriptedChatModel(
        script={"generator": ["The kilogram of steel.", " A kilogram is a kilogram."]},
        continues_final_message=True,
    )
    result = await areflect(FEATHERS, model=model, max_concurrency=1)
    units = stated(FEATHERS)
    assert units == (
        "They weigh the same: a kilogram of feathers = 1 kg, a kilogram of steel = 1 kg."
    )
    asked = model.calls[1][1]  # no second sample: the revision starts from the units' answer
    assert asked[-1].type == "ai" and asked[-1].content == units
    assert result.output == units + " A kilogram is a kilogram."
    assert (result.stop_reason, result.usage["calls"]) == ("revised", 2)
    assert [c["passed"] for c in result.drafts[-1]["checks"]] == [True]


@pytest.mark.parametrize(
    "revision",
    [
        "The kilogram of steel is heavier.",  # the draft's answer again
        'The answer to "Which is heavier" is the feathers, not the steel.',  # names no side
    ],
)
async def test_a_revision_that_misses_the_units_gives_way_to_them(revision: str) -> None:
    result = await ask(FEATHERS, ["Steel.", revision])
    assert result.output == stated(FEATHERS) and result.stop_reason == "revised"
    assert result.drafts[-1]["written"] == revision  # the model's revision is kept
    assert result.usage["calls"] == 2


def test_a_revision_with_less_to_check_fixes_nothing() -> None:
    (wrong,) = comparison_checks(FEATHERS, "Steel.")
    parent = {"checks": [wrong]}
    assert not fixes_some({"checks": []}, parent)  # type: ignore[arg-type]
    (right,) = comparison_checks(FEATHERS, "The same.")
    assert fixes_some({"checks": [right]}, parent)  # type: ignore[arg-type]


async def test_a_plain_answer_the_units_bear_out_stands_alone() -> None:
    same = "A kilogram is a kilogram.\n\nSo they weigh the same."
    result = await ask(FEATHERS, [same, "Steel.", "Steel."])
    assert (result.output, result.stop_reason, result.usage["calls"]) == (same, "checked", 1)
    sampled = await ask(FEATHERS, [same, "Steel.", "Steel."], stop_early=False)
    assert sampled.usage["calls"] >= 3 and sampled.output == same


async def test_a_yes_or_no_comparison_is_decided_the_same_way() -> None:
    question = "Is a kilogram of feathers heavier than a kilogram of steel?"
    no = "No. A kilogram is a kilogram, so they weigh the same."
    result = await ask(question, ["Yes, steel is denser.", no, "Yes."])
    assert (result.kind, result.output, result.stop_reason) == ("yes_no", no, "revised")
    assert result.usage["calls"] == 2


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        (FLOUR, "1 kilogram of sugar weighs more: 2 pounds of flour = 2 lb, 1 kilogram of sugar"),
        (MILE, "1,500 meters is shorter: a mile = 1 mi, 1,500 meters = 0.932057 mi."),
        ("Which lasts longer: a week or 100 hours?", "A week is longer: a week = 1 week,"),
        ("Is a mile shorter than 1,500 meters?", "No: a mile = 1 mi, 1,500 meters ="),
        (
            "Which weighs more, a kilogram of feathers or 900 grams of iron? Answer feathers "
            "or iron.",
            "A kilogram of feathers weighs more: a kilogram of feathers = 1 kg, 900 grams",
        ),
    ],
)
def test_the_units_answer_in_a_sentence_that_passes_their_own_check(
    question: str, sentence: str
) -> None:
    units = stated(question)
    assert units is not None and units.startswith(sentence)
    assert [c["passed"] for c in comparison_checks(question, units)] == [True]


def test_no_sentence_where_the_units_decide_nothing() -> None:
    assert stated("Which is heavier: feathers or steel?") is None


@pytest.mark.parametrize(
    ("replies", "output", "calls"),
    [
        (["They weigh the same."], "They weigh the same.", 1),
        (["Steel.", "The kilogram of steel is heavier."], stated(FEATHERS), 2),
    ],
)
async def test_the_critique_loop_asks_no_critic_what_the_units_decide(
    replies: list[str], output: str, calls: int
) -> None:
    # No critic reply is scripted: a critic call would fail the test.
    result = await ask(FEATHERS, replies, strategy="critique")
    assert (result.output, result.stop_reason, result.usage["calls"]) == (output, "checked", calls)
