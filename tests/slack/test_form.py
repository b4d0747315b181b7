"""The form decoder gives exactly what urllib gives (Bolt parsed forms with urllib before),
whatever the text: Slack's own payloads, and anything else a signed body could hold. Pure."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.slack.form import form_payload, unquote
from adapters.slack.render import render_card
from tests.slack.payloads import block_actions, form
from tests.slack.test_card_fidelity import card

TRICKY = [
    "", "+", "%", "%%", "%4", "%4G", "%zz", "%41%", "a%2", "100%", "%0A%09%00", "%7F",
    "\\", "\\%22", '"', '%22"\\u0041', "\\u0041", "%5Cu0041", "%C3%A9", "%C3", "%C3%28", "%E2%82",
    "%ED%A0%80", "%F0%9F%9A%80", "%F4%90%80%80", "%ff%FE", "a+b%2Bc", "\t", "\x00", "é", "é%C3%A9", "🚀%20",
    "%u0041", "\\u00", "%5C%5C",
]


def test_tricky_texts_decode_as_urllib_decodes_them() -> None:
    for text in TRICKY:
        assert unquote(text) == unquote_plus(text), text


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("%+\\\"uAaFf0123456789 \t\x00é🚀&="), max_size=40))
def test_any_text_decodes_as_urllib_decodes_it(text: str) -> None:
    assert unquote(text) == unquote_plus(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_encoded_text_decodes_back(text: str) -> None:
    assert unquote(quote(text, safe="")) == text
    assert unquote(urlencode({"k": text})[2:]) == text


def test_a_card_click_decodes_to_its_payload() -> None:
    payload = block_actions("U0DANA001", "clearance_approve", "apv_1", card_ts="1.000100", thread_ts="1.000001")
    payload["message"]["blocks"] = render_card(card({"note": "déploiement 🚀 \"quoted\" \\ 100%"}))["blocks"]
    body = form(payload)
    assert form_payload(body) == dict(parse_qsl(body, keep_blank_values=True))["payload"]
    assert json.loads(form_payload(body) or "") == payload


def test_the_payload_field_is_found_as_a_dict_of_the_fields_keeps_it() -> None:
    for body in ["payload=1", "a=b&payload=%7B%7D", "payload=1&payload=2", "pay%6Coad=3", "payload", "payload=&x=1",
                 "x=1&&payload=%5B", "a=b", "", "payloads=1", "=payload"]:
        fields = dict(parse_qsl(body, keep_blank_values=True))
        assert form_payload(body) == fields.get("payload"), body
