"""``ChatReflection``: the reflection graph as a LangChain chat model.

A real ``ChatOpenAI`` against the scripted OpenAI-compatible server (``tests/capture_server``)
is the wrapped model, so every request is counted and reuse across event loops is real.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from agent import ChatReflection, reflect
from agent.chat_model import PASSED_THROUGH, Narration, question_of
from agent.errors import ConfigError
from tests.capture_server import capture_server

Q = "Tom has 3 bags of 4 apples. How many apples?"
ANSWER = "The answer is 12."


def chat(url: str) -> ChatOpenAI:
    return ChatOpenAI(base_url=url, api_key="sk-user-key", model="capture", stream_usage=True)


def blocks(message: BaseMessage) -> dict[str, str]:
    """The message's reasoning and text, by block type."""
    found: dict[str, str] = {}
    for block in message.content:
        assert isinstance(block, dict)
        key = "reasoning" if block["type"] == "reasoning" else "text"
        found[key] = found.get(key, "") + block[key]
    return found


def test_invoke_returns_reasoning_answer_and_exact_usage() -> None:
    with capture_server() as server:
        reply = ChatReflection(chat(server.url), effort="low").invoke(Q)
        calls = server.requests
    assert calls == 2
    assert isinstance(reply, AIMessage)
    parts = blocks(reply)
    assert parts["text"] == ANSWER == reply.text
    assert "3 × 4 = 12, so 12 apples." in parts["reasoning"]
    assert "all 2 solutions agree" in parts["reasoning"]
    assert reply.usage_metadata == {
        "input_tokens": 10 * calls,
        "output_tokens": 5 * calls,
        "total_tokens": 15 * calls,
    }
    assert reply.response_metadata["stop_reason"] == "agreed"


def test_stream_gives_reasoning_then_the_answer() -> None:
    with capture_server() as server:
        chunks = list(ChatReflection(chat(server.url), effort="low").stream(Q))
    kinds = [block["type"] for c in chunks for block in c.content if isinstance(block, dict)]
    assert kinds.count("text") == 1 and kinds[-1] == "text"
    assert kinds.count("reasoning") >= 3  # the sample tokens stream, then the tally
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole += chunk
    assert isinstance(whole, AIMessageChunk)
    parts = blocks(whole)
    assert parts["text"] == ANSWER
    assert parts["reasoning"].count("3 × 4 = 12, so 12 apples.") == 2
    assert whole.usage_metadata is not None and whole.usage_metadata["input_tokens"] == 20


async def test_astream_gives_reasoning_then_the_answer() -> None:
    with capture_server() as server:
        llm = ChatReflection(chat(server.url), mode="single")
        chunks = [chunk async for chunk in llm.astream(Q)]
    assert chunks[-1].text == ANSWER
    assert all(not c.text for c in chunks[:-1]) and len(chunks) > 1
    assert server.requests == 1


def test_in_an_lcel_chain_with_a_system_prompt() -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("user", "{q}")])
    with capture_server() as server:
        chain = prompt | ChatReflection(chat(server.url), effort="low") | StrOutputParser()
        assert chain.invoke({"q": Q}) == ANSWER
        assert "".join(chain.stream({"q": Q})) == ANSWER
        bodies = [body for _, body in server.seen]
    assert len(bodies) == 4
    assert all("Be brief." in str(body["messages"]) for body in bodies)


def test_reused_across_sync_calls() -> None:
    with capture_server() as server:
        llm = ChatReflection(chat(server.url), mode="single")
        texts = [llm.invoke(Q).text for _ in range(3)]
        streamed = "".join(c.text for c in llm.stream(Q))
    assert texts == [ANSWER] * 3 and streamed == ANSWER
    assert server.requests == 4


async def test_reused_across_async_calls_and_sync_calls_inside_a_running_loop() -> None:
    with capture_server() as server:
        llm = ChatReflection(chat(server.url), mode="single")
        texts = [(await llm.ainvoke(Q)).text for _ in range(2)]
        texts += [r.text for r in await asyncio.gather(llm.ainvoke(Q), llm.ainvoke(Q))]
        # What a notebook cell does: sync calls while its loop runs.
        texts += [llm.invoke(Q).text for _ in range(2)]
    assert texts == [ANSWER] * 6
    assert server.requests == 6


class ToolUser(BaseChatModel):
    """Calls ``add`` when tools are bound and no result came back yet; else answers."""

    calls: list[dict[str, Any]] = []

    @property
    def _llm_type(self) -> str:
        return "tool-user"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self.bind(tools=tools, **kwargs)

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        self.calls.append({"tools": bool(kw.get("tools")), "last": type(messages[-1]).__name__})
        if isinstance(messages[-1], ToolMessage):
            reply = AIMessage(f"The sum is {messages[-1].content}.")
        elif kw.get("tools"):
            call = {"name": "add", "args": {"a": 2, "b": 3}, "id": "call-1", "type": "tool_call"}
            reply = AIMessage("", tool_calls=[call])
        else:
            reply = AIMessage(ANSWER)
        reply.usage_metadata = {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
        return ChatResult(generations=[ChatGeneration(message=reply)])


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_in_an_agent_tools_pass_through_to_the_wrapped_model() -> None:
    from langchain.agents import create_agent

    inner = ToolUser(calls=[])
    agent = create_agent(ChatReflection(inner, effort="low"), tools=[add])
    state = agent.invoke({"messages": [("user", "What is 2 + 3? Use the tool.")]})
    messages = state["messages"]
    assert [type(m).__name__ for m in messages] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    assert messages[2].content == "5"
    assert messages[-1].text == "The sum is 5."
    assert all(m.response_metadata["reflection"] == PASSED_THROUGH for m in messages[1::2])
    assert inner.calls == [
        {"tools": True, "last": "HumanMessage"},
        {"tools": True, "last": "ToolMessage"},
    ]


def test_in_an_agent_without_tools_it_reflects() -> None:
    from langchain.agents import create_agent

    inner = ToolUser(calls=[])
    agent = create_agent(ChatReflection(inner, effort="low"), tools=[])
    state = agent.invoke({"messages": [("user", Q)]})
    reply = state["messages"][-1]
    assert reply.text == ANSWER and "reasoning" in blocks(reply)
    assert len(inner.calls) == 2  # the plain answer and one sample
    assert reply.usage_metadata["input_tokens"] == 6


class Count(BaseModel):
    apples: int


def test_with_structured_output_reflects_then_formats() -> None:
    with capture_server(reply='{"apples": 12}') as server:
        llm = ChatReflection(chat(server.url), effort="low")
        count = llm.with_structured_output(Count, method="json_mode").invoke(Q)
        bodies = [body for _, body in server.seen]
    assert count == Count(apples=12)
    assert len(bodies) == 3  # two reflecting, then one formatting the reflected answer
    formatting = bodies[-1]["messages"]
    assert formatting[-2] == {"role": "assistant", "content": '{"apples": 12}'}
    assert "structured form" in formatting[-1]["content"]


async def test_with_structured_output_async_after_sync_on_one_instance() -> None:
    with capture_server(reply='{"apples": 12}') as server:
        structured = ChatReflection(chat(server.url), mode="single").with_structured_output(
            Count, method="json_mode"
        )
        counts = [structured.invoke(Q), await structured.ainvoke(Q)]
    assert counts == [Count(apples=12)] * 2
    assert server.requests == 4


def test_as_the_model_of_another_reflection_graph() -> None:
    with capture_server() as server:
        result = reflect(Q, model=ChatReflection(chat(server.url), mode="single"), mode="single")
    assert result.output == ANSWER
    assert server.requests == 1
    assert (result.usage["input_tokens"], result.usage["output_tokens"]) == (10, 5)


def test_question_of_a_conversation() -> None:
    from langchain_core.messages import HumanMessage, SystemMessage

    assert question_of([SystemMessage("Be brief."), HumanMessage("Hi?")]) == ("Hi?", "Be brief.")
    question, _ = question_of([HumanMessage("2+2?"), AIMessage("4"), HumanMessage("And 3+3?")])
    assert question.index("User: 2+2?") < question.index("Assistant: 4")
    assert question.endswith("And 3+3?")
    for bad in ([AIMessage("hi")], [HumanMessage([{"type": "image_url", "image_url": "x"}])]):
        try:
            question_of(bad)
        except ConfigError:
            continue
        raise AssertionError(f"{bad} was accepted")


def test_parallel_samples_do_not_interleave_in_the_reasoning() -> None:
    narration = Narration(parallel=True)
    events: list[Any] = [
        {"event": "token", "node": "sample", "index": 0, "text": "zero-a "},
        {"event": "token", "node": "sample", "index": 1, "text": "one-a "},
        {"event": "token", "node": "sample", "index": 0, "text": "zero-b"},
        {"event": "token", "node": "sample", "index": 1, "text": "one-b"},
        {"event": "sample", "index": 1, "output": "one"},
        {"event": "token", "node": "sample", "index": 2, "text": "two-a "},
        {"event": "sample", "index": 0, "output": "zero"},
        {"event": "token", "node": "sample", "index": 2, "text": "two-b"},
        {"event": "sample", "index": 2, "output": "two"},
        {"event": "tally", "note": "3 solutions disagree"},
    ]
    text = "".join(narration.feed(e) for e in events)
    assert "zero-a zero-b" in text and "one-a one-b" in text and "two-a two-b" in text
    order = [text.index(s) for s in ("zero-a", "solution 1: zero", "one-a", "solution 2: one")]
    assert order == sorted(order)
    assert text.index("solution 3: two") < text.index("3 solutions disagree")
