"""A real ``ChatOpenAI`` against a local OpenAI-compatible server: instances reused, wrapped.

Issue 21, items 1 and 2: one chat model instance serves sync call after sync call, a sync
graph with parallel samples, and sync calls inside a running loop (Jupyter); runnables
around a chat model (``.bind``, ``.with_retry``, ``.with_fallbacks``, a configurable
``init_chat_model``) are accepted and still get the samples' temperature and seed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain.chat_models import init_chat_model
from langchain_openai import ChatOpenAI

from agent import Context, create_reflection_graph, reflect
from agent.context import SAMPLE_TEMPERATURE
from tests.capture_server import capture_server

Q = "Tom has 3 bags of 4 apples. How many apples?"
ANSWER = "The answer is 12."


def chat(url: str, **kwargs: Any) -> ChatOpenAI:
    """A ChatOpenAI as a notebook user makes one: the library's defaults."""
    return ChatOpenAI(**{"base_url": url, "api_key": "sk-user-key", "model": "capture", **kwargs})


def test_one_instance_serves_sync_call_after_sync_call() -> None:
    with capture_server() as server:
        model = chat(server.url)
        outputs = [reflect(Q, model=model, mode="single").output for _ in range(3)]
    assert outputs == [ANSWER] * 3
    assert server.requests == 3


def test_a_sync_graph_draws_parallel_samples_with_one_instance_run_after_run() -> None:
    with capture_server() as server:
        app = create_reflection_graph(chat(server.url), effort="low").compile()
        first = app.invoke({"question": Q})
        second = app.invoke({"question": Q}, context=Context(samples=3, max_samples=3))
    assert first["result"]["output"] == second["result"]["output"] == ANSWER
    assert [len(r["result"]["drafts"]) for r in (first, second)] == [2, 3]
    assert server.requests == 5


async def test_sync_reflect_inside_a_running_loop_reuses_the_instance() -> None:
    # What a Jupyter cell does: the notebook's loop is running while reflect() is called.
    with capture_server() as server:
        model = chat(server.url)
        outputs = [reflect(Q, model=model, effort="low").output for _ in range(2)]
    assert outputs == [ANSWER] * 2
    assert server.requests == 4


WRAPPERS: dict[str, Callable[[str], Any]] = {
    "bind": lambda url: chat(url).bind(stop=["</never>"]),
    "with_retry": lambda url: chat(url).with_retry(stop_after_attempt=2),
    "with_fallbacks": lambda url: chat(url).with_fallbacks([chat(url, model="other")]),
    "configurable": lambda url: init_chat_model(
        "capture",
        model_provider="openai",
        base_url=url,
        api_key="sk-user-key",
        configurable_fields=("temperature", "max_tokens"),
    ),
}


@pytest.mark.parametrize("wrap", sorted(WRAPPERS))
def test_wrapped_models_answer_and_their_samples_still_differ(wrap: str) -> None:
    with capture_server() as server:
        model = WRAPPERS[wrap](server.url)
        result = reflect(Q, model=model, effort="low", max_concurrency=1)
    assert result.output == ANSWER and result.model == "capture"
    bodies = [body for _, body in server.seen]
    assert len(bodies) == 2
    # The plain answer at the model's own settings, then a sample at 0.7 with its seed.
    assert "seed" not in bodies[0]
    assert (bodies[1]["temperature"], bodies[1]["seed"]) == (SAMPLE_TEMPERATURE, 1)
    if wrap == "bind":
        assert all(body["stop"] == ["</never>"] for body in bodies)


def test_the_chat_model_inside_a_wrapper_is_found() -> None:
    from agent.models import chat_model_of, model_label

    base = chat("http://127.0.0.1:9/v1")
    for wrapped in (base.bind(stop=["x"]), base.with_retry(), base.with_fallbacks([base])):
        assert chat_model_of(wrapped) is base
        assert model_label(wrapped) == "capture"


def test_a_model_that_is_no_runnable_is_a_one_line_error() -> None:
    from agent import ConfigError

    with pytest.raises(ConfigError, match=r"^model must be a model name or a LangChain chat"):
        create_reflection_graph(object())  # type: ignore[arg-type]


def test_the_context_schema_is_json_with_choices_for_studio() -> None:
    # Issue 21, item 3: LangGraph Studio and assistants build their form from this schema.
    from agent.graph import graph
    from agent.result import MODES
    from agent.strategies import STRATEGIES

    schema = graph.get_context_jsonschema()
    assert schema is not None
    fields = schema["properties"]

    def choices(name: str) -> list[str]:
        return next(s["enum"] for s in fields[name]["anyOf"] if "enum" in s)

    assert choices("mode") == list(MODES)
    assert choices("strategy") == sorted(STRATEGIES)
    assert choices("effort") == ["low", "medium", "high"]
    assert {"type": "string"} in fields["model"]["anyOf"]
    assert {"type": "string"} in fields["critic_model"]["anyOf"]


def test_a_run_that_passes_an_instance_in_context_gets_a_one_line_error() -> None:
    from agent import ConfigError

    app = create_reflection_graph("openai:x").compile()
    with pytest.raises(ConfigError, match=r"^context model must be a model name, not ChatOpenAI"):
        app.invoke({"question": Q}, context={"model": chat("http://127.0.0.1:9/v1")})
