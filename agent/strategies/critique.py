"""Critique: draft → check → critique → revise → check …, revising only on a concrete error.

The draft is the plain answer. Programs check it first (``agent.checks``): a failed check is
a concrete error and goes straight to a revision that names it, without asking the critic.
Otherwise the critic reviews the draft, with the verified steps in front of it, and must say
``VERDICT: PASS`` or ``VERDICT: REVISE`` plus ``ERROR:``. A revision that fails more checks
than its draft is never returned.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from agent import answers, checks
from agent.calls import (
    Setup,
    answer_messages,
    ask_critic,
    critique_on_checks,
    for_review,
    go_on,
    history,
    make_draft,
    opening,
    record_critique,
    resolve,
    usage_of,
    with_checks,
    write_revision,
)
from agent.checks import comparison
from agent.context import Context, Settings
from agent.events import emit_draft
from agent.extension import corrected_start
from agent.models import continuing
from agent.parsing import message_text, parse_verdict
from agent.result import Critique, Draft, Usage
from agent.state import State
from agent.strategies.base import Finished, Node, Technique


async def critique(state: State, runtime: Runtime[Context], setup: Setup) -> dict[str, Any]:
    """Judge the newest draft: by its checks if they fail or decide it, else by the critic."""
    settings, stop = opening(setup, state, runtime, check_rounds=True)
    if stop:
        return stop
    draft = state["drafts"][-1]
    round_ = state["rounds"] + 1
    usage: Usage | None = None
    if checks.decided(draft):  # the units gave the answer: a critic cannot know better
        return {"rounds": round_, "route": "finalize", "stop_reason": "checked"}
    if checks.failed(draft["checks"]):
        record = await critique_on_checks(runtime, draft, round_)
    else:
        verified = [checks.line_of(c) for c in draft["checks"]][:10]
        shown = for_review(draft)
        if verified:
            shown += "\n\nVerified by a program:\n" + "\n".join(verified)
        prompt = setup.prompts.render("critique_user", question=state["asked"], draft=shown)
        text, usage, seconds = await ask_critic(setup, settings, "critique_system", prompt)
        verdict = parse_verdict(text)
        record = await record_critique(
            runtime,
            round_=round_,
            draft=draft["index"],
            verdict=verdict.verdict,
            by="critic",
            error=verdict.error,
            text=text,
            usage=usage,
            seconds=seconds,
        )
    revise = record["verdict"] == "revise"
    update: dict[str, Any] = {
        "critiques": [record],
        "rounds": round_,
        "route": "revise" if revise else "finalize",
        "stop_reason": "revise" if revise else "accepted",
    }
    return {**update, "usage": usage} if usage else update


async def revise(state: State, runtime: Runtime[Context], setup: Setup) -> dict[str, Any]:
    """Rewrite the judged draft to fix the error its critique named.

    In a sampled run (every sample failed a check) it revises once, then the run ends.
    """
    settings, stop = opening(setup, state, runtime, check_rounds=False)
    if stop:
        return stop
    drafts, judged = state["drafts"], state["critiques"][-1]
    parent = drafts[judged["draft"]]
    continued = None
    if judged["by"] == "checks":
        continued = await continue_from_finding(setup, settings, state, runtime, parent)
    if continued is not None:
        draft, usage = continued
    else:
        prompt = setup.prompts.render(
            "revise_user", question=state["asked"], draft=for_review(parent), error=judged["error"]
        )
        draft, usage = await write_revision(
            settings, state, runtime, prompt, round_=state["rounds"], past=history(state)
        )
    if judged["by"] == "checks":
        draft = _finding_stands(draft, parent, state["kind"], state["asked"])
        draft = await _units_stand(draft, parent, state, settings)
    update = {"drafts": [draft], "usage": usage}
    if state.get("sampled"):
        fixed = checks.fixes_some(draft, parent)
        return {**update, "route": "finalize", "stop_reason": "revised" if fixed else "checked"}
    if _unchanged(draft, parent, state["kind"], state["asked"]):
        return {**update, "route": "finalize", "stop_reason": "converged"}
    return {**update, "route": "critique"}


async def continue_from_finding(
    setup: Setup, settings: Settings, state: State, runtime: Runtime[Context], parent: Draft
) -> tuple[Draft, Usage] | None:
    """The draft cut after its first wrong step's ``=``, the right value in, the rest anew.

    The model writes on from the corrected value as its own text. A 1.5B model asked to
    revise "with the finding in the prompt" copies its draft (it fixed 0 of 7 findings,
    benchmarks §9); continuing from the corrected value is how GSM8K's own calculator
    worked. A comparison of stated quantities the draft got wrong starts afresh from what
    the units give (``comparison.stated``). Only for a model that continues a final
    assistant message (the embedded one, Ollama, llama.cpp's server, vLLM, SGLang:
    ``models.continuing``); ``None`` elsewhere, or when there is nothing to start from, and
    the usual revision runs. The continued draft is checked again like any revision.
    """
    model = await continuing(await resolve(settings, settings.model))
    start = _start(parent, state["asked"]) if model is not None else None
    if model is None or start is None:
        return None
    prefix, note = start
    messages = answer_messages(setup, settings, model, state["asked"], history(state))
    went = await go_on(model, messages, prefix)
    if went is None:  # no room left, or a thinking model's server refuses a prefilled answer
        return None
    reply, seconds = went
    whole = AIMessage(
        content=prefix + message_text(reply.content),
        usage_metadata=reply.usage_metadata,
        additional_kwargs=reply.additional_kwargs,
        response_metadata=reply.response_metadata,
    )
    draft = make_draft(len(state["drafts"]), state["rounds"], whole, seconds)
    draft = {**draft, "reflections": [*draft["reflections"], note]}
    draft = await with_checks(draft, state, settings)
    await emit_draft(runtime, draft, "revision")
    return draft, usage_of(reply)


def _start(parent: Draft, question: str) -> tuple[str, str] | None:
    """What a continued draft starts with, and the reflection that says where it came from."""
    units = comparison.stated(question) if checks.fails(parent, "comparison") else None
    if units:
        return units, f"continued from what the units show: {units}"
    start = corrected_start(parent["text"])
    return None if start is None else (start.prefix, start.note)


async def _units_stand(new: Draft, old: Draft, state: State, settings: Settings) -> Draft:
    """A revision of a comparison the units decide, that still does not give their answer.

    It is replaced by the units' own statement; the model's revision is kept in ``written``.
    The model may write on past the units' sentence and conclude against it, or, asked by a
    revision prompt, keep its draft's answer (what the 1.5B model did, benchmarks §34).
    """
    units = comparison.stated(state["asked"])
    if not units or not checks.fails(old, "comparison"):
        return new
    if any(c["kind"] == "comparison" and c["passed"] for c in new["checks"]):
        return new
    note = f"{checks.REPAIRED}the revision did not give what the units show; they answer: {units}"
    stated: Draft = {
        **new,
        "text": units,
        "thinking": "",
        "output": units,
        "written": new["output"],
        "reflections": [note],
        "checks": [],
        "confidence": None,
    }
    return await with_checks(stated, state, settings)


def _finding_stands(new: Draft, old: Draft, kind: str, question: str) -> Draft:
    """A revision that keeps the answer a failed check was found on keeps that finding.

    Without it, a revision that restates the flagged answer and drops the steps (what the
    1.5B model does) would pass the checks by having nothing left to check.
    """
    if kind not in answers.KEYED or not _same_answer(new, old, kind, question):
        return new
    own = {(c["kind"], c["name"]) for c in new["checks"]}
    kept = [c for c in checks.failed(old["checks"]) if (c["kind"], c["name"]) not in own]
    return {**new, "checks": [*new["checks"], *kept]} if kept else new


def _unchanged(new: Draft, old: Draft, kind: str, question: str) -> bool:
    """Whether a revision came back with the draft's answer (and the draft's check results)."""
    same_checks = checks.failures(new["checks"]) == checks.failures(old["checks"])
    return same_checks and _same_answer(new, old, kind, question)


def _same_answer(new: Draft, old: Draft, kind: str, question: str) -> bool:
    """Keyed kinds by their key; code and free text by their text."""
    if kind in answers.KEYED:
        return answers.same_key(new["output"], old["output"], kind, question)
    return answers.same_text(new["output"], old["output"], kind or "text")


def choose_draft(drafts: list[Draft], critiques: list[Critique]) -> int:
    """Pick the draft whose answer is returned.

    Only drafts with the fewest failed checks qualify: a revision that fails more checks
    than another draft has not earned its place. Among them, the last the critic passed;
    failing that, a revision nobody has judged yet that fails no check (it fixed a named
    error); failing that, the first: research finds first answers right more often than
    rejected revisions.
    """
    fewest = min(len(checks.failed(d["checks"])) for d in drafts)
    allowed = [d["index"] for d in drafts if len(checks.failed(d["checks"])) == fewest]
    judged = {c["draft"]: c["verdict"] for c in critiques}
    passed = [i for i in allowed if judged.get(i) in ("pass", "unclear")]
    if passed:
        return max(passed)
    last = max(allowed)
    return last if last not in judged and fewest == 0 else min(allowed)


def finish(state: State, kind: str) -> Finished:
    """The draft the critique loop returns, then the errors that led to it."""
    critiques = state.get("critiques") or []
    chosen = choose_draft(state["drafts"], critiques)
    errors = [c["error"] for c in critiques if c["verdict"] == "revise" and c["draft"] < chosen]
    return Finished(chosen=chosen, tally="", notes=errors)


TECHNIQUE = Technique(
    name="critique",
    start="answer",
    after_answer="critique",
    finish=finish,
    nodes={
        "critique": Node(critique, ("revise", "finalize")),
        "revise": Node(revise, ("critique", "finalize")),
    },
)
