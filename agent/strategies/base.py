"""The pieces the registry is made of: a node with its exits, and a part of the graph."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from langgraph.runtime import Runtime

from agent.context import Context
from agent.nodes import Env

NodeFn = Callable[[Any, Runtime[Context], Env], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Node:
    """A graph node: its function and the nodes it may lead to (chosen by ``route``)."""

    run: NodeFn
    then: tuple[str, ...]
    retry: bool = True


@dataclass(frozen=True)
class Part:
    """A module's nodes. A part with a ``start`` is a strategy of ``prompted`` mode.

    Attributes:
        name: The strategy's name (``strategy="NAME"``), or the part's.
        nodes: Its nodes by name.
        start: The node after ``intake`` when the strategy runs: ``answer`` (one draft) or
            ``sample`` (a round of samples); ``None`` for a part that is not a strategy.
        description: One line for help texts.
    """

    name: str
    nodes: dict[str, Node] = field(default_factory=dict)
    start: str | None = None
    description: str = ""
