"""Run settings: the factory's defaults, overridable per run through ``Runtime.context``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from langchain_core.runnables import Runnable

from agent.errors import ConfigError
from agent.result import MODES
from agent.sandbox import isolation

Mode = Literal["prompted", "vote", "single", "native", "baseline"]
Strategy = Literal["contrast", "critique"]
Effort = Literal["low", "medium", "high"]
ChatModel = Runnable[Any, Any]
"""A chat model: a LangChain ``BaseChatModel``, or any runnable around one (``.bind``,
``.with_retry``, ``.with_fallbacks``, a configurable ``init_chat_model``)."""
ModelSpec = str | ChatModel

# In the spirit of o1's reasoning effort: how many critique rounds, samples, tokens and
# seconds a run may spend. Sized for a 1.5B model on two CPU cores (about 15 generated
# tokens/s). Sampling starts with `samples` solutions and draws more, up to `max_samples`,
# only while they disagree.
EFFORT_PRESETS: dict[str, dict[str, float]] = {
    "low": {
        "max_rounds": 1,
        "samples": 2,
        "max_samples": 3,
        "programs": 1,
        "stop_early": 1,
        "max_tokens": 8_000,
        "max_seconds": 240,
    },
    "medium": {
        "max_rounds": 2,
        "samples": 3,
        "max_samples": 5,
        "programs": 2,
        "stop_early": 1,
        "max_tokens": 16_000,
        "max_seconds": 600,
    },
    "high": {
        "max_rounds": 4,
        "samples": 4,
        "max_samples": 8,
        "programs": 2,
        "stop_early": 0,
        "max_tokens": 32_000,
        "max_seconds": 1_500,
    },
}
DEFAULT_STRATEGY = "contrast"
SAMPLE_TEMPERATURE = 0.7
# Model calls in flight at once while sampling, for models behind a server. The in-process
# model serves one call at a time, so it samples one after another.
DEFAULT_CONCURRENCY = 8


@dataclass
class Context:
    """Settings of one reflection run. Every field left ``None`` takes the graph's default.

    Pass it as ``graph.invoke(..., context=Context(...))``; a plain dict with the same keys
    works too (that is what a parent graph with another schema hands down, and what a
    LangGraph Server client sends). Every field is JSON: LangGraph Studio and assistants
    build their settings form from ``graph.get_context_jsonschema()``. Models are named
    here; a chat model instance is given to ``create_reflection_graph(model=...)``. On a
    server, ``$REFLECT_ALLOWED_MODELS`` limits the names a run may give.
    """

    model: str | None = field(
        default=None,
        metadata={"description": "Generator model: 'local:NAME', 'PROVIDER:NAME', a URL."},
    )
    critic_model: str | None = field(
        default=None, metadata={"description": "Critic model; defaults to the generator."}
    )
    mode: Mode | None = field(
        default=None,
        metadata={"description": "prompted | vote | single | native | baseline."},
    )
    strategy: Strategy | None = field(
        default=None,
        metadata={
            "description": "How prompted mode checks answers: contrast (compare samples) "
            "or critique (self-review)."
        },
    )
    effort: Effort | None = field(
        default=None,
        metadata={
            "description": "low | medium | high: the budgets, samples, programs, early stop."
        },
    )
    max_rounds: int | None = field(
        default=None, metadata={"description": "Most critique rounds (0 = no critique)."}
    )
    samples: int | None = field(
        default=None,
        metadata={"description": "Solutions drawn first by contrast and vote (1 = greedy only)."},
    )
    max_samples: int | None = field(
        default=None,
        metadata={"description": "Most solutions drawn while they disagree."},
    )
    programs: int | None = field(
        default=None,
        metadata={
            "description": "Of the samples of a number question, how many are programs whose "
            "printed value is the answer (run in the sandbox; 0 = none)."
        },
    )
    stop_early: bool | None = field(
        default=None,
        metadata={
            "description": "Return a plain answer the model was confident of without sampling "
            "more (default: on at low and medium effort, off at high)."
        },
    )
    max_tokens: int | None = field(
        default=None, metadata={"description": "Token budget for the whole run, in and out."}
    )
    max_seconds: float | None = field(
        default=None, metadata={"description": "Wall-time budget for the whole run."}
    )
    system: str | None = field(
        default=None, metadata={"description": "Extra instructions added to every answer call."}
    )
    temperature: float | None = field(
        default=None,
        metadata={"description": "Sampling temperature for named models; None: provider's."},
    )
    max_concurrency: int | None = field(
        default=None,
        metadata={
            "description": "Samples requested at once from a server (default 8; the "
            "in-process model always draws one at a time)."
        },
    )
    run_code: bool | None = field(
        default=None,
        metadata={
            "description": "Run the examples and asserts of any code answer in the sandbox "
            "and use the failures as evidence (off by default: then only code inside the safe "
            "arithmetic subset runs, in the restricted evaluator)."
        },
    )
    seed: int | None = field(
        default=None,
        metadata={"description": "Seed of the sampled solutions: sample i draws with seed + i."},
    )


SETTINGS = tuple(f.name for f in dataclasses.fields(Context))
"""The names of every setting, in ``Context``'s order: the one list of them."""


def make_context(context: Context | None = None, **options: Any) -> Context:
    """``context`` with ``options`` laid over it: how every entry point takes its settings.

    The factory, ``reflect``/``areflect`` and the command line all pass their settings
    through here, so a new field of ``Context`` is a new option everywhere at once.

    Raises:
        ConfigError: An option that is not a field of ``Context``.

    Example:
        >>> make_context(Context(effort="low"), samples=2).samples
        2
    """
    unknown = sorted(set(options) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r}: the settings are {', '.join(SETTINGS)}")
    return dataclasses.replace(context or Context(), **options)


@dataclass(frozen=True)
class Settings:
    """Fully resolved settings; built by ``resolve_settings``.

    The budgets and choices are resolved into the fields below; every setting, resolved or
    not, is also in ``context`` (models by name), so a new setting needs no field here.
    """

    model: ModelSpec | None
    critic_model: ModelSpec | None
    mode: str
    strategy: str
    max_rounds: int
    samples: int
    max_samples: int
    programs: int
    stop_early: bool
    max_tokens: int
    max_seconds: float
    system: str
    temperature: float | None
    max_concurrency: int
    run_code: bool
    context: Context = field(default_factory=Context)


def resolve_settings(
    defaults: Context,
    override: Any = None,
    *,
    model: ChatModel | None = None,
    critic_model: ChatModel | None = None,
) -> Settings:
    """Merge per-run settings over the defaults and check them.

    Args:
        defaults: The graph's defaults, from its factory.
        override: ``runtime.context``: a ``Context``, a dict, ``None``, or a parent graph's
            own context object (ignored, since its fields mean something else).
        model: A chat model instance given to the factory; it stands for ``defaults.model``.
        critic_model: The same, for ``defaults.critic_model``.

    Raises:
        ConfigError: An unknown mode, strategy or effort, a negative budget, a model in
            ``override`` that is not a name, or one ``$REFLECT_ALLOWED_MODELS`` leaves out.
    """
    merged: dict[str, Any] = {
        f.name: getattr(defaults, f.name) for f in dataclasses.fields(Context)
    }
    if model is not None:
        merged["model"] = model
    if critic_model is not None:
        merged["critic_model"] = critic_model
    if isinstance(override, Context):
        updates = {f.name: getattr(override, f.name) for f in dataclasses.fields(Context)}
    elif isinstance(override, dict):
        updates = {k: override[k] for k in merged if k in override}
    else:
        updates = {}
    own = tuple(m for m in (merged["model"], merged["critic_model"]) if isinstance(m, str))
    if merged["model"] is None:
        from agent.models import default_model_name

        own += (default_model_name(),)
    for name in ("model", "critic_model"):
        if updates.get(name) is not None:
            _check_named(name, updates[name], own)
    merged.update({k: v for k, v in updates.items() if v is not None})

    mode = merged["mode"] or "prompted"
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    strategy = merged["strategy"] or DEFAULT_STRATEGY
    if strategy not in get_args(Strategy):
        raise ConfigError(f"unknown strategy {strategy!r}: use {' or '.join(get_args(Strategy))}")
    concurrency = merged["max_concurrency"]
    if concurrency is not None and concurrency < 1:
        raise ConfigError(f"max_concurrency must be 1 or more, got {concurrency}")
    effort = merged["effort"] or "medium"
    if effort not in EFFORT_PRESETS:
        raise ConfigError(f"unknown effort {effort!r}: use low, medium or high")
    preset = EFFORT_PRESETS[effort]
    budgets = {k: merged[k] if merged[k] is not None else preset[k] for k in preset}
    for name, value in budgets.items():
        if value < 0:
            raise ConfigError(f"{name} must be zero or more, got {value}")
    samples = max(1, int(budgets["samples"]))
    most = max(samples, int(budgets["max_samples"]))
    if merged["run_code"]:
        require_sandbox()
    return Settings(
        model=merged["model"],
        critic_model=merged["critic_model"],
        mode=mode,
        strategy=strategy,
        max_rounds=int(budgets["max_rounds"]),
        samples=samples,
        max_samples=most,
        programs=int(budgets["programs"]),
        stop_early=bool(budgets["stop_early"]),
        max_tokens=int(budgets["max_tokens"]),
        max_seconds=float(budgets["max_seconds"]),
        system=merged["system"] or "",
        temperature=merged["temperature"],
        max_concurrency=1 if in_process(merged["model"]) else concurrency or DEFAULT_CONCURRENCY,
        run_code=bool(merged["run_code"]),
        context=Context(**{k: v for k, v in merged.items() if k not in ("model", "critic_model")}),
    )


def require_sandbox() -> None:
    """Refuse to run code where the kernel cannot isolate it.

    Raises:
        ConfigError: One line saying why, and what to install.
    """
    found = isolation()
    if found.backend is None:
        raise ConfigError(f"--run-code is not available: {found.reason}")


def _check_named(field_name: str, value: Any, own: tuple[str, ...]) -> None:
    """A model chosen per run: a name, and one the server allows (its own models always)."""
    if not isinstance(value, str):
        raise ConfigError(
            f"context {field_name} must be a model name, not {type(value).__name__}: pass a "
            "chat model instance as create_reflection_graph(model=...)"
        )
    from agent.models import check_allowed

    check_allowed(value, own)


def in_process(model: ModelSpec | None) -> bool:
    """Whether the model runs in this process (one call at a time), not behind a server."""
    if model is None:
        from agent.models import default_model_name

        model = default_model_name()
    if isinstance(model, str):
        return model.strip().startswith("local:")
    from agent.models import chat_model_of

    return type(chat_model_of(model)).__name__ == "LocalChatModel"
