"""The pieces the registry is made of: a node with its exits, and a part of the graph."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from langgraph.runtime import Runtime

from agent.context import Context
from agent.nodes import Env
from agent.result import Critique, Draft

NodeFn = Callable[[Any, Runtime[Context], Env], Awaitable[dict[str, Any]]]
# (drafts, critiques, kind, question) -> (the chosen draft, reflections before and after its own)
Finish = Callable[[list[Draft], list[Critique], str, str], tuple[int, list[str], list[str]]]


@dataclass(frozen=True)
class Node:
    """A graph node: its function and the nodes it may lead to (chosen by ``route``)."""

    run: NodeFn
    then: tuple[str, ...]


@dataclass(frozen=True)
class Part:
    """A module's nodes. A part with a ``start`` is a strategy of ``prompted`` mode.

    Attributes:
        name: The strategy's name (``strategy="NAME"``), or the part's.
        nodes: Its nodes by name.
        start: The node after ``intake`` when the strategy runs: ``answer`` (one draft) or
            ``sample`` (a round of samples); ``None`` for a part that is not a strategy.
        after_answer: For a strategy that starts with ``answer``, the node that follows it.
        finish: How the strategy picks the draft it returns, and the reflections it adds.
    """

    name: str
    nodes: dict[str, Node] = field(default_factory=dict)
    start: str | None = None
    after_answer: str | None = None
    finish: Finish | None = None
