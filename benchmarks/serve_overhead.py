"""What ``reflect serve`` adds: latency over a direct ``areflect``, and 64 streams at once.

Command: .venv/bin/python benchmarks/serve_overhead.py [--requests 60] [--streams 64]

1. Added latency at concurrency 1. A model server that answers at once stands behind both
   paths; the same question runs ``--requests`` times through ``areflect`` (the model
   built once, as the endpoint builds it once) and through the endpoint with the ``openai``
   SDK (``reflect serve`` in its own process). The difference of the medians is what the
   endpoint adds: HTTP, JSON, the model name and settings, the response.
2. ``--streams`` streaming requests at once against a model server whose every reply
   takes 1 s. All must complete with the exact answer and usage; the wall time of the
   whole batch is compared with one streaming request's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import uvicorn
from _common import machine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agent import areflect
from agent.api import aclose_model
from agent.models import resolve_model

ROOT = Path(__file__).resolve().parents[1]
REPLY = "<think>3 × 4 = 12, so 12 apples.</think>The answer is 12."
ANSWER = "The answer is 12."
Q = "Tom has 3 bags of 4 apples. How many apples?"
USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def model_server(latency: float) -> tuple[subprocess.Popen[bytes], str]:
    """An OpenAI-compatible server answering REPLY after ``latency`` s, in its own process."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--model-server", str(latency), str(port)], cwd=ROOT
    )
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the model server did not start")


def run_model_server(latency: float, port: int) -> None:
    count = [0]

    def piece(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        head = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
        return f"data: {json.dumps({**head, 'choices': [choice], **extra})}\n\n".encode()

    async def completions(request: Request) -> Response:
        body = await request.json()
        count[0] += 1
        await asyncio.sleep(latency)
        if not body.get("stream"):
            message = {"role": "assistant", "content": REPLY}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return JSONResponse(
                {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                 "choices": [choice], "usage": USAGE}
            )  # fmt: skip

        async def stream() -> Any:
            yield piece({"role": "assistant", "content": REPLY[:20]})
            yield piece({"content": REPLY[20:]})
            yield piece({}, "stop")
            head = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
            yield f"data: {json.dumps({**head, 'choices': [], 'usage': USAGE})}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def requests(request: Request) -> Response:
        return JSONResponse({"requests": count[0]})

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/requests", requests),
        ]
    )
    uvicorn.run(app, port=port, log_level="warning", backlog=4096, access_log=False)


def requests_seen(url: str) -> int:
    return int(httpx.get(url.removesuffix("/v1") + "/requests").json()["requests"])


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children (workers), from /proc."""
    total = 0.0
    pids = [pid] + [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for one in pids:
        fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def endpoint(model_url: str, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "reflect"), "serve", "--port", str(port),
         "--model", model_url, "--workers", str(workers)],
        cwd=ROOT, stderr=subprocess.DEVNULL, env=os.environ.copy(),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
    for _ in range(300):
        try:
            client.models.list()
            return process, url
        except openai.APIConnectionError:
            time.sleep(0.1)
    raise RuntimeError("reflect serve did not start")


async def latency(model_url: str, url: str, mode: str, name: str, n: int) -> list[float]:
    """Median seconds of: areflect, the endpoint by httpx, the endpoint by the openai SDK.

    The three are interleaved request by request, so a slow patch of the shared machine
    costs each the same.
    """
    chat = resolve_model(model_url)
    body = {"model": name, "messages": [{"role": "user", "content": Q}]}
    sdk = openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0)
    times: list[list[float]] = [[], [], []]
    async with httpx.AsyncClient(base_url=url) as client:
        for i in range(n + 5):
            start = time.perf_counter()
            result = await areflect(Q, model=chat, mode=mode, effort="low")
            direct = time.perf_counter() - start
            assert result.output == ANSWER
            start = time.perf_counter()
            reply = (await client.post("/chat/completions", json=body)).json()
            plain = time.perf_counter() - start
            assert reply["choices"][0]["message"]["content"] == ANSWER
            start = time.perf_counter()
            answer = await sdk.chat.completions.create(**body)  # type: ignore[call-overload]
            typed = time.perf_counter() - start
            assert answer.choices[0].message.content == ANSWER
            if i >= 5:  # the first ones warm connections and caches
                for kept, value in zip(times, (direct, plain, typed), strict=True):
                    kept.append(value)
    await sdk.close()
    await aclose_model(chat)
    return [statistics.median(t) for t in times]


async def one_stream(client: openai.AsyncOpenAI, name: str) -> tuple[float, str, Any, int]:
    start = time.perf_counter()
    stream = await client.chat.completions.create(
        model=name,
        messages=[{"role": "user", "content": Q}],
        stream=True,
        stream_options={"include_usage": True},
    )
    content, usage, reasoning = "", None, 0
    async for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            content += choice.delta.content or ""
            reasoning += len((choice.delta.model_extra or {}).get("reasoning_content") or "")
    return time.perf_counter() - start, content, usage, reasoning


async def streams(url: str, name: str, count: int, calls: int) -> dict[str, Any]:
    client = openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0, timeout=60)
    await one_stream(client, name)  # warm: the model built, connections open
    single = [(await one_stream(client, name))[0] for _ in range(3)]
    start = time.perf_counter()
    results = await asyncio.gather(*(one_stream(client, name) for _ in range(count)))
    wall = time.perf_counter() - start
    await client.close()
    exact = sum(
        content == ANSWER
        and reasoning > 0
        and usage is not None
        and (usage.prompt_tokens, usage.completion_tokens) == (10 * calls, 5 * calls)
        for _, content, usage, reasoning in results
    )
    one = statistics.median(single)
    return {"one": one, "wall": wall, "ratio": wall / one, "exact": exact, "count": count}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="*", default=[1])
    parser.add_argument("--model-server", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model_server:
        run_model_server(float(args.model_server[0]), int(args.model_server[1]))
        return
    print(machine())

    server, fast_url = model_server(0.0)
    process, url = endpoint(fast_url)
    try:
        print(f"\n1. added latency, concurrency 1, {args.requests} requests (median)")
        cases = (("single", "reflect-single", 1), ("prompted", "reflect-contrast-low", 2))
        for mode, name, calls in cases:
            base, plain, typed = asyncio.run(latency(fast_url, url, mode, name, args.requests))
            print(
                f"  {name:<22} ({calls} model call(s)): areflect {base * 1000:5.1f} ms; "
                f"endpoint by httpx {plain * 1000:5.1f} ms (+{1000 * (plain - base):.1f} ms), "
                f"by the openai SDK {typed * 1000:5.1f} ms (+{1000 * (typed - base):.1f} ms)"
            )
    finally:
        process.terminate()
        process.wait()
        server.terminate()

    server, slow_url = model_server(1.0)
    try:
        print(f"\n2. {args.streams} streaming requests at once, model server 1 s per reply")
        for workers in args.workers:
            process, url = endpoint(slow_url, workers)
            try:
                for name, calls in (("reflect-single", 1), ("reflect", 3)):
                    asyncio.run(streams(url, name, 8, calls))  # every worker warm
                    before, cpu = requests_seen(slow_url), cpu_seconds(process.pid)
                    got = asyncio.run(streams(url, name, args.streams, calls))
                    cpu = cpu_seconds(process.pid) - cpu
                    requests = requests_seen(slow_url) - before
                    print(
                        f"  {workers} worker(s), {name:<15} ({calls} call(s) each): one request "
                        f"{got['one']:.2f} s, {got['count']} at once {got['wall']:.2f} s "
                        f"({got['ratio']:.2f}×), {got['exact']}/{got['count']} exact answer "
                        f"and usage, {requests} model requests, endpoint CPU "
                        f"{1000 * cpu / (got['count'] + 3):.0f} ms a request"
                    )
            finally:
                process.terminate()
                process.wait()
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
