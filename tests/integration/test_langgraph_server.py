"""`langgraph dev` serves the exported graph; a client gets a reflected answer from it."""

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
        context={"effort": "low"},
    )
    result = ReflectionResult.from_dict(values["result"])  # type: ignore[arg-type]
    samples = [d for d in result.drafts if d["round"] == 0]
    assert len(samples) >= 2 and [d["index"] for d in result.drafts] == list(
        range(len(result.drafts))
    )
    assert result.kind == "number" and "42" in result.output
