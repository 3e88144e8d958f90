"""Instructions read out of questions, and the plain-code checks of answers against them."""

import collections
import math
from collections.abc import Callable
from typing import Any

import pytest

from agent.checks.instructions import (
    _REPAIRS,
    CHECKERS,
    INSTRUCTIONS,
    Constraint,
    check,
    extract,
    repair,
)
from agent.checks.instructions.counting import items_of
from tests import ifeval

# (constraint id, question, args it must extract, an answer that passes, one that fails, the
# failure's detail).
CASES = [
    (
        "punctuation:no_comma",
        "Describe Paris. Do not use any commas in your response.",
        {},
        "Paris is lovely.",
        "Paris, France, is lovely.",
        "2 commas; none allowed",
    ),
    (
        "change_case:english_lowercase",
        "Your entire response should be in English, and in all lowercase letters.",
        {},
        "all quiet here.",
        "All quiet in Paris.",
        "2 capital letters (All, Paris); all lowercase asked",
    ),
    (
        "change_case:english_capital",
        "Write a rant about traffic in all capital letters.",
        {},
        "STOP THE CARS!",
        "STOP the cars!",
        "7 lowercase letters (the, cars); all capitals asked",
    ),
    (
        "length_constraints:number_words",
        "Write a poem about the sea. Answer with at least 5 words.",
        {"relation": "at least", "n": 5},
        "The sea is wide and deep.",
        "The sea.",
        "2 words; at least 5 asked",
    ),
    (
        "length_constraints:number_sentences",
        "Explain tides. Your response should contain less than 3 sentences.",
        {"relation": "less than", "n": 3},
        "The moon pulls. The sea follows.",
        "Mr. Moon pulls. The sea follows. It ebbs.",
        "3 sentences; less than 3 asked",
    ),
    (
        "length_constraints:number_paragraphs",
        "Write exactly 3 paragraphs. Separate paragraphs with the markdown divider: ***",
        {"relation": "exactly", "n": 3, "divider": "***"},
        "One.\n***\nTwo.\n***\nThree.",
        "One.\n***\nTwo.",
        "2 paragraphs separated by ***; exactly 3 asked",
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        "Write exactly 2 paragraphs separated by two new lines. "
        'The second paragraph must start with the word "Finally".',
        {"nth": 2, "word": "Finally"},
        "It began.\n\nFinally, it ended.",
        "It began.\n\nThen it ended.",
        "paragraph 2 starts with 'then'; 'Finally' asked",
    ),
    (
        "detectable_format:number_bullet_lists",
        "Your answer must contain exactly 2 bullet points. Use the markdown bullet points.",
        {"relation": "exactly", "n": 2},
        "* one\n- two",
        "* one\n* two\n* three",
        "3 bullet points; exactly 2 asked",
    ),
    (
        "detectable_format:number_items",
        "Give three short tips for sleeping better.",
        {"relation": "exactly", "n": 3},
        "Here are three:\n\n1. **Keep a schedule**: same bedtime.\n   - weekends too\n2. No "
        "screens.\n3. A cool room.",
        "1. Keep a schedule.\n2. No screens.\n3. A cool room.\n4. No coffee late.",
        "4 items listed; exactly 3 asked",
    ),
    (
        "detectable_format:number_highlighted_sections",
        "Highlight at least 2 sections in your answer with markdown, i.e. *highlighted section*.",
        {"relation": "at least", "n": 2},
        "Both *this* and **that**.",
        "Only *this*.",
        "1 *highlighted* section; at least 2 asked",
    ),
    (
        "detectable_content:number_placeholders",
        "Write a letter with at least 2 placeholders represented by square brackets, such as "
        "[address].",
        {"relation": "at least", "n": 2},
        "Dear [name], see you at [place].",
        "Dear [name].",
        "1 [placeholder]; at least 2 asked",
    ),
    (
        "detectable_format:multiple_sections",
        "Your response must have 3 sections. Mark the beginning of each section with SECTION X.",
        {"relation": "at least", "n": 3, "marker": "SECTION"},
        "SECTION 1\na\nSECTION 2\nb\nSECTION 3\nc",
        "SECTION 1\na\nSECTION 2\nb",
        "2 sections marked SECTION X; at least 3 asked",
    ),
    (
        "detectable_format:title",
        "Write a poem with a title wrapped in double angular brackets, i.e. <<title>>.",
        {},
        "<<Sea>>\nWaves.",
        "Sea\nWaves.",
        "no title in <<double angular brackets>>",
    ),
    (
        "detectable_content:postscript",
        "At the end of your response, please explicitly add a postscript starting with P.P.S",
        {"marker": "P.P.S"},
        "Hello.\n\nP.P.S. Bye.",
        "Hello.\n\nP.S. Bye.",
        "no postscript starting with P.P.S",
    ),
    (
        "detectable_format:json_format",
        "List three colors. Wrap your entire output in JSON format.",
        {},
        '```json\n{"colors": ["red", "blue", "green"]}\n```',
        "colors: red, blue, green",
        "not valid JSON (Expecting value)",
    ),
    (
        "startend:end_checker",
        'Write a haiku. Finish your response with this exact phrase "Any other questions?". '
        "No other words should follow this phrase.",
        {"phrase": "Any other questions?"},
        'Snow falls.\nAny other questions?"',
        "Snow falls.\nAny other questions? Bye.",
        "ends with 'other questions? Bye.'; 'Any other questions?' asked",
    ),
    (
        "combination:repeat_prompt",
        "Write a haiku about snow.\nFirst repeat the request word for word without change, "
        "then give your answer.",
        {"phrase": "Write a haiku about snow."},
        "Write a haiku about snow.\nSnow falls.",
        "Snow falls.",
        "starts with 'Snow falls.'; 'Write a haiku about snow.' asked",
    ),
    (
        "startend:start_checker",
        'Write a toast. Start your response with "Cheers to".',
        {"phrase": "Cheers to"},
        "Cheers to the bride!",
        "To the bride, cheers!",
        "starts with 'To the bride, cheers!'; 'Cheers to' asked",
    ),
    (
        "startend:quotation",
        "Write a slogan. Wrap your entire response with double quotation marks.",
        {},
        '"Buy now."',
        "Buy now.",
        "not wrapped in double quotation marks",
    ),
    (
        "combination:two_responses",
        "Give two different responses. Responses and only responses should be separated by 6 "
        "asterisk symbols: ******.",
        {},
        "Yes.\n******\nNo.",
        "Yes.\n******\nYes.",
        "the two responses are the same; two different ones asked",
    ),
    (
        "keywords:forbidden_words",
        "Describe a storm. Do not include keywords 'rain' or 'wind' in the response.",
        {"words": ["rain", "wind"]},
        "Thunder rolls. Rainbows follow.",
        "Rain and thunder.",
        "uses 'rain'",
    ),
    (
        "keywords:existence",
        "Write a tweet. Include the keywords 'launch' and 'rocket'.",
        {"words": ["launch", "rocket"]},
        "Rocket launch today!",
        "Launch today!",
        "lacks 'rocket'",
    ),
    (
        "keywords:frequency",
        "What happened in the Tang dynasty? Make sure to use the word war at least 3 times.",
        {"word": "war", "relation": "at least", "n": 3},
        "War, war and more war.",
        "War and peace.",
        "1 time 'war'; at least 3 asked",
    ),
    (
        "keywords:letter_frequency",
        "Write a short song without using the letter e.",
        {"letter": "e", "relation": "exactly", "n": 0},
        "A song of joy.",
        "A song of cheer.",
        "2 times the letter 'e'; none allowed",
    ),
    (
        "change_case:capital_word_frequency",
        "Write a pitch. Words with all capital letters should appear at least 2 times.",
        {"relation": "at least", "n": 2},
        "BUY this NOW.",
        "Buy this NOW.",
        "1 word in all capitals; at least 2 asked",
    ),
    (
        "detectable_format:constrained_response",
        "Is the sky blue? Answer with one of the following options: ('My answer is yes.', "
        "'My answer is no.', 'My answer is maybe.')",
        {"options": ["My answer is yes.", "My answer is no.", "My answer is maybe."]},
        "My answer is yes.",
        "Yes.",
        "none of 'My answer is yes.', 'My answer is no.', 'My answer is maybe.'",
    ),
]
IDS = [case[0] for case in CASES]


def _found(question: str, id_: str) -> Constraint:
    matches = [c for c in extract(question) if c["id"] == id_]
    assert matches, f"{id_} not extracted from {question!r}: {extract(question)}"
    return matches[0]


def test_every_checker_has_a_case() -> None:
    assert set(IDS) == set(CHECKERS)


@pytest.mark.parametrize(("id_", "question", "args"), [c[:3] for c in CASES], ids=IDS)
def test_extracts_with_the_right_arguments(id_: str, question: str, args: dict[str, Any]) -> None:
    assert _found(question, id_)["args"] == args


@pytest.mark.parametrize(("id_", "question", "good"), [c[:2] + c[3:4] for c in CASES], ids=IDS)
def test_a_following_answer_passes(id_: str, question: str, good: str) -> None:
    [result] = check(good, [_found(question, id_)])
    assert result == {
        "kind": "constraint",
        "name": _found(question, id_)["label"],
        "passed": True,
        "detail": "",
    }


@pytest.mark.parametrize(
    ("id_", "question", "bad", "detail"), [c[:2] + c[4:] for c in CASES], ids=IDS
)
def test_a_breaking_answer_fails_with_what_is_wrong(
    id_: str, question: str, bad: str, detail: str
) -> None:
    [result] = check(bad, [_found(question, id_)])
    assert (result["passed"], result["detail"]) == (False, detail)


# More phrasings, each with what it must extract: (question, id, args).
PHRASINGS = [
    ("Include the word story at least twice.",
     "keywords:frequency", {"word": "story", "relation": "at least", "n": 2}),
    ("The word sneaker should appear 10 or more times in your response.",
     "keywords:frequency", {"word": "sneaker", "relation": "at least", "n": 10}),
    ("Mention the keyword 'schedule' for more than 5 times.",
     "keywords:frequency", {"word": "schedule", "relation": "more than", "n": 5}),
    ("Write a limerick. Mention the name Sarah only once.",
     "keywords:frequency", {"word": "Sarah", "relation": "at most", "n": 1}),
    ("Please avoid mentioning \"photography\" in your advice.",
     "keywords:frequency", {"word": "photography", "relation": "exactly", "n": 0}),
    ("Do not include the letter \"c\" anywhere in your response.",
     "keywords:letter_frequency", {"letter": "c", "relation": "exactly", "n": 0}),
    ("Avoid using the letter i more than twice.",
     "keywords:letter_frequency", {"letter": "i", "relation": "at most", "n": 2}),
    ("Contain 6 or more exclamation marks \"!\" in your response.",
     "keywords:letter_frequency", {"letter": "!", "relation": "at least", "n": 6}),
    ("Keep your entire response 100 words or less.",
     "length_constraints:number_words", {"relation": "at most", "n": 100}),
    ("Write a 300+ word summary of the page.",
     "length_constraints:number_words", {"relation": "at least", "n": 300}),
    ("Answer in 2-3 sentences.",
     "length_constraints:number_sentences", {"relation": "at least", "n": 2}),
    ("Answer in 2-3 sentences.",
     "length_constraints:number_sentences", {"relation": "at most", "n": 3}),
    ("Keep it under 100 words.",
     "length_constraints:number_words", {"relation": "less than", "n": 100}),
    ("Please include at least 5 words in all capital letters.",
     "change_case:capital_word_frequency", {"relation": "at least", "n": 5}),
    ("Summarize it in 4 bullets.",
     "detectable_format:number_bullet_lists", {"relation": "exactly", "n": 4}),
    ("Italicize at least 3 keywords with markdown, like *this*.",
     "detectable_format:number_highlighted_sections", {"relation": "at least", "n": 3}),
    ("Paragraph 3 must start with the word bonding.",
     "length_constraints:nth_paragraph_first_word", {"nth": 3, "word": "bonding"}),
    ("Answer in lowercase only, no capital letters.", "change_case:english_lowercase", {}),
    ("Make sure to only use capital letters in your entire response.",
     "change_case:english_capital", {}),
    ("Don't use any commas.", "punctuation:no_comma", {}),
    ("Add a P.S. at the end.", "detectable_content:postscript", {"marker": "P.S."}),
    ("Respond only with valid JSON.", "detectable_format:json_format", {}),
    ("List the planets. Respond in JSON with a key \"planets\".",
     "detectable_format:json_format", {}),
    ("Give me a packing list as a bulleted list with exactly 7 items.",
     "detectable_format:number_bullet_lists", {"relation": "exactly", "n": 7}),
    ("Write a limerick where the word \"cat\" appears exactly three times.",
     "keywords:frequency", {"word": "cat", "relation": "exactly", "n": 3}),
    ("End your answer with the word 'Done'.", "startend:end_checker", {"phrase": "Done"}),
    ("The very end of your response should read exactly like: your love, and thanks.",
     "startend:end_checker", {"phrase": "your love, and thanks."}),
    ("Put double quotation marks around your entire response.", "startend:quotation", {}),
    ("Separate the two poems with six asterisks (******).", "combination:two_responses", {}),
    ("Do not mention the words Taylor, Swift, or Together.",
     "keywords:forbidden_words", {"words": ["Taylor", "Swift", "Together"]}),
    ("The word \"rock\" should not appear in your response.",
     "keywords:forbidden_words", {"words": ["rock"]}),
    ("Make sure to include these items: Zelda, Hyrule, Link, Ganon.",
     "keywords:existence", {"words": ["Zelda", "Hyrule", "Link", "Ganon"]}),
    ("Write two ads. Mark the beginning of each ad with Audience 1 and Audience 2.",
     "detectable_format:multiple_sections", {"relation": "at least", "n": 2, "marker": "Audience"}),
    ("First repeat the request below word for word without change, then give your answer.\n\n"
     "Write a joke about cats.",
     "combination:repeat_prompt", {"phrase": "Write a joke about cats."}),
    ("Your answer must contain one of the following phrases:\nMy answer is yes.\nMy answer is no.",
     "detectable_format:constrained_response",
     {"options": ["My answer is yes.", "My answer is no."]}),
    ("Give me 3-5 ideas for dinner.",
     "detectable_format:number_items", {"relation": "at most", "n": 5}),
    ("Please list at least 5 reasons to learn Python.",
     "detectable_format:number_items", {"relation": "at least", "n": 5}),
    ("Suggest four easy ways to save money on groceries.",
     "detectable_format:number_items", {"relation": "exactly", "n": 4}),
    # Asked as a question, or as a need: read where the rest of the request states no count.
    ("What are three ways to save money?",
     "detectable_format:number_items", {"relation": "exactly", "n": 3}),
    ("My teacher said to list 3 reasons. What are 2 more reasons?",
     "detectable_format:number_items", {"relation": "exactly", "n": 2}),
    ("I need 5 ideas for a birthday party.",
     "detectable_format:number_items", {"relation": "exactly", "n": 5}),
    ("Outline 4 steps to start a vegetable garden.",
     "detectable_format:number_items", {"relation": "exactly", "n": 4}),
]  # fmt: skip


@pytest.mark.parametrize(("question", "id_", "args"), PHRASINGS)
def test_reads_other_phrasings(question: str, id_: str, args: dict[str, Any]) -> None:
    found = [c["args"] for c in extract(question) if c["id"] == id_]
    assert args in found, extract(question)


def test_a_range_gives_two_bounds() -> None:
    found = extract('The word "fake" should appear 6 or 7 times in your entire response.')
    assert [(c["args"]["relation"], c["args"]["n"]) for c in found] == [
        ("at least", 6),
        ("at most", 7),
    ]


# Questions that state no checkable instruction, or not the one their words suggest.
NOT_INSTRUCTIONS = [
    ("How many commas are in this sentence?", None),
    ("Write a Python function that reverses a string.", None),
    ("Write a Python function that converts a string to lowercase.", None),
    ("How do I output JSON from a bash script?", None),
    ('Why do people end emails with "Best regards"?', None),
    ('Write a function that checks whether a string ends with "ing".', None),
    ("In SQL, how do I select rows where the name does not include the word 'test'?", None),
    ("My teacher said not to use commas before because. Is that right?", None),
    ("I wrote a 3 paragraph essay; can you check the grammar?", None),
    ('The word "lead" appears 3 times in this sentence; what are its meanings?', None),
    ("Write a C function that prints a line of 6 asterisks.", None),
    ("Name 5 countries that start with the letter B.", None),
    ("How do I highlight text in Markdown?", None),
    ("Write a regex that matches words in all capital letters.", None),
    ("I need a 500-word essay about the French Revolution.", None),
    ("Conclude with a summary: the key points and next steps.", None),
    ("Do not worry about commas.", None),
    ("Explain how to store settings in JSON.", None),
    ("Use lowercase for variable names.", None),
    ("Write a joke. Then write the same joke in all caps.", None),
    ("Rewrite the following 2 sentences in passive voice: The cat sat. The dog ran.", None),
    (
        "Write a 30-line poem. Each line should contain exactly one sentence.",
        "length_constraints:number_sentences",
    ),
    ("Write a paragraph. Do not add any word before that.", "keywords:forbidden_words"),
    (
        "Make sure that words with all capital letters appear less than 4 times.",
        "change_case:english_capital",
    ),
    ("Use words in all caps at least 3 times.", "length_constraints:number_words"),
    # Two lists, another layout, a count the bullet points already state, or a number of
    # things that is no request: no count of items.
    ("Give three pros and three cons of nuclear power.", None),
    ("Provide two arguments for and two against school uniforms.", None),
    ("List 3 features of Python, 3 of Java.", None),
    ("Give five reasons why the sky is blue, in one paragraph.", "detectable_format:number_items"),
    ("Compare cats and dogs: give 3 differences in a markdown table.", None),
    ("Give me 3 tips for sleeping better in a single sentence.", "detectable_format:number_items"),
    ("Mark decided to give 12 books to the library. He had 30 books. How many are left?", None),
    ("A teacher will give 4 tips to each student. There are 5 students. How many tips?", None),
    ('Translate "give me three tips" into French.', None),
    ("Write a story in which the hero must name 3 places he has never seen.", None),
    ("How do I list 3 items in Python?", None),
    ("Write a function that returns 3 examples of primes.", None),
    (
        "Give me three tips for studying as exactly 3 bullet points.",
        "detectable_format:number_items",
    ),
]


@pytest.mark.parametrize(("question", "absent"), NOT_INSTRUCTIONS)
def test_reads_no_instruction_that_is_not_there(question: str, absent: str | None) -> None:
    found = [c["id"] for c in extract(question)]
    assert (found == []) if absent is None else (absent not in found), found


# How many items an answer lays out (``None``: none, given inline), the first it has of:
# numbered headings, "Tip 1:" labels, the first run of a numbered list, first-level bullet
# points up to another list, lines led by a name in bold, code blocks.
LISTS = [
    ("Three:\n1. Sleep.\n   - early\n   - often\n2. Rest.\n3. Walk.\n\nThat is all.", 3),
    ("### 1. Sleep\nEarly.\n### 2. Rest\nOften.", 2),
    ("### 1. Scrambled\n1. crack\n2. whisk\n### 2. Fried\n1. heat\n### 3. Boiled\n1. boil", 3),
    ("Tip 1: Sleep early.\nTip 2: Rest.\n\n### Tip 3\nWalk.", 3),
    ("**Question 1:** Why?\n**Answer:** So.\n**Question 2:** How?\n**Answer:** Thus.", 2),
    ("1) one\n2) two", 2),
    ("1. one\n2. two\n3. three\n\nSources:\n1. a book\n2. a site", 3),
    ("1. one\n\n1. two\n\n1. three", 3),
    ("\n".join(f"{n:>2}. item" for n in range(1, 11)), 10),
    ("- Keep a schedule:\n  1. pick a time\n  2. stick to it\n- No screens\n- Cool room", 3),
    ("- a\n- b\n  - b1\n* c\n\u2022 d", 4),
    ("- a\n- b\n- c\n\nNote:\n- keep it up", 3),
    ("> 1. Sleep.\n> 2. Rest.", 2),
    ("**Atomic Habits** by James Clear: small steps.\n\n**Deep Work**: focus.", 2),
    ("Squares:\n```python\n[x * x for x in r]\n```\nEvens:\n```python\n[x for x in r]\n```", 2),
    ("1. Squares:\n```python\n# 1. not an item\n- 2\n```\n2. Evens.", 2),
    ("**Tips for sleep**\n\nSleep early and rest.", None),
    ("Beloved, Song of Solomon and Sula.", None),
    ("It is 1.5 hours long.\n2.5 hours at most.", None),
    ("Mix 2 cups of flour.\nAdd 3 eggs.", None),
]


@pytest.mark.parametrize(("answer", "n"), LISTS)
def test_counts_the_items_an_answer_lists(answer: str, n: int | None) -> None:
    assert items_of(answer) == n


def test_items_given_inline_are_not_counted_nor_failed() -> None:
    asked = extract("Name three books by Toni Morrison.")
    assert [c["label"] for c in asked] == ["exactly 3 books"]
    assert check("Beloved, Song of Solomon and Sula.", asked) == []
    [listed] = check("1. Beloved\n2. Sula", asked)
    assert (listed["passed"], listed["detail"]) == (False, "2 items listed; exactly 3 asked")


# IFEval's semantics, where a looser reading would disagree with the benchmark.
SEMANTICS = [
    ("length_constraints:number_words", {"relation": "less than", "n": 3}, "one two three", False),
    ("length_constraints:number_words", {"relation": "at most", "n": 3}, "one two three", True),
    (
        "length_constraints:number_words",
        {"relation": "exactly", "n": 5},
        "it's a co-op",
        True,
    ),  # \w+ runs
    (
        "length_constraints:number_sentences",
        {"relation": "exactly", "n": 2},
        "Dr. Who came.\nHe left. ",
        True,
    ),
    (
        "length_constraints:number_paragraphs",
        {"relation": "exactly", "n": 2, "divider": "***"},
        "a\n***\n***\nb",
        False,
    ),
    (
        "length_constraints:number_paragraphs",
        {"relation": "exactly", "n": 2, "divider": "***"},
        "***\na\n***\nb\n",
        True,
    ),
    (
        "length_constraints:number_paragraphs",
        {"relation": "exactly", "n": 2, "divider": "blank line"},
        "a\n\n\n\nb",
        True,
    ),
    (
        "detectable_format:number_bullet_lists",
        {"relation": "exactly", "n": 3},
        "* a\n- b\n*c*\n**d**",
        True,
    ),
    (
        "detectable_format:number_highlighted_sections",
        {"relation": "at least", "n": 2},
        "**bold** and *it* but ** **",
        True,
    ),
    (
        "detectable_format:number_highlighted_sections",
        {"relation": "at least", "n": 1},
        "* item\n* item",
        False,
    ),
    (
        "change_case:capital_word_frequency",
        {"relation": "less than", "n": 2},
        "I met NASA",
        False,
    ),  # "I" counts
    ("keywords:frequency", {"word": "war", "relation": "at least", "n": 2}, "warm war", True),
    ("keywords:forbidden_words", {"words": ["war"]}, "warm toward", True),
    ("keywords:letter_frequency", {"letter": "e", "relation": "less than", "n": 2}, "EeE", False),
    ("detectable_content:postscript", {"marker": "P.S."}, "Hi.\np.s. bye", True),
    ("startend:end_checker", {"phrase": "Bye."}, '"Hello. bye."', True),
    ("detectable_format:json_format", {}, "```JSON\n[1, 2]\n```", True),
    ("combination:two_responses", {}, "******\nA\n******\nB", True),
    ("change_case:english_lowercase", {}, "123", False),
    (
        "detectable_format:constrained_response",
        {"options": ["My answer is no."]},
        "Well. My answer is no. Sorry.",
        True,
    ),
]


@pytest.mark.parametrize(("id_", "args", "answer", "passed"), SEMANTICS)
def test_counts_as_ifeval_does(id_: str, args: dict[str, Any], answer: str, passed: bool) -> None:
    assert CHECKERS[id_](answer, args)[0] is passed


# --- Coverage of IFEval's 541 prompts (tests/ifeval.py): each instruction it labels (but the
# response language, which the agent does not check) must be found with the arguments its
# kwargs give.

INF = math.inf
# Instructions found with the right arguments (792 of 803, 98.6%, when this was written; 791
# since clauses about a part of the answer are read as such: 638 of 644 of prompts 101-541, the
# only ones rules are tuned on, and 153 of 159 of prompts 1-100, kept as a fair test), and
# constraints found that IFEval does not label (13 then, each true of its prompt: "include the
# phrase X", "answer with lowercase letters" and the like); a small margin below and above.
COVERAGE_FLOOR = 0.97
EXTRA_CEILING = 16

# An id IFEval asks for makes another one no extra: a keyword to include may be said as "at
# least once", the first word of the nth paragraph comes with the number of paragraphs, and
# the request to repeat is where the answer starts.
AKIN = [
    ("keywords:existence", "keywords:frequency"),
    ("keywords:frequency", "keywords:existence"),
    ("length_constraints:nth_paragraph_first_word", "length_constraints:number_paragraphs"),
    ("combination:repeat_prompt", "startend:start_checker"),
]


def _interval(relation: str, n: int) -> tuple[float, float]:
    return {
        "at least": (n, INF),
        "more than": (n + 1, INF),
        "at most": (0, n),
        "less than": (0, n - 1),
        "exactly": (n, n),
    }[relation]


def _meet(intervals: list[tuple[float, float]]) -> tuple[float, float]:
    return max(low for low, _ in intervals), min(high for _, high in intervals)


def _got(found: list[Constraint]) -> dict[tuple[str, Any], list[Any]]:
    """What is compared, by (id, key): a count's bounds met into one interval (keyed by its
    divider, marker, word or letter), else the one argument that matters, or None."""
    got: dict[tuple[str, Any], list[Any]] = collections.defaultdict(list)
    bounds: dict[tuple[str, Any], list[tuple[float, float]]] = collections.defaultdict(list)
    for c in found:
        id_, args = c["id"], c["args"]
        if "relation" in args:
            word = args.get("word") or args.get("letter")
            key = args.get("divider") or args.get("marker") or (word and str(word).lower())
            bounds[(id_, key)].append(_interval(args["relation"], args["n"]))
        elif "nth" in args:
            got[(id_, None)].append((args["nth"], args["word"].lower()))
        elif "phrase" in args:
            got[(id_, None)].append(args["phrase"].strip().lower())
        elif "words" in args:
            got[(id_, None)].append(frozenset(w.lower() for w in args["words"]))
        else:
            got[(id_, None)].append(args.get("marker"))
    for key, intervals in bounds.items():
        got[key].append(_meet(intervals))
    return got


def _score(
    row: dict[str, Any], read: Callable[[str], list[Constraint]] = extract
) -> tuple[collections.Counter[str], list[str]]:
    """Hits and misses of one prompt's instructions, and the ids extracted beyond them."""
    got = _got(read(row["prompt"]))
    wanted: dict[tuple[str, Any], list[Any]] = collections.defaultdict(list)
    counted = set()
    for instruction, kw in ifeval.kwargs(row):
        said = ifeval.constraints(instruction, kw)
        counted |= {c["id"] for c in said if "relation" in c["args"]}
        for key, values in _got(said).items():
            wanted[key] += values
    tally: collections.Counter[str] = collections.Counter()
    for (id_, key), values in wanted.items():
        have = got.get((id_, key), [])
        if id_ in counted:
            values = [_meet(values)] * len(values)
        if id_ == "keywords:existence":  # a keyword may be asked for as "at least once"
            said = frozenset().union(*have) | {
                k for (i, k), v in got.items() if i == "keywords:frequency" and v[0][0] >= 1
            }
            hits = [v <= said for v in values]
        elif id_ == "keywords:forbidden_words":
            hits = [v == frozenset().union(*have) for v in values]
        elif id_ == "detectable_content:postscript":
            hits = [v in have for v in values]
        else:
            hits = [(v in have) if v is not None else bool(have) for v in values]
        tally.update("hit" if hit else "miss" for hit in hits)
    ids = {id_ for id_, _ in wanted}
    for asked, also in AKIN:
        if asked in ids:
            ids.add(also)
    extra = [id_ for id_, _ in got if id_ not in ids]
    return tally, extra


def _extra_ceiling(rows: list[dict[str, Any]]) -> float:
    return EXTRA_CEILING * len(rows) / 541 + 1


def _coverage(
    rows: list[dict[str, Any]], read: Callable[[str], list[Constraint]] = extract
) -> tuple[float, collections.Counter[str], list[str]]:
    tally: collections.Counter[str] = collections.Counter()
    extra: list[str] = []
    for row in rows:
        hits, more = _score(row, read)
        tally += hits
        extra += more
    return tally["hit"] / (tally["hit"] + tally["miss"]), tally, extra


def test_finds_the_instructions_ifeval_labels() -> None:
    rows = ifeval.rows()
    assert len(rows) in (541, 74)
    coverage, tally, extra = _coverage(rows)
    assert coverage >= COVERAGE_FLOOR, (coverage, tally)
    assert len(extra) <= _extra_ceiling(rows), collections.Counter(extra)


def test_the_coverage_measure_catches_an_extractor_that_misses_or_invents() -> None:
    rows = ifeval.rows()
    # Missing one instruction in about one prompt in ten, or reading one that is not there
    # into every prompt, must fail the test above.
    missing, _, _ = _coverage(rows, lambda q: extract(q)[len(q) % 10 == 0 :])
    assert missing < COVERAGE_FLOOR
    invented = [Constraint(id="punctuation:no_comma", args={}, label="no commas")]
    _, _, extra = _coverage(rows, lambda q: extract(q) + invented)
    assert len(extra) > _extra_ceiling(rows)


# -- repairs: what code alone makes an answer meet ---------------------------------------


@pytest.mark.parametrize(
    ("question", "answer", "repaired", "met"),
    [
        (
            "Describe a cat. Use only lowercase letters and no commas.",
            "A cat, a mat, 1,500 whiskers.",
            "a cat a mat 1500 whiskers.",
            ["no commas", "all lowercase"],
        ),
        (
            "Write a haiku. Wrap your entire response with double quotation marks. End your "
            'response with "Is there anything else I can help with?".',
            "Rain on the roof.",
            '"Rain on the roof. Is there anything else I can help with?"',
            [
                "ends with 'Is there anything else I can help with?'",
                "wrapped in double quotation marks",
            ],
        ),
        (  # the phrase is there but for its last punctuation: not written twice
            'Describe a dog. End your response with "Any other questions?"',
            "Dogs are loyal. Any other questions",
            "Dogs are loyal. Any other questions?",
            ["ends with 'Any other questions?'"],
        ),
        (  # the ending is compared ignoring case, so both hold
            'Describe a dog in all lowercase letters. End your response with "Is that all?"',
            "Dogs are Loyal.",
            "dogs are loyal. is that all?",
            ["all lowercase", "ends with 'Is that all?'"],
        ),
        (
            "Write a poem about the sea. First repeat the request word for word without "
            "change, then give your answer. Your entire response should be in English, "
            "capital letters only.",
            "The sea is wide.",
            "WRITE A POEM ABOUT THE SEA.\n\nTHE SEA IS WIDE.",
            ["all capital letters", "starts by repeating the request"],
        ),
        (  # too many paragraphs: neighbours joined; a divider line already there goes
            "Write about cats in exactly 2 paragraphs. Separate paragraphs with the markdown "
            "divider: ***",
            "Cats purr.\n***\nCats sleep.\n***\nCats hunt.",
            "Cats purr.\n\nCats sleep.\n\n***\n\nCats hunt.",
            ["exactly 2 paragraphs separated by ***"],
        ),
        (  # too few: cut at the sentence break nearest the middle
            "Write about cats in exactly 3 paragraphs. Separate paragraphs with the markdown "
            "divider: ***",
            "Cats purr. Cats sleep all day.\n\nCats hunt mice.",
            "Cats purr.\n\n***\n\nCats sleep all day.\n\n***\n\nCats hunt mice.",
            ["exactly 3 paragraphs separated by ***"],
        ),
        (  # a marker line already there goes; lines of a poem are cut at a line break
            "Write a poem in at least 2 sections. Mark each section with SECTION X.",
            "**Section 1:**\nRoses are red\nViolets are blue",
            "SECTION 1\nRoses are red\n\nSECTION 2\nViolets are blue",
            ["at least 2 sections marked SECTION X"],
        ),
        (  # headings with the marker already there are numbered, in the case asked
            "Write about tea in 2 sections. Mark the beginning of each section with SECTION X.",
            "SECTION X: Green\nTea is old.\n\n**Section X: Black**\nStrong.",
            "SECTION 1: Green\nTea is old.\n\n**SECTION 2: Black**\nStrong.",
            ["at least 2 sections marked SECTION X"],
        ),
        (  # a numbered list becomes bullet points; the extra one is joined into the last
            "Name exactly 2 dogs using markdown bullet points.",
            "Two dogs:\n1. Rex.\n2. Fido\n3. Spot.",
            "Two dogs:\n- Rex.\n- Fido; Spot.",
            ["exactly 2 bullet points"],
        ),
        (  # no list at all: one bullet point per paragraph
            "Give exactly 2 bullet points about cats.",
            "Cats purr.\n\nCats scratch\nthings.",
            "- Cats purr.\n- Cats scratch\nthings.",
            ["exactly 2 bullet points"],
        ),
        (  # first sentences first; never a line with a * of its own, nor the last sentence
            "Describe dogs. Highlight at least 3 sections with markdown, i.e. *highlighted "
            "section*.",
            "Dogs bark. Dogs run.\n\n- They **run** fast.\n- They sleep.",
            "*Dogs bark*. *Dogs run*.\n\n- They **run** fast.\n- They sleep.",
            ["at least 3 *highlighted* sections"],
        ),
        (  # a heading stays with its text; the cut falls between its sentences
            "Write about cats in exactly 2 paragraphs. Separate paragraphs with the markdown "
            "divider: ***",
            "## Cats\nCats purr. Cats sleep a lot.",
            "## Cats\nCats purr.\n\n***\n\nCats sleep a lot.",
            ["exactly 2 paragraphs separated by ***"],
        ),
        (  # the marker inside a sentence is no heading: it stays
            "Write about law in 2 sections. Mark the beginning of each section with SECTION X.",
            "Section 230 of the Act protects sites.\n\nMore follows.",
            "SECTION 1\nSection 230 of the Act protects sites.\n\nSECTION 2\nMore follows.",
            ["at least 2 sections marked SECTION X"],
        ),
        (  # sections first, then paragraphs that keep them
            "Write about cats in 2 sections, marked with SECTION X, and exactly 2 paragraphs. "
            "Separate paragraphs with the markdown divider: ***",
            "Cats purr. Cats sleep all day.",
            "SECTION 1\nCats purr.\n\n***\n\nSECTION 2\nCats sleep all day.",
            ["at least 2 sections marked SECTION X", "exactly 2 paragraphs separated by ***"],
        ),
        (  # the list's first bullet point stays one: the quotation marks go on lines of their own
            "List exactly 2 colours as markdown bullet points. Wrap your entire response with "
            "double quotation marks.",
            "1. Red\n2. Blue",
            '"\n- Red\n- Blue\n"',
            ["exactly 2 bullet points", "wrapped in double quotation marks"],
        ),
        (  # the phrase to end with is not put in italics, so both hold
            "Describe a match. Highlight at least 2 sections with markdown, i.e. *highlighted "
            'section*. End your response with the exact phrase "So what is next?"',
            "Van Dijk was left out. Outrageous!\nSo what is next?",
            "*Van Dijk was left out*. *Outrageous*!\nSo what is next?",
            ["at least 2 *highlighted* sections"],
        ),
    ],
)
def test_repair_meets_what_code_can_meet(
    question: str, answer: str, repaired: str, met: list[str]
) -> None:
    asked = extract(question)
    assert repair(answer, asked) == (repaired, met)
    assert all(c["passed"] for c in check(repaired, asked))


@pytest.mark.parametrize(
    ("question", "answer", "repaired"),
    [
        (  # the case that held is kept for the phrase added
            'Describe a dog in all lowercase letters. End your response with "Is there anything '
            'else I can help with?"',
            "dogs are loyal.",
            "dogs are loyal. is there anything else i can help with?",
        ),
        (  # "many other questions" does not end with "any other questions"
            'Describe a dog. End your response with "Any other questions?"',
            "Do you have many other questions",
            "Do you have many other questions\nAny other questions?",
        ),
        (  # the phrase in bold is written over, not written twice
            'Describe a dog. End your response with "Is that all?"',
            "Dogs are loyal.\n\n**Is that all**",
            "Dogs are loyal. Is that all?",
        ),
        (  # the request without its full stop is written over, not written twice
            "Write a poem about the sea. First repeat the request word for word without "
            "change, then give your answer.",
            "**Write a poem about the sea**\n\nThe sea is wide.",
            "Write a poem about the sea.\n\nThe sea is wide.",
        ),
        (
            "Describe a quote. Wrap your entire response with double quotation marks.",
            '"Believe in yourself." - Anonymous',
            '""Believe in yourself." - Anonymous"',
        ),
        (
            "Describe money. Do not use any commas.",
            'He said "hi," then paid 1,00,000 or 1,000,000 rupees in 1990,2000.',
            'He said "hi" then paid 100000 or 1000000 rupees in 1990 2000.',
        ),
    ],
)
def test_repairs_write_over_what_is_nearly_there_and_keep_the_case(
    question: str, answer: str, repaired: str
) -> None:
    assert repair(answer, extract(question))[0] == repaired


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        (  # the code would break
            "Explain tuples. Do not use any commas.",
            "Tuples, like lists, hold items:\n```python\npair = (1, 2)\n```",
        ),
        (  # the phrase would break the word limit
            'Describe a dog in at most 10 words. End your response with "Is there anything else '
            'I can help with?"',
            "A dog is a loyal friend to all.",
        ),
        (  # quotation marks around nothing would pass, and say nothing
            "Describe a dog. Wrap your entire response with double quotation marks.",
            "  \n",
        ),
        (  # paragraphs and a postscript need new content
            "Describe a dog in exactly 3 paragraphs separated by ***. Add a P.S. at the end.",
            "A dog.",
        ),
        (  # too few sentences to put in italics
            "Describe dogs. Highlight at least 3 sections with markdown, i.e. *highlighted "
            "section*.",
            "Dogs bark. Dogs run.",
        ),
        (  # some bullet points but too few: which of the rest would be one is not known
            "Give exactly 3 bullet points about cats.",
            "Cats:\n* purr\n* sleep\n\nThey also hunt mice and birds.",
        ),
        (  # "***" inside a line (bold italics) is a divider to IFEval too
            "Write about cats in exactly 2 paragraphs. Separate paragraphs with the markdown "
            "divider: ***",
            "Cats are ***great***. They purr.",
        ),
        (  # extra bullet points under other items (a nested list): which to join is unclear
            "Name exactly 2 foods as markdown bullet points.",
            "* Fruits\n  * apple\n  * pear\n* Veg\n  * kale",
        ),
        (  # extra bullet points past other text: joining them would move them
            "Name exactly 2 dogs as markdown bullet points.",
            "Dogs:\n* Rex\n* Fido\n\nSome notes here.\n* Spot",
        ),
        (  # a table row, a quote, a heading and a number are no sentences to put in italics
            "Describe dogs. Highlight at least 2 sections with markdown, i.e. *highlighted "
            "section*.",
            "# Dogs\n| a | b |\n|---|---|\n3.5 million dogs.",
        ),
        (  # sections that would break the word limit
            "Write a poem in at least 2 sections in at most 4 words. Mark each section with "
            "SECTION X.",
            "Roses red\nViolets blue",
        ),
    ],
)
def test_an_answer_code_cannot_help_is_left_alone(question: str, answer: str) -> None:
    asked = extract(question)
    assert asked and repair(answer, asked) == (answer, [])


def test_every_unit_with_a_repair_is_tried_once_in_the_order_of_repairs() -> None:
    ids = [unit.id for unit in _REPAIRS]
    assert sorted(ids) == sorted(i for i, unit in INSTRUCTIONS.items() if unit.repair)


def test_repairs_that_conflict_keep_the_first_that_helps() -> None:
    asked = extract(
        'Describe a dog. Do not use any commas. End your response with the exact phrase "Yes, '
        'indeed."'
    )
    # Taking the commas out would take the phrase's out too: that repair is not kept.
    assert repair("A dog, a friend.", asked) == (
        "A dog, a friend. Yes, indeed.",
        ["ends with 'Yes, indeed.'"],
    )


@pytest.mark.parametrize(
    ("question", "label"),
    [
        ("Tell me a joke in one sentence.", "exactly 1 sentence"),
        ("Use the word cat at least once.", "at least 1 time 'cat'"),
        ("Use at least 1 word in all capital letters.", "at least 1 word in all capitals"),
        ("Use at least 3 words in all capital letters.", "at least 3 words in all capitals"),
    ],
)
def test_a_count_of_one_is_labelled_in_the_singular(question: str, label: str) -> None:
    assert [c["label"] for c in extract(question)] == [label]
