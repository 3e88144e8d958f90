"""What the registry is made of: a node with its exits, a technique, and what it finishes with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from langgraph.runtime import Runtime

from agent.calls import Setup
from agent.context import Context
from agent.state import State

NodeFn = Callable[[Any, Runtime[Context], Setup], Awaitable[dict[str, Any]]]


class Finished(NamedTuple):
    """The draft a technique returns, and the reflections its choice adds.

    Attributes:
        chosen: Index of the draft whose answer is returned.
        tally: For a sampled run, the sampled answers and their counts: the first
            reflection, and the ``tally`` event. Empty otherwise.
        notes: What the choice rests on (the critic's errors, a selection's note): the last
            reflections.
    """

    chosen: int
    tally: str
    notes: list[str]


Finish = Callable[[State, str], Finished]
"""How a technique picks its draft, from the final state and the settled answer kind."""


@dataclass(frozen=True)
class Node:
    """A graph node: its function and the nodes it may lead to (chosen by ``route``)."""

    run: NodeFn
    then: tuple[str, ...]


@dataclass(frozen=True)
class Technique:
    """One module's reasoning technique: its nodes, how a run enters it, how it finishes.

    Attributes:
        name: Its name; a strategy's is the ``strategy="NAME"`` that runs it.
        nodes: Its nodes by name.
        start: The node after ``intake`` when this technique leads a run: ``answer`` (one
            draft) or ``sample`` (a round of samples); ``None`` for one only reached from
            another (``select``).
        after_answer: For a technique that starts with ``answer``, the node that follows it.
        finish: How it picks the draft it returns (``None``: the first draft).
    """

    name: str
    nodes: dict[str, Node] = field(default_factory=dict)
    start: str | None = None
    after_answer: str | None = None
    finish: Finish | None = None
