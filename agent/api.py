"""``reflect`` and ``areflect``: one question in, one ``ReflectionResult`` out."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

from langchain_core.runnables import Runnable, RunnableConfig

from agent.aio import run_sync
from agent.answers import settle_kind
from agent.context import ChatModel, Context, make_context, resolve_settings
from agent.errors import ConfigError, ModelError, ReflectionError, redact, require_utf8
from agent.events import ResultEvent, ResumedEvent, RunEvent, StreamedEvent
from agent.graph import create_reflection_graph
from agent.models import aresolve_model, call_timeout, chat_model_of, model_label
from agent.nodes import samples_answers
from agent.persist import DURABLE, checkpointed, thread_for
from agent.prompts import Prompts
from agent.result import ReflectionResult, empty_usage
from agent.state import append_critiques, merge_drafts, sum_usage
from agent.strategies.sampling import choose

T = TypeVar("T")


class ReflectionRun:
    """One run of the graph as a stream of events: the loop ``areflect`` and the CLI share.

    ``events()`` runs the graph and yields, in order (``agent.events.RunEvent``): a
    ``resumed`` event when a checkpoint already holds part of the run, every ``token`` the
    models stream, every event the graph emits, and last a ``result`` event with the
    ``ReflectionResult``. If the run fails, the error it raises
    carries ``partial()``; at any moment ``partial()`` is the answer the run would give now.

    Example:
        >>> run = ReflectionRun("What is 17 * 23?", model="local:qwen2.5-coder-1.5b")
        >>> async for event in run.events():  # doctest: +SKIP
        ...     print(event["event"])
    """

    def __init__(
        self,
        question: str,
        *,
        model: str | ChatModel | None = None,
        critic_model: str | ChatModel | None = None,
        prompts: str | Path | Prompts | None = None,
        checkpoint: str | Path | None = None,
        thread_id: str | None = None,
        context: Context | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(question, str) or not question.strip():
            raise ConfigError("the question is empty: ask something")
        require_utf8(question)
        self.question = question
        self.context = make_context(context, **options)
        # Models named in the caller's own context are the caller's choice, as the arguments
        # are: not a run's choice that REFLECT_ALLOWED_MODELS and the local-file rule refuse.
        model = model if model is not None else self.context.model
        critic_model = critic_model if critic_model is not None else self.context.critic_model
        self.context = dataclasses.replace(self.context, model=None, critic_model=None)
        self.model, self.critic_model, self.prompts = model, critic_model, prompts
        # Refuse a bad mode, budget or model before building any client.
        self.named = dataclasses.replace(
            self.context, model=_name(model), critic_model=_name(critic_model)
        )
        self.settings = resolve_settings(
            self.named, model=_chat(model), critic_model=_chat(critic_model)
        )
        self.checkpoint = checkpoint
        self.thread_id = thread_id or (
            thread_for(question, self.named) if checkpoint is not None else None
        )
        self.state: dict[str, Any] = {}
        self.result: ReflectionResult | None = None

    @property
    def parallel(self) -> bool:
        """Whether the run draws samples several at a time (a server, not the local model)."""
        return samples_answers(self.settings) and self.settings.max_concurrency > 1

    def partial(self) -> ReflectionResult | None:
        """What the run has so far, its answer chosen as the run would choose it now."""
        if self.result is not None:
            return self.result
        return _partial(self.state)

    async def events(self, *, tokens: bool = True) -> AsyncIterator[RunEvent]:
        """Run the graph and yield its events; see the class docstring.

        Args:
            tokens: Stream the models' tokens too. Without them the models are called
                without streaming, and only the graph's own events come.

        Raises:
            ConfigError: Bad input found while building the models.
            ModelError: The model failed after retries; ``error.partial`` holds the run so far.
        """
        built: list[ChatModel] = []  # clients made here, closed here; the caller's are theirs
        generator: ChatModel | None = None
        stack = contextlib.AsyncExitStack()
        settings = self.settings
        try:
            # Build named models here so that their clients close in this event loop.
            generator = await aresolve_model(
                self.model, native=settings.mode == "native", temperature=settings.temperature
            )
            critic = (
                await aresolve_model(self.critic_model, temperature=settings.temperature)
                if self.critic_model is not None
                else None
            )
            built = [
                chat
                for chat, spec in ((generator, self.model), (critic, self.critic_model))
                if chat is not None and not isinstance(spec, Runnable)
            ]
            # The models reach the graph through its factory (Context holds names only);
            # compiling is cheap next to one model call.
            builder = create_reflection_graph(generator, critic_model=critic, prompts=self.prompts)
            app: Any = builder.compile()
            config: RunnableConfig | None = None
            payload: dict[str, Any] | None = {"question": self.question}
            if self.checkpoint is not None:
                assert self.thread_id is not None
                app, config, resume = await checkpointed(
                    stack, builder, self.checkpoint, self.thread_id, self.question
                )
                self.state = dict(resume.values)
                if resume.finished or resume.resumed:
                    yield ResumedEvent(
                        event="resumed",
                        thread=self.thread_id,
                        finished=resume.finished,
                        drafts=len(self.state.get("drafts") or []),
                        critiques=len(self.state.get("critiques") or []),
                    )
                if resume.finished:
                    self.result = ReflectionResult.from_dict(resume.values["result"])
                    yield ResultEvent(event="result", result=self.result)
                    return
                payload = resume.payload
            durable = DURABLE if config is not None else {}
            stream = app.astream(
                payload,
                config,
                context=self.context,
                stream_mode=["messages", "custom", "updates"] if tokens else ["custom", "updates"],
                **durable,
            )
            async for mode, data in stream:
                if mode == "updates":
                    for values in data.values():
                        merge_update(self.state, values or {})
                elif mode == "custom":
                    yield data  # a GraphEvent, as the node built it
                else:
                    chunk, meta = data
                    tags = meta.get("tags") or []
                    if tags and chunk.text:
                        yield StreamedEvent(
                            event="token",
                            node=meta.get("langgraph_node", ""),
                            index=_sample_index(tags),
                            text=chunk.text,
                        )
        except ReflectionError as exc:
            exc.partial = exc.partial or self.partial()
            raise
        except Exception as exc:
            message = describe_failure(exc, generator if generator is not None else self.model)
            raise ModelError(message, partial=self.partial()) from exc
        finally:
            for chat in built:
                await aclose_model(chat)
            await stack.aclose()
        self.result = ReflectionResult.from_dict(self.state["result"])
        yield ResultEvent(event="result", result=self.result)


def _sample_index(tags: list[str]) -> int:
    """Which sample a streamed token belongs to, from the tags the graph puts on its calls."""
    marked = (t.rsplit(":", 1)[1] for t in tags if t.startswith("reflect:sample:"))
    return next((int(i) for i in marked if i.isdigit()), 0)


async def areflect(
    question: str,
    *,
    model: str | ChatModel | None = None,
    critic_model: str | ChatModel | None = None,
    prompts: str | Path | Prompts | None = None,
    checkpoint: str | Path | None = None,
    thread_id: str | None = None,
    context: Context | None = None,
    **options: Any,
) -> ReflectionResult:
    """Answer a question, then check it: by comparing samples (the default) or by critique.

    Takes the models and settings of ``create_reflection_graph`` (every field of ``Context``,
    as ``context`` or as keywords), and two for runs that must survive a crash:
    ``checkpoint``, a SQLite file (or a ``postgresql://`` connection string) where every
    finished step is saved, and ``thread_id`` (by default one derived from the question and
    settings). Asking the same thing again after a failure, Ctrl-C or a killed process
    resumes from the last finished step; asking it after it finished returns the saved
    answer. It drains ``ReflectionRun.events()``, the loop the command line shows.

    Returns:
        The ``ReflectionResult``: output, thinking, reflections, every draft and critique,
        rounds, stop reason and token usage.

    Raises:
        ConfigError: Bad input (empty question, unknown option, mode or model name, missing
            key).
        ModelError: The model failed after retries; ``error.partial`` holds what the run
            had produced by then.
    """
    run = ReflectionRun(
        question,
        model=model,
        critic_model=critic_model,
        prompts=prompts,
        checkpoint=checkpoint,
        thread_id=thread_id,
        context=context,
        **options,
    )
    async for _ in run.events(tokens=False):
        pass
    assert run.result is not None
    return run.result


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
        selection=values.get("selection"),
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
