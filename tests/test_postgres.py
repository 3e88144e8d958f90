"""Checkpoints in a real PostgreSQL server: the same guarantees as SQLite."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pytest

from agent import ConfigError, ModelError, areflect
from tests.scripted import ScriptedChatModel, tagged

Q = "Tom has 3 bags of 4 apples. How many apples?"


def scripted(generator: list[object], critic: list[object] | None = None) -> ScriptedChatModel:
    return ScriptedChatModel(script={"generator": list(generator), "critic": list(critic or [])})


async def test_a_failed_run_resumes_from_postgres_without_redoing_steps(postgres_url: str) -> None:
    model = scripted(
        [tagged("The answer is 7.", "3 + 4 = 7"), tagged("The answer is 12.", "3 × 4 = 12")],
        ["VERDICT: REVISE\nERROR: multiply", ValueError("critic server crashed"), "VERDICT: PASS"],
    )
    options = {"model": model, "strategy": "critique", "checkpoint": postgres_url}
    with pytest.raises(ModelError):
        await areflect(Q, thread_id="pg-resume", **options)
    calls = len(model.calls)
    assert calls == 4  # draft, critique, revision, the critique that failed
    result = await areflect(Q, thread_id="pg-resume", **options)
    assert len(model.calls) - calls == 1  # only the failed critique runs again
    assert (result.stop_reason, result.output) == ("accepted", "The answer is 12.")
    again = await areflect(Q, thread_id="pg-resume", **options)
    assert again.output == result.output and len(model.calls) - calls == 1  # the saved answer


async def test_parallel_samples_resume_from_postgres(postgres_url: str) -> None:
    import time

    def crash_late(messages: object) -> str:
        time.sleep(0.5)
        raise ValueError("server crashed")

    model = scripted([])
    model.by_seed.update({0: ["So 12."], 1: [crash_late, "So 12."], 2: ["So 7."]})
    options = {"model": model, "checkpoint": postgres_url, "samples": 3, "max_samples": 3}
    with pytest.raises(ModelError):
        await areflect(Q, thread_id="pg-samples", **options)
    model.sampling.clear()
    result = await areflect(Q, thread_id="pg-samples", **options)
    assert [seed for _, seed in model.sampling] == [1]
    assert result.reflections[0] == "3 solutions disagree: 12 ×2, 7 ×1"


def _with(url: str, *, password: str | None = None, port: int | None = None) -> str:
    parts = urlsplit(url)
    user = parts.username or ""
    host = f"{parts.hostname}:{port or parts.port}"
    auth = f"{user}:{password}@" if password is not None else f"{user}@"
    return urlunsplit((parts.scheme, auth + host, parts.path, "", ""))


async def test_a_wrong_password_is_one_line_that_never_shows_it(postgres_url: str) -> None:
    bad = _with(postgres_url, password="not-the-password-42")
    with pytest.raises(ConfigError) as refused:
        await areflect(Q, model=scripted([]), checkpoint=bad)
    message = str(refused.value)
    assert "refused the login of user 'reflect'" in message and "\n" not in message
    assert "not-the-password-42" not in message
    assert urlsplit(postgres_url).password not in message


async def test_an_unreachable_database_is_one_line(postgres_url: str) -> None:
    from tests.integration.conftest import free_port

    closed = _with(postgres_url, password="secret-pw", port=free_port())
    with pytest.raises(ConfigError) as refused:
        await areflect(Q, model=scripted([]), checkpoint=closed)
    message = str(refused.value)
    assert (
        message.startswith("cannot reach PostgreSQL at 127.0.0.1:") and "secret-pw" not in message
    )


def test_the_cli_takes_a_connection_string(postgres_url: str, tmp_path: object) -> None:
    from typer.testing import CliRunner

    from agent import cli

    bad = _with(postgres_url, password="wrong-pw-7")
    model = "http://127.0.0.1:9/v1"  # never called: the checkpoint is opened first
    result = CliRunner().invoke(cli.app, ["ask", Q, "--model", model, "--checkpoint", bad])
    assert result.exit_code == 1
    assert "refused the login" in result.stderr and "wrong-pw-7" not in result.output
