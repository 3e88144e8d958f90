"""The embedded model's runtime (llama-cpp-python): a portable build, and a check that it runs.

llama.cpp compiles for the building machine's CPU by default (``-march=native``). A CPU that
advertises instructions its virtual machine refuses (AMX on some Intel VMs) then dies with
``Illegal instruction`` on the first token, and pip's wheel cache hands that build to other
machines. So the project builds the runtime for an explicit baseline (x86-64 with AVX2, FMA,
F16C and BMI2: Intel Haswell, AMD Zen and newer) into a wheel folder named by those flags,
and checks each build on each CPU once, in a child process, before loading a model.

This file uses the standard library only: ``make install`` runs it as a script to build the
runtime before the package's own dependencies are installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

RUNTIME_VERSION = "0.3.36"
_X86_BASELINE = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
)
# Instructions a portable x86-64 build must not contain: AMX tiles, AVX-512 (EVEX-encoded,
# zmm or mask registers), and AVX-VNNI, which Haswell and Zen 1-3 lack.
BEYOND_BASELINE = (
    r"\b(tilezero|tileloadd\w*|tilestored|tilerelease|ldtilecfg|sttilecfg|tdpb\w+|tdpfp16ps)\b"
    r"|%zmm\d|%k[1-7]\b|%[xy]mm(1[6-9]|2\d|3[01])\b|\{%k"
    r"|\b(vpdpbusds?|vpdpwssds?)\b"
)


def cmake_args(machine: str | None = None) -> str:
    """The CMake flags of the portable build for this machine's architecture."""
    arch = (machine or platform.machine()).lower()
    return _X86_BASELINE if arch in ("x86_64", "amd64") else "-DGGML_NATIVE=OFF"


def build_tag(machine: str | None = None) -> str:
    """A name for the portable build: architecture, baseline and a hash of the flags."""
    arch = (machine or platform.machine()).lower()
    flags = cmake_args(arch)
    digest = hashlib.sha256(flags.encode()).hexdigest()[:8]
    baseline = "avx2" if "GGML_AVX2=ON" in flags else "generic"
    return f"{arch}-{baseline}-{digest}"


def cache_root() -> Path:
    """``$REFLECT_CACHE_DIR``, else the user's cache directory for this project."""
    if os.environ.get("REFLECT_CACHE_DIR"):
        return Path(os.environ["REFLECT_CACHE_DIR"])
    try:
        from platformdirs import user_cache_dir
    except ImportError:  # run as a script before the dependencies are installed
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "reflect-agent"
    return Path(user_cache_dir("reflect-agent"))


def wheel_dir() -> Path:
    """The project's own folder for the portable runtime wheel, named by its flags."""
    return cache_root() / "wheels" / f"llama-cpp-python-{RUNTIME_VERSION}-{build_tag()}"


def rebuild_command() -> str:
    """The exact shell command that rebuilds the runtime portably in this environment."""
    python = shlex.quote(sys.executable)
    return (
        f'CMAKE_ARGS="{cmake_args()}" {python} -m pip install --force-reinstall --no-cache-dir '
        f"--no-deps llama-cpp-python=={RUNTIME_VERSION}"
    )


def build_wheel(*, quiet: bool = False) -> Path:
    """Build the portable wheel into ``wheel_dir()`` unless it is there already.

    pip's own wheel cache is bypassed: it keys a built wheel by its source, not by the
    flags or the CPU, and would hand back a native build made elsewhere.
    """
    folder = wheel_dir()
    found = sorted(folder.glob("llama_cpp_python-*.whl"))
    if found:
        return found[-1]
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-cache-dir",
            "--no-deps",
            "--disable-pip-version-check",
            "-w",
            tmp,
            f"llama-cpp-python=={RUNTIME_VERSION}",
        ]
        if quiet:
            command.insert(4, "--quiet")
        env = {**os.environ, "CMAKE_ARGS": cmake_args(), "FORCE_CMAKE": "1"}
        print(f"building llama-cpp-python {RUNTIME_VERSION} for {build_tag()} (once, minutes)")
        started = time.monotonic()
        subprocess.run(command, env=env, check=True)
        built = sorted(Path(tmp).glob("llama_cpp_python-*.whl"))
        if len(built) != 1:
            raise SystemExit(f"pip wheel made {len(built)} wheels in {tmp}, expected one")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / built[0].name
        built[0].replace(target)
        print(f"built in {time.monotonic() - started:.0f}s: {target}")
        return target


def install(*, quiet: bool = False) -> Path:
    """Build the portable wheel if needed and install it into this Python."""
    wheel = build_wheel(quiet=quiet)
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--force-reinstall"]
    command += ["--disable-pip-version-check", *(["--quiet"] if quiet else []), str(wheel)]
    subprocess.run(command, check=True)
    return wheel


def cpu() -> tuple[str, list[str]]:
    """The CPU's model name and its instruction-set flags (from ``/proc/cpuinfo`` on Linux)."""
    name, flags = platform.processor() or platform.machine(), list[str]()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return name, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and name in ("", platform.machine(), platform.processor()):
            name = value.strip()
        elif key.strip() in ("flags", "Features") and not flags:
            flags = value.split()
    return name, flags


def runtime_files() -> list[Path]:
    """The runtime's shared libraries, or ``[]`` when llama-cpp-python is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return []
    package = Path(next(iter(spec.submodule_search_locations)))
    # The wheel holds each library three times (libx.so, libx.so.0, libx.so.0.1.2), as copies.
    return sorted(p for p in (package / "lib").glob("*.so") if p.is_file())


def foreign_instructions(library: Path, limit: int = 5) -> list[str]:
    """Instructions in ``library`` beyond the portable baseline (needs binutils' objdump).

    Returns:
        Up to ``limit`` offending disassembly lines; ``[]`` for a clean library.

    Raises:
        FileNotFoundError: ``objdump`` is not installed.
    """
    import re

    pattern = re.compile(BEYOND_BASELINE)
    command = ["objdump", "-d", "--no-show-raw-insn", str(library)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        found = [line.strip() for line in proc.stdout if pattern.search(line)][:limit]
    return found


def describe() -> dict[str, str]:
    """What ``reflect doctor`` shows: the runtime's version and build, and this CPU.

    The runtime is asked in a child process, so a build that crashes here cannot take the
    caller down.
    """
    name, flags = cpu()
    wanted = ("avx2", "fma", "f16c", "bmi2", "avx512f", "amx_tile")
    info = {
        "cpu": name,
        "cpu features": " ".join(f"{f}:{'yes' if f in flags else 'no'}" for f in wanted),
    }
    probe = "import llama_cpp as l; print(l.__version__, l.llama_print_system_info().decode())"
    try:
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        return {**info, "runtime": "did not answer within 60s"}
    if done.returncode != 0:
        why = (
            f"killed by {signal.Signals(-done.returncode).name}"
            if done.returncode < 0
            else ((done.stderr.strip().splitlines() or ["not installed"])[-1])
        )
        return {**info, "runtime": f"llama-cpp-python: {why}"}
    version, _, system = done.stdout.partition(" ")
    compiled = [p.split("=")[0].strip() for p in system.split("|") if p.strip().endswith("= 1")]
    return {
        **info,
        "runtime": f"llama-cpp-python {version.strip()}",
        "built for": " ".join(c.removeprefix("CPU : ") for c in compiled),
    }


@dataclass
class RuntimeCheck:
    """The outcome of running the runtime once in a child process.

    Attributes:
        ok: The child loaded a model and generated tokens.
        crashed: The child was killed by a signal (SIGILL, SIGSEGV, SIGBUS…).
        detail: One line: what happened.
        key: The runtime build and CPU the check holds for.
        checked_at: When the check ran (seconds since the epoch).
    """

    ok: bool
    crashed: bool
    detail: str
    key: str
    checked_at: float


def check_key() -> str:
    """What a check holds for: the runtime's libraries (name, size, mtime) and the CPU."""
    name, flags = cpu()
    parts = [RUNTIME_VERSION, name, " ".join(sorted(flags))]
    parts += [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in runtime_files()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _checks_file() -> Path:
    return cache_root() / "runtime-checks.json"


def cached_check() -> RuntimeCheck | None:
    """The saved check for this runtime build and CPU, if one ran."""
    try:
        saved = json.loads(_checks_file().read_text())
        return RuntimeCheck(**saved[check_key()])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# The child loads the model and generates a few tokens: llama.cpp picks its CPU kernels (and
# AMX weight buffers) on load and runs them on the first matrix product, so importing the
# library alone would pass a build that dies later.
_CHILD = """
import sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=256, n_threads=1, verbose=False)
out = llm.create_completion("1 + 1 =", max_tokens=4, temperature=0)
print(len(out["choices"][0]["text"]) >= 0)
"""


def run_check(model_path: str, *, timeout: float = 300, python: str | None = None) -> RuntimeCheck:
    """Load ``model_path`` and generate in a child process; save the outcome for this build.

    A crash is saved, so the next use fails at once with the same message; any other
    failure (a timeout, a Python error the parent would raise cleanly too) is not.
    """
    key = check_key()
    command = [python or sys.executable, "-c", _CHILD, model_path]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return RuntimeCheck(False, False, f"no answer within {timeout:.0f}s", key, time.time())
    if done.returncode < 0:
        signame = signal.Signals(-done.returncode).name
        result = RuntimeCheck(False, True, f"killed by {signame}", key, time.time())
    elif done.returncode == 0:
        result = RuntimeCheck(True, False, "loaded a model and generated", key, time.time())
    else:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return RuntimeCheck(False, False, f"exited {done.returncode}: {last}", key, time.time())
    _save(result)
    return result


def _save(result: RuntimeCheck) -> None:
    path = _checks_file()
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {}
    saved[result.key] = asdict(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + f".{os.getpid()}")
    partial.write_text(json.dumps(saved, indent=1))
    partial.replace(path)


_WHY = {
    "SIGILL": "an instruction this CPU refuses: the runtime was built for another CPU",
    "SIGSEGV": "a memory fault while loading",
    "SIGBUS": "a bus error while loading",
}


def crash_message(check: RuntimeCheck) -> str:
    """One line for a runtime that died: what happened and the command that rebuilds it."""
    signame = check.detail.removeprefix("killed by ")
    why = _WHY.get(signame, "a fatal signal")
    name, _ = cpu()
    return (
        f"the local runtime (llama-cpp-python {RUNTIME_VERSION}) crashed on this CPU ({name}) "
        f"with {signame}, {why}; rebuild it portably: {rebuild_command()}"
    )


def main(argv: list[str]) -> int:
    """``python agent/runtime.py install|wheel|where``: used by ``make install``."""
    verb = argv[0] if argv else "install"
    if verb == "install":
        print(f"runtime installed from {install(quiet='--quiet' in argv)}")
    elif verb == "wheel":
        print(build_wheel())
    elif verb == "where":
        print(wheel_dir())
    else:
        print("usage: runtime.py install|wheel|where", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
