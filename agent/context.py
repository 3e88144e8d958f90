"""Run settings: the factory's defaults, overridable per run through ``Runtime.context``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel

from agent.errors import ConfigError
from agent.result import MODES

Effort = Literal["low", "medium", "high"]

# In the spirit of o1's reasoning effort: how many critique rounds, tokens and seconds a
# run may spend. Sized for a 1.5B model on two CPU cores (about 30 generated tokens/s).
EFFORT_PRESETS: dict[str, dict[str, float]] = {
    "low": {"max_rounds": 1, "max_tokens": 6_000, "max_seconds": 180},
    "medium": {"max_rounds": 2, "max_tokens": 12_000, "max_seconds": 420},
    "high": {"max_rounds": 4, "max_tokens": 30_000, "max_seconds": 1_200},
}


@dataclass
class Context:
    """Settings of one reflection run. Every field left ``None`` takes the graph's default.

    Pass it as ``graph.invoke(..., context=Context(...))``; a plain dict with the same keys
    works too (that is what a parent graph with another schema hands down).
    """

    model: str | BaseChatModel | None = field(
        default=None,
        metadata={"description": "Generator model: 'local:NAME', 'PROVIDER:NAME', a URL."},
    )
    critic_model: str | BaseChatModel | None = field(
        default=None, metadata={"description": "Critic model; defaults to the generator."}
    )
    mode: str | None = field(
        default=None, metadata={"description": "prompted | single | native | baseline."}
    )
    effort: str | None = field(
        default=None, metadata={"description": "low | medium | high: sets the three budgets."}
    )
    max_rounds: int | None = field(
        default=None, metadata={"description": "Most critique rounds (0 = no critique)."}
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


@dataclass(frozen=True)
class Settings:
    """Fully resolved settings; built by ``resolve_settings``."""

    model: str | BaseChatModel | None
    critic_model: str | BaseChatModel | None
    mode: str
    max_rounds: int
    max_tokens: int
    max_seconds: float
    system: str
    temperature: float | None


def resolve_settings(defaults: Context, override: Any = None) -> Settings:
    """Merge per-run settings over the defaults and check them.

    Args:
        defaults: The graph's defaults, from its factory.
        override: ``runtime.context``: a ``Context``, a dict, ``None``, or a parent graph's
            own context object (ignored, since its fields mean something else).

    Raises:
        ConfigError: An unknown mode or effort, or a negative budget.
    """
    merged = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(Context)}
    if isinstance(override, Context):
        updates = {f.name: getattr(override, f.name) for f in dataclasses.fields(Context)}
    elif isinstance(override, dict):
        updates = {k: override[k] for k in merged if k in override}
    else:
        updates = {}
    merged.update({k: v for k, v in updates.items() if v is not None})

    mode = merged["mode"] or "prompted"
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    effort = merged["effort"] or "medium"
    if effort not in EFFORT_PRESETS:
        raise ConfigError(f"unknown effort {effort!r}: use low, medium or high")
    preset = EFFORT_PRESETS[effort]
    budgets = {k: merged[k] if merged[k] is not None else preset[k] for k in preset}
    for name, value in budgets.items():
        if value < 0:
            raise ConfigError(f"{name} must be zero or more, got {value}")
    return Settings(
        model=merged["model"],
        critic_model=merged["critic_model"],
        mode=mode,
        max_rounds=int(budgets["max_rounds"]),
        max_tokens=int(budgets["max_tokens"]),
        max_seconds=float(budgets["max_seconds"]),
        system=merged["system"] or "",
        temperature=merged["temperature"],
    )
