"""An OpenAI-compatible HTTP server that fails on purpose: real sockets, scripted faults.

Each request takes the next fault from the script: ``"ok"`` answers, an int answers with
that HTTP status, ``"hang"`` never answers, ``"drop"`` sends part of the reply and closes
the connection. When the script runs out, every request is answered.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = "<thinking>3 × 4 = 12</thinking><output>The answer is 12.</output>"


def _completion(text: str) -> dict[str, Any]:
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "fault",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _chunk(text: str, finish: str | None = None) -> bytes:
    body = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fault",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


class FaultServer(ThreadingHTTPServer):
    """Serves the scripted faults; ``requests`` counts the calls it got."""

    daemon_threads = True

    def __init__(self, script: list[str | int]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = list(script)
        self.requests = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def next_fault(self) -> str | int:
        with self.lock:
            self.requests += 1
            return self.script.pop(0) if self.script else "ok"


class _Handler(BaseHTTPRequestHandler):
    server: FaultServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        fault = self.server.next_fault()
        if fault == "hang":
            time.sleep(30)
            return
        if isinstance(fault, int):
            self._send(fault, {"error": {"message": f"fault {fault}", "type": "server_error"}})
            return
        if not request.get("stream"):
            body = json.dumps(_completion(ANSWER)).encode()
            if fault == "drop":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                return
            self._send(200, _completion(ANSWER))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(_chunk(ANSWER[:20]))
        self.wfile.flush()
        if fault == "drop":
            self.close_connection = True
            return
        self.wfile.write(_chunk(ANSWER[20:], "stop") + b"data: [DONE]\n\n")

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def fault_server(script: list[str | int]) -> Iterator[FaultServer]:
    """Run a ``FaultServer`` in a thread for the length of the block."""
    server = FaultServer(script)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
