from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from agent import ConfigError
from agent.prompts import PROMPT_FIELDS, PROMPTS, load_prompts

ROOT = Path(__file__).resolve().parents[1]


def test_every_prompt_has_exactly_the_placeholders_the_code_fills() -> None:
    for name, fields in PROMPT_FIELDS.items():
        found = set(re.findall(r"\{([a-z_]+)\}", PROMPTS.texts[name]))
        assert found == fields, name
        filled = PROMPTS.render(name, **{f: f"<<{f}>>" for f in fields})
        assert not re.search(r"\{[a-z_]+\}", filled), name


def test_values_are_inserted_literally() -> None:
    text = PROMPTS.render("critique_user", question="What is {draft}? {x}", draft="D")
    assert "What is {draft}? {x}" in text and text.count("D") >= 1


def test_a_missing_value_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="needs values for: draft"):
        PROMPTS.render("critique_user", question="q")


def test_a_prompts_folder_missing_a_placeholder_is_refused(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "prompts", tmp_path / "p")
    target = tmp_path / "p" / "revise_user.md"
    target.write_text(target.read_text().replace("{error}", "the error"))
    with pytest.raises(ConfigError, match=r"revise_user.md lacks the placeholder\(s\) \{error\}"):
        load_prompts(tmp_path / "p")


def test_a_missing_prompt_file_is_named(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "prompts", tmp_path / "p")
    (tmp_path / "p" / "critique_system.md").unlink()
    with pytest.raises(ConfigError, match=r"critique_system\.md is missing"):
        load_prompts(tmp_path / "p")


def test_worked_examples_show_a_confirmed_step_and_a_corrected_slip() -> None:
    replies = [text for role, text in PROMPTS.examples if role == "assistant"]
    assert len(replies) >= 2
    assert any("right" in r and "slip" not in r for r in replies)
    assert any("slip" in r for r in replies)


def test_the_wheel_ships_the_prompts(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("reflect_agent-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in PROMPT_FIELDS:
        assert f"agent/prompts/{name}.md" in names
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    code = "from agent.prompts import default_prompts_dir as d; print(d())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == str(target / "agent" / "prompts")
