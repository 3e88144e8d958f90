"""The graph's state: ``messages`` in, the answer appended as one AI message out."""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from agent.checks import Constraint
from agent.result import Critique, Draft, Selection, Usage, add_usage, empty_usage


class InputState(TypedDict, total=False):
    """What a caller passes.

    Either a conversation whose last human message is the question, or a bare
    ``question`` (which joins the conversation as a human message).
    """

    messages: Annotated[list[AnyMessage], add_messages]
    question: str | None


class OutputState(TypedDict, total=False):
    """What a caller gets back.

    The conversation with the answer appended, and the whole ``ReflectionResult`` as a
    dict (``ReflectionResult.from_dict`` rebuilds it).
    """

    messages: Annotated[list[AnyMessage], add_messages]
    result: dict[str, Any]


def merge_drafts(left: list[Draft] | None, right: list[Draft] | None) -> list[Draft]:
    """Add drafts by their ``index``; ``None`` starts a new run with none.

    Samples drawn in parallel finish in any order; keyed by index, they always land in
    the order they were asked for, and a write applied twice changes nothing.
    """
    if right is None:
        return []
    merged = {d["index"]: d for d in left or []}
    merged.update({d["index"]: d for d in right})
    return [merged[i] for i in sorted(merged)]


def append_critiques(left: list[Critique] | None, right: list[Critique] | None) -> list[Critique]:
    """Append critiques; ``None`` starts a new run with none."""
    return [] if right is None else [*(left or []), *right]


def sum_usage(left: Usage | None, right: Usage | None) -> Usage:
    """Add up the usage of every call, parallel ones included; ``None`` resets it."""
    return empty_usage() if right is None else add_usage(left, right)


class State(InputState, OutputState, total=False):
    """The working state of one run.

    ``intake`` resets the per-run fields (by writing ``None`` to the accumulating ones), so
    a thread asked a second question starts with no drafts from the first.

    Attributes:
        asked: The question of this run.
        kind: The kind of answer asked for (``agent.answers``); empty until known.
        constraints: The question's checkable instructions (``agent.checks``).
        drafts: Every draft, in index order.
        critiques: Every critique and checklist.
        selection: The critic's pick among the samples (``select``), if made.
        sampled: Whether the run starts with samples (vote, or a strategy that samples).
        rounds: Critique rounds run.
        usage: Tokens and calls over the run.
        started: Wall-clock start, for the time budget.
        batch: Indices of the samples the next sampling round draws.
        route: The node to run next (or ``finalize``).
        stop_reason: Why the run stopped (see ``agent.result.StopReason``).
    """

    asked: str
    kind: str
    constraints: list[Constraint]
    drafts: Annotated[list[Draft], merge_drafts]
    critiques: Annotated[list[Critique], append_critiques]
    selection: Selection | None
    sampled: bool
    rounds: int
    usage: Annotated[Usage, sum_usage]
    started: float
    batch: list[int]
    route: str
    stop_reason: str
