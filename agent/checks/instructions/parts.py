"""Clauses about part of the answer: "after the code, say in one sentence…".

Such a clause counts the sentences of one part of the reply; read as the whole reply's count,
it vetoes the right answer (the code and a sentence). ``part_spans`` finds the clauses, which
are blanked before the rules read the question. What a clause asks is still checked on the
whole reply where that holds of every reply whose part obeys it (``sound_for_a_part``): a lower
bound (a part with 3 bullet points makes a reply with at least 3), a keyword to include, a
title, a postscript. Everything else it asks (an upper bound, an exact count, a case, no
commas, JSON) is not checked: no check beats a wrong veto.
"""

from __future__ import annotations

import re

from agent.checks.instructions.amounts import NUM
from agent.checks.instructions.base import Constraint, Instruction
from agent.checks.instructions.reading import I

# What a reply is made of besides itself: a part named as where an amount applies.
_PART_NOUN = r"""
    (?:code(?:\s+block)?|function|snippet|script|query|program|class|method|block|examples?|
       list|table|recipe|poem|story|descriptions?|summary|overview|intro(?:duction)?|conclusion|
       title|heading|headline|subject(?:\s+line)?|caption|tagline|greeting|sign-?off|abstract|
       tl;?dr|docstring|comments?|explanation|bullets?|bullet\s+points?|answer\s+section)
"""
_ORDINAL_PART = r"""
    (?:first|second|third|fourth|fifth|last|final|opening|closing|top|bottom)\s+
    (?:paragraph|sentence|line|section|part|bullet|point|stanza)
"""
# A noun that only ever names a part of a reply (a reply is never only its title's sentence
# count), unless the question asks for one ("Suggest a title…": then it is the whole answer).
_PART_ONLY = r"""
    (?:title|heading|headline|subject(?:\s+line)?|caption|tagline|greeting|sign-?off|abstract|
       intro(?:duction)?|conclusion|summary|tl;?dr|docstring|comments?|explanation|description)
"""
_PART_AT = re.compile(
    rf"""
    # "After the code, …", "below it", "before the function", "after that"
    \b(?:after|before|below|above|beneath|under(?:neath)?|following)\s+
      (?:(?:the|your|this|that|its|each)\s+(?:\w+\s+)?{_PART_NOUN}|that|it|this)\b
  | \bafterwards?\b | \bafter\s+which\b
  | (?:^|[,;:]|\band\b|\bthen\b)\s*at\s+the\s+(?:end|top|bottom|start|beginning)\b
      (?!\s+of\s+(?:your|the)\s+(?:entire\s+)?(?:response|answer|reply|output))
  | \b(?:in|within|inside)\s+(?:the|your|its)\s+{_ORDINAL_PART}\b
  | \b(?:the|your|its)\s+{_ORDINAL_PART}\s+(?:should|must|needs?\s+to|has\s+to|is|will|can)\s+
      (?!start|begin)
    # several deliverables in one sentence: "…, then list", "followed by", "and explain"
  | (?:,|;|\band)\s*then\b | \bfollowed\s+by\b
  | \band\s+(?:explain|describe|say|state|conclude|summari[sz]e|sum\s+up|list)\b
  | \b(?:finish|end|close|conclude|wrap\s+up|sum\s+\w+\s+up)\s+(?:\w+\s+)?(?:with|in|by)\s+
      (?:a|an|one|a\s+single|two|three|\d+)\b
  | \b(?:and|plus|with|along\s+with|as\s+well\s+as)\s+(?:a|an)\s+(?:short\s+)?
      (?:one|two|three|single|\d+)[\s-]+(?:sentence|line|paragraph|word)
    # an amount for each item, not for the whole: "each described in one sentence"
  | \b(?:for|of|to|in)\s+each\b
  | \beach\s+(?:described|explained|written|summari[sz]ed|in|with|gets?|one)\b
  | \b(?:sentences?|words?|lines?)\s+each\b | \bkeep\s+each\b
    """,
    I,
)
# "in the title", "for the summary", "the intro should…", "with a caption of at most 10 words": a
# part unless the question asks for that very thing ("Write a poem… In your poem, …").
_PART_NAMED = re.compile(
    rf"""
    \b(?:in|within|for|inside)\s+(?:the|your|its)\s+(?P<n1>{_PART_NOUN})\b
  | \b(?:the|your|its|each|every)\s+(?P<n2>{_PART_ONLY})\b
  | \bwith\s+(?:a|an)\s+(?:\w+\s+)?(?P<n3>{_PART_ONLY})\s+(?:of|under|in|that|which)\s+
      (?:\w+\s+){{0,3}}?{NUM}
    """,
    I,
)
# The verb that asks for a noun's thing as the whole answer: "Summarize…" asks for a summary.
_ASKING_VERB = {"summary": r"summari[sz]e", "explanation": "explain", "description": "describe"}
# A sentence that starts a further part: the sentence before it was about a part too.
_NEXT_PART = re.compile(
    r"""^\W*(?:then|next|after\s+that|afterwards?|after\s+this|finally|lastly
              |below\s+(?:that|it|this))\b""",
    I,
)
# "Finally, wrap it in JSON": a further instruction about the reply, not a further part of it.
_FORM_ONLY = re.compile(
    r"""\b(?:wrap|make\s+sure|ensure|do\s+not|don't|never|avoid|refrain|use|using|separate|
           highlight|italici[sz]e|format|respond|answer|reply|repeat|end\s+(?:it|your)|
           finish\s+(?:it|your)|mark|include\s+(?:the\s+)?(?:key)?words?|keep\s+(?:it|your))\b""",
    I,
)
# Said of the whole reply in so many words: never a part.
WHOLE = re.compile(
    r"""
    \b(?:your|the)\s+(?:entire|whole|full|complete)\s+(?:response|answer|reply|output)\b
  | \b(?:your|the)\s+(?:response|answer|reply|output)\s+
      (?:should|must|needs|has|will|is|contains?)\b
  | \bin\s+(?:your|the)\s+(?:entire\s+)?(?:response|answer|reply|output)\b
    """,
    I,
)
# A question that asks for code: prose counts (words, sentences, paragraphs) are of the prose
# around the code, which the rules cannot tell apart from it.
ASKS_CODE = re.compile(
    r"""
    \b(?:write|implement|create|code|build|define|complete|give\s+me|show\s+me)\b
    (?:(?!\b(?:about|on|of|regarding|explaining|describing)\b)[^.?!\n]){0,60}
    \b(?:function|method|class|script|program|code|query|snippet|decorator|generator|
         algorithm)\b
    """,
    I,
)


def part_spans(text: str) -> list[tuple[int, int]]:
    """The sentences of the question that state something of a part of the answer."""
    sentences = [m for m in re.finditer(r"[^.!?\n]+[.!?]*", text) if re.search(r"\w", m[0])]
    parts = set()
    for i, m in enumerate(sentences):
        said = m.group(0)
        if WHOLE.search(said):
            continue
        if _NEXT_PART.search(said) and not _FORM_ONLY.search(said):
            parts.add(i)
            if i and not WHOLE.search(sentences[i - 1].group(0)):
                parts.add(i - 1)
            continue
        if _PART_AT.search(said) or re.match(r"\W*first(?:ly)?\b", said, re.IGNORECASE):
            parts.add(i)
            continue
        for named in _PART_NAMED.finditer(said):
            noun = (named["n1"] or named["n2"] or named["n3"]).lower()
            before = text[: m.start()] + said[: named.start()]
            verb = _ASKING_VERB.get(noun.rstrip("s"), r"(?!)")
            if not re.search(
                rf"\b(?:an?|one)\s+(?:[\w-]+\s+){{0,3}}?{re.escape(noun)}\b|\b{verb}\b",
                before,
                re.IGNORECASE,
            ):
                parts.add(i)
                break
    return [sentences[i].span() for i in sorted(parts)]


def sound_for_a_part(constraint: Constraint, instruction: Instruction) -> Constraint | None:
    """What a constraint on a part says of the whole reply, if anything: its lower bound.

    Args:
        constraint: A constraint read from a clause about a part of the answer.
        instruction: Its instruction, which says what holds of the whole (``on_a_part``).
    """
    if instruction.on_a_part == "anywhere":
        return constraint
    if instruction.on_a_part != "lower bound":
        return None
    args = constraint["args"]
    relation, n = args["relation"], args["n"]
    if relation == "exactly":
        relation = "at least"
    if relation not in ("at least", "more than"):
        return None
    if instruction.prose and relation == "at least" and n <= 1:
        return None  # at least one sentence: true of every reply, no check
    label = constraint["label"].replace(args["relation"], relation, 1)
    return Constraint(id=constraint["id"], args={**args, "relation": relation}, label=label)
