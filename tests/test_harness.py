"""The comparison harness: datasets, scoring, flips, resume, the report."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from agent import ConfigError
from agent.answers import KINDS
from agent.datasets import Record, load_dataset
from agent.harness import load_comparison, run_comparison, wilson
from agent.scoring import is_correct, kind_of_record
from tests.scripted import ScriptedChatModel, tagged

GSM8K = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k" / "test.jsonl"

RECORDS = [
    Record("q1", "What is 2 + 2?", "4"),
    Record("q2", "What is 3 + 3?", "6"),
    Record("q3", "What is 5 + 5?", "10"),  # the critic talks a right answer into a wrong one
    Record("q4", "What is 7 + 7?", "14"),  # the first draft is wrong; the critic catches it
]
FIRST = {"2 + 2": "4", "3 + 3": "6", "5 + 5": "10", "7 + 7": "15"}
REVISED = {"5 + 5": "11", "7 + 7": "14"}


def _which(messages: list[BaseMessage]) -> str:
    text = str(messages[-1].content)
    return next(k for k in FIRST if k in text)


def generator(messages: list[BaseMessage]) -> str:
    key = _which(messages)
    if "this was found wrong" in str(messages[-1].content):
        return tagged(f"The answer is {REVISED[key]}.")
    return tagged(f"The answer is {FIRST[key]}.")


def critic(messages: list[BaseMessage]) -> str:
    return (
        "VERDICT: REVISE\nERROR: the sum is off" if _which(messages) in REVISED else "VERDICT: PASS"
    )


def model() -> ScriptedChatModel:
    return ScriptedChatModel(script={}, default={"generator": generator, "critic": critic})


def by_mode(frame: Any) -> dict[str, dict[str, Any]]:
    return {row["mode"]: row for row in frame.to_dict("records")}


def test_flips_accuracy_and_costs_per_mode(tmp_path: Path) -> None:
    scripted = model()
    cmp = run_comparison(
        RECORDS,
        models=[scripted],
        modes=["baseline", "prompted"],
        out=tmp_path / "runs.jsonl",
        max_rounds=1,
        strategy="critique",
        progress=False,
    )
    table = by_mode(cmp.summary())
    prompted, baseline = table["prompted"], table["baseline"]
    assert (baseline["accuracy"], baseline["right_to_wrong"], baseline["wrong_to_right"]) == (
        0.75,
        0,
        0,
    )
    assert (prompted["accuracy"], prompted["right_to_wrong"], prompted["wrong_to_right"]) == (
        0.75,
        1,
        1,
    )
    assert prompted["revise_rate"] == 0.5 and prompted["rounds"] == 1
    assert prompted["output_tokens"] > baseline["output_tokens"] > 0
    assert prompted["ci_low"] < 0.75 < prompted["ci_high"]
    assert baseline["errors"] == 0 and len(scripted.calls) == 4 + 4 + 4 + 2
    text = cmp.to_table()
    assert "r→w" in text and "prompted" in text and "baseline" in text


def test_results_are_written_as_runs_finish_and_resume_skips_them(tmp_path: Path) -> None:
    out = tmp_path / "runs.jsonl"
    run_comparison(RECORDS[:2], models=[model()], modes=["single"], out=out, progress=False)
    lines = out.read_text().splitlines()
    assert json.loads(lines[0])["type"] == "config" and len(lines) == 3
    with out.open("a") as handle:
        handle.write('{"type": "run", "model": "scr')  # killed mid-write
    again = model()
    cmp = run_comparison(RECORDS, models=[again], modes=["single"], out=out, progress=False)
    assert len(again.calls) == 2  # only q3 and q4 ran
    assert sorted(r["id"] for r in cmp.rows) == ["q1", "q2", "q3", "q4"]
    assert len(load_comparison(out).rows) == 4


def test_a_failed_run_is_recorded_and_retried_on_resume(tmp_path: Path) -> None:
    out = tmp_path / "runs.jsonl"
    broken = ScriptedChatModel(script={}, default={"generator": lambda m: ValueError("boom")})
    cmp = run_comparison(RECORDS[:1], models=[broken], modes=["baseline"], out=out, progress=False)
    row = cmp.rows[0]
    assert row["error"] and "boom" in row["error"] and row["correct"] is False
    assert cmp.summary().loc[0, "errors"] == 1
    fixed = run_comparison(
        RECORDS[:1], models=[model()], modes=["baseline"], out=out, progress=False
    )
    assert [r["error"] for r in fixed.rows] == [None]


def test_rows_keep_the_whole_run(tmp_path: Path) -> None:
    cmp = run_comparison(
        RECORDS[3:],
        models=[model()],
        modes=["prompted"],
        max_rounds=1,
        strategy="critique",
        progress=False,
    )
    row = cmp.rows[0]
    assert [d["output"] for d in row["drafts"]] == ["The answer is 15.", "The answer is 14."]
    assert row["critiques"][0]["verdict"] == "revise" and row["question"] == RECORDS[3].question
    assert row["first_output"] == "The answer is 15." and row["seconds"] >= 0


def test_save_and_plot(tmp_path: Path) -> None:
    cmp = run_comparison(RECORDS, models=[model()], modes=["baseline", "prompted"], progress=False)
    summary, runs, config = cmp.save(tmp_path / "report")
    assert "right_to_wrong" in summary.read_text() and len(runs.read_text().splitlines()) == 9
    assert json.loads(config.read_text())["modes"] == ["baseline", "prompted"]
    png = cmp.plot(tmp_path / "report.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_modes_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown mode"):
        run_comparison(RECORDS, modes=["loud"], progress=False)


def test_builtin_set() -> None:
    records = load_dataset("builtin")
    assert len(records) >= 20 and len({r.id for r in records}) == len(records)
    assert all(r.question and (r.answer or r.tests or r.kind == "text") for r in records)
    # Every kind of answer is in the set, each scored the way it fits.
    assert {kind_of_record(r) for r in records} == set(KINDS)


@pytest.mark.skipif(not GSM8K.is_file(), reason="shared GSM8K set not beside the checkout")
def test_gsm8k_is_read_as_is() -> None:
    records = load_dataset(GSM8K, limit=3)
    assert [r.answer for r in records] == ["18", "3", "70000"]
    assert records[0].id == "test.jsonl:1"


def test_a_malformed_line_names_the_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "qs.jsonl"
    data.write_text(
        '{"question": "a?", "answer": 1}\nnot json\n{"answer": 2}\n'
        '{"question": "b?", "answer": "x"}\n'
    )
    with pytest.raises(ConfigError, match=r"qs.jsonl, line 2: not valid JSON"):
        load_dataset(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = load_dataset(data, on_error="skip")
    assert [r.question for r in records] == ["a?", "b?"]
    assert any("line 3: missing a non-empty 'question'" in str(w.message) for w in caught)
    with pytest.raises(ConfigError, match="no dataset at"):
        load_dataset(tmp_path / "missing.jsonl")


@pytest.mark.parametrize(
    ("output", "expected", "right"),
    [
        ("She makes $18 every day. The answer is $18.", "18", True),
        ("The profit is \\boxed{70,000}.", "70000", True),
        ("The answer is 70000.0 dollars", "70,000", True),
        ("The answer is 17.", "18", False),
        ("Step: 18 - 1 = 17", "18", False),
        ("The shortest is Cal.", "Cal", True),
        ("It will be Thursday.", "thursday", True),
        ("It will be Friday.", "Thursday", False),
    ],
)
def test_scoring(output: str, expected: str, right: bool) -> None:
    assert is_correct(output, expected) is right


def test_wilson_interval() -> None:
    low, high = wilson(5, 10)
    assert round(low, 3) == 0.237 and round(high, 3) == 0.763
    assert wilson(0, 10)[0] == 0 and wilson(10, 10)[1] == 1 and wilson(0, 0) == (0.0, 0.0)
    for n in range(1, 60):
        for k in range(n + 1):
            low, high = wilson(k, n)
            assert 0 <= low <= k / n <= high <= 1, (k, n)


def test_plot_survives_a_perfect_score(tmp_path: Path) -> None:
    perfect = [Record(f"q{i}", "What is 2 + 2?", "4") for i in range(6)]
    cmp = run_comparison(perfect, models=[model()], modes=["single"], progress=False)
    assert cmp.summary().loc[0, "accuracy"] == 1.0
    assert cmp.plot(tmp_path / "p.png").stat().st_size > 1000


def test_resume_reports_only_the_questions_asked_for(tmp_path: Path) -> None:
    out = tmp_path / "runs.jsonl"
    run_comparison(RECORDS, models=[model()], modes=["single"], out=out, progress=False)
    fewer = model()
    cmp = run_comparison(RECORDS[:2], models=[fewer], modes=["single"], out=out, progress=False)
    assert [r["id"] for r in cmp.rows] == ["q1", "q2"] and fewer.calls == []
    assert cmp.summary().loc[0, "n"] == 2


def test_resume_refuses_a_file_made_with_other_settings(tmp_path: Path) -> None:
    out = tmp_path / "runs.jsonl"
    run_comparison(
        RECORDS[:1], models=[model()], modes=["single"], out=out, effort="low", progress=False
    )
    with pytest.raises(ConfigError, match=r"other settings.*--no-resume"):
        run_comparison(
            RECORDS[:1], models=[model()], modes=["single"], out=out, effort="high", progress=False
        )
    fresh = run_comparison(
        RECORDS[:1],
        models=[model()],
        modes=["single"],
        out=out,
        effort="high",
        resume=False,
        progress=False,
    )
    assert len(fresh.rows) == 1


def test_another_mode_on_the_same_file_keeps_the_earlier_runs(tmp_path: Path) -> None:
    out = tmp_path / "runs.jsonl"
    run_comparison(RECORDS, models=[model()], modes=["single"], out=out, progress=False)
    cmp = run_comparison(RECORDS, models=[model()], modes=["baseline"], out=out, progress=False)
    assert {r["mode"] for r in cmp.rows} == {"baseline"}
    assert {r["mode"] for r in load_comparison(out).rows} == {"single", "baseline"}


def test_a_failed_run_is_no_flip(tmp_path: Path) -> None:
    def critic_down(messages: list[BaseMessage]) -> Any:
        return ConnectionError("refused")

    broken = ScriptedChatModel(script={}, default={"generator": generator, "critic": critic_down})
    cmp = run_comparison(
        RECORDS[:1], models=[broken], modes=["prompted"], strategy="critique", progress=False
    )
    row = cmp.rows[0]
    assert row["error"] and row["first_correct"] and not row["correct"]
    assert cmp.summary().loc[0, "right_to_wrong"] == 0


def test_credentials_in_a_model_url_never_reach_the_results_file(tmp_path: Path) -> None:
    secret = "sk-proj-abcdefghijklmnop1234"
    url = f"http://user:{secret}@127.0.0.1:9/v1?api_key={secret}#m"
    out = tmp_path / "runs.jsonl"
    comparison = run_comparison(
        load_dataset("builtin", limit=1),
        modes=["baseline"],
        models=[url],
        out=out,
        progress=False,
    )
    comparison.save(tmp_path / "runs")
    assert comparison.rows[0]["error"]  # the server is not there; the run is recorded
    for file in tmp_path.iterdir():
        assert secret not in file.read_text(encoding="utf-8"), file.name


def test_a_results_file_never_mixes_two_strategies_under_prompted(tmp_path: Path) -> None:
    out = tmp_path / "runs.jsonl"
    run_comparison(
        RECORDS[:1],
        models=[model()],
        modes=["prompted"],
        strategy="critique",
        out=out,
        progress=False,
    )
    with pytest.raises(ConfigError, match="other settings"):
        run_comparison(RECORDS[:1], models=[model()], modes=["prompted"], out=out, progress=False)
    assert load_comparison(out).config["options"]["strategy"] == "critique"


def test_a_file_that_is_not_text_names_the_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "qs.jsonl"
    data.write_bytes(b'\xef\xbb\xbf{"question": "a?", "answer": 1}\n{"question": "\xe9?"}\n')
    with pytest.raises(ConfigError, match=r"qs.jsonl, line 2: not UTF-8 text \(byte 0xe9"):
        load_dataset(data)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert [r.question for r in load_dataset(data, on_error="skip")] == ["a?"]  # BOM read


@pytest.mark.parametrize(
    ("first", "why"),
    [
        (b"\x89PNG\x00\n", "not UTF-8 text"),
        (b"{oops\n", "not valid JSON"),
        (b"[1]\n", "not a JSON object"),
    ],
)
def test_a_results_file_with_a_corrupt_first_line_is_named(
    tmp_path: Path, first: bytes, why: str
) -> None:
    out = tmp_path / "r.jsonl"
    out.write_bytes(first + b'{"type": "run"}\n')
    with pytest.raises(ConfigError, match=rf"r\.jsonl, line 1: {why}.*--no-resume"):
        load_comparison(out)


def test_the_plain_answer_is_scored_as_the_model_wrote_it_not_as_code_repaired_it() -> None:
    question = "Describe the moon in all lowercase letters."
    model = ScriptedChatModel(script={}, default={"generator": "The Moon is bright."})
    cmp = run_comparison(
        [Record("m", question, "", kind="text")],
        models=[model],
        modes=["prompted"],
        progress=False,
    )
    row = cmp.rows[0]
    assert row["output"] == "the moon is bright."
    assert row["first_output"] == "The Moon is bright."


def test_the_plain_answer_is_scored_as_written_before_a_step_was_set_right() -> None:
    wrong = "<thinking>7 + 7 = 15.</thinking><output>The answer is 15.</output>"
    going_on = ScriptedChatModel(
        script={"generator": [wrong, ".</thinking><output>The answer is 14.</output>"]},
        default={"generator": tagged("The answer is 14.")},
        continues_final_message=True,
    )
    cmp = run_comparison(
        RECORDS[3:], models=[going_on], modes=["prompted"], samples=2, programs=0, progress=False
    )
    row = cmp.rows[0]
    assert "uncorrected" in row["drafts"][0] and "14" in row["drafts"][0]["output"]
    assert (row["first_output"], row["first_correct"]) == ("The answer is 15.", False)
    assert row["correct"] is True
