"""Native vs prompted vs plain, measured: accuracy, tokens, latency and answer flips.

Each question runs once per mode and model with the same settings. Every finished run is
appended to a JSONL file at once, so an interrupted comparison resumes where it stopped;
each line keeps the whole run (drafts, critiques, tokens, timings) so any number in the
report can be traced to the runs behind it.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from tqdm.auto import tqdm

from agent.aio import run_sync
from agent.api import areflect, describe_failure
from agent.context import DEFAULT_STRATEGY
from agent.datasets import Record
from agent.errors import ConfigError, ReflectionError
from agent.models import aresolve_model, spec_label
from agent.result import MODES
from agent.scoring import judge as judge_answer
from agent.scoring import kind_of_record, score

if TYPE_CHECKING:
    import pandas as pd

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


@dataclass
class Comparison:
    """The runs of a comparison and what they add up to.

    Attributes:
        rows: One dict per run (model, mode, question, output, correct, first draft,
            drafts, critiques, tokens, latency, error).
        config: The settings the runs used.
        path: The JSONL file the rows were written to, if any.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def summary(self) -> pd.DataFrame:
        """One line per model and mode.

        Columns: accuracy with a 95% Wilson interval, mean input and output tokens, mean
        latency, mean rounds, how often a critique asked for a revision, and flips of the
        final answer against the first draft (right→wrong, wrong→right). Failed runs count
        as wrong and are counted under ``errors``.
        """
        import pandas as pd

        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in self.rows:
            groups.setdefault((row["model"], row["mode"]), []).append(row)
        lines = []
        for (model, mode), rows in groups.items():
            n = len(rows)
            right = sum(r["correct"] for r in rows)
            low, high = wilson(right, n)
            lines.append(
                {
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
            )
        order = {m: i for i, m in enumerate(("baseline", "single", "native", "prompted"))}
        frame = pd.DataFrame(lines, columns=SUMMARY_COLUMNS)
        if not frame.empty:
            frame = frame.sort_values(
                ["model", "mode"], key=lambda s: s.map(order) if s.name == "mode" else s
            )
        return frame.reset_index(drop=True)

    def to_table(self) -> str:
        """The summary as a plain-text table."""
        frame = self.summary().copy()
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

    def save(self, prefix: str | Path) -> list[Path]:
        """Write ``PREFIX.summary.csv``, ``PREFIX.runs.csv`` and ``PREFIX.config.json``."""
        import pandas as pd

        prefix = Path(prefix)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        paths = [
            Path(f"{prefix}.summary.csv"),
            Path(f"{prefix}.runs.csv"),
            Path(f"{prefix}.config.json"),
        ]
        self.summary().to_csv(paths[0], index=False)
        flat = [{k: v for k, v in r.items() if k not in ("drafts", "critiques")} for r in self.rows]
        pd.DataFrame(flat).to_csv(paths[1], index=False)
        paths[2].write_text(json.dumps(self.config, indent=2))
        return paths

    def plot(self, path: str | Path) -> Path:
        """Save two charts: accuracy against tokens per mode, and the flips per mode."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        frame = self.summary()
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
        for _, line in frame.iterrows():
            tokens = line["input_tokens"] + line["output_tokens"]
            left.errorbar(
                tokens,
                line["accuracy"] * 100,
                yerr=[
                    [100 * (line["accuracy"] - line["ci_low"])],
                    [100 * (line["ci_high"] - line["accuracy"])],
                ],
                fmt="o",
                capsize=4,
            )
            left.annotate(
                f"{line['mode']}\n{line['model']}",
                (tokens, line["accuracy"] * 100),
                textcoords="offset points",
                xytext=(6, 4),
                fontsize=8,
            )
        left.set(
            xlabel="tokens per question (in + out)",
            ylabel="accuracy (%)",
            title="Accuracy against cost",
        )
        labels = [f"{m}\n{mo}" for m, mo in zip(frame["mode"], frame["model"], strict=True)]
        xs = range(len(frame))
        right.bar(
            [x - 0.2 for x in xs],
            frame["right_to_wrong"],
            width=0.4,
            label="right→wrong",
            color="#c0392b",
        )
        right.bar(
            [x + 0.2 for x in xs],
            frame["wrong_to_right"],
            width=0.4,
            label="wrong→right",
            color="#27ae60",
        )
        right.set_xticks(list(xs), labels, fontsize=8)
        right.set(ylabel="questions", title="Flips of the final answer against the first draft")
        right.legend()
        fig.tight_layout()
        out = Path(path)
        fig.savefig(out, dpi=110)
        plt.close(fig)
        return out


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default)."""
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


async def arun_comparison(
    records: Sequence[Record],
    *,
    modes: Sequence[str] = ("baseline", "single", "prompted"),
    models: Sequence[str | BaseChatModel | None] = (None,),
    out: str | Path | None = None,
    concurrency: int = 4,
    resume: bool = True,
    progress: bool = True,
    judge_model: str | BaseChatModel | None = None,
    run_code: bool = False,
    scorer: Callable[[str, Record], bool] | None = None,
    **options: Any,
) -> Comparison:
    """Run every question once per mode and model; see ``run_comparison``."""
    bad = [m for m in modes if not _known_mode(m)]
    if bad:
        raise ConfigError(
            f"unknown mode(s) {', '.join(bad)}: use {', '.join(MODES)}, or "
            f"prompted:STRATEGY ({', '.join(_strategies())})"
        )
    if concurrency < 1:
        raise ConfigError("concurrency must be 1 or more")
    coded = [r for r in records if r.tests]
    if coded and not run_code and scorer is None:
        warnings.warn(
            f"skipped {len(coded)} question(s) scored by running the model's code "
            f"({', '.join(r.id for r in coded[:3])}{'…' if len(coded) > 3 else ''}): "
            "pass --run-code (run_code=True) to run them in the sandbox",
            stacklevel=2,
        )
        records = [r for r in records if not r.tests]
    if run_code:
        options = {**options, "run_code": True}
    if "prompted" in modes and not options.get("strategy"):
        # Name the default, so a results file never mixes runs of two defaults.
        options = {**options, "strategy": DEFAULT_STRATEGY}
    labels = [spec_label(m) for m in models]
    config = {
        "modes": list(modes),
        "models": labels,
        "questions": len(records),
        "options": {k: v for k, v in options.items() if isinstance(v, str | int | float | None)},
    }
    path = Path(out) if out is not None else None
    resuming = path is not None and resume and path.is_file()
    done: list[dict[str, Any]] = []
    if resuming:
        assert path is not None
        earlier = load_comparison(path)
        if earlier.config.get("options") != config["options"]:
            raise ConfigError(
                f"{path} holds runs made with other settings ({earlier.config.get('options')}); "
                "pick another --out, or pass --no-resume to start it again"
            )
        done = earlier.rows
        if not path.read_bytes().endswith(b"\n"):
            with path.open("a", encoding="utf-8") as handle:
                handle.write("\n")  # end a line cut short, so the next row starts clean
    questions = {r.id: r.question for r in records}
    # Report the finished runs of this comparison; failed ones run again. Other runs stay
    # in the file untouched.
    kept = [
        r
        for r in done
        if r["error"] is None
        and r["mode"] in modes
        and r["model"] in labels
        and questions.get(r["id"]) == r["question"]
    ]
    finished = {(r["model"], r["mode"], r["id"]) for r in kept}
    if path is not None and not resuming:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"type": "config", **config}) + "\n", encoding="utf-8")
    jobs = [
        (model, label, mode, record)
        for model, label in zip(models, labels, strict=True)
        for mode in modes
        for record in records
        if (label, mode, record.id) not in finished
    ]
    comparison = Comparison(rows=kept, config=config, path=path)
    gate = asyncio.Semaphore(concurrency)
    write_lock = asyncio.Lock()
    bar = tqdm(total=len(jobs), desc="comparing", disable=not progress, file=sys.stderr)

    async def one(model: str | BaseChatModel | None, label: str, mode: str, record: Record) -> None:
        async with gate:
            row = await _run_one(model, label, mode, record, options, judge_model, run_code, scorer)
        async with write_lock:
            comparison.rows.append(row)
            if path is not None:
                with path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")
            bar.update(1)

    try:
        await asyncio.gather(*(one(*job) for job in jobs))
    finally:
        bar.close()
    return comparison


def run_comparison(records: Sequence[Record], **kwargs: Any) -> Comparison:
    """Compare modes and models on a question set.

    Args:
        records: From ``load_dataset``.
        **kwargs: ``modes`` (default baseline, single, prompted), ``models`` (model names or
            chat models; ``None`` is the default model), ``out`` (a JSONL file written as runs
            finish), ``concurrency`` (default 4), ``resume`` (skip runs already in ``out``;
            default true), ``progress``, ``judge_model`` (grade text answers with a model),
            ``run_code`` (run code answers' examples as evidence and the records' tests to
            score them, in the sandbox; without it, records with tests are skipped),
            ``scorer`` (a function ``(output, record) -> bool`` that replaces the scoring);
            any other keyword goes to ``areflect`` for every run (``effort``,
            ``max_rounds``, ``temperature``, …).

    Returns:
        The ``Comparison``; ``.summary()`` is a DataFrame, ``.to_table()`` prints it.

    Example:
        >>> from agent.datasets import load_dataset
        >>> runs = load_dataset("builtin", limit=5)
        >>> cmp = run_comparison(runs, out="runs.jsonl")  # doctest: +SKIP
        >>> print(cmp.to_table())  # doctest: +SKIP
    """
    return run_sync(arun_comparison(records, **kwargs))


async def _run_one(
    model: str | BaseChatModel | None,
    label: str,
    mode: str,
    record: Record,
    options: dict[str, Any],
    judge_model: str | BaseChatModel | None,
    run_code: bool,
    scorer: Callable[[str, Record], bool] | None,
) -> dict[str, Any]:
    started = time.perf_counter()

    async def correct(output: str) -> bool:
        # Off the event loop: scoring code runs it in a child process.
        if scorer is not None:
            return await asyncio.to_thread(scorer, output, record)
        return await asyncio.to_thread(score, output, record, run_code=run_code)

    row: dict[str, Any] = {
        "type": "run",
        "model": label,
        "mode": mode,
        "id": record.id,
        "question": record.question,
        "expected": record.answer or record.tests,
        "kind": kind_of_record(record),
        "error": None,
    }
    try:
        base, _, strategy = mode.partition(":")
        if strategy:
            options = {**options, "strategy": strategy}
        result = await areflect(record.question, model=model, mode=base, **options)
    except ReflectionError as exc:
        row["error"] = str(exc)
        partial = exc.partial
        drafts = partial.drafts if partial else []
        row.update(
            output="",
            correct=False,
            first_output=drafts[0]["output"] if drafts else "",
            first_correct=bool(drafts) and await correct(drafts[0]["output"]),
            rounds=partial.rounds if partial else 0,
            stop_reason="error",
            revised=False,
            input_tokens=partial.usage["input_tokens"] if partial else 0,
            output_tokens=partial.usage["output_tokens"] if partial else 0,
            calls=partial.usage["calls"] if partial else 0,
            drafts=drafts,
            critiques=partial.critiques if partial else [],
            seconds=round(time.perf_counter() - started, 3),
        )
        return row
    first = result.drafts[0]["output"] if result.drafts else result.output
    row.update(
        output=result.output,
        correct=await correct(result.output),
        first_output=first,
        first_correct=await correct(first),
        rounds=result.rounds,
        stop_reason=result.stop_reason,
        revised=any(c["verdict"] == "revise" for c in result.critiques),
        input_tokens=result.usage["input_tokens"],
        output_tokens=result.usage["output_tokens"],
        calls=result.usage["calls"],
        drafts=result.drafts,
        critiques=result.critiques,
        seconds=round(time.perf_counter() - started, 3),
    )
    if judge_model is not None and record.answer and kind_of_record(record) in ("short", "text"):
        try:
            grader = await aresolve_model(judge_model, temperature=0)
            row["correct"] = await judge_answer(
                grader, record.question, record.answer, result.output
            )
            row["first_correct"] = await judge_answer(grader, record.question, record.answer, first)
        except Exception as exc:  # a judge failure must not lose the finished run
            row["error"] = f"judge failed: {describe_failure(exc, None)}"
    return row


def _known_mode(mode: str) -> bool:
    base, colon, strategy = mode.partition(":")
    return base in MODES and (not colon or (base == "prompted" and strategy in _strategies()))


def _strategies() -> list[str]:
    from agent.strategies import STRATEGIES

    return list(STRATEGIES)


def _load_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short when the run was killed: the run is made again
        if isinstance(data, dict) and data.get("type") == "run":
            rows[(data["model"], data["mode"], data["id"])] = data  # a rerun supersedes
    return list(rows.values())


def load_comparison(path: str | Path) -> Comparison:
    """Rebuild a ``Comparison`` from the JSONL file a run wrote."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"no results file at {file}")
    config: dict[str, Any] = {}
    with file.open("rb") as handle:
        first = handle.readline()
    if first.strip():
        try:
            head = json.loads(first.decode("utf-8"))
        except UnicodeDecodeError:
            head, why = None, "not UTF-8 text"
        except json.JSONDecodeError as exc:
            head, why = None, f"not valid JSON: {exc.msg}"
        else:
            why = "not a JSON object"
        if not isinstance(head, dict):
            raise ConfigError(
                f"{file}, line 1: {why}, so this is not a results file of reflect compare: "
                "pick another --out, or pass --no-resume to write it anew"
            )
        if head.get("type") == "config":
            config = {k: v for k, v in head.items() if k != "type"}
    return Comparison(rows=_load_rows(file), config=config, path=file)
