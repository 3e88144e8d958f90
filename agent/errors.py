"""Errors the project raises on purpose: each message is one line that says what to do."""

from __future__ import annotations

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
