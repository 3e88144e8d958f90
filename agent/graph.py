"""The reflection graph: intake, a first answer or a round of samples, a strategy, finalize.

Default: intake → sample ×k → tally → (more samples | a tie: contrast → reconcile |
code or free text: select) → finalize.
Strategy ``critique``: intake → answer → critique → revise → critique … → finalize.
Modes ``single``, ``native``, ``baseline``: intake → answer → finalize.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime, get_runtime
from langgraph.types import RetryPolicy

from agent import nodes
from agent.aio import run_sync
from agent.calls import Setup
from agent.context import ChatModel, Context, make_context, resolve_settings
from agent.errors import ConfigError, is_transient
from agent.models import without_sdk_retries
from agent.prompts import PROMPTS, Prompts, load_prompts
from agent.state import InputState, OutputState, State
from agent.strategies import STRATEGIES, TECHNIQUES, sampling


def _node(
    step: Callable[[Any, Runtime[Context], Setup], Awaitable[dict[str, Any]]],
    setup: Setup,
    name: str,
) -> RunnableLambda[Any, dict[str, Any]]:
    """An async step that sync callers (``graph.invoke``, a sync parent graph) can run too.

    Sync runs go to the library's one background event loop (``agent.aio``), never a fresh
    loop per step: a chat model's async client, bound to the loop that first used it, then
    serves every step, every parallel sample and every later run.
    """

    async def run_async(state: Any) -> dict[str, Any]:
        return await step(state, get_runtime(Context), setup)

    def run_blocking(state: Any) -> dict[str, Any]:
        return run_sync(run_async(state))

    return RunnableLambda(run_blocking, afunc=run_async, name=name)


def follow(state: State) -> Any:
    """The next node a step chose (its ``route``); a round of samples fans out as ``Send``."""
    return sampling.sends(state) if state["route"] == "sample" else state["route"]


RETRY = RetryPolicy(
    max_attempts=3, initial_interval=1.0, backoff_factor=2.0, jitter=False, retry_on=is_transient
)
"""The one retry layer for model calls: 3 attempts, 1 s then 2 s apart.

Models built from a name have their client library's retries off, and instances given to
the factory get a copy without them, so a call that keeps failing makes 3 requests and
takes at most 3 × ``$REFLECT_TIMEOUT`` + 3 s."""


def create_reflection_graph(
    model: str | ChatModel | None = None,
    *,
    critic_model: str | ChatModel | None = None,
    prompts: str | Path | Prompts | None = None,
    context: Context | None = None,
    **options: Any,
) -> StateGraph[State, Context, InputState, OutputState]:
    """Build the reflection graph, uncompiled, so the caller picks the checkpointer.

    Every setting is a field of ``Context`` (mode, strategy, effort, budgets, samples,
    system, temperature, concurrency, run_code: see its fields), given here as ``context``
    or as keywords, and each one is a default that a run's own ``Context`` can override.

    Args:
        model: The generator: ``"local:qwen2.5-coder-1.5b"``, ``"ollama:llama3.1"``,
            ``"openai:gpt-4o-mini"``, an OpenAI-compatible server's base URL, or a chat model:
            a ``BaseChatModel`` or a runnable around one (``.bind``, ``.with_retry``,
            ``.with_fallbacks``, a configurable ``init_chat_model``), reusable across runs.
            ``None`` means ``$REFLECT_MODEL``, else the embedded local model.
        critic_model: The model that critiques and selects; defaults to ``model``.
        prompts: A folder of prompt files to use instead of the bundled ones.
        context: The default settings.
        **options: Fields of ``Context``, laid over ``context``.

    Returns:
        The ``StateGraph``; call ``.compile()`` on it.

    Raises:
        ConfigError: An unknown option, mode or effort, a bad budget, or a prompts folder
            that fails its checks.

    Example:
        >>> from langgraph.checkpoint.memory import InMemorySaver
        >>> app = create_reflection_graph("ollama:llama3.1", effort="low").compile(
        ...     checkpointer=InMemorySaver())
        >>> app.invoke({"messages": [("user", "What is 17 * 23?")]},
        ...            {"configurable": {"thread_id": "1"}})  # doctest: +SKIP
    """
    models = [_instance(m, name) for m, name in ((model, "model"), (critic_model, "critic_model"))]
    defaults = make_context(
        context,
        **options,
        model=model if isinstance(model, str) else None,
        critic_model=critic_model if isinstance(critic_model, str) else None,
    )
    # Refuse bad defaults now, not on the first run.
    resolve_settings(defaults, model=models[0], critic_model=models[1])
    loaded = (
        prompts
        if isinstance(prompts, Prompts)
        else (PROMPTS if prompts is None else load_prompts(prompts))
    )
    setup = Setup(defaults, loaded, models[0], models[1])

    builder = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    builder.add_node("intake", _node(nodes.intake, setup, "intake"))
    builder.add_node("answer", _node(nodes.answer, setup, "answer"), retry_policy=RETRY)
    for technique in TECHNIQUES:
        for name, node in technique.nodes.items():
            builder.add_node(name, _node(node.run, setup, name), retry_policy=RETRY)
    builder.add_node("finalize", _node(nodes.finalize, setup, "finalize"))
    builder.add_edge(START, "intake")
    starts = sorted({"answer", "sample", *(p.start for p in STRATEGIES.values() if p.start)})
    builder.add_conditional_edges("intake", follow, starts)
    after = {p.after_answer for p in STRATEGIES.values() if p.after_answer}
    builder.add_conditional_edges("answer", follow, sorted({*after, "finalize"}))
    for technique in TECHNIQUES:
        for name, node in technique.nodes.items():
            if node.then == ("tally",):
                builder.add_edge(name, "tally")  # every sample of a round joins here
            else:
                builder.add_conditional_edges(name, follow, list(node.then))
    builder.add_edge("finalize", END)
    return builder


def _instance(model: Any, name: str) -> ChatModel | None:
    """A chat model instance given to the factory, without its client's own retries."""
    if model is None or isinstance(model, str):
        return None
    if not isinstance(model, Runnable):
        raise ConfigError(
            f"{name} must be a model name or a LangChain chat model, not {type(model).__name__}"
        )
    return without_sdk_retries(model)


graph = create_reflection_graph().compile(name="reflection")
"""The default graph (model from ``$REFLECT_MODEL`` or the embedded one), compiled without
a checkpointer, as ``langgraph.json`` and LangGraph Server expect."""
