"""A small server speaking the Ollama HTTP API, with a real GGUF model behind it.

No Ollama binary can be installed on the build machines, so the integration tests run
``ChatOllama`` against this instead. It serves two names for one model file:

* ``think-NAME`` behaves like a thinking model (R1-style template): the reply is pre-filled with
  ``<think>``; with ``"think": true`` the reasoning comes back in ``message.thinking``,
  otherwise the raw text comes back with only the closing ``</think>``.
* ``plain-NAME`` has no thinking support and answers ``"think": true`` with HTTP 400, as
  Ollama does.

A final assistant message is continued, as Ollama continues one.

Run: ``python tests/ollama_server.py MODEL.gguf NAME PORT``; it prints ``ready`` when it
accepts requests.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


class Backend:
    """The loaded model, its chat template, and a lock (llama.cpp is not thread-safe)."""

    def __init__(self, path: str, name: str) -> None:
        self.llm = Llama(model_path=path, n_ctx=4096, verbose=False)
        meta = self.llm.metadata
        self.template = Jinja2ChatFormatter(
            template=meta["tokenizer.chat_template"],
            eos_token=self.llm.detokenize([self.llm.token_eos()]).decode(),
            bos_token=self.llm.detokenize([self.llm.token_bos()]).decode(),
        )
        self.name, self.path, self.lock = name, Path(path), threading.Lock()

    def models(self) -> dict[str, bool]:
        """Served names and whether each supports thinking."""
        return {f"think-{self.name}": True, f"plain-{self.name}": False}


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Handler(BaseHTTPRequestHandler):
    backend: Backend

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _model_entry(self, name: str) -> dict[str, Any]:
        return {
            "name": f"{name}:latest",
            "model": f"{name}:latest",
            "modified_at": _now(),
            "size": self.backend.path.stat().st_size,
            "digest": "0" * 64,
            "details": {
                "format": "gguf",
                "family": "qwen2",
                "parameter_size": "1.5B",
                "quantization_level": "Q4_K_M",
            },
        }

    def _resolve(self, requested: str) -> str | None:
        base = requested.removesuffix(":latest")
        return base if base in self.backend.models() else None

    def do_GET(self) -> None:
        if self.path == "/api/version":
            self._json(200, {"version": "0.12.0"})
        elif self.path == "/api/tags":
            self._json(200, {"models": [self._model_entry(n) for n in self.backend.models()]})
        elif self.path == "/":
            self._json(200, {"status": "Ollama is running"})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path == "/api/show":
            name = self._resolve(body.get("model") or body.get("name") or "")
            if name is None:
                self._json(404, {"error": f"model '{body.get('model')}' not found"})
                return
            caps = ["completion", "thinking"] if self.backend.models()[name] else ["completion"]
            entry = self._model_entry(name)
            self._json(
                200,
                {
                    "modelfile": "",
                    "parameters": "",
                    "template": "",
                    "details": entry["details"],
                    "capabilities": caps,
                },
            )
        elif self.path == "/api/chat":
            self._chat(body)
        else:
            self._json(404, {"error": "not found"})

    def _chat(self, body: dict[str, Any]) -> None:
        name = self._resolve(body.get("model", ""))
        if name is None:
            self._json(
                404, {"error": f"model '{body.get('model')}' not found, try pulling it first"}
            )
            return
        thinking_model = self.backend.models()[name]
        think = bool(body.get("think"))
        if think and not thinking_model:
            self._json(400, {"error": f'"{name}" does not support thinking'})
            return
        options = body.get("options") or {}
        messages = [
            {"role": m["role"], "content": m.get("content") or ""} for m in body["messages"]
        ]
        # As Ollama does, a final assistant message is continued: the reply carries on from
        # its text rather than opening a new turn, and holds only what was added.
        prefill = messages.pop()["content"] if messages[-1]["role"] == "assistant" else ""
        prompt = self.backend.template(messages=messages).prompt
        # Qwen's ChatML end markers (llama.cpp renders special tokens as empty text, so the
        # formatter's own stop list cannot be used here).
        stop = ["<|im_end|>", "<|endoftext|>"]
        if thinking_model and not prefill:
            prompt += THINK_OPEN + "\n"
        prompt += prefill
        stream = body.get("stream", True)
        started = time.perf_counter_ns()
        if stream:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.end_headers()
        content: list[str] = []
        thinking: list[str] = []
        splitter = _ThinkSplitter(active=thinking_model and think)

        def emit(parts: list[tuple[str, str]]) -> None:
            for field, text in parts:
                (thinking if field == "thinking" else content).append(text)
                if stream:
                    message = {"role": "assistant", "content": "", field: text}
                    self._line(
                        {"model": name, "created_at": _now(), "done": False, "message": message}
                    )

        with self.backend.lock:
            pieces = self.backend.llm.create_completion(
                prompt,
                max_tokens=int(options.get("num_predict") or 512),
                temperature=float(options.get("temperature", 0.0)),
                stream=True,
                stop=stop,
            )
            count = 0
            for piece in pieces:
                count += 1
                emit(splitter.feed(piece["choices"][0]["text"]))
            prompt_tokens = max(int(self.backend.llm.n_tokens) - count, 0)
        emit(splitter.flush())
        final: dict[str, Any] = {
            "model": name,
            "created_at": _now(),
            "done": True,
            "done_reason": "stop",
            "total_duration": time.perf_counter_ns() - started,
            "prompt_eval_count": prompt_tokens,
            "eval_count": count,
            "message": {"role": "assistant", "content": "" if stream else "".join(content)},
        }
        if not stream and thinking:
            final["message"]["thinking"] = "".join(thinking)
        if stream:
            self._line(final)
        else:
            self._json(200, final)

    def _line(self, obj: dict[str, Any]) -> None:
        self.wfile.write((json.dumps(obj) + "\n").encode())
        self.wfile.flush()


class _ThinkSplitter:
    """Routes streamed text to ``thinking`` until ``</think>``, then to ``content``."""

    def __init__(self, *, active: bool) -> None:
        self.active, self.in_thinking, self.held = active, active, ""

    def feed(self, text: str) -> list[tuple[str, str]]:
        if not self.in_thinking:
            return [("content", text)] if text else []
        self.held += text
        if THINK_CLOSE in self.held:
            before, after = self.held.split(THINK_CLOSE, 1)
            self.in_thinking, self.held = False, ""
            return [(f, t) for f, t in (("thinking", before), ("content", after.lstrip())) if t]
        # Hold back a tail that could be the start of </think>.
        keep = next(
            (k for k in range(len(THINK_CLOSE) - 1, 0, -1) if self.held.endswith(THINK_CLOSE[:k])),
            0,
        )
        out, self.held = self.held[: len(self.held) - keep], self.held[len(self.held) - keep :]
        return [("thinking", out)] if out else []

    def flush(self) -> list[tuple[str, str]]:
        held, self.held = self.held, ""
        return [("thinking" if self.in_thinking else "content", held)] if held else []


def main() -> None:
    path, name, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    Handler.backend = Backend(path, name)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
