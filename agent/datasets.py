"""Question sets for comparisons.

Any JSONL of ``{"question", "answer"}``, GSM8K as-is, or the built-in set. A line may also
say what kind of answer it expects (``"kind"``: number, choice, yes_no, short, code, text),
carry ``"tests"`` (a program of asserts that a code answer must pass; run in the sandbox, and
only with ``run_code``), or, for a ``text`` question with no ``answer``, be scored by the
instructions in the question that code can check (``agent.checks``).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.answers import KINDS
from agent.checks import extract
from agent.errors import ConfigError

BUILTIN = "builtin"
_BUILTIN_PATH = Path(__file__).resolve().parent / "data" / "questions.jsonl"


@dataclass(frozen=True)
class Record:
    """One question with its reference answer.

    Attributes:
        id: A stable identifier (the ``id`` field, else ``FILE:LINE``), used to resume runs.
        question: The question text.
        answer: The reference answer; for GSM8K, the part after ``#### ``. Empty for code
            scored by ``tests`` and for text scored by the question's instructions.
        kind: The kind of answer; empty means: told from the reference answer.
        tests: For code: asserts run after the answer's code.
    """

    id: str
    question: str
    answer: str = ""
    kind: str = ""
    tests: str = ""


def load_dataset(
    source: str | Path = BUILTIN,
    *,
    limit: int | None = None,
    on_error: Literal["stop", "skip"] = "stop",
) -> list[Record]:
    """Read a question set.

    Args:
        source: ``"builtin"`` (the project's own mixed set: arithmetic, counting, comparison,
            dates, logic, code with tests, formatted text, short answers, choices, yes/no)
            or a JSONL file whose lines hold ``question`` and ``answer``.
            GSM8K's format is read as-is: the answer is what follows ``#### ``.
        limit: Keep only the first ``limit`` records.
        on_error: ``"stop"`` raises at the first malformed line; ``"skip"`` warns and goes on.

    Raises:
        ConfigError: The file is missing, or a line is malformed (with ``on_error="stop"``);
            the message names the file and the line.
    """
    path = _BUILTIN_PATH if str(source) == BUILTIN else Path(source).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"no dataset at {path}: give a JSONL file of question/answer, or 'builtin'"
        )
    records: list[Record] = []
    # Read as bytes and decoded line by line, so a file that is not text is reported with
    # its line like any other malformed line.
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if limit is not None and len(records) >= limit:
                break
            try:
                line = _text(raw)
                if not line.strip():
                    continue
                records.append(_record(line, f"{path.name}:{number}"))
            except ValueError as exc:
                message = f"{path}, line {number}: {exc}"
                if on_error == "stop":
                    raise ConfigError(
                        f"{message} (to skip bad lines: --on-error skip, or on_error='skip')"
                    ) from exc
                warnings.warn(f"skipped {message}", stacklevel=2)
    if not records:
        raise ConfigError(f"{path} holds no questions (limit={limit})")
    return records


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")  # -sig: a byte-order mark some editors write goes
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
            "it does not look like a JSONL file"
        ) from None


def _record(line: str, where: str) -> Record:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object with question and answer")
    question, answer = data.get("question"), data.get("answer", "")
    kind, tests = str(data.get("kind") or ""), str(data.get("tests") or "")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("missing a non-empty 'question' string")
    if kind and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    if not isinstance(answer, str | int | float) or isinstance(answer, bool):
        raise ValueError("the 'answer' must be a string or a number")
    answer = str(answer)
    if "####" in answer:
        answer = answer.rsplit("####", 1)[1]
    if not answer.strip() and not tests and not (kind == "text" and extract(question)):
        raise ValueError(
            "the 'answer' is empty: give one, or 'tests' for code, or a text question "
            "whose instructions code can check"
        )
    return Record(
        id=str(data.get("id") or where),
        question=question.strip(),
        answer=answer.strip(),
        kind=kind,
        tests=tests,
    )
