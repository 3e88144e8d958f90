"""The graph's steps: answer, then critique and revise, or sample, contrast and reconcile."""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from agent.context import SAMPLE_TEMPERATURE, Context, Settings, resolve_settings
from agent.errors import ConfigError
from agent.models import aresolve_model, model_label, spec_label
from agent.parsing import (
    answer_key,
    message_text,
    parse_reflection,
    parse_verdict,
    provider_reasoning,
    split_conclusion,
    strip_tags,
)
from agent.prompts import Prompts
from agent.result import Critique, Draft, ReflectionResult, Usage, add_usage, empty_usage
from agent.state import State

# Models that reason by themselves; DeepSeek-R1's authors advise against a system prompt.
_NATIVE_THINKERS = re.compile(r"r1\b|qwen3|think|reason|\bo[134]\b|gpt-5|deepseek", re.IGNORECASE)


@dataclass(frozen=True)
class Steps:
    """The node functions, bound to a graph's defaults and prompts."""

    defaults: Context
    prompts: Prompts

    def settings(self, runtime: Runtime[Context] | None) -> Settings:
        """The run's settings: the defaults with ``runtime.context`` laid over them."""
        return resolve_settings(self.defaults, runtime.context if runtime else None)

    def intake(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        """Take the question in and reset the per-run fields; no model call.

        A bare ``question`` joins the conversation as a human message and is cleared, so a
        thread's next turn never sees it again, even if this run fails later.
        """
        question = _question(state)
        settings = self.settings(runtime)  # a bad mode or effort fails before any call
        return {
            "messages": [HumanMessage(question)] if state.get("question") is not None else [],
            "question": None,
            "asked": question,
            "drafts": [],
            "critiques": [],
            "rounds": 0,
            "usage": empty_usage(),
            "started": time.time(),
            "stop_reason": _first_route(settings),
        }

    async def answer(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        """First call of every mode: a tagged draft, a native reply, or a plain answer.

        The sampling modes start from the plain answer at the run's own temperature, so their
        first draft is exactly what ``baseline`` would have said.
        """
        settings = self.settings(runtime)
        model = await _resolve(settings, settings.model, native=settings.mode == "native")
        messages = self._answer_messages(settings, model, state["asked"], _history(state))
        reply, seconds = await _call(model, messages, "generator")
        draft = _draft(0, reply, seconds, plain=_samples(settings))
        _emit(runtime, {"event": "draft", "round": 0, "output": draft["output"]})
        route = _sample_route([draft], settings) if _samples(settings) else state["stop_reason"]
        return {"drafts": [draft], "usage": _usage_of(reply), "stop_reason": route}

    async def sample(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        """Draw one more independent solution, with sampling on; no critique yet."""
        settings = self.settings(runtime)
        stop = _budget_stop(state, settings, check_rounds=False)
        if stop:
            return {"stop_reason": stop}
        drafts = state["drafts"]
        model = _sampler(await _resolve(settings, settings.model), settings, seed=len(drafts))
        messages = self._answer_messages(settings, model, state["asked"], _history(state))
        reply, seconds = await _call(model, messages, "generator")
        draft = _draft(0, reply, seconds, plain=True)
        _emit(runtime, {"event": "sample", "index": len(drafts), "output": draft["output"]})
        return {
            "drafts": [*drafts, draft],
            "usage": add_usage(state["usage"], _usage_of(reply)),
            "stop_reason": _sample_route([*drafts, draft], settings),
        }

    async def contrast(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        """List where the disagreeing solutions part ways, as a checklist (the critique)."""
        settings = self.settings(runtime)
        stop = _budget_stop(state, settings, check_rounds=True)
        if stop:
            return {"stop_reason": stop}
        drafts = state["drafts"]
        prompt = self.prompts.render(
            "contrast_user", question=state["asked"], solutions=_solutions(drafts)
        )
        text, usage, seconds = await self._ask_critic(settings, "contrast_system", prompt)
        record = Critique(
            round=1,
            draft=vote(drafts),
            verdict="revise",
            error=strip_tags(text).strip(),
            text=text,
            input_tokens=usage["input_tokens"],
            output_tokens=usage["output_tokens"],
            seconds=seconds,
        )
        _emit(runtime, {"event": "critique", "round": 1, "verdict": "revise", "error": text})
        return {
            "critiques": [record],
            "rounds": 1,
            "usage": add_usage(state["usage"], usage),
            "stop_reason": "reconcile",
        }

    async def reconcile(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        """Resolve the checklist into one solution; it counts only if it picks a sampled answer."""
        settings = self.settings(runtime)
        stop = _budget_stop(state, settings, check_rounds=False)
        if stop:
            return {"stop_reason": stop}
        drafts = state["drafts"]
        model = await _resolve(settings, settings.model)
        prompt = self.prompts.render(
            "reconcile_user",
            question=state["asked"],
            solutions=_solutions(drafts),
            checklist=state["critiques"][-1]["error"],
        )
        head = [SystemMessage(settings.system)] if settings.system else []
        reply, seconds = await _call(model, [*head, HumanMessage(prompt)], "generator")
        draft = _draft(1, reply, seconds, plain=True)
        _emit(runtime, {"event": "revision", "round": 1, "output": draft["output"]})
        kept = choose_sampled([*drafts, draft]) == len(drafts)
        return {
            "drafts": [*drafts, draft],
            "usage": add_usage(state["usage"], _usage_of(reply)),
            "stop_reason": "reconciled" if kept else "voted",
        }

    async def _ask_critic(
        self, settings: Settings, system: str, prompt: str
    ) -> tuple[str, Usage, float]:
        """One critic call: the named system prompt, then ``prompt``."""
        critic = await _resolve(settings, settings.critic_model or settings.model)
        messages = [SystemMessage(self.prompts.texts[system]), HumanMessage(prompt)]
        reply, seconds = await _call(critic, messages, "critic")
        return message_text(reply.content), _usage_of(reply), seconds

    def _answer_messages(
        self, settings: Settings, model: BaseChatModel, question: str, history: list[BaseMessage]
    ) -> list[BaseMessage]:
        if settings.mode == "single" or (settings.mode == "prompted" and not _samples(settings)):
            return [*self._shots(settings), *history, HumanMessage(question)]
        system = settings.system
        if settings.mode == "native" and not _NATIVE_THINKERS.search(model_label(model)):
            system = _join(self.prompts.texts["reflection_system"], system)
        head: list[BaseMessage] = [SystemMessage(system)] if system else []
        return [*head, *history, HumanMessage(question)]

    def _shots(self, settings: Settings) -> list[BaseMessage]:
        """The tagged-answer system prompt and the worked example exchange."""
        system = _join(self.prompts.texts["generate_system"], settings.system)
        shots = [
            HumanMessage(text) if role == "user" else AIMessage(text)
            for role, text in self.prompts.examples
        ]
        return [SystemMessage(system), *shots]

    async def critique(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        """Check the newest draft; a verdict of REVISE must name a concrete error."""
        settings = self.settings(runtime)
        stop = _budget_stop(state, settings, check_rounds=True)
        if stop:
            return {"stop_reason": stop}
        drafts = state["drafts"]
        prompt = self.prompts.render(
            "critique_user", question=state["asked"], draft=_draft_for_review(drafts[-1])
        )
        text, usage, seconds = await self._ask_critic(settings, "critique_system", prompt)
        verdict = parse_verdict(text)
        record = Critique(
            round=state["rounds"] + 1,
            draft=len(drafts) - 1,
            verdict=verdict.verdict,
            error=verdict.error,
            text=text,
            input_tokens=usage["input_tokens"],
            output_tokens=usage["output_tokens"],
            seconds=seconds,
        )
        _emit(
            runtime,
            {
                "event": "critique",
                "round": record["round"],
                "verdict": record["verdict"],
                "error": record["error"],
            },
        )
        return {
            "critiques": [*state["critiques"], record],
            "rounds": state["rounds"] + 1,
            "usage": add_usage(state["usage"], usage),
            "stop_reason": "revise" if verdict.verdict == "revise" else "accepted",
        }

    async def revise(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        """Rewrite the draft to fix the error the critique named."""
        settings = self.settings(runtime)
        stop = _budget_stop(state, settings, check_rounds=False)
        if stop:
            return {"stop_reason": stop}
        drafts, error = state["drafts"], state["critiques"][-1]["error"]
        model = await _resolve(settings, settings.model)
        prompt = self.prompts.render(
            "revise_user",
            question=state["asked"],
            draft=_draft_for_review(drafts[-1]),
            error=error,
        )
        # The same worked examples as the first draft: without them small models copy the
        # format description itself into <output>.
        messages = [*self._shots(settings), HumanMessage(prompt)]
        reply, seconds = await _call(model, messages, "generator")
        draft = _draft(state["rounds"], reply, seconds)
        _emit(runtime, {"event": "revision", "round": draft["round"], "output": draft["output"]})
        same = answer_key(draft["output"]) == answer_key(drafts[-1]["output"])
        return {
            "drafts": [*drafts, draft],
            "usage": add_usage(state["usage"], _usage_of(reply)),
            "stop_reason": "converged" if same else "revised",
        }

    @staticmethod
    def after_answer(state: State) -> str:
        """Self-critique goes on to a critique, the sampling modes to more samples."""
        return _ROUTES.get(state["stop_reason"], "finalize")

    @staticmethod
    def after_sample(state: State) -> str:
        """Sample again while the answers are split, then contrast them or stop."""
        return _ROUTES.get(state["stop_reason"], "finalize")

    @staticmethod
    def after_contrast(state: State) -> str:
        """Reconcile after a checklist; a budget stop goes straight to the vote."""
        return _ROUTES.get(state["stop_reason"], "finalize")

    @staticmethod
    def after_critique(state: State) -> str:
        """Revise only when the critique named a concrete error."""
        return "revise" if state["stop_reason"] == "revise" else "finalize"

    @staticmethod
    def after_revise(state: State) -> str:
        """Check a changed revision again; stop on a budget or an unchanged answer."""
        return "critique" if state["stop_reason"] == "revised" else "finalize"

    async def finalize(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        """Choose the draft that earned its place and append the answer as an AI message."""
        settings = self.settings(runtime)
        drafts, critiques = state["drafts"], state["critiques"]
        evidence: list[str] = []
        if _samples(settings):
            chosen = choose_sampled(drafts)
            evidence = [tally_note(drafts)]
            _emit(runtime, {"event": "tally", "note": evidence[0]})
            errors = [c["error"] for c in critiques if chosen == len(drafts) - 1]
        else:
            chosen = choose_draft(drafts, critiques)
            errors = [
                c["error"] for c in critiques if c["verdict"] == "revise" and c["draft"] < chosen
            ]
        best = drafts[chosen]
        result = ReflectionResult(
            question=state["asked"],
            output=best["output"],
            thinking=best["thinking"],
            reflections=[*evidence, *best["reflections"], *errors],
            drafts=drafts,
            critiques=critiques,
            chosen=chosen,
            rounds=state["rounds"],
            stop_reason=state["stop_reason"],
            usage=state["usage"],
            mode=settings.mode,
            model=spec_label(settings.model),
            seconds=round(time.time() - state["started"], 3),
        )
        _emit(
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


def choose_draft(drafts: list[Draft], critiques: list[Critique]) -> int:
    """Pick the draft whose answer is returned.

    The last draft the critic passed wins. Failing that, a revision nobody has checked yet
    (it fixed a named error); failing that, the first draft: a revision the critic also
    rejected has not earned its place, and research finds first answers right more often.
    """
    checked = {c["draft"]: c["verdict"] for c in critiques}
    passed = [i for i, verdict in checked.items() if verdict in ("pass", "unclear")]
    if passed:
        return max(passed)
    last = len(drafts) - 1
    return last if last not in checked else 0


def vote(drafts: list[Draft]) -> int:
    """Index of the first sampled draft with the most common answer.

    Only first-round drafts (the samples) vote; a tie goes to the answer reached first,
    which is the plain answer at the run's own temperature.
    """
    leading = leaders(drafts)
    return next(i for i, d in enumerate(drafts) if answer_key(d["output"]) in leading)


def choose_sampled(drafts: list[Draft]) -> int:
    """Pick the draft returned by the sampling modes.

    A reconciliation wins only when it picks one of the answers tied for the most votes:
    a small model that invents a new number, or talks itself out of a majority, has not
    earned its place, and the vote of the samples stands instead.
    """
    last = drafts[-1]
    if last["round"] > 0 and answer_key(last["output"]) in leaders(drafts):
        return len(drafts) - 1
    return vote(drafts)


def tally(drafts: list[Draft]) -> Counter[str]:
    """How many samples (first-round drafts) reached each answer."""
    return Counter(answer_key(d["output"]) for d in drafts if d["round"] == 0)


def tally_note(drafts: list[Draft]) -> str:
    """The sampled answers and their counts, as a reflection: the evidence the choice rests on.

    Example: ``"5 solutions disagree: 12 ×3, 7 ×2"``.
    """
    counts = tally(drafts)
    drawn = sum(counts.values())
    names = {key: _short(key) for key in counts}
    if drawn == 1:
        return f"1 solution: {names[next(iter(counts))]}"
    if len(counts) == 1:
        return f"all {drawn} solutions agree: {names[next(iter(counts))]}"
    spread = ", ".join(f"{names[key]} ×{n}" for key, n in counts.most_common())
    return f"{drawn} solutions disagree: {spread}"


def _short(key: str, limit: int = 30) -> str:
    """An answer key fit for one line; text answers can be whole sentences."""
    if not key:
        return "(no answer)"
    return key if len(key) <= limit else key[: limit - 1].rstrip() + "…"


def leaders(drafts: list[Draft]) -> set[str]:
    """The answers with the most samples; more than one means a tie at the top."""
    counts = tally(drafts)
    best = max(counts.values())
    return {key for key, count in counts.items() if count == best}


# Where each stop_reason set by a step leads; anything else (a budget, a verdict) finalizes.
_ROUTES = {"draft": "critique", "sample": "sample", "split": "contrast", "reconcile": "reconcile"}


def _samples(settings: Settings) -> bool:
    """Whether the run samples several solutions (vote, or prompted with contrast)."""
    return settings.mode == "vote" or (
        settings.mode == "prompted" and settings.strategy == "contrast"
    )


def _first_route(settings: Settings) -> str:
    if _samples(settings):
        return "sample"
    return "draft" if settings.mode == "prompted" else "answered"


def _sample_route(drafts: list[Draft], settings: Settings) -> str:
    """After a sample: draw another, stop on agreement, or settle a split.

    Sampling draws ``samples`` solutions, then more only while no answer leads by more than
    the draws left could overturn, up to ``max_samples``. A clear leader is the answer;
    only a tie at the top, which counting cannot settle, goes to the contrast critique
    (GSM8K, first 50: the vote was right more often than reconciliation when one answer
    led, see benchmarks/README.md).
    """
    counts = sorted(tally(drafts).values(), reverse=True)
    drawn = len(drafts)
    if drawn < settings.samples:
        return "sample"
    if len(counts) == 1:
        return "agreed"
    runner_up = counts[1]
    if drawn < settings.max_samples and counts[0] - runner_up <= settings.max_samples - drawn:
        return "sample"
    if settings.mode == "prompted" and settings.max_rounds > 0 and counts[0] == runner_up:
        return "split"
    return "voted"


def _sampler(model: BaseChatModel, settings: Settings, *, seed: int) -> BaseChatModel:
    """The model with sampling on and its own seed, so that samples differ yet repeat."""
    fields = type(model).model_fields
    temperature = settings.temperature if settings.temperature else SAMPLE_TEMPERATURE
    update: dict[str, Any] = {"temperature": temperature} if "temperature" in fields else {}
    if "seed" in fields:
        update["seed"] = seed
    return model.model_copy(update=update) if update else model


def _solutions(drafts: list[Draft]) -> str:
    """One solution per distinct sampled answer, most common first, labelled A, B, C."""
    counts = tally(drafts)
    firsts: dict[str, Draft] = {}
    for d in drafts:
        if d["round"] == 0:
            firsts.setdefault(answer_key(d["output"]), d)
    ranked = sorted(firsts, key=lambda key: -counts[key])[:3]
    return "\n\n".join(
        f"Solution {'ABC'[i]}:\n{_draft_for_review(firsts[key])}" for i, key in enumerate(ranked)
    )


def _budget_stop(state: State, settings: Settings, *, check_rounds: bool) -> str | None:
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


def _history(state: State) -> list[BaseMessage]:
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


async def _resolve(
    settings: Settings, spec: str | BaseChatModel | None, *, native: bool = False
) -> BaseChatModel:
    return await aresolve_model(spec, native=native, temperature=settings.temperature)


async def _call(
    model: BaseChatModel, messages: list[BaseMessage], role: str
) -> tuple[AIMessage, float]:
    start = time.perf_counter()
    config: RunnableConfig = {"tags": [f"reflect:{role}"]}
    try:
        reply = await model.ainvoke(messages, config=config)
    except Exception as exc:
        # Ollama refuses `think` for models without thinking support; ask again without it.
        if getattr(model, "reasoning", None) is not True or "support thinking" not in str(exc):
            raise
        plain = model.model_copy(update={"reasoning": None})
        reply = await plain.ainvoke(messages, config=config)
    if not isinstance(reply, AIMessage):
        reply = AIMessage(content=reply.content)
    if _cut_short(model, reply):
        raise DroppedReply("the server closed the reply stream before it finished")
    return reply, time.perf_counter() - start


class DroppedReply(ConnectionError):
    """A streamed reply ended without the server's end marker; retried like a lost connection."""


def _cut_short(model: BaseChatModel, reply: AIMessage) -> bool:
    # OpenAI-style and Ollama streams mark their last chunk; the SDKs return whatever
    # arrived when the connection drops, which would pass a half answer off as whole.
    meta = reply.response_metadata or {}
    if type(model).__name__ == "ChatOllama":
        return not meta.get("done")
    if meta.get("model_provider") == "openai":
        return not meta.get("finish_reason")
    return False


def _draft(round_: int, reply: AIMessage, seconds: float, *, plain: bool = False) -> Draft:
    text = message_text(reply.content)
    parsed = split_conclusion(text) if plain else parse_reflection(text)
    thinking = _join(provider_reasoning(reply), parsed.thinking)
    output = parsed.output
    if not output and thinking:
        # Small models often end inside their thinking; the conclusion is its last line.
        output = thinking.splitlines()[-1].strip()
    usage = _usage_of(reply)
    return Draft(
        round=round_,
        text=text,
        thinking=thinking,
        reflections=parsed.reflections,
        output=output,
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
        seconds=round(seconds, 3),
    )


def _draft_for_review(draft: Draft) -> str:
    work = strip_tags(_join(draft["thinking"], "\n".join(draft["reflections"]))).strip()
    return f"{work}\n\nFinal answer: {strip_tags(draft['output']).strip()}".strip()


def _usage_of(reply: AIMessage) -> Usage:
    meta: dict[str, Any] = dict(reply.usage_metadata or {})
    usage = empty_usage()
    usage["input_tokens"] = int(meta.get("input_tokens", 0))
    usage["output_tokens"] = int(meta.get("output_tokens", 0))
    usage["calls"] = 1
    return usage


def _emit(runtime: Runtime[Context] | None, event: dict[str, Any]) -> None:
    if runtime is not None and runtime.stream_writer is not None:
        runtime.stream_writer(event)


def _join(*parts: str) -> str:
    return "\n\n".join(p.strip() for p in parts if p and p.strip())
