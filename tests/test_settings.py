"""Context is the one list of settings: every entry point takes each of its fields.

``--seed`` was added as two edits (a field of ``Context`` and the command line's option) plus
the line that uses it; these tests show it reaching the model server from every entry point.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from typer.testing import CliRunner

from agent import areflect, cli, create_reflection_graph
from agent.context import SETTINGS, Context
from agent.errors import ConfigError
from tests.capture_server import capture_server

Q = "A farmer has 3 pens of 12 chickens and sells 7. How many are left?"


def seeds(seen: list[tuple[dict[str, str], dict[str, Any]]]) -> list[int | None]:
    return sorted((body.get("seed") for _, body in seen), key=lambda s: -1 if s is None else s)


@pytest.fixture(autouse=True)
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def test_seed_reaches_the_samples_through_the_api() -> None:
    with capture_server() as server:
        asyncio.run(areflect(Q, model=server.url, samples=3, max_samples=3, seed=10))
        assert seeds(server.seen) == [None, 11, 12]  # the plain answer is greedy, unseeded


def test_seed_reaches_the_samples_through_the_command_line() -> None:
    with capture_server() as server:
        done = CliRunner().invoke(
            cli.app, ["ask", Q, "--model", server.url, "--samples", "3", "--seed", "10"]
        )
        assert done.exit_code == 0, done.output
        assert seeds(server.seen)[:3] == [None, 11, 12]


def test_seed_is_a_default_of_the_factory_and_a_run_setting() -> None:
    with capture_server() as server:
        app = create_reflection_graph(server.url, samples=3, max_samples=3, seed=20).compile()
        asyncio.run(app.ainvoke({"question": Q}))
        assert seeds(server.seen) == [None, 21, 22]
    with capture_server() as server:
        app = create_reflection_graph(server.url, samples=3, max_samples=3).compile()
        asyncio.run(app.ainvoke({"question": Q}, context=Context(seed=5)))
        assert seeds(server.seen) == [None, 6, 7]


def test_an_unknown_setting_is_a_one_line_error_that_lists_them() -> None:
    with pytest.raises(ConfigError, match="unknown option 'sed': the settings are model, "):
        asyncio.run(areflect(Q, model="http://127.0.0.1:9/v1", sed=1))
    with pytest.raises(ConfigError, match="unknown option 'sed'"):
        create_reflection_graph(sed=1)
    assert "seed" in SETTINGS and "seed" in Context.__dataclass_fields__
