"""Writing on: the model continues its own answer until a stated count or postscript is met.

An answer one sentence short of "in two sentences", or without the postscript asked for,
needs words only the model can write, but not a new answer: at 1.5B every new sample missed
the count the same way (benchmarks §19: six calls for "explain in two sentences", all one
sentence long). So the model writes on from where it stopped, held to it: the reply may not
end before the instruction is met, and ends at the sentence that meets it
(``checks.continuation`` says where it starts and when it stops). Only where the model can be
held so (``models.writes_until``: the embedded model); elsewhere the draft stays as drawn.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from agent import checks
from agent.calls import call, make_draft, usage_of, with_checks
from agent.context import ChatModel, Settings
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
        and ``None`` when no call was made. The draft written on is kept only if it fails
        fewer checks and nothing that passed now fails; then its reflections say what the
        model's continuation met, ``written`` keeps the answer as first written, and its
        tokens and seconds stay those of its first call (the run's usage has both).
    """
    constraints = task.get("constraints") or []
    failing = checks.failed(draft["checks"])
    if not failing or any(c["kind"] != "constraint" for c in failing):
        return draft, None
    if not writes_until(model):
        return draft, None
    # About 1.5 tokens a word, and room to end the sentence: a call holds some 600 words.
    plan = checks.continuation(draft["output"], constraints, MAX_TOKENS_PER_CALL * 3 // 5)
    if plan is None:
        return draft, None
    held = with_fields(model, until=plan.until)
    reply, _ = await call(
        held,
        [*messages, AIMessage(plan.prefix)],
        "generator",
        f"reflect:sample:{draft['index']}",
        allow_empty=True,
    )
    said = message_text(reply.content)
    if not plan.met(said):  # cut off by its token limit, looping, or broke what held
        return draft, usage_of(reply)
    whole = plan.prefix + said
    written = make_draft(draft["index"], draft["round"], AIMessage(whole), 0.0)
    note = checks.WRITTEN_ON + "; ".join(plan.labels)
    longer: Draft = {
        **draft,
        "text": written["text"],
        "thinking": written["thinking"],
        "output": written["output"],
        "written": draft.get("written", draft["output"]),
        "reflections": [*draft["reflections"], note],
        "checks": [],
    }
    longer = await with_checks(longer, task, settings)
    # with_checks keeps, as "written", what it was given when it repairs: the first answer.
    longer = {**longer, "written": draft.get("written", draft["output"])}
    return (longer if _better(longer, draft) else draft), usage_of(reply)


def _better(new: Draft, old: Draft) -> bool:
    """Fewer failed checks, and none that passed before now failing."""
    before = {c["name"] for c in checks.failed(old["checks"])}
    after = {c["name"] for c in checks.failed(new["checks"])}
    return after < before
