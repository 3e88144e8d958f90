"""The attacks that got out of the old sandbox, tried again, as root and as a normal user.

Each test is one finding of the attack report (issue 20): it passed on the audit-hook sandbox
and must now be contained by the kernel. ``as_root`` runs the sandbox in this process when
the tests run as root; ``as_user`` runs it as ``nobody`` (through ``setpriv``, with a Python
that user may run) or in this process when the tests already run as a normal user. Both run
on every backend that works here: bubblewrap and the namespaces set up by the module itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import areflect, sandbox
from agent.checks import line_of
from agent.checks.code import code_checks
from agent.context import Context, resolve_settings
from agent.datasets import Record
from agent.errors import ConfigError
from agent.scoring import passes_tests
from tests.scripted import ScriptedChatModel

HELPER = Path(__file__).with_name("sandbox_as_user.py")
NOBODY_PYTHON = next((p for p in ("/usr/bin/python3",) if os.access(p, os.X_OK)), None)
IS_ROOT = os.geteuid() == 0

Run = Callable[..., dict[str, Any]]


def _backends() -> list[str]:
    found = []
    for backend in ("bubblewrap", "namespaces"):
        if backend == "bubblewrap" and not shutil.which("bwrap"):
            continue
        try:
            sandbox.run_python("pass", backend=backend)  # type: ignore[arg-type]
        except sandbox.SandboxUnavailable:
            continue
        found.append(backend)
    return found


BACKENDS = _backends()


def _as_nobody() -> list[str] | None:
    if not IS_ROOT:
        return []  # already a normal user: run in this process
    if NOBODY_PYTHON is None or not shutil.which("setpriv"):
        return None
    return ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--inh-caps=-all"]


@pytest.fixture(scope="session")
def helper_for_nobody() -> Iterator[Path]:
    """The helper and the sandbox module where ``nobody`` may read them.

    A checkout under a private home (``/root``, mode 700) is out of that user's reach.
    """
    folder = Path(tempfile.mkdtemp(prefix="sandbox-helper-", dir="/var/tmp"))
    for part in ("tests", "agent"):
        (folder / part).mkdir()
    shutil.copy(HELPER, folder / "tests" / HELPER.name)
    shutil.copy(Path(sandbox.__file__), folder / "agent" / "sandbox.py")
    for path in (folder, *folder.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield folder / "tests" / HELPER.name
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(
    params=[(u, b) for u in ("as_root", "as_user") for b in BACKENDS or ["none"]],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def run(request: pytest.FixtureRequest, helper_for_nobody: Path) -> Run:
    """Run a program in the sandbox as the parametrised user, on the parametrised backend."""
    user, backend = request.param
    if backend == "none":
        pytest.fail(f"no kernel isolation on this machine: {sandbox.isolation().reason}")
    if user == "as_root" and not IS_ROOT:
        pytest.skip("the tests run as a normal user; the root case needs root")
    switch = _as_nobody() if user == "as_user" else []
    if switch is None:
        pytest.skip("no setpriv or no system Python to run as nobody")

    def go(source: str, **options: Any) -> dict[str, Any]:
        options["backend"] = backend
        if not switch:
            outcome = sandbox.run_python(source, **options)
            return {**outcome.__dict__, "layers": list(outcome.layers)}
        done = subprocess.run(
            [*switch, NOBODY_PYTHON, str(helper_for_nobody)],
            input=json.dumps({"source": source, **options}),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    return go


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder any user may read, so that a refusal comes from the sandbox, not permissions."""
    folder = Path(tempfile.mkdtemp(prefix="attack-", dir="/var/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# Finding 1: a full escape. site-packages was readable (``_cffi_backend`` gave ``system()``),
# the program was root in its namespaces and remounted / read-write.


def test_no_site_packages_is_visible(run: Run) -> None:
    program = (
        "import os, sys, sysconfig\n"
        "found = []\n"
        "paths = {sysconfig.get_paths()['purelib'], '/usr/lib/python3/dist-packages'}\n"
        "paths |= {f'/usr/local/lib/python3.{sys.version_info[1]}/{d}'\n"
        "          for d in ('site-packages', 'dist-packages')}\n"
        "for path in sorted(paths):\n"
        "    try:\n"
        "        found += os.listdir(path)\n"
        "    except OSError:\n"
        "        pass\n"
        "print(len(found))\n"
    )
    for hook in (True, False):
        outcome = run(program, _hook=hook)
        assert outcome["status"] == "passed", outcome
        assert outcome["stdout"].strip() == "0"


def test_the_program_is_nobody_without_capabilities_and_cannot_remount(run: Run) -> None:
    program = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "caps = (ctypes.c_uint32 * 6)()\n"
        "libc.capget((ctypes.c_uint32 * 2)(0x20080522, 0), caps)\n"
        "remount = libc.mount(None, b'/', None, 32 | 4096, None)\n"
        "userns = libc.unshare(0x10000000)\n"
        "print(os.getuid(), sum(caps), libc.prctl(39, 0, 0, 0, 0), libc.prctl(21, 0, 0, 0, 0),\n"
        "      remount, userns)\n"
    )
    outcome = run(program, _hook=False)  # the kernel alone, as a program past the hook would be
    assert outcome["status"] == "passed", outcome
    uid, caps, no_new_privs, seccomp, remount, userns = map(int, outcome["stdout"].split())
    assert (uid, caps, no_new_privs, seccomp) == (65534, 0, 1, 2)
    assert remount == -1 and userns == -1


def test_nothing_outside_its_folder_can_be_written_even_past_the_hook(
    run: Run, shared_dir: Path
) -> None:
    target = shared_dir / "escaped"
    shared_dir.chmod(0o777)
    program = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.mount(None, b'/', None, 32 | 4096, None)\n"
        f"libc.system(b'touch {target}')\n"
        f"open({str(target)!r}, 'w').write('x')\n"
    )
    outcome = run(program, _hook=False)
    assert outcome["status"] == "failed"
    assert not target.exists()


def test_credentials_never_come_back(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"sk-attack-{os.getpid()}-do-not-leak"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    program = (
        "import os\n"
        "found = ''\n"
        "try:\n"
        "    found = open(f'/proc/{os.getppid()}/environ').read()\n"
        "except OSError as error:\n"
        "    print('refused', type(error).__name__)\n"
        "print([k for k in os.environ if 'KEY' in k], 'OPENAI_API_KEY' in found)\n"
        f"print({secret!r})\n"  # as if it had found it some other way
        f"raise SystemExit({secret!r})\n"
    )
    outcome = run(program)
    assert "refused" in outcome["stdout"] and "[] False" in outcome["stdout"]
    assert secret not in outcome["stdout"] + outcome["detail"]
    assert "[redacted]" in outcome["stdout"] and "[redacted]" in outcome["detail"]


def test_check_details_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"tok-{os.getpid()}-private-value"
    monkeypatch.setenv("SERVICE_TOKEN", secret)
    answer = f"```python\ndef add(a, b):\n    raise ValueError({secret!r})\n```"
    found = code_checks(CODE_Q, answer)
    assert [c["detail"] for c in found] == ["ValueError: [redacted]"] * 2


# Finding 2: killing processes through pidfd, with no PID namespace.


def test_no_process_outside_can_be_killed(run: Run) -> None:
    victim = subprocess.Popen([*(_as_nobody() or []), "sleep", "60"])
    try:
        program = (
            "import os, signal\n"
            "for how in ('pidfd', 'kill'):\n"
            "    try:\n"
            f"        if how == 'pidfd': signal.pidfd_send_signal(os.pidfd_open({victim.pid}), 9)\n"
            f"        else: os.kill({victim.pid}, 9)\n"
            "        print(how, 'sent')\n"
            "    except OSError as error:\n"
            "        print(how, 'refused', error.errno)\n"
        )
        for hook in (True, False):
            outcome = run(program, _hook=hook)
            assert "sent" not in outcome["stdout"], outcome
            time.sleep(0.2)
            assert victim.poll() is None  # still alive
        parent = run("import os, signal\nos.kill(os.getppid(), 9)\nprint('alive')", _hook=False)
        assert parent["stdout"].strip() == "alive" or parent["status"] == "failed"
    finally:
        victim.kill()
        victim.wait()


# Finding 3: another run's data, through /proc and SQLite's own file access.


def test_another_run_s_checkpoint_cannot_be_found_or_read(run: Run, shared_dir: Path) -> None:
    database = shared_dir / "checkpoints.sqlite"
    with sqlite3.connect(database) as db:
        db.execute("create table writes (question text)")
        db.execute("insert into writes values ('My bank PIN is 4321-PRIVATE')")
    database.chmod(0o644)
    program = (
        "import os, sqlite3\n"
        "for probe in (lambda: os.readlink(f'/proc/{os.getppid()}/fd/3'),\n"
        "              lambda: os.stat('/proc/1/environ')):\n"
        "    try:\n"
        "        print('found', probe())\n"
        "    except OSError as error:\n"
        "        print('refused', type(error).__name__)\n"
        f"uri = 'file:{database}?immutable=1'\n"
        "rows = sqlite3.connect(uri, uri=True).execute('select * from writes').fetchall()\n"
        "print(rows)\n"
    )
    for hook in (True, False):
        outcome = run(program, _hook=hook)
        assert outcome["status"] == "failed", outcome
        assert "4321-PRIVATE" not in outcome["stdout"] and "found" not in outcome["stdout"]


# Finding 4: a forged verdict (the runner's marker read through a frame, then an exit).

CODE_Q = '''Write a Python function add(a, b).
```python
def add(a, b):
    """
    >>> add(2, 3)
    5
    >>> add(1, 1)
    2
    """
```'''


@pytest.mark.parametrize(
    "forgery",
    [
        "import sys, os\nmarker = sys._getframe(1).f_globals.get('_MARKER', '')\n"
        'print(marker + \'{"results": [[true, ""], [true, ""]]}\', flush=True)\nos._exit(0)',
        'import os\nos.write(3, b\'{"step": 0, "value": "5"}\\n\')\nos._exit(0)',
        "import os\nfor n in range(64):\n"
        '    try:\n        os.write(n, b\'x {"step": 0, "value": "5"}\\n\')\n'
        "    except OSError:\n        pass\nraise SystemExit(0)",
        "def _forge():\n    try:\n        raise ValueError\n    except ValueError as e:\n"
        "        return e.__traceback__.tb_frame.f_back.f_locals\nprint(_forge())",
    ],
    ids=["frame-marker", "channel-write", "all-fds-then-exit", "traceback-frames"],
)
def test_a_wrong_function_cannot_forge_its_examples(forgery: str) -> None:
    answer = f"```python\ndef add(a, b):\n    return a - b\n\n{forgery}\n```"
    found = code_checks(CODE_Q, answer)
    assert found and not any(c["passed"] for c in found), found


def test_an_exit_inside_the_function_fails_every_example_it_skipped() -> None:
    answer = "```python\nimport os\n\ndef add(a, b):\n    os._exit(0)\n```"
    found = code_checks(CODE_Q, answer)
    assert [c["passed"] for c in found] == [False, False]
    assert "ended before this example" in found[0]["detail"]


def test_the_right_function_still_passes() -> None:
    answer = "```python\ndef add(a, b):\n    return a + b\n```"
    assert [c["passed"] for c in code_checks(CODE_Q, answer)] == [True, True]


# Finding 5: a benchmark counted SystemExit(0) after a wrong function as passing.

RECORD = Record(
    id="add",
    question="def add(a, b):\n    pass",
    answer="",
    tests="def check(candidate):\n    assert candidate(2, 3) == 5\n\ncheck(add)\n",
)


@pytest.mark.parametrize(
    "ending",
    ["raise SystemExit(0)", "import os\nos._exit(0)", "import sys\nsys.exit()"],
)
def test_an_early_exit_never_passes_a_benchmark(ending: str) -> None:
    wrong = f"```python\ndef add(a, b):\n    return a - b\n\n{ending}\n```"
    assert passes_tests(wrong, RECORD) is False
    assert passes_tests("```python\ndef add(a, b):\n    return a + b\n```", RECORD) is True


# Finding 6: leftovers (a child outliving a killed caller, its folder, unbounded disk).


def test_a_killed_caller_leaves_no_process_and_the_next_run_cleans_its_folder() -> None:
    caller = subprocess.Popen(
        [sys.executable, str(HELPER)], stdin=subprocess.PIPE, text=True, start_new_session=True
    )
    assert caller.stdin
    caller.stdin.write(json.dumps({"source": "import time\ntime.sleep(60)", "timeout": 90}))
    caller.stdin.close()
    prefix = f"reflect-sandbox-{caller.pid}-"
    # The first run in a process imports the agent and probes the isolation: on two cores
    # shared with a model, that took over 30 s.
    deadline = time.monotonic() + 120
    while not _processes_naming(prefix) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_naming(prefix), "the sandboxed program never started"
    [folder] = [f for f in Path(tempfile.gettempdir()).glob(prefix + "*") if f.is_dir()]
    os.kill(caller.pid, signal.SIGKILL)
    caller.wait()
    # The kernel kills the chain at once; a suite loading both cores can delay the reaping
    # past a few seconds, so the wait is long and ends as soon as they are gone.
    deadline = time.monotonic() + 30
    while _processes_naming(prefix) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_naming(prefix), _commands(_processes_naming(prefix))
    assert folder.exists()  # left behind by the killed caller ...
    sandbox.run_python("pass")
    assert not folder.exists(), sorted(
        str(p) for p in folder.rglob("*")
    )  # ... removed by the next run


def test_bubblewrap_is_never_started_for_a_caller_already_gone() -> None:
    # The launcher sets the parent-death signal, then checks that its parent is still the
    # caller: killed between the fork and that line, the caller would leave bwrap behind.
    launch = [sys.executable, "-I", "-S", "-c", sandbox._LAUNCH]
    ours = subprocess.run([*launch, str(os.getpid()), "echo", "ran"], capture_output=True)
    assert (ours.returncode, ours.stdout) == (0, b"ran\n")
    gone = subprocess.run([*launch, "1", "echo", "ran"], capture_output=True)
    assert (gone.returncode, gone.stdout) == (137, b"")


def _commands(pids: list[int]) -> list[str]:
    found = []
    for pid in pids:
        with contextlib.suppress(OSError):
            found.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    return found


def _processes_naming(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if text.encode() in cmdline:
                found.append(int(entry.name))
    return found


def test_disk_use_is_capped(run: Run) -> None:
    program = (
        "written = 0\n"
        "try:\n"
        "    for n in range(12):\n"
        "        with open(f'f{n}', 'wb') as f:\n"
        "            for _ in range(4):\n"
        "                f.write(b'x' * (1 << 20))\n"
        "                f.flush()\n"
        "                written += 1 << 20\n"
        "except OSError as error:\n"
        "    print(error.strerror)\n"
        "print(written >> 20)\n"
    )
    outcome = run(program, disk_mb=16)
    lines = outcome["stdout"].split("\n")
    assert "No space left on device" in lines[0]
    assert int(lines[1]) <= 16


# The forged verdict, end to end: what the user is shown in critique and in the default.

FORGED = (
    "```python\ndef add(a, b):\n    return a - b\n\n"
    "import sys, os\nmarker = sys._getframe(1).f_globals.get('_MARKER', '')\n"
    'print(marker + \'{"results": [[true, ""], [true, ""]]}\', flush=True)\nos._exit(0)\n```'
)


@pytest.mark.parametrize("strategy", ["critique", "contrast"])
async def test_a_forged_answer_is_shown_with_failed_checks(strategy: str) -> None:
    model = ScriptedChatModel(
        script={"generator": [], "critic": []},
        default={"generator": FORGED, "critic": "VERDICT: PASS"},
    )
    result = await areflect(CODE_Q, model=model, strategy=strategy, run_code=True, samples=2)

    def ran(check: Any) -> bool:  # an example, or the code itself; not its mere definition
        return bool(check["kind"] == "code" and not check["name"].startswith("defines "))

    code = [c for d in result.drafts for c in d["checks"] if ran(c)]
    assert code and not any(c["passed"] for c in code), code
    assert "✓" not in "\n".join(line_of(c) for c in result.checks if ran(c))


# Where the kernel cannot isolate: --run-code refuses with one line, and nothing runs.


def test_run_code_refuses_without_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from agent import cli, context

    reason = "no kernel isolation here (bubblewrap is not installed): install bubblewrap"
    monkeypatch.setattr(context, "isolation", lambda: sandbox.Isolation(None, (), reason))
    with pytest.raises(ConfigError, match="--run-code is not available: no kernel isolation"):
        resolve_settings(Context(run_code=True))
    assert resolve_settings(Context(run_code=False)).run_code is False
    done = CliRunner().invoke(
        cli.app, ["ask", "--run-code", "--model", "http://127.0.0.1:9/v1", "hi"]
    )
    assert done.exit_code != 0
    assert "--run-code is not available" in done.output and "Traceback" not in done.output


# The review's attacks (after the first version): the runner's own modules replaced by the
# answer, the hook fooled through builtins, the host's device nodes, an uncapped /dev.

REWRITES = [
    "import json as _j\n_o = _j.dumps\n"
    "_j.dumps = lambda r, *a, **k: _o({'step': r['step'], 'value': '5'} if 'step' in r else r)",
    "import builtins\nbuiltins.repr = lambda value: '5'",
    "import os\n_w = os.write\n"
    "os.write = lambda fd, data: _w(fd, data.replace(b'raised', b'value'))",
    "import builtins\nbuiltins.eval = lambda *a, **k: 5\nbuiltins.enumerate = lambda s: []",
]


@pytest.mark.parametrize("rewrite", REWRITES, ids=["json", "repr", "os.write", "eval"])
def test_replacing_the_runner_s_tools_forges_nothing(rewrite: str) -> None:
    wrong = f"```python\n{rewrite}\n\ndef add(a, b):\n    return a - b\n```"
    found = code_checks(CODE_Q, wrong)
    assert found and not any(c["passed"] for c in found), found
    assert passes_tests(wrong, RECORD) is False


def test_the_hook_is_not_fooled_through_builtins(run: Run) -> None:
    program = (
        "import builtins, os\n_i = builtins.isinstance\n"
        "builtins.isinstance = lambda o, t: True if t is int else _i(o, t)\n"
        "class S(str):\n    def split(self, *a, **k):\n        return ['fine']\n"
        "for attempt in (lambda: os.listdir('/'), lambda: __import__(S('_posixsubprocess'))):\n"
        "    try:\n        attempt()\n        print('got through')\n"
        "    except PermissionError as error:\n        print('refused', error)\n"
    )
    outcome = run(program)
    assert "got through" not in outcome["stdout"] and outcome["stdout"].count("refused") == 2


def test_the_host_s_device_nodes_cannot_be_changed(run: Run) -> None:
    before = os.stat("/dev/null")
    program = (
        "import os\n"
        "for call in (lambda: os.chmod('/dev/null', 0o666), lambda: os.chown('/dev/null', 0, 0),\n"
        "             lambda: os.utime('/dev/null'), lambda: open('/dev/shm/x', 'w'),\n"
        "             lambda: open('/dev/x', 'w')):\n"
        "    try:\n        call()\n        print('changed')\n"
        "    except OSError as error:\n        print('refused', error.errno)\n"
        "open('/dev/null', 'w').write('still usable')\n"
    )
    outcome = run(program, _hook=False)
    assert outcome["status"] == "passed", outcome
    assert "changed" not in outcome["stdout"] and outcome["stdout"].count("refused") == 5
    after = os.stat("/dev/null")
    assert (after.st_mode, after.st_uid, after.st_ctime_ns) == (
        before.st_mode,
        before.st_uid,
        before.st_ctime_ns,
    )


def test_no_new_process_even_past_the_hook(run: Run) -> None:
    program = (
        "import os, subprocess\n"
        "for call in (os.fork, lambda: subprocess.run(['/bin/true'])):\n"
        "    try:\n        call()\n        print('started')\n"
        "    except OSError as error:\n        print('refused', error.errno)\n"
    )
    outcome = run(program, _hook=False)
    assert outcome["stdout"].split() == ["refused", "1", "refused", "1"], outcome
