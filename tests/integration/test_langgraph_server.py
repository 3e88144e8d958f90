"""`langgraph dev` serves the exported graph; a client gets a reflected answer from it.

Also issue 21, items 3 and 4 as a LangGraph Server client meets them: the settings form
(the context's JSON schema) and a server that never sends its API key to a URL a client
names, and allows only the models ``REFLECT_ALLOWED_MODELS`` lists.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_client

from agent import ReflectionResult
from agent.models import DEFAULT_MODEL
from tests.capture_server import CaptureServer, capture_server
from tests.integration.conftest import ROOT, free_port, start, stop

pytestmark = pytest.mark.real


def test_langgraph_json_points_at_the_exported_graph() -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    module, _, attr = config["graphs"]["reflection"].partition(":")
    assert (ROOT / module).is_file() and attr == "graph"
    from agent.graph import graph

    assert graph.checkpointer is None and graph.name == "reflection"


@pytest.fixture(scope="module")
def langgraph_dev(model_path: str) -> Iterator[str]:
    cli = Path(sys.executable).with_name("langgraph")
    if not cli.exists():
        cli = Path(shutil.which("langgraph") or "langgraph")
    port = free_port()
    process = start(
        [
            str(cli),
            "dev",
            "--no-browser",
            "--no-reload",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        f"http://127.0.0.1:{port}/ok",
        env={
            "REFLECT_MODEL": DEFAULT_MODEL,
            "LANGSMITH_TRACING": "false",
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        },
    )
    yield f"http://127.0.0.1:{port}"
    stop(process)


async def test_a_thread_and_a_run_through_the_sdk(langgraph_dev: str) -> None:
    client = get_client(url=langgraph_dev)
    assistants = await client.assistants.search(graph_id="reflection")
    assert assistants, "langgraph dev did not register the reflection graph"
    thread = await client.threads.create()
    values = await client.runs.wait(
        thread["thread_id"],
        "reflection",
        input={"messages": [{"role": "user", "content": "What is 6 times 7?"}]},
        context={"mode": "single"},
    )
    assert isinstance(values, dict), values
    answer = values["messages"][-1]
    assert answer["type"] == "ai"
    text = "".join(b.get("text", "") for b in answer["content"] if b.get("type") == "text")
    assert "42" in text
    result = ReflectionResult.from_dict(values["result"])
    assert result.mode == "single" and result.thinking and result.usage["output_tokens"] > 0
    state = await client.threads.get_state(thread["thread_id"])
    assert [m["type"] for m in state["values"]["messages"]] == ["human", "ai"]


async def test_the_default_strategy_samples_through_the_server(langgraph_dev: str) -> None:
    client = get_client(url=langgraph_dev)
    thread = await client.threads.create()
    values = await client.runs.wait(
        thread["thread_id"],
        "reflection",
        input={"messages": [{"role": "user", "content": "What is 6 times 7?"}]},
        # Sampled past a confident plain answer; program samples run in the sandbox there.
        context={"effort": "low", "stop_early": False},
    )
    result = ReflectionResult.from_dict(values["result"])  # type: ignore[arg-type]
    samples = [d for d in result.drafts if d["round"] == 0]
    assert len(samples) >= 2 and [d["index"] for d in result.drafts] == list(
        range(len(result.drafts))
    )
    assert result.kind == "number" and "42" in result.output


SECRET = "sk-server-secret-0123456789abcdef"


def _dev(cli: Path, port: int) -> list[str]:
    return [str(cli), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", f"--port={port}"]


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[tuple[str, CaptureServer]]:
    """`langgraph dev` holding an OpenAI key, allowing one model URL; a capture server behind it."""
    cli = Path(sys.executable).with_name("langgraph")
    if not cli.exists():
        cli = Path(shutil.which("langgraph") or "langgraph")
    port = free_port()
    with capture_server() as capture:
        process = start(
            _dev(cli, port),
            f"http://127.0.0.1:{port}/ok",
            env={
                "OPENAI_API_KEY": SECRET,
                "REFLECT_MODEL": "openai:gpt-4o-mini",
                "REFLECT_ALLOWED_MODELS": f"{capture.url}#allowed, ollama:*",
                "LANGSMITH_TRACING": "false",
                "LANGGRAPH_CLI_NO_ANALYTICS": "1",
            },
        )
        try:
            yield f"http://127.0.0.1:{port}", capture
        finally:
            stop(process)


async def test_a_client_named_model_url_never_gets_the_servers_key(
    keyed_server: tuple[str, CaptureServer],
) -> None:
    url, capture = keyed_server
    client = get_client(url=url)
    thread = await client.threads.create()
    values = await client.runs.wait(
        thread["thread_id"],
        "reflection",
        input={"messages": [{"role": "user", "content": "What is 3 times 4?"}]},
        context={"model": f"{capture.url}#allowed", "mode": "single"},
    )
    assert isinstance(values, dict) and values["result"]["output"] == "The answer is 12."
    assert capture.requests == 1
    assert all(SECRET not in str(headers) for headers, _ in capture.seen)
    # A model the server does not allow: one line back to the client, no request made.
    refused = await client.runs.wait(
        None,
        "reflection",
        input={"messages": [{"role": "user", "content": "What is 3 times 4?"}]},
        context={"model": f"{capture.url}#other"},
        raise_error=False,
    )
    assert isinstance(refused, dict), refused
    error = refused["__error__"]
    assert error["error"] == "ConfigError" and "is not allowed here" in error["message"]
    assert "\n" not in error["message"] and capture.requests == 1


async def test_studio_gets_a_settings_form_with_choices(
    keyed_server: tuple[str, CaptureServer],
) -> None:
    client = get_client(url=keyed_server[0])
    assistant = (await client.assistants.search(graph_id="reflection"))[0]
    schemas = await client.assistants.get_schemas(assistant["assistant_id"])
    context = schemas["context_schema"]
    assert context is not None, "the server could not build the context's JSON schema"
    mode = context["properties"]["mode"]
    assert ["prompted", "vote", "single", "native", "baseline"] in [
        s.get("enum") for s in mode["anyOf"]
    ]
