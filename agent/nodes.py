"""What every strategy shares: the first and last nodes, and the helpers for a model call.

``intake`` takes the question in; ``answer`` drafts once (baseline, single, native and the
critique strategy); ``finalize`` picks the draft that earned its place and appends it as the
AI message. The strategies (``agent.strategies``) run in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import weakref
from asyncio import AbstractEventLoop, get_running_loop
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.callbacks import (
    AsyncCallbackHandler,
    BaseCallbackManager,
    adispatch_custom_event,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGenerationChunk, GenerationChunk
from langchain_core.runnables import RunnableConfig, ensure_config
from langgraph.runtime import Runtime

from agent import answers, checks
from agent.context import ChatModel, Context, ModelSpec, Settings, resolve_settings
from agent.errors import ConfigError
from agent.models import aresolve_model, chat_model_of, model_label, spec_label, with_fields
from agent.parsing import message_text, parse_reflection, provider_reasoning, strip_tags
from agent.prompts import Prompts
from agent.result import Check, Draft, ReflectionResult, Usage, empty_usage
from agent.state import State

# Models that reason by themselves; DeepSeek-R1's authors advise against a system prompt.
_NATIVE_THINKERS = re.compile(r"r1\b|qwen3|think|reason|\bo[134]\b|gpt-5|deepseek", re.IGNORECASE)


@dataclass(frozen=True)
class Env:
    """What a node needs besides the state: the graph's defaults, prompts and model instances.

    Attributes:
        defaults: The factory's settings; models by name.
        prompts: The prompts.
        model: A chat model instance given to the factory, standing for ``defaults.model``.
        critic_model: The same for the critic.
    """

    defaults: Context
    prompts: Prompts
    model: ChatModel | None = None
    critic_model: ChatModel | None = None

    def settings(self, runtime: Runtime[Context] | None) -> Settings:
        """The run's settings: the defaults with ``runtime.context`` laid over them."""
        return resolve_settings(
            self.defaults,
            runtime.context if runtime else None,
            model=self.model,
            critic_model=self.critic_model,
        )


def strategy(settings: Settings) -> Any:
    """The registry's part that runs this mode: ``vote`` samples, ``prompted`` its strategy."""
    from agent.strategies import PARTS, STRATEGIES  # the registry imports this module

    if settings.mode == "vote":
        return next(p for p in PARTS if p.name == "sampling")
    return STRATEGIES[settings.strategy] if settings.mode == "prompted" else None


def samples_answers(settings: Settings) -> bool:
    """Whether the run samples several solutions (vote, or a strategy that starts so)."""
    part = strategy(settings)
    return part is not None and (settings.mode == "vote" or part.start == "sample")


def after_answer(settings: Settings) -> str:
    """The node after a first ``answer``: the strategy's, or the end."""
    part = strategy(settings)
    return (part.after_answer if part is not None else None) or "finalize"


def checks_drafts(settings: Settings) -> bool:
    """Whether drafts get evidence checks: the modes that act on them."""
    return settings.mode in ("prompted", "vote")


async def intake(state: State, runtime: Runtime[Context], env: Env) -> dict[str, Any]:
    """Take the question in and reset the per-run fields; no model call.

    A bare ``question`` joins the conversation as a human message and is cleared, so a
    thread's next turn never sees it again, even if this run fails later. The answer kind
    and the question's checkable instructions are read here, by rules.
    """
    question = _question(state)
    settings = env.settings(runtime)  # a bad mode or effort fails before any call
    start = "sample" if samples_answers(settings) else "answer"
    return {
        "messages": [HumanMessage(question)] if state.get("question") is not None else [],
        "question": None,
        "asked": question,
        "kind": answers.kind_of_question(question) or "",
        "constraints": checks.extract(question) if checks_drafts(settings) else [],
        "drafts": None,
        "critiques": None,
        "usage": None,
        "rounds": 0,
        "started": time.time(),
        "batch": list(range(min(settings.samples, settings.max_concurrency))),
        "route": start,
        "stop_reason": "answered",
    }


async def answer(state: State, runtime: Runtime[Context], env: Env) -> dict[str, Any]:
    """One first draft: a tagged answer (single), a native reply, or a plain answer."""
    settings = env.settings(runtime)
    model = await resolve(settings, settings.model, native=settings.mode == "native")
    messages = answer_messages(env, settings, model, state["asked"], history(state))
    reply, seconds = await call(model, messages, "generator")
    draft = make_draft(0, 0, reply, seconds)
    if checks_drafts(settings):
        draft = await with_checks(draft, state, settings)
    await emit(runtime, {"event": "draft", "round": 0, "output": draft["output"]})
    await emit_checks(runtime, draft)
    kind = answers.settle_kind(state["kind"], state["asked"], [draft["output"]])
    return {
        "drafts": [draft],
        "usage": usage_of(reply),
        "kind": kind,
        "route": after_answer(settings),
    }


def answer_messages(
    env: Env, settings: Settings, model: ChatModel, question: str, past: list[BaseMessage]
) -> list[BaseMessage]:
    """The messages of a first answer in this mode."""
    if settings.mode == "single":
        return [*tagged_shots(env, settings), *past, HumanMessage(question)]
    system = settings.system
    if settings.mode == "native" and not _NATIVE_THINKERS.search(model_label(model)):
        system = join(env.prompts.texts["reflection_system"], system)
    head: list[BaseMessage] = [SystemMessage(system)] if system else []
    return [*head, *past, HumanMessage(question)]


def tagged_shots(env: Env, settings: Settings) -> list[BaseMessage]:
    """The tagged-answer system prompt and the worked example exchange."""
    system = join(env.prompts.texts["generate_system"], settings.system)
    shots = [
        HumanMessage(text) if role == "user" else AIMessage(text)
        for role, text in env.prompts.examples
    ]
    return [SystemMessage(system), *shots]


async def finalize(state: State, runtime: Runtime[Context], env: Env) -> dict[str, Any]:
    """Choose the draft that earned its place and append the answer as an AI message."""
    settings = env.settings(runtime)
    drafts, critiques = state["drafts"], state.get("critiques") or []
    kind = answers.settle_kind(state.get("kind", ""), state["asked"], [d["output"] for d in drafts])
    part = strategy(settings)
    chosen, first, notes = 0, list[str](), list[str]()
    if part is not None and part.finish is not None:
        chosen, first, notes = part.finish(drafts, critiques, kind, state["asked"])
    if samples_answers(settings):
        await emit(runtime, {"event": "tally", "note": first[0]})
    best = drafts[chosen]
    result = ReflectionResult(
        question=state["asked"],
        output=best["output"],
        thinking=best["thinking"],
        reflections=[*first, *checks.summary(best["checks"]), *best["reflections"], *notes],
        drafts=drafts,
        critiques=critiques,
        chosen=chosen,
        rounds=state["rounds"],
        stop_reason=state["stop_reason"],
        kind=kind,
        checks=best["checks"],
        usage=state["usage"],
        mode=settings.mode,
        model=spec_label(settings.model),
        seconds=round(time.time() - state["started"], 3),
    )
    await emit(
        runtime, {"event": "final", "output": result.output, "stop_reason": result.stop_reason}
    )
    reasoning = "\n".join(x for x in (result.thinking, *result.reflections) if x)
    blocks: list[str | dict[str, Any]] = []
    if reasoning:
        blocks.append({"type": "reasoning", "reasoning": reasoning})
    blocks.append({"type": "text", "text": result.output})
    message = AIMessage(
        content=blocks,
        usage_metadata={
            "input_tokens": result.usage["input_tokens"],
            "output_tokens": result.usage["output_tokens"],
            "total_tokens": result.usage["input_tokens"] + result.usage["output_tokens"],
        },
        response_metadata={"stop_reason": result.stop_reason, "model_name": result.model},
    )
    return {"messages": [message], "result": result.to_dict()}


def budget_stop(state: State, settings: Settings, *, check_rounds: bool) -> str | None:
    """The budget a next model call would break, if any: rounds, tokens or time."""
    if check_rounds and state["rounds"] >= settings.max_rounds:
        return "max_rounds"
    usage = state["usage"]
    if usage["input_tokens"] + usage["output_tokens"] >= settings.max_tokens:
        return "token_budget"
    if time.time() - state["started"] >= settings.max_seconds:
        return "time_budget"
    return None


def _question(state: State) -> str:
    question = state.get("question")
    if question is None:
        humans = [m for m in state.get("messages") or [] if m.type == "human"]
        if not humans:
            raise ConfigError(
                "no question: pass messages ending with a human message, or question="
            )
        question = message_text(humans[-1].content)
    if not question.strip():
        raise ConfigError("the question is empty: ask something")
    return question.strip()


def history(state: Any) -> list[BaseMessage]:
    """The conversation before the question (the last human message), as plain text."""
    messages: list[AnyMessage] = list(state.get("messages") or [])
    humans = [i for i, m in enumerate(messages) if m.type == "human"]
    earlier = messages[: humans[-1]] if humans else messages
    return [
        HumanMessage(message_text(m.content))
        if m.type == "human"
        else AIMessage(message_text(m.content))
        for m in earlier
        if m.type in ("human", "ai") and message_text(m.content).strip()
    ]


# Models built from a name, per event loop: a run's nodes and samples share one client
# instead of opening one each (LangGraph Server runs every run in one loop). Clients are
# bound to their loop, so a new loop builds its own; they go when the loop goes.
_BUILT: weakref.WeakKeyDictionary[AbstractEventLoop, dict[tuple[str, bool, Any], ChatModel]]
_BUILT = weakref.WeakKeyDictionary()


async def resolve(settings: Settings, spec: ModelSpec | None, *, native: bool = False) -> ChatModel:
    """The chat model for ``spec``: an instance as is, a name built once per event loop."""
    if spec is not None and not isinstance(spec, str):
        return spec
    built = _BUILT.setdefault(get_running_loop(), {})
    key = (spec or "", native, settings.temperature)
    if key not in built:
        built[key] = await aresolve_model(spec, native=native, temperature=settings.temperature)
    return built[key]


async def call(
    model: ChatModel, messages: list[BaseMessage], role: str, *tags: str
) -> tuple[AIMessage, float]:
    """One model call, tagged for streaming.

    A reply stream cut short, a stream with nothing in it and an empty answer are errors
    that the graph's retry policy retries (``DroppedReply``, ``EmptyReply``).
    """
    start = time.perf_counter()
    config: RunnableConfig = {"tags": [f"reflect:{role}", *tags], **_splitting(role, tags)}
    chat = chat_model_of(model)
    try:
        try:
            reply = await model.ainvoke(messages, config=config)
        except Exception as exc:
            # Ollama refuses `think` for models without thinking support; ask again without.
            if getattr(chat, "reasoning", None) is not True or "support thinking" not in str(exc):
                raise
            plain = with_fields(model, reasoning=None)
            reply = await plain.ainvoke(messages, config=config)
    except ValueError as exc:
        # langchain-core's answer to a stream that ended before its first chunk.
        if "no generations found in stream" in str(exc).lower():
            raise DroppedReply("the server closed the reply stream before any text") from exc
        raise
    if not isinstance(reply, AIMessage):
        reply = AIMessage(content=getattr(reply, "content", reply))
    if _cut_short(chat, reply):
        raise DroppedReply("the server closed the reply stream before it finished")
    if role == "generator" and _empty(reply):
        # An empty critique is an unclear verdict (it changes nothing); an empty answer is
        # no answer at all.
        raise EmptyReply("the model's reply was empty")
    return reply, time.perf_counter() - start


async def ask_critic(
    env: Env, settings: Settings, system: str, prompt: str, *, most_tokens: int | None = None
) -> tuple[str, Usage, float]:
    """One critic call: the named system prompt, then ``prompt``.

    ``most_tokens`` caps the reply, for answers of a fixed short form.
    """
    critic = await resolve(settings, settings.critic_model or settings.model)
    if most_tokens is not None:
        fields = type(inner).model_fields if (inner := chat_model_of(critic)) else {}
        field = next((f for f in ("max_tokens", "num_predict") if f in fields), None)
        if field is not None:
            critic = with_fields(critic, **{field: most_tokens})
    messages = [SystemMessage(env.prompts.texts[system]), HumanMessage(prompt)]
    reply, seconds = await call(critic, messages, "critic")
    return message_text(reply.content), usage_of(reply), seconds


_STREAM_TAG = re.compile(r"<\s*(/?)\s*(thinking|think|reflection|output)\s*>", re.IGNORECASE)


class _Splitter:
    """Splits streamed reply text into thinking and answer text as the tags go by.

    A tag split across two tokens is held back until it is whole. Text outside any tag
    counts as answer text: a stream cannot know yet whether a bare ``</think>`` follows.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []  # the open sections, innermost last
        self.pending = ""

    @property
    def part(self) -> str:
        return self.parts[-1] if self.parts else "text"

    def feed(self, text: str) -> list[tuple[str, str]]:
        buffer, self.pending = self.pending + text, ""
        out: list[tuple[str, str]] = []
        pos = 0
        for match in _STREAM_TAG.finditer(buffer):
            if match.start() > pos:
                out.append((self.part, buffer[pos : match.start()]))
            pos = match.end()
            if match.group(1) == "/":
                if self.parts:
                    self.parts.pop()
            else:
                self.parts.append("text" if match.group(2).lower() == "output" else "thinking")
        rest = buffer[pos:]
        cut = rest.rfind("<")
        if cut != -1 and ">" not in rest[cut:] and len(rest) - cut < 16:
            rest, self.pending = rest[:cut], rest[cut:]
        if rest:
            out.append((self.part, rest))
        return out


class _SplitStream(AsyncCallbackHandler):
    """Sends a streamed reply to LangChain's event stream as ``thinking`` and ``text`` events.

    ``astream_events`` listeners then get the reasoning apart from the answer, whatever tags
    (``<think>``, ``<thinking>``, ``<output>``) or provider field carried it.
    """

    def __init__(self, parent: RunnableConfig, role: str, index: int | None) -> None:
        self.parent, self.role, self.index = parent, role, index
        self.splitter = _Splitter()

    async def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: GenerationChunk | ChatGenerationChunk | None = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Split one streamed token and dispatch its pieces."""
        message = getattr(chunk, "message", None)
        reasoning = provider_reasoning(message) if message is not None else ""
        pieces = [("thinking", reasoning)] if reasoning else []
        pieces += self.splitter.feed(token if isinstance(token, str) else "")
        for part, text in pieces:
            data = {"event": part, "text": text, "role": self.role, "index": self.index}
            with contextlib.suppress(RuntimeError):
                await adispatch_custom_event(part, data, config=self.parent)


def _splitting(role: str, tags: tuple[str, ...]) -> RunnableConfig:
    """The callbacks of a model call: the node's own, plus a ``_SplitStream``."""
    parent = ensure_config()
    inherited = parent.get("callbacks")
    if not isinstance(inherited, BaseCallbackManager):
        return {}
    index = next((int(t.rsplit(":", 1)[1]) for t in tags if t.startswith("reflect:sample:")), None)
    manager = inherited.copy()
    manager.add_handler(_SplitStream(parent, role, index), inherit=False)
    return {"callbacks": manager}


class DroppedReply(ConnectionError):
    """A streamed reply ended without the server's end marker; retried like a lost connection."""


class EmptyReply(ConnectionError):
    """The model answered with nothing (no text, no reasoning); retried, never an answer."""


def _empty(reply: AIMessage) -> bool:
    if reply.tool_calls or provider_reasoning(reply):
        return False
    return not strip_tags(message_text(reply.content)).strip()


def _cut_short(model: BaseChatModel | None, reply: AIMessage) -> bool:
    # OpenAI-style and Ollama streams mark their last chunk; the SDKs return whatever
    # arrived when the connection drops, which would pass a half answer off as whole.
    meta = reply.response_metadata or {}
    if type(model).__name__ == "ChatOllama":
        return not meta.get("done")
    if meta.get("model_provider") == "openai":
        return not meta.get("finish_reason")
    return False


def make_draft(index: int, round_: int, reply: AIMessage, seconds: float) -> Draft:
    """A draft from a reply: reasoning tags split off, the rest of the reply whole.

    A reply without tags is the answer as it stands: its work, its code, its list. Only a
    tagged reply that never reached ``<output>`` ends in its thinking; then the thinking's
    last line is the answer.
    """
    text = message_text(reply.content)
    parsed = parse_reflection(text)
    thinking = join(provider_reasoning(reply), parsed.thinking)
    output = parsed.output
    if not output and thinking:
        output = thinking.splitlines()[-1].strip()
    usage = usage_of(reply)
    return Draft(
        index=index,
        round=round_,
        text=text,
        thinking=thinking,
        reflections=parsed.reflections,
        output=output,
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
        seconds=round(seconds, 3),
        checks=[],
    )


async def write_revision(
    settings: Settings,
    state: Any,
    runtime: Runtime[Context] | None,
    prompt: str,
    *,
    round_: int,
    past: list[BaseMessage] | None = None,
) -> tuple[Draft, Usage]:
    """A revision (or reconciliation): one generator call on ``prompt``, checked and streamed."""
    model = await resolve(settings, settings.model)
    head: list[BaseMessage] = [SystemMessage(settings.system)] if settings.system else []
    reply, seconds = await call(model, [*head, *(past or []), HumanMessage(prompt)], "generator")
    draft = make_draft(len(state["drafts"]), round_, reply, seconds)
    draft = await with_checks(draft, state, settings)
    await emit(runtime, {"event": "revision", "round": round_, "output": draft["output"]})
    await emit_checks(runtime, draft)
    return draft, usage_of(reply)


async def with_checks(draft: Draft, state: Any, settings: Settings) -> Draft:
    """The draft with the evidence programs can establish about it (``agent.checks``).

    Runs off the event loop: with ``run_code`` a check is a child process.
    """
    kind = state.get("kind") or answers.kind_of(state["asked"], [draft["output"]])
    found = await asyncio.to_thread(
        checks.run_checks,
        state["asked"],
        strip_tags(draft["text"]),
        draft["output"],
        kind=kind,
        constraints=state.get("constraints") or [],
        run_code=settings.run_code,
    )
    return {**draft, "checks": found}


async def emit_checks(runtime: Runtime[Context] | None, draft: Draft) -> None:
    """Stream a draft's checks, one ``check`` event each."""
    for check in draft["checks"]:
        await emit(runtime, {"event": "check", "draft": draft["index"], **_public(check)})


def _public(check: Check) -> dict[str, Any]:
    return {**check, "line": checks.line_of(check)}


def for_review(draft: Draft) -> str:
    """A draft as a critic or reviser reads it: its reasoning and its answer."""
    work = strip_tags(join(draft["thinking"], "\n".join(draft["reflections"]))).strip()
    answer_text = strip_tags(draft["output"]).strip()
    return f"{work}\n\nFinal answer:\n{answer_text}".strip() if work else answer_text


def usage_of(reply: AIMessage) -> Usage:
    """Tokens and one call, from a reply's usage metadata."""
    meta: dict[str, Any] = dict(reply.usage_metadata or {})
    usage = empty_usage()
    usage["input_tokens"] = int(meta.get("input_tokens", 0))
    usage["output_tokens"] = int(meta.get("output_tokens", 0))
    usage["calls"] = 1
    return usage


async def emit(runtime: Runtime[Context] | None, event: dict[str, Any]) -> None:
    """Send a custom event to both kinds of listener.

    LangGraph's ``stream_mode="custom"`` gets the dict as it is; LangChain's event stream
    (``astream_events(version="v2")``, and callback handlers) gets an ``on_custom_event``
    named after its ``event`` field, with the dict as its data.
    """
    if runtime is not None and runtime.stream_writer is not None:
        runtime.stream_writer(event)
    with contextlib.suppress(RuntimeError):  # no parent run: nobody listens to callbacks
        await adispatch_custom_event(str(event["event"]), event)


def join(*parts: str) -> str:
    """Non-empty parts, stripped, one blank line apart."""
    return "\n\n".join(p.strip() for p in parts if p and p.strip())
