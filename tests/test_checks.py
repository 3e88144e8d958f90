"""Verified evidence: arithmetic by a calculator, stated constraints and code examples by code.

Each loop test pairs the evidence with a critic that would have let the error through, so the
test fails if the check is taken away.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent import areflect, cli
from agent.checks import line_of, run_checks, summary
from agent.checks.calculator import arithmetic_checks, evaluate
from agent.checks.code import code_checks, examples
from agent.sandbox import isolation
from tests.scripted import ScriptedChatModel

sandboxed = pytest.mark.skipif(isolation().backend is None, reason="no kernel isolation here")

Q = "Tom has 3 bags of 12 apples and eats 7. How many apples are left?"


def scripted(generator: list[Any], critic: list[Any] | None = None) -> ScriptedChatModel:
    return ScriptedChatModel(script={"generator": list(generator), "critic": list(critic or [])})


def roles(model: ScriptedChatModel) -> list[str]:
    return [role for role, _ in model.calls]


# -- the calculator -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("\\[ 3 \\times 12 = 38 \\]", [("3 × 12 = 38", False, "3 × 12 = 36")]),
        ("3 × 12 = 36, then 36 − 7 = 29", [("3 × 12 = 36", True, ""), ("36 - 7 = 29", True, "")]),
        ("15% of 80 = 12", [("15% of 80 = 12", True, "")]),
        ("25% of $40 is 0.25 × 40 = $12.", [("0.25 × 40 = 12", False, "0.25 × 40 = 10")]),
        (
            "\\frac{36}{4} = 9 and 2^10 = 1024",
            [("36 / 4 = 9", True, ""), ("2^10 = 1024", True, "")],
        ),
        ("10 / 3 = 3.33 and 2/3 = 0.67", [("10 / 3 = 3.33", True, ""), ("2 / 3 = 0.67", True, "")]),
        ("1,000 + 250 = 1,250.", [("1000 + 250 = 1250", True, "")]),
        ("(3 + 4) x 2 = 14", [("(3 + 4) × 2 = 14", True, "")]),
        ("Total = 5 + 4 = 9", [("5 + 4 = 9", True, "")]),
        (
            "\\[ 6 \\text{ rows} \\times 7 \\text{ eggs} = 41 \\text{ eggs} \\]",
            [("6 × 7 = 41", False, "6 × 7 = 42")],
        ),
    ],
)
def test_the_calculator_reads_steps_and_states_the_right_value(
    text: str, steps: list[tuple[str, bool, str]]
) -> None:
    found = [(c["name"], c["passed"], c["detail"]) for c in arithmetic_checks(text)]
    assert found == steps


@pytest.mark.parametrize(
    "text",
    [
        "12 eggs * 3 = 36 eggs",  # words inside the expression: not a pure step
        "x = 5, so y = 2x",
        "On 2023-10-05 = the date",
        "It starts at 3:30 = half past three",
        "The answer is 18.",
    ],
)
def test_the_calculator_leaves_what_is_not_arithmetic_alone(text: str) -> None:
    assert arithmetic_checks(text) == []


def test_the_evaluator_takes_numbers_and_operators_only() -> None:
    assert evaluate("(15/100)*80") == 12.0
    for hostile in ("__import__('os').system('true')", "open('x')", "2**10**10", "1/0", "a+1"):
        assert evaluate(hostile) is None


def test_check_lines_read_like_reflections() -> None:
    wrong = arithmetic_checks("3 × 12 = 38")[0]
    assert line_of(wrong) == "✗ 3 × 12 = 38 (is 36)"
    right = arithmetic_checks("3 × 12 = 36")[0]
    assert line_of(right) == "✓ 3 × 12 = 36"
    many = arithmetic_checks("1 + 1 = 2, 2 + 2 = 4, 3 + 3 = 6, 4 + 4 = 8")
    assert summary(many) == ["✓ 4 checks hold (calculator)"]


# -- the critique loop with evidence --------------------------------------------------------


async def test_a_wrong_step_is_revised_even_when_the_critic_says_pass() -> None:
    wrong = "3 × 12 = 38 apples, and 38 - 7 = 31.\n\nSo 31 apples are left."
    fixed = "3 × 12 = 36 apples, and 36 - 7 = 29.\n\nSo 29 apples are left."
    model = scripted([wrong, fixed], ["VERDICT: PASS", "VERDICT: PASS"])
    result = await areflect(Q, model=model, strategy="critique")
    # The draft's critique came from the calculator: the critic was not asked about it.
    assert roles(model) == ["generator", "generator", "critic"]
    assert result.critiques[0]["by"] == "checks"
    assert result.critiques[0]["error"] == "✗ 3 × 12 = 38 (is 36)"
    revise_prompt = model.calls[1][1][-1].content
    assert "✗ 3 × 12 = 38 (is 36)" in revise_prompt and wrong in revise_prompt
    assert (result.output, result.stop_reason) == (fixed, "accepted")
    assert result.reflections == ["✓ 3 × 12 = 36", "✓ 36 - 7 = 29", "✗ 3 × 12 = 38 (is 36)"]


async def test_a_revision_that_repeats_the_flagged_answer_without_its_steps_fixes_nothing() -> None:
    wrong = "3 × 12 = 38 apples, and 38 - 7 = 31.\n\nSo 31 apples are left."
    restated = "31 apples are left."  # nothing left for the calculator to check
    model = scripted([wrong, restated], ["VERDICT: PASS"])
    result = await areflect(Q, model=model, strategy="critique")
    # The finding stands for the restated answer, so the draft with its work is returned,
    # its wrong step still shown; the critic was never asked.
    assert roles(model) == ["generator", "generator"]
    assert result.drafts[1]["checks"][0]["name"] == "3 × 12 = 38"
    assert (result.output, result.chosen, result.stop_reason) == (wrong, 0, "converged")
    assert "✗ 3 × 12 = 38 (is 36)" in result.reflections


async def test_a_sample_revised_into_the_same_flagged_answer_is_not_a_fix() -> None:
    wrong = "3 × 12 = 38 apples, and 38 - 7 = 31.\n\nSo \\boxed{31}."
    model = scripted([wrong, wrong, wrong, "So \\boxed{31}."])
    result = await areflect(Q, model=model, samples=3, max_samples=3)
    assert (result.chosen, result.stop_reason) == (0, "checked")


async def test_the_critic_sees_what_the_calculator_verified() -> None:
    right = "3 × 12 = 36 apples, and 36 - 7 = 29.\n\nSo 29 apples are left."
    model = scripted([right], ["VERDICT: PASS"])
    await areflect(Q, model=model, strategy="critique")
    critic_prompt = model.calls[1][1][-1].content
    assert "Verified by a program:\n✓ 3 × 12 = 36\n✓ 36 - 7 = 29" in critic_prompt


async def test_a_constraint_the_critic_misses_is_caught_and_fixed() -> None:
    question = "Describe the moon in one sentence. Include the keyword crater."
    lacking = "The moon, our nearest neighbour, is bright."
    with_it = "The moon is bright and marked by many a crater."
    model = scripted([lacking, with_it], ["VERDICT: PASS"])
    result = await areflect(question, model=model, strategy="critique")
    assert result.critiques[0]["error"] == "✗ includes crater: lacks 'crater'"
    assert result.output == with_it
    assert result.checks[1]["name"] == "includes crater" and result.checks[1]["passed"]


async def test_a_revision_that_fails_more_checks_is_never_returned() -> None:
    question = "Describe the moon in one sentence. Include the keyword crater."
    draft = "The moon, our neighbour, is bright."  # no crater
    worse = "The moon is bright. It glows, too."  # no crater and two sentences: two checks fail
    model = scripted([draft, worse, worse], ["VERDICT: REVISE\nERROR: shorten it"])
    result = await areflect(question, model=model, strategy="critique", max_rounds=2)
    assert result.output == draft and result.chosen == 0


async def test_a_think_tag_between_two_steps_raises_no_false_alarm() -> None:
    # An R1-style reply: the closing tag sits between "17." and "17 × 23"; joined, they
    # read "17.17 × 23" and every sample would fail the calculator.
    reply = "391 / 23 = 17.</think>17 × 23 = 391, so the answer is \\boxed{17}."
    model = ScriptedChatModel(script={"generator": [], "critic": []}, default={"generator": reply})
    result = await areflect("What is 391 / 23?", model=model, samples=3, max_samples=3)
    names = [(c["name"], c["passed"]) for d in result.drafts for c in d["checks"]]
    assert names and all(passed for _, passed in names), names
    assert ("17 × 23 = 391", True) in names
    assert result.stop_reason == "agreed" and len(result.drafts) == 3


async def test_checks_are_streamed_as_events() -> None:
    from agent import create_reflection_graph

    model = scripted(["3 × 12 = 38.\n\nSo 31.", "3 × 12 = 36.\n\nSo 29."], ["VERDICT: PASS"])
    app = create_reflection_graph(model, strategy="critique").compile()
    events = [e async for e in app.astream({"question": Q}, stream_mode="custom")]
    checks = [e for e in events if e["event"] == "check"]
    assert checks[0] == {
        "event": "check",
        "draft": 0,
        "kind": "calculator",
        "name": "3 × 12 = 38",
        "passed": False,
        "detail": "3 × 12 = 36",
        "line": "✗ 3 × 12 = 38 (is 36)",
    }
    assert checks[1]["draft"] == 1 and checks[1]["passed"]


def test_the_cli_shows_evidence_as_reflection_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    model = scripted(["3 × 12 = 38.\n\nSo 31.", "3 × 12 = 36.\n\nSo 29."], ["VERDICT: PASS"])
    monkeypatch.setattr(cli, "resolve_model", lambda *a, **k: model)
    result = CliRunner().invoke(cli.app, ["ask", Q, "--strategy", "critique"])
    assert result.exit_code == 0, result.output
    assert "✗ 3 × 12 = 38 (is 36)" in result.stdout
    assert "⟲ reflection 1: REVISE: ✗ 3 × 12 = 38 (is 36)" in result.stdout


# -- code answers, only with run_code ---------------------------------------------------------

CODE_Q = '''Complete this function:

```python
def add(a, b):
    """Add two numbers.
    >>> add(2, 3)
    5
    """
```'''
BROKEN = "```python\ndef add(a, b):\n    return a - b\n```"
FIXED = "```python\ndef add(a, b):\n    return a + b\n```"


def test_examples_come_from_the_question_and_the_answer() -> None:
    answer = "```python\ndef add(a, b):\n    return a + b\n\nassert add(1, 1) == 2\n```"
    assert examples(CODE_Q, answer) == [
        ("doctest", "add(2, 3)", "5"),
        ("assert", "assert add(1, 1) == 2", ""),
    ]


def test_code_examples_run_in_the_sandbox_and_say_what_came_back() -> None:
    [failed] = code_checks(CODE_Q, BROKEN)
    assert (failed["name"], failed["passed"], failed["detail"]) == (
        "add(2, 3) → 5",
        False,
        "returned -1",
    )
    assert [c["passed"] for c in code_checks(CODE_Q, FIXED)] == [True]
    crashed = code_checks(CODE_Q, "```python\ndef add(a, b):\n    raise ValueError('no')\n```")
    assert crashed[0]["detail"] == "ValueError: no"


async def test_run_code_turns_a_failing_example_into_a_revision() -> None:
    model = scripted([BROKEN, FIXED], ["VERDICT: PASS", "VERDICT: PASS"])
    result = await areflect(CODE_Q, model=model, strategy="critique", run_code=True)
    assert result.critiques[0]["by"] == "checks"
    assert "✗ add(2, 3) → 5: returned -1" in result.critiques[0]["error"]
    assert result.output == FIXED


OUTSIDE = (
    "```python\nimport os\n\ndef add(a, b):\n    os.system('touch /tmp/pwned')\n"
    "    return a + b\n```"
)


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("model code was run outside the safe subset without run_code")


async def test_without_run_code_code_outside_the_safe_subset_never_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import agent.checks.code

    monkeypatch.setattr(agent.checks.code, "run_steps", _refuse)
    monkeypatch.setattr(agent.checks.code, "each_in_sandbox", _refuse)
    assert code_checks(CODE_Q, OUTSIDE, run_code=False) == []
    model = scripted([OUTSIDE], ["VERDICT: PASS"])
    result = await areflect(CODE_Q, model=model, strategy="critique")
    assert result.output == OUTSIDE and result.checks == []


def test_without_run_code_safe_code_runs_its_examples_in_the_evaluator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import agent.checks.code

    monkeypatch.setattr(agent.checks.code, "run_steps", _refuse)  # never the plain interpreter
    [failed] = code_checks(CODE_Q, BROKEN, run_code=False)
    assert (failed["name"], failed["passed"], failed["detail"]) == (
        "add(2, 3) → 5",
        False,
        "returned -1",
    )
    typed = (
        "```python\nfrom typing import List\n\ndef total(xs: List[int]) -> int:\n"
        "    print('adding')\n    return sum(xs)\n\nassert total([1, 2]) == 4\n```"
    )
    question = "Write total(xs).\n\nFor example:\n    total([1, 2, 3]) ==> 6\n    total([]) ==> 0\n"
    assert [(c["name"], c["passed"]) for c in code_checks(question, typed, run_code=False)] == [
        ("total([1, 2, 3]) → 6", True),
        ("total([]) → 0", True),
        ("assert total([1, 2]) == 4", False),
    ]
    strings = "```python\ndef shout(s):\n    return s.upper() if s.isalpha() else None\n```"
    asked = "shout('hi') == 'HI'\nshout('1') == None\nshout('x') ➞ 'y'"
    assert [c["passed"] for c in code_checks(asked, strings, run_code=False)] == [True, True, False]


def test_without_kernel_isolation_safe_code_does_not_run_either(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import agent.checks.code
    from agent.sandbox import Isolation

    monkeypatch.setattr(agent.checks.code, "isolation", lambda: Isolation(None, (), "none"))
    monkeypatch.setattr(agent.checks.code, "each_in_sandbox", _refuse)
    assert code_checks(CODE_Q, BROKEN, run_code=False) == []


def test_an_example_outside_the_safe_subset_is_not_run_by_default() -> None:
    hostile = "add(().__class__.__base__, 1) ==> 5\nadd(open('/etc/passwd'), 1) ==> 5\n"
    assert code_checks(hostile, FIXED, run_code=False) == []


def test_safe_code_cannot_forge_or_escape_its_examples() -> None:
    forged = "```python\ndef add(a, b):\n    print([5])\n    return a - b\n```"
    [check] = code_checks(CODE_Q, forged, run_code=False)
    assert (check["passed"], check["detail"]) == (False, "returned -1")
    endless = "```python\ndef add(a, b):\n    while True:\n        a += 1\n```"
    [check] = code_checks(CODE_Q, endless, run_code=False)
    assert (check["passed"], check["detail"]) == (False, "step limit")
    escape = "```python\ndef add(a, b):\n    return ().__class__.__bases__[0].__subclasses__()\n```"
    assert code_checks(CODE_Q, escape, run_code=False) == []


def test_python_code_that_does_not_parse_fails_a_check_without_running() -> None:
    cut = '```python\ndef add(a, b):\n    """Add them.\n    return a +'
    [check] = code_checks(CODE_Q, cut, run_code=False)
    assert (check["name"], check["passed"]) == ("the code parses", False)
    assert "line 2" in check["detail"]
    ruby = "```ruby\ndef add(a, b)\n  a + b\nend\n```"  # not Python: no verdict on it
    assert code_checks(CODE_Q, ruby, run_code=False) == []


def test_safe_code_may_raise_and_the_example_fails_with_the_error() -> None:
    strict = (
        "```python\ndef add(a, b):\n    if a > 1:\n        raise ValueError('too big')\n"
        "    return a + b\n```"
    )
    [check] = code_checks(CODE_Q, strict, run_code=False)
    assert (check["passed"], check["detail"]) == (False, "ValueError: too big")


def test_stated_examples_are_read_only_when_they_are_a_call_and_a_value() -> None:
    question = (
        "tri(n) = tri(n - 1) + tri(n - 2), if n is odd.\n"
        "tri(4) = 3\n"  # "=" defines mathematics for tri: the sequence, not what tri returns
        "is_simple_power(3, 2) => false\n"  # not a Python value: not an example
        "valid_date('15-01-2012') => False\n"
        "    >>> fix_spaces(' Example   3') == '_Example-3'\n"
    )
    assert examples(question, "") == [
        ("doctest", "valid_date('15-01-2012')", "False"),
        ("doctest", "fix_spaces(' Example   3')", "'_Example-3'"),
    ]


CHALLENGE_Q = '''Complete this function.

def total(lst, k):
    """Sum the first k items of lst.

    Example 1:
        Input: lst = [1, 2, 3], k = 2
        Output: 3

    For lst = [5, 5], k = 1 the output should be 5.
    * total([4], 1) -> 4
    total([1, 1], 2) = 2
    for total([], 0) == 0
    total([7, 1], 1)  # returns 7 (the first)
    total(xs, 1) => 7
    other([1], 1) => 1
    """
'''
TOTAL = "```python\ndef total(lst, k):\n    return sum(lst[:k])\n```"
READ_IN_WORDS = [
    ("doctest", "total([4], 1)", "4"),
    ("doctest", "total([1, 1], 2)", "2"),
    ("doctest", "total([], 0)", "0"),
    ("doctest", "total([7, 1], 1)", "7"),
    ("doctest", "total(lst=[5, 5], k=1)", "5"),
    ("doctest", "total(lst=[1, 2, 3], k=2)", "3"),
]


def test_a_doctest_s_trailing_comment_is_not_part_of_its_call() -> None:
    question = ">>> round(half(3), 2) # f(x) = x / 2\n1.5\n>>> half('#')  # a string\n'#'\n"
    assert examples(question, "") == [
        ("doctest", "round(half(3), 2)", "1.5"),
        ("doctest", "half('#')", "'#'"),
    ]


def test_examples_laid_out_as_coding_challenges_state_them_are_read() -> None:
    """Arrows, "=", "# returns", "For x = … the output should be", Input:/Output: lines.

    Not read: a call with a name for an argument (``total(xs, 1)``), and one of a function
    the answer does not define (``other``).
    """
    assert examples(CHALLENGE_Q, TOTAL) == READ_IN_WORDS


def test_examples_by_name_need_the_answer_s_own_function_with_those_names() -> None:
    renamed = "```python\ndef total(items, k):\n    return sum(items[:k])\n```"
    by_name = [e for e in READ_IN_WORDS if "=" in e[1]]
    assert [e for e in examples(CHALLENGE_Q, renamed) if e in by_name] == []
    # A LeetCode-style class: no top-level function to call, so nothing to run.
    leetcode = "```python\nclass Solution:\n    def total(self, lst, k):\n        return 0\n```"
    assert examples(CHALLENGE_Q, leetcode) == []
    # A bare input calls the function the question defines.
    question = "def twice(n):\n    pass\n\nInput: 3\nOutput: 6\n"
    helper = "```python\ndef helper(n):\n    return n\n\ndef twice(n):\n    return 2 * n\n```"
    assert examples(question, helper) == [("doctest", "twice(3)", "6")]


@sandboxed
def test_examples_read_in_words_fail_a_wrong_answer_by_default() -> None:
    wrong = "```python\ndef total(lst, k):\n    return sum(lst)\n```"
    failed = [c["name"] for c in code_checks(CHALLENGE_Q, wrong, run_code=False) if not c["passed"]]
    assert failed == [
        "total([7, 1], 1) → 7",
        "total(lst=[5, 5], k=1) → 5",
        "total(lst=[1, 2, 3], k=2) → 3",
    ]
    assert all(c["passed"] for c in code_checks(CHALLENGE_Q, TOTAL, run_code=False))


@sandboxed
def test_code_using_the_admitted_modules_has_its_examples_run_by_default() -> None:
    question = (
        "Write top_word(text): the most common word, lowercased.\n"
        "top_word('The cat and the hat') => 'the'\ntop_word('a b b') => 'b'\n"
    )
    right = (
        "```python\nimport re\nfrom collections import Counter\n\ndef top_word(text):\n"
        "    try:\n        words = re.findall(r'[a-z]+', text.lower())\n"
        "    except TypeError:\n        return ''\n"
        "    return Counter(words).most_common(1)[0][0]\n```"
    )
    wrong = right.replace("text.lower()", "text")
    assert [c["passed"] for c in code_checks(question, right, run_code=False)] == [True, True]
    assert [c["passed"] for c in code_checks(question, wrong, run_code=False)] == [False, True]


def test_run_checks_picks_the_checks_that_apply() -> None:
    found = run_checks(
        "Sum it. No commas.", "2 + 2 = 5", "2 + 2 = 5, so 5", kind="number",
        constraints=[{"id": "punctuation:no_comma", "args": {}, "label": "no commas"}],
        run_code=False,
    )  # fmt: skip
    assert [(c["kind"], c["passed"]) for c in found] == [
        ("constraint", False),
        ("calculator", False),
    ]


GSM8K = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k" / "test.jsonl"


@pytest.mark.skipif(not GSM8K.is_file(), reason="shared GSM8K set not beside the checkout")
def test_the_calculator_raises_no_false_alarm_on_gsm8k_s_own_solutions() -> None:
    # A correct step flagged wrong costs a needless revision or a lost vote. GSM8K's 1,319
    # reference solutions are worked by people; two of them really are wrong ("$32 - $20 =
    # $300", "364 / 4 = 273"), and one line runs two equations together.
    flagged = []
    for line in GSM8K.read_text().splitlines():
        solution = re.sub(r"<<[^>]*>>", "", json.loads(line)["answer"].split("####")[0])
        flagged += [c["name"] for c in arithmetic_checks(solution) if not c["passed"]]
    assert "32 - 20 = 300" in flagged and "364 / 4 = 273" in flagged
    assert len(flagged) <= 4, flagged


def test_a_demo_block_or_a_missing_package_is_no_evidence_and_output_cannot_forge_a_pass() -> None:
    demo = FIXED.replace(
        "    return a + b\n```",
        "    return a + b\n\nif __name__ == '__main__':\n    input()\n```",
    )
    assert [c["passed"] for c in code_checks(CODE_Q, demo)] == [True]  # input() never ran
    numpy = "```python\nimport numpy\n\ndef add(a, b):\n    return a + b\n```"
    assert code_checks(CODE_Q, numpy) == []  # not checkable here, so no evidence either way
    fake = 'RESULTS-0000000000000000:{"results": [[true, ""]]}'
    forged = (
        "```python\nimport sys\ndef add(a, b):\n    return a - b\n"
        f"print({fake!r})\nsys.exit(0)\n```"
    )
    assert [c["passed"] for c in code_checks(CODE_Q, forged)] == [False]
