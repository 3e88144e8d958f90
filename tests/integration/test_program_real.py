"""``make demo``'s question on the real embedded model: no fabricated program output survives.

The 1.5B coder model, sampling at 0.7, writes a correct program for the farmer question and
then an ``output`` block with a number the program does not print. Each sample's programs
are run again here, apart from the agent, and compared with what the sample claims: no
sample whose claim disagrees with its program keeps a passing check, and the answer is 29.
Effort ``low`` (two samples, three at most) keeps it to a few calls on two CPU cores; on the
build machine its second sample (seed 1) is the program with ``33`` in its output block.
"""

from __future__ import annotations

import pytest

from agent import areflect
from agent.answers import key
from agent.checks import failed
from agent.checks.evaluator import Refused, evaluate, trimmed
from agent.checks.program import claims, compare
from agent.models import DEFAULT_MODEL
from agent.parsing import strip_tags

pytestmark = pytest.mark.real

FARMER = (
    "A farmer has 3 pens with 12 chickens in each pen. He sells 7 chickens. "
    "How many chickens are left?"
)


async def test_a_fabricated_output_block_never_keeps_a_passing_check() -> None:
    # Prose samples only, drawn even when the plain answer is confident: the fabricated
    # output blocks are in prose samples.
    result = await areflect(FARMER, model=DEFAULT_MODEL, effort="low", programs=0, stop_early=False)
    assert result.kind == "number"
    assert key(result.output, "number") == "29", result.output
    fabricated = 0
    for draft in result.drafts:
        for claim in claims(strip_tags(draft["text"]), draft["output"], result.kind):
            try:
                # Run again in this process, apart from the agent's run (in the sandbox).
                ran = evaluate(trimmed(claim.program))
            except Refused:
                continue  # outside the arithmetic subset: it runs only with run_code
            gave = ran["printed"].strip() or ran["value"].strip()
            verdict = compare(gave, claim) if gave and not ran["error"] else None
            if verdict is not None and not verdict["passed"]:
                fabricated += 1
                # The agent found it too: the sample failed, and gets no vote while another passes.
                assert verdict in draft["checks"] and failed(draft["checks"]), draft["text"]
    chosen = result.drafts[result.chosen]
    assert not failed(chosen["checks"]) or all(failed(d["checks"]) for d in result.drafts)
    # If the samples wrote no program, only the answer above is asserted: say so in the log.
    print(f"{fabricated} fabricated program output(s) among {len(result.drafts)} drafts")
