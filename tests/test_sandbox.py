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


def test_a_program_that_does_not_compile_is_a_failure_not_a_broken_sandbox() -> None:
    outcome = run_python("def broken(:\n    pass")
    assert outcome.status == "failed" and outcome.detail.startswith("SyntaxError")


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
        # The hook refuses it, or the kernel: the sandbox's own /tmp is not this machine's.
        assert outcome.status == "failed"
        assert "sandbox: may not write" in outcome.detail or "No such file" in outcome.detail
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
    assert outcome.status == "failed" and outcome.detail == "MemoryError"


def test_a_time_bomb_is_killed_and_can_start_no_child(tmp_path: Path) -> None:
    # Without the Python layer: the kernel's filter refuses a new process, and the loop is
    # killed at the time limit.
    program = (
        "import os\n"
        "try:\n"
        "    os.fork()\n"
        "except OSError as error:\n"
        "    print('no child', error.errno, flush=True)\n"
        "while True:\n    pass"
    )
    outcome = run_python(program, timeout=1, _hook=False)
    assert outcome.status in ("timeout", "error") and outcome.seconds < 5
    assert outcome.stdout.strip() == "no child 1"


def test_threads_still_work_without_the_python_layer() -> None:
    program = (
        "import threading\nseen = []\n"
        "workers = [threading.Thread(target=seen.append, args=(n,)) for n in range(4)]\n"
        "for w in workers: w.start()\n"
        "for w in workers: w.join()\n"
        "print(sorted(seen))"
    )
    outcome = run_python(program, _hook=False)
    assert outcome.passed and outcome.stdout.strip() == "[0, 1, 2, 3]"


def test_an_output_flood_is_cut_off_and_does_not_reach_the_caller() -> None:
    outcome = run_python("import sys\nwhile True:\n    sys.stdout.write('x' * 10**6)", timeout=5)
    assert outcome.status in ("failed", "error") and len(outcome.stdout) <= 10_000
    assert "File too large" in outcome.detail or "output size" in outcome.detail


@pytest.mark.parametrize(
    ("program", "refused"),
    [
        ("import _xxsubinterpreters as i\ni.run_string(i.create(), 'pass')", "_xxsubinterpreters"),
        ("import os\nos.chdir('/tmp')", "os.chdir"),
        ("import os\nos.open('/usr', os.O_RDONLY)", "may not open the folder"),
        ("import os\nprint(os.listdir('/root'))", "os.listdir"),
        ("import gc\nprint(len(gc.get_objects()))", "gc.get_objects"),
    ],
    ids=["sub-interpreter", "chdir", "folder fd", "listing", "gc"],
)
def test_ways_around_the_hook_are_refused(program: str, refused: str) -> None:
    outcome = run_python(program)
    assert outcome.status == "failed" and refused in outcome.detail


def kernel_layers() -> tuple[str, ...]:
    return run_python("pass").layers


@pytest.mark.skipif(
    "read-only files" not in kernel_layers(), reason="no mount namespace on this kernel"
)
def test_without_the_python_layer_the_kernel_still_keeps_files_read_only(tmp_path: Path) -> None:
    target = tmp_path / "written.txt"
    outcome = run_python(
        f"import os\nos.mkfifo({str(tmp_path / 'fifo')!r})\nopen({str(target)!r}, 'w')",
        _hook=False,
    )
    assert outcome.status == "failed" and "Read-only file system" in outcome.detail
    assert not target.exists() and not (tmp_path / "fifo").exists()
    inside = run_python("open('ok', 'w').write('1')\nprint(open('ok').read())", _hook=False)
    assert inside.passed and inside.stdout.strip() == "1"


@pytest.mark.skipif("network" not in kernel_layers(), reason="no network namespace here")
def test_without_the_python_layer_the_kernel_still_has_no_network() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    outcome = run_python(
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)",
        _hook=False,
    )
    server.close()
    assert outcome.status == "failed"
    assert "Connection refused" in outcome.detail or "unreachable" in outcome.detail
