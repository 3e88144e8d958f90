"""``ChatReflection``: the reflection graph as a LangChain chat model, for chains and agents.

Also the two pieces the OpenAI-compatible endpoint (``agent.serve``) shares with it: how a
conversation becomes one question (``question_of``) and how a run's events read as
reasoning text (``Narration``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from typing import Any, cast

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.runnables.config import var_child_runnable_config
from pydantic import ConfigDict, Field

from agent import aio
from agent.api import ReflectionRun, aclose_model
from agent.context import SETTINGS, Context, make_context
from agent.errors import ConfigError
from agent.events import RunEvent
from agent.models import aresolve_model, model_label
from agent.result import ReflectionResult

PASSED_THROUGH = "passed through: tools are bound, so the wrapped model answered without reflection"
_DONE = object()
_LABELS = {
    "answer": "thinking",
    "critique": "checking",
    "revise": "revising",
    "contrast": "comparing the solutions",
    "reconcile": "reconciling",
    "select": "choosing the most consistent solution",
}


def question_of(messages: Sequence[BaseMessage]) -> tuple[str, str]:
    """The question a conversation asks, and its system instructions.

    One user message is the question itself. A longer conversation becomes a transcript
    that ends with the user's last message, since a run answers one question.

    Returns:
        ``(question, system)``: ``system`` joins the system messages' text ("" if none).

    Raises:
        ConfigError: No user message, the last message is not the user's, or a part that
            is not text (an image).
    """
    system = [_text_of(m) for m in messages if isinstance(m, SystemMessage)]
    turns = [m for m in messages if not isinstance(m, SystemMessage)]
    if not turns or not isinstance(turns[-1], HumanMessage):
        raise ConfigError("the last message must be the user's: it is the question to answer")
    question = _text_of(turns[-1])
    if len(turns) > 1:
        said = "\n\n".join(
            f"{'User' if isinstance(m, HumanMessage) else 'Assistant'}: {_text_of(m)}"
            for m in turns[:-1]
        )
        question = (
            f"The conversation so far:\n\n{said}\n\nAnswer the user's last message:\n\n{question}"
        )
    return question, "\n\n".join(s for s in system if s)


def _text_of(message: BaseMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    parts: list[str] = []
    for part in message.content:
        if isinstance(part, str):
            parts.append(part)
        elif part.get("type") == "text":
            parts.append(str(part.get("text", "")))
        elif part.get("type") not in ("reasoning", "thinking"):
            raise ConfigError(f"a {part.get('type')!r} part cannot be reflected on: send text")
    return "".join(parts)


class Narration:
    """A run's events as reasoning text: thinking, sample progress, checks, reflections.

    What ``reflect ask`` shows, as plain text. Samples drawn in parallel would interleave
    their tokens, so one streams live and the others are held and written whole, each
    under its own heading, when the live one is done.

    Args:
        parallel: Whether the run draws its samples in parallel.
    """

    def __init__(self, *, parallel: bool) -> None:
        self.parallel = parallel
        self.heading: tuple[str, int] | None = None
        self.owner: int | None = None  # the parallel sample streaming live
        self.held: dict[int, list[str]] = {}
        self.finished: set[int] = set()
        self.started = False

    def feed(self, run_event: RunEvent) -> str:
        """The reasoning text this event adds (often "")."""
        event: dict[str, Any] = dict(run_event)
        name = event["event"]
        if name == "token":
            node, index, text = str(event["node"]), int(event["index"]), str(event["text"])
            if node == "sample" and self.parallel:
                return self._sample(index, text)
            return self._under(node, index) + text
        if name == "sample" and self.parallel:
            text = self._sample(event["index"], _sample_line(event["index"], event["output"]))
            self.finished.add(event["index"])
            return text
        if name == "check":
            if event["passed"] and event["kind"] == "calculator":
                return ""
            line = f"\n{event['line']}\n"
            if self.parallel and (event["draft"] in self.held or event["draft"] == self.owner):
                return self._sample(event["draft"], line)
            return line
        text = self._release(everything=True)
        self.heading = None
        if name == "sample":
            text += _sample_line(event["index"], event["output"])
        elif name == "critique":
            if event["verdict"] == "select":
                note = f"solution {event['draft'] + 1} is the most consistent: {event['error']}"
                text += f"\n⟲ reflection: {note}\n"
            else:
                detail = f": {event['error']}" if event["error"] else ""
                text += f"\n⟲ reflection {event['round']}: {event['verdict'].upper()}{detail}\n"
        elif name == "revision":
            text += f"\n✎ revised answer: {event['output'][:300]}\n"
        elif name == "tally":
            text += f"\n⟲ reflection: {event['note']}\n"
        elif name == "round":
            text += f"\n⟲ the solutions disagree: drawing {len(event['samples'])} more\n"
        elif name == "resumed":
            text += (
                f"already answered in thread {event['thread']}\n"
                if event["finished"]
                else f"resumed thread {event['thread']}: {event['drafts']} draft(s) kept\n"
            )
        return text

    def _under(self, node: str, index: int) -> str:
        """A heading when the stream moves to another call, else ""."""
        if (node, index) == self.heading:
            return ""
        self.heading = (node, index)
        label = _LABELS.get(node, node)
        if node == "sample":
            label = "thinking" if index == 0 else f"solution {index + 1}"
        lead = "\n\n" if self.started else ""
        self.started = True
        return f"{lead}── {label} ──\n"

    def _sample(self, index: int, piece: str) -> str:
        if self.owner is not None and index != self.owner and self.owner in self.finished:
            text = self._release(everything=False)
        else:
            text = ""
        if self.owner is None:
            self.owner = index
            text += self._under("sample", index) + "".join(self.held.pop(index, []))
        if index == self.owner:
            return text + piece
        if index not in self.held:
            self.held[index] = [self._heading_text(index)]
        self.held[index].append(piece)
        return text

    def _heading_text(self, index: int) -> str:
        return "\n\n── thinking ──\n" if index == 0 else f"\n\n── solution {index + 1} ──\n"

    def _release(self, *, everything: bool) -> str:
        """The live sample is done: write the held ones, finished ones whole."""
        self.owner = None
        text = ""
        while self.held:
            index = min(self.held)
            pieces = self.held.pop(index)
            self.heading = ("sample", index)
            self.started = True
            text += "".join(pieces)
            if index not in self.finished and not everything:
                self.owner = index
                break
        return text


def _sample_line(index: int, output: str) -> str:
    last = (output.strip().splitlines() or ["(empty)"])[-1]
    return f"\n⟲ solution {index + 1}: {last[:200]}\n"


class ChatReflection(BaseChatModel):
    """Any chat model, made to think, reflect and answer: a LangChain chat model.

    ``invoke``/``ainvoke``/``stream``/``astream`` run the reflection graph on the
    conversation (``question_of``) and return an ``AIMessage`` whose content is a
    ``reasoning`` block (the thinking, the samples' progress, the reflections) and a
    ``text`` block (the answer), with exact ``usage_metadata`` summed over every call.
    Streaming yields the reasoning as it happens, then the answer. It is reusable from
    call to call, sync or async, also inside a running event loop: sync calls run on the
    library's background loop (``agent.aio``), like ``reflect``.

    With tools bound (``bind_tools``, as agents do) a call is passed through to the wrapped
    model, tools and all, without reflection: the graph answers questions, it does not
    call tools. Such replies say so in ``response_metadata["reflection"]``.
    ``with_structured_output`` reflects first, then has the wrapped model format the
    reflected answer.

    Args:
        model: The model to reflect with: a name (``"ollama:qwen2.5:7b"``) or a chat model
            instance; ``None`` for ``$REFLECT_MODEL`` or the embedded model.
        critic_model: The critic's model, if another.
        context: The settings, as a ``Context``; keywords named as its fields
            (``effort="low"``) lay over it.
        checkpoint: A SQLite file or ``postgresql://`` URL where each run's steps are saved.

    Example:
        >>> llm = ChatReflection("ollama:qwen2.5:7b", effort="low")  # doctest: +SKIP
        >>> llm.invoke("What is 17 * 23?").text  # doctest: +SKIP
        '17 × 23 = 391.'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: Any = None
    critic_model: Any = None
    context: Context = Field(default_factory=Context)
    checkpoint: str | None = None

    def __init__(
        self,
        model: str | Runnable[Any, Any] | None = None,
        *,
        critic_model: str | Runnable[Any, Any] | None = None,
        context: Context | None = None,
        checkpoint: str | None = None,
        **options: Any,
    ) -> None:
        own = {k: options.pop(k) for k in list(options) if k not in SETTINGS}
        fields: dict[str, Any] = {
            "model": model,
            "critic_model": critic_model,
            "context": make_context(context, **options),
            "checkpoint": checkpoint,
        }
        super().__init__(**fields, **own)

    @property
    def _llm_type(self) -> str:
        return "reflection"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        named = self.model if self.model is None or isinstance(self.model, str) else None
        return {
            "model": named or model_label(self.model),
            **{k: v for k, v in vars(self.context).items() if v is not None},
        }

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:
        """Bind tools: calls then go straight to the wrapped model (see the class doc)."""
        return self.bind(tools=list(tools), tool_options=kwargs)

    def with_structured_output(
        self, schema: Any, **kwargs: Any
    ) -> Runnable[LanguageModelInput, Any]:
        """Reflect, then have the wrapped model give the reflected answer as ``schema``.

        Args:
            schema: What the wrapped model's ``with_structured_output`` takes.
            **kwargs: Passed to it (``method``, ``include_raw``, …).
        """

        async def structure(messages: list[BaseMessage], answer: str) -> Any:
            async with self._wrapped() as chat:
                formatter = chat.with_structured_output(schema, **kwargs)
                return await formatter.ainvoke(
                    [
                        *messages,
                        AIMessage(content=answer),
                        HumanMessage(
                            "Give your answer above, unchanged, in the structured form asked."
                        ),
                    ]
                )

        async def aformat(value: LanguageModelInput) -> Any:
            messages = self._convert_input(value).to_messages()
            answer = await self.ainvoke(messages)
            background = aio.background_loop()
            if asyncio.get_running_loop() is background:
                return await structure(messages, answer.text)
            # On the loop every call of the wrapped model runs on (see ``_aevents``).
            done = asyncio.run_coroutine_threadsafe(structure(messages, answer.text), background)
            return await asyncio.wrap_future(done)

        def format_(value: LanguageModelInput) -> Any:
            return aio.run_sync(aformat(value))

        return RunnableLambda(format_, afunc=aformat, name="ChatReflection.structured")

    @contextlib.asynccontextmanager
    async def _wrapped(self) -> AsyncIterator[Any]:
        """The wrapped chat model; one built from a name is closed after use."""
        chat = await aresolve_model(self.model, temperature=self.context.temperature)
        try:
            yield chat
        finally:
            if not isinstance(self.model, Runnable):
                await aclose_model(chat)

    async def _drive(
        self, messages: list[BaseMessage], put: Callable[[Any], Any], kwargs: dict[str, Any]
    ) -> None:
        """Run the graph (or the pass-through) and ``put`` each event, then ``_DONE``."""
        try:
            if kwargs.get("tools"):
                async with self._wrapped() as chat:
                    bound = chat.bind_tools(kwargs["tools"], **kwargs.get("tool_options", {}))
                    reply = await bound.ainvoke(messages)
                put(("passthrough", reply))
            else:
                question, system = question_of(messages)
                context = self.context
                if system:
                    context = make_context(
                        context, system="\n\n".join(s for s in (context.system, system) if s)
                    )
                run = ReflectionRun(
                    question,
                    model=self.model,
                    critic_model=self.critic_model,
                    context=context,
                    checkpoint=self.checkpoint,
                )
                put(("parallel", run.parallel))
                events = cast(
                    AsyncGenerator[RunEvent, None], run.events(tokens=kwargs.get("tokens", True))
                )
                async with contextlib.aclosing(events):
                    async for event in events:
                        put(event)
            put(_DONE)
        except BaseException as exc:
            put(exc)
            if not isinstance(exc, Exception):
                raise

    async def _aevents(
        self, messages: list[BaseMessage], kwargs: dict[str, Any]
    ) -> AsyncIterator[Any]:
        items: asyncio.Queue[Any] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        background = aio.background_loop()
        cancel: Callable[[], Any]
        if loop is background:
            # The run is ChatReflection's own, not a child of the caller's: the graph's
            # tokens would otherwise reach a parent's stream too, besides these chunks.
            isolated = contextvars.copy_context()
            isolated.run(var_child_runnable_config.set, None)
            task = loop.create_task(
                self._drive(messages, items.put_nowait, kwargs), context=isolated
            )
            cancel = task.cancel
        else:
            # Async calls run on the background loop too, like sync ones: a wrapped model's
            # async HTTP client is bound to the first loop that used it, so an instance
            # must always meet the same one.
            def put(item: Any) -> None:
                with contextlib.suppress(RuntimeError):  # the caller's loop has closed
                    loop.call_soon_threadsafe(items.put_nowait, item)

            future = asyncio.run_coroutine_threadsafe(
                self._drive(messages, put, kwargs), background
            )
            cancel = future.cancel
        try:
            while (item := await items.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancel()

    def _events(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> Iterator[Any]:
        items: queue.SimpleQueue[Any] = queue.SimpleQueue()
        drive = self._drive(messages, items.put, kwargs)
        if threading.current_thread() is aio._thread:
            # A sync call from a coroutine on the background loop: that loop cannot wait
            # for itself, so this call runs on a private loop in a thread.
            worker = threading.Thread(target=asyncio.run, args=(drive,), daemon=True)
            worker.start()
            cancel: Callable[[], Any] = lambda: None  # noqa: E731
        else:
            future = asyncio.run_coroutine_threadsafe(drive, aio.background_loop())
            cancel = future.cancel
        try:
            while (item := items.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancel()

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        chunker = _Chunker()
        for item in self._events(messages, kwargs):
            for chunk in chunker.feed(item):
                if run_manager is not None and chunk.text:
                    run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        chunker = _Chunker()
        async for item in self._aevents(messages, kwargs):
            for chunk in chunker.feed(item):
                if run_manager is not None and chunk.text:
                    await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        chunker = _Chunker()
        for item in self._events(messages, {**kwargs, "tokens": False}):
            chunker.feed(item)
        return chunker.result()

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        chunker = _Chunker()
        async for item in self._aevents(messages, {**kwargs, "tokens": False}):
            chunker.feed(item)
        return chunker.result()


class _Chunker:
    """``ChatReflection._drive``'s items as message chunks, and as one result at the end."""

    def __init__(self) -> None:
        self.narration = Narration(parallel=False)
        self.reply: AIMessage | None = None
        self.result_: ReflectionResult | None = None

    def feed(self, item: Any) -> list[ChatGenerationChunk]:
        if isinstance(item, tuple) and item[0] == "parallel":
            self.narration = Narration(parallel=item[1])
            return []
        if isinstance(item, tuple) and item[0] == "passthrough":
            reply: AIMessage = item[1]
            reply.response_metadata = {**reply.response_metadata, "reflection": PASSED_THROUGH}
            self.reply = reply
            chunk = AIMessageChunk(
                content=reply.content,
                tool_calls=reply.tool_calls,
                usage_metadata=reply.usage_metadata,
                response_metadata=reply.response_metadata,
                id=reply.id,
            )
            return [ChatGenerationChunk(message=chunk)]
        if item["event"] == "result":
            result: ReflectionResult = item["result"]
            self.result_ = result
            chunk = AIMessageChunk(
                content=[{"type": "text", "text": result.output, "index": 1}],
                usage_metadata=result.usage_metadata,  # type: ignore[arg-type]
                response_metadata=_metadata(result),
                chunk_position="last",
            )
            return [ChatGenerationChunk(message=chunk)]
        text = self.narration.feed(item)
        if not text:
            return []
        block = {"type": "reasoning", "reasoning": text, "index": 0}
        return [ChatGenerationChunk(message=AIMessageChunk(content=[block]))]

    def result(self) -> ChatResult:
        if self.reply is not None:
            return ChatResult(generations=[ChatGeneration(message=self.reply)])
        assert self.result_ is not None
        result = self.result_
        content: list[str | dict[str, Any]] = []
        if result.reasoning:
            content.append({"type": "reasoning", "reasoning": result.reasoning})
        content.append({"type": "text", "text": result.output})
        message = AIMessage(
            content=content,
            usage_metadata=result.usage_metadata,
            response_metadata=_metadata(result),
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def _metadata(result: ReflectionResult) -> dict[str, Any]:
    return {
        "model_name": f"reflect-{result.mode}",
        "stop_reason": result.stop_reason,
        "kind": result.kind,
        "rounds": result.rounds,
        "calls": result.usage["calls"],
    }
