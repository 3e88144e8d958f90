"""Model names to chat models: ``local:NAME``, ``PROVIDER:NAME``, a server URL, or an instance."""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any

import httpx
from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel

from agent.errors import ConfigError, redact
from agent.local import DEFAULT_LOCAL, LOCAL_MODELS, local_chat_model

DEFAULT_MODEL = f"local:{DEFAULT_LOCAL}"
MAX_TOKENS_PER_CALL = 1024
TIMEOUT_SECONDS = 600.0  # per model call; local CPU models are slow, but none may hang forever

_OPENAI_REASONERS = re.compile(r"o\d|gpt-5", re.IGNORECASE)

MODEL_FORMS = (
    "'local:NAME' (" + ", ".join(LOCAL_MODELS) + ") or 'local:/path/to/file.gguf', "
    "'ollama:NAME', 'openai:NAME', any 'PROVIDER:NAME' that LangChain's init_chat_model knows, "
    "or the http(s) base URL of an OpenAI-compatible server"
)


def call_timeout() -> float:
    """Seconds one model call may take: ``$REFLECT_TIMEOUT``, else 600.

    Raises:
        ConfigError: ``$REFLECT_TIMEOUT`` is not a positive number.
    """
    raw = os.environ.get("REFLECT_TIMEOUT", "").strip()
    if not raw:
        return TIMEOUT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ConfigError(f"REFLECT_TIMEOUT must be a positive number of seconds, not {raw!r}")
    return value


def default_model_name() -> str:
    """``$REFLECT_MODEL`` if set, else the embedded local model."""
    return os.environ.get("REFLECT_MODEL", "").strip() or DEFAULT_MODEL


def resolve_model(
    spec: str | BaseChatModel | None, *, native: bool = False, temperature: float | None = None
) -> BaseChatModel:
    """Turn a model name into a chat model; instances pass through unchanged.

    A new client is built on each call: async HTTP clients are bound to the event loop that
    first used them, and ``reflect`` runs each question in a fresh loop. Local weights are
    loaded once per process all the same.

    Args:
        spec: The model, or ``None`` for ``default_model_name()``.
        native: Build it for native reasoning (Ollama gets ``reasoning=True``).
        temperature: Sampling temperature; ``None`` keeps the provider's default (0 for
            local models). Ignored for instances.

    Raises:
        ConfigError: The name has no known form, its provider package or API key is missing.
    """
    if isinstance(spec, BaseChatModel):
        return spec
    if spec is not None and not isinstance(spec, str):
        raise ConfigError(
            f"model must be a name or a LangChain chat model, not {type(spec).__name__}"
        )
    name = (spec or default_model_name()).strip()
    return _build(name, native=native, temperature=temperature)


async def aresolve_model(
    spec: str | BaseChatModel | None, *, native: bool = False, temperature: float | None = None
) -> BaseChatModel:
    """``resolve_model`` off the event loop.

    The first use of a local model fetches and loads weights; instances return at once.
    """
    if isinstance(spec, BaseChatModel):
        return spec
    return await asyncio.to_thread(resolve_model, spec, native=native, temperature=temperature)


def _build(name: str, *, native: bool, temperature: float | None) -> BaseChatModel:
    if name.startswith("local:"):
        local = local_chat_model(name.removeprefix("local:"), max_tokens=MAX_TOKENS_PER_CALL)
        return (
            local if temperature is None else local.model_copy(update={"temperature": temperature})
        )
    kwargs: dict[str, Any] = {}
    if name.startswith(("http://", "https://")):
        # llama.cpp's server ignores max_completion_tokens, which langchain-openai sends for
        # max_tokens; extra_body carries the cap it does read.
        base_url, _, model = name.partition("#")
        name = f"openai:{model or 'default'}"
        kwargs = {
            "base_url": base_url,
            "api_key": os.environ.get("OPENAI_API_KEY") or "not-needed",
            "extra_body": {"max_tokens": MAX_TOKENS_PER_CALL},
            "stream_usage": True,
            "timeout": _unshared_timeout(),
        }
    elif name.startswith("ollama:"):
        kwargs = {"num_predict": MAX_TOKENS_PER_CALL, "client_kwargs": {"timeout": call_timeout()}}
        if native:
            kwargs["reasoning"] = True
    elif ":" not in name:
        raise ConfigError(f"model {name!r} names no provider: use {MODEL_FORMS}")
    elif name.startswith("openai:"):
        kwargs = {
            "max_tokens": MAX_TOKENS_PER_CALL,
            "stream_usage": True,
            "timeout": _unshared_timeout(),
        }
        if native and _OPENAI_REASONERS.match(name.removeprefix("openai:")):
            # Reasoning summaries come back as `reasoning` content blocks.
            kwargs["reasoning"] = {"effort": "medium", "summary": "auto"}
    else:
        kwargs = {"max_tokens": MAX_TOKENS_PER_CALL, "timeout": call_timeout()}
    if temperature is not None:
        kwargs["temperature"] = temperature
    try:
        chat: BaseChatModel = init_chat_model(name, **kwargs)
        return chat
    except ImportError as exc:
        raise ConfigError(
            f"model {name!r} needs a package that is not installed: {_first_line(exc)}"
        ) from exc
    except ValueError as exc:
        raise ConfigError(
            f"unknown model {name!r} ({_first_line(exc)}): use {MODEL_FORMS}"
        ) from exc
    except Exception as exc:
        if "api_key" in str(exc).lower() or "api key" in str(exc).lower():
            provider = name.split(":", 1)[0].upper()
            raise ConfigError(
                f"no API key for {name!r}: set {provider}_API_KEY (or put it in .env), "
                "or use a local: or ollama: model"
            ) from exc
        raise ConfigError(f"could not set up model {name!r}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _unshared_timeout() -> httpx.Timeout:
    # langchain-openai shares one async HTTP client per (base URL, hashable timeout) across
    # the process; reused from a second event loop it fails with "Event loop is closed".
    # An httpx.Timeout is unhashable, which gives each model its own client.
    return httpx.Timeout(call_timeout())


def spec_label(spec: str | BaseChatModel | None) -> str:
    """The name a model goes by in results, without building a client for it."""
    if spec is None:
        return redact(default_model_name())
    return redact(spec) if isinstance(spec, str) else model_label(spec)


def model_label(model: BaseChatModel) -> str:
    """A short human name for a chat model."""
    for attr in ("model_name", "model"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__
