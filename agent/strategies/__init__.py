"""The strategies of ``prompted`` mode, and the parts of the graph they are made of.

A part is one module's nodes: ``sampling`` (sample, tally), ``select`` (select), ``contrast``
(contrast, reconcile) and ``critique`` (critique, revise). A part with a ``start`` is a
strategy. To add one, write a module that defines its nodes and ``PART``, and list it here.
"""

from __future__ import annotations

from agent.strategies import contrast, critique, sampling, select
from agent.strategies.base import Node, Part

PARTS: tuple[Part, ...] = (sampling.PART, select.PART, contrast.PART, critique.PART)
STRATEGIES: dict[str, Part] = {part.name: part for part in PARTS if part.start}

__all__ = ["PARTS", "STRATEGIES", "Node", "Part"]
