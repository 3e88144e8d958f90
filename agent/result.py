"""The one result every mode returns, and the records it is built from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from typing_extensions import TypedDict

from agent.parsing import render_tagged

Mode = Literal["prompted", "vote", "single", "native", "baseline"]
MODES: tuple[str, ...] = ("prompted", "vote", "single", "native", "baseline")

StopReason = Literal[
    "answered",  # single, native and baseline: one call, no loop
    "agreed",  # contrast and vote: every sampled solution reached the same answer
    "voted",  # contrast and vote: the most common answer of disagreeing samples
    "reconciled",  # contrast: the disagreements were listed and reconciled into one answer
    "accepted",  # the critique found no concrete error
    "converged",  # a revision came back with the same answer as the draft it revised
    "max_rounds",
    "token_budget",
    "time_budget",
]


class Usage(TypedDict):
    """Token counts, summed over every model call of a run (generator and critic)."""

    input_tokens: int
    output_tokens: int
    calls: int


class Draft(TypedDict):
    """One answer attempt: the first generation or a revision."""

    round: int
    text: str
    thinking: str
    reflections: list[str]
    output: str
    input_tokens: int
    output_tokens: int
    seconds: float


class Critique(TypedDict):
    """One check of a draft by the critic."""

    round: int
    draft: int
    verdict: Literal["pass", "revise", "unclear"]
    error: str
    text: str
    input_tokens: int
    output_tokens: int
    seconds: float


def empty_usage() -> Usage:
    """A zero ``Usage``."""
    return Usage(input_tokens=0, output_tokens=0, calls=0)


def add_usage(left: Usage | None, right: Usage | None) -> Usage:
    """Sum two usages (the state reducer for ``usage``)."""
    left, right = left or empty_usage(), right or empty_usage()
    return Usage(
        input_tokens=left["input_tokens"] + right["input_tokens"],
        output_tokens=left["output_tokens"] + right["output_tokens"],
        calls=left["calls"] + right["calls"],
    )


@dataclass
class ReflectionResult:
    """What a run produced, whatever the mode.

    Attributes:
        question: The question answered.
        output: The final answer (the ``<output>`` section of the chosen draft).
        thinking: The chosen draft's reasoning.
        reflections: For sampled runs first the tally of their answers; then the chosen
            draft's own reflections; then each critique that led to the chosen revision.
        drafts: Every draft, first generation first; none is ever dropped.
        critiques: Every critique.
        chosen: Index in ``drafts`` of the draft whose answer is ``output``.
        rounds: Critique rounds run.
        stop_reason: Why the run stopped (see ``StopReason``).
        usage: Input and output tokens over all calls.
        mode: The mode that ran.
        model: The generator model's name.
        seconds: Wall time of the run.
    """

    question: str
    output: str
    thinking: str = ""
    reflections: list[str] = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)
    critiques: list[Critique] = field(default_factory=list)
    chosen: int = 0
    rounds: int = 0
    stop_reason: str = "answered"
    usage: Usage = field(default_factory=empty_usage)
    mode: str = "prompted"
    model: str = ""
    seconds: float = 0.0

    def to_tagged(self) -> str:
        """Render the run in the native Reflection format.

        Returns:
            ``<thinking>…<reflection>…</reflection>…</thinking><output>…</output>``.
        """
        return render_tagged(self.thinking, self.reflections, self.output)

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReflectionResult:
        """Rebuild a result from ``to_dict`` output (or the graph's ``result`` key)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)
