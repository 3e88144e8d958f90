"""Run a Python program that a model wrote, isolated by the kernel: only when the user asks.

The isolation comes from the kernel, never from Python alone. Each run gets:

* **Its own namespaces**: user, PID, mount, network, IPC and UTS. Inside, the program is
  ``nobody`` (uid 65534) with no capabilities at all, under ``no_new_privs``, so it cannot
  become root even in its own namespaces. It sees no other process and has no network.
* **A file system of its own**, read-only: the interpreter, its standard library and the
  system's shared libraries, with every ``site-packages``/``dist-packages`` folder covered by
  an empty one. No home, no project, no checkpoint, no ``/proc``, no ``/etc`` but the loader's
  cache. Its one writable place is a private ``tmpfs`` with a size cap.
* **A seccomp filter** that refuses mount, umount, unshare, setns, ptrace, bpf, keyctl, pidfd
  signals, io_uring, kernel modules and new namespaces through ``clone``.
* **Limits** (``setrlimit``): address space, CPU seconds, file size, open files, processes.
  It dies with its parent; a folder a killed run left behind is removed by the next run.
* **A Python audit hook** (PEP 578) as an extra layer, never the only one: no sockets, no new
  processes, no ``ctypes``, no frames of the code that runs it, no file outside its folder.

Two ways to set this up: `bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``,
the sandbox Flatpak uses) when it is installed, else the same namespaces set up here with
``unshare``/``pivot_root``. Where neither works (not Linux, user namespaces disabled, an
architecture without a filter here), :func:`run_python` raises :class:`SandboxUnavailable`
with one line that says what to install. Nothing falls back to a weaker fence.

The program's environment is empty, and what it printed comes back with the values of
anything in this process's environment that looks like a credential replaced by
``[redacted]``. A result is judged by the caller from data the program reports on its own
channel (file descriptor 3), never from its exit status or what it printed.

This module uses the standard library only, so it can run under any Python 3.11+.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import re
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

Status = Literal["passed", "failed", "timeout", "error"]
Backend = Literal["bubblewrap", "namespaces"]

_PREFIX = "reflect-sandbox-"
_NOBODY = 65534

# x86-64 system call numbers the filter refuses (see arch/x86/entry/syscalls/syscall_64.tbl).
_DENIED_X86_64 = {
    "mount": 165, "umount2": 166, "unshare": 272, "setns": 308, "ptrace": 101, "bpf": 321,
    "keyctl": 250, "add_key": 248, "request_key": 249, "pivot_root": 155, "chroot": 161,
    "init_module": 175, "finit_module": 313, "delete_module": 176, "kexec_load": 246,
    "kexec_file_load": 320, "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163,
    "perf_event_open": 298, "userfaultfd": 323, "open_by_handle_at": 304,
    "name_to_handle_at": 303, "pidfd_open": 434, "pidfd_send_signal": 424, "pidfd_getfd": 438,
    "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
    "quotactl": 179, "settimeofday": 164, "clock_settime": 227, "adjtimex": 159, "syslog": 103,
    "iopl": 172, "ioperm": 173, "personality": 135, "vhangup": 153, "fork": 57, "vfork": 58,
    "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452, "chown": 92, "fchown": 93,
    "lchown": 94, "fchownat": 260, "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190,
    "removexattr": 197, "lremovexattr": 198, "fremovexattr": 199, "utime": 132, "utimes": 235,
    "utimensat": 280, "futimesat": 261, "mknod": 133, "mknodat": 259,
}  # fmt: skip
_CLONE_X86_64, _CLONE3_X86_64, _CLONE_THREAD = 56, 435, 0x00010000
_AUDIT_ARCH_X86_64 = 0xC000003E
_NEW_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000
_NEW_NAMESPACES |= 0x40000000 | 0x00000080  # NEWNS CGROUP UTS IPC USER PID NET TIME


class SandboxUnavailable(RuntimeError):
    """No kernel isolation can be set up here; the message says why and what to install."""


@dataclass(frozen=True)
class Isolation:
    """How programs are isolated on this machine.

    Attributes:
        backend: ``bubblewrap`` or ``namespaces`` (set up here), or ``None`` when neither
            works; then ``reason`` says why and what to install.
        layers: The layers every run gets, in words, for ``reflect doctor``.
        reason: Why there is no isolation (empty when there is).
    """

    backend: Backend | None
    layers: tuple[str, ...]
    reason: str = ""


@dataclass(frozen=True)
class Outcome:
    """How a sandboxed program ended.

    Attributes:
        status: ``passed`` (exit 0), ``failed`` (an exception or a non-zero exit),
            ``timeout`` (killed at the time limit) or ``error`` (killed by a signal, such as
            the CPU or file-size limit). Says nothing a caller should trust about a result:
            judge the ``report``.
        detail: The last line of the program's error output, or why it was stopped.
        stdout: What it printed, its last ``output_limit`` characters, credentials redacted.
        seconds: Wall time.
        layers: The isolation it ran under.
        report: The lines it wrote to its report channel (file descriptor 3).
    """

    status: Status
    detail: str
    stdout: str
    seconds: float
    layers: tuple[str, ...] = ()
    report: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """Whether the program ran to the end without an error."""
        return self.status == "passed"


StepResult = tuple[Literal["value", "raised"], str]


@dataclass(frozen=True)
class Trial:
    """What a program's steps reported, for the caller to judge (see :func:`run_steps`).

    Attributes:
        outcome: How the process ended.
        setup_error: The exception the setup code raised (``Type: message``), if any.
        missing_module: A module the setup code imports that the sandbox lacks, if any.
        steps: One entry per step: ``("value", repr)``, ``("raised", "Type: message")``, or
            ``None`` when the program ended before the step reported (a failure).
    """

    outcome: Outcome
    setup_error: str | None
    missing_module: str | None
    steps: tuple[StepResult | None, ...]


# Runs bubblewrap with the parent-death signal already set, or not at all if the caller
# is already gone (the check closes the race between the fork and the prctl).
_LAUNCH = (
    "import ctypes, os, sys\n"
    "ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(137)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)

# The guard runs first inside: limits, then (namespaces backend) the namespaces, the file
# system, dropped privileges and the filter, then the audit hook, then the program.
_GUARD = r"""
import json, os, sys

def _limits(cfg):
    import resource
    for name, value in (("CPU", cfg["seconds"]), ("AS", cfg["memory"]), ("FSIZE", 8 << 20),
                        ("NOFILE", 64), ("CORE", 0), ("NPROC", 16)):
        try:
            resource.setrlimit(getattr(resource, "RLIMIT_" + name), (value, value))
        except (ValueError, OSError):
            pass

def _die(what):
    import ctypes
    err = ctypes.get_errno()
    os.write(2, f"SANDBOX-SETUP {what}: {os.strerror(err)}\n".encode())
    os._exit(125)

def _mirror(pid):
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        os._exit(128 + os.WTERMSIG(status))
    os._exit(os.WEXITSTATUS(status))

def _namespaces(cfg):
    import ctypes, signal
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    uid, gid = os.getuid(), os.getgid()
    PDEATHSIG, NO_NEW_PRIVS, CAPBSET_DROP, SET_SECCOMP = 1, 38, 24, 22
    libc.prctl(PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != cfg["caller"]:  # the caller died before the line above: no orphan
        os._exit(137)
    if libc.unshare(0x10000000 | 0x00020000 | 0x40000000 | 0x08000000 | 0x04000000 | 0x20000000):
        _die("unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{cfg['nobody']} {uid} 1"),
                       ("gid_map", f"{cfg['nobody']} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    pid = os.fork()
    if pid:
        _mirror(pid)
    libc.prctl(PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # pid 1 of the new PID namespace
    BIND, REC, RDONLY, REMOUNT, PRIVATE = 4096, 16384, 1, 32, 1 << 18
    NOSUID, NODEV = 2, 4
    def mount(src, dst, fstype, flags, data=None):
        if libc.mount(src and src.encode(), dst.encode(), fstype and fstype.encode(), flags,
                      data and data.encode()) != 0:
            _die(f"mount {dst}")
    def bind_ro(src, dst, is_file=False):
        if is_file:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            open(dst, "w").close()
        else:
            os.makedirs(dst, exist_ok=True)
        mount(src, dst, None, BIND | REC)
        flag = os.statvfs(src).f_flag  # locked flags must be kept on a remount
        kept = flag & (NOSUID | NODEV | 8 | 1024 | 2048)
        kept |= (1 << 21) if flag & 4096 else (0 if flag & 1024 else 1 << 24)
        mount(None, dst, None, REMOUNT | BIND | RDONLY | kept)
    root = cfg["newroot"]
    mount(None, "/", None, REC | PRIVATE)
    mount("tmpfs", root, "tmpfs", NOSUID | NODEV, "size=1m,mode=0755")
    for src in cfg["binds"]:
        bind_ro(src, root + src)
    for src in cfg["bind_files"]:
        bind_ro(src, root + src, is_file=True)
    for link, target in cfg["links"]:
        os.symlink(target, root + link)
    for folder in cfg["hidden"]:
        mount("tmpfs", root + folder, "tmpfs", NOSUID | NODEV | RDONLY, "size=4k,mode=0555")
    for device in ("null", "zero", "urandom", "random"):
        os.makedirs(root + "/dev", exist_ok=True)
        open(root + "/dev/" + device, "w").close()
        mount("/dev/" + device, root + "/dev/" + device, None, BIND)
        # Read-only: with the caller root, the sandbox's uid maps to root, so the host's own
        # device nodes would otherwise be its to chmod. Reading and writing them still work.
        mount(None, root + "/dev/" + device, None, REMOUNT | BIND | RDONLY | NOSUID)
    os.makedirs(root + "/tmp")
    mount("tmpfs", root + "/tmp", "tmpfs", NOSUID | NODEV, f"size={cfg['disk']},mode=01777")
    bind_ro(cfg["files"], root + "/sandbox")
    os.chdir(root)
    os.mkdir(".old")
    if libc.syscall(155, b".", b".old") != 0:  # pivot_root
        _die("pivot_root")
    if libc.umount2(b"/.old", 2) != 0:  # MNT_DETACH
        _die("umount")
    os.rmdir("/.old")
    mount(None, "/", None, REMOUNT | RDONLY | NOSUID | NODEV)
    os.chdir("/tmp")
    for cap in range(64):
        if libc.prctl(CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    if libc.capset(header, (ctypes.c_uint32 * 6)()) != 0:
        _die("capset")
    if libc.prctl(NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        _die("no_new_privs")
    pid = os.fork()  # the program runs as pid 2, like bubblewrap's, not as the namespace's init
    if pid:
        _mirror(pid)
    program = bytes.fromhex(cfg["filter"])  # after the fork: the filter refuses new processes
    buffer = ctypes.create_string_buffer(program)
    fprog = struct_fprog(len(program) // 8, ctypes.addressof(buffer))
    if libc.prctl(SET_SECCOMP, 2, ctypes.byref(fprog), 0, 0) != 0:
        _die("seccomp")
    for name in ("ctypes", "_ctypes", "ctypes._endian"):
        sys.modules.pop(name, None)

def struct_fprog(length, address):
    import ctypes
    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    return Prog(length, address)

def _hook(cfg):
    deny_events = {
        "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
        "socket.gethostbyname", "socket.sendto", "subprocess.Popen", "os.system", "os.exec",
        "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill", "os.killpg",
        "os.chdir", "os.chroot", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata",
        "ctypes.call_function", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
        "sys.setprofile", "sys.settrace", "sys._current_frames", "sys._current_exceptions",
        "cpython.PyInterpreterState_New", "cpython.run_interactivehook",
    }
    deny_imports = {
        "ctypes", "_ctypes", "_posixsubprocess", "multiprocessing", "pty", "_cffi_backend",
        "cffi", "_xxsubinterpreters", "_xxinterpchannels", "_interpreters", "_interpchannels",
        "_interpqueues", "_xxinterpqueues",
    }
    frames = {"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"}
    changes = {
        "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link",
        "os.symlink", "os.truncate", "os.utime", "shutil.rmtree", "shutil.move",
        "os.setxattr", "os.removexattr", "os.chflags",
    }
    listing = {"os.listdir", "os.scandir", "os.walk", "os.fwalk", "glob.glob"}
    workdir = os.getcwd()
    inside = workdir + os.sep
    readable = (inside, *(p + os.sep for p in cfg["stdlib"]))
    devices = ("/dev/null", "/dev/urandom", "/dev/zero")
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    realpath, join, isdir = os.path.realpath, os.path.join, os.path.isdir
    # Bound now: the program may replace anything in builtins or os before the hook runs.
    is_a, text, fsdecode, sep, any_of = isinstance, str, os.fsdecode, os.sep, any
    PathLike = os.PathLike

    def full(path):
        if is_a(path, int):
            return None
        if is_a(path, bytes):
            path = fsdecode(path)
        return realpath(join(workdir, text.__str__(text(path))))

    def within(where, folders):
        return text.startswith(where + sep, folders) or where in devices

    def hook(event, args):
        if event in deny_events:
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "sys._getframe":
            raise ValueError("sandbox: frames are not available")  # what callers expect
        if event == "object.__getattr__" and args[1] in frames:
            raise AttributeError(f"sandbox: {args[1]} is not available")
        if event == "import" and text.split(text.__str__(args[0]), ".")[0] in deny_imports:
            raise PermissionError(f"sandbox: import {args[0]} is not allowed")
        if event == "open":
            path, mode, flags = args
            where = full(path)
            if where is None:
                return
            writing = any_of(c in text(mode or "") for c in "wax+") or bool(flags & write_flags)
            if isdir(where) and not text.startswith(where + sep, inside):
                raise PermissionError(f"sandbox: may not open the folder {where}")  # dir_fd
            if not within(where, (inside,) if writing else readable):
                raise PermissionError(f"sandbox: may not {'write' if writing else 'read'} {where}")
        elif event in changes or event in listing:
            allowed = readable if event in listing else (inside,)  # imports list the stdlib
            for path in args[:2]:
                where = full(path) if is_a(path, (str, bytes, PathLike)) else None
                if where is not None and not within(where, allowed):
                    raise PermissionError(f"sandbox: {event} outside the work folder")

    sys.addaudithook(hook)

_cfg = json.loads(sys.argv[1])
if _cfg["report_fd"] != 3:
    os.dup2(_cfg["report_fd"], 3)
    os.close(_cfg["report_fd"])
os.closerange(4, 1024)
if _cfg["backend"] == "namespaces":
    _namespaces(_cfg)
_limits(_cfg)
with open("/sandbox/program.py", encoding="utf-8") as _file:
    _source = _file.read()
os.write(2, b"SANDBOX-READY\n")
if _cfg["hook"]:
    _hook(_cfg)
del _hook, _namespaces, _limits, _mirror, _die, struct_fprog, _file, _cfg
_code = compile(_source, "program.py", "exec")
sys.argv = ["program.py"]
exec(_code, {"__name__": "__main__", "__builtins__": __builtins__})
"""

# The runner executes setup code, then each step, and reports each step's value (its repr)
# or its exception on the report channel, each line behind a nonce it reads from standard
# input before any of the caller's code runs. It judges nothing: the caller compares.
_RUNNER = r"""
def _run(setup, steps):
    import builtins, os, sys
    # Bound before the answer's code runs, which may replace anything in a module.
    write, encode, hexed, join, text, kind_of = os.write, str.encode, bytes.hex, str.join, str, type
    compile_, exec_, eval_, repr_, numbered = compile, exec, eval, repr, enumerate
    Base, Missing = BaseException, ModuleNotFoundError
    nonce = sys.stdin.readline().strip()
    sys.stdin.close()
    channel = os.dup(3)
    os.close(3)

    def say(*fields):
        parts = [nonce]
        for field in fields:
            parts.append(hexed(encode(text.__str__(field), "utf-8", "backslashreplace")))
        write(channel, encode(join(" ", parts) + "\n", "ascii"))

    def why(error):
        try:
            said = text.__str__(text(error))[:300]
            name = text.__str__(kind_of(error).__name__)
        except Base:
            return "an exception that cannot be shown"
        return name + (": " + said if said else "")

    space = {"__name__": "answer", "__builtins__": dict(builtins.__dict__)}
    try:
        exec_(compile_(setup, "answer.py", "exec"), space)
    except Missing as error:
        say("missing", why(error))
        return
    except Base as error:
        say("setup", why(error))
        return
    say("setup")
    for index, (how, source) in numbered(steps):
        try:
            if how == "eval":
                shown = text.__str__(repr_(eval_(compile_(source, "step", "eval"), space)))[:2000]
            else:
                exec_(compile_(source, "step", "exec"), space)
                shown = "None"
        except Base as error:
            say("raised", text(index), why(error))
        else:
            say("value", text(index), shown)
"""


@functools.cache
def _filter_program() -> bytes:
    """The seccomp filter, as classic BPF: refuse the dangerous calls with EPERM."""
    ld, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06
    allow, kill = 0x7FFF0000, 0x80000000
    eperm, enosys = 0x00050000 | 1, 0x00050000 | 38

    def op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
        return struct.pack("HBBI", code, jt, jf, k)

    denied = sorted(set(_DENIED_X86_64.values()))
    body = [op(ld, 4), op(jeq, _AUDIT_ARCH_X86_64, 1, 0), op(ret, kill), op(ld, 0)]
    body += [op(0x35, 0x40000000, 0, 1), op(ret, eperm)]  # jge: the x32 ABI
    body += [op(jeq, _CLONE3_X86_64, 0, 1), op(ret, enosys)]  # glibc then falls back to clone
    for number in denied:
        body += [op(jeq, number, 0, 1), op(ret, eperm)]
    # clone: threads only (CLONE_THREAD), never a new process or namespace. With no new
    # process there is nothing for a process limit to count, whoever the caller is.
    body += [op(jeq, _CLONE_X86_64, 0, 5), op(ld, 16), op(jset, _NEW_NAMESPACES, 2, 0)]
    body += [op(jset, _CLONE_THREAD, 0, 1), op(ret, allow), op(ret, eperm)]
    body += [op(ret, allow)]
    return b"".join(body)


@functools.cache
def _interpreter() -> str:
    base = getattr(sys, "_base_executable", "") or sys.executable
    return os.path.realpath(base if os.path.exists(base) else sys.executable)


@functools.cache
def _stdlib_dirs() -> list[str]:
    """The base interpreter's standard library (a virtual environment's own folder is not)."""
    paths = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_exec_prefix})
    found = {os.path.dirname(os.__file__), paths["stdlib"], paths["platstdlib"]}
    return sorted({os.path.realpath(p) for p in found})


@functools.cache
def _view() -> tuple[list[str], list[str], list[tuple[str, str]], list[str]]:
    """What the program sees: folders and files bound read-only, links, folders covered."""
    binds = ["/usr"]
    links: list[tuple[str, str]] = []
    for top in ("/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        if os.path.islink(top):
            links.append((top, os.readlink(top)))
        elif os.path.isdir(top):
            binds.append(top)
    for prefix in {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix)}:
        prefix = os.path.dirname(os.path.dirname(_interpreter())) if prefix == "/" else prefix
        if not any(prefix == b or prefix.startswith(b + "/") for b in binds):
            binds.append(prefix)
    files = [f for f in ("/etc/ld.so.cache",) if os.path.isfile(f)]
    hidden: list[str] = []
    for top in binds:
        for pattern in ("lib/python3*/site-packages", "lib/python3*/dist-packages",
                        "lib/python3/dist-packages", "local/lib/python3*/site-packages",
                        "local/lib/python3*/dist-packages"):  # fmt: skip
            hidden += sorted(str(p) for p in Path(top).glob(pattern) if p.is_dir())
    return binds, files, links, sorted(set(hidden))


def _bwrap_command(cfg: dict[str, object], files: Path, seccomp_fd: int) -> list[str]:
    binds, bind_files, links, hidden = _view()
    command = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup-try", "--uid", str(_NOBODY), "--gid", str(_NOBODY),
        "--disable-userns", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--clearenv", "--hostname", "sandbox",
    ]  # fmt: skip
    for path in binds + bind_files:
        command += ["--ro-bind", path, path]
    for link, target in links:
        command += ["--symlink", target, link]
    for folder in hidden:
        command += ["--perms", "0555", "--size", "4096", "--tmpfs", folder, "--remount-ro", folder]
    # Not --dev: its /dev is a writable tmpfs without a size cap. Four nodes on a read-only
    # /dev; they are the host's, and the filter refuses chmod and chown, which a sandbox
    # mapped to a root caller could otherwise apply to them.
    command += ["--perms", "0755", "--size", "65536", "--tmpfs", "/dev"]
    for device in ("null", "zero", "urandom", "random"):
        command += ["--dev-bind", f"/dev/{device}", f"/dev/{device}"]  # nodev if remounted
    command += ["--remount-ro", "/dev"]
    command += ["--size", str(cfg["disk"]), "--perms", "01777", "--tmpfs", "/tmp"]
    command += ["--ro-bind", str(files), "/sandbox", "--chdir", "/tmp", "--remount-ro", "/"]
    command += ["--seccomp", str(seccomp_fd)]
    return command


def _namespaces_config(files: Path) -> dict[str, object]:
    """What the guard needs to set up the namespaces itself (no command runs before it)."""
    binds, bind_files, links, hidden = _view()
    newroot = files.parent / "root"
    newroot.mkdir()
    return {
        "newroot": str(newroot), "binds": binds, "bind_files": bind_files, "links": links,
        "hidden": hidden, "files": str(files), "nobody": _NOBODY,
        "filter": _filter_program().hex(),
    }  # fmt: skip


def run_python(
    source: str,
    *,
    stdin: str = "",
    timeout: float = 10.0,
    memory_mb: int = 512,
    disk_mb: int = 64,
    output_limit: int = 10_000,
    backend: Backend | None = None,
    _hook: bool = True,
) -> Outcome:
    """Run ``source`` as a Python program inside the isolation the module docstring describes.

    Args:
        source: The program text.
        stdin: What the program reads on its standard input.
        timeout: Wall-clock seconds before the sandbox is killed (CPU seconds are limited to
            the same number).
        memory_mb: Address-space limit.
        disk_mb: Size of its one writable folder (its working folder, ``/tmp``).
        output_limit: Characters of stdout and stderr kept.
        backend: Force ``bubblewrap`` or ``namespaces``; the default takes the best that works.
        _hook: For the tests of the kernel layers alone: ``False`` leaves the audit hook out.

    Raises:
        SandboxUnavailable: No kernel isolation is possible here; the message says why.
    """
    chosen = backend or isolation().backend
    if chosen is None:
        raise SandboxUnavailable(isolation().reason)
    layers = _LAYERS[chosen]
    _sweep()
    started = time.monotonic()
    interpreter = _interpreter()
    with tempfile.TemporaryDirectory(prefix=f"{_PREFIX}{os.getpid()}-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)  # the namespaces backend maps us to nobody inside
        files = root / "files"
        files.mkdir(mode=0o755)
        (files / "program.py").write_text(source, encoding="utf-8")
        (files / "guard.py").write_text(_GUARD, encoding="utf-8")
        for name in ("program.py", "guard.py"):
            os.chmod(files / name, 0o644)
        cfg: dict[str, object] = {
            "backend": chosen, "hook": _hook, "seconds": max(1, int(timeout) + 1),
            "memory": memory_mb << 20, "disk": disk_mb << 20, "stdlib": _stdlib_dirs(),
            "run": root.name,  # names the run in the process list, for the leftover check
            "caller": os.getpid(),
        }  # fmt: skip
        with contextlib.ExitStack() as stack:
            out, err, report = (stack.enter_context((root / n).open("w+b")) for n in "oer")
            cfg["report_fd"] = report.fileno()
            passed = [report.fileno()]
            if chosen == "bubblewrap":
                # bubblewrap reads the filter from a descriptor; the fallback gets it in cfg.
                seccomp = stack.enter_context(tempfile.TemporaryFile(dir=root))
                seccomp.write(_filter_program())
                seccomp.seek(0)
                passed.append(seccomp.fileno())
                # bubblewrap's --die-with-parent is set only once bwrap runs: a caller killed
                # before that would leave it behind, so a launcher sets it first and checks.
                prefix = [interpreter, "-I", "-S", "-c", _LAUNCH, str(os.getpid())]
                prefix += _bwrap_command(cfg, files, seccomp.fileno())
                guard = "/sandbox/guard.py"
            else:
                cfg.update(_namespaces_config(files))
                prefix = []
                guard = str(files / "guard.py")
            command = [*prefix, interpreter, "-I", "-S", "-B", guard, json.dumps(cfg)]
            process = subprocess.Popen(
                command,
                env={},
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                pass_fds=tuple(passed),
                start_new_session=True,
                cwd=root,
            )
            timed_out = False
            try:
                process.communicate(stdin.encode(), timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            except BrokenPipeError:
                process.wait(timeout=timeout)
            finally:
                _kill_group(process)
            stdout, stderr = _tail(out, output_limit), _tail(err, output_limit)
            lines = tuple(_tail(report, 4 * output_limit).splitlines())
    seconds = time.monotonic() - started
    return _outcome(process.returncode, timed_out, timeout, stdout, stderr, seconds, layers, lines)


def _outcome(
    code: int | None,
    timed_out: bool,
    timeout: float,
    stdout: str,
    stderr: str,
    seconds: float,
    layers: tuple[str, ...],
    report: tuple[str, ...],
) -> Outcome:
    setup, ready, stderr = stderr.partition("SANDBOX-READY\n")
    if not ready:  # the isolation itself failed: say so, never run the program unfenced
        stderr = setup
        lines = setup.strip().splitlines()
        why = next((ln for ln in lines if ln.startswith(("SANDBOX-SETUP", "bwrap"))), "")
        if not timed_out:
            why = why or (lines[-1] if lines else f"exit status {code}")
            raise SandboxUnavailable(f"the sandbox could not be set up: {why.strip()}")
    stdout, stderr = redact_secrets(stdout), redact_secrets(stderr)
    report = tuple(redact_secrets(line) for line in report)
    if timed_out:
        return Outcome("timeout", f"stopped after {timeout:g}s", stdout, seconds, layers, report)
    if code == 0:
        return Outcome("passed", "", stdout, seconds, layers, report)
    signum = -code if code is not None and code < 0 else (code - 128 if code and code > 128 else 0)
    if signum and signum in signal.Signals._value2member_map_:
        name = signal.Signals(signum).name
        why = {"SIGXCPU": "the CPU time limit", "SIGXFSZ": "the output size limit"}.get(name, name)
        return Outcome("error", f"killed by {why}", stdout, seconds, layers, report)
    last = (stderr.strip().splitlines() or [f"exit status {code}"])[-1]
    return Outcome("failed", last, stdout, seconds, layers, report)


def run_steps(
    setup: str,
    steps: list[tuple[Literal["eval", "exec"], str]],
    *,
    timeout: float = 10.0,
    memory_mb: int = 512,
) -> Trial:
    """Run ``setup`` in the sandbox, then each step, and collect what each step reported.

    A step is ``("eval", expression)``, reported as the ``repr`` of its value, or
    ``("exec", statements)``, reported as ``"None"`` when they ran. Each report travels on the
    program's own channel behind a random nonce that the program's code never sees, so
    nothing it prints counts; an early exit, ``SystemExit`` or ``os._exit`` leaves the steps
    after it unreported, and the caller counts those as failed.

    Raises:
        SandboxUnavailable: No kernel isolation is possible here.
    """
    nonce = secrets.token_hex(16)
    program = f"{_RUNNER}\n_run({setup!r}, {steps!r})\n"
    outcome = run_python(program, stdin=nonce + "\n", timeout=timeout, memory_mb=memory_mb)
    records: list[list[str]] = []
    for line in outcome.report:
        tag, *fields = line.split(" ")
        if tag == nonce:
            with contextlib.suppress(ValueError):
                records.append(
                    [redact_secrets(bytes.fromhex(f).decode("utf-8", "replace")) for f in fields]
                )
    results: list[StepResult | None] = [None] * len(steps)
    setup_error = missing = None
    ran_setup = False
    for what, *rest in (r for r in records if r):
        if what == "missing" and rest:
            missing = rest[0]
        elif what == "setup":
            ran_setup = True
            setup_error = rest[0] if rest else None
        elif what in ("value", "raised") and len(rest) == 2 and rest[0].isdigit():
            index = int(rest[0])
            if index < len(steps):
                results[index] = ("value", rest[1]) if what == "value" else ("raised", rest[1])
    if not ran_setup and missing is None:
        setup_error = outcome.detail or "the program ended before its code ran"
    return Trial(outcome, setup_error, missing, tuple(results))


_HOW: dict[Backend, str] = {"bubblewrap": "bubblewrap", "namespaces": "namespaces set up here"}
_LAYERS: dict[Backend, tuple[str, ...]] = {
    backend: (
        f"{how}: user, PID, mount, network, IPC namespaces",
        "uid 65534, no capabilities, no_new_privs",
        "read-only interpreter and standard library, no site-packages, no /proc",
        "private tmpfs with a size cap",
        "seccomp filter (mount, unshare, setns, ptrace, bpf, keyctl, pidfd, io_uring, ...)",
        "dies with its parent; limits on memory, CPU, files, processes",
        "Python audit hook (an extra layer)",
    )
    for backend, how in _HOW.items()
}


@functools.cache
def isolation() -> Isolation:
    """The isolation this machine gives: tried once per process with a tiny program."""
    if sys.platform != "linux":
        return Isolation(None, (), f"--run-code needs Linux namespaces; this is {sys.platform}")
    if platform.machine() not in ("x86_64", "AMD64"):
        return Isolation(
            None, (), f"--run-code has no seccomp filter for {platform.machine()} yet; x86-64 only"
        )
    failures = []
    for backend in _HOW:
        if backend == "bubblewrap" and not shutil.which("bwrap"):
            failures.append("bubblewrap is not installed")
            continue
        try:
            outcome = run_python("print(6 * 7)", backend=backend, timeout=20)
        except (SandboxUnavailable, OSError) as exc:
            failures.append(f"{backend}: {exc}")
            continue
        if outcome.passed and outcome.stdout.strip() == "42":
            return Isolation(backend, _LAYERS[backend])
        failures.append(f"{backend}: {outcome.detail or outcome.status}")
    why = "; ".join(failures)
    return Isolation(
        None,
        (),
        f"no kernel isolation here ({why}): install bubblewrap (apt install bubblewrap) "
        "and allow user namespaces (sysctl kernel.unprivileged_userns_clone=1)",
    )


_CREDENTIAL_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|DSN|DATABASE_URL|_URI$|CONN",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"(\b[a-z][\w+.-]*://[^\s:/@]*:)([^\s@/]+)(@)", re.IGNORECASE)


def redact_secrets(text: str, environ: dict[str, str] | None = None) -> str:
    """``text`` with every credential-looking value of the environment replaced.

    The values of variables named like credentials (``*KEY*``, ``*TOKEN*``, ``*SECRET*``,
    ``*PASSWORD*``, connection strings) become ``[redacted]``, and so does the password of
    any ``scheme://user:password@host`` URL.

    Example:
        >>> redact_secrets("key sk-123456 leaked", {"OPENAI_API_KEY": "sk-123456"})
        'key [redacted] leaked'
    """
    env = os.environ if environ is None else environ
    values = sorted(
        {v for k, v in env.items() if _CREDENTIAL_NAME.search(k) and len(v) >= 6},
        key=len,
        reverse=True,
    )
    for value in values:
        text = text.replace(value, "[redacted]")
    return _URL_PASSWORD.sub(r"\1[redacted]\3", text)


def _sweep() -> None:
    """Remove folders that runs of processes that no longer exist left behind."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
        owner = folder.name.removeprefix(_PREFIX).split("-")[0]
        if owner.isdigit() and int(owner) != os.getpid() and not _alive(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _tail(file: BinaryIO, limit: int) -> str:
    size = file.seek(0, os.SEEK_END)
    file.seek(max(0, size - 4 * limit))
    return file.read().decode("utf-8", "replace")[-limit:]
