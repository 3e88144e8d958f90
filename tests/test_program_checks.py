"""Programs in replies, run and compared with what the reply says they print (issue 23).

What runs where: an arithmetic program (``evaluator.admit``) runs by default, in the
restricted evaluator (asteval with a whitelist and limits), inside the kernel sandbox, and
not at all where there is none; any other program runs only with ``run_code``, in the
sandbox. Hostile programs are refused by the static admission, by asteval on its own, by
the limits, and contained by the sandbox.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from agent import areflect
from agent.checks import line_of, run_checks
from agent.checks import program as program_module
from agent.checks.evaluator import Refused, admit, evaluate, trimmed
from agent.checks.program import claims, each_in_sandbox, in_sandbox, program_checks
from agent.sandbox import Isolation, SandboxUnavailable, isolation
from tests.scripted import ScriptedChatModel

FARMER = (
    "A farmer has 3 pens with 12 chickens in each pen. He sells 7 chickens. "
    "How many chickens are left?"
)
PROGRAM = "pens = 3\nper_pen = 12\ntotal = pens * per_pen\nleft = total - 7\nprint(left)"

# Prints 29, but through an attribute of a module: outside the arithmetic subset.
OUTSIDE = "import datetime\nprint(datetime.date(2024, 1, 29).day)"

sandboxed = pytest.mark.skipif(isolation().backend is None, reason="no kernel isolation here")


def reply(claimed: str, program: str = PROGRAM, *, block: bool = True) -> str:
    """A sample the way the 1.5B model wrote it in ``make demo``: a program, its 'output'."""
    said = f"```output\n{claimed}\n```\n" if block else ""
    return (
        "Let me compute it with Python.\n\n"
        f"```python\n{program}\n```\n{said}"
        f"The number of chickens left is \\(\\boxed{{{claimed}}}\\)."
    )


def checks_of(text: str, *, kind: str = "number", run_code: bool = False) -> list[Any]:
    return run_checks(FARMER, text, text, kind=kind, constraints=[], run_code=run_code)


def programs(found: list[Any]) -> list[Any]:
    return [c for c in found if c["kind"] == "program"]


# -- executed outputs ------------------------------------------------------------------------


def test_a_mismatched_output_block_fails_a_check() -> None:
    [check] = programs(checks_of(reply("33")))
    assert not check["passed"]
    assert line_of(check) == "✗ the program prints 29, the answer says 33"


def test_a_matching_output_block_passes() -> None:
    [check] = programs(checks_of(reply("29")))
    assert check["passed"] and line_of(check) == "✓ the program prints 29"


def test_a_sentence_that_says_what_the_code_prints_is_a_claim() -> None:
    text = f"```python\n{PROGRAM}\n```\nWhen you run this code, it prints 33.\n\nSo 33 chickens."
    [check] = programs(checks_of(text))
    assert line_of(check) == "✗ the program prints 29, the answer says 33"


def test_a_final_answer_after_the_program_is_its_claim_for_a_number_question() -> None:
    [check] = programs(checks_of(reply("33", block=False)))
    assert line_of(check) == "✗ the program prints 29, the answer says 33"
    assert programs(checks_of(reply("29", block=False)))[0]["passed"]
    # Not for a text question: there the final answer is no number the program must print.
    assert programs(checks_of(reply("33", block=False), kind="text")) == []


def test_a_claim_rounded_to_the_places_it_shows_holds() -> None:
    text = "```python\nprint(20 / 3)\n```\n```output\n6.67\n```\nSo \\boxed{6.67}."
    assert all(c["passed"] for c in programs(checks_of(text)))
    wrong = text.replace("6.67", "6.76")
    assert not any(c["passed"] for c in programs(checks_of(wrong)))


def test_a_program_solution_function_is_its_return_value() -> None:
    program = "def solution():\n    chickens = 3 * 12\n    return chickens - 7"
    [check] = programs(checks_of(reply("33", program)))
    assert line_of(check) == "✗ the program prints 29, the answer says 33"


def test_a_bare_block_the_prose_calls_the_output_is_the_claim() -> None:
    text = f"```python\n{PROGRAM}\n```\nOutput:\n```\n33\n```\nSo \\boxed{{33}}."
    [claim] = claims(text, text, "number")
    assert (claim.said, claim.source) == ("33", "output")


def test_an_import_the_program_never_uses_does_not_keep_it_from_running() -> None:
    """The real model's sample 2: sympy imported 'for symbolic computation', never used."""
    program = "import sympy as sp\n\n" + PROGRAM
    [check] = programs(checks_of(reply("33", program)))
    assert line_of(check) == "✗ the program prints 29, the answer says 33"
    used = "import sympy as sp\nprint(sp.Integer(3) * 12 - 7)"
    assert programs(checks_of(reply("33", used))) == []  # outside the subset: not run


@pytest.mark.parametrize(
    ("source", "admitted", "why"),
    [
        # The real model's boilerplate on HumanEval samples: both star imports.
        (
            "from typing import *\nfrom collections import *\n\n"
            "def f(xs: List[int]) -> int:\n    return Counter(xs).most_common(1)[0][0]",
            "from collections import Counter\n\ndef f(xs):\n"
            "    return Counter(xs).most_common(1)[0][0]",
            "",
        ),
        ("from math import *\nprint(pow(2, 3))", "from math import pow\nprint(pow(2, 3))", ""),
        ("from typing import *\nx = cast(int, 3)", "x = cast(int, 3)", "uses cast"),
        ("from os import *\nprint(1)", "from os import *\nprint(1)", "imports os"),
        ("from re import *\npurge()", "purge()", "uses purge"),
    ],
)
def test_a_star_import_becomes_the_names_used_or_is_refused(
    source: str, admitted: str, why: str
) -> None:
    assert trimmed(source) == admitted
    assert admit(trimmed(source)) == why
    if not why:  # math's pow, as the star import meant, not the builtin
        assert evaluate(trimmed(source))["error"] == ""


def test_a_program_that_fails_or_says_nothing_to_compare_gives_no_check() -> None:
    assert programs(checks_of(reply("33", "x = 1 / 0\nprint(x)"))) == []
    assert programs(checks_of(reply("33", "x = 3 * 12"))) == []  # prints nothing, no value


def test_code_answers_are_left_to_their_examples() -> None:
    assert program_checks(reply("33"), reply("33"), kind="code", run_code=False) == []


async def test_a_sample_whose_program_disagrees_loses_the_vote() -> None:
    wrong, right = reply("33"), reply("29")
    model = ScriptedChatModel(script={"generator": [wrong, wrong, right], "critic": []})
    result = await areflect(FARMER, model=model, samples=3, max_samples=3, max_concurrency=1)
    # 33 has two samples, but their programs print 29: the one that passes decides.
    assert (result.output, result.chosen, result.stop_reason) == (right, 2, "checked")
    assert result.reflections[0] == "3 solutions disagree: 33 ×2, 29 ×1; 2 failed a check"
    failed = [c for d in result.drafts[:2] for c in d["checks"] if not c["passed"]]
    assert [line_of(c) for c in failed] == ["✗ the program prints 29, the answer says 33"] * 2


# -- the arithmetic subset -------------------------------------------------------------------

HOSTILE = [
    "import os\nprint(os.listdir('/'))",
    "from os import system\nsystem('id')",
    "import math\nprint(math.__loader__)",
    "print(().__class__.__bases__[0].__subclasses__())",
    "print([].__class__.__mro__[1].__subclasses__())",
    "print('{0.__class__.__mro__}'.format(1))",
    "print(f'{(1).__class__}')",
    "def f():\n    pass\nprint(f.__globals__)",
    "print(print.__self__)",
    "print(open('/etc/passwd').read())",
    "print(getattr(1, 'real'))",
    "print(eval('1 + 1'))",
    "print(__import__('os'))",
    "print(type(1))",
    "print(globals())",
    "g = (x for x in [1])\nprint(g.gi_frame)",
    "x = (1).numerator\nprint(x)",
    "try:\n    pass\nexcept BaseException:\n    pass",
    "try:\n    pass\nexcept (ValueError, KeyboardInterrupt):\n    pass",
    "import re\nprint(re.enum.EnumMeta)",
    "import re\nprint(re._compiler)",
    "import collections\nprint(collections.abc)",
    "from functools import partial\nprint(partial(print))",
    "import itertools\nprint(itertools.tee([1]))",
    "from collections import Counter\nprint(Counter(a=10 ** 12).elements())",
    "import os.path",
    "from re import _parser",
    "import re\nprint(re.match('a', 'a').re)",
    # A class the whole process shares, changed for every later run (found by review).
    "from collections import Counter\nCounter.most_common = lambda self, n: [('forged', 9)]",
    "import re\nre.sub = print",
    "with open('x') as f:\n    pass",
    "class A:\n    pass",
    "print(1, file=None)",
    "print(f'{1:>{10**9}}')",
    "print(*[1, 2])",
    "breakpoint()",
    "input()",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_the_admission_refuses_what_is_not_arithmetic(source: str) -> None:
    assert admit(source), source
    with pytest.raises(Refused):
        evaluate(source)


# What only the admission refuses: harmless in asteval, but outside the subset.
_ADMISSION_ONLY = (
    "numerator", "BaseException", "KeyboardInterrupt", ".elements()", ").re)", "forged", "= print"
)  # fmt: skip


@pytest.mark.parametrize("source", [s for s in HOSTILE if not any(a in s for a in _ADMISSION_ONLY)])
def test_asteval_alone_refuses_them_too(source: str) -> None:
    """With the admission taken away, asteval and the whitelisted names still hold."""
    ran = evaluate(source, _admit=False)
    assert ran["error"], (source, ran)
    assert "<class" not in ran["printed"] and "root" not in ran["printed"]


def test_arithmetic_programs_are_admitted_and_run() -> None:
    source = (
        "import math\nfrom math import ceil as c\nprices = {'a': 2.5, 'b': 4}\n"
        "total = sum(v * 2 for v in prices.values())\nitems = []\nfor i in range(3):\n"
        "    items.append(i ** 2)\nwhile total > 10:\n    total -= 1\n"
        "print(f'{total:.1f}', c(2.1), math.sqrt(16), max(items), round(2 / 3, 2))"
    )
    assert admit(source) == ""
    assert evaluate(source) == {"printed": "10.0 3 4.0 4 0.67\n", "value": "", "error": ""}


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("while True:\n    pass", "step limit"),
        ("i = 0\nwhile i >= 0:\n    i += 1", "step limit"),
        ("def f(n):\n    return f(n + 1)\nprint(f(0))", "RecursionError"),
        ("print(10 ** 10 ** 6)", ""),
        ("x = 10 ** 999\nfor i in range(30):\n    x = x * x", "a product too large"),
        ("print(pow(7, 10 ** 8))", "a power too large"),
        ("print(1 << 10 ** 9)", ""),
        ("a = [0] * 10 ** 8", "too many items"),
        ("a = [1]\nfor i in range(40):\n    a = a + a", "too many items"),
        ("a = [1]\nfor i in range(40):\n    a += a", "too many items"),
        ("print(sum(range(10 ** 12)))", "too many items"),
        ("x = [[0] * 1000 for i in range(100000)]", "too many items"),
        ("import math\nprint(math.factorial(10 ** 7))", "factorial of a number past 5000"),
        ("import math\nprint(math.prod(range(1, 10 ** 6)))", ""),
        ("s = 'x' * 10 ** 9", ""),
        ("print('%1000000000d' % 5)", "a very wide format"),
        ("for i in range(10 ** 6):\n    print('x' * 100)", "output limit"),
        ("print(pow(3, 2 ** 8192, 2 ** 8192 + 1))", "a modular power too large"),
        ("print(pow(3, 7, 2 ** 5000))", "a modular power too large"),
        ("print(round(5, -10 ** 5))", "a rounding too wide"),
        (
            "import math\nx = (7 ** 9000) ** 3\nprint(math.lcm(x, x + 1) % 10)",
            "multiple too large",
        ),
        (
            "from math import lcm\nx = (7 ** 9000) ** 3\nprint(lcm(x, x + 1) % 10)",
            "multiple too large",
        ),
        ("s = 'a' * 200000\nt = f'{s}{s}{s}{s}{s}{s}'", "too many items"),
        ("s = 'ab'\nwhile True:\n    s = s.join([s, s])", "too many items"),
        ("s = 'x' * 2000\nprint(s.replace('', s))", "too many items"),
        ("j = ('x' * 4000).join\nprint(j(['y'] * 4000))", "too many items"),
        ("a = [1]\nwhile True:\n    a.extend(a)", "too many items"),
        ("print(str.join('x' * 4000, ['y'] * 4000))", "uses a type's join"),
        ("print(list.extend([1], [2]))", "uses a type's extend"),
        # The modules' own: itertools counted item by item, the rest guarded by size.
        ("import itertools\nprint(list(itertools.count()))", "too many items"),
        ("from itertools import cycle\nprint(sum(cycle([1, 2])))", "too many items"),
        ("import itertools\nprint(list(itertools.product('ab', repeat=60)))", "too many items"),
        ("from itertools import product\nx = product([1], repeat=10 ** 9)", "too many items"),
        ("from itertools import repeat\nprint(len(list(repeat(0, 10 ** 12))))", "too many items"),
        ("from collections import deque\nd = deque([1])\nwhile True:\n    d.extend(d)", "items"),
        ("from collections import deque\nd = deque([1]) * 10 ** 9", "too many items"),
        ("import re\nprint(re.sub('', 'x' * 4000, 'y' * 4000))", "too many items"),
        ("import re\nprint(re.compile('').subn('x' * 4000, 'y' * 4000))", "too many items"),
        ("print('1'.zfill(10 ** 9))", "too many items"),
        ("print('1'.center(10 ** 9, '*'))", "too many items"),
        ("print(str.zfill('1', 10 ** 9))", "uses a type's zfill"),
        # Found by a review of the wider subset: iterators made in C, a replacement function,
        # groups in a pattern, a width from an argument, big divisions, copies step by step.
        ("print(sum(iter(int, 1)))", "too many items"),
        ("a = [0]\nprint(any(map(a.append, a)))", "too many items"),
        (
            "import re\ns = ''.ljust(900000)\nprint(len(re.sub('', lambda m: s, 'y' * 1500)))",
            "items",
        ),
        ("import re\nprint(len(re.findall('()' * 1000, 'y' * 200000)))", "too many items"),
        ("import re\nprint(len(re.compile('()' * 1000).split('y' * 200000)))", "too many items"),
        ("x = '%*d' % (1500000000, 7)", "a width taken from an argument"),
        ("import itertools\nx = list(itertools.product(range(1000), repeat=1000))", "items"),
        (
            "import itertools as t\nx = list(t.accumulate(t.repeat('a' * 99999, 3000)))",
            "items",
        ),
        ("s = ''.ljust(999999)\nk = [s.upper() for i in range(5000)]", "memory limit"),
        ("l = [0] * 999999\nk = [l[:] for i in range(3000)]", "memory limit"),
        ("x = int(''.ljust(999999, 'f'), 16)\nprint(divmod(x, 7)[1])", "a division too large"),
        ("x = int(''.ljust(999999, 'f'), 16)\nprint(x // 7 > 0)", "a division too large"),
        # A caught exception never catches a limit.
        ("while True:\n    try:\n        pass\n    except:\n        pass", "step limit"),
        (
            "def f():\n    while True:\n        try:\n            x = 1\n"
            "        except Exception:\n            pass\ntry:\n    f()\nexcept:\n    print(1)",
            "step limit",
        ),
    ],
)
def test_bombs_stop_at_a_limit_in_this_process(source: str, why: str) -> None:
    """No backend needed: the evaluator's limits alone keep this process safe."""
    started = time.process_time()  # this process's CPU: a loaded machine stretches wall time
    ran = evaluate(source)
    assert ran["error"], ran
    # On a loaded machine the clock can run out before the steps do: either limit stops it.
    assert why in ran["error"] or (why == "step limit" and "time limit" in ran["error"])
    assert time.process_time() - started < 10


def test_programs_that_use_the_admitted_modules_and_try_run() -> None:
    source = (
        "import re\nimport itertools as it\nfrom collections import Counter, defaultdict, deque\n"
        "from functools import reduce\nimport heapq, bisect, string\n"
        "words = re.findall(r'[a-z]+', 'the cat and the hat')\nc = Counter(words)\n"
        "d = defaultdict(list)\nfor w in words:\n    d[len(w)].append(w)\n"
        "q = deque([1, 2])\nq.appendleft(0)\nh = [5, 1, 3]\nheapq.heapify(h)\n"
        "try:\n    bad = int('x')\nexcept ValueError as e:\n    bad = -1\n"
        "print(c.most_common(1), d[3], list(q), heapq.heappop(h), bisect.bisect([1, 3], 2))\n"
        "print(list(it.combinations('abc', 2))[:2], reduce(lambda a, b: a * b, [2, 3, 4]), bad)\n"
        "print(re.sub(r'(\\w)', r'\\1\\1', 'ab'), string.digits[:3], '7'.zfill(3))"
    )
    assert admit(source) == ""
    # asteval would turn this ValueError into a TypeError: not admitted, so never misjudged.
    assert admit("try:\n    raise ValueError\nexcept ValueError:\n    pass") != ""
    validate = (
        "def f(s):\n    try:\n        if not s:\n            raise ValueError('empty')\n"
        "        return 1\n    except ValueError:\n        return -1\nprint(f(''), f('a'))"
    )
    assert evaluate(validate)["printed"] == "-1 1\n"
    assert evaluate(source) == {
        "printed": "[('the', 2)] ['the', 'cat', 'and', 'the', 'hat'] [0, 1, 2] 1 1\n"
        "[('a', 'b'), ('a', 'c')] 24 -1\naabb 012 007\n",
        "value": "",
        "error": "",
    }


def test_the_reported_modular_power_bomb_stops_at_once() -> None:
    """Three-argument pow is one step: its bits are bounded before it runs, not timed."""
    source = "a = 3 ** 9000\nb = a*a*a*a*a*a\nprint(pow(b, b, b+2) % 10)"
    started = time.process_time()
    assert evaluate(source)["error"] == "a modular power too large"
    assert time.process_time() - started < 2


def test_word_problem_sized_powers_roundings_and_f_strings_still_run() -> None:
    source = (
        "import math\nprint(pow(3, 10 ** 9, 10 ** 9 + 7), pow(2, -1, 7), round(1234.5, -2))\n"
        "print(math.lcm(4, 6, 10), round(7, -3), f'{2 ** 4096 % 1000} apples')\n"
        "print(pow(2 ** 4000 + 1, 2 ** 4095, 2 ** 4096 - 1) > 0)"
    )
    assert evaluate(source) == {
        "printed": f"{pow(3, 10**9, 10**9 + 7)} 4 1200.0\n60 0 {2**4096 % 1000} apples\nTrue\n",
        "value": "",
        "error": "",
    }


def test_arithmetic_programs_get_a_shorter_sandbox_time_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Up to three run per reply by default: each may cost 5 s, not the 10 s of run_code's."""
    limits: list[float] = []

    def run_python(source: str, *, timeout: float, **_: Any) -> Any:
        limits.append(timeout)
        return type("Outcome", (), {"report": [], "detail": "", "status": "timeout"})()

    monkeypatch.setattr(program_module, "run_python", run_python)
    in_sandbox(PROGRAM, restricted=True)
    in_sandbox(OUTSIDE, restricted=False)
    each_in_sandbox([PROGRAM] * 3, restricted=True)  # each program keeps its own 3 s inside
    assert limits == [5.0, 10.0, 11.0]


def test_programs_run_together_report_each_in_its_place() -> None:
    ran = each_in_sandbox(["print(2 + 2)", "while True:\n    pass", "7 * 6"], restricted=True)
    assert [(r["printed"], r["value"], r["error"]) for r in ran] == [
        ("4\n", "", ""),
        ("", "", "step limit"),
        ("", "42", ""),
    ]


# -- where programs run ----------------------------------------------------------------------


def no_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(program_module, "isolation", lambda: Isolation(None, (), "none here"))


def refuse_sandbox(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    started: list[str] = []

    def run_python(source: str, **_: Any) -> Any:
        started.append(source)
        raise AssertionError("the sandbox must not run this")

    monkeypatch.setattr(program_module, "run_python", run_python)
    return started


def test_nothing_outside_the_subset_runs_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    started = refuse_sandbox(monkeypatch)  # the only place any program runs
    assert programs(checks_of(reply("33", OUTSIDE))) == []
    assert started == []


@sandboxed
def test_with_run_code_the_rest_runs_in_the_sandbox() -> None:
    program = OUTSIDE
    [check] = programs(checks_of(reply("33", program), run_code=True))
    assert line_of(check) == "✗ the program prints 29, the answer says 33"


@sandboxed
def test_arithmetic_runs_in_the_sandbox_when_there_is_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[str] = []
    through = program_module.run_python

    def sandbox(source: str, **options: Any) -> Any:
        ran.append(source)
        return through(source, **options)

    monkeypatch.setattr(program_module, "run_python", sandbox)
    [check] = programs(checks_of(reply("33")))
    assert len(ran) == 1 and "RESTRICTED = True" in ran[0]
    assert line_of(check) == "✗ the program prints 29, the answer says 33"


def test_without_a_backend_nothing_the_model_wrote_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_backend(monkeypatch)
    started = refuse_sandbox(monkeypatch)
    assert programs(checks_of(reply("33"))) == []  # no evidence either way
    assert programs(checks_of(reply("33", OUTSIDE))) == []
    with pytest.raises(SandboxUnavailable):
        checks_of(reply("33", OUTSIDE), run_code=True)
    assert started == []


@sandboxed
def test_the_restricted_evaluator_inside_the_sandbox_keeps_its_limits() -> None:
    assert in_sandbox("while True:\n    pass", restricted=True)["error"] == "step limit"
    # /proc is closed there, so the size read is the peak: a fresh process's, which holds.
    copies = "l = [0] * 999999\nk = [l[:] for i in range(3000)]"
    assert in_sandbox(copies, restricted=True)["error"] == "memory limit"
    assert in_sandbox("print(sum(x * x for x in range(4)))", restricted=True) == {
        "printed": "14\n",
        "value": "",
        "error": "",
    }


@sandboxed
@pytest.mark.parametrize(
    "slow",
    [
        "import re\nprint(re.match(r'(a+)+$', 'a' * 60 + 'b'))",
        "a = []\nfor i in range(40):\n    a = [a, a]\nprint(len(str(a)))",
    ],
    ids=["backtracking", "shared-nesting"],
)
def test_what_no_in_process_limit_bounds_is_stopped_by_the_sandbox(slow: str) -> None:
    """One C call that runs for ever: a backtracking pattern, a self-sharing structure shown."""
    assert admit(slow) == ""
    started = time.monotonic()
    first, after = each_in_sandbox([slow, "print(6 * 7)"], restricted=True)
    assert "reported nothing (stopped after" in first["error"], first
    assert after["error"], after  # the sandbox stopped: what came after never ran
    assert time.monotonic() - started < 20


@sandboxed
@pytest.mark.parametrize(
    "source",
    [
        f"print(open({str(Path(__file__).resolve())!r}).read()[:20])",
        "import os\nprint(os.listdir('/root'))",
        "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)\nprint(29)",
        "import os\nos.system('echo 29')",
        "import subprocess\nprint(subprocess.check_output(['id']))",
    ],
)
def test_hostile_programs_run_with_run_code_are_contained(source: str) -> None:
    ran = in_sandbox(source, restricted=False)
    assert ran["error"], ran
    assert "29" not in ran["printed"]


@sandboxed
def test_a_runaway_program_with_run_code_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(program_module, "_SANDBOX_SECONDS", 2.0)
    started = time.monotonic()
    ran = in_sandbox("x = []\nwhile True:\n    x.append(' ' * 10 ** 6)", restricted=False)
    assert ran["error"] and time.monotonic() - started < 10
