from __future__ import annotations

import pytest
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI

from agent import ConfigError
from agent.models import DEFAULT_MODEL, MAX_TOKENS_PER_CALL, default_model_name, resolve_model
from tests.scripted import ScriptedChatModel


def test_an_instance_passes_through() -> None:
    model = ScriptedChatModel(script={})
    assert resolve_model(model) is model


def test_ollama_names_build_chat_ollama_with_reasoning_only_for_native() -> None:
    plain = resolve_model("ollama:llama3.1")
    native = resolve_model("ollama:qwen3", native=True)
    assert isinstance(plain, ChatOllama) and isinstance(native, ChatOllama)
    assert (plain.model, plain.reasoning, plain.num_predict) == (
        "llama3.1",
        None,
        MAX_TOKENS_PER_CALL,
    )
    assert native.reasoning is True


def test_a_base_url_builds_chat_openai_for_that_server() -> None:
    model = resolve_model("http://127.0.0.1:8000/v1#qwen", temperature=0)
    assert isinstance(model, ChatOpenAI)
    assert (model.openai_api_base, model.model_name, model.temperature) == (
        "http://127.0.0.1:8000/v1",
        "qwen",
        0,
    )
    # llama.cpp's server reads max_tokens, not max_completion_tokens.
    assert model.extra_body == {"max_tokens": MAX_TOKENS_PER_CALL}


def test_openai_names_use_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    model = resolve_model("openai:gpt-4o-mini")
    assert isinstance(model, ChatOpenAI) and model.model_name == "gpt-4o-mini"


def test_a_missing_api_key_says_which_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(
        ConfigError, match=r"no API key for 'openai:gpt-4o-mini': set OPENAI_API_KEY"
    ):
        resolve_model("openai:gpt-4o-mini")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("llama3.1", r"names no provider: use 'local:NAME'"),
        ("nosuchprovider:model", r"unknown model 'nosuchprovider:model'.*'ollama:NAME'"),
        ("local:gpt-17", r"unknown local model 'gpt-17': use one of local:qwen2.5-coder-1.5b"),
        ("local:/no/such/file.gguf", r"no GGUF file at /no/such/file.gguf"),
    ],
)
def test_unknown_model_names_list_the_valid_forms(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_model(name)


def test_the_default_comes_from_reflect_model_then_the_embedded_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REFLECT_MODEL", raising=False)
    assert default_model_name() == DEFAULT_MODEL == "local:qwen2.5-coder-1.5b"
    monkeypatch.setenv("REFLECT_MODEL", "ollama:llama3.1")
    assert isinstance(resolve_model(None), ChatOllama)


def test_native_openai_reasoning_models_ask_for_reasoning_summaries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    reasoner = resolve_model("openai:o4-mini", native=True)
    assert isinstance(reasoner, ChatOpenAI) and reasoner.reasoning == {
        "effort": "medium",
        "summary": "auto",
    }
    assert resolve_model("openai:gpt-4o-mini", native=True).reasoning is None
    assert resolve_model("openai:o4-mini").reasoning is None


@pytest.mark.parametrize(
    "secret",
    [
        "sk-proj-abcdefghijklmnop1234",
        "gsk_abcdefghijklmnopqrstuv",
        "AIzaSyA1234567890abcdefghijklmn",
        "Bearer abc.def.ghi",
    ],
)
def test_errors_never_carry_an_api_key(secret: str) -> None:
    from agent.api import describe_failure

    class Boom(Exception):
        pass

    model = ChatOpenAI(
        base_url=f"https://user:{secret}@example.test/v1?key={secret}", api_key=secret
    )
    message = describe_failure(Boom(f"bad request with {secret}\nsecond line"), model)
    assert secret not in message and "\n" not in message and "[redacted]" in message


def test_spec_label_names_a_model_without_building_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.models import spec_label

    monkeypatch.delenv("REFLECT_MODEL", raising=False)
    assert spec_label("openai:gpt-4o-mini") == "openai:gpt-4o-mini"  # no API key needed
    assert spec_label(None) == DEFAULT_MODEL
    assert spec_label(ScriptedChatModel(script={})) == "scripted"


def test_models_built_from_a_name_leave_retrying_to_the_graph(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    for name in ("openai:gpt-4o-mini", "http://127.0.0.1:8000/v1#qwen"):
        model = resolve_model(name)
        assert isinstance(model, ChatOpenAI) and model.max_retries == 0
        assert model.root_async_client is not None and model.root_async_client.max_retries == 0


def test_an_instance_given_to_the_factory_loses_only_its_client_retries() -> None:
    from agent.models import without_sdk_retries

    mine = ChatOpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-user", model="m")
    quiet = without_sdk_retries(mine)
    assert isinstance(quiet, ChatOpenAI) and quiet is not mine
    assert quiet.root_async_client is not None and quiet.root_async_client.max_retries == 0
    assert mine.root_async_client is not None and mine.root_async_client.max_retries == 2
    retried = without_sdk_retries(mine.with_retry())
    assert type(retried).__name__ == "RunnableRetry"  # a retry layer the caller chose stays
