"""Sampling: the plain answer and more solutions, drawn in parallel rounds, then counted.

``sample`` draws one solution; the graph fans a round of them out with ``Send`` (bounded by
``max_concurrency``), so a server answers them at once and each finished sample is saved on
its own. ``tally`` then decides: draw more while the answers could still change the result,
stop on agreement, vote, or hand a tie to ``contrast``; free-form answers go to the surest
sample, or to ``select`` where the model gives no token probabilities. A plain answer stands
alone when the model is sure of it, and free text when it passes every stated instruction.

Answers compare by kind (``agent.answers``): numbers, letters, yes/no and short phrases by a
key; code and free text never by a key. A sample that fails a check gets no vote while another
passes; while every sample fails, more are drawn (up to ``max_samples``), and when all of them
fail, the checks' findings drive a revision.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Send

from agent import answers, checks, confidence, programs
from agent.calls import (
    Setup,
    answer_messages,
    budget_stop,
    call,
    critique_on_checks,
    history,
    make_draft,
    resolve,
    usage_of,
    with_checks,
)
from agent.context import SAMPLE_TEMPERATURE, ChatModel, Context, Settings
from agent.events import emit_draft, emit_round
from agent.extension import from_right_step, write_on
from agent.models import with_fields
from agent.result import Critique, Draft, Selection, add_usage
from agent.state import State
from agent.strategies.base import Finished, Node, Technique

# A round after the first draws at most this many more: small rounds stop sooner on agreement.
_MORE_PER_ROUND = 2


def sends(state: State) -> list[Send]:
    """One ``Send`` per sample of the next round (``state["batch"]``)."""
    task = {
        "asked": state["asked"],
        "messages": state.get("messages") or [],
        "kind": state.get("kind") or "",
        "constraints": state.get("constraints") or [],
        # The run's budgets, for the calls a sample makes past its first (``extension``).
        "usage": state.get("usage"),
        "started": state.get("started"),
    }
    return [Send("sample", {**task, "index": i}) for i in state["batch"]]


async def sample(task: dict[str, Any], runtime: Runtime[Context], setup: Setup) -> dict[str, Any]:
    """Draw one solution: index 0 is the plain answer at the run's own temperature.

    A solution whose arithmetic a calculator finds wrong goes on from its first wrong step,
    set right, where the model continues its own text (``extension.from_right_step``). A
    plain answer that falls short only of a stated count of sentences or words, or of a
    postscript, is written on by the model until it meets it (``extension.write_on``).

    The others sample at temperature 0.7 with their index as the seed, so they differ from
    each other yet repeat from run to run. For a number question, samples 1 to
    ``settings.programs`` are programs whose printed value is their answer
    (``agent.programs``), where the sandbox can run them; the first of them draws at the
    run's own temperature, as the plain answer does.
    """
    settings = setup.settings(runtime)
    index = task["index"]
    model = await resolve(settings, settings.model)
    # The sandbox probe may start a process: off the event loop (LangGraph Server refuses
    # blocking calls on it).
    program = is_program(index, task["kind"], settings) and await asyncio.to_thread(
        programs.available
    )
    # The first program sample draws like the plain answer: its prompt already makes it
    # another view (on the tuning slice greedy programs were right as often as sampled ones).
    if index > 0 and not (program and index == 1):
        model = sampler(model, settings, seed=(settings.context.seed or 0) + index)
    if program:
        messages = programs.program_messages(
            setup.prompts, task["asked"], system=settings.system, past=history(task)
        )
    else:
        messages = answer_messages(setup, settings, model, task["asked"], history(task))
    reply, seconds = await call(model, messages, "generator", f"reflect:sample:{index}")
    draft = make_draft(index, 0, reply, seconds)
    usage = usage_of(reply)
    if program:
        draft = await asyncio.to_thread(programs.program_sample, draft, run_code=settings.run_code)
    else:
        draft = await with_checks(draft, task, settings)
        draft, fixed = await from_right_step(
            draft, reply, task, settings, model, messages, runtime, spent=usage
        )
        usage = add_usage(usage, fixed)
        if index == 0:  # the plain answer only: see ``extension``
            draft, more = await write_on(draft, task, settings, model, messages, spent=usage)
            usage = add_usage(usage, more)
    await emit_draft(runtime, draft, "sample")
    return {"drafts": [draft], "usage": usage}


def is_program(index: int, kind: str, settings: Settings) -> bool:
    """Whether sample ``index`` is a program sample (a number question's first samples).

    It is drawn as one only where programs can run (``programs.available``).
    """
    return kind == "number" and 0 < index <= settings.programs


def sampler(model: ChatModel, settings: Settings, *, seed: int) -> ChatModel:
    """The model with sampling on and its own seed, so that samples differ yet repeat.

    A wrapped model (``.bind``, ``.with_fallbacks``, …) gets them on the model inside.
    """
    temperature = settings.temperature if settings.temperature else SAMPLE_TEMPERATURE
    return with_fields(model, temperature=temperature, seed=seed)


async def tally(state: State, runtime: Runtime[Context], setup: Setup) -> dict[str, Any]:
    """After a round: draw more, stop, vote, or pass the samples on to be compared.

    A further round, past the first ``samples``, is announced with a ``round`` event: the
    samples drawn so far and the indices of those about to be drawn. When every sample
    failed a check, the least wrong one goes to ``revise`` with the checks' findings.
    """
    settings = setup.settings(runtime)
    question = state["asked"]
    samples = [d for d in state["drafts"] if d["round"] == 0]
    kind = answers.settle_kind(state.get("kind", ""), question, [d["output"] for d in samples])
    stop = budget_stop(state, settings, check_rounds=False)
    decided = _decide(_Round.of(samples, kind, question), settings, stop)
    if decided["route"] == "revise":
        least_wrong = min(samples, key=lambda d: len(checks.failed(d["checks"])))
        record = await critique_on_checks(runtime, least_wrong, 1)
        decided = {"critiques": [record], "rounds": 1, "route": "revise"}
    elif decided["route"] == "sample" and len(samples) >= settings.samples:
        await emit_round(runtime, len(samples), decided["batch"])
    return {"kind": kind, **decided}


@dataclass(frozen=True)
class _Round:
    """What the samples drawn so far show.

    Attributes:
        drawn: Samples drawn.
        passed: Those of them that failed no check.
        keyed: Whether the kind compares by a key (number, choice, yes/no, short).
        free: Whether the samples compare by form: code, free text, short answers that all
            differ, or keyed answers with no key found.
        split: Counted samples per distinct key, most first; the counted samples are those
            that passed, or all when none did.
        alike: Whether the counted samples all say the same, by form.
        weighed: Whether every counted sample has a confidence, so that votes are weighed
            by it and free-form answers chosen by it.
        confident: Whether the plain answer, drawn alone so far, passed its checks, has a
            key if its kind has keys, and is confident enough to stand alone
            (``confidence.stands_alone``, which says for which kinds).
        proven: Whether a sample passed checks that decide it: the plain answer, drawn
            alone so far, as free text that passed every check of the question's stated
            instructions (one at least); or any sample whose comparison of the quantities
            the question states the units bear out (``comparison``). A program, not the
            model, says it does what was asked.
    """

    drawn: int
    passed: int
    keyed: bool
    free: bool
    split: list[int]
    alike: bool
    weighed: bool
    confident: bool
    proven: bool
    settled: bool

    @classmethod
    def of(cls, samples: list[Draft], kind: str, question: str) -> _Round:
        """Count a round's samples."""
        passed = passing(samples)
        counted = passed or samples
        split = sorted(_counts(counted, kind, question).values(), reverse=True)
        keyed = kind in answers.KEYED
        all_differ = kind == "short" and bool(split) and split[0] == 1 < len(samples)
        # The plain answer, drawn alone so far and passing its checks: it may stand alone,
        # unless a calculator had to set its steps right (then it is one vote among samples).
        first = samples[0] if len(samples) == 1 and len(passed) == 1 else None
        if first is not None and "uncorrected" in first:
            first = None
        return cls(
            drawn=len(samples),
            passed=len(passed),
            keyed=keyed,
            free=not keyed or not split or all_differ,
            split=split,
            alike=bool(counted) and _all_alike(counted, kind),
            weighed=bool(counted) and confidence.weights(counted) is not None,
            confident=first is not None
            and (bool(split) or not keyed)
            and confidence.stands_alone(first, kind),
            proven=(
                first is not None
                and kind == "text"
                and any(c["kind"] == "constraint" for c in first["checks"])
            )
            or any(checks.decided(d) for d in passed),
            settled=not passed and any(checks.fails(d, "comparison") for d in samples),
        )


def _decide(seen: _Round, settings: Settings, stop: str | None) -> dict[str, Any]:
    """The tally's rule: the first line that applies decides.

    Args:
        seen: What the samples show.
        settings: The run's settings.
        stop: The budget a next call would break, if any: then nothing more is drawn,
            revised, compared or selected.
    """
    more = stop is None
    judged = settings.mode == "prompted" and settings.max_rounds > 0
    lead = seen.split[0] - seen.split[1] if len(seen.split) > 1 else 0
    if seen.confident and settings.stop_early:  # ReASC: a confident first answer needs no vote
        return _end("confident")
    if seen.proven and settings.stop_early:
        # Samples of free text are chosen by confidence alone, which knows no more than the
        # checks did: on IFEval's tuning slice (101–150) a plain answer that passed every
        # instruction check was right as often as the sample chosen after it (benchmarks §22).
        # A comparison of stated quantities has one right answer, and the units bore it out:
        # the first sample that gives it ends the run.
        return _end("checked")
    if seen.settled and more and judged:
        # The revision starts from the units' answer (``critique.continue_from_finding``),
        # where another sample is another guess: on an Intel build machine four samples in
        # a row said the kilogram of steel is heavier (benchmarks §34).
        return {"route": "revise"}
    if more and seen.drawn < settings.samples:  # the first round is not complete
        early = seen.drawn > 1 and seen.passed == seen.drawn and not seen.keyed and seen.alike
        return _end("agreed") if early else _draw(seen.drawn, settings.samples, settings)
    if more and not seen.passed and seen.drawn < settings.max_samples:
        # Another sample is likelier to pass than a revision (measured on IFEval: the 1.5B
        # model copies its draft rather than fix it; even after three samples failed the
        # same instructions, benchmarks §23).
        return _draw(seen.drawn, seen.drawn + _MORE_PER_ROUND, settings)
    if more and not seen.passed and judged:
        return {"route": "revise"}
    if stop and seen.drawn == 1:  # a lone answer agrees with none: the budget ended the run
        return _end(stop)
    if seen.passed == 1 < seen.drawn:
        return _end("checked")
    if seen.free and seen.alike:
        return _end("agreed")
    if seen.free and more and settings.max_rounds > 0 and not seen.weighed:
        # The selection call (USC) only where the model gives no token probabilities. Where
        # it does, the surest sample is chosen instead (self-certainty best-of-N, Kang et
        # al. 2025): on HumanEval's tuning slice both chose as well as the plain answer and
        # no better, the surest at 1.4× plain's tokens against 1.8× (benchmarks §16), and
        # the 1.5B selector mostly names the first response it reads (§7).
        return {"route": "select"}
    if seen.free:
        return _end(stop or ("surest" if seen.weighed else "voted"))
    if len(seen.split) == 1:
        return _end("agreed")
    if more and seen.drawn < settings.max_samples and lead <= settings.max_samples - seen.drawn:
        return _draw(seen.drawn, seen.drawn + _MORE_PER_ROUND, settings)
    if more and judged and lead == 0 and not seen.weighed:
        return {"route": "contrast", "stop_reason": "voted"}
    return _end(stop or "voted")


def _end(reason: str) -> dict[str, Any]:
    return {"route": "finalize", "stop_reason": reason}


def _draw(drawn: int, target: int, settings: Settings) -> dict[str, Any]:
    """A round of samples up to ``target`` (at most ``max_samples``), as many as run at once."""
    last = min(target, settings.max_samples, drawn + settings.max_concurrency)
    return {"route": "sample", "batch": list(range(drawn, last))}


def _all_alike(samples: list[Draft], kind: str) -> bool:
    """Whether every sample's answer is the first's, by form (``answers.same_text``)."""
    first = samples[0]["output"]
    return all(answers.same_text(first, d["output"], kind) for d in samples[1:])


def passing(samples: list[Draft]) -> list[Draft]:
    """The samples that failed no check."""
    return [d for d in samples if not checks.failed(d["checks"])]


def _counts(samples: list[Draft], kind: str, question: str) -> Counter[str]:
    if kind not in answers.KEYED:
        return Counter()
    found = (answers.key(d["output"], kind, question) for d in samples)
    return Counter(k for k in found if k)


def support(samples: list[Draft], kind: str, question: str) -> dict[str, float]:
    """Each answer key's support: its samples' confidence weights, else its count.

    Weights (CISC) apply where every sample has a confidence.
    """
    weights = confidence.weights(samples)
    if weights is None:
        return dict(_counts(samples, kind, question))
    total: dict[str, float] = {}
    for draft, weight in zip(samples, weights, strict=True):
        found = answers.key(draft["output"], kind, question) if kind in answers.KEYED else ""
        if found:
            total[found] = total.get(found, 0.0) + weight
    return total


def leaders(samples: list[Draft], kind: str, question: str) -> set[str]:
    """The answers with the most support; more than one means a tie at the top."""
    backing = support(samples, kind, question)
    best = max(backing.values(), default=0.0)
    return {key for key, weight in backing.items() if math.isclose(weight, best)}


def vote(samples: list[Draft], kind: str, question: str) -> int:
    """Index of the first sample with the best-supported answer (ties: the earliest answer).

    Answers are weighed by confidence where every sample has one, else counted. The
    earliest is the plain answer when it is among the tied. Code and free text have no
    key: the sample the model was surest of, else the plain answer.
    """
    top = leaders(samples, kind, question)
    if not top:
        weights = confidence.weights(samples)
        if weights is not None:
            return samples[max(range(len(samples)), key=lambda i: weights[i])]["index"]
        return samples[0]["index"]
    for d in samples:
        if answers.key(d["output"], kind, question) in top:
            return d["index"]
    return samples[0]["index"]


def choose(
    drafts: list[Draft],
    critiques: list[Critique],
    kind: str,
    question: str,
    selected: int | None = None,
) -> int:
    """Pick the draft a sampled run returns.

    A selection names its sample (``selected``, the index the critic named). A revision on
    failed checks counts only if it fails fewer checks than the sample it revised. A
    reconciled solution counts only if it picks one of the answers tied at the top and fails
    no check: a small model that invents a new answer, or talks itself out of a majority, has
    not earned its place. Otherwise, the vote of the samples that passed their checks.
    """
    samples = [d for d in drafts if d["round"] == 0]
    eligible = passing(samples) or samples
    if selected is not None:
        return selected
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
    counted = passing(samples) or samples
    weights = confidence.weights(counted)
    if kind not in answers.KEYED:
        if drawn == 1:
            sure = samples[0].get("confidence")
            said = f", confidence {sure['score']:.1f}" if sure else ""
            return f"1 solution ({kind}{said}){tail}"
        if _all_alike(samples, kind):
            return f"{drawn} {noun} ({kind}) agree{tail}"
        if weights is None:
            return f"{drawn} {noun} ({kind}) differ{tail}"
        surest = counted[max(range(len(counted)), key=lambda i: weights[i])]["index"]
        return f"{drawn} {noun} ({kind}) differ{tail}; the surest is solution {surest + 1}"
    keys = [answers.key(d["output"], kind, question) or "(no answer)" for d in samples]
    counts = Counter(keys)
    names = {key: _short(key) for key in counts}
    if drawn == 1:
        sure = samples[0].get("confidence")
        said = f" (confidence {sure['score']:.1f})" if sure else ""
        return f"1 solution: {names[keys[0]]}{said}{tail}"
    if len(counts) == 1:
        return f"all {drawn} solutions agree: {names[keys[0]]}{tail}"
    spread = ", ".join(f"{names[key]} ×{n}" for key, n in counts.most_common())
    backing = support(counted, kind, question)
    if weights is not None and backing:
        shares = sorted(backing.items(), key=lambda item: -item[1])
        total = sum(backing.values()) or 1.0
        spread += "; weighed by confidence: " + ", ".join(
            f"{names[key]} {weight / total:.0%}" for key, weight in shares
        )
    return f"{drawn} solutions disagree: {spread}{tail}"


def finish(state: State, kind: str) -> Finished:
    """The draft a sampled run returns; the tally first, then what the choice rests on."""
    drafts, critiques, question = state["drafts"], state.get("critiques") or [], state["asked"]
    selection = state.get("selection")
    selected = selection["draft"] if selection else None
    chosen = choose(drafts, critiques, kind, question, selected)
    return Finished(
        chosen=chosen,
        tally=tally_note(drafts, kind, question),
        notes=notes(drafts, critiques, selection, chosen),
    )


def notes(
    drafts: list[Draft], critiques: list[Critique], selection: Selection | None, chosen: int
) -> list[str]:
    """What the critic or the checks said that the chosen draft rests on."""
    lines = [selection["note"]] if selection else []
    if drafts[chosen]["round"] > 0:
        lines += [c["error"] for c in critiques if c["verdict"] == "revise"]
    return [line for line in lines if line]


def _short(key: str, limit: int = 30) -> str:
    """An answer key fit for one line; text answers can be whole sentences."""
    return key if len(key) <= limit else key[: limit - 1].rstrip() + "…"


TECHNIQUE = Technique(
    name="sampling",
    start="sample",
    finish=finish,
    nodes={
        "sample": Node(sample, ("tally",)),
        "tally": Node(tally, ("sample", "contrast", "select", "revise", "finalize")),
    },
)
