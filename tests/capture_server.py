"""An OpenAI-compatible HTTP server that records what it is sent: headers and bodies.

Each request takes the next step of its script: ``"ok"`` answers with ``reply``,
``"empty"`` answers with an empty message, ``"nothing"`` opens a reply stream and closes it
before any data, ``"hang"`` never answers, an int answers with that HTTP status,
``"no-logprobs"`` answers a request that asks for logprobs with HTTP 400, as a server
without them does. When the
script runs out, every request is answered. Streamed and plain requests are both served.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLY = "<think>3 × 4 = 12, so 12 apples.</think>The answer is 12."


class CaptureServer(ThreadingHTTPServer):
    """Serves the script and keeps every request: ``seen`` holds (headers, body) pairs."""

    daemon_threads = True

    def __init__(
        self, script: list[str | int] | None = None, reply: str = REPLY, owned_by: str = "capture"
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = list(script or [])
        self.reply, self.owned_by = reply, owned_by
        self.seen: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    @property
    def requests(self) -> int:
        return len(self.seen)

    def authorizations(self) -> list[str]:
        """The ``Authorization`` header of every request (empty when none was sent)."""
        return [headers.get("authorization", "") for headers, _ in self.seen]

    def take(self, headers: dict[str, str], body: dict[str, Any]) -> str | int:
        with self.lock:
            self.seen.append((headers, body))
            return self.script.pop(0) if self.script else "ok"


class _Handler(BaseHTTPRequestHandler):
    server: CaptureServer
    # Keep-alive, as real model servers do: a client's pooled connections outlive a call.
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        model = {"id": "capture", "object": "model", "owned_by": self.server.owned_by}
        self._json(200, {"object": "list", "data": [model]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        step = self.server.take({k.lower(): v for k, v in self.headers.items()}, body)
        if step == "hang":
            time.sleep(60)
            return
        if step == "no-logprobs" and body.get("logprobs"):
            error = {"message": "logprobs is not supported by this server", "type": "invalid"}
            self._json(400, {"error": error})
            return
        if isinstance(step, int):
            self._json(step, {"error": {"message": f"fault {step}", "type": "server_error"}})
            return
        text = "" if step == "empty" else self.server.reply
        if not body.get("stream"):
            self._json(200, _completion(text))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")  # a stream of unknown length ends with it
        self.end_headers()
        self.close_connection = True
        if step == "nothing":
            return
        for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
            self.wfile.write(_chunk(piece))
        self.wfile.write(_chunk("", "stop"))
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        self.wfile.write(_sse({**_base("chat.completion.chunk"), "choices": [], "usage": usage}))
        self.wfile.write(b"data: [DONE]\n\n")

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _base(kind: str) -> dict[str, Any]:
    return {"id": "c", "object": kind, "created": 0, "model": "capture"}


def _completion(text: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": text}
    return {
        **_base("chat.completion"),
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _chunk(text: str, finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": finish}
    return _sse({**_base("chat.completion.chunk"), "choices": [choice]})


def _sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


@contextmanager
def capture_server(
    script: list[str | int] | None = None, reply: str = REPLY, owned_by: str = "capture"
) -> Iterator[CaptureServer]:
    """Run a ``CaptureServer`` in a thread for the length of the block.

    ``owned_by`` is what its ``/v1/models`` says serves it ("vllm", "llamacpp", ...).
    """
    server = CaptureServer(script, reply, owned_by)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
