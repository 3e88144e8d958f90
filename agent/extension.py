"""Writing on: the model continues its own answer until a stated count or postscript is met.

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

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from agent import answers, checks
from agent.calls import call, kind_of_draft, usage_of, with_checks
from agent.context import ChatModel, Settings
from agent.errors import ConfigError
from agent.models import MAX_TOKENS_PER_CALL, with_fields, writes_until
from agent.parsing import message_text
from agent.result import Draft, Usage


async def write_on(
    draft: Draft,
    task: dict[str, Any],
    settings: Settings,
    model: ChatModel,
    messages: list[BaseMessage],
) -> tuple[Draft, Usage | None]:
    """The draft written on by the model until it meets what it failed, where that can help.

    Args:
        draft: A checked draft (``calls.with_checks``).
        task: The run's question and constraints (``asked``, ``constraints``, ``kind``).
        settings: The run's settings.
        model: The model that wrote the draft, as it wrote it.
        messages: The messages it answered.

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
    if not writes_until(model):
        return draft, None
    own = draft.get("written", draft["output"])
    # About 1.5 tokens a word, and room to end the sentence: a call holds some 600 words.
    plan = checks.continuation(own, constraints, MAX_TOKENS_PER_CALL * 3 // 5)
    if plan is None:
        return draft, None
    held = with_fields(model, until=plan.until)
    try:
        reply, _ = await call(
            held,
            [*messages, AIMessage(plan.prefix)],
            "generator",
            f"reflect:sample:{draft['index']}",
            allow_empty=True,
        )
    except ConfigError:  # the answer filled the model's context: no room to write on
        return draft, None
    said, used = message_text(reply.content), usage_of(reply)
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
