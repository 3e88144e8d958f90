"""The sandbox against hostile programs: each one runs, and each one is contained."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import pytest

from agent.sandbox import run_python


def test_an_ordinary_program_runs_and_its_output_comes_back() -> None:
    outcome = run_python("import math, collections\nprint(math.sqrt(16))")
    assert outcome.passed and outcome.stdout.strip() == "4.0"


def test_a_failed_assert_is_a_failure_with_its_message() -> None:
    outcome = run_python("assert 1 + 1 == 3, 'arithmetic'")
    assert outcome.status == "failed" and outcome.detail == "AssertionError: arithmetic"


def test_the_environment_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    outcome = run_python("import os\nprint(sorted(os.environ))")
    assert outcome.passed and "OPENAI_API_KEY" not in outcome.stdout


@pytest.mark.parametrize(
    "program",
    [
        "import os\nos.system('touch {marker}')",
        "import subprocess\nsubprocess.run(['touch', '{marker}'])",
        "import os\nos.execv('/usr/bin/touch', ['touch', '{marker}'])",
        "import os\nos.posix_spawn('/usr/bin/touch', ['touch', '{marker}'], {{}})",
        "import ctypes\nctypes.CDLL(None).system(b'touch {marker}')",
        "import _posixsubprocess",
        "import pty\npty.spawn(['touch', '{marker}'])",
    ],
    ids=["os.system", "subprocess", "exec", "posix_spawn", "ctypes", "_posixsubprocess", "pty"],
)
def test_no_program_is_started(program: str, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    outcome = run_python(program.format(marker=marker))
    assert outcome.status == "failed" and "sandbox:" in outcome.detail
    assert not marker.exists()


def test_no_file_is_written_outside_its_folder(tmp_path: Path) -> None:
    target = tmp_path / "written.txt"
    for program in (
        f"open({str(target)!r}, 'w').write('x')",
        f"import pathlib\npathlib.Path({str(target)!r}).write_text('x')",
        f"import os\nos.open({str(target)!r}, os.O_WRONLY | os.O_CREAT)",
        "open('../escaped.txt', 'w').write('x')",
    ):
        outcome = run_python(program)
        assert outcome.status == "failed" and "sandbox: may not write" in outcome.detail
    assert not target.exists()
    inside = run_python("open('notes.txt', 'w').write('ok')\nprint(open('notes.txt').read())")
    assert inside.passed and inside.stdout.strip() == "ok"  # its own folder is writable


def test_no_file_is_removed_or_read_outside_its_folder(tmp_path: Path) -> None:
    keep = tmp_path / "keep.txt"
    keep.write_text("secret")
    removed = run_python(f"import os\nos.remove({str(keep)!r})")
    read = run_python(f"print(open({str(keep)!r}).read())")
    assert removed.status == read.status == "failed"
    assert keep.read_text() == "secret" and "secret" not in read.stdout


def test_no_network() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        server.settimeout(3)
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    waiter = threading.Thread(target=accept)
    waiter.start()
    outcome = run_python(
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)", timeout=5
    )
    waiter.join()
    server.close()
    assert outcome.status == "failed" and "sandbox: socket" in outcome.detail
    assert accepted == []  # nothing reached the listening server


def test_a_fork_bomb_is_contained() -> None:
    outcome = run_python("import os\nwhile True:\n    os.fork()", timeout=5)
    assert outcome.status == "failed" and "os.fork" in outcome.detail


def test_a_memory_bomb_is_stopped_at_the_limit() -> None:
    outcome = run_python("hog = []\nwhile True:\n    hog.append(' ' * 10**7)", memory_mb=256)
    assert outcome.status in ("failed", "error") and "MemoryError" in outcome.detail + "Memory"


def test_a_time_bomb_is_killed_with_its_children(tmp_path: Path) -> None:
    outcome = run_python("while True:\n    pass", timeout=2)
    assert outcome.status in ("timeout", "error") and outcome.seconds < 10


def test_the_hook_cannot_be_reached_through_the_garbage_collector() -> None:
    program = "import gc\nprint(len(gc.get_objects()))"
    outcome = run_python(program)
    assert outcome.status == "failed" and "gc.get_objects" in outcome.detail
