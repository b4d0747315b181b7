"""The examples' chat model, configured the way the examples' own users would: the graph
owns its model settings, Clearance reads none of them.

- OpenAI: OPENAI_API_KEY, and EXAMPLE_MODEL (default gpt-4.1-mini);
- an OpenAI-compatible server (vLLM, Ollama, LiteLLM): OPENAI_BASE_URL as well;
- Azure OpenAI: AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY, AZURE_OPENAI_DEPLOYMENT, through
  Azure's OpenAI-compatible v1 endpoint.
"""

from __future__ import annotations

import os

from langchain_openai import ChatOpenAI


def chat_model() -> ChatOpenAI:
    endpoint = os.environ.get("AZURE_OPENAI_ENDPOINT")
    if endpoint:
        return ChatOpenAI(base_url=f"{endpoint.rstrip('/')}/openai/v1/",
                          api_key=os.environ["AZURE_OPENAI_API_KEY"],  # type: ignore[arg-type]
                          model=os.environ["AZURE_OPENAI_DEPLOYMENT"])
    return ChatOpenAI(model=os.environ.get("EXAMPLE_MODEL", "gpt-4.1-mini"), temperature=0)
