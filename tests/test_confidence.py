"""Token confidence deciding: a confident plain answer stops, weights overturn a count, and a
program sample's printed value votes. Each test also runs the same replies without token
probabilities (or without program samples) and sees the decision go the other way.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from agent import ModelError, areflect, confidence
from agent.programs import available
from agent.prompts import PROMPTS
from tests.capture_server import capture_server
from tests.scripted import ScriptedChatModel

Q = "Tom has 3 bags of 4 apples. How many apples?"
CODE_Q = "Write a Python function is_even(n) that returns whether n is even."
SURE = confidence.STOP_AT["mean"] + 1.0  # a server's measure: no whole-vocabulary term
UNSURE = confidence.STOP_AT["mean"] - 3.0


def solution(answer: str, work: str = "3 bags of 4 apples.") -> str:
    return f"{work}\n\nSo Tom has \\(\\boxed{{{answer}}}\\) apples."


def scripted(replies: list[Any], sure: dict[str, float] | None = None) -> ScriptedChatModel:
    return ScriptedChatModel(script={"generator": list(replies), "critic": []}, sure=sure or {})


async def ask(model: ScriptedChatModel, question: str = Q, **options: Any) -> Any:
    return await areflect(question, model=model, max_concurrency=1, **options)


def entries(*logprobs: float, top: int = 5) -> list[dict[str, Any]]:
    return [
        {"token": "t", "logprob": lp, "top_logprobs": [{"token": "t", "logprob": lp}] * top}
        for lp in logprobs
    ]


# -- the measures ------------------------------------------------------------------------


def test_measures_from_openai_and_ollama_forms_agree() -> None:
    lps = [-0.5] * 20 + [-4.0] * 16
    openai_form = AIMessage("x", response_metadata={"logprobs": {"content": entries(*lps)}})
    from ollama._types import Logprob, TokenLogprob  # what ChatOllama hands back

    ollama_entries = [
        Logprob(
            token=e["token"],
            logprob=e["logprob"],
            top_logprobs=[TokenLogprob(**t) for t in e["top_logprobs"]],
        )
        for e in entries(*lps)
    ]
    ollama_form = AIMessage("x", response_metadata={"logprobs": ollama_entries})
    got = confidence.measure(openai_form)
    assert got == confidence.measure(ollama_form)
    assert got is not None and got["tokens"] == 36
    assert math.isclose(got["mean"], (20 * 0.5 + 16 * 4.0) / 36, abs_tol=1e-4)
    assert math.isclose(got["tail"], 4.0) and math.isclose(got["lowest"], 0.5)
    assert math.isclose(got["logprob"], -(20 * 0.5 + 16 * 4.0) / 36, abs_tol=1e-4)
    assert got["certainty"] is None  # a server gives no whole-vocabulary term
    assert (got["measure"], got["score"]) == ("mean", got["mean"])


def test_no_or_partial_probabilities_give_no_confidence() -> None:
    assert confidence.measure(AIMessage("x")) is None
    partial = [*entries(-0.1, -0.2), {"token": "t", "logprob": None}]
    assert confidence.measure(AIMessage("x", response_metadata={"logprobs": partial})) is None


def test_weights_need_every_draft_to_have_a_confidence() -> None:
    a = {"confidence": {"score": 2.0, "measure": "mean"}}
    b = {"confidence": {"score": 1.0, "measure": "mean"}}
    weights = confidence.weights([a, b])
    assert weights is not None and weights[0] > weights[1] and math.isclose(sum(weights), 1.0)
    assert confidence.weights([a, {"confidence": None}]) is None
    other = {"confidence": {"score": 1.0, "measure": "certainty"}}
    assert confidence.weights([a, other]) is None  # two scales never mix in one vote


# -- the tally deciding ------------------------------------------------------------------


async def test_a_confident_plain_answer_stops_without_samples() -> None:
    replies = [solution("12")] + [solution("7")] * 4
    sure = await ask(scripted(replies, {replies[0]: SURE}))
    assert (sure.stop_reason, sure.usage["calls"], sure.confidence) == ("confident", 1, SURE)
    assert sure.reflections[0] == f"1 solution: 12 (confidence {SURE:.1f})"
    unsure = await ask(scripted(replies, {r: UNSURE for r in replies}))
    assert unsure.stop_reason != "confident" and unsure.usage["calls"] >= 3
    counted = await ask(scripted(replies))  # no token probabilities: today's vote
    assert counted.confidence is None and counted.usage["calls"] >= 3
    for options in ({"stop_early": False}, {"effort": "high"}):  # asked to sample anyway
        drawn = await ask(scripted([*replies, *replies], {replies[0]: SURE}), **options)
        assert drawn.stop_reason != "confident" and drawn.usage["calls"] >= 3


async def test_a_confident_plain_answer_that_fails_a_check_does_not_stop() -> None:
    wrong_step = "3 × 4 = 13.\n\nSo Tom has \\(\\boxed{13}\\) apples."
    replies = [wrong_step, solution("12"), solution("12")]
    result = await ask(scripted(replies, {wrong_step: SURE}))
    assert result.stop_reason != "confident" and "12" in result.output


async def test_a_weighed_vote_overturns_a_count() -> None:
    gap = 5.0 * confidence.TEMPERATURE  # e^5: one sure sample outweighs two unsure ones
    replies = [solution("12"), solution("7", "4 + 3 = 7."), solution("12", "3 × 4 = 12.")]
    model = scripted(
        replies, {replies[0]: UNSURE - gap, replies[1]: UNSURE, replies[2]: UNSURE - gap}
    )
    weighed = await ask(model, samples=3, max_samples=3)
    # Counted: 12 ×2 against 7 ×1; weighed: the one sure 7 wins.
    assert weighed.drafts[weighed.chosen]["output"].endswith("\\(\\boxed{7}\\) apples.")
    assert "weighed by confidence: 7" in weighed.reflections[0]
    counted = await ask(scripted(replies), samples=3, max_samples=3, max_rounds=0)
    assert counted.drafts[counted.chosen]["output"].endswith("\\(\\boxed{12}\\) apples.")


async def test_confidence_picks_the_surest_code_sample_when_no_critic_selects() -> None:
    codes = [
        f"```python\ndef is_even(n):\n    return {body}\n```"
        for body in ("n % 2 == 0", "not n & 1", "n // 2 * 2 == n")
    ]
    sure = {codes[0]: UNSURE - 2, codes[1]: UNSURE + 1, codes[2]: UNSURE - 1}
    weighed = await ask(scripted(codes, sure), CODE_Q, mode="vote", samples=3, max_rounds=0)
    assert (weighed.stop_reason, weighed.chosen) == ("surest", 1)
    assert weighed.reflections[0].endswith("the surest is solution 2")
    counted = await ask(scripted(codes), CODE_Q, mode="vote", samples=3, max_rounds=0)
    assert (counted.stop_reason, counted.chosen) == ("voted", 0)


async def test_confidence_chooses_free_form_answers_instead_of_the_selection_call() -> None:
    codes = [
        f"```python\ndef is_even(n):\n    return {body}\n```"
        for body in ("n % 2 == 0", "not n & 1", "n // 2 * 2 == n")
    ]
    sure = {codes[0]: UNSURE - 2, codes[1]: UNSURE + 1, codes[2]: UNSURE - 1}
    model = scripted(codes, sure)
    chosen = await ask(model, CODE_Q)  # critic rounds left: still no selection call
    assert (chosen.stop_reason, chosen.chosen, chosen.usage["calls"]) == ("surest", 1, 3)
    assert not [role for role, _ in model.calls if role == "critic"]
    # Without token probabilities the selection call (USC) chooses, as before.
    usc = ScriptedChatModel(script={"generator": codes, "critic": ["Response 3"]})
    selected = await ask(usc, CODE_Q)
    assert (selected.stop_reason, selected.chosen) == ("selected", 2)


async def test_confident_plain_code_stops_on_codes_own_threshold() -> None:
    codes = [f"```python\ndef is_even(n):\n    return {b}\n```" for b in ("n % 2 == 0", "1")]
    between = (confidence.STOP_AT["mean"] + confidence.STOP_AT_CODE["mean"]) / 2
    above = confidence.STOP_AT_CODE["mean"] + 0.1
    sure = await ask(scripted(codes * 2, {codes[0]: above}), CODE_Q)
    assert (sure.stop_reason, sure.usage["calls"], sure.chosen) == ("confident", 1, 0)
    assert sure.reflections[0] == f"1 solution (code, confidence {above:.1f})"
    # Sure enough for a number, not for code: code's threshold is its own.
    assert confidence.STOP_AT["mean"] < between < confidence.STOP_AT_CODE["mean"]
    unsure = await ask(scripted(codes * 2, {codes[0]: between}), CODE_Q, max_rounds=0)
    assert unsure.stop_reason != "confident" and unsure.usage["calls"] >= 2
    # Free text has no threshold tuned: however sure, it draws its samples.
    tips = ["1. Sleep at set times.\n2. Keep it dark.\n3. No screens late.", "1. Relax."]
    text = await ask(scripted(tips * 2, {tips[0]: above + 10, tips[1]: 1.0}), "Give sleep tips.")
    assert text.kind == "text" and text.stop_reason != "confident" and text.usage["calls"] >= 2


async def test_a_server_that_refuses_logprobs_is_asked_again_without_them() -> None:
    with capture_server(["no-logprobs", "ok", "no-logprobs"]) as server:
        result = await areflect(Q, model=server.url, mode="single")
        again = await areflect(Q, model=server.url, mode="single")  # remembered: not asked
        bodies = [body for _, body in server.seen]
    asked = [(b.get("logprobs"), b.get("top_logprobs")) for b in bodies]
    assert asked == [(True, 5), (None, None), (None, None)]
    assert "12" in result.output and result.confidence is None and again.confidence is None


# -- program samples ---------------------------------------------------------------------

PROGRAM = "```python\npens = 3\nchickens = pens * 4\nprint(chickens)\n```"


def answers_programs(prose: str, program: str = PROGRAM) -> Any:
    """A generator reply that is a program when asked for one, else the prose answer."""

    def reply(messages: list[Any]) -> str:
        asked = PROMPTS.texts["program_user"].split("{question}")[0]
        return program if asked[:40] in str(messages[-1].content) else prose

    return reply


@pytest.mark.programs
@pytest.mark.skipif(not available(), reason="program samples run only in the kernel sandbox")
async def test_a_program_samples_printed_value_votes() -> None:
    replies = [solution("7"), answers_programs(solution("7")), solution("12")]
    result = await ask(scripted(replies), samples=3, max_samples=3, max_rounds=0, programs=1)
    program = result.drafts[1]
    assert (program["output"], program.get("program")) == ("12", PROGRAM.split("\n", 1)[1][:-4])
    assert [c["name"] for c in program["checks"]] == ["the program prints 12"]
    assert "12" in result.drafts[result.chosen]["output"]  # 12 ×2 (one a program) against 7
    prose_only = await ask(scripted(replies), samples=3, max_samples=3, max_rounds=0, programs=0)
    assert prose_only.drafts[1]["output"] == solution("7") and "7" in prose_only.output


@pytest.mark.programs
@pytest.mark.skipif(not available(), reason="program samples run only in the kernel sandbox")
async def test_a_program_that_prints_no_number_gets_no_vote() -> None:
    broken = "```python\nprint('twelve')\n```"
    replies = [solution("7"), answers_programs("", broken), solution("7"), solution("7")]
    result = await ask(scripted(replies), samples=3, max_samples=3, max_rounds=0, programs=1)
    program = result.drafts[1]
    assert program["output"] == "" and program["checks"][0]["passed"] is False
    assert "printed no number" in program["checks"][0]["detail"]
    assert result.stop_reason == "agreed"  # the two prose samples agree; the program is out
    assert result.reflections[0] == "3 solutions disagree: 7 ×2, (no answer) ×1; 1 failed a check"


# -- the embedded model's recorder -------------------------------------------------------


class _Vocabulary:
    """Stands for a loaded llama.cpp model: token ``i`` reads as ``<i>``."""

    def detokenize(self, tokens: list[int]) -> bytes:
        return "".join(f"<{t}>" for t in tokens).encode()


def test_each_probability_is_recorded_against_the_token_sampled_from_it() -> None:
    np = pytest.importorskip("numpy")
    from agent.local import _TokenStats

    stats = _TokenStats(_Vocabulary())
    vocabulary = 8
    steps = [(3, [9, 1]), (5, [9, 1, 3]), (0, [9, 1, 3, 5])]  # (token sampled, ids before)
    logits = []
    for token, before in steps:
        row = np.linspace(0.0, 1.0, vocabulary, dtype=np.float32)
        row[token] = 4.0 + len(before)  # each step peaks at its own token, more each time
        logits.append(row)
        assert stats(np.array(before), row) is row  # the logits go on to the sampler untouched
    content = stats.metadata()["logprobs"]["content"]
    assert [e["token"] for e in content] == ["<3>", "<5>"]  # the end token is never an input
    for entry, row, (token, _) in zip(content, logits, steps, strict=False):
        expected = float(row[token] - np.log(np.sum(np.exp(row.astype(np.float64)))))
        assert math.isclose(entry["logprob"], expected, abs_tol=1e-4)
        assert entry["top_logprobs"][0] == {"token": f"<{token}>", "logprob": entry["logprob"]}
        uniform = -np.log(vocabulary)
        kl = float(np.mean(-(row - np.log(np.sum(np.exp(row))))) + uniform)
        assert math.isclose(entry["certainty"], kl, abs_tol=1e-4)


# -- a calculator finding written into the draft -----------------------------------------

WRONG = "Tom has 3 bags of 4 apples: 3 × 4 = 13.\n\nSo Tom has \\(\\boxed{13}\\) apples."
REST = ".\n\nSo Tom has \\(\\boxed{12}\\) apples."


async def test_a_wrong_step_is_cut_corrected_and_continued_by_the_model() -> None:
    model = ScriptedChatModel(
        script={"generator": [WRONG, REST], "critic": ["VERDICT: PASS"]},
        continues_final_message=True,
    )
    result = await areflect(Q, model=model, strategy="critique")
    asked = model.calls[1][1]
    assert asked[-1].type == "ai" and asked[-1].content == "Tom has 3 bags of 4 apples: 3 × 4 = 12"
    continued = result.drafts[1]
    assert continued["text"] == "Tom has 3 bags of 4 apples: 3 × 4 = 12" + REST
    assert continued["reflections"][-1] == (
        "continued from the corrected step: Tom has 3 bags of 4 apples: 3 × 4 = 12"
    )
    assert not [c for c in continued["checks"] if not c["passed"]]  # checked again: it holds
    assert (result.chosen, result.stop_reason) == (1, "accepted") and "12" in result.output


@pytest.mark.parametrize(
    ("owned_by", "extra"),
    [
        ("vllm", {"continue_final_message": True, "add_generation_prompt": False}),
        ("llamacpp", {}),
        ("me", None),  # llama-cpp-python's server: would answer the prefix as a new turn
    ],
)
async def test_a_server_continues_the_corrected_draft_where_it_can(
    owned_by: str, extra: dict[str, Any] | None
) -> None:
    with capture_server(reply=WRONG, owned_by=owned_by) as server:
        await areflect(Q, model=server.url, strategy="critique", max_rounds=1)
    body = server.seen[1][1]
    last = body["messages"][-1]
    if extra is None:
        assert last["role"] == "user" and "continue_final_message" not in body
        return
    assert last == {"role": "assistant", "content": "Tom has 3 bags of 4 apples: 3 × 4 = 12"}
    assert {k: body.get(k) for k in extra} == extra
    assert body["max_tokens"] == 1024  # the server's own cap stays in the body
    assert "continue_final_message" not in server.seen[0][1]


# -- a sample's wrong step set right, and the sample continued (the default) ---------------

FIXED = "Tom has 3 bags of 4 apples: 3 × 4 = 12"


def going_on(replies: list[str], *, continues: bool = True, **sure: float) -> ScriptedChatModel:
    return ScriptedChatModel(
        script={"generator": list(replies), "critic": []},
        continues_final_message=continues,
        sure={text: sure.get("score", SURE) for text in replies},
    )


async def test_a_sample_goes_on_from_its_wrong_step_set_right_and_votes() -> None:
    model = going_on([WRONG, REST, solution("12"), solution("13")])
    result = await ask(model, samples=3, max_samples=3, programs=0, max_rounds=0)
    asked = model.calls[1][1]
    assert asked[-1].type == "ai" and asked[-1].content == FIXED  # cut after "=", value in
    plain = result.drafts[0]
    assert plain["text"] == FIXED + REST and plain["uncorrected"] == WRONG
    assert plain["reflections"][-1] == "continued from the corrected step: " + FIXED
    assert all(c["passed"] for c in plain["checks"])  # checked again: it holds
    # The corrected plain answer votes: 12 ×2 against 13. Uncorrected, it had no vote and the
    # two samples tied 12 against 13.
    assert "12" in result.output and result.reflections[0].startswith("3 solutions")
    assert "12 ×2" in result.reflections[0]


async def test_a_number_told_by_its_solutions_is_set_right_too() -> None:
    # The words alone make it a short answer; the solution's marked number makes it a number.
    asked = "Tom has 3 bags of 4 apples. What's the total he has if each bag holds 4?"
    model = going_on([WRONG, REST, solution("12"), solution("13")])
    result = await ask(model, asked, samples=3, max_samples=3, programs=0, max_rounds=0)
    assert result.drafts[0]["text"] == FIXED + REST and result.kind == "number"
    poem = "A poem: 3 × 4 = 13, said the bee,\nand the bee was wrong, as bees can be."
    model = going_on([])
    model.default = {"generator": poem, "critic": "VERDICT: PASS"}
    text = await ask(model, "Write a two-line poem about a bee who cannot multiply.", samples=3)
    samples = [d for d in text.drafts if d["round"] == 0]
    assert text.kind == "text" and not any("uncorrected" in d for d in samples)  # its own sums


async def test_a_corrected_plain_answer_never_stands_alone_on_its_confidence() -> None:
    # Sure of every token, as a plain answer that stands alone is; a calculator had to set its
    # step right, so samples are drawn and the run does not stop at 2 calls as `confident`.
    model = going_on([WRONG, REST, solution("12"), solution("12")])
    result = await ask(model, samples=3, max_samples=3, programs=0, max_rounds=0)
    assert result.drafts[0]["confidence"] is not None
    assert result.stop_reason != "confident" and len(model.calls) == 4
    confident = going_on([solution("12")])  # the same sureness, nothing to correct: it stands
    alone = await ask(confident, samples=3, max_samples=3, programs=0, max_rounds=0)
    assert (alone.stop_reason, len(confident.calls)) == ("confident", 1)


async def test_a_corrected_draft_reads_its_confidence_from_the_tokens_it_keeps() -> None:
    rest = ".\n\nSo Tom has 12 apples in all: \\(\\boxed{12}\\)."
    model = going_on([WRONG, rest, solution("12"), solution("12")])
    result = await ask(model, samples=3, max_samples=3, programs=0, max_rounds=0)
    words_kept = len(FIXED.split(" ")) - 1  # "= 13." is cut off; "12" was written in, not chosen
    assert result.drafts[0]["confidence"]["tokens"] == words_kept + len(rest.split(" "))
    assert words_kept + len(rest.split(" ")) != len(WRONG.split(" "))


async def test_a_server_that_continues_a_final_message_goes_on_from_the_right_step() -> None:
    with capture_server(reply=WRONG, owned_by="vllm") as server:
        await areflect(Q, model=server.url, samples=1, max_samples=1, programs=0)
    body = server.seen[1][1]
    assert body["messages"][-1] == {"role": "assistant", "content": FIXED}
    assert body.get("continue_final_message") is True


async def test_a_model_that_cannot_continue_leaves_the_wrong_sample_without_a_vote() -> None:
    model = going_on([WRONG, solution("12"), solution("13")], continues=False)
    result = await ask(model, samples=3, max_samples=3, programs=0, max_rounds=0)
    assert len(model.calls) == 3 and all(m[-1].type == "human" for _, m in model.calls)
    plain = result.drafts[0]
    assert plain["text"] == WRONG and any(not c["passed"] for c in plain["checks"])


async def test_a_continuation_that_fails_more_checks_is_set_aside() -> None:
    worse = ".\n\nThen 12 + 5 = 18, so Tom has \\(\\boxed{18}\\) apples, 12 × 2 = 25."
    model = going_on([WRONG, worse, worse, worse, solution("12"), solution("12")])
    result = await ask(model, samples=3, max_samples=3, programs=0, max_rounds=0)
    plain = result.drafts[0]
    assert plain["text"] == WRONG and "continuation" in plain
    assert plain["reflections"][-1].startswith(
        "written on by the model, not kept: going on from a corrected step, it failed"
    )
    assert "12" in result.output and result.usage["calls"] == 6  # 3 corrections were tried


async def test_corrections_stop_where_the_run_s_token_budget_is_spent() -> None:
    worse = ".\n\nThen 12 + 5 = 18, so Tom has \\(\\boxed{18}\\) apples, 12 × 2 = 25."
    replies = [WRONG, worse, worse, worse, solution("12"), solution("12")]
    whole = await ask(going_on(replies), samples=3, max_samples=3, programs=0, max_rounds=0)
    assert whole.usage["calls"] == 6  # unbounded, three corrections were tried
    first = whole.drafts[0]["input_tokens"] + whole.drafts[0]["output_tokens"]
    model = going_on(replies)
    # Room for the plain answer and no more: one continuation (checked before it, as before a
    # round), then nothing, where the sample used to make two more calls past the budget.
    result = await ask(
        model, samples=3, max_samples=3, programs=0, max_rounds=0, max_tokens=first + 1
    )
    assert (result.usage["calls"], result.stop_reason) == (2, "token_budget")


async def test_a_refused_prefill_ends_the_corrections_and_the_run_goes_on() -> None:
    class BadRequest(Exception):
        status_code = 400  # as openai.BadRequestError and ollama.ResponseError carry it

    def refuse(messages: list[Any]) -> Any:
        if messages[-1].type == "ai":  # a thinking model's server answers a prefill with a 400
            return BadRequest("Assistant response prefill is incompatible with enable_thinking")
        return solution("12")

    model = going_on([WRONG])
    model.default = {"generator": refuse}
    result = await ask(model, samples=3, max_samples=3, programs=0, max_rounds=0)
    plain = result.drafts[0]
    assert plain["text"] == WRONG and "uncorrected" not in plain  # it stays as it was, unvoted
    assert (result.stop_reason, "12" in result.output) == ("agreed", True)


async def test_an_error_of_our_own_in_a_continuation_is_not_taken_for_a_refusal() -> None:
    def broken(messages: list[Any]) -> Any:
        return TypeError("a bug") if messages[-1].type == "ai" else solution("12")

    model = going_on([WRONG])
    model.default = {"generator": broken}
    with pytest.raises(ModelError, match="a bug"):
        await ask(model, samples=3, max_samples=3, programs=0, max_rounds=0)


async def test_the_models_own_reasoning_stays_with_the_corrected_draft() -> None:
    model = going_on([WRONG, REST, solution("12"), solution("12")])
    model.reasoning = "Three bags, four apples each."
    result = await ask(model, samples=3, max_samples=3, programs=0, max_rounds=0)
    plain = result.drafts[0]
    assert "uncorrected" in plain and plain["thinking"] == "Three bags, four apples each."


async def test_a_postscript_is_written_on_from_the_corrected_answer() -> None:
    asked = f"{Q} At the end of your response, please explicitly add a postscript starting with"
    asked += " P.S."
    model = going_on([WRONG, REST, "\n\nP.S. Apples keep well.", solution("12"), solution("12")])
    result = await ask(model, asked, samples=3, max_samples=3, programs=0, max_rounds=0)
    last = model.calls[2][1][-1]
    assert last.type == "ai" and last.content.startswith(FIXED + REST)  # not from "= 13"
    plain = result.drafts[0]
    assert "P.S." in plain["output"] and "3 × 4 = 13" not in plain["output"]


async def test_a_model_that_cannot_continue_gets_the_usual_revision() -> None:
    revised = "3 × 4 = 12.\n\nSo Tom has \\(\\boxed{12}\\) apples."
    model = ScriptedChatModel(script={"generator": [WRONG, revised], "critic": ["VERDICT: PASS"]})
    result = await areflect(Q, model=model, strategy="critique")
    asked = model.calls[1][1]
    assert asked[-1].type == "human" and "3 × 4 = 13" in str(asked[-1].content)
    assert "12" in result.output and not any(
        r.startswith("continued from") for r in result.drafts[1]["reflections"]
    )
