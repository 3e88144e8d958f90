"""The meta-prompts, loaded once from plain files with named ``{placeholders}``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agent.errors import ConfigError

# Every prompt file and the placeholders it must contain. A file that lacks one would
# silently drop the question or the draft from a model call, so loading refuses it.
PROMPT_FIELDS: dict[str, frozenset[str]] = {
    "reflection_system": frozenset(),
    "generate_system": frozenset(),
    "examples": frozenset(),
    "critique_system": frozenset(),
    "critique_user": frozenset({"question", "draft"}),
    "revise_user": frozenset({"question", "draft", "error"}),
    "contrast_system": frozenset(),
    "contrast_user": frozenset({"question", "solutions"}),
    "reconcile_user": frozenset({"question", "solutions", "checklist"}),
    "select_system": frozenset(),
    "select_user": frozenset({"question", "responses"}),
    "judge_user": frozenset({"question", "reference", "response"}),
    "program_user": frozenset({"question"}),
}

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_EXAMPLE_TURN = re.compile(r"^--- (user|assistant) ---$", re.MULTILINE)


def default_prompts_dir() -> Path:
    """Return the bundled prompts folder (inside the wheel, or ``prompts/`` in a checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "prompts", here.parent / "prompts"):
        if (candidate / "generate_system.md").is_file():
            return candidate
    raise ConfigError(
        f"the bundled prompts folder is missing next to {here}; reinstall the package"
    )


@dataclass(frozen=True)
class Prompts:
    """A loaded, checked set of prompt templates.

    Attributes:
        texts: The template text of each prompt, by file stem.
        examples: The worked example exchange, as ``(role, text)`` pairs.
        directory: Where the files were read from.
    """

    texts: dict[str, str]
    examples: tuple[tuple[str, str], ...]
    directory: Path

    def render(self, name: str, **values: str) -> str:
        """Fill a template's placeholders in one pass.

        Values are inserted literally, so a question that itself contains ``{draft}`` or
        braces cannot pull in other text.

        Raises:
            ConfigError: A placeholder of the template was given no value.
        """
        missing = PROMPT_FIELDS[name] - values.keys()
        if missing:
            raise ConfigError(f"prompt {name!r} needs values for: {', '.join(sorted(missing))}")

        def fill(match: re.Match[str]) -> str:
            return values.get(match.group(1), match.group(0))

        return _PLACEHOLDER.sub(fill, self.texts[name])


def load_prompts(directory: str | Path | None = None) -> Prompts:
    """Read and check every prompt file of a folder.

    Args:
        directory: A folder holding one ``NAME.md`` per entry of ``PROMPT_FIELDS``.
            Defaults to the bundled prompts.

    Raises:
        ConfigError: A file is missing, lacks a required placeholder, or the examples
            file is malformed. The message names the file and what to add.
    """
    folder = Path(directory) if directory is not None else default_prompts_dir()
    texts: dict[str, str] = {}
    for name, fields in PROMPT_FIELDS.items():
        path = folder / f"{name}.md"
        if not path.is_file():
            raise ConfigError(
                f"prompt file {path} is missing; copy it from {default_prompts_dir()}"
            )
        text = path.read_text(encoding="utf-8").strip()
        found = set(_PLACEHOLDER.findall(text))
        if fields - found:
            absent = ", ".join("{" + f + "}" for f in sorted(fields - found))
            raise ConfigError(f"prompt file {path} lacks the placeholder(s) {absent}; add them")
        texts[name] = text
    return Prompts(texts, _split_examples(texts["examples"], folder / "examples.md"), folder)


def _split_examples(text: str, path: Path) -> tuple[tuple[str, str], ...]:
    parts = _EXAMPLE_TURN.split(text)
    if parts[0].strip():
        raise ConfigError(f"{path} must start with a '--- user ---' line")
    turns = tuple((role, body.strip()) for role, body in zip(parts[1::2], parts[2::2], strict=True))
    roles = [role for role, _ in turns]
    if roles != ["user", "assistant"] * (len(roles) // 2):
        raise ConfigError(f"{path} must alternate '--- user ---' and '--- assistant ---' turns")
    return turns


PROMPTS = load_prompts()
"""The bundled prompts, read once at import so that no graph node does file I/O."""
