"""Real servers in front of the real embedded model, started once per test session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.local import DEFAULT_LOCAL, ensure_model

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"server for {url} did not come up in {seconds}s")


def start(
    command: list[str], probe: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(probe, process)
    except Exception:
        process.kill()
        raise
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def model_path() -> str:
    return str(ensure_model(DEFAULT_LOCAL))


@pytest.fixture(scope="session")
def openai_server(model_path: str) -> Iterator[str]:
    """llama-cpp-python's own OpenAI-compatible server; yields its base URL."""
    port = free_port()
    process = start(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            model_path,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--model_alias",
            "qwen",
            "--interrupt_requests",
            "False",
        ],
        f"http://127.0.0.1:{port}/v1/models",
    )
    yield f"http://127.0.0.1:{port}/v1"
    stop(process)


@pytest.fixture(scope="session")
def ollama_server(model_path: str) -> Iterator[str]:
    """The Ollama-API server of tests/ollama_server.py; yields its base URL."""
    port = free_port()
    process = start(
        [
            sys.executable,
            str(ROOT / "tests" / "ollama_server.py"),
            model_path,
            "local",
            str(port),
        ],
        f"http://127.0.0.1:{port}/api/version",
    )
    yield f"http://127.0.0.1:{port}"
    stop(process)
