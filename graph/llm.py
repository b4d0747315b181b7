"""The chat model: OpenAI, Azure OpenAI, any OpenAI-compatible server, or the alias planner."""

from __future__ import annotations

from typing import Any, Mapping

from langchain_core.language_models import BaseChatModel

from graph.planner import AliasPlanner
from graph.tools import Registry

DEFAULT_OPENAI_MODEL = "gpt-4.1-mini"


def build_model(config: Mapping[str, Any], registry: Registry) -> BaseChatModel:
    """`config` holds plain values (keys as in bot.config.Settings); no LLM → alias planner."""
    from langchain_openai import ChatOpenAI

    common = {"timeout": 60, "max_retries": 3, "temperature": 0}
    if config.get("azure_openai_endpoint"):
        endpoint = str(config["azure_openai_endpoint"]).rstrip("/")
        return ChatOpenAI(
            base_url=f"{endpoint}/openai/v1/",
            api_key=config["azure_openai_api_key"],
            model=config["azure_openai_deployment"],  # the deployment name, not the model family
            **common,
        )
    if config.get("openai_api_key") or config.get("openai_base_url"):
        return ChatOpenAI(
            base_url=config.get("openai_base_url") or None,
            api_key=config.get("openai_api_key") or "not-needed",
            model=config.get("model") or DEFAULT_OPENAI_MODEL,
            **common,
        )
    return AliasPlanner(registry=registry)
