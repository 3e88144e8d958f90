"""Samples in parallel: wall time of vote and the default strategy against plain, on a server.

Command:
    .venv/bin/python benchmarks/parallel.py --latency 1.0

A loopback OpenAI-compatible server answers every request after a fixed latency and serves
requests concurrently (one thread each), as vLLM, SGLang, llama-server with slots or the
OpenAI API do. Its answers are scripted by the request's seed, so a run either agrees (every
sample says 12) or ties (12, 7, 12, 7, 5, …: a tie at the top after five samples, which sends
the default strategy to the checklist and reconciliation). The server counts the tokens of
every completion it sends; the run's ``usage`` must equal that count exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from _common import machine

from agent import areflect
from agent.prompts import PROMPTS

QUESTION = "Tom has 3 bags of 4 apples. How many apples does he have?"
TIE = [12, 7, 12, 7, 5, 9, 3, 1]


class Scripted(BaseHTTPRequestHandler):
    """``/v1/chat/completions`` after ``latency`` seconds; plain JSON or a stream."""

    latency = 1.0
    scenario = "agree"
    sent: list[tuple[int, int]] = []
    lock = threading.Lock()
    in_flight = 0
    most_in_flight = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with Scripted.lock:
            Scripted.in_flight += 1
            Scripted.most_in_flight = max(Scripted.most_in_flight, Scripted.in_flight)
        try:
            time.sleep(self.latency)
            self._answer(body)
        finally:
            with Scripted.lock:
                Scripted.in_flight -= 1

    def _answer(self, body: dict[str, Any]) -> None:
        messages = body["messages"]
        text = self._reply(messages, body.get("seed") or 0)
        prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
        completion = len(text.split())
        with Scripted.lock:
            Scripted.sent.append((prompt, completion))
        usage = {"prompt_tokens": prompt, "completion_tokens": completion}
        usage["total_tokens"] = prompt + completion
        base = {"id": "x", "created": 0, "model": "fixed", "object": "chat.completion"}
        if not body.get("stream"):
            choice = {"index": 0, "message": {"role": "assistant", "content": text}}
            reply = {**base, "choices": [{**choice, "finish_reason": "stop"}], "usage": usage}
            self._send(json.dumps(reply).encode(), "application/json")
            return
        chunk = {**base, "object": "chat.completion.chunk"}
        events = [
            {**chunk, "choices": [{"index": 0, "delta": {"content": text}}]},
            {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {**chunk, "choices": [], "usage": usage},
        ]
        data = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        self._send(data.encode(), "text/event-stream")

    def _reply(self, messages: list[dict[str, Any]], seed: int) -> str:
        first = str(messages[0].get("content", ""))
        if first == PROMPTS.texts["contrast_system"]:
            return "- [ ] the count: A multiplies 3 × 4; B adds 3 + 4. Check: 3 bags of 4."
        if "A reviewer listed" in str(messages[-1].get("content", "")):
            return "3 bags of 4 apples is 3 × 4 = 12.\n\nThe answer is \\boxed{12}."
        answer = 12 if self.scenario == "agree" else TIE[seed % len(TIE)]
        if str(messages[-1].get("content", "")).startswith("Write a short Python program"):
            return f"```python\nbags = 3\nprint({answer})\n```"  # a program sample
        return f"He has 3 bags of 4 apples.\n\nSo the answer is \\boxed{{{answer}}}."

    def _send(self, data: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


async def timed(url: str, **options: Any) -> tuple[float, Any]:
    Scripted.sent.clear()
    started = time.perf_counter()
    result = await areflect(QUESTION, model=url, temperature=0, **options)
    return time.perf_counter() - started, result


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    Scripted.latency = args.latency
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1#fixed"
    print(f"machine: {machine()}; latency {args.latency:g} s per request; best of {args.repeats}")
    print("effort  scenario  mode                 samples  calls  wall s   × plain  tokens exact")
    await areflect(QUESTION, model=url, mode="baseline")  # warm the client and imports
    rows = []
    for effort in ("low", "medium", "high"):
        plain = min([(await timed(url, mode="baseline", effort=effort))[0] for _ in range(3)])
        for scenario in ("agree", "tie"):
            Scripted.scenario = scenario
            for name, options in (
                ("vote", {"mode": "vote"}),
                ("default (contrast)", {}),
                ("vote, 5 samples", {"mode": "vote", "samples": 5, "max_samples": 5}),
            ):
                if name == "vote, 5 samples" and (effort, scenario) != ("medium", "agree"):
                    continue
                runs = [await timed(url, effort=effort, **options) for _ in range(args.repeats)]
                seconds, result = min(runs, key=lambda r: r[0])
                sent = sum(p + c for p, c in Scripted.sent)
                counted = result.usage["input_tokens"] + result.usage["output_tokens"]
                samples = sum(1 for d in result.drafts if d["round"] == 0)
                line = (
                    f"{effort:<7} {scenario:<9} {name:<20} {samples:>7}  {result.usage['calls']:>5}"
                    f"  {seconds:6.2f}  {seconds / plain:7.2f}  {'yes' if sent == counted else 'NO'}"
                    f" ({result.stop_reason})"
                )
                print(line, flush=True)
                rows.append(line)
        print(f"{effort:<7} {'':<9} {'plain (baseline)':<20} {1:>7}  {1:>5}  {plain:6.2f}     1.00")
    print(f"most requests in flight at once: {Scripted.most_in_flight}")
    server.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
