"""The reflection graph: intake, a first answer or a round of samples, a strategy, finalize.

Default: intake → sample ×k → tally → (more samples | a tie: contrast → reconcile |
code or free text: select) → finalize.
Strategy ``critique``: intake → answer → critique → revise → critique … → finalize.
Modes ``single``, ``native``, ``baseline``: intake → answer → finalize.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from langchain_core.runnables import Runnable, RunnableLambda
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime, get_runtime
from langgraph.types import RetryPolicy

from agent import nodes
from agent.aio import run_sync
from agent.context import ChatModel, Context, Effort, Mode, Strategy, resolve_settings
from agent.errors import ConfigError
from agent.models import without_sdk_retries
from agent.nodes import Env
from agent.prompts import PROMPTS, Prompts, load_prompts
from agent.state import InputState, OutputState, State
from agent.strategies import PARTS, STRATEGIES, sampling


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
    step: Callable[[Any, Runtime[Context], Env], Awaitable[dict[str, Any]]],
    env: Env,
    name: str,
) -> RunnableLambda[Any, dict[str, Any]]:
    """An async step that sync callers (``graph.invoke``, a sync parent graph) can run too.

    Sync runs go to the library's one background event loop (``agent.aio``), never a fresh
    loop per step: a chat model's async client, bound to the loop that first used it, then
    serves every step, every parallel sample and every later run.
    """

    async def run_async(state: Any) -> dict[str, Any]:
        return await step(state, get_runtime(Context), env)

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
    mode: str = "prompted",
    strategy: str | None = None,
    critic_model: str | ChatModel | None = None,
    max_rounds: int | None = None,
    samples: int | None = None,
    max_samples: int | None = None,
    effort: str = "medium",
    max_tokens: int | None = None,
    max_seconds: float | None = None,
    system: str | None = None,
    temperature: float | None = None,
    max_concurrency: int | None = None,
    run_code: bool = False,
    prompts: str | Path | Prompts | None = None,
) -> StateGraph[State, Context, InputState, OutputState]:
    """Build the reflection graph, uncompiled, so the caller picks the checkpointer.

    Every option is a default that ``Context`` can override per run.

    Args:
        model: The generator: ``"local:qwen2.5-coder-1.5b"``, ``"ollama:llama3.1"``,
            ``"openai:gpt-4o-mini"``, an OpenAI-compatible server's base URL, or a chat model:
            a ``BaseChatModel`` or a runnable around one (``.bind``, ``.with_retry``,
            ``.with_fallbacks``, a configurable ``init_chat_model``), reusable across runs.
            ``None`` means ``$REFLECT_MODEL``, else the embedded local model.
        mode: ``"prompted"`` (answer, then check by ``strategy``), ``"vote"`` (majority of sampled
            solutions), ``"single"`` (one tagged call), ``"native"`` (the model's own
            reflection or thinking), ``"baseline"`` (plain).
        strategy: How ``prompted`` checks: ``"contrast"``, the default (sampled solutions
            are compared by the kind of answer: a clear majority answers, a tie at the top
            is critiqued and reconciled, code and free text are selected by the critic), or
            ``"critique"`` (checks, then a critic, review the draft).
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
        max_concurrency: Samples requested at once from a model server (default 8); the
            in-process model always draws them one at a time.
        run_code: Run the examples and asserts of code answers in the sandbox
            (``agent.sandbox``) and use failures as evidence. Off by default: nothing a model
            writes is executed unless you ask.
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
    models = [_instance(m, name) for m, name in ((model, "model"), (critic_model, "critic_model"))]
    defaults = Context(
        model=model if isinstance(model, str) else None,
        critic_model=critic_model if isinstance(critic_model, str) else None,
        # Checked by resolve_settings, with a one-line error for a bad value.
        mode=cast(Mode, mode),
        strategy=cast(Strategy | None, strategy),
        effort=cast(Effort, effort),
        max_rounds=max_rounds,
        samples=samples,
        max_samples=max_samples,
        max_tokens=max_tokens,
        max_seconds=max_seconds,
        system=system,
        temperature=temperature,
        max_concurrency=max_concurrency,
        run_code=run_code,
    )
    # Refuse bad defaults now, not on the first run.
    resolve_settings(defaults, model=models[0], critic_model=models[1])
    loaded = (
        prompts
        if isinstance(prompts, Prompts)
        else (PROMPTS if prompts is None else load_prompts(prompts))
    )
    env = Env(defaults, loaded, models[0], models[1])

    builder = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    builder.add_node("intake", _node(nodes.intake, env, "intake"))
    builder.add_node("answer", _node(nodes.answer, env, "answer"), retry_policy=RETRY)
    for part in PARTS:
        for name, node in part.nodes.items():
            builder.add_node(name, _node(node.run, env, name), retry_policy=RETRY)
    builder.add_node("finalize", _node(nodes.finalize, env, "finalize"))
    builder.add_edge(START, "intake")
    starts = sorted({"answer", "sample", *(p.start for p in STRATEGIES.values() if p.start)})
    builder.add_conditional_edges("intake", follow, starts)
    after = {p.after_answer for p in STRATEGIES.values() if p.after_answer}
    builder.add_conditional_edges("answer", follow, sorted({*after, "finalize"}))
    for part in PARTS:
        for name, node in part.nodes.items():
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
