"""The chat model: OpenAI, Azure OpenAI, any OpenAI-compatible server, or the alias planner.

Every provider goes through `ChatOpenAI`: Azure OpenAI's v1 API and vLLM, Ollama or LiteLLM
all speak the OpenAI chat-completions wire format, so one client, one retry policy and one
test server cover them all.

Retries: the `openai` client retries connection errors, timeouts, 408, 409, 429 and 5xx
with exponential backoff (0.5 s doubling, capped at 8 s, with jitter) and honours the
server's `Retry-After` / `retry-after-ms` up to two minutes. `max_retries` and `timeout`
are the knobs; when they are used up the error reaches the caller, which tells the thread.
"""

from __future__ import annotations

from typing import Any, Mapping

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from graph.memory import DEFAULT_CONTEXT_TOKENS, Trimmer, make_trimmer
from graph.planner import AliasPlanner
from graph.tools import Registry

DEFAULT_OPENAI_MODEL = "gpt-4.1-mini"
DEFAULT_TIMEOUT = 60.0  # seconds per attempt: a long tool-call answer fits, a hung server does not
DEFAULT_MAX_RETRIES = 3
_AZURE_SUFFIXES = ("/openai/v1", "/openai")


def llm_configured(config: Mapping[str, Any]) -> bool:
    return bool(config.get("azure_openai_endpoint") or config.get("openai_api_key")
                or config.get("openai_base_url"))


def azure_base_url(endpoint: str) -> str:
    """`https://<resource>.openai.azure.com` → `…/openai/v1/`; an endpoint pasted with the
    path already on it (as the Azure portal sometimes shows it) gives the same URL."""
    base = endpoint.strip().rstrip("/")
    for suffix in _AZURE_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return f"{base}/openai/v1/"


def _client_options(config: Mapping[str, Any]) -> dict[str, Any]:
    timeout = config.get("llm_timeout")
    retries = config.get("llm_max_retries")
    return {
        "timeout": float(timeout) if timeout is not None else DEFAULT_TIMEOUT,
        "max_retries": int(retries) if retries is not None else DEFAULT_MAX_RETRIES,
        "streaming": bool(config.get("llm_streaming")),
        # No temperature: reasoning models (o-series, gpt-5) reject anything but the default,
        # and behind an Azure deployment name the client cannot tell which family it is.
    }


def build_model(config: Mapping[str, Any], registry: Registry) -> BaseChatModel:
    """`config` holds plain values (keys as in bot.config.Settings); no LLM → alias planner.
    Azure wins when its endpoint is set (bot.config has checked that all three are)."""
    if not llm_configured(config):
        return AliasPlanner(registry=registry)
    from langchain_openai import ChatOpenAI  # imported here: the offline path never needs it

    options = _client_options(config)
    if config.get("azure_openai_endpoint"):
        return ChatOpenAI(
            base_url=azure_base_url(str(config["azure_openai_endpoint"])),
            api_key=config["azure_openai_api_key"],
            model=config["azure_openai_deployment"],  # the deployment name, not the model family
            **options,
        )
    return ChatOpenAI(
        base_url=config.get("openai_base_url") or None,
        # Local servers (vLLM, Ollama) ignore the key, but the client refuses to start without one.
        api_key=SecretStr(config.get("openai_api_key") or "not-needed"),
        model=config.get("model") or DEFAULT_OPENAI_MODEL,
        **options,
    )


def build_trimmer(config: Mapping[str, Any]) -> Trimmer | None:
    """History trimming for a real LLM (the alias planner reads only the last turn)."""
    if not llm_configured(config):
        return None
    budget = config.get("llm_context_tokens")
    return make_trimmer(int(budget) if budget else DEFAULT_CONTEXT_TOKENS)
