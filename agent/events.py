"""The events a run streams while it works, each a ``TypedDict`` with its own helper.

Every event is a dict whose ``event`` field names it. LangGraph's ``stream_mode="custom"``
gets it as it is; LangChain's event stream (``astream_events(version="v2")`` and callback
handlers) gets an ``on_custom_event`` named after its ``event`` field, with the dict as its
data. ``thinking`` and ``text`` reach only LangChain's event stream; LangGraph's
``stream_mode="messages"`` carries the same tokens.

A run emits, in order: ``draft`` or a round of ``sample`` (each followed by its ``check``
events); then, by strategy, ``round``, ``critique``, ``revision`` (with its checks) or a
selection; ``tally`` for a sampled run; and last ``final``. Each event is built and sent by
the one ``emit_*`` helper below, so its keys are defined once.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal

from langchain_core.callbacks import adispatch_custom_event
from langgraph.runtime import Runtime
from typing_extensions import TypedDict

from agent import checks
from agent.result import Check, Critique, Draft, ReflectionResult, Selection


class DraftEvent(TypedDict):
    """The first answer of a run that does not sample (``critique`` strategy, ``single``, …).

    Emitted by ``answer`` once the draft is written and checked.
    """

    event: Literal["draft"]
    round: int
    output: str


class SampleEvent(TypedDict):
    """One sampled solution, emitted by ``sample`` as soon as it is written and checked.

    ``index`` 0 is the plain answer; samples of a round finish in any order.
    ``confidence`` is its score (``agent.confidence``), ``None`` where the model gave no
    token probabilities; ``program`` whether it is a program sample.
    """

    event: Literal["sample"]
    index: int
    output: str
    confidence: float | None
    program: bool


class RevisionEvent(TypedDict):
    """A revision or a reconciled solution, emitted by ``revise`` and ``reconcile``.

    ``round`` is the critique round it answers.
    """

    event: Literal["revision"]
    round: int
    output: str


class CheckEvent(TypedDict):
    """One piece of evidence about a draft, emitted after its draft, sample or revision event.

    Holds the ``Check`` (``kind``, ``name``, ``passed``, ``detail``), the index of the
    ``draft`` it is about and its reflection ``line`` (``✗ 3 × 12 = 38 (is 36)``).
    """

    event: Literal["check"]
    draft: int
    kind: str
    name: str
    passed: bool
    detail: str
    line: str


class CritiqueEvent(TypedDict):
    """A judgement of a draft (a ``Critique`` record), emitted as it is made.

    By the critic (``critique``), by the failed checks (``critique``, or ``tally`` when every
    sample failed) or as the checklist of a tie (``contrast``, with the checklist in
    ``error``).
    """

    event: Literal["critique"]
    round: int
    draft: int
    verdict: Literal["pass", "revise", "unclear"]
    by: Literal["critic", "checks"]
    error: str


class SelectionEvent(TypedDict):
    """The critic named the most consistent sample (``select``; a ``Selection`` record).

    Sent as ``event="critique"`` with ``verdict="select"`` and the note in ``error``, the
    keys listeners read before selections had their own record.
    """

    event: Literal["critique"]
    round: int
    draft: int
    verdict: Literal["select"]
    by: Literal["critic"]
    error: str


class RoundEvent(TypedDict):
    """A further round of samples, past the first ``samples``, is about to be drawn.

    Emitted by ``tally``: ``drawn`` samples so far, and the indices of those to come.
    """

    event: Literal["round"]
    drawn: int
    samples: list[int]


class TallyEvent(TypedDict):
    """The sampled answers and their counts (``"5 solutions disagree: 12 ×3, 7 ×2"``).

    Emitted by ``finalize`` in a sampled run, before ``final``.
    """

    event: Literal["tally"]
    note: str


class FinalEvent(TypedDict):
    """The run's answer and why it stopped; the last event, emitted by ``finalize``."""

    event: Literal["final"]
    output: str
    stop_reason: str


class TokenEvent(TypedDict):
    """A piece of streamed reply: reasoning (``thinking``) or answer (``text``), tags removed.

    Only on LangChain's event stream. ``role`` is ``generator`` or ``critic``; ``index`` the
    sample, or ``None`` outside sampling.
    """

    event: Literal["thinking", "text"]
    text: str
    role: str
    index: int | None


GraphEvent = (
    DraftEvent
    | SampleEvent
    | RevisionEvent
    | CheckEvent
    | CritiqueEvent
    | SelectionEvent
    | RoundEvent
    | TallyEvent
    | FinalEvent
)
"""Every event a node emits (``TokenEvent`` comes from the model calls)."""


class StreamedEvent(TypedDict):
    """A piece of a reply as the model streams it, tags and all: ``ReflectionRun`` only.

    ``node`` is the graph node that called the model, ``index`` the sample (0 elsewhere).
    """

    event: Literal["token"]
    node: str
    index: int
    text: str


class ResumedEvent(TypedDict):
    """``ReflectionRun`` found the thread in its checkpoint: ``finished``, or resuming."""

    event: Literal["resumed"]
    thread: str
    finished: bool
    drafts: int
    critiques: int


class ResultEvent(TypedDict):
    """The last event of ``ReflectionRun.events()``: the whole ``ReflectionResult``."""

    event: Literal["result"]
    result: ReflectionResult


RunEvent = GraphEvent | StreamedEvent | ResumedEvent | ResultEvent
"""Every event ``ReflectionRun.events()`` yields."""


async def emit_draft(
    runtime: Runtime[Any] | None, draft: Draft, event: Literal["draft", "sample", "revision"]
) -> None:
    """Announce a new draft as ``event``, then each of its checks."""
    output = draft["output"]
    if event == "sample":
        sure = draft.get("confidence")
        await _emit(
            runtime,
            SampleEvent(
                event="sample",
                index=draft["index"],
                output=output,
                confidence=sure["score"] if sure else None,
                program=bool(draft.get("program")),
            ),
        )
    elif event == "revision":
        await _emit(runtime, RevisionEvent(event="revision", round=draft["round"], output=output))
    else:
        await _emit(runtime, DraftEvent(event="draft", round=draft["round"], output=output))
    for check in draft["checks"]:
        await _emit(runtime, _check_event(draft["index"], check))


def _check_event(draft: int, check: Check) -> CheckEvent:
    return CheckEvent(
        event="check",
        draft=draft,
        kind=check["kind"],
        name=check["name"],
        passed=check["passed"],
        detail=check["detail"],
        line=checks.line_of(check),
    )


async def emit_check(runtime: Runtime[Any] | None, draft: int, check: Check) -> None:
    """Announce one check of a draft still being written (a step about to be set right)."""
    await _emit(runtime, _check_event(draft, check))


async def emit_critique(runtime: Runtime[Any] | None, record: Critique) -> None:
    """Announce a critique record."""
    await _emit(
        runtime,
        CritiqueEvent(
            event="critique",
            round=record["round"],
            draft=record["draft"],
            verdict=record["verdict"],
            by=record["by"],
            error=record["error"],
        ),
    )


async def emit_selection(runtime: Runtime[Any] | None, selection: Selection) -> None:
    """Announce the critic's selection."""
    await _emit(
        runtime,
        SelectionEvent(
            event="critique",
            round=selection["round"],
            draft=selection["draft"],
            verdict="select",
            by="critic",
            error=selection["note"],
        ),
    )


async def emit_round(runtime: Runtime[Any] | None, drawn: int, samples: list[int]) -> None:
    """Announce a further round of samples."""
    await _emit(runtime, RoundEvent(event="round", drawn=drawn, samples=samples))


async def emit_tally(runtime: Runtime[Any] | None, note: str) -> None:
    """Announce the tally of a sampled run."""
    await _emit(runtime, TallyEvent(event="tally", note=note))


async def emit_final(runtime: Runtime[Any] | None, result: ReflectionResult) -> None:
    """Announce the run's answer."""
    await _emit(
        runtime, FinalEvent(event="final", output=result.output, stop_reason=result.stop_reason)
    )


def token_event(
    event: Literal["thinking", "text"], text: str, role: str, index: int | None
) -> TokenEvent:
    """A piece of streamed reply, for ``adispatch_custom_event``."""
    return TokenEvent(event=event, text=text, role=role, index=index)


async def _emit(runtime: Runtime[Any] | None, event: GraphEvent) -> None:
    """Send an event to both kinds of listener."""
    if runtime is not None and runtime.stream_writer is not None:
        runtime.stream_writer(event)
    with contextlib.suppress(RuntimeError):  # no parent run: nobody listens to callbacks
        await adispatch_custom_event(event["event"], dict(event))
