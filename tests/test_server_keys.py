"""The exported graph, run as LangGraph Server runs it: a run's model never gets the server's key.

Issue 21, item 4. A client names a model URL in the run's context; the server's
``OPENAI_API_KEY`` must never reach it, and ``REFLECT_ALLOWED_MODELS`` limits what a run may
name. A real ``ChatOpenAI`` talks to a local server that records every request's headers.
"""

from __future__ import annotations

import pytest

from agent import ConfigError
from tests.capture_server import capture_server

Q = "Tom has 3 bags of 4 apples. How many apples?"
SECRET = "sk-server-secret-0123456789abcdef"


@pytest.fixture
def server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("REFLECT_ALLOWED_MODELS", raising=False)
    monkeypatch.setenv("REFLECT_MODEL", "openai:gpt-4o-mini")


@pytest.mark.usefixtures("server_env")
async def test_a_model_url_a_run_names_never_receives_the_servers_key() -> None:
    from agent.graph import graph

    with capture_server() as server:
        out = await graph.ainvoke({"question": Q}, context={"model": server.url, "mode": "single"})
        sync = graph.invoke({"question": Q}, context={"model": f"{server.url}#m", "effort": "low"})
    assert out["result"]["output"] == sync["result"]["output"] == "The answer is 12."
    assert server.requests == 3
    assert all(SECRET not in header for header in server.authorizations())
    assert all(SECRET not in str(headers) for headers, _ in server.seen)


@pytest.mark.usefixtures("server_env")
def test_allowed_models_limit_what_a_run_may_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.graph import graph

    with capture_server() as server:
        monkeypatch.setenv("REFLECT_ALLOWED_MODELS", "ollama:*, openai:gpt-4o-mini")
        with pytest.raises(ConfigError) as refused:
            graph.invoke({"question": Q}, context={"model": server.url, "mode": "single"})
        assert server.requests == 0
        message = str(refused.value)
        assert "\n" not in message and "is not allowed here" in message
        assert "ollama:*, openai:gpt-4o-mini (REFLECT_ALLOWED_MODELS)" in message
        with pytest.raises(ConfigError, match=r"^model 'openai:o3' is not allowed here"):
            graph.invoke({"question": Q}, context={"critic_model": "openai:o3", "mode": "single"})

        monkeypatch.setenv("REFLECT_ALLOWED_MODELS", f"{server.url}, ollama:*")
        out = graph.invoke({"question": Q}, context={"model": server.url, "mode": "single"})
    assert out["result"]["output"] == "The answer is 12."
    assert server.requests == 1 and SECRET not in server.authorizations()[0]


def test_the_key_goes_only_to_its_own_providers_host(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.models import api_key_for, resolve_model

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert api_key_for("https://api.openai.com/v1") == SECRET
    assert api_key_for("https://api.openai.com.evil.test/v1") is None
    assert api_key_for("http://127.0.0.1:8000/v1") is None
    url_model = resolve_model("http://127.0.0.1:8000/v1#qwen")
    assert url_model.openai_api_key is not None  # type: ignore[attr-defined]
    assert url_model.openai_api_key.get_secret_value() == "not-needed"  # type: ignore[attr-defined]
    # The operator's own OpenAI-compatible endpoint is the key's host.
    monkeypatch.setenv("OPENAI_BASE_URL", "http://gateway.internal:4000/v1")
    assert api_key_for("http://gateway.internal:4000/v1") == SECRET
    assert api_key_for("http://elsewhere.internal:4000/v1") is None


def test_the_key_goes_only_over_the_scheme_and_port_of_its_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agent.models import api_key_for

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert api_key_for("https://api.openai.com:443/v1") == SECRET
    assert api_key_for("https://API.OpenAI.com/v1") == SECRET
    for elsewhere in (
        "http://api.openai.com:9/v1",
        "http://api.openai.com/v1",
        "https://api.openai.com:8443/v1",
        "https://api.openai.com:bad/v1",
    ):
        assert api_key_for(elsewhere) is None, elsewhere
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gateway.internal:4000/v1")
    assert api_key_for("https://gateway.internal:4000/other") == SECRET
    assert api_key_for("http://gateway.internal:4000/v1") is None
    assert api_key_for("https://gateway.internal:4001/v1") is None
    assert api_key_for("https://gateway.internal/v1") is None
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gateway.internal/v1")
    assert api_key_for("https://gateway.internal:443/v1") == SECRET


@pytest.mark.usefixtures("server_env")
def test_a_run_may_name_no_local_file_and_no_local_model_the_server_did_not_choose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import agent.models
    from agent.graph import graph
    from agent.models import check_allowed

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("a local model was loaded or fetched for a run's name")

    monkeypatch.setattr(agent.models, "local_chat_model", never)
    for path in ("local:/root/.bashrc", "local:~/x", "local:model.GGUF", "local:..\\x"):
        with pytest.raises(ConfigError, match=r"^model .* not allowed here: .*local file"):
            graph.invoke({"question": Q}, context={"model": path, "mode": "single"})
    for name in ("local:smollm2-135m", "local:", "local:no-such-model"):
        with pytest.raises(ConfigError, match=r"^model .* not allowed here: a local model") as e:
            graph.invoke({"question": Q}, context={"critic_model": name, "mode": "single"})
        assert "\n" not in str(e.value)
    # The operator may name local models; never a file, whatever the list says.
    monkeypatch.setenv("REFLECT_ALLOWED_MODELS", "local:smollm2-135m, *")
    check_allowed("local:smollm2-135m")
    with pytest.raises(ConfigError, match="not allowed"):
        check_allowed("local:qwen2.5-coder-0.5b")  # "*" names no local model
    monkeypatch.setenv("REFLECT_ALLOWED_MODELS", "local:*")
    check_allowed("local:qwen2.5-coder-0.5b")
    with pytest.raises(ConfigError, match="local file"):
        check_allowed("local:/models/x.gguf")
    # The server's own local model is its own.
    monkeypatch.delenv("REFLECT_ALLOWED_MODELS")
    monkeypatch.setenv("REFLECT_MODEL", "local:qwen2.5-coder-0.5b")
    check_allowed("local:qwen2.5-coder-0.5b")
    monkeypatch.delenv("REFLECT_MODEL")
    check_allowed("local:")
    check_allowed("local:qwen2.5-coder-1.5b")


def test_a_library_callers_own_context_model_is_theirs(monkeypatch: pytest.MonkeyPatch) -> None:
    """``reflect(..., context=Context(model=...))`` is the caller's choice, as ``model=`` is."""
    from agent import reflect
    from agent.context import Context

    monkeypatch.setenv("REFLECT_ALLOWED_MODELS", "ollama:*")
    with pytest.raises(ConfigError, match=r"^no GGUF file at /nowhere/x\.gguf"):
        reflect(Q, context=Context(model="local:/nowhere/x.gguf"))
    with capture_server() as server:
        out = reflect(Q, context=Context(model=server.url, mode="single"))
    assert out.output == "The answer is 12." and server.requests == 1


def test_the_servers_own_local_file_is_its_own_choice() -> None:
    from agent.errors import ConfigError
    from agent.models import check_allowed

    check_allowed("local:/models/mine.gguf", ("local:/models/mine.gguf",))  # no error
    with pytest.raises(ConfigError, match="may not name a local file"):
        check_allowed("local:/models/other.gguf", ("local:/models/mine.gguf",))
