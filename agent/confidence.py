"""How sure the model was of a draft, read from its own token probabilities (no extra call).

Every reply that carries log-probabilities (the embedded model always; OpenAI-compatible
servers and Ollama when asked, ``agent.models``) gets a ``Confidence``. The measures are
the ones the research compares (see ``../shared/docs/evidence-and-confidence.md``):

* ``mean``: DeepConf's token confidence, minus the mean log-probability of the top
  ``TOP`` candidates at each token, averaged over the reply. A peaked distribution (the
  model sure of its token) scores high.
* ``lowest``: the same, averaged over each window of ``WINDOW`` tokens; the lowest window
  (DeepConf's group confidence: one unsure stretch marks a shaky derivation).
* ``tail``: the same over the last ``WINDOW`` tokens, where the answer is.
* ``certainty``: self-certainty (Kang et al., 2025), the mean KL divergence of each token's
  distribution from uniform; it needs the whole vocabulary, so only the embedded model
  gives it.
* ``logprob``: the mean log-probability of the tokens chosen.

``score`` is the one the tally uses: self-certainty where the model gives it, else ``mean``
(``SCORES``), chosen by measurement on a tuning slice (benchmarks/README.md §14).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import fmean
from typing import Any

from langchain_core.messages import AIMessage

from agent.result import Confidence

TOP = 5
WINDOW = 16
SCORES = ("certainty", "mean")


def measure(reply: AIMessage) -> Confidence | None:
    """The reply's confidence, or ``None`` when it carries no token probabilities."""
    tokens = token_entries(reply.response_metadata or {})
    if not tokens:
        return None
    conf = [_token_confidence(t) for t in tokens]
    windows = [fmean(conf[i : i + WINDOW]) for i in range(max(len(conf) - WINDOW, 0) + 1)]
    whole = [float(c) for t in tokens if isinstance(c := t.get("certainty"), int | float)]
    measures: dict[str, float | None] = {
        "mean": round(fmean(conf), 4),
        "lowest": round(min(windows), 4),
        "tail": round(fmean(conf[-WINDOW:]), 4),
        "certainty": round(fmean(whole), 4) if len(whole) == len(tokens) else None,
        "logprob": round(fmean(float(t["logprob"]) for t in tokens), 4),
    }
    measure = next(name for name in SCORES if measures[name] is not None)
    return Confidence(
        score=measures[measure] or 0.0,
        measure=measure,
        mean=measures["mean"] or 0.0,
        lowest=measures["lowest"] or 0.0,
        tail=measures["tail"] or 0.0,
        certainty=measures["certainty"],
        logprob=measures["logprob"] or 0.0,
        tokens=len(tokens),
    )


def token_entries(metadata: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per-token entries from a reply's metadata, as plain dicts.

    OpenAI-compatible servers (and the embedded model) give ``{"content": [...]}``; Ollama
    gives the list itself. If any entry lacks a numeric ``logprob``, the reply gets none:
    a reply whose probabilities are partial is not measured.
    """
    raw = metadata.get("logprobs")
    if isinstance(raw, Mapping):
        raw = raw.get("content")
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return []
    entries = [_plain(e) for e in raw]
    if not all(isinstance(e.get("logprob"), int | float) for e in entries):
        return []
    return entries


def _plain(entry: Any) -> dict[str, Any]:
    if isinstance(entry, Mapping):
        return dict(entry)
    dump = getattr(entry, "model_dump", None)
    return dict(dump()) if callable(dump) else {}


def _token_confidence(entry: dict[str, Any]) -> float:
    top = [_plain(t).get("logprob") for t in entry.get("top_logprobs") or []][:TOP]
    numbers = [float(t) for t in top if isinstance(t, int | float)]
    return -sum(numbers) / len(numbers) if numbers else -float(entry["logprob"])


# Tuned on GSM8K 1–40 with benchmarks/confidence_tuning.py (benchmarks/README.md §14), never
# on a reported slice: a plain answer at or above its measure's 40th percentile there stands
# alone (15 of the 20 that did were right, against 24 of all 40 plain answers).
STOP_AT: dict[str, float] = {"certainty": 16.45, "mean": 8.05}
# Code, tuned on HumanEval 125–164 with benchmarks/code_choice.py (§16): no way of choosing
# among unrun code samples beat the plain answer there (selection call 20/40, surest 19,
# plain 20), so a plain answer above the 20th percentile stands alone (still 20/40, at 1.4×
# the plain answer's tokens instead of 5.3×, the rest going to the surest sample).
STOP_AT_CODE: dict[str, float] = {"certainty": 16.10, "mean": 8.30}
TEMPERATURE = 1.0


def weights(drafts: Sequence[Mapping[str, Any]]) -> list[float] | None:
    """Each draft's vote weight (CISC): a softmax of its score over ``TEMPERATURE``.

    ``None`` unless every draft has a confidence on the same measure: a vote is weighed
    whole or not at all.
    """
    found = [d.get("confidence") for d in drafts]
    if not found or any(f is None for f in found):
        return None
    if len({f["measure"] for f in found}) > 1:  # type: ignore[index]
        return None
    scores = [float(f["score"]) for f in found]  # type: ignore[index]
    top = max(scores)
    raw = [math.exp((x - top) / TEMPERATURE) for x in scores]
    total = sum(raw)
    return [r / total for r in raw]


def stands_alone(draft: Mapping[str, Any], kind: str) -> bool:
    """Whether a draft is confident enough to be the answer without more samples (ReASC).

    Code has its own thresholds (``STOP_AT_CODE``), answers with a key those tuned on
    numbers; free text has none tuned, so it never stands alone on confidence (it does on
    its checks: ``sampling._Round.proven``).
    """
    found = draft.get("confidence")
    if found is None or kind == "text":
        return False
    table = STOP_AT_CODE if kind == "code" else STOP_AT
    return float(found["score"]) >= table[found["measure"]]
