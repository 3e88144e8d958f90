"""Writing on: the model continues its own answer until a stated count or postscript is met."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage

from agent import ConfigError, areflect, checks
from agent.calls import for_review, make_draft
from agent.checks import continuation, extract
from tests.scripted import ScriptedChatModel, StandInLlama, tagged

SKY = "Explain in two sentences why the sky is blue."
ONE = "Light scatters off the air."
MORE = " Blue light scatters the most. So the sky looks blue to us."


def writer(*replies: str, holds: bool = True) -> ScriptedChatModel:
    """A scripted model that continues a final assistant message and can be held to ``until``."""
    return ScriptedChatModel(script={"generator": list(replies)}, continues_final_message=holds)


# -- where the model writes on from, and when it stops ----------------------------------------


def test_one_sentence_short_is_written_on_from_the_answer_and_stops_at_the_second() -> None:
    plan = continuation(ONE, extract(SKY), 600)
    assert plan is not None
    assert (plan.prefix, plan.labels) == (ONE, ["exactly 2 sentences"])
    assert not plan.until("")
    assert not plan.until(" Blue light scatters")  # two sentences, but the second unfinished
    assert plan.until(" Blue light scatters the most.")


def test_a_missing_postscript_is_written_after_its_marker() -> None:
    asked = extract("Write a note to Sam. At the end, add a postscript starting with P.P.S")
    plan = continuation("Hi Sam, see you soon.", asked, 600)
    assert plan is not None and plan.prefix == "Hi Sam, see you soon.\n\nP.P.S."
    assert not plan.until(" ")
    assert plan.until(" Bring the map!")


def test_too_few_words_are_written_on_and_more_than_enough_stop_at_a_sentence_end() -> None:
    asked = extract("Describe the sea in at least 12 words.")
    plan = continuation("The sea is wide.", asked, 600)
    assert plan is not None
    assert not plan.until(" It is deep and cold")  # 10 words
    assert not plan.until(" It is deep and cold and dark and old")  # 14 words, mid-sentence
    assert plan.until(" It is deep and cold and dark and old.")


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        (SKY, "One. Two. Three."),  # too many sentences: more text cannot help
        ("Describe the sea in at most 3 sentences.", "Wide."),  # passes already
        ("Describe the sea in exactly 12 words.", "The sea is wide."),  # an exact word count
        # Two failures, one of them no text can mend: no commas is repaired, a word is not
        ("Explain in two sentences why the sky is blue. Do not use the word light.", ONE),
        (SKY, "```\nprint(1)\n```"),  # code is never written on
    ],
)
def test_no_writing_on_where_more_text_cannot_meet_what_fails(question: str, answer: str) -> None:
    assert continuation(answer, extract(question), 600) is None


def test_no_writing_on_that_one_call_cannot_finish() -> None:
    asked = extract("Write about the sea in at least 50 sentences.")
    answer = "The sea is wide and deep. It is cold. Ships cross it."  # 12 words in 3 sentences
    assert continuation(answer, asked, most_words=400) is not None  # 47 sentences of 8 words
    assert continuation(answer, asked, most_words=300) is None


def test_writing_on_stops_at_once_when_it_breaks_what_held() -> None:
    asked = extract("Explain in at least 3 sentences why the sky is blue, in at most 12 words.")
    plan = continuation("Light scatters. Blue most.", asked, 600)
    assert plan is not None
    assert plan.until(" So the sky looks blue and bright and clear to everyone")  # 16 words


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (" Blue scatters most.", ""),
        (" Blue scatters most and", "it stopped mid-sentence"),
        (" Blue. " * 60, "it looped"),
        (" So the sky looks blue and bright and clear to us.", "it broke at most 12 words"),
        ("", "it stopped mid-sentence"),
    ],
)
def test_writing_on_that_does_not_meet_says_why(reply: str, why: str) -> None:
    asked = extract("Explain in at least 3 sentences why the sky is blue, in at most 12 words.")
    plan = continuation("Light scatters. Blue most.", asked, 600)
    assert plan is not None and plan.why(reply) == why and plan.met(reply) is (why == "")


def test_writing_on_still_short_says_of_what() -> None:
    plan = continuation("Our salon cuts hair.", extract("Write an ad in at least 60 words."), 600)
    assert plan is not None
    assert plan.why(" Book now.") == "still short of at least 60 words"


def test_a_note_on_writing_on_is_not_read_as_the_model_s_reasoning() -> None:
    draft = make_draft(0, 0, AIMessage("Cats."), 0.0)
    draft["reflections"] = [checks.NOT_KEPT + "it looped", checks.WRITTEN_ON + "a postscript"]
    assert for_review(draft) == "Cats."


# -- in a run ---------------------------------------------------------------------------------


async def test_a_plain_answer_a_sentence_short_is_written_on_and_stands_alone() -> None:
    model = writer(ONE, MORE)
    result = await areflect(SKY, model=model, max_concurrency=1)
    assert [m[-1].content for _, m in model.calls] == [SKY, ONE]  # the answer, continued
    expected = ONE + " Blue light scatters the most."  # held to stop at the second sentence
    assert result.output == expected
    assert (result.stop_reason, result.usage["calls"]) == ("checked", 2)
    plain = result.drafts[0]
    assert plain["written"] == ONE and plain["output"] == expected
    assert checks.WRITTEN_ON + "exactly 2 sentences" in result.reflections
    assert not checks.failed(plain["checks"])


async def test_no_writing_on_once_the_run_s_token_budget_is_spent() -> None:
    whole = await areflect(SKY, model=writer(ONE, MORE), max_concurrency=1)
    first = whole.drafts[0]["input_tokens"] + whole.drafts[0]["output_tokens"]
    model = writer(ONE, MORE)
    result = await areflect(SKY, model=model, max_concurrency=1, max_tokens=first)
    assert [m[-1].content for _, m in model.calls] == [SKY]  # no call past the budget
    assert result.output == ONE and result.stop_reason == "token_budget"


async def test_without_a_model_that_can_be_held_samples_are_drawn_as_before() -> None:
    model = writer(ONE, "Blue light scatters. It scatters most.", holds=False)
    result = await areflect(SKY, model=model, samples=2, max_samples=2, max_concurrency=1)
    assert [m[-1].type for _, m in model.calls] == ["human", "human"]  # no continuation
    assert result.output == "Blue light scatters. It scatters most."
    assert "written" not in result.drafts[0]


async def test_writing_on_that_mends_nothing_keeps_the_answer_as_drawn() -> None:
    # The continuation never ends a sentence: still one sentence, so it is not kept.
    model = writer(ONE, " and then", "Blue light scatters. It scatters most.")
    result = await areflect(SKY, model=model, samples=2, max_samples=2, max_concurrency=1)
    assert result.drafts[0]["output"] == ONE and "written" not in result.drafts[0]
    assert result.usage["calls"] == 3  # the continuation is counted, then a sample
    assert result.output == "Blue light scatters. It scatters most."
    # Nothing computed is lost: what the model wrote on, and why it was set aside.
    assert result.drafts[0]["continuation"] == " and then"
    assert result.drafts[0]["reflections"][-1] == checks.NOT_KEPT + "it stopped mid-sentence"


# -- how the embedded model is held -------------------------------------------------------------


def test_the_end_of_a_reply_is_barred_until_the_rule_holds_then_it_is_all_that_is_left() -> None:
    np = pytest.importorskip("numpy")
    from agent.local import _Ending

    seen: list[str] = []

    def until(reply: str) -> bool:
        seen.append(reply)
        return reply.endswith("<5>")

    rule = _Ending(StandInLlama(), until)
    prompt = [9, 9]
    before = rule(np.array(prompt), np.zeros(8, dtype=np.float32))
    assert np.isneginf(before[[0, 7]]).all() and np.isfinite(before[1:7]).all()
    logits = np.arange(8, dtype=np.float32)
    after = rule(np.array([*prompt, 3, 5]), logits)
    assert np.isfinite(after[[0, 7]]).all() and after[7] == 7.0  # the ends keep their values
    assert np.isneginf(np.delete(after, [0, 7])).all()
    assert seen == ["", "<3><5>"]  # the reply read past the prompt only


def test_writing_on_caught_in_a_loop_stops_and_meets_nothing() -> None:
    plan = continuation("Our salon cuts hair.", extract("Write an ad in at least 60 words."), 600)
    assert plan is not None
    loop = " Book now." * 40  # 80 words ending a sentence, but the same two over and over
    assert plan.until(loop) and not plan.met(loop)
    assert plan.met(" Book now, and bring a friend. We open at nine and close at six." * 5)
    fences = " Book now.\n" + "```\n" * 80
    assert plan.until(fences) and not plan.met(fences)


@pytest.mark.parametrize(
    ("reply", "ended"),
    [
        (" Ask Mr.", False),  # an abbreviation: "Mr. Smith" goes on
        (" It rises about 8.", False),  # a number: "8.8" may go on
        ("\n6.", False),  # a list's next item
        (" It rises about 8848.\n", True),  # a number, and the line ends
        (" Blue light scatters the most.\n\n", True),  # the full stop and the newlines one token
        (' She said "yes."', True),
    ],
)
def test_writing_on_stops_only_where_a_sentence_has_ended(reply: str, ended: bool) -> None:
    plan = continuation(ONE, extract(SKY), 600)
    assert plan is not None and plan.until(reply) is ended and plan.met(reply) is ended


def test_the_phrase_to_end_with_and_the_quotation_marks_come_once_at_the_end() -> None:
    asked = extract(
        "Explain in at least 3 sentences why the sky is blue. Wrap your entire response with "
        'double quotation marks. End your response with the exact phrase "Any other questions?"'
    )
    own = '"Light scatters off the air. Any other questions?"'
    plan = continuation(own, asked, 600)
    assert plan is not None and plan.prefix == "Light scatters off the air."
    reply = " Blue light scatters the most. So the sky looks blue."
    assert plan.met(reply)
    whole, _ = checks.repair(plan.prefix + reply, asked)
    assert whole == f'"Light scatters off the air.{reply} Any other questions?"'


async def test_an_answer_ended_by_code_is_written_on_before_its_ending() -> None:
    question = (
        "Explain in at least 3 sentences why the sky is blue. "
        'End your response with the exact phrase "Any other questions?"'
    )
    model = writer(ONE + " Any other questions?", MORE)  # it wrote the phrase itself
    result = await areflect(question, model=model, max_concurrency=1)
    assert model.calls[1][1][-1].content == ONE  # written on from before the phrase
    assert result.output == ONE + " Blue light scatters the most. Any other questions?"
    assert result.output.count("Any other questions?") == 1
    repaired = [r for r in result.reflections if r.startswith(checks.REPAIRED)]
    assert len(repaired) == 1, result.reflections
    assert result.stop_reason == "checked"


async def test_writing_on_never_changes_the_answer_a_vote_counts() -> None:
    question = "How many legs does a spider have? Answer in at least 2 sentences."
    model = writer(
        "A spider has 8 legs.", " Insects, by contrast, have 6 legs.", "It has 8 legs. Eight."
    )
    result = await areflect(question, model=model, max_concurrency=1, samples=2, max_samples=2)
    assert result.kind == "number"
    assert result.drafts[0]["output"] == "A spider has 8 legs."  # "6" would be counted
    assert result.usage["calls"] == 3
    assert checks.NOT_KEPT + "it changed the answer" in result.drafts[0]["reflections"]
    assert result.drafts[0]["continuation"] == " Insects, by contrast, have 6 legs."


async def test_an_answer_that_filled_the_context_is_kept_as_drawn() -> None:
    second = "Blue light scatters. It scatters most."
    full = ConfigError("the prompt is 4104 tokens but local holds 4096")
    model = writer(ONE, full, second)
    result = await areflect(SKY, model=model, max_concurrency=1, samples=2, max_samples=2)
    assert result.drafts[0]["output"] == ONE
    assert result.output == second


async def test_the_thinking_of_an_answer_written_on_is_kept() -> None:
    model = writer(tagged(ONE, thinking="Rayleigh scattering."), MORE)
    result = await areflect(SKY, model=model, max_concurrency=1)
    assert result.stop_reason == "checked" and result.output.startswith(ONE + " Blue")
    assert result.thinking == "Rayleigh scattering."


def test_prose_in_any_script_is_no_loop() -> None:
    plan = continuation(
        "Light scatters.", extract("Write about the sky in at least 200 words."), 600
    )
    assert plan is not None
    prose = "".join(
        (
            "天空之所以是蓝色的，是因为阳光穿过大气层时，短波长的蓝光比其他颜色的光散射得更多。",
            "日出和日落时，光线要穿过更厚的空气，所以我们看到的是红色和橙色。",
            "夜晚没有阳光，天空就变暗了，星星和月亮便显现出来。",
            "云是由小水滴组成的，它们对所有颜色的光散射程度相近，因此看起来是白色的。",
            "雨后的空气格外清新，远处的山峦在阳光下显得更加清晰。",
            "暴风雨来临之前，天空常常变成灰色甚至带一点绿色。",
            "在高山上，空气稀薄，天空的蓝色显得更深更浓。",
            "宇航员从太空中看到的天空是黑色的，因为那里几乎没有空气来散射阳光。",
            "火星上的日落却是蓝色的，因为那里的尘埃把蓝光散射到太阳周围。",
            "彩虹出现在太阳的对面，是阳光在雨滴里折射和反射形成的。",
            "城市的夜空常常泛着橙光，那是路灯的光被空气中的颗粒散射回来。",
        )
    )
    assert len(prose) >= 300  # a loop check over whitespace-split pieces took this for one
    assert not plan.until(prose)
