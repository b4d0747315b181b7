"""Provider configuration: OpenAI, Azure OpenAI and OpenAI-compatible servers; half-done
configuration fails at start with one line naming the variable."""

from __future__ import annotations

import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from bot.runtime import settings_dict
from graph.llm import azure_base_url, build_model, build_trimmer
from graph.planner import AliasPlanner
from graph.tools import load_registry
from tests.conftest import console_message, runtime_for
from tests.llm.fake_openai import FakeOpenAI, calls, text


@pytest.mark.parametrize(("env", "variable"), [
    ({"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}, "CLEARANCE_MODEL"),
    ({"CLEARANCE_MODEL": "gpt-4.1"}, "OPENAI_API_KEY"),
    ({"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com"}, "AZURE_OPENAI_API_KEY"),
    ({"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com", "AZURE_OPENAI_API_KEY": "k"},
     "AZURE_OPENAI_DEPLOYMENT"),
    ({"AZURE_OPENAI_API_KEY": "k", "AZURE_OPENAI_DEPLOYMENT": "d"}, "AZURE_OPENAI_ENDPOINT"),
    ({"OPENAI_BASE_URL": "localhost:11434/v1", "CLEARANCE_MODEL": "llama3.1"}, "OPENAI_BASE_URL"),
    ({"AZURE_OPENAI_ENDPOINT": "r.openai.azure.com", "AZURE_OPENAI_API_KEY": "k",
      "AZURE_OPENAI_DEPLOYMENT": "d"}, "AZURE_OPENAI_ENDPOINT"),
    ({"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com", "AZURE_OPENAI_API_KEY": "k",
      "AZURE_OPENAI_DEPLOYMENT": "d", "OPENAI_BASE_URL": "http://x/v1", "CLEARANCE_MODEL": "m"},
     "OPENAI_BASE_URL"),
    ({"OPENAI_API_KEY": "sk-x", "CLEARANCE_LLM_MAX_RETRIES": "-1"}, "CLEARANCE_LLM_MAX_RETRIES"),
    ({"OPENAI_API_KEY": "sk-x", "CLEARANCE_LLM_TIMEOUT": "0"}, "CLEARANCE_LLM_TIMEOUT"),
])
def test_half_configured_llm_fails_with_one_line_naming_the_variable(env: dict, variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**env)
    message = str(caught.value)
    assert message.startswith(f"{variable}:") and "\n" not in message
    assert "sk-x" not in message and "'k'" not in message


@pytest.mark.parametrize("env", [
    {},
    {"OPENAI_API_KEY": "sk-x"},
    {"OPENAI_API_KEY": "sk-x", "CLEARANCE_MODEL": "gpt-4.1"},
    {"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1", "CLEARANCE_MODEL": "llama3.1"},
    {"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com", "AZURE_OPENAI_API_KEY": "k",
     "AZURE_OPENAI_DEPLOYMENT": "prod-gpt"},
])
def test_complete_configurations_load(env: dict) -> None:
    load_settings(**env)


def test_factory_picks_the_provider() -> None:
    registry = load_registry(None)
    assert isinstance(build_model(settings_dict(load_settings()), registry), AliasPlanner)
    assert build_trimmer(settings_dict(load_settings())) is None

    openai = build_model(settings_dict(load_settings(OPENAI_API_KEY="sk-x")), registry)
    assert openai.model_name == "gpt-4.1-mini" and openai.openai_api_base is None
    assert openai.max_retries == 3 and openai.request_timeout == 60

    local = build_model(settings_dict(load_settings(
        OPENAI_BASE_URL="http://127.0.0.1:11434/v1", CLEARANCE_MODEL="llama3.1",
        CLEARANCE_LLM_MAX_RETRIES="5", CLEARANCE_LLM_TIMEOUT="120", CLEARANCE_LLM_STREAMING="true")), registry)
    assert (local.model_name, local.openai_api_base) == ("llama3.1", "http://127.0.0.1:11434/v1")
    assert local.max_retries == 5 and local.request_timeout == 120 and local.streaming

    azure = build_model(settings_dict(load_settings(
        AZURE_OPENAI_ENDPOINT="https://r.openai.azure.com/", AZURE_OPENAI_API_KEY="k",
        AZURE_OPENAI_DEPLOYMENT="prod-gpt", CLEARANCE_MODEL="gpt-4.1")), registry)
    assert azure.model_name == "prod-gpt"  # the deployment, not CLEARANCE_MODEL or the family
    assert azure.openai_api_base == "https://r.openai.azure.com/openai/v1/"


@pytest.mark.parametrize("endpoint", [
    "https://r.openai.azure.com", "https://r.openai.azure.com/", "https://r.openai.azure.com/openai",
    "https://r.openai.azure.com/openai/v1/", " https://r.openai.azure.com/openai/v1 ",
])
def test_azure_endpoint_forms(endpoint: str) -> None:
    assert azure_base_url(endpoint) == "https://r.openai.azure.com/openai/v1/"


async def test_azure_requests_reach_the_v1_path_with_the_deployment_as_model(tmp_path) -> None:
    async with FakeOpenAI(calls(("status", {})), text("Everything is up.")) as fake:
        env = {"AZURE_OPENAI_ENDPOINT": fake.root, "AZURE_OPENAI_API_KEY": "azure-secret",
               "AZURE_OPENAI_DEPLOYMENT": "clearance-prod-4o", "CLEARANCE_LLM_MAX_RETRIES": "0"}
        async with runtime_for(f"sqlite:///{tmp_path}/c.db", None, tmp_path, **env) as rt:
            await rt.service.on_message(console_message("status?"))
        assert rt.recorder.texts == ["Everything is up."]
        assert [r.path for r in fake.requests] == ["/openai/v1/chat/completions"] * 2
        assert {r.body["model"] for r in fake.requests} == {"clearance-prod-4o"}
        assert fake.requests[0].headers["Authorization"] == "Bearer azure-secret"


async def test_no_llm_keeps_the_alias_planner(tmp_path) -> None:
    async with runtime_for(f"sqlite:///{tmp_path}/c.db", None, tmp_path) as rt:
        await rt.service.on_message(console_message("restart api in prod and restart web in prod"))
        assert [c.tool for c in rt.recorder.cards] == ["restart", "restart"]
