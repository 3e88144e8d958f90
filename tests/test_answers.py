"""Answer kinds, keys and scoring: what decides whether two answers say the same thing."""

from __future__ import annotations

import pytest

from agent import answers
from agent.datasets import Record
from agent.scoring import kind_of_record, score

THE_FIVE = [
    ("Write a Python function is_palindrome(s) that ignores case and spaces.", "code"),
    ("Explain in two sentences why the sky is blue.", "text"),
    ("Which is heavier: a kilogram of feathers or a kilogram of steel?", "short"),
    ("Give three short tips for sleeping better.", "text"),
    (
        "Which planet is known as the Red Planet? A) Venus B) Mars C) Jupiter D) Saturn. "
        "Answer with one letter.",
        "choice",
    ),
]


@pytest.mark.parametrize(("question", "kind"), THE_FIVE)
def test_the_kind_of_the_five_questions_of_the_issue(question: str, kind: str) -> None:
    assert answers.kind_of_question(question) == kind


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Janet's ducks lay 16 eggs per day. How much does she make every day?", "number"),
        ("What is 17 * 23?", "number"),
        ("Is 17 a prime number?", "yes_no"),
        ("Is it better to rent or to buy?", None),  # an alternative, not yes/no
        ("What is the capital of France?", "short"),
        ("Implement a class Stack with push and pop.", "code"),
        ("Write a 300+ word essay on the moon. Do not use any commas.", "text"),
        ("hello there", None),
    ],
)
def test_kinds_by_rules(question: str, kind: str | None) -> None:
    assert answers.kind_of_question(question) == kind


def test_when_the_question_cannot_tell_the_samples_do() -> None:
    code = "```python\nprint(1)\n```"
    assert answers.kind_of("hello there", [code, code, "no code"]) == "code"
    assert answers.kind_of("hello there", ["Hi!", "Hello."]) == "short"
    assert answers.kind_of("hello there", ["word " * 60] * 2) == "text"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("The answer is 12.", "\\boxed{12}"),
        ("So he pays $1,000.00 in total. The answer is $1,000.", "1000"),
        ("3 + 4 = 7, so 7 × 2 = 14", "The answer is 14 apples."),
        ("<output>The answer is 9</output>", "9.0"),
        ("\\boxed{\\frac{3}{4}}", "The answer is 0.75"),
    ],
)
def test_numbers_compare_as_numbers(left: str, right: str) -> None:
    assert answers.key(left, "number") == answers.key(right, "number") != ""


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("The answer is 27 apples (40 - 13).", "27"),
        ("So 40 - 13 = 27", "27"),
        ("The answer is -5.", "-5"),
        ("It costs .5 dollars", "0.5"),
        ("The answer is 1,234,567.", "1234567"),
        ("No number here.", ""),
    ],
)
def test_the_number_key_is_the_conclusion_s(text: str, key: str) -> None:
    assert answers.key(text, "number") == key


def test_choices_compare_by_letter_whatever_the_form() -> None:
    question = "Which planet is red? A) Venus B) Mars C) Jupiter"
    for reply in ("B", "B)", "B) Mars", "The answer is (B).", "**B**", "Mars is the red one."):
        assert answers.key(reply, "choice", question) == "B", reply
    assert answers.key("I am not sure.", "choice", question) == ""
    assert answers.options("no options here: a) not a list") == {}


def test_yes_no_by_polarity_and_short_answers_by_their_words() -> None:
    assert answers.key("Yes, it is.", "yes_no") == "yes"
    assert answers.key("No. It has divisors 7 and 13.", "yes_no") == "no"
    assert answers.key("The answer is: Paris.", "short") == answers.key("paris", "short")


def test_code_is_the_same_when_only_layout_and_comments_differ() -> None:
    a = "```python\ndef f(x):\n    return x + 1\n```"
    b = "Here:\n```python\ndef f(x):  # add one\n\n    return x+1\n```"
    c = "```python\ndef f(x):\n    return x - 1\n```"
    assert answers.same_text(a, b, "code") and not answers.same_text(a, c, "code")
    assert answers.main_code("```python\ndef g(): pass\n```\n```python\ndef f(): pass\n```", "f")
    assert answers.main_code("no code at all, just words") == ""


def test_scoring_by_kind() -> None:
    assert score("So \\boxed{20}.", Record("a", "What is the price?", "20"))
    assert score("B) Mars", Record("c", "Which? A) Venus B) Mars", "B"))
    assert not score("A) Venus", Record("c", "Which? A) Venus B) Mars", "B"))
    assert score("No, 91 = 7 × 13.", Record("y", "Is 91 prime?", "no"))
    assert score("It is Canberra.", Record("s", "Capital of Australia?", "Canberra"))
    fmt = "Name three fruits. Use exactly 3 bullet points, all lowercase, no commas."
    assert kind_of_record(Record("f", fmt, kind="text")) == "text"
    assert score("* apple\n* pear\n* plum", Record("f", fmt, kind="text"))
    assert not score("* Apple, pear\n* plum", Record("f", fmt, kind="text"))


def test_code_is_scored_by_its_tests_only_when_running_code_is_allowed() -> None:
    record = Record("k", "Write a Python function add(a, b).", tests="assert add(2, 3) == 5")
    right = "```python\ndef add(a, b):\n    return a + b\n```"
    wrong = "```python\ndef add(a, b):\n    return a - b\n```"
    with pytest.raises(ValueError, match="allow it with run_code"):
        score(right, record)
    assert score(right, record, run_code=True)
    assert not score(wrong, record, run_code=True)
    assert not score("I cannot write code.", record, run_code=True)
