"""Native vs prompted vs plain, measured: accuracy, tokens, latency and answer flips.

Each question runs once per mode and model with the same settings. Every finished run is
appended to a JSONL file at once, so an interrupted comparison resumes where it stopped;
each line keeps the whole run (drafts, critiques, tokens, timings) so any number in the
report can be traced to the runs behind it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from tqdm.auto import tqdm

from agent import report
from agent.aio import run_sync
from agent.api import areflect, describe_failure
from agent.context import DEFAULT_STRATEGY, require_sandbox
from agent.datasets import Record
from agent.errors import ConfigError, ReflectionError
from agent.models import aresolve_model, spec_label
from agent.parsing import parse_reflection
from agent.report import wilson
from agent.result import MODES, Draft, ReflectionResult, empty_usage
from agent.scoring import judge as judge_answer
from agent.scoring import kind_of_record, score
from agent.strategies import STRATEGIES

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Comparison", "arun_comparison", "load_comparison", "run_comparison", "wilson"]


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
        """One line per model and mode; see ``agent.report.summarize`` for the columns."""
        return report.summarize(self.rows)

    def to_table(self) -> str:
        """The summary as a plain-text table."""
        return report.format_table(self.summary())

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
        return report.plot(self.summary(), path)


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
            f"prompted:STRATEGY ({', '.join(STRATEGIES)})"
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
        require_sandbox()
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


def run_comparison(
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
    """Compare modes and models on a question set.

    Args:
        records: From ``load_dataset``.
        modes: Modes of ``MODES``, or ``prompted:STRATEGY`` for one strategy of prompted mode.
        models: Model names or chat models; ``None`` is the default model.
        out: A JSONL file, written as runs finish.
        concurrency: How many runs at once.
        resume: Skip the runs already finished in ``out``, and run the failed ones again.
        progress: Show a progress bar on stderr.
        judge_model: Grade text and short answers with this model instead of by matching.
        run_code: Run code answers' examples as evidence and the records' tests to score
            them, in the sandbox; without it, records with tests are skipped.
        scorer: A function ``(output, record) -> bool`` that replaces the scoring.
        **options: Settings of every run, passed to ``areflect`` (``strategy``,
            ``effort``, ``max_rounds``, ``temperature``, …).

    Returns:
        The ``Comparison``; ``.summary()`` is a DataFrame, ``.to_table()`` prints it.

    Raises:
        ConfigError: An unknown mode, a concurrency under 1, or an ``out`` that holds runs
            made with other settings (pass ``resume=False`` to start it again).

    Example:
        >>> from agent.datasets import load_dataset
        >>> runs = load_dataset("builtin", limit=5)
        >>> cmp = run_comparison(runs, out="runs.jsonl")  # doctest: +SKIP
        >>> print(cmp.to_table())  # doctest: +SKIP
    """
    return run_sync(
        arun_comparison(
            records,
            modes=modes,
            models=models,
            out=out,
            concurrency=concurrency,
            resume=resume,
            progress=progress,
            judge_model=judge_model,
            run_code=run_code,
            scorer=scorer,
            **options,
        )
    )


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
    """One run as a row of the results file; a failed run keeps what it had produced."""
    started = time.perf_counter()

    async def correct(output: str) -> bool:
        # Off the event loop: scoring code runs it in a child process.
        if scorer is not None:
            return await asyncio.to_thread(scorer, output, record)
        return await asyncio.to_thread(score, output, record, run_code=run_code)

    base, _, strategy = mode.partition(":")
    if strategy:
        options = {**options, "strategy": strategy}
    error: str | None = None
    result: ReflectionResult | None
    try:
        result = await areflect(record.question, model=model, mode=base, **options)
    except ReflectionError as exc:
        error, result = str(exc), exc.partial
    finished = result if error is None else None
    drafts = result.drafts if result else []
    output = finished.output if finished else ""
    first = _as_written(drafts[0]) if drafts else output
    usage = result.usage if result else empty_usage()
    row: dict[str, Any] = {
        "type": "run",
        "model": label,
        "mode": mode,
        "id": record.id,
        "question": record.question,
        "expected": record.answer or record.tests,
        "kind": kind_of_record(record),
        "error": error,
        "output": output,
        "correct": finished is not None and await correct(output),
        "first_output": first,
        # A run that failed before its first draft has no first answer to score.
        "first_correct": (finished is not None or bool(drafts)) and await correct(first),
        "rounds": result.rounds if result else 0,
        "stop_reason": finished.stop_reason if finished else "error",
        "revised": (
            finished is not None and any(c["verdict"] == "revise" for c in finished.critiques)
        ),
        "input_tokens": usage["input_tokens"],
        "output_tokens": usage["output_tokens"],
        "calls": usage["calls"],
        "drafts": drafts,
        "critiques": result.critiques if result else [],
        "seconds": round(time.perf_counter() - started, 3),
    }
    judged = judge_model is not None and record.answer and row["kind"] in ("short", "text")
    if finished is not None and judged:
        try:
            grader = await aresolve_model(judge_model, temperature=0)
            row["correct"] = await judge_answer(grader, record.question, record.answer, output)
            row["first_correct"] = await judge_answer(grader, record.question, record.answer, first)
        except Exception as exc:  # a judge failure must not lose the finished run
            row["error"] = f"judge failed: {describe_failure(exc, None)}"
    return row


def _as_written(draft: Draft) -> str:
    """The plain answer as the model wrote it.

    A repair by code, or a step the calculator set right, is part of the reflection.
    """
    if "uncorrected" in draft:
        return parse_reflection(draft["uncorrected"]).output or draft["uncorrected"]
    return draft.get("written", draft["output"])


def _known_mode(mode: str) -> bool:
    base, colon, strategy = mode.partition(":")
    return base in MODES and (not colon or (base == "prompted" and strategy in STRATEGIES))


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
