"""The `reflect` command line, driven through typer's runner with a scripted model."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from agent import cli
from agent.context import EFFORT_PRESETS
from agent.result import MODES, ReflectionResult
from agent.strategies import STRATEGIES
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


def test_what_code_changed_and_the_model_wrote_on_are_said(model: ScriptedChatModel) -> None:
    model.continues_final_message = True
    script(model, ["Light, scatters off the air.", " Blue light scatters the most."])
    asked = "Explain in two sentences why the sky is blue. Do not use any commas."
    result = runner.invoke(cli.app, ["ask", asked, "--max-concurrency", "1"])
    assert result.exit_code == 0, result.output
    assert_in_order(
        result.stdout,
        "⟲ reflection: written on by the model to meet: exactly 2 sentences",
        "⟲ reflection: made by code, not the model: no commas",  # on the whole, after
        "stopped: checked",
        "Answer:\nLight scatters off the air. Blue light scatters the most.",
    )


def test_writing_on_set_aside_is_said(model: ScriptedChatModel) -> None:
    model.continues_final_message = True
    sample = "Blue light scatters. It scatters most."
    script(model, ["Light scatters off the air.", " and then", sample])
    asked = "Explain in two sentences why the sky is blue."
    result = runner.invoke(cli.app, ["ask", asked, "--max-concurrency", "1", "--samples", "2"])
    assert result.exit_code == 0, result.output
    assert_in_order(
        result.stdout,
        "and then",  # streamed as the model wrote it
        "⟲ reflection: written on by the model, not kept: it stopped mid-sentence",
        f"Answer:\n{sample}",
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


def compare_model(monkeypatch: pytest.MonkeyPatch) -> ScriptedChatModel:
    """The harness tests' scripted model, given to every run ``compare`` makes."""
    from agent import api
    from tests.test_harness import model

    scripted = model()

    async def resolve(spec: Any, **kw: Any) -> ScriptedChatModel:
        return scripted

    monkeypatch.setattr(api, "aresolve_model", resolve)
    return scripted


def test_compare_prints_the_table_and_writes_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_harness import RECORDS

    compare_model(monkeypatch)
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


# -- bad input that is not the model server's fault -------------------------------------------


def one_error_line(result: Any, *marks: str) -> None:
    """The command failed with one line on stderr that names the cause, not the server."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "model call" not in result.stderr and "model server" not in result.stderr
    for mark in marks:
        assert mark in lines[0], (mark, lines[0])


def test_a_question_that_is_not_utf8_is_refused_before_any_request(
    model: ScriptedChatModel,
) -> None:
    model.default["generator"] = "So 12."
    # On the command line Python keeps each undecodable byte as a lone surrogate.
    argument = runner.invoke(cli.app, ["ask", "caf\udce9: 3 × 4?"])
    one_error_line(argument, "not valid UTF-8", "byte 0xe9", "iconv")
    piped = runner.invoke(cli.app, ["ask"], input=b"What is \xff 3 \xd7 4?")
    one_error_line(piped, "not valid UTF-8", "byte 0xff")
    assert model.calls == []


async def test_the_python_api_refuses_it_too() -> None:
    from agent import areflect
    from agent.errors import ConfigError

    model = ScriptedChatModel(script={"generator": ["So 12."], "critic": []})
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        await areflect("caf\udce9?", model=model, mode="baseline")
    assert model.calls == []


@pytest.mark.parametrize(
    ("make", "marks"),
    [
        (lambda d: d, ["is a folder", "runs.sqlite"]),
        (lambda d: _written(d / "notes.txt", b"not a database\n"), ["not a SQLite database"]),
        (lambda d: "postgresql://me:s3cret@127.0.0.1:99999/db", ["malformed", "port"]),
        (lambda d: "postgresql://me:s3cret@127.0.0.1:abc/db", ["malformed", "HOST:PORT"]),
    ],
    ids=["folder", "text file", "port out of range", "port not a number"],
)
def test_a_checkpoint_that_cannot_be_used_says_why(
    model: ScriptedChatModel, tmp_path: Path, make: Any, marks: list[str]
) -> None:
    model.default["generator"] = "So 12."
    result = runner.invoke(cli.app, ["ask", Q, "--checkpoint", str(make(tmp_path))])
    one_error_line(result, *marks)
    assert "s3cret" not in result.output and model.calls == []


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# -- the model's text never controls the terminal -----------------------------------------------

HOSTILE = (
    "Think \x1b]0;owned window\x07 first.\x1b[2J\x1b[H 3 × 4 = 12\r\n"
    "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ \x9b31m done"
)


def test_escape_sequences_from_the_model_never_reach_the_terminal(
    model: ScriptedChatModel,
) -> None:
    answer = "The answer is 12.\x1b[31m\x07"
    script(model, [tagged(answer, HOSTILE)], ["VERDICT: PASS"])
    result = runner.invoke(cli.app, ["ask", Q, "--strategy", "critique"])
    assert result.exit_code == 0, result.output
    for control in ("\x1b", "\x07", "\x9b", "\r"):
        assert control not in result.output, repr(control)
    assert "owned window" not in result.output and "evil.example" not in result.output
    # The streamed thinking (its sequences cut across tokens) and the final answer remain.
    assert_in_order(result.stdout, "Think", "first.", "3 × 4 = 12", "click", "done")
    assert "Answer:\nThe answer is 12.\n" in result.stdout


def test_json_keeps_the_model_text_faithful_and_escaped(model: ScriptedChatModel) -> None:
    script(model, [tagged("The answer is 12 €.\x1b[2J\x9b2J")], ["VERDICT: PASS"])
    result = runner.invoke(cli.app, ["ask", Q, "--json", "--strategy", "critique"])
    assert "\x1b" not in result.stdout and "\x9b" not in result.stdout
    assert json.loads(result.stdout)["output"] == "The answer is 12 €.\x1b[2J\x9b2J"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(HOSTILE)), max_size=8))
def test_a_stream_cut_anywhere_prints_what_the_whole_text_prints(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(HOSTILE)]
    stream = cli._Printable()
    shown = "".join(stream.feed(HOSTILE[a:b]) for a, b in itertools.pairwise(bounds))
    assert shown + stream.flush() == cli.printable(HOSTILE)


# -- help and choices -------------------------------------------------------------------------


def test_help_keeps_text_in_square_brackets() -> None:
    text = " ".join(runner.invoke(cli.app, ["ask", "--help"]).stdout.split())
    for mark in ("[env: REFLECT_MODEL]", "[default: from the question]", "[default: 8]"):
        assert mark in text, mark
    compare = " ".join(runner.invoke(cli.app, ["compare", "--help"]).stdout.split())
    assert "[default: 1 for local models, else 4]" in compare


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--mode", "loud"], "--mode"),
        (["--effort", "max"], "--effort"),
        (["--strategy", "debate"], "--strategy"),
        (["--temperature", "-5"], "--temperature"),
    ],
)
def test_a_bad_choice_is_a_usage_error(
    model: ScriptedChatModel, args: list[str], option: str
) -> None:
    result = runner.invoke(cli.app, ["ask", Q, *args])
    assert result.exit_code == 2 and option in result.stderr, result.output
    assert model.calls == []


def test_help_lists_the_choices_the_registries_hold() -> None:
    text = " ".join(runner.invoke(cli.app, ["ask", "--help"]).stdout.split())
    for names in (MODES, STRATEGIES, EFFORT_PRESETS):
        assert "|".join(names) in text
    assert get_args(cli.Mode) == MODES
    assert get_args(cli.Strategy) == tuple(STRATEGIES)
    assert get_args(cli.EffortName) == tuple(EFFORT_PRESETS)


# -- compare's errors and warnings ------------------------------------------------------------


def test_compare_skips_bad_lines_with_one_warning_line_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compare_model(monkeypatch)
    data = tmp_path / "qs.jsonl"
    data.write_text(
        '{"question": "What is 2 + 2?", "answer": "4"}\nnot json\n'
        '{"question": "Add 1 and 2.", "answer": "3", "tests": "assert True"}\n'
    )
    args = ["compare", "--dataset", str(data), "--modes", "baseline", "--on-error", "skip"]
    result = runner.invoke(cli.app, [*args, "--out", str(tmp_path / "r.jsonl"), "--no-plot"])
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warned) == 2, result.stderr
    assert warned[0] == f"warning: skipped {data}, line 2: not valid JSON (Expecting value)"
    assert "--run-code" in warned[1]
    assert "UserWarning" not in result.stderr and "warnings.warn" not in result.stderr


def test_compare_names_the_file_and_line_of_a_binary_dataset(tmp_path: Path) -> None:
    data = tmp_path / "photo.jsonl"
    data.write_bytes(b'{"question": "a?", "answer": "1"}\n\x89PNG\r\n\x1a\n\x00\x00')
    result = runner.invoke(
        cli.app, ["compare", "--dataset", str(data), "--out", str(tmp_path / "r.jsonl")]
    )
    one_error_line(result, f"{data}, line 2: not UTF-8 text (byte 0x89 at column 1)")


def test_compare_names_the_results_file_whose_first_line_is_corrupt(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_bytes(b"\xff\xfe garbage\n")
    args = ["compare", "--dataset", "builtin", "--limit", "1", "--out", str(out)]
    result = runner.invoke(cli.app, args)
    one_error_line(result, f"{out}, line 1: not UTF-8 text", "--no-resume")
    out.write_text('{"type": "config", "modes": [\n')
    one_error_line(runner.invoke(cli.app, args), f"{out}, line 1: not valid JSON")


def test_the_footer_says_no_token_probabilities_only_where_the_model_gave_none() -> None:
    from types import SimpleNamespace

    sure = {"confidence": {"score": 9.0}}
    said = cli._confidence_said
    assert said(SimpleNamespace(confidence=9.04, drafts=[sure])) == "confidence 9.0, "
    assert said(SimpleNamespace(confidence=None, drafts=[{}, {}])) == "no token probabilities, "
    # The units' sentence, written by code after the model's own drafts: nothing to say.
    assert said(SimpleNamespace(confidence=None, drafts=[sure, {"confidence": None}])) == ""
