"""The reasoning techniques between ``intake`` and ``finalize``, and the strategies among them.

A technique is one module's nodes: ``sampling`` (sample, tally), ``select`` (select),
``contrast`` (contrast, reconcile) and ``critique`` (critique, revise). A strategy is a
technique that ``prompted`` mode runs by name (``Strategy``); ``vote`` mode runs sampling.
To add one, write a module that defines its nodes and ``TECHNIQUE``, list it here, and name
it in ``agent.context.Strategy``.
"""

from __future__ import annotations

from typing import get_args

from agent.context import Settings, Strategy
from agent.strategies import contrast, critique, sampling, select
from agent.strategies.base import Finished, Node, Technique

TECHNIQUES: tuple[Technique, ...] = (
    sampling.TECHNIQUE,
    select.TECHNIQUE,
    contrast.TECHNIQUE,
    critique.TECHNIQUE,
)
STRATEGIES: dict[str, Technique] = {
    "contrast": contrast.TECHNIQUE,
    "critique": critique.TECHNIQUE,
}
assert tuple(STRATEGIES) == get_args(Strategy), "STRATEGIES must list Strategy's names"


def technique_for(settings: Settings) -> Technique | None:
    """The technique a run's mode runs: ``vote`` samples, ``prompted`` its strategy.

    ``single``, ``native`` and ``baseline`` run none: their first answer is the answer.
    """
    if settings.mode == "vote":
        return sampling.TECHNIQUE
    if settings.mode == "prompted":
        return STRATEGIES[settings.strategy]
    return None


__all__ = ["STRATEGIES", "TECHNIQUES", "Finished", "Node", "Technique", "technique_for"]
