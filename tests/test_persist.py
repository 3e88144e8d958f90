"""Checkpointed runs: a failed run resumes from its last finished step, nothing is redone."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from agent import ConfigError, ModelError, areflect
from tests.scripted import ScriptedChatModel, tagged

Q = "Tom has 3 bags of 4 apples. How many apples?"


def scripted(generator: list[Any], critic: list[Any] | None = None) -> ScriptedChatModel:
    return ScriptedChatModel(script={"generator": list(generator), "critic": list(critic or [])})


async def test_a_run_that_failed_resumes_without_redoing_finished_steps(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    # The critic fails for good (not a transient error, so no retry): the draft is saved.
    model = scripted(
        [tagged("The answer is 7.", "3 + 4 = 7"), tagged("The answer is 12.")],
        [ValueError("critic crashed"), "VERDICT: REVISE\nERROR: 3 + 4 should be 3 × 4", "PASS"],
    )
    with pytest.raises(ModelError) as failed:
        await areflect(Q, model=model, checkpoint=db, strategy="critique")
    assert failed.value.partial is not None
    saved = failed.value.partial.drafts
    assert [d["output"] for d in saved] == ["The answer is 7."]

    calls_before = len(model.calls)
    result = await areflect(Q, model=model, checkpoint=db, strategy="critique")
    roles = [role for role, _ in model.calls[calls_before:]]
    assert roles == ["critic", "generator", "critic"]  # the first draft is not asked again
    assert result.drafts[0] == saved[0]  # same text, same timing: the saved draft itself
    assert result.output == "The answer is 12."
    assert result.usage["calls"] == 4  # the failed call made no reply; every reply counted


async def test_a_finished_run_asked_again_returns_the_saved_answer(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    model = scripted([tagged("The answer is 12.")], ["VERDICT: PASS"])
    first = await areflect(Q, model=model, checkpoint=db, strategy="critique")
    calls = len(model.calls)
    again = await areflect(Q, model=model, checkpoint=db, strategy="critique")
    assert len(model.calls) == calls
    assert again.to_dict() == first.to_dict()


async def test_other_settings_or_another_thread_start_afresh(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    model = scripted([tagged("The answer is 12.")] * 3, ["VERDICT: PASS"] * 3)
    await areflect(Q, model=model, checkpoint=db, strategy="critique")
    await areflect(Q, model=model, checkpoint=db, effort="low", strategy="critique")
    await areflect(Q, model=model, checkpoint=db, thread_id="mine", strategy="critique")
    assert len(model.calls) == 6


async def test_a_new_question_on_a_thread_continues_the_conversation(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    model = scripted([tagged("The answer is 12."), tagged("The answer is 24.")], ["PASS", "PASS"])
    await areflect(Q, model=model, checkpoint=db, thread_id="chat", strategy="critique")
    result = await areflect(
        "And twice that?", model=model, checkpoint=db, thread_id="chat", strategy="critique"
    )
    asked = model.calls[2][1]
    assert any(m.content == Q for m in asked)
    assert result.output == "The answer is 24."


async def test_a_checkpoint_in_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist; create it first"):
        await areflect(
            Q, model=scripted([]), checkpoint=tmp_path / "nope" / "runs.sqlite", strategy="critique"
        )


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (lambda d: d, "is a folder: name a file in it"),
        (lambda d: _file(d / "notes.sqlite", b"just notes\n"), "is not a SQLite database"),
        (
            lambda d: _file(d / "half.sqlite", b"SQLite format 3\x00" + b"\xff" * 200),
            "cannot be used",
        ),
        (
            lambda d: "postgresql://me:s3cret@db.example:70000/reflect",
            "connection string is malformed",
        ),
    ],
    ids=["folder", "text file", "corrupt database", "port out of range"],
)
async def test_a_checkpoint_that_cannot_hold_runs_is_a_config_error(
    tmp_path: Path, where: Any, message: str
) -> None:
    model = scripted(["The answer is 12."])
    with pytest.raises(ConfigError, match=message) as refused:
        await areflect(Q, model=model, mode="baseline", checkpoint=where(tmp_path))
    assert "s3cret" not in str(refused.value) and model.calls == []
    assert len(str(refused.value).splitlines()) == 1


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


async def test_the_default_strategy_resumes_mid_sampling_with_the_same_seeds(
    tmp_path: Path,
) -> None:
    db = tmp_path / "runs.sqlite"
    solution = "3 bags of 4 apples.\n\nSo Tom has {} apples."
    twelve, seven = solution.format(12), solution.format(7)
    model = scripted([twelve, ValueError("server crashed"), seven, twelve])
    with pytest.raises(ModelError) as failed:
        await areflect(Q, model=model, checkpoint=db, samples=3, max_samples=3, max_concurrency=1)
    saved = failed.value.partial.drafts if failed.value.partial else []
    assert [d["output"] for d in saved] == [twelve]  # the whole answer

    calls_before = len(model.calls)
    result = await areflect(
        Q, model=model, checkpoint=db, samples=3, max_samples=3, max_concurrency=1
    )
    assert len(model.calls) - calls_before == 2  # the plain answer is not asked again
    assert [seed for _, seed in model.sampling[-2:]] == [1, 2]  # the seeds a fresh run uses
    assert result.drafts[0] == saved[0]
    assert (result.stop_reason, result.reflections[0]) == (
        "voted",
        "3 solutions disagree: 12 ×2, 7 ×1",
    )


async def test_parallel_samples_that_finished_are_not_requested_again(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    twelve, seven = "So 12.", "So 7."
    model = scripted([])

    # Replies by seed, so the test does not depend on which parallel call runs first.
    def crash_late(messages: Any) -> str:
        time.sleep(0.5)  # the other two samples finish first
        raise ValueError("server crashed")

    model.by_seed.update({0: [twelve], 1: [crash_late, twelve], 2: [seven]})
    with pytest.raises(ModelError):
        await areflect(Q, model=model, checkpoint=db, samples=3, max_samples=3)
    first = sorted(seed for _, seed in model.sampling)
    assert first == [0, 1, 2]  # all three were requested at once
    model.sampling.clear()
    result = await areflect(Q, model=model, checkpoint=db, samples=3, max_samples=3)
    assert [seed for _, seed in model.sampling] == [1]  # only the one that failed
    assert [d["output"] for d in result.drafts] == [twelve, twelve, seven]
    assert result.reflections[0] == "3 solutions disagree: 12 ×2, 7 ×1"


def test_the_thread_id_names_the_default_strategy() -> None:
    from agent import Context
    from agent.persist import thread_for

    assert thread_for(Q, Context()) == thread_for(Q, Context(strategy="contrast"))
    assert thread_for(Q, Context()) != thread_for(Q, Context(strategy="critique"))
    assert thread_for(Q, Context(model="local:x")) != thread_for(Q, Context(model="local:y"))
