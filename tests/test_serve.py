"""``reflect serve`` as a separate process, driven by the official ``openai`` SDK.

A scripted OpenAI-compatible model server (``tests/capture_server.py``) stands behind the
endpoint, so every model request the runs make is seen and counted: usage must be exactly
the sum of what the model server reported, and a client that hangs up must stop the run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from agent.serve import model_ids, parse_model_name
from tests.capture_server import REPLY, CaptureServer, _chunk, _completion, _Handler, capture_server

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-serve-test-key"
SERVER_SECRET = "sk-server-own-openai-key-never-sent"
Q = "Tom has 3 bags of 4 apples. How many apples?"
ANSWER = "The answer is 12."


class _SlowHandler(_Handler):
    """Streams the first half of the reply, waits ``server.pause`` seconds, then the rest."""

    server: SlowServer

    def do_POST(self) -> None:
        if not self.server.pause:
            super().do_POST()
            return
        import json

        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.server.take({k.lower(): v for k, v in self.headers.items()}, body)
        if not body.get("stream"):
            time.sleep(self.server.pause)
            self._json(200, _completion(self.server.reply))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        text = self.server.reply
        try:
            self.wfile.write(_chunk(text[: len(text) // 2]))
            self.wfile.flush()
            time.sleep(self.server.pause)
            self.wfile.write(_chunk(text[len(text) // 2 :]))
            self.wfile.write(_chunk("", "stop"))
            self.wfile.write(b"data: [DONE]\n\n")
        except OSError:
            pass


class SlowServer(CaptureServer):
    pause = 0.0

    def __init__(self) -> None:
        super().__init__()
        self.RequestHandlerClass = _SlowHandler


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "reflect"), "serve", "--port", str(port), *args],
        cwd=ROOT,
        env={**os.environ, "REFLECT_TIMEOUT": "5", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"reflect serve exited: {process.stderr.read().decode()}")  # type: ignore[union-attr]
        try:
            httpx.get(f"{url}/models", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("reflect serve did not come up")


@pytest.fixture(scope="module")
def model() -> Iterator[SlowServer]:
    server = SlowServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.fixture(scope="module")
def endpoint(model: SlowServer, dead_url: str) -> Iterator[str]:
    other_spelling = model.url.replace("127.0.0.1", "localhost")
    process, url = start_serve(
        ["--model", model.url, "--api-key", KEY],
        {
            "OPENAI_API_KEY": SERVER_SECRET,
            "REFLECT_ALLOWED_MODELS": f"{other_spelling},{dead_url}",
        },
    )
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture
def client(endpoint: str, model: SlowServer) -> Iterator[openai.OpenAI]:
    model.seen.clear()
    model.script.clear()
    model.reply = REPLY
    model.pause = 0.0
    with openai.OpenAI(base_url=endpoint, api_key=KEY, max_retries=0) as sdk:
        yield sdk


def ask(**kwargs: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": Q}], **kwargs}


def deltas(stream: Any) -> tuple[list[tuple[str, str]], Any]:
    """The stream's deltas in order, as ("reasoning" | "content", text), and its usage."""
    seen: list[tuple[str, str]] = []
    usage = None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            extra = choice.delta.model_extra or {}
            if extra.get("reasoning_content"):
                seen.append(("reasoning", extra["reasoning_content"]))
            if choice.delta.content:
                seen.append(("content", choice.delta.content))
    return seen, usage


def test_model_names() -> None:
    assert parse_model_name("reflect-contrast-medium/ollama:qwen2.5:7b") == (
        {"strategy": "contrast", "effort": "medium"},
        "ollama:qwen2.5:7b",
    )
    assert parse_model_name("reflect/http://host:8080/v1") == ({}, "http://host:8080/v1")
    assert parse_model_name("reflect-low-vote") == ({"effort": "low", "mode": "vote"}, None)
    for bad in ("gpt-4o", "reflect-fast", "reflect-low-high", "reflect-vote-critique", "reflex"):
        with pytest.raises(Exception, match="does not exist"):
            parse_model_name(bad)
    for name in model_ids():  # every name /v1/models lists reads back as itself
        options, chosen = parse_model_name(name)
        assert chosen is None and "-".join(["reflect", *options.values()]) == name


def test_non_streaming_answer_reasoning_and_exact_usage(
    client: openai.OpenAI, model: SlowServer
) -> None:
    reply = client.chat.completions.create(model="reflect-contrast-low", **ask())
    message = reply.choices[0].message
    assert message.content == ANSWER
    reasoning = (message.model_extra or {})["reasoning_content"]
    assert "3 × 4 = 12, so 12 apples." in reasoning and "agree" in reasoning
    # The scripted server reports 10 in / 5 out per call: usage is its exact sum.
    calls = model.requests
    assert calls == 2  # low effort: the plain answer and one sample, which agree
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (10 * calls, 5 * calls)
    assert reply.usage.total_tokens == 15 * calls
    assert reply.model == "reflect-contrast-low"


def test_streaming_reasoning_before_content_and_exact_usage(
    client: openai.OpenAI, model: SlowServer
) -> None:
    stream = client.chat.completions.create(
        model="reflect-contrast-low",
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"programs": 0},  # the scripted server answers in prose
        **ask(),
    )
    seen, usage = deltas(stream)
    kinds = [kind for kind, _ in seen]
    assert "reasoning" in kinds and "content" in kinds
    first_content = kinds.index("content")
    assert "reasoning" not in kinds[first_content:]
    reasoning = "".join(text for kind, text in seen if kind == "reasoning")
    # The model's own words streamed as it wrote them, each sample's progress, the tally.
    assert reasoning.count("3 × 4 = 12, so 12 apples.") == 2
    assert "⟲ solution 1: The answer is 12." in reasoning
    assert "⟲ solution 2: The answer is 12." in reasoning
    assert "⟲ reflection: all 2 solutions agree: 12" in reasoning
    assert reasoning.index("⟲ solution") < reasoning.index("⟲ reflection")
    assert "".join(text for kind, text in seen if kind == "content") == ANSWER
    calls = model.requests
    assert calls == 2
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
        10 * calls,
        5 * calls,
        15 * calls,
    )


def test_settings_from_the_name_and_extra_body_reach_the_run(
    client: openai.OpenAI, model: SlowServer
) -> None:
    reply = client.chat.completions.create(
        model="reflect-vote-low",
        messages=[
            {"role": "system", "content": "Answer like a pirate."},
            {"role": "user", "content": Q},
        ],
        seed=7,
        temperature=0.2,
        extra_body={"samples": 4, "programs": 0, "reflect": {"max_tokens": 9000}},
    )
    assert reply.choices[0].message.content == ANSWER
    bodies = [body for _, body in model.seen]
    assert len(bodies) == 4  # samples=4 from extra_body; the default low effort draws 2
    seeds = sorted(b["seed"] for b in bodies if "seed" in b)
    assert seeds == [8, 9, 10]  # sample i draws with seed + i
    assert {b.get("temperature") for b in bodies} == {0.2}  # OpenAI's field, the setting
    assert all("Answer like a pirate." in str(b["messages"]) for b in bodies)
    assert (reply.model_extra or {})["reflection"]["mode"] == "vote"


def test_models_lists_the_names(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list().data]
    assert ids[0] == "reflect"
    assert {"reflect-contrast-medium", "reflect-critique-high", "reflect-vote-low"} <= set(ids)


def test_an_unknown_model_name_is_404(client: openai.OpenAI, model: SlowServer) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", **ask())
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found"
    assert model.requests == 0


def test_a_model_the_server_does_not_allow_is_404_and_never_called(
    client: openai.OpenAI, model: SlowServer
) -> None:
    before = model.requests
    with capture_server() as evil, pytest.raises(openai.NotFoundError, match="not allowed"):
        client.chat.completions.create(model=f"reflect/{evil.url}", **ask())
    assert evil.requests == 0 and model.requests == before


def test_a_model_the_client_names_never_gets_the_server_key(
    client: openai.OpenAI, model: SlowServer
) -> None:
    allowed = model.url.replace("127.0.0.1", "localhost")
    reply = client.chat.completions.create(model=f"reflect-single/{allowed}", **ask())
    assert reply.choices[0].message.content == ANSWER
    assert model.requests == 1
    assert all(SERVER_SECRET not in header for header in model.authorizations())


def test_a_bad_key_is_401(endpoint: str, model: SlowServer) -> None:
    model.seen.clear()
    with openai.OpenAI(base_url=endpoint, api_key="wrong", max_retries=0) as sdk:
        with pytest.raises(openai.AuthenticationError) as caught:
            sdk.chat.completions.create(model="reflect", **ask())
        assert caught.value.status_code == 401
        with pytest.raises(openai.AuthenticationError):
            sdk.models.list()
    assert model.requests == 0


def test_bad_requests_are_400(client: openai.OpenAI, model: SlowServer) -> None:
    for extra in ({"samples": "many"}, {"reflect": {"bogus": 1}}, {"mode": "telepathy"}):
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="reflect", extra_body=extra, **ask())
        assert caught.value.status_code == 400
    with pytest.raises(openai.BadRequestError, match="last message"):
        client.chat.completions.create(
            model="reflect", messages=[{"role": "assistant", "content": "hi"}]
        )
    assert model.requests == 0


def test_a_client_may_name_no_local_file_nor_local_model_the_server_did_not_choose(
    model: SlowServer,
) -> None:
    model.seen.clear()
    process, url = start_serve(
        ["--model", model.url], {"REFLECT_ALLOWED_MODELS": "", "REFLECT_MODEL": model.url}
    )
    try:
        with openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=30) as sdk:
            for name in (
                "local:/root/.bashrc",
                "local:/etc/passwd",
                "local:nothere.gguf",
                "local:qwen2.5-coder-0.5b",
                "local:",
            ):
                with pytest.raises(openai.NotFoundError, match="not allowed here") as caught:
                    sdk.chat.completions.create(model=f"reflect/{name}", **ask())
                assert caught.value.code == "model_not_found"
                with pytest.raises(openai.NotFoundError):
                    sdk.chat.completions.create(
                        model="reflect", extra_body={"critic_model": name}, **ask()
                    )
    finally:
        process.terminate()
        process.wait(10)
    assert model.requests == 0


def test_a_client_may_not_ask_for_more_than_high_effort_gives(
    client: openai.OpenAI, model: SlowServer
) -> None:
    too_much: list[tuple[dict[str, Any], str]] = [
        ({"reflect": {"samples": 10**9}}, "samples may be at most 4 on this server"),
        ({"samples": 5}, "samples may be at most 4 on this server"),
        ({"max_samples": 9}, "max_samples may be at most 8"),
        ({"max_rounds": 5}, "max_rounds may be at most 4"),
        ({"reflect": {"max_tokens": 10**12}}, "max_tokens may be at most 32000"),
        ({"max_seconds": 1500.5}, "max_seconds may be at most 1500 on"),
        ({"max_concurrency": 9}, "max_concurrency may be at most 8"),
    ]
    for extra, message in too_much:
        for stream in (False, True):
            with pytest.raises(openai.BadRequestError) as caught:
                client.chat.completions.create(
                    model="reflect", stream=stream, extra_body=extra, **ask()
                )
            assert caught.value.status_code == 400
            said = str(caught.value.message)
            assert message in said and "--limit" in said and "\n" not in said, said
    assert model.requests == 0


def test_the_operator_raises_a_limit(model: SlowServer) -> None:
    model.seen.clear()
    model.reply = REPLY
    process, url = start_serve(["--model", model.url, "--limit", "samples=6"], {})
    try:
        with openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=30) as sdk:
            reply = sdk.chat.completions.create(
                model="reflect-vote-low", extra_body={"samples": 6}, **ask()
            )
            assert reply.choices[0].message.content == ANSWER
            assert model.requests == 6
            with pytest.raises(openai.BadRequestError, match="samples may be at most 6"):
                sdk.chat.completions.create(model="reflect", extra_body={"samples": 7}, **ask())
            with pytest.raises(openai.BadRequestError, match="max_rounds may be at most 4"):
                sdk.chat.completions.create(model="reflect", extra_body={"max_rounds": 5}, **ask())
    finally:
        process.terminate()
        process.wait(10)
    bad = subprocess.run(
        [str(Path(sys.executable).parent / "reflect"), "serve", "--limit", "bogus=3"],
        capture_output=True,
        timeout=60,
    )
    assert bad.returncode == 1 and b"the names are max_rounds, samples" in bad.stderr


def test_a_long_deep_or_mistyped_body_is_refused(endpoint: str, model: SlowServer) -> None:
    model.seen.clear()
    post = f"{endpoint}/chat/completions"
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    long = b'{"model": "reflect", "pad": "' + b"x" * (1 << 20) + b'"}'
    for body in (long, b"[" * (2 << 20)):
        reply = httpx.post(post, content=body, headers=headers, timeout=30)
        assert reply.status_code == 413
        assert "longer than 1,048,576 bytes" in reply.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the length is counted as read
        for _ in range(3):
            yield b" " * (1 << 19)

    reply = httpx.post(post, content=chunks(), headers=headers, timeout=30)
    assert reply.status_code == 413
    deep = b"[" * 100_000 + b"]" * 100_000
    reply = httpx.post(post, content=deep, headers=headers, timeout=30)
    assert reply.status_code == 400 and "nested too deep" in reply.json()["error"]["message"]
    mistyped: list[tuple[dict[str, Any], str]] = [
        ({"stream": True, "stream_options": [1]}, "'stream_options' must be an object"),
        ({"stream": True, "stream_options": {"include_usage": "yes"}}, "include_usage"),
        ({"stream": "yes"}, "'stream' must be true or false"),
        ({"messages": "hi"}, "'messages' must be a list"),
        ({"messages": ["hi"]}, "'messages' must be a list"),
    ]
    for fields, message in mistyped:
        body = {**ask(model="reflect"), **fields}
        reply = httpx.post(post, json=body, headers=headers, timeout=30)
        assert reply.status_code == 400, reply.text
        error = reply.json()["error"]
        assert message in error["message"] and error["type"] == "invalid_request_error"
    assert model.requests == 0


def test_an_unreachable_model_server_is_503(client: openai.OpenAI, dead_url: str) -> None:
    for stream in (False, True):
        with pytest.raises(openai.APIStatusError) as caught:
            reply = client.chat.completions.create(
                model=f"reflect-single/{dead_url}", stream=stream, **ask()
            )
            if stream:
                list(reply)  # type: ignore[arg-type]
        assert caught.value.status_code == 503
        assert "cannot reach the model server" in caught.value.message


def test_a_client_that_disconnects_mid_stream_cancels_the_run(
    client: openai.OpenAI, model: SlowServer
) -> None:
    # The critique strategy answers, then critiques: a second request the run would make.
    model.pause = 1.5
    stream = client.chat.completions.create(model="reflect-critique-low", stream=True, **ask())
    for chunk in stream:
        if chunk.choices and (chunk.choices[0].delta.model_extra or {}).get("reasoning_content"):
            break
    stream.close()
    time.sleep(4)
    assert model.requests == 1

    # The same request read to its end does make the further request.
    model.seen.clear()
    seen, _ = deltas(
        client.chat.completions.create(model="reflect-critique-low", stream=True, **ask())
    )
    assert model.requests >= 2
    assert seen[-1] == ("content", ANSWER)


def test_a_client_that_gives_up_on_a_plain_request_cancels_the_run(
    endpoint: str, client: openai.OpenAI, model: SlowServer
) -> None:
    model.pause = 1.5
    body = {"model": "reflect-critique-low", **ask()}
    headers = {"Authorization": f"Bearer {KEY}"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{endpoint}/chat/completions", json=body, headers=headers, timeout=0.7)
    time.sleep(4)
    assert model.requests == 1


def critiques(model: CaptureServer) -> int:
    return sum("VERDICT" in str(body["messages"][0]) for _, body in model.seen)


def test_a_crash_mid_run_loses_nothing_with_a_checkpoint(tmp_path: Path) -> None:
    # The answer is given, then the critique call hangs and the server is killed; the
    # same request to a new server resumes: the answer is not asked for again.
    with_checkpoint = ["--checkpoint", str(tmp_path / "runs.sqlite")]
    with capture_server(["ok", "hang"]) as model:
        process, url = start_serve(["--model", model.url, *with_checkpoint], {})
        sdk = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=30)
        failed: list[BaseException] = []

        def ask_and_fail() -> None:
            try:
                sdk.chat.completions.create(model="reflect-critique-low", **ask())
            except Exception as exc:
                failed.append(exc)

        asking = threading.Thread(target=ask_and_fail)
        asking.start()
        deadline = time.monotonic() + 20
        while model.requests < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert model.requests == 2 and critiques(model) == 1
        process.kill()
        process.wait()
        asking.join(10)
        assert failed  # the client saw the crash

        process, url = start_serve(["--model", model.url, *with_checkpoint], {})
        try:
            sdk = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=30)
            reply = sdk.chat.completions.create(model="reflect-critique-low", **ask())
        finally:
            process.terminate()
            process.wait(10)
    assert reply.choices[0].message.content == ANSWER
    answers = model.requests - critiques(model)
    assert answers == 1  # the answer given before the crash was kept, not asked again
    assert critiques(model) == 2


async def test_runs_on_the_in_process_model_take_turns_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from agent import serve

    def requests_at(model: SlowServer, app: Any, in_process: bool) -> Any:
        monkeypatch.setattr(serve, "in_process", lambda chat: in_process)

        async def one(client: httpx.AsyncClient, n: int) -> float:
            question = f"{Q} ({n})"
            body = {"model": "reflect-single", "messages": [{"role": "user", "content": question}]}
            reply = await client.post("/v1/chat/completions", json=body, timeout=30)
            assert reply.json()["choices"][0]["message"]["content"] == ANSWER
            return time.monotonic()

        async def run() -> tuple[float, list[float]]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
                start = time.monotonic()
                tasks = []
                for n in range(3):
                    tasks.append(asyncio.create_task(one(client, n)))
                    await asyncio.sleep(0.05)  # sent in this order
                ends = await asyncio.gather(*tasks)
            return time.monotonic() - start, ends

        return run()

    server = SlowServer()
    server.pause = 0.4
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        app = serve.create_app(serve.ServeConfig(model=server.url))
        async with app.router.lifespan_context(app):
            wall, ends = await requests_at(server, app, in_process=True)
            asked = [str(body["messages"]) for _, body in server.seen]
            server.seen.clear()
            parallel, _ = await requests_at(server, app, in_process=False)
    finally:
        server.shutdown()
        server.server_close()
    assert wall >= 3 * 0.4 and ends == sorted(ends)
    assert [f"({n})" in text for n, text in enumerate(asked)] == [True] * 3
    # Taking turns would take three pauses; at once, about one (two under load).
    assert parallel < 3 * 0.4
