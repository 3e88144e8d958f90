"""Errors the project raises on purpose: each message is one line that says what to do."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.result import ReflectionResult


class ReflectionError(Exception):
    """Base class of every error this package raises on purpose.

    Attributes:
        partial: What the run had produced before it failed (drafts, critiques, usage),
            when the error happened mid-run; ``None`` otherwise.
    """

    def __init__(self, message: str, *, partial: ReflectionResult | None = None) -> None:
        super().__init__(message)
        self.partial = partial


class ConfigError(ReflectionError, ValueError):
    """Bad input: an unknown mode or model name, an empty question, a broken prompt file."""


class ModelError(ReflectionError, RuntimeError):
    """A model could not be reached or answered with an error after retries."""


# Key-like tokens (sk-…, gsk_…, AIza…, long hex or base64 runs), bearer headers, URL
# credentials and query strings.
_SECRET = re.compile(
    r"\b(?:[A-Za-z]{0,8}(?:sk|key|token|api)[-_][A-Za-z0-9_\-]{12,}|AIza[0-9A-Za-z_\-]{20,}"
    r"|[A-Za-z0-9_\-]{32,}|Bearer\s+\S+)"
    r"|(?<=://)[^/@\s]+@|\?[^\s]*",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with anything that looks like a credential replaced, cut to one line."""
    first = (text.strip().splitlines() or [""])[0]
    return _SECRET.sub("[redacted]", first)
