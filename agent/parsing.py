"""Every reasoning format to one structure: thinking, reflections, output.

The rules, for text that is never well-formed in practice:

* ``<thinking>`` and ``<think>`` (DeepSeek-R1, Qwen3) are the same section.
* Text inside ``<reflection>`` becomes one entry of ``reflections`` wherever it stands.
* An unclosed section runs to the next section tag or to the end of the text; a closing
  tag with no opening one (R1 templates pre-fill ``<think>``) makes everything before it
  thinking.
* When there is an ``<output>`` section, the last one is the output; earlier outputs and
  all text outside sections join the thinking. With no ``<output>``, the text outside
  thinking and reflections is the output; with no tags at all, the whole text is.

Nothing raises on model text, and every non-tag character lands in exactly one field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

TAG = re.compile(r"<\s*(/?)\s*(thinking|think|reflection|output)\s*>", re.IGNORECASE)
"""A reasoning tag, opening or closing: group 1 is ``/`` for a closing one, group 2 its name."""
_VERDICT = re.compile(r"VERDICT\s*[:=\-]?\s*\**\s*(PASS|REVISE)\b", re.IGNORECASE)
_NO_ERROR = {"none", "n/a", "na", "no error", "no errors", "nothing", "-"}
_BARE_VERDICT = re.compile(r"^\W*(PASS|REVISE)\b", re.IGNORECASE)
_ERROR = re.compile(r"^\W*ERROR\s*:\s*", re.IGNORECASE | re.MULTILINE)

Section = Literal["loose", "thinking", "output"]


@dataclass
class ParsedReflection:
    """A reply split into its reasoning and its answer.

    Attributes:
        thinking: The reasoning, with reflections taken out.
        reflections: Each ``<reflection>`` text, in order.
        output: The final answer.
    """

    thinking: str = ""
    reflections: list[str] = field(default_factory=list)
    output: str = ""


def parse_reflection(text: str) -> ParsedReflection:
    """Split a model reply into thinking, reflections and output.

    Args:
        text: Any model text: Reflection-style tags, ``<think>`` tags, or no tags.

    Returns:
        The parsed reply; see the module docstring for how malformed text is read.

    Example:
        >>> p = parse_reflection("<thinking>2+2=4<reflection>ok</reflection></thinking>"
        ...                      "<output>4</output>")
        >>> (p.thinking, p.reflections, p.output)
        ('2+2=4', ['ok'], '4')
    """
    text = text if isinstance(text, str) else str(text)
    pieces: list[tuple[Section, int, str]] = []  # (section, which opening of it, text)
    reflections: list[str] = []
    section: Section = "loose"
    opened = 0
    reflecting = False
    saw_tag = False
    pos = 0

    def emit(chunk: str) -> None:
        chunk = chunk.strip()
        if not chunk:
            return
        if reflecting:
            reflections[-1] = f"{reflections[-1]}\n{chunk}".strip()
        else:
            pieces.append((section, opened, chunk))

    for match in TAG.finditer(text):
        emit(text[pos : match.start()])
        pos = match.end()
        saw_tag = True
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name == "reflection":
            if not closing:
                reflections.append("")
            reflecting = not closing
            continue
        reflecting = False
        target: Section = "output" if name == "output" else "thinking"
        if not closing:
            section, opened = target, opened + 1
        elif section == target:
            section, opened = "loose", opened + 1
        elif target == "thinking" and section == "loose":
            # A bare </think>: everything loose so far was reasoning.
            pieces = [("thinking" if s == "loose" else s, n, c) for s, n, c in pieces]
    emit(text[pos:])
    reflections = [r for r in reflections if r]

    if not saw_tag:
        return ParsedReflection(output=text.strip())
    outputs = [n for s, n, _ in pieces if s == "output"]
    if outputs:
        output = "\n".join(c for _, n, c in pieces if n == outputs[-1])
        thinking = "\n".join(c for _, n, c in pieces if n != outputs[-1])
    else:
        output = "\n".join(c for s, _, c in pieces if s == "loose")
        thinking = "\n".join(c for s, _, c in pieces if s == "thinking")
    return ParsedReflection(thinking=thinking, reflections=reflections, output=output)


def render_tagged(thinking: str, reflections: list[str], output: str) -> str:
    """Render reasoning in the native Reflection format.

    Tag-like text inside a field (a model that wrote ``</output>`` in its reasoning) is
    escaped as ``&lt;output>``, so it cannot move text from one section to another when
    the rendering is parsed again.

    Returns:
        ``<thinking>…<reflection>…</reflection>…</thinking><output>…</output>``.
    """
    thinking, output = neutralize(thinking).strip(), neutralize(output).strip()
    inner = [thinking] if thinking else []
    inner += [f"<reflection>\n{neutralize(r).strip()}\n</reflection>" for r in reflections]
    body = "\n".join(inner)
    return f"<thinking>\n{body}\n</thinking>\n<output>\n{output}\n</output>"


def neutralize(text: str) -> str:
    """Escape every reasoning tag in ``text`` (``<output>`` → ``&lt;output>``)."""
    return TAG.sub(lambda m: "&lt;" + m.group(0)[1:], text)


def strip_tags(text: str) -> str:
    r"""Remove the reasoning tags themselves, keeping all text between them.

    Each tag becomes a line break, so the text on its two sides stays apart: in
    ``… = 17.</think>17 × 23 = 391`` the calculator must not read ``17.17 × 23``.

    Example:
        >>> strip_tags("391 / 23 = 17.</think>17 × 23 = 391")
        '391 / 23 = 17.\n17 × 23 = 391'
    """
    return TAG.sub("\n", text)


@dataclass
class Verdict:
    """A critique's decision.

    Attributes:
        verdict: ``"pass"``, ``"revise"`` (with a concrete error), or ``"unclear"`` (no
            recognisable verdict, or REVISE without naming an error: the draft is kept).
        error: The concrete error the critic named, for ``"revise"``.
    """

    verdict: Literal["pass", "revise", "unclear"]
    error: str = ""


def parse_verdict(text: str) -> Verdict:
    """Read the ``VERDICT: PASS|REVISE`` and ``ERROR:`` lines of a critique.

    Only the first verdict counts; a reply that opens with a bare ``PASS`` or ``REVISE``
    counts too. A REVISE must name the wrong step on an ``ERROR:`` line or in the text after
    the verdict; otherwise it is ``"unclear"`` and changes nothing.
    """
    match = _VERDICT.search(text) or _BARE_VERDICT.search(text)
    if match is None:
        return Verdict("unclear")
    if match.group(1).upper() == "PASS":
        return Verdict("pass")
    rest = text[match.end() :]
    labelled = _ERROR.search(rest)
    error = rest[labelled.end() :] if labelled else rest
    error = _VERDICT.split(error)[0].strip(" \t\n*:-")
    concrete = re.search(r"[A-Za-z0-9]", error) and error.lower().strip(". ") not in _NO_ERROR
    return Verdict("revise", error) if concrete else Verdict("unclear")


def message_text(content: Any) -> str:
    """The plain text of a message's content, whether a string or a list of blocks."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def provider_reasoning(message: Any, *, piece: bool = False) -> str:
    """Reasoning a provider returned outside the text: a field or ``reasoning`` blocks.

    Covers Ollama's ``thinking`` (``additional_kwargs["reasoning_content"]`` in
    langchain-ollama), OpenAI-compatible ``reasoning_content``, and ``reasoning`` content
    blocks with either a ``reasoning`` text or OpenAI's ``summary`` list.

    Args:
        message: A whole reply, or one streamed chunk of it.
        piece: ``message`` is a streamed chunk: its spaces belong to the text around it and
            are kept, and its parts are joined with nothing between them.
    """
    found: list[str] = []
    extra = getattr(message, "additional_kwargs", None) or {}
    for key in ("reasoning_content", "thinking", "reasoning"):
        value = extra.get(key)
        if isinstance(value, str) and value.strip():
            found.append(value if piece else value.strip())
    content = getattr(message, "content", None)
    if isinstance(content, list):
        for block in content:
            if not isinstance(block, dict) or block.get("type") not in ("reasoning", "thinking"):
                continue
            text = block.get("reasoning") or block.get("thinking") or ""
            if not text and isinstance(block.get("summary"), list):
                text = "\n".join(
                    str(s.get("text", "")) for s in block["summary"] if isinstance(s, dict)
                )
            if str(text).strip():
                found.append(str(text) if piece else str(text).strip())
    return ("" if piece else "\n").join(found)
