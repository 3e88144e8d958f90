"""Server faults over real HTTP: retried with backoff, then one clear line naming the server."""

from __future__ import annotations

import time

import pytest
from langchain_openai import ChatOpenAI

from agent import ModelError, areflect
from tests.fault_server import fault_server

Q = "Tom has 3 bags of 4 apples. How many apples?"


def client(url: str, *, streaming: bool = False) -> ChatOpenAI:
    # The SDK's own retries are off, so the graph's retry policy is what is measured.
    return ChatOpenAI(
        base_url=url, api_key="sk-test", model="fault", max_retries=0, streaming=streaming
    )


@pytest.mark.parametrize("fault", [429, 500, 503, "drop"])
async def test_transient_faults_are_retried_until_the_server_answers(fault: str | int) -> None:
    with fault_server([fault, fault]) as server:
        result = await areflect(Q, model=client(server.url), mode="single")
    assert result.output == "The answer is 12."
    assert server.requests == 3


async def test_a_stream_dropped_midway_is_retried() -> None:
    with fault_server(["drop"]) as server:
        result = await areflect(Q, model=client(server.url, streaming=True), mode="single")
    assert result.output == "The answer is 12."
    assert server.requests == 2


async def test_a_stream_that_keeps_dropping_is_an_error_not_a_half_answer() -> None:
    with fault_server(["drop"] * 5) as server, pytest.raises(ModelError) as failed:
        await areflect(Q, model=client(server.url, streaming=True), mode="single")
    assert "cutting its replies short" in str(failed.value) and server.url in str(failed.value)
    assert server.requests == 3


async def test_a_server_that_keeps_failing_gives_one_line_naming_it() -> None:
    with fault_server([503] * 10) as server, pytest.raises(ModelError) as failed:
        await areflect(Q, model=client(server.url), mode="single")
    message = str(failed.value)
    assert server.requests == 3  # three attempts, then give up
    assert server.url in message and "failed after retries" in message
    assert "\n" not in message and "sk-test" not in message


async def test_errors_that_retrying_cannot_fix_are_not_retried() -> None:
    with fault_server([400, 401]) as server, pytest.raises(ModelError):
        await areflect(Q, model=client(server.url), mode="single")
    assert server.requests == 1


async def test_a_hanging_server_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFLECT_TIMEOUT", "0.5")
    with fault_server(["hang"] * 20) as server:
        started = time.monotonic()
        with pytest.raises(ModelError) as failed:
            await areflect(Q, model=f"{server.url}#fault", mode="single")
    assert time.monotonic() - started < 25
    assert "timed out" in str(failed.value) and server.url in str(failed.value)
    assert "REFLECT_TIMEOUT" in str(failed.value)


async def test_a_bad_timeout_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent import ConfigError

    monkeypatch.setenv("REFLECT_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="REFLECT_TIMEOUT must be a positive number"):
        await areflect(Q, model="http://127.0.0.1:9/v1", mode="single")
