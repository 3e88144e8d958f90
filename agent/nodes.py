"""The nodes every mode shares: the first, a first answer, and the last.

``intake`` takes the question in; ``answer`` drafts once (baseline, single, native and the
critique strategy); ``finalize`` has the run's technique pick the draft that earned its place
and appends it as the AI message. The strategies (``agent.strategies``) run in between; the
toolkit they share with these nodes is ``agent.calls``.
"""

from __future__ import annotations

import time
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime

from agent import answers, checks
from agent.calls import (
    Setup,
    answer_messages,
    call,
    history,
    make_draft,
    resolve,
    usage_of,
    with_checks,
)
from agent.context import Context, Settings
from agent.errors import ConfigError
from agent.events import emit_draft, emit_final, emit_tally
from agent.models import spec_label
from agent.parsing import message_text
from agent.result import ReflectionResult
from agent.state import State
from agent.strategies import Finished, technique_for


def samples_answers(settings: Settings) -> bool:
    """Whether the run starts with samples (vote, or a strategy that starts so)."""
    technique = technique_for(settings)
    return technique is not None and technique.start == "sample"


def after_answer(settings: Settings) -> str:
    """The node after a first ``answer``: the strategy's, or the end."""
    technique = technique_for(settings)
    return (technique.after_answer if technique is not None else None) or "finalize"


def checks_drafts(settings: Settings) -> bool:
    """Whether drafts get evidence checks: the modes that act on them."""
    return settings.mode in ("prompted", "vote")


async def intake(state: State, runtime: Runtime[Context], setup: Setup) -> dict[str, Any]:
    """Take the question in and reset the per-run fields; no model call.

    A bare ``question`` joins the conversation as a human message and is cleared, so a
    thread's next turn never sees it again, even if this run fails later. The answer kind
    and the question's checkable instructions are read here, by rules.
    """
    question = _question(state)
    settings = setup.settings(runtime)  # a bad mode or effort fails before any call
    sampled = samples_answers(settings)
    return {
        "messages": [HumanMessage(question)] if state.get("question") is not None else [],
        "question": None,
        "asked": question,
        "kind": answers.kind_of_question(question) or "",
        "constraints": checks.extract(question) if checks_drafts(settings) else [],
        "drafts": None,
        "critiques": None,
        "selection": None,
        "sampled": sampled,
        "usage": None,
        "rounds": 0,
        "started": time.time(),
        "batch": list(range(min(settings.samples, settings.max_concurrency))),
        "route": "sample" if sampled else "answer",
        "stop_reason": "answered",
    }


async def answer(state: State, runtime: Runtime[Context], setup: Setup) -> dict[str, Any]:
    """One first draft: a tagged answer (single), a native reply, or a plain answer."""
    settings = setup.settings(runtime)
    model = await resolve(settings, settings.model, native=settings.mode == "native")
    messages = answer_messages(setup, settings, model, state["asked"], history(state))
    reply, seconds = await call(model, messages, "generator")
    draft = make_draft(0, 0, reply, seconds)
    if checks_drafts(settings):
        draft = await with_checks(draft, state, settings)
    await emit_draft(runtime, draft, "draft")
    kind = answers.settle_kind(state["kind"], state["asked"], [draft["output"]])
    return {
        "drafts": [draft],
        "usage": usage_of(reply),
        "kind": kind,
        "route": after_answer(settings),
    }


async def finalize(state: State, runtime: Runtime[Context], setup: Setup) -> dict[str, Any]:
    """Choose the draft that earned its place and append the answer as an AI message."""
    settings = setup.settings(runtime)
    drafts = state["drafts"]
    kind = answers.settle_kind(state.get("kind", ""), state["asked"], [d["output"] for d in drafts])
    technique = technique_for(settings)
    finished = Finished(chosen=0, tally="", notes=[])
    if technique is not None and technique.finish is not None:
        finished = technique.finish(state, kind)
    if finished.tally:
        await emit_tally(runtime, finished.tally)
    best = drafts[finished.chosen]
    tally = [finished.tally] if finished.tally else []
    result = ReflectionResult(
        question=state["asked"],
        output=best["output"],
        thinking=best["thinking"],
        reflections=[
            *tally,
            *checks.summary(best["checks"]),
            *best["reflections"],
            *finished.notes,
        ],
        drafts=drafts,
        critiques=state.get("critiques") or [],
        selection=state.get("selection"),
        chosen=finished.chosen,
        rounds=state["rounds"],
        stop_reason=state["stop_reason"],
        kind=kind,
        checks=best["checks"],
        confidence=sure["score"] if (sure := best.get("confidence")) else None,
        usage=state["usage"],
        mode=settings.mode,
        model=spec_label(settings.model),
        seconds=round(time.time() - state["started"], 3),
    )
    await emit_final(runtime, result)
    blocks: list[str | dict[str, Any]] = []
    if result.reasoning:
        blocks.append({"type": "reasoning", "reasoning": result.reasoning})
    blocks.append({"type": "text", "text": result.output})
    message = AIMessage(
        content=blocks,
        usage_metadata=result.usage_metadata,
        response_metadata={"stop_reason": result.stop_reason, "model_name": result.model},
    )
    return {"messages": [message], "result": result.to_dict()}


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
