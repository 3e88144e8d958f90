"""``reflect serve`` on the real embedded model, driven by the ``openai`` SDK: one short run."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from agent.models import DEFAULT_MODEL
from tests.integration.conftest import free_port, start, stop

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def endpoint(model_path: str) -> Iterator[str]:
    port = free_port()
    reflect = str(Path(sys.executable).parent / "reflect")
    process = start(
        [reflect, "serve", "--port", str(port), "--model", DEFAULT_MODEL],
        f"http://127.0.0.1:{port}/v1/models",
    )
    yield f"http://127.0.0.1:{port}/v1"
    stop(process)


def test_a_streamed_reflection_on_the_embedded_model(endpoint: str) -> None:
    client = openai.OpenAI(base_url=endpoint, api_key="none", max_retries=0, timeout=600)
    stream = client.chat.completions.create(
        model="reflect-contrast-low",
        messages=[{"role": "user", "content": "What is 17 + 25?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    kinds: list[str] = []
    reasoning = content = ""
    usage = None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            piece = (choice.delta.model_extra or {}).get("reasoning_content")
            if piece:
                kinds.append("reasoning")
                reasoning += piece
            if choice.delta.content:
                kinds.append("content")
                content += choice.delta.content
    assert "content" in kinds and "reasoning" not in kinds[kinds.index("content") :]
    assert kinds.count("reasoning") > 10  # the model's tokens, streamed as it wrote them
    assert "⟲ solution 1:" in reasoning and "⟲ reflection" in reasoning
    numbers = re.findall(r"\d+", content.replace(",", ""))
    assert numbers and numbers[-1] == "42", content
    assert usage is not None and usage.prompt_tokens > 20 and usage.completion_tokens > 5
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
