"""`clearance teams-package`: manifest (schema 1.19+, bot scopes) and the two icons."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib

import pytest

from bot.cli import main

APP_ID = "0e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7"


def _decode_png(data: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    """Enough of a PNG reader for what we write: 8-bit RGBA, filter 0."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert (depth, color) == (8, 6)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + width * 4
    pixels = []
    for y in range(height):
        row = raw[y * stride:(y + 1) * stride]
        assert row[0] == 0
        pixels += [tuple(row[1 + x * 4:5 + x * 4]) for x in range(width)]
    return width, height, pixels


def test_cli_writes_the_package(tmp_path, capsys) -> None:
    out = tmp_path / "clearance-teams.zip"
    assert main(["teams-package", "--app-id", APP_ID, "--domain", "clearance.example.com", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(zf.read("manifest.json"))
        color = _decode_png(zf.read("color.png"))
        outline = _decode_png(zf.read("outline.png"))
    major, minor = (int(p) for p in manifest["manifestVersion"].split("."))
    assert (major, minor) >= (1, 19)
    assert manifest["$schema"].endswith(f"/v{manifest['manifestVersion']}/MicrosoftTeams.schema.json")
    assert manifest["id"] == APP_ID
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    bot = manifest["bots"][0]
    assert bot["botId"] == APP_ID and sorted(bot["scopes"]) == ["groupChat", "personal", "team"]
    assert manifest["validDomains"] == ["clearance.example.com"]
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["description"]["short"]) <= 80
    assert color[:2] == (192, 192) and all(p[3] == 255 for p in color[2])
    width, height, pixels = outline
    assert (width, height) == (32, 32)
    assert all(p == (255, 255, 255, 255) or p[3] == 0 for p in pixels)  # white on transparent only
    assert any(p[3] == 255 for p in pixels) and any(p[3] == 0 for p in pixels)
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("app_id,domain",
                         [("not-a-guid", "x.example.com"), (APP_ID, "http://"), (APP_ID, "no spaces.com")])
def test_bad_arguments_fail_with_one_line(tmp_path, capsys, app_id: str, domain: str) -> None:
    out = tmp_path / "p.zip"
    assert main(["teams-package", "--app-id", app_id, "--domain", domain, "--out", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and ("--app-id" in err or "--domain" in err)
