"""The alias planner says what it did not understand, and a last free-text placeholder
takes the rest of the clause."""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from graph.planner import AliasMatcher, AliasPlanner
from graph.tools import Registry

REGISTRY = Registry.model_validate({"tools": [
    {"name": "greet", "parameters": {"type": "object", "properties": {"who": {"type": "string"}}},
     "aliases": ["greet {who}"], "run": {"command": ["echo", "hi {who}"]}},
    {"name": "note", "parameters": {"type": "object", "properties": {
        "env": {"type": "string", "enum": ["staging", "prod"]}, "text": {"type": "string"}}},
     "aliases": ["note on {env}: {text}", "note {text}"], "run": {"command": ["echo", "{text}"]}},
    {"name": "deploy", "parameters": {"type": "object", "properties": {
        "service": {"type": "string"}, "environment": {"type": "string", "enum": ["staging", "prod"]}}},
     "aliases": ["deploy {service} to {environment}"], "run": {"command": ["echo", "{service}"]}},
], "source": "test"})


def test_an_unparsed_clause_is_said_alongside_the_calls() -> None:
    answer = AliasPlanner(registry=REGISTRY)._answer([HumanMessage(content="greet bob and frobnicate")])
    assert [(c["name"], c["args"]) for c in answer.tool_calls] == [("greet", {"who": "bob"})]
    assert answer.content == "I did not understand: frobnicate"
    clean = AliasPlanner(registry=REGISTRY)._answer([HumanMessage(content="greet bob")])
    assert clean.content == "" and len(clean.tool_calls) == 1


def test_the_last_free_text_placeholder_takes_the_rest() -> None:
    matcher = AliasMatcher(REGISTRY)
    assert matcher.plan("note the api is slow today") == [("note", {"text": "the api is slow today"})]
    assert matcher.plan("note on prod: db failover at 3pm.") == [
        ("note", {"env": "prod", "text": "db failover at 3pm"})]
    # "and" still separates commands, and an enum stays one word.
    assert matcher.plan("note all good and deploy api to prod") == [
        ("note", {"text": "all good"}), ("deploy", {"service": "api", "environment": "prod"})]
    assert matcher.plan_all("deploy api to prod now") == ([], ["deploy api to prod now"])
