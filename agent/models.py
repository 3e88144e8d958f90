"""Model names to chat models: ``local:NAME``, ``PROVIDER:NAME``, a server URL, or an instance."""

from __future__ import annotations

import os
import threading
from typing import Any

from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel

from agent.errors import ConfigError
from agent.local import DEFAULT_LOCAL, LOCAL_MODELS, local_chat_model

DEFAULT_MODEL = f"local:{DEFAULT_LOCAL}"
MAX_TOKENS_PER_CALL = 1024

MODEL_FORMS = (
    "'local:NAME' (" + ", ".join(LOCAL_MODELS) + ") or 'local:/path/to/file.gguf', "
    "'ollama:NAME', 'openai:NAME', any 'PROVIDER:NAME' that LangChain's init_chat_model knows, "
    "or the http(s) base URL of an OpenAI-compatible server"
)

_CACHE: dict[tuple[str, bool], BaseChatModel] = {}
_CACHE_LOCK = threading.Lock()


def default_model_name() -> str:
    """``$REFLECT_MODEL`` if set, else the embedded local model."""
    return os.environ.get("REFLECT_MODEL", "").strip() or DEFAULT_MODEL


def resolve_model(spec: str | BaseChatModel | None, *, native: bool = False) -> BaseChatModel:
    """Turn a model name into a chat model; instances pass through unchanged.

    Built models are cached by name, so a graph run many times reuses one client (and one
    loaded local model).

    Args:
        spec: The model, or ``None`` for ``default_model_name()``.
        native: Build it for native reasoning (Ollama gets ``reasoning=True``).

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
    key = (name, native and name.startswith("ollama:"))
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = _build(name, native=key[1])
        return _CACHE[key]


def _build(name: str, *, native: bool) -> BaseChatModel:
    if name.startswith("local:"):
        return local_chat_model(name.removeprefix("local:"), max_tokens=MAX_TOKENS_PER_CALL)
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
        }
    elif name.startswith("ollama:"):
        kwargs = {"num_predict": MAX_TOKENS_PER_CALL}
        if native:
            kwargs["reasoning"] = True
    elif ":" not in name:
        raise ConfigError(f"model {name!r} names no provider: use {MODEL_FORMS}")
    else:
        kwargs = {"max_tokens": MAX_TOKENS_PER_CALL}
    try:
        chat: BaseChatModel = init_chat_model(name, **kwargs)
        return chat
    except ImportError as exc:
        raise ConfigError(f"model {name!r} needs a package that is not installed: {exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"unknown model {name!r} ({exc}): use {MODEL_FORMS}") from exc
    except Exception as exc:
        if "api_key" in str(exc).lower() or "api key" in str(exc).lower():
            provider = name.split(":", 1)[0].upper()
            raise ConfigError(
                f"no API key for {name!r}: set {provider}_API_KEY (or put it in .env), "
                "or use a local: or ollama: model"
            ) from exc
        raise ConfigError(f"could not set up model {name!r}: {exc}") from exc


def model_label(model: BaseChatModel) -> str:
    """A short human name for a chat model."""
    for attr in ("model_name", "model"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__
