"""Sampling: the plain answer and more solutions, drawn in parallel rounds, then counted.

``sample`` draws one solution; the graph fans a round of them out with ``Send`` (bounded by
``max_concurrency``), so a server answers them at once and each finished sample is saved on
its own. ``tally`` then decides: draw more while the answers could still change the result,
stop on agreement, vote, or hand a tie to ``contrast`` and free-form answers to ``select``.

Answers compare by kind (``agent.answers``): numbers, letters, yes/no and short phrases by a
key; code and free text never by a key. A sample that fails a check gets no vote while another
passes; while every sample fails, more are drawn (up to ``max_samples``), and when all of them
fail, the checks' findings drive a revision.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Send

from agent import answers, checks
from agent.context import SAMPLE_TEMPERATURE, ChatModel, Context, Settings
from agent.models import with_fields
from agent.nodes import (
    Env,
    answer_messages,
    budget_stop,
    call,
    emit,
    emit_checks,
    history,
    make_draft,
    resolve,
    usage_of,
    with_checks,
)
from agent.result import Check, Critique, Draft
from agent.state import State
from agent.strategies.base import Node, Part

# A round after the first draws at most this many more: small rounds stop sooner on agreement.
_MORE_PER_ROUND = 2


def sends(state: State) -> list[Send]:
    """One ``Send`` per sample of the next round (``state["batch"]``)."""
    task = {
        "asked": state["asked"],
        "messages": state.get("messages") or [],
        "kind": state.get("kind") or "",
        "constraints": state.get("constraints") or [],
    }
    return [Send("sample", {**task, "index": i}) for i in state["batch"]]


async def sample(task: dict[str, Any], runtime: Runtime[Context], env: Env) -> dict[str, Any]:
    """Draw one solution: index 0 is the plain answer at the run's own temperature.

    The others sample at temperature 0.7 with their index as the seed, so they differ from
    each other yet repeat from run to run.
    """
    settings = env.settings(runtime)
    index = task["index"]
    model = await resolve(settings, settings.model)
    if index > 0:
        model = sampler(model, settings, seed=index)
    messages = answer_messages(env, settings, model, task["asked"], history(task))
    reply, seconds = await call(model, messages, "generator", f"reflect:sample:{index}")
    draft = await with_checks(make_draft(index, 0, reply, seconds), task, settings)
    await emit(runtime, {"event": "sample", "index": index, "output": draft["output"]})
    await emit_checks(runtime, draft)
    return {"drafts": [draft], "usage": usage_of(reply)}


def sampler(model: ChatModel, settings: Settings, *, seed: int) -> ChatModel:
    """The model with sampling on and its own seed, so that samples differ yet repeat.

    A wrapped model (``.bind``, ``.with_fallbacks``, …) gets them on the model inside.
    """
    temperature = settings.temperature if settings.temperature else SAMPLE_TEMPERATURE
    return with_fields(model, temperature=temperature, seed=seed)


async def tally(state: State, runtime: Runtime[Context], env: Env) -> dict[str, Any]:
    """After a round: draw more, stop, vote, or pass the samples on to be compared.

    A further round, past the first ``samples``, is announced with a ``round`` event: the
    samples drawn so far and the indices of those about to be drawn.
    """
    decided = await _tally(state, runtime, env)
    drawn = sum(1 for d in state["drafts"] if d["round"] == 0)
    if decided.get("route") == "sample" and drawn >= env.settings(runtime).samples:
        await emit(runtime, {"event": "round", "drawn": drawn, "samples": decided["batch"]})
    return decided


async def _tally(state: State, runtime: Runtime[Context], env: Env) -> dict[str, Any]:
    settings = env.settings(runtime)
    question = state["asked"]
    samples = [d for d in state["drafts"] if d["round"] == 0]
    kind = answers.settle_kind(state.get("kind", ""), question, [d["output"] for d in samples])
    drawn, stop = len(samples), budget_stop(state, settings, check_rounds=False)
    if drawn < settings.samples and not stop:
        passed = passing(samples)
        if len(passed) == drawn > 1 and kind not in answers.KEYED and _same(samples, kind):
            return {"kind": kind, "route": "finalize", "stop_reason": "agreed"}
        return {"kind": kind, "route": "sample", "batch": _round(drawn, settings.samples, settings)}
    eligible = passing(samples)
    if not eligible and drawn < settings.max_samples and not stop:
        # Every sample failed a check: another sample is likelier to pass than a revision
        # (measured on IFEval: the 1.5B model copies its draft rather than fix it).
        more = min(settings.max_samples, drawn + _MORE_PER_ROUND)
        return {"kind": kind, "route": "sample", "batch": _round(drawn, more, settings)}
    if not eligible and settings.mode == "prompted" and settings.max_rounds > 0 and not stop:
        return {"kind": kind, **(await _revise_on_checks(samples, runtime))}
    if len(eligible) == 1 < drawn:
        return {"kind": kind, "route": "finalize", "stop_reason": "checked"}
    counts = _counts(eligible or samples, kind, question)
    ranked = sorted(counts.values(), reverse=True)
    decided: dict[str, Any]
    if kind not in answers.KEYED or not counts or (kind == "short" and ranked[0] == 1 < drawn):
        decided = _free_form(eligible or samples, kind, settings, stop)
    elif len(ranked) == 1:
        decided = {"route": "finalize", "stop_reason": "agreed"}
    elif (
        drawn < settings.max_samples
        and not stop
        and ranked[0] - ranked[1] <= (settings.max_samples - drawn)
    ):
        more = min(settings.max_samples, drawn + _MORE_PER_ROUND)
        decided = {"route": "sample", "batch": _round(drawn, more, settings)}
    elif ranked[0] == ranked[1] and settings.mode == "prompted" and settings.max_rounds > 0:
        decided = {"route": "finalize" if stop else "contrast", "stop_reason": stop or "voted"}
    else:
        decided = {"route": "finalize", "stop_reason": stop or "voted"}
    return {"kind": kind, **decided}


def _round(drawn: int, target: int, settings: Settings) -> list[int]:
    return list(range(drawn, min(target, drawn + settings.max_concurrency)))


def _free_form(
    eligible: list[Draft], kind: str, settings: Settings, stop: str | None
) -> dict[str, Any]:
    """Code and free text: agreement by form, else the critic picks (``select``)."""
    if len(eligible) == 1 or _same(eligible, kind):
        return {"route": "finalize", "stop_reason": "agreed"}
    if stop or settings.max_rounds == 0:
        return {"route": "finalize", "stop_reason": stop or "voted"}
    return {"route": "select"}


def _same(samples: list[Draft], kind: str) -> bool:
    first = samples[0]["output"]
    return all(answers.same_text(first, d["output"], kind) for d in samples[1:])


async def _revise_on_checks(samples: list[Draft], runtime: Runtime[Context]) -> dict[str, Any]:
    """Every sample failed a check: the least wrong one is revised on what the checks found."""
    best = min(samples, key=lambda d: len(checks.failed(d["checks"])))
    record = checks.as_critique(best, 1)
    await emit(
        runtime, {"event": "critique", "round": 1, "verdict": "revise", "error": record["error"]}
    )
    return {"critiques": [record], "rounds": 1, "route": "revise"}


def sample_draft(index: int, output: str, failed_checks: int = 0) -> Draft:
    """A sample known only by its answer (and how many checks it failed), for ``choose``."""
    failed = Check(kind="", name="", passed=False, detail="")
    return Draft(
        index=index,
        round=0,
        text=output,
        thinking="",
        reflections=[],
        output=output,
        input_tokens=0,
        output_tokens=0,
        seconds=0.0,
        checks=[failed] * failed_checks,
    )


def passing(samples: list[Draft]) -> list[Draft]:
    """The samples that failed no check."""
    return [d for d in samples if not checks.failed(d["checks"])]


def _counts(samples: list[Draft], kind: str, question: str) -> Counter[str]:
    if kind not in answers.KEYED:
        return Counter()
    found = (answers.key(d["output"], kind, question) for d in samples)
    return Counter(k for k in found if k)


def leaders(samples: list[Draft], kind: str, question: str) -> set[str]:
    """The answers with the most samples; more than one means a tie at the top."""
    counts = _counts(samples, kind, question)
    best = max(counts.values(), default=0)
    return {key for key, count in counts.items() if count == best}


def vote(samples: list[Draft], kind: str, question: str) -> int:
    """Index of the first sample with the most common answer (ties: the earliest answer).

    The earliest is the plain answer when it is among the tied; for code and free text the
    plain answer itself.
    """
    top = leaders(samples, kind, question)
    for d in samples:
        if not top or answers.key(d["output"], kind, question) in top:
            return d["index"]
    return samples[0]["index"]


def choose(drafts: list[Draft], critiques: list[Critique], kind: str, question: str) -> int:
    """Pick the draft a sampled run returns.

    A selection names its sample. A revision on failed checks counts only if it fails fewer
    checks than the sample it revised. A reconciled solution counts only if it picks one of
    the answers tied at the top and fails no check: a small model that invents a new answer,
    or talks itself out of a majority, has not earned its place. Otherwise, the vote of the
    samples that passed their checks.
    """
    samples = [d for d in drafts if d["round"] == 0]
    eligible = passing(samples) or samples
    picked = [c["draft"] for c in critiques if c["verdict"] == "select"]
    if picked:
        return picked[-1]
    last = drafts[-1]
    if last["round"] > 0:
        if critiques and critiques[-1]["by"] == "checks":
            parent = drafts[critiques[-1]["draft"]]
            return last["index"] if checks.fixes_some(last, parent) else parent["index"]
        tied = leaders(eligible, kind, question)
        if answers.key(last["output"], kind, question) in tied and not checks.failed(
            last["checks"]
        ):
            return last["index"]
    return vote(eligible, kind, question)


def tally_note(drafts: list[Draft], kind: str, question: str) -> str:
    """The sampled answers and their counts, as a reflection: the evidence the choice rests on.

    Examples: ``"5 solutions disagree: 12 ×3, 7 ×2"``, ``"3 solutions (code) differ"``.
    """
    samples = [d for d in drafts if d["round"] == 0]
    drawn = len(samples)
    failing = drawn - len(passing(samples))
    tail = f"; {failing} failed a check" if failing else ""
    noun = "solution" if drawn == 1 else "solutions"
    if kind not in answers.KEYED:
        if drawn == 1:
            return f"1 solution ({kind}){tail}"
        return f"{drawn} {noun} ({kind}) {'agree' if _same(samples, kind) else 'differ'}{tail}"
    keys = [answers.key(d["output"], kind, question) or "(no answer)" for d in samples]
    counts = Counter(keys)
    names = {key: _short(key) for key in counts}
    if drawn == 1:
        return f"1 solution: {names[keys[0]]}{tail}"
    if len(counts) == 1:
        return f"all {drawn} solutions agree: {names[keys[0]]}{tail}"
    spread = ", ".join(f"{names[key]} ×{n}" for key, n in counts.most_common())
    return f"{drawn} solutions disagree: {spread}{tail}"


def finish(
    drafts: list[Draft], critiques: list[Critique], kind: str, question: str
) -> tuple[int, list[str], list[str]]:
    """The draft a sampled run returns; the tally first, then what the choice rests on."""
    chosen = choose(drafts, critiques, kind, question)
    return chosen, [tally_note(drafts, kind, question)], notes(drafts, critiques, chosen)


def notes(drafts: list[Draft], critiques: list[Critique], chosen: int) -> list[str]:
    """What the critic or the checks said that the chosen draft rests on."""
    lines = []
    for c in critiques:
        if c["verdict"] == "select" or (drafts[chosen]["round"] > 0 and c["verdict"] == "revise"):
            lines.append(c["error"])
    return [line for line in lines if line]


def _short(key: str, limit: int = 30) -> str:
    """An answer key fit for one line; text answers can be whole sentences."""
    return key if len(key) <= limit else key[: limit - 1].rstrip() + "…"


PART = Part(
    name="sampling",
    finish=finish,
    nodes={
        "sample": Node(sample, ("tally",)),
        "tally": Node(tally, ("sample", "contrast", "select", "revise", "finalize")),
    },
)
