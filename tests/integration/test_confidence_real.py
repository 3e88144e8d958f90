"""Token probabilities from the real embedded model and a real OpenAI-compatible server, and a
real program sample.

The embedded model's probabilities are read from its logits before each token is sampled
(``agent.local._TokenStats``); at temperature 0 the chosen token must be each step's most
likely one, and the tokens must spell the reply: a shift by one position
(abetlen/llama-cpp-python#1983) fails both. llama-cpp-python's own server is the
OpenAI-compatible one (its chat endpoint gives ``logprobs`` and ``top_logprobs``).
"""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from agent import ReflectionResult, areflect
from agent.calls import make_draft
from agent.confidence import STOP_AT, token_entries
from agent.local import local_chat_model
from agent.programs import available, program_messages, program_sample
from agent.prompts import PROMPTS

pytestmark = pytest.mark.real

FARMER = (
    "A farmer has 3 pens with 12 chickens in each pen. He sells 7 chickens. "
    "How many chickens are left?"
)
SHORT = [HumanMessage("What is 17 + 25? Answer with one sentence.")]


def test_the_embedded_model_reports_each_tokens_probability_in_place() -> None:
    model = local_chat_model("", progress=False)
    streamed = list(model.stream(SHORT))
    for reply in (model.invoke(SHORT), sum(streamed[1:], start=streamed[0])):
        tokens = token_entries(reply.response_metadata)
        assert "".join(t["token"] for t in tokens) == reply.content
        assert all(t["logprob"] == t["top_logprobs"][0]["logprob"] for t in tokens)
        assert all(len(t["top_logprobs"]) == 5 for t in tokens)
        ranked = [[a["logprob"] for a in t["top_logprobs"]] for t in tokens]
        assert all(r == sorted(r, reverse=True) and r[0] <= 0 for r in ranked)
        measured = make_draft(0, 0, reply, 0.0)["confidence"]
        assert measured is not None and measured["tokens"] == len(tokens)


async def test_an_openai_compatible_server_gives_the_draft_its_confidence(
    openai_server: str,
) -> None:
    result = await areflect(str(SHORT[0].content), model=f"{openai_server}#qwen", mode="single")
    assert "42" in result.output
    measured = result.drafts[0].get("confidence")
    assert measured is not None and measured["tokens"] >= 3
    assert result.confidence == measured["score"]


@pytest.mark.skipif(not available(), reason="program samples run only in the kernel sandbox")
def test_a_real_program_sample_votes_with_what_its_program_prints() -> None:
    model = local_chat_model("", progress=False)
    reply = model.invoke(program_messages(PROMPTS, FARMER))
    sample = program_sample(make_draft(1, 0, reply, 0.0), run_code=False)
    assert sample["output"] == "29", reply.content
    assert sample["checks"][0]["name"] == "the program prints 29"
    assert "print" in sample.get("program", "")


async def test_make_demos_question_takes_at_most_three_calls_and_stops_early_when_sure() -> None:
    result = await areflect(FARMER, model="local:qwen2.5-coder-1.5b")
    assert "29" in result.output and result.confidence is not None
    assert result.usage["calls"] <= 3, result.reflections
    measure = result.drafts[0]["confidence"]["measure"]
    sure = result.drafts[0]["confidence"]["score"] >= STOP_AT[measure]
    assert (result.stop_reason == "confident") == sure
    if sure:
        assert result.usage["calls"] == 1 and measure == "certainty"
    forced = await areflect(FARMER, model="local:qwen2.5-coder-1.5b", stop_early=False)
    assert forced.usage["calls"] >= 3 and forced.stop_reason != "confident"
    programs = [d for d in forced.drafts if d.get("program")]
    assert len(programs) == 2 and all(d["output"] == "29" for d in programs), programs


STREAMING = (
    "Aleena subscribed to a streaming service that charges her $140 per month. If the "
    "streaming company charged her the initial amount for the first half of the year and then "
    "charged her 10% less money on the other half of the year, calculate the total amount she "
    "had paid for the streaming service by the end of the year."
)


async def test_the_real_model_continues_its_draft_from_the_corrected_step() -> None:
    """GSM8K test question 64: the 1.5B model's greedy draft adds 840 + 756 = 1606."""
    result = await areflect(STREAMING, model="local:qwen2.5-coder-1.5b", strategy="critique")
    _continued_from_the_right_value(result)
    assert result.usage["calls"] == len(result.drafts) + sum(
        c["by"] == "critic" for c in result.critiques
    )


async def test_ollama_continues_the_corrected_draft_too(
    ollama_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same question through the Ollama API, which continues a final assistant message."""
    monkeypatch.setenv("OLLAMA_HOST", ollama_server)
    result = await areflect(
        STREAMING, model="ollama:plain-local", strategy="critique", max_rounds=1
    )
    _continued_from_the_right_value(result)


def _continued_from_the_right_value(result: ReflectionResult) -> None:
    """The draft's first wrong step was cut, its right value written, and the model went on."""
    first = result.drafts[0]
    flagged = [c for c in first["checks"] if c["kind"] == "calculator" and not c["passed"]]
    if not flagged:
        pytest.skip("this build's greedy draft has no wrong step to correct")
    continued = result.drafts[1]
    right = flagged[0]["detail"].rsplit(" = ", 1)[1]
    assert continued["reflections"][-1].startswith("continued from the corrected step")
    assert continued["reflections"][-1].endswith(f"= {right}")
    cut = continued["text"].index(f"= {right}") + len(f"= {right}")
    assert first["text"][: cut - len(right)] == continued["text"][: cut - len(right)]
    # What the model added goes on from there: it does not start the answer over.
    assert first["text"][:40] not in continued["text"][cut:]
    steps = {c["name"]: c["passed"] for c in continued["checks"] if c["kind"] == "calculator"}
    assert steps.get(flagged[0]["detail"]) is True, continued["text"]


async def test_the_default_sets_a_samples_wrong_step_right_and_the_model_goes_on() -> None:
    """The plain answer of GSM8K question 64 adds 840 + 756 = 1606 (benchmarks §15)."""
    result = await areflect(
        STREAMING, model="local:qwen2.5-coder-1.5b", samples=1, max_samples=1, programs=0
    )
    plain = result.drafts[0]
    if "840 + 756 = 1606" not in plain.get("uncorrected", plain["text"]):
        pytest.skip("this build's greedy draft has no wrong step to correct")
    assert "840 + 756 = 1606" in plain["uncorrected"]  # the text as the model first wrote it
    assert plain["reflections"][-1] == "continued from the corrected step: 840 + 756 = 1596"
    assert "840 + 756 = 1596" in plain["text"] and "1606" not in plain["text"]
    assert all(c["passed"] for c in plain["checks"]), plain["checks"]
    assert "1596" in result.output and result.usage["calls"] == 2
    assert plain["confidence"] is not None and result.stop_reason != "confident"
