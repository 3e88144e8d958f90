"""The `reflect` command line, driven through typer's runner with a scripted model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent import cli
from agent.result import ReflectionResult
from tests.scripted import ScriptedChatModel, tagged

runner = CliRunner()
Q = "Tom has 3 bags of 4 apples. How many apples?"


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> ScriptedChatModel:
    scripted = ScriptedChatModel(script={"generator": [], "critic": []})
    asked: list[Any] = []

    def resolve(spec: Any, **kwargs: Any) -> ScriptedChatModel:
        asked.append((spec, kwargs))
        return scripted

    monkeypatch.setattr(cli, "resolve_model", resolve)
    scripted.__dict__["asked"] = asked
    return scripted


def script(model: ScriptedChatModel, generator: list[Any], critic: list[Any] = ()) -> None:  # type: ignore[assignment]
    model.script["generator"].extend(generator)
    model.script["critic"].extend(critic)


def assert_in_order(text: str, *marks: str) -> None:
    """Every mark is in ``text``, in this order."""
    positions = [text.index(m) for m in marks]
    assert positions == sorted(positions), marks


def test_ask_streams_thinking_then_reflections_then_the_answer(model: ScriptedChatModel) -> None:
    script(
        model,
        [tagged("The answer is 7.", "3 + 4 = 7"), tagged("The answer is 12.", "3 × 4 = 12")],
        ["VERDICT: REVISE\nERROR: multiply, do not add", "VERDICT: PASS"],
    )
    result = runner.invoke(cli.app, ["ask", Q, "--strategy", "critique"])
    assert result.exit_code == 0, result.output
    assert_in_order(
        result.stdout,
        "── thinking ──",
        "3 + 4 = 7",
        "⟲ reflection 1: REVISE: multiply, do not add",
        "✎ revised answer: The answer is 12.",
        "⟲ reflection 2: PASS",
        "stopped: accepted",
        "Answer:\nThe answer is 12.",
    )


def test_hide_thinking_prints_only_the_answer(model: ScriptedChatModel) -> None:
    script(model, [tagged("The answer is 12.", "3 × 4 = 12")], ["VERDICT: PASS"])
    result = runner.invoke(cli.app, ["ask", Q, "--hide-thinking", "--strategy", "critique"])
    assert result.exit_code == 0 and result.stdout.strip() == "The answer is 12."


def test_json_prints_every_field_of_the_result(model: ScriptedChatModel) -> None:
    script(model, [tagged("The answer is 12.")], ["VERDICT: PASS"])
    result = runner.invoke(
        cli.app, ["ask", Q, "--json", "--strategy", "critique", "--effort", "low"]
    )
    data = json.loads(result.stdout)
    assert set(data) == set(ReflectionResult.__dataclass_fields__)
    assert (data["output"], data["stop_reason"], data["question"]) == (
        "The answer is 12.",
        "accepted",
        Q,
    )


def test_options_reach_the_graph(model: ScriptedChatModel) -> None:
    script(model, [tagged("12")])
    result = runner.invoke(
        cli.app,
        [
            "ask",
            Q,
            "--json",
            "--max-rounds",
            "0",
            "--strategy",
            "critique",
            "--system",
            "Answer in French.",
            "--model",
            "ollama:x",
            "--temperature",
            "0.2",
        ],
    )
    data = json.loads(result.stdout)
    assert (data["rounds"], data["stop_reason"], data["critiques"]) == (0, "max_rounds", [])
    assert "Answer in French." in model.calls[0][1][0].content
    assert model.__dict__["asked"][0] == ("ollama:x", {"native": False, "temperature": 0.2})


def test_single_and_baseline_modes(model: ScriptedChatModel) -> None:
    script(model, [tagged("12"), "It is 12."])
    single = json.loads(runner.invoke(cli.app, ["ask", Q, "--json", "--mode", "single"]).stdout)
    baseline = json.loads(runner.invoke(cli.app, ["ask", Q, "--json", "--mode", "baseline"]).stdout)
    assert (single["mode"], baseline["mode"], baseline["output"]) == (
        "single",
        "baseline",
        "It is 12.",
    )


def test_the_question_can_come_on_standard_input(model: ScriptedChatModel) -> None:
    script(model, [tagged("12")])
    result = runner.invoke(cli.app, ["ask", "--json", "--mode", "single"], input=Q + "\n")
    assert json.loads(result.stdout)["question"] == Q


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "   "], "no question"),
        (["ask", Q, "--mode", "loud"], "unknown mode 'loud'"),
        (["ask", Q, "--effort", "max"], "unknown effort 'max'"),
        (["models", "pull", "gpt-17"], "unknown local model 'gpt-17'"),
    ],
)
def test_bad_input_is_one_clear_line(
    model: ScriptedChatModel, args: list[str], message: str
) -> None:
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_failing_server_is_one_line_without_a_traceback(model: ScriptedChatModel) -> None:
    model.default["generator"] = ConnectionError("refused")
    result = runner.invoke(cli.app, ["ask", Q])
    assert result.exit_code == 1
    assert "error: cannot reach the model server" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_exception(model: ScriptedChatModel) -> None:
    model.default["generator"] = ConnectionError("refused")
    result = runner.invoke(cli.app, ["ask", Q, "--debug"])
    assert result.exit_code != 0 and isinstance(result.exception, ConnectionError)


def test_the_default_compares_solutions_and_shows_the_tally(model: ScriptedChatModel) -> None:
    latex = "\\[ 3 \\times 4 = 12 \\]"  # LaTeX streams as written, not as console markup
    script(model, [f"{latex}\n\nSo 12.", "3 + 4 = 7.\n\nSo 7.", "3 × 4 = 12.\n\nSo 12."] * 2)
    # One sample at a time (as the in-process model draws them): each streams in turn.
    result = runner.invoke(cli.app, ["ask", Q, "--max-concurrency", "1"])
    assert result.exit_code == 0, result.output
    assert_in_order(
        result.stdout,
        "── thinking ──",
        "\\[ 3 \\times 4 = 12 \\]",
        "── solution 2 ──",
        "⟲ solution 2: So 7.",
        "⟲ solution 3: So 12.",
        "⟲ reflection: 4 solutions disagree: 12 ×3, 7 ×1",
        "stopped: voted",
        f"Answer:\n{latex}\n\nSo 12.",  # the whole answer, not its last paragraph
    )


def test_parallel_samples_get_a_line_each_and_the_chosen_one_in_full(
    model: ScriptedChatModel,
) -> None:
    script(model, ["Work A.\n\nSo 12.", "Work B.\n\nSo 7.", *["Work C.\n\nSo 12."] * 3])
    result = runner.invoke(cli.app, ["ask", Q])  # a server model: the samples go at once
    assert result.exit_code == 0, result.output
    # No token of a sample is streamed, so no two samples interleave; one line each.
    assert "── thinking ──" not in result.stdout and "Work B." not in result.stdout
    assert_in_order(
        result.stdout,
        "⟲ solution",
        "⟲ reflection: 5 solutions disagree: 12 ×4, 7 ×1",
        "Answer:\nWork A.\n\nSo 12.",
    )
    assert result.stdout.count("⟲ solution") == 5


def test_ctrl_c_stops_cleanly_and_prints_the_latest_draft(model: ScriptedChatModel) -> None:
    script(model, ["3 × 4 = 12.\n\nThe answer is 12.", KeyboardInterrupt()])
    result = runner.invoke(cli.app, ["ask", Q, "--max-concurrency", "1"])
    assert result.exit_code == 130
    assert "interrupted" in result.stderr
    assert "latest answer so far: 3 × 4 = 12.\n\nThe answer is 12." in result.stderr


def test_ctrl_c_during_sampling_prints_the_current_leader(model: ScriptedChatModel) -> None:
    script(model, ["So 7.", "So 12.", "So 12.", KeyboardInterrupt()])
    result = runner.invoke(cli.app, ["ask", Q, "--max-concurrency", "1", "--samples", "4"])
    assert result.exit_code == 130
    assert "latest answer so far: So 12." in result.stderr  # the leader, not the plain answer


def test_version_and_help() -> None:
    assert runner.invoke(cli.app, ["--version"]).stdout.startswith("reflect ")
    for args in (["--help"], ["ask", "--help"], ["models", "--help"], ["models", "pull", "--help"]):
        assert runner.invoke(cli.app, args).exit_code == 0


def test_models_lists_the_local_models() -> None:
    result = runner.invoke(cli.app, ["models"])
    assert result.exit_code == 0
    for name in ("local:qwen2.5-coder-1.5b", "local:qwen2.5-coder-0.5b", "local:smollm2-135m"):
        assert name in result.stdout


def test_compare_prints_the_table_and_writes_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent import api
    from tests.test_harness import RECORDS, model

    scripted = model()

    async def resolve(spec: Any, **kw: Any) -> ScriptedChatModel:
        return scripted

    monkeypatch.setattr(api, "aresolve_model", resolve)
    data = tmp_path / "qs.jsonl"
    data.write_text(
        "".join(json.dumps({"question": r.question, "answer": r.answer}) + "\n" for r in RECORDS)
    )
    out = tmp_path / "r.jsonl"
    result = runner.invoke(
        cli.app,
        [
            "compare",
            "--dataset",
            str(data),
            "--modes",
            "baseline,prompted",
            "--out",
            str(out),
            "--max-rounds",
            "1",
            "--models",
            "ollama:x",
        ],
    )
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0].split()
    assert header[:4] == ["model", "mode", "n", "acc"] and "r→w" in header
    assert "prompted" in result.stdout and "ollama:x" in result.stdout
    for suffix in (".jsonl", ".summary.csv", ".runs.csv", ".config.json", ".png"):
        assert out.with_suffix(suffix).is_file(), suffix


def test_compare_reports_a_malformed_dataset_line(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text("{oops\n")
    result = runner.invoke(
        cli.app, ["compare", "--dataset", str(data), "--out", str(tmp_path / "r.jsonl")]
    )
    assert result.exit_code == 1 and "bad.jsonl, line 1: not valid JSON" in result.stderr


def test_a_dotenv_file_sets_the_default_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REFLECT_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("REFLECT_MODEL=local:smollm2-135m\n")
    result = runner.invoke(cli.app, ["models"])
    row = next(line for line in result.stdout.splitlines() if "smollm2-135m" in line)
    assert "✓" in row
