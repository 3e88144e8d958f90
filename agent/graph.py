"""The reflection graph: answer, then sampling and contrast, or critique and revision.

Default: answer → sample … → (on a tie) contrast → reconcile → finalize.
Strategy ``critique``: answer → critique → revise → critique … → finalize.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableLambda
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime, get_runtime
from langgraph.types import RetryPolicy

from agent.aio import run_sync
from agent.context import Context, resolve_settings
from agent.nodes import Steps
from agent.prompts import PROMPTS, Prompts, load_prompts
from agent.state import InputState, OutputState, State


def is_transient(exc: BaseException) -> bool:
    """Whether a failed model call is worth retrying.

    Dropped connections, timeouts, HTTP 429 and 5xx answers are; anything else is not.
    """
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, int):
        return status == 429 or status >= 500
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"APIConnectionError", "APITimeoutError", "TransportError"})


def _node(
    step: Callable[[State, Runtime[Context]], Awaitable[dict[str, Any]]],
) -> RunnableLambda[State, dict[str, Any]]:
    """An async step that sync callers (``graph.invoke``, a sync parent graph) can run too."""

    async def run_async(state: State) -> dict[str, Any]:
        return await step(state, get_runtime(Context))

    def run_blocking(state: State) -> dict[str, Any]:
        return run_sync(run_async(state))

    return RunnableLambda(run_blocking, afunc=run_async, name=step.__name__)


RETRY = RetryPolicy(max_attempts=3, initial_interval=1.0, backoff_factor=2.0, retry_on=is_transient)


def create_reflection_graph(
    model: str | BaseChatModel | None = None,
    *,
    mode: str = "prompted",
    strategy: str | None = None,
    critic_model: str | BaseChatModel | None = None,
    max_rounds: int | None = None,
    samples: int | None = None,
    max_samples: int | None = None,
    effort: str = "medium",
    max_tokens: int | None = None,
    max_seconds: float | None = None,
    system: str | None = None,
    temperature: float | None = None,
    prompts: str | Path | Prompts | None = None,
) -> StateGraph[State, Context, InputState, OutputState]:
    """Build the reflection graph, uncompiled, so the caller picks the checkpointer.

    Every option is a default that ``Context`` can override per run.

    Args:
        model: The generator: ``"local:qwen2.5-coder-1.5b"``, ``"ollama:llama3.1"``,
            ``"openai:gpt-4o-mini"``, an OpenAI-compatible server's base URL, or a chat model.
            ``None`` means ``$REFLECT_MODEL``, else the embedded local model.
        mode: ``"prompted"`` (answer, then check by ``strategy``), ``"vote"`` (majority of sampled
            solutions), ``"single"`` (one tagged call), ``"native"`` (the model's own
            reflection or thinking), ``"baseline"`` (plain).
        strategy: How ``prompted`` checks: ``"contrast"``, the default (sampled solutions
            are compared; a clear majority answers, only a tie at the top is critiqued and
            reconciled), or ``"critique"`` (a critic reviews the draft).
        critic_model: The model that critiques; defaults to ``model``.
        max_rounds: Most critique rounds; defaults to the effort preset.
        samples: Solutions ``contrast`` and ``vote`` draw first; defaults to the preset.
        max_samples: Most solutions they draw while the answers disagree.
        effort: ``"low"``, ``"medium"`` or ``"high"``: presets for the three budgets.
        max_tokens: Token budget of the run; defaults to the effort preset.
        max_seconds: Wall-time budget of the run; defaults to the effort preset.
        system: Extra instructions for every answer call.
        temperature: Sampling temperature for models given by name; ``None`` keeps the
            provider's default (greedy for local models).
        prompts: A folder of prompt files to use instead of the bundled ones.

    Returns:
        The ``StateGraph``; call ``.compile()`` on it.

    Raises:
        ConfigError: An unknown mode or effort, or a prompts folder that fails its checks.

    Example:
        >>> from langgraph.checkpoint.memory import InMemorySaver
        >>> app = create_reflection_graph("ollama:llama3.1", effort="low").compile(
        ...     checkpointer=InMemorySaver())
        >>> app.invoke({"messages": [("user", "What is 17 * 23?")]},
        ...            {"configurable": {"thread_id": "1"}})  # doctest: +SKIP
    """
    defaults = Context(
        model=model,
        critic_model=critic_model,
        mode=mode,
        strategy=strategy,
        effort=effort,
        max_rounds=max_rounds,
        samples=samples,
        max_samples=max_samples,
        max_tokens=max_tokens,
        max_seconds=max_seconds,
        system=system,
        temperature=temperature,
    )
    resolve_settings(defaults)  # refuse bad defaults now, not on the first run
    loaded = (
        prompts
        if isinstance(prompts, Prompts)
        else (PROMPTS if prompts is None else load_prompts(prompts))
    )
    steps = Steps(defaults, loaded)

    builder = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    builder.add_node("intake", steps.intake)
    builder.add_node("answer", _node(steps.answer), retry_policy=RETRY)
    builder.add_node("critique", _node(steps.critique), retry_policy=RETRY)
    builder.add_node("revise", _node(steps.revise), retry_policy=RETRY)
    builder.add_node("sample", _node(steps.sample), retry_policy=RETRY)
    builder.add_node("contrast", _node(steps.contrast), retry_policy=RETRY)
    builder.add_node("reconcile", _node(steps.reconcile), retry_policy=RETRY)
    builder.add_node("finalize", _node(steps.finalize))
    builder.add_edge(START, "intake")
    builder.add_edge("intake", "answer")
    builder.add_conditional_edges("answer", steps.after_answer, ["critique", "sample", "finalize"])
    builder.add_conditional_edges("sample", steps.after_sample, ["sample", "contrast", "finalize"])
    builder.add_conditional_edges("contrast", steps.after_contrast, ["reconcile", "finalize"])
    builder.add_edge("reconcile", "finalize")
    builder.add_conditional_edges("critique", steps.after_critique, ["revise", "finalize"])
    builder.add_conditional_edges("revise", steps.after_revise, ["critique", "finalize"])
    builder.add_edge("finalize", END)
    return builder


graph = create_reflection_graph().compile(name="reflection")
"""The default graph (model from ``$REFLECT_MODEL`` or the embedded one), compiled without
a checkpointer, as ``langgraph.json`` and LangGraph Server expect."""
