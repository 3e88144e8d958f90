"""What every strategy's nodes call: the run's settings, model calls, drafts and budgets.

This module stands below the strategies (``agent.strategies``) and the dispatching nodes
(``agent.nodes``); it imports neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import weakref
from asyncio import AbstractEventLoop, get_running_loop
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple
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

from agent import answers, checks, confidence
from agent.context import ChatModel, Context, ModelSpec, Settings, resolve_settings
from agent.errors import is_refused
from agent.events import emit_critique, emit_draft, token_event
from agent.models import aresolve_model, chat_model_of, model_label, with_fields
from agent.parsing import TAG, message_text, parse_reflection, provider_reasoning, strip_tags
from agent.prompts import Prompts
from agent.result import Critique, Draft, Usage, empty_usage

# Models that reason by themselves; DeepSeek-R1's authors advise against a system prompt.
_NATIVE_THINKERS = re.compile(r"r1\b|qwen3|think|reason|\bo[134]\b|gpt-5|deepseek", re.IGNORECASE)


@dataclass(frozen=True)
class Setup:
    """What the factory gave the graph, which every node reads besides the state.

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


class Opening(NamedTuple):
    """How a strategy's node starts: the run's settings, and whether a budget is spent.

    Attributes:
        settings: The run's settings.
        stop: The update that ends the run (``route`` to ``finalize`` and the budget as its
            ``stop_reason``) when a next model call would break a budget; else ``None``.
    """

    settings: Settings
    stop: dict[str, Any] | None


def opening(
    setup: Setup, state: Any, runtime: Runtime[Context] | None, *, check_rounds: bool
) -> Opening:
    """The opening of a node that calls a model: its settings, and a stop if out of budget.

    ``check_rounds`` counts ``max_rounds`` too: a node that starts a new critique round.
    """
    settings = setup.settings(runtime)
    spent = budget_stop(state, settings, check_rounds=check_rounds)
    return Opening(settings, {"route": "finalize", "stop_reason": spent} if spent else None)


def answer_messages(
    setup: Setup, settings: Settings, model: ChatModel, question: str, past: list[BaseMessage]
) -> list[BaseMessage]:
    """The messages of a first answer in this mode."""
    if settings.mode == "single":
        return [*tagged_shots(setup, settings), *past, HumanMessage(question)]
    system = settings.system
    if settings.mode == "native" and not _NATIVE_THINKERS.search(model_label(model)):
        system = join(setup.prompts.texts["reflection_system"], system)
    head: list[BaseMessage] = [SystemMessage(system)] if system else []
    return [*head, *past, HumanMessage(question)]


def tagged_shots(setup: Setup, settings: Settings) -> list[BaseMessage]:
    """The tagged-answer system prompt and the worked example exchange."""
    system = join(setup.prompts.texts["generate_system"], settings.system)
    shots = [
        HumanMessage(text) if role == "user" else AIMessage(text)
        for role, text in setup.prompts.examples
    ]
    return [SystemMessage(system), *shots]


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


def budget_stop(state: Any, settings: Settings, *, check_rounds: bool) -> str | None:
    """The budget a next model call would break, if any: rounds, tokens or time."""
    if check_rounds and state["rounds"] >= settings.max_rounds:
        return "max_rounds"
    usage = state["usage"]
    if usage["input_tokens"] + usage["output_tokens"] >= settings.max_tokens:
        return "token_budget"
    if time.time() - state["started"] >= settings.max_seconds:
        return "time_budget"
    return None


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
    model: ChatModel,
    messages: list[BaseMessage],
    role: str,
    *tags: str,
    allow_empty: bool = False,
) -> tuple[AIMessage, float]:
    """One model call, tagged for streaming.

    A reply stream cut short, a stream with nothing in it and an empty answer are errors
    that the graph's retry policy retries (``DroppedReply``, ``EmptyReply``); with
    ``allow_empty`` (a continuation, which may end at once) an empty answer is not.
    """
    start = time.perf_counter()
    config: RunnableConfig = {"tags": [f"reflect:{role}", *tags], **_splitting(role, tags)}
    chat = chat_model_of(model)
    if getattr(chat, "logprobs", None) and _served_by(model) in _NO_LOGPROBS:
        model = with_fields(model, logprobs=None, top_logprobs=None)
        chat = chat_model_of(model)
    try:
        try:
            reply = await model.ainvoke(messages, config=config)
        except Exception as exc:
            # Ollama refuses `think` for models without thinking support, and some servers
            # refuse logprobs: ask again without what was refused.
            if getattr(chat, "reasoning", None) is True and "support thinking" in str(exc):
                plain = with_fields(model, reasoning=None)
            elif getattr(chat, "logprobs", None) and "logprob" in str(exc).lower():
                _NO_LOGPROBS.add(_served_by(model))
                plain = with_fields(model, logprobs=None, top_logprobs=None)
            else:
                raise
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
    if role == "generator" and not allow_empty and _empty(reply):
        # An empty critique is an unclear verdict (it changes nothing); an empty answer is
        # no answer at all.
        raise EmptyReply("the model's reply was empty")
    return reply, time.perf_counter() - start


async def go_on(
    model: ChatModel, messages: list[BaseMessage], prefix: str, *tags: str
) -> tuple[AIMessage, float] | None:
    """The model's continuation of ``prefix`` (a final assistant message) as its own text.

    ``None`` where the call is refused (``errors.is_refused``: no room left in the model's
    context, or a server that refuses a prefilled answer); the caller keeps what it had.
    Transient failures raise, for the graph's retry policy.
    """
    try:
        return await call(
            model, [*messages, AIMessage(prefix)], "generator", *tags, allow_empty=True
        )
    except Exception as exc:
        if is_refused(exc):
            return None
        raise


# Models whose server refused logprobs once: not asked for them again.
_NO_LOGPROBS: set[tuple[str, str]] = set()


def _served_by(model: ChatModel) -> tuple[str, str]:
    """A model as its server knows it: the server's address and the model's name."""
    chat = chat_model_of(model)
    where = getattr(chat, "openai_api_base", None) or getattr(chat, "base_url", None) or ""
    return str(where), model_label(model)


async def ask_critic(
    setup: Setup, settings: Settings, system: str, prompt: str, *, most_tokens: int | None = None
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
    messages = [SystemMessage(setup.prompts.texts[system]), HumanMessage(prompt)]
    reply, seconds = await call(critic, messages, "critic")
    return message_text(reply.content), usage_of(reply), seconds


Section = Literal["thinking", "text"]
"""A part of a streamed reply: reasoning, or the answer's text."""


class _Splitter:
    """Splits streamed reply text into thinking and answer text as the tags go by.

    A tag split across two tokens is held back until it is whole. Text outside any tag
    counts as answer text: a stream cannot know yet whether a bare ``</think>`` follows.
    """

    def __init__(self) -> None:
        self.parts: list[Section] = []  # the open sections, innermost last
        self.pending = ""

    @property
    def part(self) -> Section:
        return self.parts[-1] if self.parts else "text"

    def feed(self, text: str) -> list[tuple[Section, str]]:
        buffer, self.pending = self.pending + text, ""
        out: list[tuple[Section, str]] = []
        pos = 0
        for match in TAG.finditer(buffer):
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
        reasoning = provider_reasoning(message, piece=True) if message is not None else ""
        pieces: list[tuple[Section, str]] = [("thinking", reasoning)] if reasoning else []
        pieces += self.splitter.feed(token if isinstance(token, str) else "")
        for part, text in pieces:
            data = token_event(part, text, self.role, self.index)
            with contextlib.suppress(RuntimeError):
                await adispatch_custom_event(part, dict(data), config=self.parent)


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
        confidence=confidence.measure(reply),
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
    await emit_draft(runtime, draft, "revision")
    return draft, usage_of(reply)


def kind_of_draft(state: Any, draft: Draft) -> str:
    """The run's kind of answer, or, before it is settled, the one the draft's form shows."""
    return str(state.get("kind") or answers.kind_of(state["asked"], [draft["output"]]))


async def with_checks(draft: Draft, state: Any, settings: Settings) -> Draft:
    """The draft with the evidence programs can establish about it (``agent.checks``).

    A prose answer that fails a stated instruction code alone can meet (all lowercase, no
    commas…) is repaired first (``checks.repair``): its output becomes the repaired answer,
    a reflection says what code changed, and ``written`` keeps the model's own answer. Code
    is never repaired: lowercasing it would break it. Runs off the event loop: with
    ``run_code`` a check is a child process.
    """
    question = state["asked"]
    kind = kind_of_draft(state, draft)
    constraints = state.get("constraints") or []
    if kind != "code" and constraints:
        output, met = checks.repair(draft["output"], constraints)
        # A repair must not change what a vote counts ("B" lowercased is no letter).
        if met and answers.same_key(output, draft["output"], kind, question):
            note = checks.REPAIRED + "; ".join(met)
            reflections = [*draft["reflections"], note]
            draft = {
                **draft,
                "output": output,
                "written": draft["output"],
                "reflections": reflections,
            }
    found = await asyncio.to_thread(
        checks.run_checks,
        question,
        strip_tags(draft["text"]),
        draft["output"],
        kind=kind,
        constraints=constraints,
        run_code=settings.run_code,
    )
    return {**draft, "checks": found}


async def record_critique(
    runtime: Runtime[Context] | None,
    *,
    round_: int,
    draft: int,
    verdict: Literal["pass", "revise", "unclear"],
    by: Literal["critic", "checks"],
    error: str,
    text: str = "",
    usage: Usage | None = None,
    seconds: float = 0.0,
) -> Critique:
    """A critique record, announced as a ``critique`` event.

    Args:
        runtime: The node's runtime, for the event.
        round_: The critique round.
        draft: Index of the draft judged.
        verdict: The verdict.
        by: ``critic`` (a model call) or ``checks`` (failed checks).
        error: The error to fix, or the checklist of a tie.
        text: The critic's whole reply.
        usage: The critic call's usage.
        seconds: The critic call's duration.
    """
    usage = usage or empty_usage()
    record = Critique(
        round=round_,
        draft=draft,
        verdict=verdict,
        by=by,
        error=error,
        text=text,
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
        seconds=seconds,
    )
    await emit_critique(runtime, record)
    return record


async def critique_on_checks(
    runtime: Runtime[Context] | None, draft: Draft, round_: int
) -> Critique:
    """A draft's failed checks as a critique: a concrete error, found with no model call."""
    return await record_critique(
        runtime,
        round_=round_,
        draft=draft["index"],
        verdict="revise",
        by="checks",
        error=checks.failures(draft["checks"]),
    )


def for_review(draft: Draft) -> str:
    """A draft as a critic or reviser reads it: its reasoning and its answer.

    A note of what code changed, or of what became of the model's writing on, is not the
    model's reasoning, and is left out.
    """
    own = [r for r in draft["reflections"] if not r.startswith(checks.NOTES)]
    work = strip_tags(join(draft["thinking"], "\n".join(own))).strip()
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


def join(*parts: str) -> str:
    """Non-empty parts, stripped, one blank line apart."""
    return "\n\n".join(p.strip() for p in parts if p and p.strip())
