"""Real faults against a real server: it is killed mid-run, the run is killed, Ctrl-C.

Each test runs ``reflect ask`` in a subprocess against llama.cpp's OpenAI-compatible server
with checkpoints (a SQLite file, or a real PostgreSQL server), injects the fault once the first
drafts are saved, then runs the same command again and checks that it resumes: the saved
drafts come back untouched (same text, same timing) and only the missing steps are run. With
PostgreSQL the resumed run is another process in another working directory.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from agent.local import ensure_model
from tests.integration.conftest import free_port, start, stop

pytestmark = pytest.mark.real

REFLECT = str(Path(sys.executable).with_name("reflect"))
QUESTION = "A box holds 6 eggs. How many eggs are in 4 boxes?"


class Server:
    """A llama.cpp server on a fixed port that a test can kill and start again."""

    def __init__(self, model_path: str) -> None:
        self.port = free_port()
        self.model_path = model_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        command = [sys.executable, "-m", "llama_cpp.server", "--model", self.model_path]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "2048"]
        # Its default cuts a streamed reply short when another request arrives; samples are
        # requested in parallel, so let it queue them instead.
        command += ["--interrupt_requests", "False"]
        self.process = start(command, f"{self.url}/models")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server(str(ensure_model("smollm2-135m", progress=False)))
    running.start()
    yield running
    if running.process is not None and running.process.poll() is None:
        stop(running.process)


def ask(server: Server, db: Path | str) -> list[str]:
    # Vote with eight samples, two at a time: after the first round six more calls must reach
    # the server, so a fault injected once the first drafts are saved lands mid-run even on
    # a busy machine.
    return [
        REFLECT,
        "ask",
        QUESTION,
        "--model",
        f"{server.url}#smollm2",
        "--mode",
        "vote",
        "--samples",
        "8",
        "--max-concurrency",
        "2",
        "--checkpoint",
        str(db),
        "--thread",
        "fault",
        "--json",
    ]


def saved_drafts(db: Path | str) -> list[dict[str, object]]:
    config = {"configurable": {"thread_id": "fault"}}
    if isinstance(db, str):  # PostgreSQL
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver

        try:
            with psycopg.connect(db, autocommit=True) as conn:
                saved = PostgresSaver(conn).get_tuple(config)  # type: ignore[arg-type]
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
            return []  # the run's setup() has not finished its migrations yet
    else:
        if not db.exists():
            return []
        try:
            with sqlite3.connect(db, timeout=30) as conn:
                saved = SqliteSaver(conn).get_tuple(config)
        except sqlite3.OperationalError:
            return []  # tables not created yet
    if saved is None:
        return []
    drafts: list[dict[str, object]] = saved.checkpoint["channel_values"].get("drafts") or []
    return drafts


def start_until_first_draft(
    server: Server, db: Path | str, cwd: Path | None = None
) -> tuple[subprocess.Popen[str], dict[str, object]]:
    """Start ``reflect ask`` and return once its first draft is saved, while it still runs."""
    run = subprocess.Popen(
        ask(server, db), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd
    )
    first = wait_for_first_draft(db, run)
    assert run.poll() is None, "the run ended before the fault could be injected"
    return run, first


def wait_for_first_draft(db: Path | str, run: subprocess.Popen[str]) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        drafts = saved_drafts(db)
        if drafts:
            return drafts[0]
        assert run.poll() is None, run.communicate()
        time.sleep(0.05)
    raise AssertionError("no draft was saved in 120 s")


def resume_and_check(
    server: Server, db: Path | str, first: dict[str, object], cwd: Path | None = None
) -> None:
    again = subprocess.run(ask(server, db), capture_output=True, text=True, timeout=300, cwd=cwd)
    assert again.returncode == 0, again.stderr
    assert "resuming thread fault" in again.stderr
    result = json.loads(again.stdout)
    assert result["drafts"][0] == first  # the saved draft itself, not a new answer
    assert len(result["drafts"]) == 8
    assert result["usage"]["calls"] == len(result["drafts"])


def test_server_killed_mid_run_fails_clearly_then_resumes(server: Server, tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    run, first = start_until_first_draft(server, db)
    server.kill()
    _, stderr = run.communicate(timeout=180)
    assert run.returncode == 1
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    assert f"127.0.0.1:{server.port}" in lines[0]  # names the server
    assert "Traceback" not in stderr
    server.start()
    resume_and_check(server, db, first)


def test_a_killed_process_resumes_from_its_checkpoint(server: Server, tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    run, first = start_until_first_draft(server, db)
    run.kill()
    run.communicate(timeout=30)
    resume_and_check(server, db, first)


def test_a_killed_process_resumes_elsewhere_from_postgres(
    server: Server, tmp_path: Path, postgres_url: str
) -> None:
    here, there = tmp_path / "worker-a", tmp_path / "worker-b"
    here.mkdir()
    there.mkdir()
    run, first = start_until_first_draft(server, postgres_url, cwd=here)
    run.kill()
    run.communicate(timeout=30)
    # Another process, in another working directory, shares nothing with the first but the
    # database: it picks the thread up where the killed one left it.
    resume_and_check(server, postgres_url, first, cwd=there)


def test_ctrl_c_keeps_the_draft_and_the_run_resumes(server: Server, tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    run, first = start_until_first_draft(server, db)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
    resume_and_check(server, db, first)


async def test_a_question_longer_than_the_context_says_so_with_numbers(openai_server: str) -> None:
    from agent import ModelError, areflect

    question = "Count the apples. " + "apple " * 6000
    with pytest.raises(ModelError) as failed:
        await areflect(question, model=f"{openai_server}#qwen", mode="baseline")
    message = str(failed.value)
    assert "does not fit the model's context" in message
    assert "4096" in message and "\n" not in message
