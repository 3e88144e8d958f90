"""Selection for code and free text (Universal Self-Consistency, Chen et al. 2023).

Samples that are not one number cannot be counted. The critic reads them side by side,
names the one most consistent with the others and says in a line what the others add or get
wrong. The chosen sample is returned whole; that line becomes a reflection.
"""

from __future__ import annotations

import re
from typing import Any

from langgraph.runtime import Runtime

from agent.answers import main_code
from agent.calls import Setup, ask_critic, opening
from agent.context import Context
from agent.events import emit_selection
from agent.result import Draft, Selection
from agent.state import State
from agent.strategies.base import Node, Technique
from agent.strategies.sampling import passing

# Characters of all responses together in one selection prompt: room for the question and the
# reply in a 4,096-token window.
_PROMPT_CHARS = 9_000
_PICK = re.compile(r"response\s*#?\s*(\d+)", re.IGNORECASE)


async def select(state: State, runtime: Runtime[Context], setup: Setup) -> dict[str, Any]:
    """Ask the critic which sample is the most consistent with the rest."""
    settings, stop = opening(setup, state, runtime, check_rounds=True)
    if stop:
        return stop
    samples = [d for d in state["drafts"] if d["round"] == 0]
    candidates = passing(samples) or samples
    prompt = setup.prompts.render(
        "select_user", question=state["asked"], responses=responses(candidates, state["kind"])
    )
    # Two short lines are asked for; a small model that rambles on costs time for nothing.
    text, usage, seconds = await ask_critic(
        setup, settings, "select_system", prompt, most_tokens=120
    )
    number, note = parse_selection(text, len(candidates))
    chosen = candidates[number - 1] if number else candidates[0]
    # The critic numbers the candidates; the user knows them as solutions 1, 2, 3 …
    note = re.sub(
        r"\bResponses?\s+(\d+)",
        lambda m: _solution(m, candidates),
        note,
    )
    selection = Selection(
        round=state["rounds"] + 1,
        draft=chosen["index"],
        note=note if number else "",
        text=text,
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
        seconds=seconds,
    )
    await emit_selection(runtime, selection)
    return {
        "selection": selection,
        "rounds": state["rounds"] + 1,
        "usage": usage,
        "route": "finalize",
        "stop_reason": "selected",
    }


def _solution(match: re.Match[str], candidates: list[Draft]) -> str:
    number = int(match.group(1))
    if 1 <= number <= len(candidates):
        return f"solution {candidates[number - 1]['index'] + 1}"
    return match.group(0)


def responses(samples: list[Draft], kind: str = "text") -> str:
    """The samples numbered from 1, each cut to an equal share of the prompt.

    For code answers only their code is shown: what the code does is what must agree, and
    the prose around it would double the prompt.
    """
    share = _PROMPT_CHARS // max(1, len(samples))
    parts = []
    for number, draft in enumerate(samples, start=1):
        body = draft["output"].strip()
        if kind == "code":
            code = main_code(body)
            body = f"```python\n{code}\n```" if code else body
        if len(body) > share:
            body = body[:share].rstrip() + "\n[…]"
        parts.append(f"Response {number}:\n{body}")
    return "\n\n".join(parts)


def parse_selection(text: str, count: int) -> tuple[int | None, str]:
    r"""The response number the critic named (``None`` if none in range) and its note line.

    Example:
        >>> parse_selection("Most consistent: Response 2\nOthers: 1 misses the space case.", 3)
        (2, '1 misses the space case.')
    """
    anchored = re.search(r"most consistent[^\n]*?response\s*#?\s*(\d+)", text, re.IGNORECASE)
    match = anchored or _PICK.search(text)
    number = int(match.group(1)) if match else None
    if match is None or number is None or not 1 <= number <= count:
        return None, ""  # no usable pick: the plain answer stands, and no note is made up
    rest = text[match.end() :]
    lines = [line.strip(" *-:") for line in rest.splitlines() if line.strip(" *-:")]
    note = re.sub(r"^others?\s*:\s*", "", lines[0], flags=re.IGNORECASE) if lines else ""
    return number, note[:300]


TECHNIQUE = Technique(name="select", nodes={"select": Node(select, ("finalize",))})
