"""Run a Python program that a model wrote, fenced in: only ever when the user asks for it.

What the fence does, in layers (each holds even if another is bypassed):

* **A child process** with an empty environment, ``python -I -S`` (no site-packages, no
  user paths), in a fresh temporary directory that is deleted afterwards.
* **Kernel limits** (``setrlimit``): address space (memory), CPU seconds, file size, open
  files and, for non-root users, processes. A wall-clock timeout kills the whole process
  group.
* **Where the kernel lets us:** a network namespace of its own (no network at all) and, when
  started as root, the unprivileged user ``nobody``.
* **A Python audit hook** (PEP 578), installed before the program runs and impossible to
  remove: it refuses sockets, new processes (``fork``, ``exec``, ``system``, ``subprocess``,
  ``posix_spawn``), signals to other processes, ``ctypes``, and any file opened for writing,
  created, removed or renamed outside the temporary directory, or read outside it and the
  standard library.

What it does not do: it is not a container. A program crafted against this fence, with
native code or interpreter internals, may get past the Python layer; the kernel layers then
still hold. Run untrusted code at scale in a container or VM.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Status = Literal["passed", "failed", "timeout", "error"]

# The guard runs first in the child. It receives the allowed folders on its command line and
# keeps them in a closure; the hook cannot be removed once added.
_GUARD = r"""
import sys

def _install(workdir, stdlib):
    import os
    deny_events = {
        "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
        "socket.gethostbyname", "socket.sendto", "subprocess.Popen", "os.system", "os.exec",
        "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill", "os.killpg",
        "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "ctypes.call_function",
        "gc.get_objects", "gc.get_referrers", "gc.get_referents",
        "sys.setprofile", "sys.settrace", "sys._current_frames",
    }
    deny_imports = {"ctypes", "_ctypes", "_posixsubprocess", "multiprocessing", "pty"}
    changes = {
        "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link",
        "os.symlink", "os.truncate", "os.utime", "shutil.rmtree", "shutil.move",
        "os.chdir",
    }
    inside = (workdir + os.sep,)
    readable = inside + tuple(p + os.sep for p in stdlib) + ("/dev/null", "/dev/urandom")
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def full(path):
        if isinstance(path, int):
            return None
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return os.path.realpath(os.path.join(workdir, str(path)))

    def hook(event, args):
        if event in deny_events:
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "import" and args[0].split(".")[0] in deny_imports:
            raise PermissionError(f"sandbox: import {args[0]} is not allowed")
        if event == "open":
            path, mode, flags = args
            where = full(path)
            if where is None:
                return
            writing = any(c in str(mode or "") for c in "wax+") or bool(flags & write_flags)
            allowed = inside if writing else readable
            if not (where + os.sep).startswith(allowed) and where not in readable:
                verb = "write" if writing else "read"
                raise PermissionError(f"sandbox: may not {verb} {where}")
        elif event in changes:
            for path in args[:2]:
                where = full(path) if isinstance(path, (str, bytes, os.PathLike)) else None
                if where is not None and not (where + os.sep).startswith(inside):
                    raise PermissionError(f"sandbox: {event} outside the work folder")

    sys.addaudithook(hook)

_program, _workdir, *_stdlib = sys.argv[1:]
_install(_workdir, _stdlib)
del _install
with open(_program, encoding="utf-8") as _file:
    _code = compile(_file.read(), "program.py", "exec")
del _file
sys.argv = ["program.py"]
exec(_code, {"__name__": "__main__", "__builtins__": __builtins__})
"""


@dataclass(frozen=True)
class Outcome:
    """How a sandboxed program ended.

    Attributes:
        status: ``passed`` (exit 0), ``failed`` (an exception or a non-zero exit),
            ``timeout`` (killed at the time limit) or ``error`` (killed by a signal, such as
            the CPU limit).
        detail: The last line of the program's error output, or why it was stopped.
        stdout: What it printed, cut to ``output_limit`` characters.
        seconds: Wall time.
    """

    status: Status
    detail: str
    stdout: str
    seconds: float

    @property
    def passed(self) -> bool:
        """Whether the program ran to the end without an error."""
        return self.status == "passed"


def run_python(
    source: str,
    *,
    timeout: float = 10.0,
    memory_mb: int = 512,
    output_limit: int = 10_000,
) -> Outcome:
    """Run ``source`` as a Python program inside the fence described in the module docstring.

    Args:
        source: The program text.
        timeout: Wall-clock seconds before the process group is killed (CPU seconds are
            limited to the same number).
        memory_mb: Address-space limit of the child.
        output_limit: Characters of stdout and stderr kept.
    """
    stdlib = sorted({str(Path(p).resolve()) for p in _stdlib_dirs()})
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="reflect-sandbox-") as tmp:
        workdir = str(Path(tmp).resolve())
        program = Path(workdir, "program.py")
        program.write_text(source, encoding="utf-8")
        guard = Path(workdir, ".guard.py")
        guard.write_text(_GUARD, encoding="utf-8")
        as_nobody = os.geteuid() == 0 and _others_can_run(sys.executable, *stdlib)
        if as_nobody:
            os.chmod(workdir, 0o777)  # the child runs as nobody and writes here
        command = [sys.executable, "-I", "-S", "-B", str(guard), str(program), workdir, *stdlib]
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env={},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=lambda: _limit(timeout, memory_mb, as_nobody=as_nobody),
        )
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            out, err = process.communicate()
            return Outcome(
                "timeout",
                f"stopped after {timeout:g}s",
                _text(out, output_limit),
                time.monotonic() - started,
            )
        finally:
            _kill_group(process)  # anything it left behind in its group
    seconds = time.monotonic() - started
    stdout, stderr = _text(out, output_limit), _text(err, output_limit)
    if process.returncode == 0:
        return Outcome("passed", "", stdout, seconds)
    if process.returncode < 0:
        name = signal.Signals(-process.returncode).name
        reason = "the CPU time limit" if name == "SIGXCPU" else name
        return Outcome("error", f"killed by {reason}", stdout, seconds)
    last = (stderr.strip().splitlines() or [f"exit status {process.returncode}"])[-1]
    return Outcome("failed", last, stdout, seconds)


def _stdlib_dirs() -> list[str]:
    import sysconfig

    paths = sysconfig.get_paths()
    return [paths["stdlib"], paths["platstdlib"]]


def _others_can_run(executable: str, *folders: str) -> bool:
    """Whether a user other than the owner can reach the interpreter and the stdlib."""
    for path in (Path(executable).resolve(), *(Path(f) for f in folders)):
        for part in (path, *path.parents):
            needed = stat.S_IXOTH if part != path or path.is_dir() else stat.S_IROTH
            if not part.stat().st_mode & needed:
                return False
    return True


def _limit(seconds: float, memory_mb: int, *, as_nobody: bool) -> None:
    """Runs in the child between fork and exec: limits first, then drop what we can."""
    cpu = max(1, int(seconds) + 1)
    memory = memory_mb * 1024 * 1024
    for limit, value in (
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_FSIZE, 16 * 1024 * 1024),
        (resource.RLIMIT_NOFILE, 64),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NPROC, 32),
    ):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(limit, (value, value))
    _no_network()
    if as_nobody:
        with contextlib.suppress(OSError):
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)


def _no_network() -> None:
    # unshare(CLONE_NEWNET) leaves the child with only a loopback that is down. It needs
    # privileges (root, or user namespaces); without them the audit hook still refuses sockets.
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).unshare(0x40000000)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _text(data: bytes | None, limit: int) -> str:
    return (data or b"").decode("utf-8", "replace")[-limit:]
