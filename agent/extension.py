"""Writing on: the model continues its own answer, from a corrected step or to meet a count.

``from_right_step``: a solution whose arithmetic a calculator finds wrong (``3 × 12 = 38``)
is cut right after the wrong step's ``=``, the right value is written there, and the model
goes on from it as its own text: what GSM8K's own calculator did. Asked to revise with the
finding in the prompt, the 1.5B model fixed 0 of 7 such steps; continued, 4 of 7 (benchmarks
§9, §15). Only where the model continues a final assistant message (``models.continuing``).

``write_on``: an answer short of a stated count or postscript is written on until it meets it.

An answer one sentence short of "in two sentences", or without the postscript asked for,
needs words only the model can write, but not a new answer: at 1.5B every new sample missed
the count the same way (benchmarks §19: six calls for "explain in two sentences", all one
sentence long). So the model writes on from where it stopped, held to it: the reply may not
end before the instruction is met, and ends at the sentence that meets it
(``checks.continuation`` says where it starts and when it stops). Only where the model can be
held so (``models.writes_until``: the embedded model); elsewhere the draft stays as drawn.

The default writes on the plain answer only: that is where it was measured (benchmarks §28),
and where it lets a run stop at the first answer. Writing on every sample as well doubled the
calls of a prompt no sample meets (ten calls for IFEval prompt 1069 in a trial run).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from langchain_core.messages import AIMessage, BaseMessage
from langgraph.runtime import Runtime

from agent import answers, checks, confidence
from agent.calls import budget_stop, go_on, kind_of_draft, make_draft, usage_of, with_checks
from agent.checks import calculator
from agent.context import ChatModel, Settings
from agent.events import emit_check
from agent.models import MAX_TOKENS_PER_CALL, continuing, with_fields, writes_until
from agent.parsing import message_text
from agent.result import Check, Draft, Usage, add_usage

# Wrong steps corrected in one solution, each a call; past them it keeps its failed check.
MOST_CORRECTED = 3
SET_RIGHT = "going on from a corrected step"
"""Why a solution set right was not kept begins so (after ``checks.NOT_KEPT``)."""


async def from_right_step(
    draft: Draft,
    reply: AIMessage,
    task: dict[str, Any],
    settings: Settings,
    model: ChatModel,
    messages: list[BaseMessage],
    runtime: Runtime[Any] | None = None,
    *,
    spent: Usage | None = None,
) -> tuple[Draft, Usage | None]:
    """A number's solution continued by the model from its first wrong step, set right.

    Args:
        draft: A checked draft (``calls.with_checks``) made from ``reply``.
        reply: The model's reply the draft was made from (its token probabilities).
        task: The run's question and constraints (``asked``, ``constraints``, ``kind``).
        settings: The run's settings.
        model: The model that wrote the draft, as it wrote it (its temperature and seed).
        messages: The messages it answered.
        runtime: Where each wrong step is announced (a ``check`` event) before the model goes
            on from it, so a stream of the reply shows where its continuation starts.
        spent: What this sample has used so far; with the run's usage when its round began
            (``task``'s ``usage`` and ``started``), it is held to the run's budgets before
            each call (``over_budget``).

    Returns:
        The continued draft, checked again, and the calls' usage; or the draft unchanged and
        ``None`` when no call was made. Only for a number question (where it was measured; a
        text may quote a wrong sum on purpose). Up to ``MOST_CORRECTED`` wrong steps are set
        right, one call each, each from the first one left, and only while each lies past the
        last. A reflection names each corrected step and ``uncorrected`` keeps the text as
        first written. Its confidence is read from the tokens the model chose in the text it
        keeps (the values written in are not the model's), where its tokens spell its text;
        else from what it wrote on. It is kept unless it fails more checks than the draft;
        then the draft stays, with a reflection that says so and the corrected text in
        ``continuation``. A call the server refuses (a thinking model's server may refuse a
        prefilled answer) ends the corrections, keeping what was set right before it.
    """
    # The run's kind as the tally will settle it: "What's the total … if each costs 15$?" is
    # told a number by the solutions' marked numeric conclusions, not by its words.
    if not checks.fails(draft, "calculator"):
        return draft, None
    if answers.settle_kind(task.get("kind") or "", task["asked"], [draft["output"]]) != "number":
        return draft, None
    going_on = await continuing(model)
    if going_on is None:
        return draft, None
    text, notes, used, last = draft["text"], [], None, -1
    entries = confidence.token_entries(reply.response_metadata or {})
    spelled = "".join(str(t.get("token", "")) for t in entries) == text
    tokens = _placed(entries, 0) if spelled else []
    for _ in range(MOST_CORRECTED):
        start = corrected_start(text)
        if start is None or start.at <= last or over_budget(task, settings, spent, used):
            break
        await emit_check(runtime, draft["index"], start.check)
        went = await go_on(going_on, messages, start.prefix, f"reflect:sample:{draft['index']}")
        if went is None:
            break
        more, last = went[0], start.at
        notes.append(start.note)
        text = start.prefix + message_text(more.content)
        kept = [(at, t) for at, t in tokens if at + len(str(t.get("token", ""))) <= last]
        went_on = confidence.token_entries(more.response_metadata or {})
        tokens = kept + _placed(went_on, len(start.prefix))
        used = add_usage(used, usage_of(more))
    if not notes:
        return draft, used
    whole = AIMessage(
        content=text,
        usage_metadata=reply.usage_metadata,
        additional_kwargs=reply.additional_kwargs,
        response_metadata={"logprobs": {"content": [t for _, t in tokens]}} if tokens else {},
    )
    corrected = make_draft(draft["index"], draft["round"], whole, draft["seconds"])
    corrected = {
        **corrected,
        "reflections": [*corrected["reflections"], *notes],
        "uncorrected": draft["text"],
    }
    corrected = await with_checks(corrected, task, settings)
    if len(checks.failed(corrected["checks"])) > len(checks.failed(draft["checks"])):
        still = "; ".join(c["name"] for c in checks.failed(corrected["checks"]))
        return _set_aside(draft, text, f"{SET_RIGHT}, it failed {still}"), used
    return corrected, used


def over_budget(task: dict[str, Any], settings: Settings, *used: Usage | None) -> str | None:
    """The run's budget a continuation would break: tokens or time, as before a round.

    The run's usage when the round began (``task["usage"]``) plus what this sample has used
    (``used``). Samples of one round run at once and each counts only its own calls, so a
    round may still end past a budget by its own calls, as any round may.
    """
    if task.get("started") is None:
        return None
    usage = task.get("usage")
    for more in used:
        usage = add_usage(usage, more)
    return budget_stop(
        {"usage": add_usage(usage, None), "started": task["started"], "rounds": 0},
        settings,
        check_rounds=False,
    )


class Correction(NamedTuple):
    """A text set right up to its first wrong step (``corrected_start``)."""

    at: int
    """Where the wrong step's result starts in the text."""
    prefix: str
    """The text up to there, with the right value written in."""
    note: str
    """The reflection that says so."""
    check: Check
    """The failed calculator check of that step."""


def corrected_start(text: str) -> Correction | None:
    """The text set right up to its first wrong step; ``None`` when no step is wrong.

    Example:
        >>> corrected_start("He has 3 × 12 = 38 chickens.")[:3]
        (16, 'He has 3 × 12 = 36', 'continued from the corrected step: He has 3 × 12 = 36')
    """
    wrong = calculator.first_wrong_step(text)
    if wrong is None:
        return None
    at, value, check = wrong
    step = text[:at].splitlines()[-1].strip() if text[:at].strip() else ""
    return Correction(at, text[:at] + value, (checks.CORRECTED + f"{step} {value}").rstrip(), check)


def _placed(entries: list[dict[str, Any]], start: int) -> list[tuple[int, dict[str, Any]]]:
    """Token entries with where each starts in the text, the first at ``start``."""
    placed = []
    for entry in entries:
        placed.append((start, entry))
        start += len(str(entry.get("token", "")))
    return placed


async def write_on(
    draft: Draft,
    task: dict[str, Any],
    settings: Settings,
    model: ChatModel,
    messages: list[BaseMessage],
    *,
    spent: Usage | None = None,
) -> tuple[Draft, Usage | None]:
    """The draft written on by the model until it meets what it failed, where that can help.

    Args:
        draft: A checked draft (``calls.with_checks``).
        task: The run's question and constraints (``asked``, ``constraints``, ``kind``).
        settings: The run's settings.
        model: The model that wrote the draft, as it wrote it.
        messages: The messages it answered.
        spent: What this sample has used so far (as for ``from_right_step``).

    Returns:
        The written-on draft, checked again, and the call's usage; or the draft unchanged
        and ``None`` when no call was made. The model writes on from its own text, before
        any repair; the whole is then repaired and checked like any draft. It is kept only
        if it fails fewer checks, nothing that passed now fails, and its answer key (for a
        kind that is voted on) is the draft's. Then its reflections say what the model's
        continuation met, and ``written`` keeps the answer as first written. Otherwise the
        draft stays as it was, with a reflection that says why the continuation was set
        aside and the continuation itself in ``continuation``. Its tokens and seconds stay
        those of its first call; the run's usage counts the second call too.
    """
    constraints = task.get("constraints") or []
    failing = checks.failed(draft["checks"])
    if not failing or any(c["kind"] != "constraint" for c in failing):
        return draft, None
    if not writes_until(model) or over_budget(task, settings, spent):
        return draft, None
    own = draft.get("written", draft["output"])
    # About 1.5 tokens a word, and room to end the sentence: a call holds some 600 words.
    plan = checks.continuation(own, constraints, MAX_TOKENS_PER_CALL * 3 // 5)
    if plan is None:
        return draft, None
    held = with_fields(model, until=plan.until)
    went = await go_on(held, messages, plan.prefix, f"reflect:sample:{draft['index']}")
    if went is None:  # the answer filled the model's context: no room to write on
        return draft, None
    said, used = message_text(went[0].content), usage_of(went[0])
    short = plan.why(said)  # cut off by its token limit, looping, or broke what held
    if short:
        return _set_aside(draft, said, short), used
    whole = plan.prefix + said
    # The reflections the model wrote; the repairs' note is written anew for the whole.
    notes = [r for r in draft["reflections"] if not r.startswith(checks.REPAIRED)]
    longer: Draft = {
        **draft,
        "text": whole,
        "output": whole,
        "reflections": [*notes, checks.WRITTEN_ON + "; ".join(plan.labels)],
        "checks": [],
    }
    longer = {**await with_checks(longer, task, settings), "written": own}
    kind = kind_of_draft(task, draft)
    if not answers.same_key(longer["output"], draft["output"], kind, task["asked"]):
        return _set_aside(draft, said, "it changed the answer"), used
    if not _better(longer, draft):
        still = [c["name"] for c in checks.failed(longer["checks"])]
        return _set_aside(draft, said, "afterwards it failed " + "; ".join(still)), used
    return longer, used


def _set_aside(draft: Draft, said: str, why: str) -> Draft:
    """The draft as it was, saying why the model's continuation was not kept, and keeping it."""
    reflections = [*draft["reflections"], checks.NOT_KEPT + why]
    return {**draft, "reflections": reflections, "continuation": said}


def _better(new: Draft, old: Draft) -> bool:
    """Fewer failed checks, and none that passed before now failing."""
    before = {c["name"] for c in checks.failed(old["checks"])}
    after = {c["name"] for c in checks.failed(new["checks"])}
    return after < before
