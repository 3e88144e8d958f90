"""The one result every mode returns, and the records it is built from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

from agent.parsing import render_tagged

Mode = Literal["prompted", "vote", "single", "native", "baseline"]
MODES: tuple[str, ...] = ("prompted", "vote", "single", "native", "baseline")

StopReason = Literal[
    "answered",  # single, native and baseline: one call, no loop
    "agreed",  # contrast and vote: every sampled solution reached the same answer
    "voted",  # contrast and vote: the most common answer of disagreeing samples
    "reconciled",  # contrast: the disagreements were listed and reconciled into one answer
    "selected",  # code and free text: the critic named the sample most consistent with the rest
    "confident",  # sampled: the plain answer was confident enough to stand alone
    "surest",  # code and free text: the sample the model was surest of (token confidence)
    # sampled: the checks chose (the only sample that passed, or the least wrong), or the
    # plain free-text answer passed every check of the stated instructions
    "checked",
    "revised",  # sampled: every sample failed a check; a revision fixed what the checks found
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


class Check(TypedDict):
    """One piece of evidence a program established about a draft; no model involved.

    Attributes:
        kind: ``calculator`` (an arithmetic step), ``constraint`` (an instruction the
            question gave, such as "no commas"), ``program`` (what a program in the reply
            prints, run in the sandbox, against what the reply says it prints), or ``code``
            (an example or assert of a code answer, run in the sandbox: by default only
            code inside the safe subset, any code with ``run_code``; or, run nowhere,
            whether the reply defines what was asked), or ``comparison`` (which of two
            quantities the question states is greater, by converting their units), or
            ``repetition`` (whether the reply ends rather than repeating itself).
        name: What was checked, e.g. ``"3 × 12 = 38"`` or ``"no commas"``.
        passed: Whether it held.
        detail: For a failure, what is true instead, e.g. ``"3 × 12 = 36"``.
    """

    kind: str
    name: str
    passed: bool
    detail: str


class Confidence(TypedDict):
    """How sure the model was of a draft, from its token probabilities (``agent.confidence``).

    Attributes:
        score: The value the tally weighs and stops by.
        measure: Which measure ``score`` is: ``certainty`` where the model gave the whole
            vocabulary's probabilities (the embedded model), else ``mean``.
        mean: DeepConf's token confidence (minus the mean top-5 log-probability), averaged.
        lowest: The lowest of that over windows of 16 tokens.
        tail: That over the last 16 tokens.
        certainty: Self-certainty (KL from uniform), where the whole vocabulary was seen.
        logprob: The mean log-probability of the tokens chosen.
        tokens: Tokens measured.
    """

    score: float
    measure: str
    mean: float
    lowest: float
    tail: float
    certainty: float | None
    logprob: float
    tokens: int


class Draft(TypedDict):
    """One answer attempt: the plain answer, a sampled solution or a revision.

    ``index`` is the draft's place in ``drafts``; ``checks`` the evidence about it;
    ``confidence`` how sure the model was of it (``None`` where the model gave no token
    probabilities); ``program`` the program whose printed value is the answer, for a
    program sample; ``written`` the answer as the model first wrote it, where code repaired
    it to meet a stated instruction or the model wrote on to meet one (``output`` is then
    the repaired or longer one; the tokens and seconds stay those of the first call);
    ``uncorrected`` the text as the model first wrote it, where a calculator set a wrong step
    right and the model went on from there (``extension.from_right_step``); ``continuation``
    what the model wrote on where that was not kept (a reflection says why; for a solution set
    right, the whole corrected text).
    """

    index: int
    round: int
    text: str
    thinking: str
    reflections: list[str]
    output: str
    input_tokens: int
    output_tokens: int
    seconds: float
    checks: list[Check]
    confidence: NotRequired[Confidence | None]
    program: NotRequired[str]
    written: NotRequired[str]
    uncorrected: NotRequired[str]
    continuation: NotRequired[str]


class Critique(TypedDict):
    """One judgement of a draft: the critic's, or the checks' when a check failed.

    Attributes:
        round: The critique round.
        draft: Index of the draft judged.
        verdict: ``pass``, ``revise`` (with a concrete error), or ``unclear`` (no usable
            verdict: the draft stands).
        by: ``critic`` (a model call) or ``checks`` (failed checks; no model call).
        error: For ``revise``, the error to fix (for a tie, the checklist of where the
            tied solutions part ways).
        text: The critic's whole reply (empty for ``checks``).
    """

    round: int
    draft: int
    verdict: Literal["pass", "revise", "unclear"]
    by: Literal["critic", "checks"]
    error: str
    text: str
    input_tokens: int
    output_tokens: int
    seconds: float


class Selection(TypedDict):
    """The critic's pick among samples that cannot be counted (code, free text).

    Attributes:
        round: The round it was made in.
        draft: Index of the sample chosen.
        note: What the other samples add or get wrong (empty when the critic named none).
        text: The critic's whole reply.
    """

    round: int
    draft: int
    note: str
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
        output: The whole answer: the chosen draft's reply, or its ``<output>`` section when
            it used the reasoning tags. Code, lists and explanations are never cut.
        thinking: The chosen draft's reasoning: its ``<thinking>`` section or the
            provider's reasoning field (empty for a plain reply, whose work is in ``output``).
        reflections: For sampled runs first the tally of their answers or the selection;
            then the checks that failed; then the chosen draft's own reflections; then each
            critique that led to the chosen revision.
        drafts: Every draft, first generation first; none is ever dropped.
        critiques: Every critique.
        selection: The critic's pick among the samples, if it made one.
        chosen: Index in ``drafts`` of the draft whose answer is ``output``.
        rounds: Critique rounds run.
        stop_reason: Why the run stopped (see ``StopReason``).
        kind: The kind of answer the question asks for: number, choice, yes_no, short,
            code or text (see ``agent.answers``).
        checks: The evidence about the returned draft (``Check`` records).
        confidence: The returned draft's confidence score (``agent.confidence``); ``None``
            where the model gave no token probabilities: then votes are counted, not
            weighed, and no answer stops early on its confidence.
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
    selection: Selection | None = None
    chosen: int = 0
    rounds: int = 0
    stop_reason: str = "answered"
    kind: str = ""
    checks: list[Check] = field(default_factory=list)
    confidence: float | None = None
    usage: Usage = field(default_factory=empty_usage)
    mode: str = "prompted"
    model: str = ""
    seconds: float = 0.0

    @property
    def reasoning(self) -> str:
        """The run's reasoning as one text: the chosen draft's thinking, then the reflections."""
        return "\n".join(x for x in (self.thinking, *self.reflections) if x)

    @property
    def usage_metadata(self) -> dict[str, int]:
        """The token usage as LangChain's ``usage_metadata`` counts it."""
        spent, written = self.usage["input_tokens"], self.usage["output_tokens"]
        return {"input_tokens": spent, "output_tokens": written, "total_tokens": spent + written}

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
        """Rebuild a result from ``to_dict`` output (or the graph's ``result`` key).

        A result saved before selections had their own record keeps its selection as a
        critique with ``verdict="select"``; it is read back as the ``selection``.
        """
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        critiques = known.get("critiques") or []
        old = [c for c in critiques if c.get("verdict") == "select"]
        if old and known.get("selection") is None:
            known["critiques"] = [c for c in critiques if c.get("verdict") != "select"]
            known["selection"] = Selection(
                round=old[-1]["round"],
                draft=old[-1]["draft"],
                note=old[-1]["error"],
                text=old[-1]["text"],
                input_tokens=old[-1]["input_tokens"],
                output_tokens=old[-1]["output_tokens"],
                seconds=old[-1]["seconds"],
            )
        return cls(**known)
