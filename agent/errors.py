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


def require_utf8(text: str, what: str = "the question") -> None:
    """Refuse text that cannot be sent to a model: bytes that were not UTF-8.

    Such text comes from a command line or a file in another encoding (Python keeps each
    undecodable byte as a lone surrogate); it fails only when a request is encoded, where
    it would look like a fault of the model server.

    Raises:
        ConfigError: Saying where the first bad byte is and how to convert the text.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        char = ord(exc.object[exc.start])
        bad = f"byte 0x{char - 0xDC00:02x}" if 0xDC80 <= char <= 0xDCFF else f"U+{char:04X}"
        raise ConfigError(
            f"{what} is not valid UTF-8 text ({bad} at character {exc.start + 1}): convert it "
            "to UTF-8 first, e.g. with `iconv -f latin1 -t utf-8`"
        ) from None


def is_transient(exc: BaseException) -> bool:
    """Whether a failed model call is worth retrying.

    Dropped connections, timeouts, HTTP 429 and 5xx answers are; anything else is not.
    """
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    status = _status(exc)
    if status is not None:
        return status == 429 or status >= 500
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"APIConnectionError", "APITimeoutError", "TransportError"})


def is_refused(exc: BaseException) -> bool:
    """Whether a model call was refused for what it asked, not failed on the way.

    A prompt too long for the model (``ConfigError``) and an HTTP 4xx answer other than 429
    (a thinking model's server refusing a prefilled answer, say) are; a bug in our own code is
    not, so it still surfaces.
    """
    if isinstance(exc, ConfigError):
        return True
    status = _status(exc)
    return status is not None and 400 <= status < 500 and status != 429


def _status(exc: BaseException) -> int | None:
    """The HTTP status of a failed call, on the error or on its response, if it has one."""
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None
