"""Model names to chat models: ``local:NAME``, ``PROVIDER:NAME``, a server URL, or an instance."""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any, overload
from urllib.parse import urlsplit

import httpx
from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableWithFallbacks
from langchain_core.runnables.base import RunnableBindingBase

from agent.errors import ConfigError, redact
from agent.local import DEFAULT_LOCAL, LOCAL_MODELS, local_chat_model

ChatModel = Runnable[Any, Any]

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


@overload
def resolve_model(
    spec: str | BaseChatModel | None, *, native: bool = False, temperature: float | None = None
) -> BaseChatModel: ...


@overload
def resolve_model(
    spec: ChatModel, *, native: bool = False, temperature: float | None = None
) -> ChatModel: ...


def resolve_model(
    spec: str | ChatModel | None, *, native: bool = False, temperature: float | None = None
) -> ChatModel:
    """Turn a model name into a chat model; instances pass through unchanged.

    A new client is built on each call; ``agent.calls.resolve`` keeps one per event loop,
    since async HTTP clients are bound to the loop that first used them. Local weights are
    loaded once per process all the same.

    Args:
        spec: The model, or ``None`` for ``default_model_name()``. An instance may be a
            ``BaseChatModel`` or any runnable chat model around one (``.bind(...)``,
            ``.with_retry()``, ``.with_fallbacks([...])``, a configurable
            ``init_chat_model``).
        native: Build it for native reasoning (Ollama gets ``reasoning=True``).
        temperature: Sampling temperature; ``None`` keeps the provider's default (0 for
            local models). Ignored for instances.

    Raises:
        ConfigError: The name has no known form, its provider package or API key is missing.
    """
    if isinstance(spec, Runnable):
        return spec
    if spec is not None and not isinstance(spec, str):
        raise ConfigError(
            f"model must be a name or a LangChain chat model, not {type(spec).__name__}"
        )
    name = (spec or default_model_name()).strip()
    return _build(name, native=native, temperature=temperature)


@overload
async def aresolve_model(
    spec: str | BaseChatModel | None, *, native: bool = False, temperature: float | None = None
) -> BaseChatModel: ...


@overload
async def aresolve_model(
    spec: ChatModel, *, native: bool = False, temperature: float | None = None
) -> ChatModel: ...


async def aresolve_model(
    spec: str | ChatModel | None, *, native: bool = False, temperature: float | None = None
) -> ChatModel:
    """``resolve_model`` off the event loop.

    The first use of a local model fetches and loads weights; instances return at once.
    """
    if isinstance(spec, Runnable):
        return spec
    return await asyncio.to_thread(resolve_model, spec, native=native, temperature=temperature)


def chat_model_of(model: Any) -> BaseChatModel | None:
    """The ``BaseChatModel`` inside a runnable chat model, or ``None`` if none can be found.

    Looks through bindings (``.bind``, ``.with_config``, ``.with_retry``), fallbacks (the
    primary model) and a configurable ``init_chat_model`` (its default model).
    """
    for _ in range(16):  # wrappers nest, but never this deep
        if isinstance(model, BaseChatModel):
            return model
        if isinstance(model, RunnableBindingBase):
            model = model.bound
        elif isinstance(model, RunnableWithFallbacks):
            model = model.runnable
        elif _configurable(model):
            try:
                model = model._model()
            except Exception:
                return None
        else:
            return None
    return None


def with_fields(model: ChatModel, **update: Any) -> ChatModel:
    """The model with ``update`` set on the chat model(s) inside it that have those fields.

    Wrappers are rebuilt around the updated copy, so ``llm.bind(stop=...)`` keeps its stop;
    fallbacks get the update too. Fields a model lacks are left out for that model.
    """

    def copy(chat: BaseChatModel) -> BaseChatModel:
        own = {k: v for k, v in update.items() if k in type(chat).model_fields}
        return chat.model_copy(update=own) if own else chat

    return _map_chat(model, copy, update)


def without_sdk_retries(model: ChatModel) -> ChatModel:
    """The model with its client library's own retries off: the graph retries each call.

    Two layers multiply: the OpenAI client's 3 attempts under the graph's 3 made 9 requests
    per failing call. A retry wrapper the caller added on purpose (``.with_retry()``) stays.
    """
    return _map_chat(model, _no_client_retries, {"max_retries": 0})


def _map_chat(
    model: ChatModel, change: Any, config_update: dict[str, Any], depth: int = 0
) -> ChatModel:
    """``model`` with ``change`` applied to every ``BaseChatModel`` inside it."""
    if depth > 16:
        return model
    if isinstance(model, BaseChatModel):
        changed: BaseChatModel = change(model)
        return changed
    if isinstance(model, RunnableBindingBase):
        bound = _map_chat(model.bound, change, config_update, depth + 1)
        return model.model_copy(update={"bound": bound})
    if isinstance(model, RunnableWithFallbacks):
        return model.model_copy(
            update={
                "runnable": _map_chat(model.runnable, change, config_update, depth + 1),
                "fallbacks": [
                    _map_chat(f, change, config_update, depth + 1) for f in model.fallbacks
                ],
            }
        )
    inner = chat_model_of(model)
    if inner is not None and _configurable(model):
        # A configurable model builds its chat model on every call from its default
        # config, so the update goes there (a run's own `configurable` still wins).
        own = {k: v for k, v in config_update.items() if k in type(inner).model_fields}
        configurable: Any = model
        rebuilt: ChatModel = type(configurable)(
            default_config={**configurable._default_config, **own},
            configurable_fields=configurable._configurable_fields,
            config_prefix=configurable._config_prefix,
            queued_declarative_operations=configurable._queued_declarative_operations,
        )
        return rebuilt
    return model


def _configurable(model: Any) -> bool:
    # langchain's init_chat_model(configurable_fields=...) returns this private class.
    return type(model).__name__ == "_ConfigurableModel" and hasattr(model, "_default_config")


def _no_client_retries(chat: BaseChatModel) -> BaseChatModel:
    if "max_retries" not in type(chat).model_fields or getattr(chat, "max_retries", None) == 0:
        return chat
    update: dict[str, Any] = {"max_retries": 0}
    # langchain-openai builds its SDK clients when the model is made: give the copy clients
    # without retries that share the same HTTP connection pools.
    for root, leaf in (("root_client", "client"), ("root_async_client", "async_client")):
        client = getattr(chat, root, None)
        if client is not None and hasattr(client, "with_options"):
            quiet = client.with_options(max_retries=0)
            update[root] = quiet
            if getattr(chat, leaf, None) is not None:
                update[leaf] = quiet.chat.completions
    return chat.model_copy(update=update)


def allowed_models() -> tuple[str, ...] | None:
    """The model names runs may choose, from ``$REFLECT_ALLOWED_MODELS``; ``None``: any.

    A comma-separated list; an entry ending in ``*`` allows every name that starts with the
    rest (``ollama:*``).
    """
    raw = os.environ.get("REFLECT_ALLOWED_MODELS", "")
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    return names or None


def check_allowed(name: str, own: tuple[str, ...] | None = None) -> None:
    """Refuse a model name a run or request chose that the server does not allow.

    The server's own models are always allowed. Any other name must be one
    ``$REFLECT_ALLOWED_MODELS`` allows (any, where it is unset), except ``local:`` models,
    which load a file or download weights on the server: a path (``local:/a/b``,
    ``local:x.gguf``) never, and ``local:NAME`` only where it is the server's own model or
    ``$REFLECT_ALLOWED_MODELS`` names it (``local:NAME`` or a ``local:…*`` entry).

    Args:
        name: The model the run or request named.
        own: The server's own models; ``None``: ``default_model_name()``.

    Raises:
        ConfigError: The name is not allowed.
    """
    name = name.strip()
    mine = {_local_name(n.strip()) for n in (own if own is not None else (default_model_name(),))}
    if _local_name(name) in mine:
        return  # the server's own choice, a local file included
    allowed = allowed_models()
    if name.startswith("local:"):
        spec = name.removeprefix("local:").strip()
        if spec.lower().endswith(".gguf") or any(sep in spec for sep in ("/", "\\", "~")):
            raise ConfigError(
                f"model {redact(name)!r} is not allowed here: a run may not name a local "
                "file; leave the model out to use the server's"
            )
        name = _local_name(name)
        if name in mine:
            return
        entries = tuple(a for a in allowed or () if a.startswith("local:"))
        if _matches(name, tuple(_local_name(a) for a in entries)):
            return
        raise ConfigError(
            f"model {redact(name)!r} is not allowed here: a local model must be the server's "
            "own or named in REFLECT_ALLOWED_MODELS; leave the model out to use the server's"
        )
    if allowed is None or name in mine or _matches(name, allowed):
        return
    raise ConfigError(
        f"model {redact(name)!r} is not allowed here: name one of {', '.join(allowed)} "
        "(REFLECT_ALLOWED_MODELS), or leave the model out to use the server's"
    )


def _matches(name: str, allowed: tuple[str, ...]) -> bool:
    """Whether an entry names ``name``; one ending in ``*`` names every name it starts."""
    return any(name == a or (a.endswith("*") and name.startswith(a[:-1])) for a in allowed)


def _local_name(name: str) -> str:
    """``local:`` names the embedded default: spelled out, it compares with its full name."""
    return DEFAULT_MODEL if name.strip() == "local:" else name


def api_key_for(base_url: str) -> str | None:
    """``$OPENAI_API_KEY`` if ``base_url`` is OpenAI's own endpoint, else ``None``.

    OpenAI's endpoint is ``https://api.openai.com`` on port 443, or the scheme, host and
    port of ``$OPENAI_BASE_URL`` where the operator set one. Any other server named by URL
    gets no key: on a LangGraph Server a client chooses the URL, and the server's key must
    never go to it (nor over plain HTTP, nor to another port of the same host).
    """
    key = os.environ.get("OPENAI_API_KEY", "").strip()
    if not key:
        return None
    origins: set[tuple[str, str, int | None]] = {("https", "api.openai.com", 443)}
    configured = os.environ.get("OPENAI_BASE_URL", "").strip()
    if configured:
        origins.add(_origin(configured))
    origin = _origin(base_url)
    return key if origin[1] and origin in origins else None


def _origin(url: str) -> tuple[str, str, int | None]:
    """A URL's scheme, host and port (the scheme's default where none is given)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return scheme, "", None
    if port is None:
        port = {"https": 443, "http": 80}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


# Token probabilities for the confidence of each draft (agent.confidence): five
# alternatives a token, as the embedded model records them. A server that refuses them is
# asked again without (agent.calls.call).
LOGPROBS: dict[str, Any] = {"logprobs": True, "top_logprobs": 5}


# Servers known to continue a final assistant message, by the `owned_by` their
# `/v1/models` names, and what a request must carry for it: llama.cpp's server continues one
# by default; vLLM and SGLang on `continue_final_message`.
_CONTINUERS: dict[str, dict[str, Any]] = {
    "llamacpp": {},
    "vllm": {"continue_final_message": True, "add_generation_prompt": False},
    "sglang": {"continue_final_message": True, "add_generation_prompt": False},
}
_OWNERS: dict[str, str] = {}


async def continuing(model: ChatModel) -> ChatModel | None:
    """The model set to continue a final assistant message, or ``None`` where it cannot.

    The embedded model and Ollama continue one as they are. A server named by URL is asked
    once what it is (``owned_by`` in its ``/v1/models``): llama.cpp's server, vLLM and SGLang
    continue one; any other server, and OpenAI's API, would answer it as a new turn.
    """
    chat = chat_model_of(model)
    if chat is None:
        return None
    if getattr(chat, "continues_final_message", False) or chat._llm_type == "chat-ollama":
        return model
    base = getattr(chat, "openai_api_base", None)
    if not base or _origin(base)[1] == "api.openai.com":
        return None
    if base not in _OWNERS:
        _OWNERS[base] = await _owner(base, getattr(chat, "openai_api_key", None))
    extra = _CONTINUERS.get(_OWNERS[base])
    if extra is None:
        return None
    return with_fields(model, extra_body={**(getattr(chat, "extra_body", None) or {}), **extra})


def writes_until(model: ChatModel) -> bool:
    """Whether the model can be held to write on until a rule says stop (its ``until``).

    Only the embedded model: a server can bar a token (``logit_bias``) but cannot end a reply
    the moment a rule becomes true.
    """
    chat = chat_model_of(model)
    continues = getattr(chat, "continues_final_message", False)
    return chat is not None and continues and "until" in type(chat).model_fields


async def _owner(base: str, key: Any) -> str:
    """Who serves ``base``: the first model's ``owned_by``, or "" when it cannot be read."""
    secret = key.get_secret_value() if hasattr(key, "get_secret_value") else key
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            reply = await client.get(f"{base.rstrip('/')}/models", headers=headers)
            first = (reply.json().get("data") or [{}])[0]
    except (httpx.HTTPError, ValueError, AttributeError, TypeError):
        return ""
    return str(first.get("owned_by") or "").lower() if isinstance(first, dict) else ""


def _build(name: str, *, native: bool, temperature: float | None) -> BaseChatModel:
    """A chat model for a name; see ``MODEL_FORMS``."""
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
            "api_key": api_key_for(base_url) or "not-needed",
            "extra_body": {"max_tokens": MAX_TOKENS_PER_CALL},
            "stream_usage": True,
            "timeout": _unshared_timeout(),
            "max_retries": 0,  # one retry layer: the graph's (agent.graph.RETRY)
            **LOGPROBS,
        }
    elif name.startswith("ollama:"):
        kwargs = {
            "num_predict": MAX_TOKENS_PER_CALL,
            "client_kwargs": {"timeout": call_timeout()},
            **LOGPROBS,
        }
        if native:
            kwargs["reasoning"] = True
    elif ":" not in name:
        raise ConfigError(f"model {name!r} names no provider: use {MODEL_FORMS}")
    elif name.startswith("openai:"):
        kwargs = {
            "max_tokens": MAX_TOKENS_PER_CALL,
            "stream_usage": True,
            "timeout": _unshared_timeout(),
            "max_retries": 0,  # one retry layer: the graph's (agent.graph.RETRY)
        }
        if native and _OPENAI_REASONERS.match(name.removeprefix("openai:")):
            # Reasoning summaries come back as `reasoning` content blocks.
            kwargs["reasoning"] = {"effort": "medium", "summary": "auto"}
        elif not _OPENAI_REASONERS.match(name.removeprefix("openai:")):
            kwargs.update(LOGPROBS)  # reasoning models refuse logprobs
    else:
        kwargs = {"max_tokens": MAX_TOKENS_PER_CALL, "timeout": call_timeout()}
    if temperature is not None:
        kwargs["temperature"] = temperature
    try:
        chat: BaseChatModel = init_chat_model(name, **kwargs)
        # Other providers' clients retry by themselves too (Anthropic's twice, say).
        return _no_client_retries(chat)
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


def spec_label(spec: str | ChatModel | None) -> str:
    """The name a model goes by in results, without building a client for it."""
    if spec is None:
        return redact(default_model_name())
    return redact(spec) if isinstance(spec, str) else model_label(spec)


def model_label(model: ChatModel) -> str:
    """A short human name for a chat model (the one inside a wrapper)."""
    chat = chat_model_of(model)
    for attr in ("model_name", "model"):
        value = getattr(chat, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(chat or model).__name__
