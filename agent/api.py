"""``reflect`` and ``areflect``: one question in, one ``ReflectionResult`` out."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Any, TypeVar, cast

from langchain_core.runnables import Runnable, RunnableConfig

from agent.aio import run_sync
from agent.answers import settle_kind
from agent.context import ChatModel, Context, Effort, Mode, Strategy, resolve_settings
from agent.errors import ConfigError, ModelError, ReflectionError, redact, require_utf8
from agent.graph import create_reflection_graph
from agent.models import aresolve_model, call_timeout, chat_model_of, model_label
from agent.persist import DURABLE, checkpointed, thread_for
from agent.prompts import Prompts
from agent.result import ReflectionResult, empty_usage
from agent.state import append_critiques, merge_drafts, sum_usage

T = TypeVar("T")


async def areflect(
    question: str,
    *,
    model: str | ChatModel | None = None,
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
    checkpoint: str | Path | None = None,
    thread_id: str | None = None,
) -> ReflectionResult:
    """Answer a question, then check it: by comparing samples (the default) or by critique.

    Takes the options of ``create_reflection_graph``, and two for runs that must survive a
    crash: ``checkpoint``, a SQLite file (or a ``postgresql://`` connection string) where
    every finished step is saved, and
    ``thread_id`` (by default one derived from the question and settings). Asking the same
    thing again after a failure, Ctrl-C or a killed process resumes from the last finished
    step; asking it after it finished returns the saved answer.

    Returns:
        The ``ReflectionResult``: output, thinking, reflections, every draft and critique,
        rounds, stop reason and token usage.

    Raises:
        ConfigError: Bad input (empty question, unknown mode or model name, missing key).
        ModelError: The model failed after retries; ``error.partial`` holds what the run
            had produced by then.
    """
    if not isinstance(question, str) or not question.strip():
        raise ConfigError("the question is empty: ask something")
    require_utf8(question)
    context = Context(
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
    # Refuse a bad mode, budget or model before building any client.
    named = dataclasses.replace(context, model=_name(model), critic_model=_name(critic_model))
    resolve_settings(named, model=_chat(model), critic_model=_chat(critic_model))
    state: dict[str, Any] = {}
    built: list[ChatModel] = []  # clients made here, closed here; the caller's are theirs
    generator: ChatModel | None = None
    stack = contextlib.AsyncExitStack()
    try:
        # Build named models here so that their clients close in this event loop.
        generator = await aresolve_model(model, native=mode == "native", temperature=temperature)
        critic = (
            await aresolve_model(critic_model, temperature=temperature)
            if critic_model is not None
            else None
        )
        built = [
            chat
            for chat, spec in ((generator, model), (critic, critic_model))
            if chat is not None and not isinstance(spec, Runnable)
        ]
        # The models reach the graph through its factory (Context holds names only);
        # compiling is cheap next to one model call.
        builder = create_reflection_graph(generator, critic_model=critic, prompts=prompts)
        app: Any = builder.compile()
        config: RunnableConfig | None = None
        payload: dict[str, Any] | None = {"question": question}
        if checkpoint is not None:
            thread = thread_id or thread_for(question, named)
            app, config, resume = await checkpointed(stack, builder, checkpoint, thread, question)
            if resume.finished:
                return ReflectionResult.from_dict(resume.values["result"])
            payload, state = resume.payload, resume.values
        durable = DURABLE if config is not None else {}
        async for update in app.astream(
            payload, config, context=context, stream_mode="updates", **durable
        ):
            for values in update.values():
                merge_update(state, values or {})
    except ReflectionError as exc:
        exc.partial = exc.partial or _partial(state)
        raise
    except Exception as exc:
        message = describe_failure(exc, generator if generator is not None else model)
        raise ModelError(message, partial=_partial(state)) from exc
    finally:
        for chat in built:
            await aclose_model(chat)
        await stack.aclose()
    return ReflectionResult.from_dict(state["result"])


def _name(model: str | ChatModel | None) -> str | None:
    """A model as ``Context`` holds it: its name (an instance by its model name)."""
    return model if model is None or isinstance(model, str) else model_label(model)


def _chat(model: str | ChatModel | None) -> ChatModel | None:
    return model if isinstance(model, Runnable) else None


async def aclose_model(model: Any) -> None:
    """Close a chat model's async HTTP client, if it has one, in the running loop."""
    model = chat_model_of(model) or model
    # The SDK clients do not close an HTTP client handed to them, so close that directly.
    for owner in (getattr(model, "root_async_client", None), getattr(model, "_async_client", None)):
        client = getattr(owner, "_client", None)
        closer = getattr(client, "aclose", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()


def reflect(question: str, **options: Any) -> ReflectionResult:
    """Synchronous ``areflect``; also works inside a running event loop (Jupyter).

    Every call runs on the library's one background event loop (``agent.aio``), so a chat
    model instance passed as ``model`` can be reused from call to call.

    Example:
        >>> result = reflect("What is 17 * 23?", model="local:qwen2.5-coder-1.5b")  # doctest: +SKIP
        >>> result.output, result.stop_reason  # doctest: +SKIP
        ('17 × 23 = 391. The answer is 391.', 'agreed')
    """
    return run_sync(areflect(question, **options))


def merge_update(state: dict[str, Any], update: dict[str, Any]) -> None:
    """Lay one node's update over ``state`` the way the graph's reducers do."""
    for key, value in update.items():
        reducer = _REDUCERS.get(key)
        state[key] = reducer(state.get(key), value) if reducer else value


_REDUCERS: dict[str, Any] = {
    "drafts": merge_drafts,
    "critiques": append_critiques,
    "usage": sum_usage,
}


def _partial(values: dict[str, Any]) -> ReflectionResult | None:
    """What a failed run had: every draft, and as its answer the samples' choice so far."""
    from agent.strategies.sampling import choose

    drafts = values.get("drafts") or []
    if not drafts:
        return None
    question = values.get("asked", "")
    best = drafts[0]
    if len(drafts) > 1 and all(d["round"] == 0 for d in drafts):
        kind = settle_kind(values.get("kind", ""), question, [d["output"] for d in drafts])
        best = drafts[choose(drafts, [], kind, question)]
    return ReflectionResult(
        question=question,
        output=best["output"],
        thinking=best["thinking"],
        reflections=best["reflections"],
        drafts=drafts,
        critiques=values.get("critiques") or [],
        rounds=values.get("rounds", 0),
        stop_reason="error",
        usage=values.get("usage") or empty_usage(),
    )


def describe_failure(exc: BaseException, model: Any) -> str:
    """One line that says what failed, where, and what to do; never contains an API key."""
    model = chat_model_of(model) or model
    server = _server_of(model)
    text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    names = {cls.__name__ for cls in type(exc).__mro__}
    status = getattr(exc, "status_code", None) or getattr(
        getattr(exc, "response", None), "status_code", None
    )
    if names & {"TimeoutException", "APITimeoutError", "TimeoutError", "ReadTimeout"}:
        message = (
            f"the model server at {server} timed out after retries: raise REFLECT_TIMEOUT "
            f"(now {call_timeout():g}s per call) or use a faster model"
        )
    elif status == 400 and "context" in text.lower():
        message = (
            f"the prompt does not fit the model's context at {server} ({text}): shorten the "
            "question or use a model with a longer context"
        )
    elif "DroppedReply" in names:
        message = f"the model server at {server} kept cutting its replies short: {text}"
    elif "EmptyReply" in names:
        message = (
            f"the model at {server} gave an empty reply to every attempt: check that the "
            "model is loaded and its chat template works, or pick another --model"
        )
    elif names & {
        "ConnectError",
        "APIConnectionError",
        "ConnectionError",
        "ConnectionRefusedError",
    }:
        if type(model).__name__ == "ChatOllama":
            hint = "start Ollama (`ollama serve`), set OLLAMA_HOST, or pick another --model"
        else:
            hint = "start the server, fix the base URL, or pick another --model"
        message = f"cannot reach the model server at {server}: {hint}"
    elif status in (401, 403):
        message = f"the server at {server} refused the API key (HTTP {status}): check the key"
    elif status == 404:
        message = f"the server at {server} does not know this model (HTTP 404): check the name"
    else:
        message = f"the model call to {server} failed after retries: {text}"
    return redact(message)


def _server_of(model: Any) -> str:
    for attr in ("base_url", "openai_api_base"):
        value = getattr(model, attr, None)
        if value:
            return str(value)
    if type(model).__name__ == "ChatOllama":
        return os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434"
    if type(model).__name__ == "ChatOpenAI":
        return os.environ.get("OPENAI_BASE_URL") or "the OpenAI API"
    return str(getattr(model, "model_path", None) or type(model).__name__)
