"""`clearance teams-package`: the Teams app package (manifest.json + two icons) to upload
in Teams or the Teams admin center. Icons are drawn here (PNG via zlib + struct), so no
image library is needed."""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable

from bot.errors import ConfigError

MANIFEST_VERSION = "1.19"
SCHEMA = f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HOST = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
Pixel = tuple[int, int, int, int]
ACCENT = (0x46, 0x4E, 0xB8)  # Teams-like indigo


def png(width: int, height: int, pixel: Callable[[int, int], Pixel]) -> bytes:
    """A minimal RGBA PNG (filter 0 on every row)."""
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def _near_check(x: float, y: float, size: int, width: float) -> bool:
    """Inside a check mark drawn as two thick segments (coordinates scaled to the icon)."""
    points = [(0.24, 0.52), (0.42, 0.70), (0.76, 0.32)]
    px, py = x / size, y / size
    for (ax, ay), (bx, by) in zip(points, points[1:], strict=False):
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
        if (px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2 <= width * width:
            return True
    return False


def color_icon() -> bytes:
    """192x192, full color: white check mark on the accent color."""
    def pixel(x: int, y: int) -> Pixel:
        if _near_check(x + 0.5, y + 0.5, 192, 0.06):
            return (255, 255, 255, 255)
        return (*ACCENT, 255)

    return png(192, 192, pixel)


def outline_icon() -> bytes:
    """32x32, white on transparent only (Teams rule for outline icons)."""
    def pixel(x: int, y: int) -> Pixel:
        return (255, 255, 255, 255) if _near_check(x + 0.5, y + 0.5, 32, 0.08) else (0, 0, 0, 0)

    return png(32, 32, pixel)


def manifest(app_id: str, domain: str, *, name: str = "Clearance", version: str = "1.0.0") -> dict[str, Any]:
    site = f"https://{domain}"
    return {
        "$schema": SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": version,
        "id": app_id,
        "developer": {
            "name": name,
            "websiteUrl": site,
            "privacyUrl": f"{site}/privacy",
            "termsOfUseUrl": f"{site}/terms",
        },
        "name": {"short": name, "full": f"{name}: approvals for AI agents' actions"},
        "description": {
            "short": "Approve or reject your AI agent's risky actions in chat.",
            "full": "Clearance pauses an AI agent before risky actions (deploys, rollbacks, restarts) "
                    "and asks for approval with a card in the conversation. Approve or reject with a "
                    "reason; read-only actions run at once.",
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [{
            "botId": app_id,
            "scopes": ["personal", "team", "groupChat"],
            "supportsFiles": False,
            "isNotificationOnly": False,
            "commandLists": [{
                "scopes": ["personal", "team", "groupChat"],
                "commands": [
                    {"title": "status", "description": "Show deployed versions (runs at once)"},
                    {"title": "deploy api v2.3 to prod", "description": "Ask for a deploy (needs approval)"},
                ],
            }],
        }],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [domain],
    }


def write_package(app_id: str, domain: str, out: str | Path) -> Path:
    app_id = app_id.strip()
    domain = domain.strip().removeprefix("https://").rstrip("/")
    if not _GUID.match(app_id):
        raise ConfigError(f"--app-id: expected the Azure Bot's Microsoft App ID (a GUID), got {app_id!r}")
    if not _HOST.match(domain):
        raise ConfigError(f"--domain: expected a host name such as clearance.example.com, got {domain!r}")
    path = Path(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            # Teams wants the three files at the root of the zip, no folder.
            zf.writestr("manifest.json", json.dumps(manifest(app_id, domain), indent=2) + "\n")
            zf.writestr("color.png", color_icon())
            zf.writestr("outline.png", outline_icon())
    except OSError as exc:
        raise ConfigError(f"--out: cannot write {path} ({exc.strerror or exc})") from None
    return path
