"""The portable runtime: what the build may contain, and what a user sees when it crashes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent import ModelError, local, runtime

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


def test_the_portable_flags_name_an_explicit_baseline_and_never_native() -> None:
    flags = runtime.cmake_args("x86_64").split()
    assert "-DGGML_NATIVE=OFF" in flags
    assert {"-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON", "-DGGML_BMI2=ON"} <= set(flags)
    assert not any("AVX512" in f or "AMX" in f or "native" in f.lower() for f in flags[1:])
    assert runtime.build_tag("x86_64").startswith("x86_64-avx2-")
    assert runtime.cmake_args("aarch64") == "-DGGML_NATIVE=OFF"
    # The wheel folder is named by the flags, so a build with other flags lands elsewhere.
    assert runtime.build_tag() in runtime.wheel_dir().name


def test_the_rebuild_command_bypasses_the_wheel_cache_and_pins_the_flags() -> None:
    command = runtime.rebuild_command()
    assert f'CMAKE_ARGS="{runtime.cmake_args()}"' in command
    assert "--no-cache-dir" in command and "--force-reinstall" in command
    assert f"llama-cpp-python=={runtime.RUNTIME_VERSION}" in command
    assert sys.executable in command


@pytest.mark.parametrize(
    ("line", "foreign"),
    [
        ("tilezero %tmm0", True),
        ("tileloadd (%rax,%rcx,1),%tmm1", True),
        ("tdpbssd %tmm2,%tmm1,%tmm0", True),
        ("ldtilecfg (%rdi)", True),
        ("vpaddd %zmm1,%zmm2,%zmm3", True),
        ("vmovdqu32 %ymm1,%ymm2{%k1}", True),
        ("vpaddd %xmm17,%xmm1,%xmm2", True),
        ("{vex} vpdpbusd %ymm1,%ymm2,%ymm3", True),
        ("vfmadd231ps %ymm1,%ymm2,%ymm0", False),
        ("vpmaddubsw %ymm1,%ymm2,%ymm3", False),
        ("vcvtph2ps %xmm1,%ymm0", False),
        ("mov %rax,%rbx", False),
    ],
)
def test_the_guard_tells_baseline_instructions_from_foreign_ones(line: str, foreign: bool) -> None:
    import re

    assert bool(re.search(runtime.BEYOND_BASELINE, line)) is foreign


@pytest.mark.skipif(not runtime.runtime_files(), reason="llama-cpp-python is not installed")
@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs binutils' objdump")
@pytest.mark.parametrize("library", runtime.runtime_files(), ids=lambda p: p.name)
def test_the_installed_runtime_holds_no_instruction_beyond_the_baseline(library: Path) -> None:
    # Whatever CPU runs this test: a native build here would pass its own smoke tests and
    # crash on a machine with fewer features, so the disassembly itself is checked.
    assert runtime.foreign_instructions(library) == []


SIGILL_LIBRARY = """
__attribute__((constructor)) static void refuse(void) { __builtin_trap(); }
"""


@pytest.fixture
def crashing_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in ``llama_cpp`` whose shared library executes an illegal instruction (ud2)."""
    source = tmp_path / "trap.c"
    source.write_text(SIGILL_LIBRARY)
    library = tmp_path / "libtrap.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", library, source], check=True)
    package = tmp_path / "stub" / "llama_cpp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        textwrap.dedent(f"""
            import ctypes
            ctypes.CDLL({str(library)!r})
        """)
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "stub"))
    monkeypatch.setenv("REFLECT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(local, "_RUNTIME_OK", False)
    return tmp_path


@needs_gcc
def test_a_runtime_that_dies_is_one_line_with_the_rebuild_command(crashing_runtime: Path) -> None:
    with pytest.raises(ModelError) as caught:
        local.ensure_runtime_runs(str(crashing_runtime / "any.gguf"))
    message = str(caught.value)
    assert "\n" not in message
    assert "crashed on this CPU" in message and "SIGILL" in message
    assert runtime.rebuild_command() in message
    # The crash is remembered for this build and CPU: the next use says so without a child.
    saved = runtime.cached_check()
    assert saved is not None and saved.crashed and saved.detail == "killed by SIGILL"


@needs_gcc
def test_the_cli_shows_the_crash_as_one_line_not_a_bare_signal(crashing_runtime: Path) -> None:
    weights = crashing_runtime / "model.gguf"
    weights.write_bytes(b"GGUF")
    # A real process, as a user runs it: the parent must not load the library before the
    # check, or it dies with the bare signal itself.
    reflect = str(Path(sys.executable).with_name("reflect"))
    asked = subprocess.run(
        [reflect, "ask", "What is 2+2?", "--model", f"local:{weights}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert asked.returncode == 1, (asked.returncode, asked.stderr)
    lines = asked.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the local runtime"), asked.stderr
    assert "SIGILL" in lines[0] and "CMAKE_ARGS=" in lines[0]
    doctor = subprocess.run([reflect, "doctor"], capture_output=True, text=True, timeout=120)
    assert doctor.returncode == 1  # the crash was remembered for this build and CPU
    assert "check: crashed" in doctor.stdout and "SIGILL" in doctor.stdout
    assert "killed by SIGILL" in doctor.stdout  # the runtime line, asked in a child too


def test_a_crash_is_not_confused_with_an_ordinary_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFLECT_CACHE_DIR", str(tmp_path))
    failed = runtime.run_check(str(tmp_path / "missing.gguf"), python=sys.executable)
    # A missing file fails in the child as it would in the parent: an error, not a crash,
    # and not remembered, so fixing the file needs no cache cleared.
    assert not failed.ok and not failed.crashed
    assert runtime.cached_check() is None
