"""Replies caught in a loop: found at their end, failed as a check, and ended by the embedded
model once the loop has gone on for ``SPAN`` characters."""

from __future__ import annotations

from typing import Any

import pytest

from agent import areflect, checks, confidence
from agent.checks.repetition import SPAN, TIMES, looping, repetition_checks
from tests.scripted import ScriptedChatModel, StandInLlama

Q = "Tom has 3 bags of 4 apples. How many apples?"
SURE = confidence.STOP_AT["mean"] + 1.0


def test_a_run_of_zeros_is_a_loop_of_one_zero_from_where_it_starts() -> None:
    text = "The density of steel is 0." + "0" * 400
    loop = looping(text)
    assert loop is not None and loop.unit == "0"
    assert text[loop.start - 1] == "." and loop.length == 400


def test_a_sentence_said_over_and_over_is_a_loop_of_that_sentence() -> None:
    said = " I am missing my classes."
    loop = looping("Dear teacher," + said * 12)
    assert loop is not None and loop.unit.strip() == said.strip() and round(loop.times) == 12


def test_a_loop_must_go_on_for_the_span_and_the_times() -> None:
    assert looping("x" + "0" * (SPAN - 1)) is None
    assert looping("x" + "0" * SPAN) is not None
    unit = "One paragraph said again and again, long enough that three of it pass the span. " + (
        "It has no shorter unit inside it. "
    )
    assert len(unit) * (TIMES - 1) >= SPAN  # the span alone would call three a loop
    assert looping("x" + unit * (TIMES - 1)) is None
    assert looping("x" + unit * TIMES) is not None


@pytest.mark.parametrize(
    "text",
    [
        "| a | b |\n|---|---|\n" + "| 1 | 2 |\n| 3 | 4 |\n" * 4,  # a table, not a loop
        "\n".join(f"{i}. Step {i} of the plan." for i in range(1, 60)),  # numbered, each differs
        "-" * 80 + "\nHeading\n" + "-" * 80,  # rules: short, and text between them
        "```python\ngrid = [[0] * 9 for _ in range(9)]\nprint(grid)\n```",
        "Roses are red,\nViolets are blue,\n" * 3 + "And so are you.",  # a refrain, 3 times
        "0" * (SPAN - 1),
        "",
    ],
)
def test_what_repeats_a_little_or_not_at_its_end_is_not_a_loop(text: str) -> None:
    assert looping(text) is None
    assert repetition_checks(text) == []


def test_a_loop_fails_the_check_and_says_what_repeats_and_from_where() -> None:
    (check,) = repetition_checks("It is 0." + "0" * 300)
    assert not check["passed"] and check["kind"] == "repetition"
    assert "'0' 300 times from character 9" in check["detail"]
    found = checks.run_checks(
        "How dense is steel?", "It is 0." + "0" * 300, "0", kind="number", constraints=[],
        run_code=False,
    )  # fmt: skip
    assert [c["kind"] for c in checks.failed(found)] == ["repetition"]
    code = "```python\nx = [\n" + "    0,\n" * 80
    found = checks.run_checks("Write a list of zeros", code, code, kind="code", constraints=[],
                              run_code=False)  # fmt: skip
    assert "repetition" in {c["kind"] for c in checks.failed(found)}


def test_a_revision_that_ends_fixes_its_drafts_loop_and_one_that_loops_does_not() -> None:
    def draft(text: str) -> Any:
        return {"checks": repetition_checks(text)}

    looped = draft("It is 0." + "0" * 300)
    assert checks.fixes_some(draft("It is 0.5."), looped)
    assert not checks.fixes_some(draft("It is 0.5" + "5" * 300), looped)


async def test_a_confident_plain_answer_that_loops_does_not_stop() -> None:
    loop = "3 bags of 4 apples is 12." + " So Tom has 12 apples." * 14
    good = "3 × 4 = 12.\n\nSo Tom has \\(\\boxed{12}\\) apples."
    model = ScriptedChatModel(script={"generator": [loop, good, good], "critic": []},
                              sure={loop: SURE})  # fmt: skip
    result = await areflect(Q, model=model, max_concurrency=1)
    assert result.stop_reason != "confident" and result.usage["calls"] >= 2
    assert "boxed{12}" in result.output  # a sample that ends, not the loop
    assert checks.fails(result.drafts[0], "repetition")


# -- the embedded model's guard (a stand-in vocabulary: token i reads "<i>", 0 ends) ----


def test_the_guard_leaves_a_reply_alone_until_it_loops_then_only_its_end_is_left() -> None:
    np = pytest.importorskip("numpy")
    from agent.local import _Ending

    ending = _Ending(StandInLlama())
    prompt = [9] * 200  # the prompt may repeat itself: only the reply is read
    logits = np.arange(8, dtype=np.float32)
    assert (ending(np.array(prompt), logits.copy()) == logits).all()
    varied = [*prompt, *[3, 4, 5, 6] * 10]  # "<3><4><5><6>" for 120 characters: too short
    assert (ending(np.array(varied), logits.copy()) == logits).all()
    looped = [*varied, *[3, 4, 5, 6] * 30]  # now 480 characters of the same four tokens
    after = ending(np.array(looped), logits.copy())
    assert np.isfinite(after[[0, 7]]).all() and np.isneginf(np.delete(after, [0, 7])).all()
    assert ending.looped


def test_a_repetition_the_question_asks_for_is_no_loop_to_end_or_fail() -> None:
    np = pytest.importorskip("numpy")
    from agent.checks.repetition import asks_to_repeat
    from agent.local import _Ending

    mothers = "mother, " * 60
    asked = "Write the word 'mother' 60 times, separated by commas."
    assert asks_to_repeat(asked) and repetition_checks(mothers, asked) == []
    assert repetition_checks(mothers, "Write a haiku about mothers.")  # not asked: a loop
    for not_asked in (
        "Tom has 3 times as many apples as Ann.",
        "Repeat the request word for word.",
    ):
        assert not asks_to_repeat(not_asked)
    ending = _Ending(StandInLlama(), guard=False)
    logits = np.arange(8, dtype=np.float32)
    ending(np.array([9]), logits.copy())
    assert (ending(np.array([9, *[3, 4] * 100]), logits.copy()) == logits).all()
