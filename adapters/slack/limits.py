"""Block Kit's documented limits, as a checker. Pure; the tests run every rendered message
and view through it, so a limit broken by a long argument fails a test, not a post."""

from __future__ import annotations

from typing import Any

MESSAGE_BLOCKS = 50
MODAL_BLOCKS = 100
_TEXT_LIMITS = {  # block type → limit of its `text`
    "section": 3000,
    "header": 150,
}


def _text_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else 0


def _element(el: dict[str, Any], where: str, out: list[str]) -> None:
    if el.get("type") == "button":
        if _text_len(el.get("text")) > 75:
            out.append(f"{where}: button text > 75")
        if len(str(el.get("value", ""))) > 2000:
            out.append(f"{where}: button value > 2000")
        if len(str(el.get("action_id", ""))) > 255:
            out.append(f"{where}: action_id > 255")
        confirm = el.get("confirm")
        if confirm:
            for key, limit in (("title", 100), ("text", 300), ("confirm", 30), ("deny", 30)):
                if _text_len(confirm.get(key)) > limit:
                    out.append(f"{where}: confirm {key} > {limit}")
    if el.get("type") == "plain_text_input":
        if not 0 <= int(el.get("max_length", 3000)) <= 3000:
            out.append(f"{where}: max_length > 3000")
        if _text_len(el.get("placeholder")) > 150:
            out.append(f"{where}: placeholder > 150")


def _blocks(blocks: list[dict[str, Any]], out: list[str]) -> None:
    for i, block in enumerate(blocks):
        kind = block.get("type")
        where = f"block {i} ({kind})"
        if len(str(block.get("block_id", ""))) > 255:
            out.append(f"{where}: block_id > 255")
        limit = _TEXT_LIMITS.get(kind)
        if limit is not None and "text" in block:
            n = _text_len(block["text"])
            if n > limit or n == 0:
                out.append(f"{where}: text length {n} not in 1..{limit}")
        if kind == "header" and block.get("text", {}).get("type") != "plain_text":
            out.append(f"{where}: header text must be plain_text")
        fields = block.get("fields") or []
        if len(fields) > 10:
            out.append(f"{where}: more than 10 fields")
        for f in fields:
            if not 0 < _text_len(f) <= 2000:
                out.append(f"{where}: field text not in 1..2000")
        if kind == "context":
            if len(block.get("elements", [])) > 10:
                out.append(f"{where}: more than 10 context elements")
            for el in block.get("elements", []):
                if _text_len(el) > 3000:
                    out.append(f"{where}: context text > 3000")
        if kind == "actions":
            if len(block.get("elements", [])) > 25:
                out.append(f"{where}: more than 25 actions")
            for el in block.get("elements", []):
                _element(el, where, out)
        if kind == "input":
            if _text_len(block.get("label")) > 2000:
                out.append(f"{where}: label > 2000")
            _element(block.get("element", {}), where, out)


def violations(message: dict[str, Any]) -> list[str]:
    """Every broken limit of a `chat.postMessage`/`chat.update` body; [] when valid."""
    out: list[str] = []
    blocks = message.get("blocks") or []
    if len(blocks) > MESSAGE_BLOCKS:
        out.append(f"{len(blocks)} blocks > {MESSAGE_BLOCKS}")
    if not message.get("text"):
        out.append("no fallback text")
    elif len(message["text"]) > 40000:
        out.append("text > 40000")
    _blocks(blocks, out)
    return out


def view_violations(view: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if len(view.get("blocks") or []) > MODAL_BLOCKS:
        out.append(f"more than {MODAL_BLOCKS} blocks")
    for key in ("title", "submit", "close"):
        if key in view and not 0 < _text_len(view[key]) <= 24:
            out.append(f"{key} not in 1..24")
    if len(view.get("private_metadata", "")) > 3000:
        out.append("private_metadata > 3000")
    if len(view.get("callback_id", "")) > 255:
        out.append("callback_id > 255")
    _blocks(view.get("blocks") or [], out)
    return out
