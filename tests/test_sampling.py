"""Sampling strategies against a scripted model: the default (contrast), vote, selection.

Order-sensitive tests draw one sample at a time (``max_concurrency=1``, as the in-process
model does); the parallel tests give each seed its own replies, so no test depends on which
concurrent call runs first.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from agent import ConfigError, areflect
from agent.harness import arun_comparison
from agent.prompts import PROMPTS
from agent.result import Check, Draft
from agent.strategies.sampling import choose, tally_note, vote
from tests.scripted import ScriptedChatModel

Q = "Tom has 3 bags of 4 apples. How many apples?"


def solution(answer: str, work: str = "3 bags of 4 apples.") -> str:
    """A plain step-by-step reply, the way small models write them."""
    return f"{work}\n\nSo Tom has \\(\\boxed{{{answer}}}\\) apples."


def scripted(generator: list[Any], critic: list[Any] | None = None) -> ScriptedChatModel:
    return ScriptedChatModel(script={"generator": list(generator), "critic": list(critic or [])})


def roles(model: ScriptedChatModel) -> list[str]:
    return [role for role, _ in model.calls]


async def ask(question: str, model: ScriptedChatModel, **options: Any) -> Any:
    """One sample at a time, so the scripted replies come in the order written."""
    return await areflect(question, model=model, max_concurrency=1, **options)


def draft(output: str, index: int = 0, round_: int = 0, checks: list[Check] | None = None) -> Draft:
    return Draft(
        index=index,
        round=round_,
        text=output,
        thinking="",
        reflections=[],
        output=output,
        input_tokens=1,
        output_tokens=1,
        seconds=0.0,
        checks=checks or [],
    )


def drafts(*outputs: str) -> list[Draft]:
    return [draft(o, i) for i, o in enumerate(outputs)]


FAIL = Check(kind="calculator", name="3 × 4 = 13", passed=False, detail="3 × 4 = 12")


# -- numbers: vote, adaptive sampling, contrast on a tie ---------------------------------


async def test_agreeing_samples_are_accepted_without_a_critique() -> None:
    model = scripted([solution("12")] * 3)
    result = await ask(Q, model)
    assert roles(model) == ["generator"] * 3
    assert (result.stop_reason, result.rounds, result.chosen, result.kind) == (
        "agreed",
        0,
        0,
        "number",
    )
    assert result.critiques == []
    # The whole reply is the answer; the conclusion is only used to compare.
    assert result.output == solution("12")
    assert result.reflections == ["all 3 solutions agree: 12"]
    assert result.usage["calls"] == 3


async def test_the_first_answer_is_plain_and_greedy_and_later_samples_differ() -> None:
    model = scripted([solution("12")] * 3)
    await ask(Q, model, mode="vote")
    first = model.calls[0][1]
    # Exactly what baseline sends: the question alone, at the run's own temperature.
    assert [m.type for m in first] == ["human"] and first[0].content == Q
    temperatures = [t for t, _ in model.sampling]
    seeds = [s for _, s in model.sampling]
    assert temperatures[0] == 0.0 and all(t > 0 for t in temperatures[1:])
    assert seeds == [0, 1, 2]


async def test_samples_are_drawn_only_while_they_disagree() -> None:
    # 12, 7, 12: split, so a fourth; 12 then leads 3 to 1 and one draw left can't change it.
    model = scripted([solution("12"), solution("7"), solution("12"), solution("12")])
    result = await ask(Q, model, mode="vote", samples=3, max_samples=5)
    assert roles(model) == ["generator"] * 4
    assert result.stop_reason == "voted"
    assert result.chosen == 0 and "12" in result.output


async def test_sampling_stops_at_max_samples() -> None:
    model = scripted([solution(str(n)) for n in range(10)])
    result = await ask(Q, model, mode="vote", samples=2, max_samples=4)
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
    result = await ask(Q, model, strategy="contrast")
    assert roles(model) == ["generator"] * 5 + ["critic", "generator"]
    critic_prompt = model.calls[5][1][-1].content
    assert model.calls[5][1][0].content == PROMPTS.texts["contrast_system"]
    assert "3 × 4 = 12" in critic_prompt and "3 + 4 = 7" in critic_prompt
    assert critic_prompt.index("Solution A") < critic_prompt.index("Solution B")
    reconcile_prompt = model.calls[6][1][-1].content
    assert checklist in reconcile_prompt and "3 + 4 = 7" in reconcile_prompt
    assert (result.stop_reason, result.rounds, result.chosen) == ("reconciled", 1, 5)
    assert "12" in result.output  # the vote alone would have kept the plain answer, 7
    assert result.reflections == [
        "5 solutions disagree: 7 ×2, 12 ×2, 5 ×1",
        "✓ 3 × 4 = 12",
        checklist,
    ]
    assert [c["verdict"] for c in result.critiques] == ["revise"]
    assert len(result.drafts) == 6  # every sample kept


async def test_a_clear_leader_is_the_answer_without_a_critique() -> None:
    model = scripted([solution(n) for n in ("7", "12", "12", "12")])
    result = await ask(Q, model, strategy="contrast")
    assert roles(model) == ["generator"] * 4
    assert result.stop_reason == "voted" and "12" in result.output
    assert result.reflections == ["4 solutions disagree: 12 ×3, 7 ×1"]


async def test_a_reconciliation_that_invents_a_new_answer_loses_to_the_vote() -> None:
    model = scripted(
        [solution(n) for n in ("12", "7", "12", "7", "5", "99")],
        ["- [ ] A adds, B multiplies."],
    )
    result = await ask(Q, model, strategy="contrast")
    assert result.stop_reason == "voted"
    assert result.chosen == 0 and "12" in result.output
    assert "99" in result.drafts[-1]["output"]  # kept, not chosen


async def test_no_rounds_left_means_the_vote_decides() -> None:
    model = scripted([solution("12"), solution("7"), solution("7"), solution("12"), solution("5")])
    result = await ask(Q, model, strategy="contrast", max_rounds=0)
    assert "critic" not in roles(model)
    assert result.stop_reason == "voted" and result.chosen == 0


async def test_token_budget_stops_sampling_before_the_next_call() -> None:
    model = scripted([solution("12"), solution("7")] * 5)
    result = await ask(Q, model, mode="vote", max_tokens=30, max_samples=8)
    assert result.stop_reason == "token_budget"
    assert len(model.calls) < 8


def test_vote_and_choice_rules() -> None:
    n = "number"
    assert vote(drafts("\\boxed{7}", "12", "The answer is 12."), n, Q) == 1
    assert vote(drafts("7", "12"), n, Q) == 0
    reconciled = [*drafts("7", "12"), draft("The answer is 12", 2, round_=1)]
    assert choose(reconciled, [], n, Q) == 2
    assert choose([*drafts("7", "12"), draft("5", 2, round_=1)], [], n, Q) == 0
    outvoted = [*drafts("7", "12", "12"), draft("7", 3, round_=1)]
    assert choose(outvoted, [], n, Q) == 1
    assert choose(drafts("7", "7", "12"), [], n, Q) == 0
    # A sample that failed a check gets no vote while another passes.
    failing = [draft("7", 0, checks=[FAIL]), draft("7", 1, checks=[FAIL]), draft("12", 2)]
    assert choose(failing, [], n, Q) == 2


def test_the_tally_note_counts_answers_in_one_short_line() -> None:
    n = "number"
    assert tally_note(drafts("So 12."), n, Q) == "1 solution: 12"
    assert tally_note(drafts("So 12.", "It is 12.00"), n, Q) == "all 2 solutions agree: 12"
    long = "Paris is the capital city of the French Republic."
    note = tally_note(drafts(long, long, "Lyon.", ""), "short", "What is the capital?")
    assert (
        note == "4 solutions disagree: paris is capital city of fren… ×2, lyon ×1, (no answer) ×1"
    )
    assert tally_note([draft("So 12."), draft("So 7.", 1, round_=1)], n, Q) == "1 solution: 12"
    failing = [draft("So 12.", 0, checks=[FAIL]), draft("So 12.", 1)]
    assert tally_note(failing, n, Q) == "all 2 solutions agree: 12; 1 failed a check"
    assert tally_note(drafts("def f(): pass", "def g(): pass"), "code", Q) == (
        "2 solutions (code) differ"
    )


async def test_the_tally_comes_before_a_sample_s_own_reflections() -> None:
    tagged_reply = "<thinking>3 × 4<reflection>ok</reflection></thinking><output>12</output>"
    model = scripted([tagged_reply] * 3)
    result = await ask(Q, model, strategy="contrast")
    assert result.reflections == ["all 3 solutions agree: 12", "ok"]


async def test_the_default_graph_appends_the_answer_with_the_tally_as_reasoning() -> None:
    from langchain_core.messages import HumanMessage

    from agent import Context, create_reflection_graph

    model = scripted([solution("12"), solution("7"), solution("12"), solution("12")])
    app = create_reflection_graph(model).compile()  # no strategy: the default
    out = await app.ainvoke({"messages": [HumanMessage(Q)]}, context=Context(max_concurrency=1))
    assert [m.type for m in out["messages"]] == ["human", "ai"]
    answer = out["messages"][-1]
    assert answer.text == solution("12")  # the whole answer, work and all
    reasoning = answer.content[0]["reasoning"]
    assert reasoning == "4 solutions disagree: 12 ×3, 7 ×1"
    assert answer.response_metadata["stop_reason"] == "voted"


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


# -- answers that are not one number ------------------------------------------------------

CODE_Q = "Write a Python function is_palindrome(s) that ignores case and spaces."
CODE_A = (
    "Here is the function:\n\n```python\ndef is_palindrome(s):\n"
    "    t = s.replace(' ', '').lower()\n    return t == t[::-1]\n```\n\nIt strips spaces."
)
CODE_B = (
    "```python\ndef is_palindrome(s):\n    t = ''.join(s.split()).lower()\n"
    "    return t == t[::-1]\n```"
)
CODE_C = "```python\ndef is_palindrome(s):\n    return s == s[::-1]\n```"


async def test_code_is_never_voted_on_a_number_and_comes_back_whole() -> None:
    model = scripted(
        [CODE_A, CODE_B, CODE_C],
        ["Most consistent: Response 2\nOthers: 3 forgets case and spaces; 1 says the same."],
    )
    result = await ask(CODE_Q, model)
    assert result.kind == "code"
    assert roles(model) == ["generator"] * 3 + ["critic"]
    select_prompt = model.calls[3][1][-1].content
    assert model.calls[3][1][0].content == PROMPTS.texts["select_system"]
    assert all(f"Response {n}:" in select_prompt for n in (1, 2, 3))
    assert CODE_C.strip("`") in select_prompt.replace("```", "``")
    assert (result.stop_reason, result.chosen) == ("selected", 1)
    assert result.output == CODE_B  # the chosen sample, whole: code and all
    assert result.reflections == [
        "3 solutions (code) differ",
        "3 forgets case and spaces; 1 says the same.",
    ]
    assert "-1" not in result.reflections[0]  # no key pulled out of `[::-1]`


async def test_samples_that_are_the_same_code_need_no_selection_nor_more_samples() -> None:
    spaced = CODE_B.replace("    return", "    # compare\n    return")
    model = scripted([CODE_B, spaced, CODE_B])
    result = await ask(CODE_Q, model)
    assert roles(model) == ["generator"] * 2  # the two agree: no third sample, no critic
    assert (result.stop_reason, result.output) == ("agreed", CODE_B)


async def test_free_text_is_selected_and_never_draws_more_than_samples() -> None:
    question = "Explain why the sky is blue."
    replies = [
        "Sunlight scatters off air molecules. Blue light scatters most.",
        "Blue light has a short wavelength. It is scattered more by air.",
        "The sky reflects the ocean. That is why it is blue.",
    ]
    model = scripted(replies, ["Most consistent: Response 1\nOthers: 3 is a myth."])
    result = await ask(question, model, samples=3, max_samples=8)
    assert result.kind == "text"
    assert roles(model) == ["generator"] * 3 + ["critic"]  # no adaptive extra samples
    assert (result.output, result.stop_reason) == (replies[0], "selected")


SKY = "Explain in two sentences why the sky is blue."
TWO = "Sunlight scatters off air molecules. Blue light scatters most."
ONE = "Blue light scatters most in air, which is why the sky looks blue."


async def test_free_text_that_passes_every_stated_instruction_stands_alone() -> None:
    model = scripted([TWO, ONE, ONE])
    result = await ask(SKY, model, samples=3, max_samples=5)
    assert roles(model) == ["generator"]  # the checks, not the model, said it does what was asked
    assert (result.output, result.stop_reason) == (TWO, "checked")
    assert [c["name"] for c in result.checks if c["passed"]] == ["exactly 2 sentences"]


async def test_free_text_that_fails_a_stated_instruction_draws_samples() -> None:
    model = scripted([ONE, ONE, TWO])
    result = await ask(SKY, model, samples=3, max_samples=5)
    assert roles(model) == ["generator"] * 3
    assert (result.output, result.stop_reason, result.chosen) == (TWO, "checked", 2)


async def test_samples_that_all_fail_the_same_instruction_still_draw_more() -> None:
    model = scripted([ONE, ONE, ONE, TWO])
    result = await ask(SKY, model, samples=3, max_samples=5)
    # Not straight to a revision: that cost about 4 points on IFEval 1–100 (benchmarks §23).
    assert roles(model) == ["generator"] * 4  # a fourth sample, which passes
    assert (result.output, result.chosen, result.stop_reason) == (TWO, 3, "checked")


TIPS = "Give three short tips for sleeping better."
THREE = "1. Keep a schedule.\n2. No screens late.\n3. A cool, dark room."
FOUR = THREE + "\n4. No coffee after noon."


async def test_a_list_of_as_many_items_as_asked_stands_alone() -> None:
    model = scripted([THREE, FOUR, FOUR])
    result = await ask(TIPS, model, samples=3, max_samples=5)
    assert roles(model) == ["generator"]  # without the count, three samples and the surest
    assert (result.output, result.stop_reason) == (THREE, "checked")
    assert [c["name"] for c in result.checks] == ["exactly 3 tips"]


async def test_a_list_of_more_items_than_asked_loses_to_a_sample_with_the_count() -> None:
    model = scripted([FOUR, FOUR, THREE])
    result = await ask(TIPS, model, samples=3, max_samples=5)
    assert roles(model) == ["generator"] * 3
    assert (result.output, result.chosen, result.stop_reason) == (THREE, 2, "checked")


async def test_tips_given_inline_are_no_veto_and_draw_samples_as_before() -> None:
    inline = "Keep a schedule, avoid screens late and sleep in a cool, dark room."
    model = scripted([inline, FOUR, FOUR])
    result = await ask(TIPS, model, samples=3, max_samples=5)
    assert result.drafts[0]["checks"] == []  # not counted: neither a pass nor a failure
    assert roles(model)[:3] == ["generator"] * 3 and "generator" not in roles(model)[3:]
    assert result.output == inline  # the only one that fails nothing: the lists have four


LOWER = "Explain in two sentences why the sky is blue, in all lowercase letters."


async def test_free_text_that_code_can_make_meet_the_instructions_stands_alone() -> None:
    model = scripted([TWO, ONE, ONE])
    result = await ask(LOWER, model, samples=3, max_samples=5)
    assert roles(model) == ["generator"]
    assert (result.output, result.stop_reason) == (TWO.lower(), "checked")
    assert result.drafts[0]["text"] == TWO  # what the model wrote is kept
    assert "made by code, not the model: all lowercase" in result.reflections
    assert all(c["passed"] for c in result.checks)


async def test_a_repair_that_cannot_meet_every_instruction_still_draws_samples() -> None:
    model = scripted([ONE, ONE, TWO])
    result = await ask(LOWER, model, samples=3, max_samples=5)
    assert roles(model) == ["generator"] * 3  # lowercase, but still one sentence
    assert (result.output, result.chosen, result.stop_reason) == (TWO.lower(), 2, "checked")
    assert result.drafts[0]["output"] == ONE.lower()


async def test_a_repair_that_would_change_what_a_vote_counts_is_not_made() -> None:
    question = (
        "Which planet is known as the Red Planet? A) Venus B) Mars C) Jupiter. Answer with one "
        "letter. Your entire response should be in all lowercase letters."
    )
    model = ScriptedChatModel(script={}, default={"generator": "B", "critic": "Response 1"})
    result = await ask(question, model, samples=3)
    assert result.kind == "choice"
    assert result.output == "B"  # "b" is no letter a vote can count
    assert not any(r.startswith("made by code") for d in result.drafts for r in d["reflections"])


async def test_the_critic_never_reads_what_code_changed_as_the_model_s_reasoning() -> None:
    question = (
        "Describe the moon in one sentence, in all lowercase letters. Include the keyword crater."
    )
    model = scripted(["The Moon is bright.", "the moon has many a crater."], ["VERDICT: PASS"])
    result = await areflect(question, model=model, strategy="critique")
    assert result.drafts[0]["reflections"] == ["made by code, not the model: all lowercase"]
    reviser_prompt = model.calls[1][1][-1].content
    assert "the moon is bright." in reviser_prompt
    assert "made by code" not in reviser_prompt


async def test_code_is_never_repaired() -> None:
    question = (
        "Write a Python function add(a, b) that returns their sum. Your entire response "
        "should be in all lowercase letters."
    )
    code = "```python\ndef add(a, b):\n    return a + b  # Sum\n```"
    model = ScriptedChatModel(script={}, default={"generator": code, "critic": "Response 1"})
    result = await ask(question, model, samples=3)
    assert result.kind == "code"
    assert "# Sum" in result.output
    assert not any("made by code" in r for r in result.reflections)


async def test_free_text_is_not_cut_short_at_high_effort() -> None:
    model = scripted([TWO, TWO, TWO, TWO])
    result = await ask(SKY, model, effort="high")
    assert roles(model) == ["generator"] * 2  # samples, not the plain answer alone
    assert result.stop_reason == "agreed"


async def test_a_selection_the_critic_cannot_name_keeps_the_plain_answer() -> None:
    model = scripted([CODE_A, CODE_B, CODE_C], ["They are all fine."])
    result = await ask(CODE_Q, model)
    assert result.chosen == 0 and result.output == CODE_A


async def test_choices_compare_by_letter() -> None:
    question = "Which planet is known as the Red Planet? A) Venus B) Mars C) Jupiter"
    model = scripted(["B", "B)", "B) Mars"])
    result = await ask(question, model)
    assert result.kind == "choice"
    assert (result.stop_reason, result.reflections[0]) == ("agreed", "all 3 solutions agree: B")


async def test_yes_no_compares_by_polarity() -> None:
    question = "Is 17 a prime number?"
    model = scripted(["Yes, 17 is prime.", "Yes. It has no divisors.", "No, it is not."])
    result = await ask(question, model, samples=3, max_samples=3)
    assert result.kind == "yes_no"
    assert result.reflections[0] == "3 solutions disagree: yes ×2, no ×1"
    assert result.output.startswith("Yes, 17")


async def test_short_answers_that_all_differ_go_to_selection_not_a_checklist() -> None:
    # No amounts stated, so no units decide it (``test_comparison`` has the one that does).
    question = "Which is heavier: a sack of feathers or a sack of steel?"
    replies = ["Neither. They weigh the same.", "They weigh the same.", "Steel is heavier."]
    model = scripted(replies, ["Most consistent: Response 2\nOthers: 3 confuses density."])
    result = await ask(question, model, samples=3, max_samples=3)
    assert result.kind == "short"
    assert model.calls[3][1][0].content == PROMPTS.texts["select_system"]
    assert (result.stop_reason, result.output) == ("selected", replies[1])


# -- evidence and sampling -----------------------------------------------------------------


async def test_a_sample_with_a_wrong_step_gets_no_vote() -> None:
    wrong = "3 × 4 = 13\n\nSo \\boxed{13}."
    right = "3 × 4 = 12\n\nSo \\boxed{12}."
    model = scripted([wrong, wrong, right])
    result = await ask(Q, model, samples=3, max_samples=3)
    # 13 has two samples, but both failed the calculator: the one that passed decides.
    assert (result.output, result.chosen, result.stop_reason) == (right, 2, "checked")
    assert result.reflections[0] == "3 solutions disagree: 13 ×2, 12 ×1; 2 failed a check"


async def test_while_every_sample_fails_a_check_more_are_drawn() -> None:
    wrong = "3 × 4 = 13\n\nSo \\boxed{13}."
    right = "3 × 4 = 12\n\nSo \\boxed{12}."
    model = scripted([wrong, wrong, wrong, right, wrong])
    result = await ask(Q, model, samples=3, max_samples=5)
    assert roles(model) == ["generator"] * 4  # one more at a time, until one passes
    assert (result.output, result.chosen, result.stop_reason) == (right, 3, "checked")


async def test_when_every_sample_fails_the_findings_drive_a_revision() -> None:
    wrong = "3 × 4 = 13\n\nSo \\boxed{13}."
    fixed = "3 × 4 = 12\n\nSo \\boxed{12}."
    model = scripted([wrong, wrong, wrong, fixed])
    result = await ask(Q, model, samples=3, max_samples=3)
    assert roles(model) == ["generator"] * 4  # no critic call: the calculator found it
    revise_prompt = model.calls[3][1][-1].content
    assert "✗ 3 × 4 = 13 (is 12)" in revise_prompt
    assert (result.stop_reason, result.output, result.chosen) == ("revised", fixed, 3)
    assert result.critiques[0]["by"] == "checks"


async def test_a_revision_that_does_not_fix_the_checks_is_not_kept() -> None:
    wrong = "3 × 4 = 13\n\nSo \\boxed{13}."
    worse = "3 × 4 = 13 and 2 + 2 = 5\n\nSo \\boxed{15}."
    model = scripted([wrong, wrong, wrong, worse])
    result = await ask(Q, model, samples=3, max_samples=3)
    assert (result.chosen, result.output, result.stop_reason) == (0, wrong, "checked")


# -- parallel samples ----------------------------------------------------------------------


class SlowModel(ScriptedChatModel):
    """Answers after a delay, asynchronously, and records how many calls overlap."""

    delay: float = 0.3
    in_flight: list[int] = [0]
    most: list[int] = [0]

    async def _agenerate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.in_flight[0] += 1
        self.most[0] = max(self.most[0], self.in_flight[0])
        try:
            await asyncio.sleep(self.delay)
            return self._generate(messages)
        finally:
            self.in_flight[0] -= 1


async def test_a_round_of_samples_is_requested_at_once() -> None:
    model = SlowModel(script={"generator": [], "critic": []}, in_flight=[0], most=[0])
    model.default["generator"] = solution("12")
    started = time.perf_counter()
    result = await areflect(Q, model=model, mode="vote", samples=5, max_samples=5)
    seconds = time.perf_counter() - started
    assert result.stop_reason == "agreed" and len(result.drafts) == 5
    assert model.most[0] == 5  # one round: within max_concurrency (default 8)
    assert seconds < 2 * model.delay  # one round, not five calls one after another
    assert [d["index"] for d in result.drafts] == [0, 1, 2, 3, 4]
    assert result.usage["calls"] == 5


async def test_max_concurrency_bounds_the_calls_in_flight() -> None:
    model = SlowModel(script={"generator": [], "critic": []}, in_flight=[0], most=[0], delay=0.05)
    model.default["generator"] = solution("12")
    await areflect(Q, model=model, mode="vote", samples=4, max_samples=4, max_concurrency=2)
    assert model.most[0] == 2


async def test_parallel_samples_keep_their_own_seed_draft_and_usage() -> None:
    model = SlowModel(script={"generator": [], "critic": []}, in_flight=[0], most=[0], delay=0.05)
    model.by_seed.update({0: [solution("12")], 1: [solution("7")], 2: [solution("12")]})
    model.default["generator"] = solution("12")
    result = await areflect(Q, model=model, samples=3, max_samples=5)
    outputs = {d["index"]: d["output"] for d in result.drafts}
    assert outputs[1] == solution("7") and outputs[0] == outputs[2] == solution("12")
    per_draft = sum(d["input_tokens"] + d["output_tokens"] for d in result.drafts)
    assert result.usage["input_tokens"] + result.usage["output_tokens"] == per_draft
    assert result.usage["calls"] == len(result.drafts)


async def test_the_in_process_model_samples_one_at_a_time() -> None:
    from agent.context import Context, resolve_settings

    assert resolve_settings(Context(model="local:qwen2.5-coder-1.5b")).max_concurrency == 1
    assert resolve_settings(Context(model="local:x", max_concurrency=8)).max_concurrency == 1
    assert resolve_settings(Context(model="openai:gpt-4o-mini")).max_concurrency == 8
    with pytest.raises(ConfigError, match="max_concurrency must be 1 or more"):
        resolve_settings(Context(model="openai:x", max_concurrency=0))


async def test_streamed_tokens_carry_their_sample_index() -> None:
    from agent import create_reflection_graph

    model = scripted([])
    model.by_seed.update({0: ["So 12."], 1: ["So 7."], 2: ["So 12."]})
    model.default["generator"] = "So 12."
    app = create_reflection_graph(model, samples=3, max_samples=3).compile()
    seen: dict[int, str] = {}
    async for chunk, meta in app.astream({"question": Q}, stream_mode="messages"):
        if meta["langgraph_node"] != "sample":
            continue  # the question and the final answer message stream too
        tag = next(t for t in meta["tags"] if t.startswith("reflect:sample:"))
        index = int(tag.rsplit(":", 1)[1])
        seen[index] = seen.get(index, "") + chunk.text
    assert seen == {0: "So 12.", 1: "So 7.", 2: "So 12."}
