"""``reflect serve``: the reflection graph behind an OpenAI-compatible endpoint.

``POST /v1/chat/completions`` (streamed or not) and ``GET /v1/models``, on Starlette and
uvicorn. The model name picks the reflection and the model under it::

    reflect                                 the server's defaults and model
    reflect-contrast-medium                 strategy and effort
    reflect-vote-low/ollama:qwen2.5:7b      mode, effort, and a model of the client's choice

Every other setting is a field of ``Context`` sent in the request body by its own name
(the ``openai`` SDK's ``extra_body``): ``samples``, ``max_rounds``, ``run_code``, …;
``temperature`` and ``seed`` are OpenAI's fields of the same meaning. OpenAI's
``max_tokens`` caps one reply, so it is ignored; the run's token budget goes as
``"reflect": {"max_tokens": …}``, an object that takes any setting.

While it runs, the thinking, each sample's progress and the reflections stream as
``reasoning_content`` deltas (the field DeepSeek, vLLM and Ollama use, which Open WebUI
shows as thinking), then the answer as ``content``; ``usage`` is the run's exact sum over
every model call.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, cast, get_args

from langchain_core.messages.utils import convert_to_messages
from pydantic import TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agent.api import ReflectionRun, aclose_model
from agent.chat_model import Narration, question_of
from agent.context import (
    DEFAULT_CONCURRENCY,
    EFFORT_PRESETS,
    SETTINGS,
    ChatModel,
    Context,
    Effort,
    Mode,
    Strategy,
    in_process,
    make_context,
)
from agent.errors import ConfigError, ModelError, redact
from agent.events import RunEvent
from agent.models import aresolve_model, check_allowed, default_model_name, with_fields
from agent.result import ReflectionResult

PREFIX = "reflect"
# Request fields that are OpenAI's own and mean something else than the setting of that name.
NOT_SETTINGS = ("model", "max_tokens")
_UNREACHABLE = {
    "ConnectError",
    "APIConnectionError",
    "ConnectionError",
    "ConnectionRefusedError",
    "TimeoutException",
    "APITimeoutError",
    "TimeoutError",
    "ReadTimeout",
}
_DONE = object()
_MOST_MODELS = 64
_CONTEXT = TypeAdapter(Context)
LIMITS: dict[str, float] = {**EFFORT_PRESETS["high"], "max_concurrency": DEFAULT_CONCURRENCY}
"""The most a request may ask for of each costly setting: what ``high`` effort gives.

``reflect serve --limit NAME=VALUE`` raises (or lowers) one of them."""
MAX_BODY = 1 << 20
"""The largest request body read, in bytes (1 MiB): a longer one is a 413."""


@dataclass
class ServeConfig:
    """What ``reflect serve`` was started with.

    Attributes:
        model: The server's model (a name); ``None`` for ``$REFLECT_MODEL`` or the embedded
            model. Clients may name another after the ``/`` of the model name, within
            ``$REFLECT_ALLOWED_MODELS``.
        critic_model: The server's critic model, if another.
        api_key: The key clients must send as ``Authorization: Bearer …``; ``None``: none.
        checkpoint: A SQLite file or ``postgresql://`` URL: every run's steps are saved, and
            the same request sent again after a crash resumes it.
        context: The server's default settings; a request's lay over them.
        limits: The most a request may ask for of each setting in ``LIMITS``; a name left
            out keeps ``LIMITS``'s.
        max_body: The largest request body read, in bytes.
    """

    model: str | None = None
    critic_model: str | None = None
    api_key: str | None = None
    checkpoint: str | None = None
    context: Context = field(default_factory=Context)
    limits: dict[str, float] = field(default_factory=dict)
    max_body: int = MAX_BODY


class ApiError(Exception):
    """A request refused or failed: an OpenAI error object with its HTTP status."""

    def __init__(self, status: int, message: str, kind: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code

    def body(self) -> dict[str, Any]:
        """The error as OpenAI sends it."""
        return {
            "error": {"message": self.message, "type": self.kind, "param": None, "code": self.code}
        }

    def response(self) -> JSONResponse:
        """The error as a response."""
        return JSONResponse(self.body(), status_code=self.status)


def parse_limits(given: list[str]) -> dict[str, float]:
    """``--limit NAME=VALUE`` options as ``ServeConfig.limits``.

    Raises:
        ConfigError: A name not in ``LIMITS``, or a value that is not a number of 1 or more.
    """
    limits: dict[str, float] = {}
    for item in given:
        name, _, raw = item.partition("=")
        name = name.strip()
        if name not in LIMITS:
            raise ConfigError(f"--limit {item!r}: the names are {', '.join(LIMITS)}")
        try:
            value = float(raw)
        except ValueError:
            value = 0.0
        if not value >= 1:
            raise ConfigError(f"--limit {item!r}: give a number of 1 or more, e.g. {name}=16")
        limits[name] = value
    return limits


def model_ids() -> list[str]:
    """The model names ``/v1/models`` lists (each also takes ``/MODEL``)."""
    efforts = get_args(Effort)
    ids = [PREFIX]
    for kind in (*get_args(Strategy), "vote"):
        ids += [f"{PREFIX}-{kind}-{effort}" for effort in efforts]
    ids += [f"{PREFIX}-{mode}" for mode in get_args(Mode) if mode not in ("prompted", "vote")]
    return ids


def parse_model_name(name: str) -> tuple[dict[str, str], str | None]:
    """The settings a model name picks, and the model after its ``/`` (``None``: default).

    ``reflect[-MODE|-STRATEGY][-EFFORT][/MODEL]``, the parts in any order; a strategy
    implies ``prompted``.

    Raises:
        ApiError: 404 for a name of another form.

    Example:
        >>> parse_model_name("reflect-contrast-medium/ollama:qwen2.5:7b")
        ({'strategy': 'contrast', 'effort': 'medium'}, 'ollama:qwen2.5:7b')
    """
    head, _, model = name.partition("/")
    parts = head.strip().split("-")
    options: dict[str, str] = {}
    if parts[0] != PREFIX:
        raise _unknown(name)
    for part in parts[1:]:
        key = next(
            (
                key
                for key, choices in (("mode", Mode), ("strategy", Strategy), ("effort", Effort))
                if part in get_args(choices)
            ),
            None,
        )
        if key is None or key in options:
            raise _unknown(name)
        options[key] = part
    if "strategy" in options and options.get("mode", "prompted") != "prompted":
        raise _unknown(name)
    return options, model.strip() or None


def _unknown(name: str) -> ApiError:
    return ApiError(
        404,
        f"The model {redact(name)!r} does not exist: use {PREFIX}[-MODE|-STRATEGY][-EFFORT]"
        "[/MODEL], e.g. reflect-contrast-medium/ollama:qwen2.5:7b (GET /v1/models lists them)",
        "invalid_request_error",
        "model_not_found",
    )


class Server:
    """The endpoint's state: its settings, the models it built, the in-process queue."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.default_model = (config.model or default_model_name()).strip()
        self.models: dict[tuple[str, bool], ChatModel] = {}
        self.building = asyncio.Lock()
        # The in-process model serves one call at a time: whole runs take turns, in order
        # of arrival (asyncio.Lock wakes its waiters first come, first served).
        self.in_process = asyncio.Lock()

    async def close(self) -> None:
        """Close the clients of every model built."""
        for chat in self.models.values():
            await aclose_model(chat)
        self.models.clear()

    def authorize(self, request: Request) -> None:
        """Refuse a request without the server's key (when it has one).

        Raises:
            ApiError: 401.
        """
        key = self.config.api_key
        if not key:
            return
        sent = request.headers.get("authorization", "")
        scheme, _, token = sent.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), key.encode()
        ):
            raise ApiError(
                401,
                "Incorrect API key provided: send the server's key as Authorization: Bearer …",
                "invalid_request_error",
                "invalid_api_key",
            )

    async def model(self, name: str, *, native: bool, temperature: float | None) -> ChatModel:
        """A chat model for ``name``, built once and shared by every request in this loop.

        A request's temperature is set on a copy that shares the built model's HTTP client.
        """
        key = (name, native)
        async with self.building:
            if key not in self.models:
                if len(self.models) >= _MOST_MODELS:
                    # Names clients chose: dropped, not closed, as a run may still use it.
                    self.models.pop(next(iter(self.models)))
                self.models[key] = await aresolve_model(name, native=native)
            chat = self.models[key]
        return chat if temperature is None else with_fields(chat, temperature=temperature)

    def allowed(self, name: str) -> str:
        """``name`` if a client may choose it; the server's own models always.

        Raises:
            ApiError: 404, naming the models allowed.
        """
        try:
            own = (self.default_model, *filter(None, [self.config.critic_model]))
            check_allowed(name, own)
        except ConfigError as exc:
            raise ApiError(404, str(exc), "invalid_request_error", "model_not_found") from exc
        return name

    async def prepare(self, body: Any) -> tuple[ReflectionRun, bool]:
        """The run a request asks for, and whether its samples are drawn in parallel.

        Raises:
            ApiError: 400 for a bad request, 404 for a model it may not use.
        """
        if not isinstance(body, dict):
            raise _bad("the body must be a JSON object")
        name = body.get("model")
        if not isinstance(name, str):
            raise _bad("'model' must be a model name, e.g. 'reflect'")
        options, chosen = parse_model_name(name)
        if body.get("n", 1) != 1:
            raise _bad("only n=1 is supported: a run gives one answer")
        if body.get("tools"):
            raise _bad("tools are not supported: the reflection answers, it calls no tools")
        messages_given = body.get("messages")
        if messages_given is not None and not (
            isinstance(messages_given, list) and all(isinstance(m, dict) for m in messages_given)
        ):
            raise _bad("'messages' must be a list of message objects")
        try:
            messages = convert_to_messages(messages_given or [])
        except Exception as exc:
            raise _bad(f"bad 'messages': {str(exc)[:200]}") from exc
        extra = body.get("reflect") or {}
        if not isinstance(extra, dict):
            raise _bad("'reflect' must be an object of settings")
        _check_types(body)
        given = {k: v for k, v in body.items() if k in SETTINGS and k not in NOT_SETTINGS}
        given = {**options, **{k: v for k, v in given.items() if v is not None}, **extra}
        unknown = sorted(set(given) - set(SETTINGS))
        if unknown:
            raise _bad(f"unknown setting {unknown[0]!r}: the settings are {', '.join(SETTINGS)}")
        try:
            checked = _CONTEXT.validate_python(given)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            raise _bad(f"bad setting {where!r}: {error['msg']}") from exc
        limits = {**LIMITS, **self.config.limits}
        for key, most in limits.items():
            value = getattr(checked, key) if key in given else None
            if value is not None and value > most:
                raise _bad(
                    f"{key} may be at most {_number(most)} on this server, got "
                    f"{_number(value)} (the operator raises it: reflect serve --limit {key}=N)"
                )
        try:
            question, system = question_of(messages)
            context = make_context(self.config.context, **{k: getattr(checked, k) for k in given})
            if system:
                joined = "\n\n".join(s for s in (context.system, system) if s)
                context = dataclasses.replace(context, system=joined)
            temperature = context.temperature
            generator = await self.model(
                self.allowed(chosen or context.model or self.default_model),
                native=context.mode == "native",
                temperature=temperature,
            )
            critic_name = context.critic_model or self.config.critic_model
            critic = (
                await self.model(self.allowed(critic_name), native=False, temperature=temperature)
                if critic_name
                else None
            )
            run = ReflectionRun(
                question,
                model=generator,
                critic_model=critic,
                context=dataclasses.replace(context, model=None, critic_model=None),
                checkpoint=self.config.checkpoint,
            )
        except ConfigError as exc:
            raise _bad(str(exc)) from exc
        parallel = run.parallel
        return run, parallel

    async def produce(
        self, run: ReflectionRun, put: Callable[[Any], None] | None
    ) -> ReflectionResult:
        """Run it (in turn, on the in-process model), ``put`` each event, then ``_DONE``."""
        turn = self.in_process if in_process(run.model) else contextlib.nullcontext()
        try:
            events = cast(AsyncGenerator[RunEvent, None], run.events(tokens=put is not None))
            async with turn, contextlib.aclosing(events):
                async for event in events:
                    if put is not None:
                        put(event)
            assert run.result is not None
            if put is not None:
                put(_DONE)
            return run.result
        except Exception as exc:
            if put is not None:
                put(exc)
            raise


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _check_types(body: dict[str, Any]) -> None:
    """Refuse OpenAI's own fields of another type than theirs.

    Raises:
        ApiError: 400.
    """
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise _bad("'stream' must be true or false")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _bad("'stream_options' must be an object, e.g. {\"include_usage\": true}")
    if options and not isinstance(options.get("include_usage", False), bool):
        raise _bad("'stream_options.include_usage' must be true or false")


async def _read_json(request: Request, most: int) -> Any:
    """The request's body as JSON, read no further than ``most`` bytes.

    Raises:
        ApiError: 413 for a longer body, 400 for one that is not JSON (or nested too deep).
    """
    too_long = ApiError(
        413,
        f"the request body is longer than {most:,} bytes, the most this server reads",
        "invalid_request_error",
        "request_too_large",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > most:
        raise too_long
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > most:
            raise too_long
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except RecursionError as exc:
        raise _bad("the body is nested too deep") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _bad("the body is not JSON") from exc


def _bad(message: str) -> ApiError:
    return ApiError(400, redact(message), "invalid_request_error")


def _failed(exc: BaseException) -> ApiError:
    """A run's failure as an OpenAI error: 503 unreachable, 502 another model failure."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ModelError):
        cause = exc.__cause__
        names = {cls.__name__ for cls in type(cause).__mro__} if cause is not None else set()
        if names & _UNREACHABLE:
            return ApiError(503, str(exc), "service_unavailable", "model_unreachable")
        return ApiError(502, str(exc), "server_error", "model_failed")
    if isinstance(exc, ConfigError):
        return ApiError(400, str(exc), "invalid_request_error")
    return ApiError(500, redact(f"{type(exc).__name__}: {exc}"), "server_error")


async def _gone(request: Request) -> None:
    """Return when the client has disconnected."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _unless_gone(request: Request, waiting: asyncio.Future[Any]) -> bool:
    """Wait for ``waiting``; ``False`` if the client left first (``waiting`` is cancelled)."""
    watcher = asyncio.ensure_future(_gone(request))
    try:
        done, _ = await asyncio.wait({waiting, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if waiting not in done:
        waiting.cancel()
        return False
    return True


def create_app(config: ServeConfig | None = None) -> Starlette:
    """The ASGI app of ``reflect serve``; run it with any ASGI server.

    Args:
        config: The server's model, key, checkpoint and default settings.
    """
    server = Server(config or ServeConfig())

    async def models(request: Request) -> Response:
        try:
            server.authorize(request)
        except ApiError as exc:
            return exc.response()
        created = int(time.time())
        data = [
            {"id": name, "object": "model", "created": created, "owned_by": "reflect-agent"}
            for name in model_ids()
        ]
        return JSONResponse({"object": "list", "data": data})

    async def completions(request: Request) -> Response:
        try:
            server.authorize(request)
            body = await _read_json(request, server.config.max_body)
            run, parallel = await server.prepare(body)
        except ApiError as exc:
            return exc.response()
        name = body["model"]
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await _stream(request, server, run, name, parallel, include_usage)
        task = asyncio.ensure_future(server.produce(run, None))
        if not await _unless_gone(request, task):
            with contextlib.suppress(BaseException):
                await task
            return Response(status_code=499)
        if task.exception() is not None:
            return _failed(task.exception()).response()  # type: ignore[arg-type]
        return JSONResponse(_completion(name, task.result()))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await server.close()

    return Starlette(
        routes=[
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


async def _stream(
    request: Request,
    server: Server,
    run: ReflectionRun,
    name: str,
    parallel: bool,
    include_usage: bool,
) -> Response:
    """Start the run; answer with its error if it fails before any event, else stream it."""
    items: asyncio.Queue[Any] = asyncio.Queue()
    task = asyncio.ensure_future(server.produce(run, items.put_nowait))
    first = asyncio.ensure_future(items.get())
    if not await _unless_gone(request, first):
        task.cancel()
        return Response(status_code=499)
    item = first.result()
    if isinstance(item, BaseException):
        return _failed(item).response()
    return StreamingResponse(
        _sse(item, items, task, name, Narration(parallel=parallel), include_usage),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(
    first: Any,
    items: asyncio.Queue[Any],
    task: asyncio.Future[ReflectionResult],
    name: str,
    narration: Narration,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    """The run's events as chat completion chunks; the run is cancelled if the client goes.

    Starlette cancels this generator when the client disconnects; ``finally`` then cancels
    the run, so no further model call is made.
    """
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": name,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + json.dumps({**head, "choices": [choice], **extra}).encode() + b"\n\n"

    try:
        yield chunk({"role": "assistant", "content": ""})
        item = first
        while item is not _DONE:
            if isinstance(item, BaseException):
                yield b"data: " + json.dumps(_failed(item).body()).encode() + b"\n\n"
                return
            event: RunEvent = item
            if event["event"] == "result":
                result = event["result"]
                if result.output:
                    yield chunk({"content": result.output})
                yield chunk({}, "stop")
                if include_usage:
                    usage = json.dumps({**head, "choices": [], "usage": _usage(result)})
                    yield b"data: " + usage.encode() + b"\n\n"
            else:
                text = narration.feed(event)
                if text:
                    yield chunk({"reasoning_content": text})
            item = await items.get()
        yield b"data: [DONE]\n\n"
    finally:
        task.cancel()


def _usage(result: ReflectionResult) -> dict[str, int]:
    """``usage_metadata`` under OpenAI's names."""
    counts = result.usage_metadata
    return {
        "prompt_tokens": counts["input_tokens"],
        "completion_tokens": counts["output_tokens"],
        "total_tokens": counts["total_tokens"],
    }


def _completion(name: str, result: ReflectionResult) -> dict[str, Any]:
    message = {
        "role": "assistant",
        "content": result.output,
        "reasoning_content": result.reasoning,
    }
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": name,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": _usage(result),
        "reflection": {
            "mode": result.mode,
            "kind": result.kind,
            "stop_reason": result.stop_reason,
            "rounds": result.rounds,
            "calls": result.usage["calls"],
        },
    }


def serve(
    config: ServeConfig, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1
) -> None:
    """Run the endpoint with uvicorn until interrupted.

    Args:
        config: What the server runs.
        host: Address to listen on.
        port: Port to listen on.
        workers: Processes serving requests. One process runs every run's graph on one
            core; more spread CPU-bound work (many concurrent runs) over cores. The
            in-process model takes one process only: it serves one call at a time.

    Raises:
        ConfigError: Several workers for the in-process model.
    """
    import uvicorn

    options: dict[str, Any] = {"host": host, "port": port, "log_level": "warning"}
    if workers <= 1:
        uvicorn.run(create_app(config), access_log=False, **options)
        return
    if in_process(config.model):
        raise ConfigError(
            "the in-process model serves one call at a time: use --workers 1, or a model server"
        )
    # Each worker process builds its app from the environment it inherits.
    os.environ[_CONFIG_VARIABLE] = json.dumps(dataclasses.asdict(config))
    uvicorn.run(
        "agent.serve:app_from_environment",
        factory=True,
        workers=workers,
        access_log=False,
        **options,
    )


_CONFIG_VARIABLE = "REFLECT_SERVE_CONFIG"


def app_from_environment() -> Starlette:
    """The app of one worker process of ``serve(..., workers=N)``."""
    raw = json.loads(os.environ[_CONFIG_VARIABLE])
    context = Context(**raw.pop("context"))
    return create_app(ServeConfig(**raw, context=context))
