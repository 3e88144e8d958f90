"""What the runs of a comparison add up to: one line per model and mode, as a table and charts.

``summarize`` turns the harness's rows into a DataFrame; ``format_table`` and ``plot`` render
that DataFrame, so any summary (a saved ``.summary.csv`` read back, a filtered one) renders the
same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

SUMMARY_COLUMNS = [
    "model",
    "mode",
    "n",
    "accuracy",
    "ci_low",
    "ci_high",
    "input_tokens",
    "output_tokens",
    "latency_s",
    "rounds",
    "revise_rate",
    "right_to_wrong",
    "wrong_to_right",
    "errors",
]
_MODE_ORDER = {m: i for i, m in enumerate(("baseline", "single", "native", "prompted"))}


def summarize(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One line per model and mode, in the columns of ``SUMMARY_COLUMNS``.

    Args:
        rows: The harness's runs, one dict each (``Comparison.rows``).

    Returns:
        Accuracy with a 95% Wilson interval, mean input and output tokens, mean latency,
        mean rounds, how often a critique asked for a revision, and flips of the final answer
        against the first draft (right→wrong, wrong→right), sorted by model and mode. Failed
        runs count as wrong and are counted under ``errors``.
    """
    import pandas as pd

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["mode"]), []).append(row)
    lines = [_line(model, mode, runs) for (model, mode), runs in groups.items()]
    frame = pd.DataFrame(lines, columns=SUMMARY_COLUMNS)
    if not frame.empty:
        frame = frame.sort_values(
            ["model", "mode"], key=lambda s: s.map(_MODE_ORDER) if s.name == "mode" else s
        )
    return frame.reset_index(drop=True)


def _line(model: str, mode: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    right = sum(r["correct"] for r in rows)
    low, high = wilson(right, n)
    return {
        "model": model,
        "mode": mode,
        "n": n,
        "accuracy": right / n,
        "ci_low": low,
        "ci_high": high,
        "input_tokens": _mean(r["input_tokens"] for r in rows),
        "output_tokens": _mean(r["output_tokens"] for r in rows),
        "latency_s": _mean(r["seconds"] for r in rows),
        "rounds": _mean(r["rounds"] for r in rows),
        "revise_rate": _mean(float(r["revised"]) for r in rows),
        # A failed run is wrong, but it is no flip: it never reached an answer.
        "right_to_wrong": sum(
            r["first_correct"] and not r["correct"] and r["error"] is None for r in rows
        ),
        "wrong_to_right": sum(r["correct"] and not r["first_correct"] for r in rows),
        "errors": sum(r["error"] is not None for r in rows),
    }


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default).

    Args:
        successes: How many of the ``n`` trials succeeded.
        n: How many trials; 0 gives ``(0.0, 0.0)``.
        z: The normal quantile of the confidence level.

    Returns:
        The interval's low and high ends, within [0, 1] and around ``successes / n``.
    """
    if n == 0:
        return 0.0, 0.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # The formula's ends can miss p itself by rounding (6/6 gives 0.9999999999999999).
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def format_table(summary: pd.DataFrame) -> str:
    """A summary as a plain-text table: rates in percent, short headers for the flips.

    Args:
        summary: From ``summarize``.

    Returns:
        The table, one line per model and mode.
    """
    frame = summary.copy()
    for col in ("accuracy", "ci_low", "ci_high", "revise_rate"):
        frame[col] = (frame[col] * 100).round(1)
    for col in ("input_tokens", "output_tokens"):
        frame[col] = frame[col].round(0).astype(int)
    frame["latency_s"] = frame["latency_s"].round(2)
    frame["rounds"] = frame["rounds"].round(2)
    frame = frame.rename(
        columns={
            "accuracy": "acc %",
            "ci_low": "ci- %",
            "ci_high": "ci+ %",
            "revise_rate": "revise %",
            "right_to_wrong": "r→w",
            "wrong_to_right": "w→r",
        }
    )
    return str(frame.to_string(index=False))


def plot(summary: pd.DataFrame, path: str | Path) -> Path:
    """Save two charts side by side: accuracy against tokens, and the flips per mode.

    Args:
        summary: From ``summarize``.
        path: The image file to write (its suffix picks the format, e.g. ``.png``).

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    _accuracy_against_cost(left, summary)
    _flips(right, summary)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _accuracy_against_cost(axes: Axes, summary: pd.DataFrame) -> None:
    for _, line in summary.iterrows():
        tokens = line["input_tokens"] + line["output_tokens"]
        accuracy = line["accuracy"] * 100
        axes.errorbar(
            tokens,
            accuracy,
            yerr=[
                [100 * (line["accuracy"] - line["ci_low"])],
                [100 * (line["ci_high"] - line["accuracy"])],
            ],
            fmt="o",
            capsize=4,
        )
        axes.annotate(
            f"{line['mode']}\n{line['model']}",
            (tokens, accuracy),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=8,
        )
    axes.set(
        xlabel="tokens per question (in + out)",
        ylabel="accuracy (%)",
        title="Accuracy against cost",
    )


def _flips(axes: Axes, summary: pd.DataFrame) -> None:
    xs = range(len(summary))
    for shift, column, label, color in (
        (-0.2, "right_to_wrong", "right→wrong", "#c0392b"),
        (0.2, "wrong_to_right", "wrong→right", "#27ae60"),
    ):
        axes.bar([x + shift for x in xs], summary[column], width=0.4, label=label, color=color)
    labels = [f"{m}\n{mo}" for m, mo in zip(summary["mode"], summary["model"], strict=True)]
    axes.set_xticks(list(xs), labels, fontsize=8)
    axes.set(ylabel="questions", title="Flips of the final answer against the first draft")
    axes.legend()
