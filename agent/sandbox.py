"""Run a Python program that a model wrote, fenced in: only ever when the user asks for it.

What the fence does, in layers (each holds even if another is bypassed):

* **A child process** with an empty environment, ``python -I -S`` (no site-packages, no
  user paths), in a fresh temporary folder that is deleted afterwards, in a session of its
  own whose whole process group is killed at the time limit. Its output goes to files capped
  in size, so a program that floods its output cannot flood this process.
* **Kernel limits** (``setrlimit``): address space, CPU seconds, file size, open files and,
  for non-root users, processes.
* **Kernel isolation where the kernel allows it** (as root, or where unprivileged user
  namespaces are enabled): a network namespace with no network at all, and a mount namespace
  in which every file system is read-only except the temporary folder.
* **A Python audit hook** (PEP 578), installed before the program runs and impossible to
  remove: it refuses sockets, new processes (``fork``, ``exec``, ``system``, ``subprocess``,
  ``posix_spawn``), new interpreters, signals to other processes, ``ctypes``, changing the
  working folder, garbage-collector introspection, and any file or folder opened, created,
  removed or renamed outside the temporary folder (reading the standard library excepted).

What it does not do: it is not a container or a VM. A program crafted against the Python
layer, with interpreter internals, may get past it; the kernel layers then still hold where
they could be set up. Run untrusted code at scale in a container or a VM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

Status = Literal["passed", "failed", "timeout", "error"]

# The guard runs first in the child: kernel limits and isolation (while it may still use
# ctypes), then the audit hook, then the program. Its settings come on the command line.
_GUARD = r"""
import sys

def _isolate(workdir, seconds, memory):
    import ctypes, os, resource
    for limit, value in (
        (resource.RLIMIT_CPU, seconds), (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_FSIZE, 8 * 1024 * 1024), (resource.RLIMIT_NOFILE, 64),
        (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, 32),
    ):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass
    libc = ctypes.CDLL(None, use_errno=True)
    newns, newnet, newuser = 0x00020000, 0x40000000, 0x10000000
    flags = newns | newnet | (0 if os.geteuid() == 0 else newuser)
    if libc.unshare(flags) != 0:
        return []
    layers = ["network"]
    bind, remount, rdonly, rec, private = 4096, 32, 1, 16384, 1 << 18
    if libc.mount(b"none", b"/", None, rec | private, None) != 0:
        return layers
    target = workdir.encode()
    if libc.mount(target, target, None, bind | rec, None) != 0:
        return layers
    points = []
    with open("/proc/self/mountinfo", "rb") as info:
        for line in info:
            point = line.split()[4].decode().replace("\\040", " ")
            if point != workdir and not point.startswith(("/proc", "/sys")):
                points.append(point)
    locked = 0
    for point in points:
        if libc.mount(None, point.encode(), None, remount | bind | rdonly, None) != 0:
            locked += 1
    os.chdir(workdir)  # the working folder must be the writable bind mount, not what it covers
    if locked == 0:
        layers.append("read-only files")
    return layers

def _install(workdir, stdlib):
    import os
    deny_events = {
        "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
        "socket.gethostbyname", "socket.sendto", "subprocess.Popen", "os.system", "os.exec",
        "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill", "os.killpg",
        "os.chdir", "os.chroot", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata",
        "ctypes.call_function", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
        "sys.setprofile", "sys.settrace", "sys._current_frames",
        "cpython.PyInterpreterState_New", "cpython.run_interactivehook",
    }
    deny_imports = {
        "ctypes", "_ctypes", "_posixsubprocess", "multiprocessing", "pty",
        "_xxsubinterpreters", "_xxinterpchannels", "_interpreters", "_interpchannels",
        "_interpqueues", "_xxinterpqueues",
    }
    changes = {
        "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link",
        "os.symlink", "os.truncate", "os.utime", "shutil.rmtree", "shutil.move",
        "os.setxattr", "os.removexattr", "os.chflags",
    }
    listing = {"os.listdir", "os.scandir", "os.walk", "os.fwalk", "glob.glob"}
    inside = workdir + os.sep
    readable = (inside, *(p + os.sep for p in stdlib))
    devices = ("/dev/null", "/dev/urandom", "/dev/zero")
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    realpath, join, isdir = os.path.realpath, os.path.join, os.path.isdir

    def full(path):
        if isinstance(path, int):
            return None
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return realpath(join(workdir, str(path)))

    def within(where, folders):
        return (where + os.sep).startswith(folders) or where in devices

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
            if isdir(where) and not (where + os.sep).startswith(inside):
                raise PermissionError(f"sandbox: may not open the folder {where}")  # dir_fd
            if not within(where, (inside,) if writing else readable):
                raise PermissionError(f"sandbox: may not {'write' if writing else 'read'} {where}")
        elif event in changes or event in listing:
            allowed = readable if event in listing else (inside,)  # imports list the stdlib
            for path in args[:2]:
                where = full(path) if isinstance(path, (str, bytes, os.PathLike)) else None
                if where is not None and not within(where, allowed):
                    raise PermissionError(f"sandbox: {event} outside the work folder")

    sys.addaudithook(hook)

_program, _workdir, _seconds, _memory, _hooked, *_stdlib = sys.argv[1:]
_layers = _isolate(_workdir, int(_seconds), int(_memory))
sys.stderr.write("SANDBOX-LAYERS " + ",".join(_layers) + "\n")
if _hooked == "1":
    _install(_workdir, _stdlib)
del _install, _isolate
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
            the CPU or file-size limit).
        detail: The last line of the program's error output, or why it was stopped.
        stdout: What it printed, its last ``output_limit`` characters.
        seconds: Wall time.
        layers: The kernel isolation that could be set up: ``network``, ``read-only files``.
    """

    status: Status
    detail: str
    stdout: str
    seconds: float
    layers: tuple[str, ...] = ()

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
    _hook: bool = True,
) -> Outcome:
    """Run ``source`` as a Python program inside the fence described in the module docstring.

    Args:
        source: The program text.
        timeout: Wall-clock seconds before the process group is killed (CPU seconds are
            limited to the same number).
        memory_mb: Address-space limit of the child.
        output_limit: Characters of stdout and stderr kept.
        _hook: For the tests of the kernel layers alone: ``False`` leaves the audit hook out.
    """
    stdlib = sorted({str(Path(p).resolve()) for p in _stdlib_dirs()})
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="reflect-sandbox-") as tmp:
        root = Path(tmp).resolve()
        workdir = root / "work"
        workdir.mkdir()
        program = workdir / "program.py"
        program.write_text(source, encoding="utf-8")
        guard = root / "guard.py"
        guard.write_text(_GUARD, encoding="utf-8")
        limit = str(max(1, int(timeout) + 1))
        command = [sys.executable, "-I", "-S", "-B", str(guard), str(program), str(workdir)]
        command += [limit, str(memory_mb * 1024 * 1024), "1" if _hook else "0", *stdlib]
        # Output goes to files outside the work folder: the file-size limit caps a flood.
        with (root / "out").open("w+b") as out, (root / "err").open("w+b") as err:
            process = subprocess.Popen(
                command,
                cwd=workdir,
                env={},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            try:
                process.wait(timeout=timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(process)  # anything it left behind in its session
            stdout, stderr = _tail(out, output_limit), _tail(err, output_limit)
    seconds = time.monotonic() - started
    layers, stderr = _layers(stderr)
    if timed_out:
        return Outcome("timeout", f"stopped after {timeout:g}s", stdout, seconds, layers)
    if process.returncode == 0:
        return Outcome("passed", "", stdout, seconds, layers)
    if process.returncode < 0:
        name = signal.Signals(-process.returncode).name
        why = {"SIGXCPU": "the CPU time limit", "SIGXFSZ": "the output size limit"}.get(name, name)
        return Outcome("error", f"killed by {why}", stdout, seconds, layers)
    last = (stderr.strip().splitlines() or [f"exit status {process.returncode}"])[-1]
    return Outcome("failed", last, stdout, seconds, layers)


def _stdlib_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    return [paths["stdlib"], paths["platstdlib"]]


def _layers(stderr: str) -> tuple[tuple[str, ...], str]:
    marker = "SANDBOX-LAYERS "
    if not stderr.startswith(marker):
        return (), stderr
    first, _, rest = stderr.partition("\n")
    return tuple(x for x in first.removeprefix(marker).split(",") if x), rest


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _tail(file: BinaryIO, limit: int) -> str:
    size = file.seek(0, os.SEEK_END)
    file.seek(max(0, size - 4 * limit))
    return file.read().decode("utf-8", "replace")[-limit:]
