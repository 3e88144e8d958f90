"""Contrast (Self-Contrast, Zhang et al. 2024): a tie at the top, listed and reconciled.

Only a tie between short answers (numbers, letters, yes/no, phrases), which counting cannot
settle, comes here. The critic writes where the tied solutions part ways as a checklist; the
reviser works through it and writes one solution, which counts only if it reaches one of the
tied answers (``sampling.choose``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from langgraph.runtime import Runtime

from agent import answers
from agent.calls import Setup, ask_critic, for_review, opening, record_critique, write_revision
from agent.context import Context
from agent.parsing import strip_tags
from agent.result import Draft
from agent.state import State
from agent.strategies.base import Node, Technique
from agent.strategies.sampling import choose, finish, passing, vote


async def contrast(state: State, runtime: Runtime[Context], setup: Setup) -> dict[str, Any]:
    """List where the tied solutions part ways, as a checklist (the critique)."""
    settings, stop = opening(setup, state, runtime, check_rounds=True)
    if stop:
        return stop
    question, kind = state["asked"], state["kind"]
    samples = passing([d for d in state["drafts"] if d["round"] == 0])
    prompt = setup.prompts.render(
        "contrast_user", question=question, solutions=solutions(samples, kind, question)
    )
    text, usage, seconds = await ask_critic(setup, settings, "contrast_system", prompt)
    record = await record_critique(
        runtime,
        round_=1,
        draft=vote(samples, kind, question),
        verdict="revise",
        by="critic",
        error=strip_tags(text).strip(),
        text=text,
        usage=usage,
        seconds=seconds,
    )
    return {"critiques": [record], "rounds": 1, "usage": usage, "route": "reconcile"}


async def reconcile(state: State, runtime: Runtime[Context], setup: Setup) -> dict[str, Any]:
    """Resolve the checklist into one solution; it counts only if it picks a tied answer."""
    settings, stop = opening(setup, state, runtime, check_rounds=False)
    if stop:
        return stop
    drafts, question, kind = state["drafts"], state["asked"], state["kind"]
    samples = passing([d for d in drafts if d["round"] == 0])
    prompt = setup.prompts.render(
        "reconcile_user",
        question=question,
        solutions=solutions(samples, kind, question),
        checklist=state["critiques"][-1]["error"],
    )
    draft, usage = await write_revision(settings, state, runtime, prompt, round_=1)
    kept = choose([*drafts, draft], state["critiques"], kind, question) == draft["index"]
    return {
        "drafts": [draft],
        "usage": usage,
        "route": "finalize",
        "stop_reason": "reconciled" if kept else "voted",
    }


def solutions(samples: list[Draft], kind: str, question: str) -> str:
    """One solution per distinct answer, most common first, labelled A, B, C."""
    keys = {d["index"]: answers.key(d["output"], kind, question) for d in samples}
    counts = Counter(k for k in keys.values() if k)
    firsts: dict[str, Draft] = {}
    for d in samples:
        if keys[d["index"]]:
            firsts.setdefault(keys[d["index"]], d)
    ranked = sorted(firsts, key=lambda k: -counts[k])[:3]
    return "\n\n".join(
        f"Solution {'ABC'[i]}:\n{for_review(firsts[k])}" for i, k in enumerate(ranked)
    )


TECHNIQUE = Technique(
    name="contrast",
    start="sample",
    finish=finish,
    nodes={
        "contrast": Node(contrast, ("reconcile", "finalize")),
        "reconcile": Node(reconcile, ("finalize",)),
    },
)
