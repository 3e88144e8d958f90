"""One run loop: the command line and ``areflect`` show the same answer so far.

``ReflectionRun.events()`` is the loop both use; what a run has when it stops (a failed
model call, Ctrl-C) is its ``partial()``, and a resumed run keeps what was saved. Against a
real OpenAI-compatible HTTP server whose replies the test scripts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent import areflect, cli
from agent.api import ReflectionRun
from agent.errors import ModelError
from tests.capture_server import capture_server

SAMPLED = "A farmer has 3 pens of 12 chickens and sells 7. How many are left?"
FIRST, OTHER = "12 × 3 = 36, 36 − 7 = 29. The answer is 29.", "The answer is 33."


@pytest.fixture(autouse=True)
def fast_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFLECT_TIMEOUT", "5")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def test_a_failed_call_shows_the_same_answer_so_far_in_both() -> None:
    # Two samples answer, then every request fails: both stop with the samples' choice.
    with capture_server(["ok", "ok"] + [500] * 20, reply=FIRST) as server:
        with pytest.raises(ModelError) as failed:
            asyncio.run(areflect(SAMPLED, model=server.url, samples=3, max_concurrency=1))
        from_api = failed.value.partial
    with capture_server(["ok", "ok"] + [500] * 20, reply=FIRST) as server:
        shown = CliRunner().invoke(
            cli.app,
            ["ask", SAMPLED, "--model", server.url, "--samples", "3", "--max-concurrency", "1"],
        )
    assert from_api is not None and len(from_api.drafts) == 2
    assert shown.exit_code == 1
    assert f"latest answer so far: {from_api.output}" in shown.output
    assert "The answer is 29." in from_api.output


def test_ctrl_c_shows_the_run_s_own_answer_so_far(tmp_path: Path) -> None:
    # The command line, interrupted while its third sample hangs, prints the partial() that
    # the same loop gives a Python caller that stops there.
    with capture_server(["ok", "ok", "hang", "hang"], reply=FIRST) as server:
        reflect = str(Path(sys.executable).with_name("reflect"))
        command = [reflect, "ask", SAMPLED, "--model", server.url,
                   "--samples", "3", "--max-concurrency", "1"]  # fmt: skip
        env = {**os.environ, "REFLECT_TIMEOUT": "30"}
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        deadline = time.monotonic() + 60
        while server.requests < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr

    async def stop_after_two_samples(url: str) -> str:
        run = ReflectionRun(SAMPLED, model=url, samples=3, max_concurrency=1)
        seen = 0
        events = run.events(tokens=False)
        async for event in events:
            seen += event["event"] == "sample"
            if seen == 2:
                break
        await events.aclose()  # type: ignore[attr-defined]
        partial = run.partial()
        assert partial is not None
        return partial.output

    with capture_server(["ok", "ok", "hang"], reply=FIRST) as server:
        from_api = asyncio.run(stop_after_two_samples(server.url))
    assert f"latest answer so far: {from_api}" in stderr


def test_a_resumed_run_keeps_the_saved_drafts_in_both(tmp_path: Path) -> None:
    database = tmp_path / "runs.sqlite"
    with (
        capture_server(["ok", "ok"] + [500] * 20, reply=FIRST) as server,
        pytest.raises(ModelError),
    ):
        asyncio.run(
            areflect(
                SAMPLED,
                model=server.url,
                samples=3,
                max_concurrency=1,
                checkpoint=database,
                thread_id="t",
            )
        )
    with capture_server(reply=FIRST) as server:
        shown = CliRunner().invoke(
            cli.app,
            [
                "ask",
                SAMPLED,
                "--model",
                server.url,
                "--samples",
                "3",
                "--max-concurrency",
                "1",
                "--checkpoint",
                str(database),
                "--thread",
                "t",
            ],
        )
        resumed_requests = server.requests
    assert shown.exit_code == 0, shown.output
    assert "resuming thread t: 2 draft(s)" in shown.output
    assert resumed_requests == 1  # only the missing sample was asked for
    with capture_server(reply=OTHER) as server:
        again = asyncio.run(
            areflect(SAMPLED, model=server.url, samples=3, checkpoint=database, thread_id="t")
        )
        assert server.requests == 0  # finished: the saved answer, no request
    assert again.output in shown.output and len(again.drafts) == 3
