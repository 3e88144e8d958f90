"""One retry layer with a bounded total, and empty replies that are never answers.

Issue 21, items 8 and 9, over real HTTP with a real ``ChatOpenAI``: a failing call makes 3
requests (not the OpenAI client's 3 under each of the graph's 3), a hung server fails within
3 × ``REFLECT_TIMEOUT`` plus the backoff, an empty reply is asked again and then is an
error, and a reply stream with nothing in it is retried like one cut short.
"""

from __future__ import annotations

import time

import pytest
from langchain_openai import ChatOpenAI
from typer.testing import CliRunner

from agent import ModelError, areflect, reflect
from tests.capture_server import capture_server

Q = "Tom has 3 bags of 4 apples. How many apples?"
ANSWER = "The answer is 12."


def chat(url: str, **kwargs: object) -> ChatOpenAI:
    """A ChatOpenAI with the library's defaults: its client retries twice by itself."""
    return ChatOpenAI(base_url=url, api_key="sk-user", model="capture", **kwargs)  # type: ignore[arg-type]


async def test_a_failing_call_is_tried_three_times_in_all() -> None:
    with capture_server([500] * 20) as server, pytest.raises(ModelError) as failed:
        await areflect(Q, model=chat(server.url), mode="single")
    assert server.requests == 3
    assert "failed after retries" in str(failed.value)


async def test_a_named_url_model_is_tried_three_times_in_all() -> None:
    with capture_server([503] * 20) as server, pytest.raises(ModelError):
        await areflect(Q, model=f"{server.url}#capture", mode="single")
    assert server.requests == 3


def test_a_hung_server_fails_within_three_timeouts_and_the_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REFLECT_TIMEOUT", "1")
    with capture_server(["hang"] * 20) as server:
        started = time.monotonic()
        with pytest.raises(ModelError) as failed:
            reflect(Q, model=f"{server.url}#capture", mode="single")
        took = time.monotonic() - started
    assert server.requests == 3
    assert took < 3 * 1 + 3 + 2  # three timeouts, 1 s + 2 s of backoff, and some slack
    assert "timed out" in str(failed.value)


async def test_an_empty_reply_is_asked_again() -> None:
    with capture_server(["empty"]) as server:
        result = await areflect(Q, model=chat(server.url), mode="single")
    assert result.output == ANSWER
    assert server.requests == 2


async def test_a_model_that_only_answers_empty_is_an_error_not_an_answer() -> None:
    with capture_server(["empty"] * 20) as server, pytest.raises(ModelError) as failed:
        await areflect(Q, model=chat(server.url), mode="single")
    message = str(failed.value)
    assert "empty reply" in message and server.url in message and "\n" not in message
    assert server.requests == 3


def test_the_command_line_exits_non_zero_on_empty_replies() -> None:
    from agent.cli import app

    with capture_server(["empty"] * 20) as server:
        run = CliRunner().invoke(app, ["ask", Q, "--model", f"{server.url}#capture", "--json"])
    assert run.exit_code == 1, run.output
    assert "empty reply" in run.output and "Answer" not in run.output


async def test_a_stream_with_nothing_in_it_is_retried_like_one_cut_short() -> None:
    with capture_server(["nothing"]) as server:
        result = await areflect(Q, model=chat(server.url, streaming=True), mode="single")
    assert result.output == ANSWER
    assert server.requests == 2
