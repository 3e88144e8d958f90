"""The graph's state: ``messages`` in, the answer appended as one AI message out."""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from agent.result import Critique, Draft, Usage


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


class State(InputState, OutputState, total=False):
    """The working state of one run.

    The per-run lists carry no reducer on purpose: the first node writes them afresh, so a
    thread that is asked a second question starts with no drafts from the first.
    """

    asked: str
    drafts: list[Draft]
    critiques: list[Critique]
    rounds: int
    usage: Usage
    started: float
    stop_reason: str
